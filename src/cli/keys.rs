//! `rustorium keys …`: key files.
//!
//! A key file is JSON: `{"secret": "<64 hex>", "pubkey": {"x": "<dec>", "y": "<dec>"},
//! "packed": "<64 hex>"}`, written with mode 0600. The public parts are derived again on load and
//! must match.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use rustorium_circuits::eddsa::SecretKey;
use rustorium_circuits::field::to_decimal;

use super::Outcome;
use super::crypto::parse_secret;

#[derive(Subcommand)]
pub(crate) enum KeysCommand {
    /// Generate a key from the OS's random source.
    New {
        /// Write the key file here (refuses to overwrite); without it, print to stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Show a key file's public key.
    Show {
        /// Key file.
        #[arg(long)]
        key: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn key_json(sk: &SecretKey) -> serde_json::Value {
    let pk = sk.public_key();
    serde_json::json!({
        "secret": hex::encode(sk.0),
        "pubkey": {"x": to_decimal(&pk.0.x), "y": to_decimal(&pk.0.y)},
        "packed": hex::encode(pk.pack()),
    })
}

/// Loads a key file, checking that its public parts match its secret.
pub(crate) fn load_key(path: &Path) -> Result<SecretKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading key file {}", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("key file {} is not JSON", path.display()))?;
    let secret = v["secret"]
        .as_str()
        .with_context(|| format!("key file {}: missing \"secret\"", path.display()))?;
    let sk = parse_secret(secret)?;
    if key_json(&sk)["packed"] != v["packed"] {
        bail!(
            "key file {}: public key does not match the secret",
            path.display()
        );
    }
    Ok(sk)
}

pub(crate) fn run(cmd: KeysCommand) -> Result<Outcome> {
    match cmd {
        KeysCommand::New { out } => {
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("OS random source: {e}"))?;
            let sk = SecretKey(secret);
            let text = serde_json::to_string_pretty(&key_json(&sk))?;
            match out {
                None => println!("{text}"),
                Some(path) => {
                    let mut opts = std::fs::OpenOptions::new();
                    opts.write(true).create_new(true);
                    #[cfg(unix)]
                    {
                        use std::os::unix::fs::OpenOptionsExt;
                        opts.mode(0o600);
                    }
                    let mut f = opts.open(&path).with_context(|| {
                        format!("creating key file {} (it must not exist)", path.display())
                    })?;
                    f.write_all(text.as_bytes())?;
                    println!("{}", hex::encode(sk.public_key().pack()));
                }
            }
        }
        KeysCommand::Show { key, json } => {
            let sk = load_key(&key)?;
            let mut v = key_json(&sk);
            if json {
                v.as_object_mut().expect("object").remove("secret");
                println!("{v}");
            } else {
                println!("packed: {}", v["packed"].as_str().unwrap_or_default());
                println!("x: {}", v["pubkey"]["x"].as_str().unwrap_or_default());
                println!("y: {}", v["pubkey"]["y"].as_str().unwrap_or_default());
            }
        }
    }
    Ok(Outcome::Ok)
}

//! `rustorium crypto …`.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use num_bigint::BigUint;
use rustorium_circuits::Fr;
use rustorium_circuits::babyjubjub::Point;
use rustorium_circuits::eddsa::{PublicKey, SecretKey, Signature};
use rustorium_circuits::field::{parse_field, parse_uint, to_decimal, to_hex};
use rustorium_circuits::poseidon;

use super::Outcome;

#[derive(Subcommand)]
pub(crate) enum CryptoCommand {
    /// circomlib Poseidon of 1 to 16 field elements (decimal or 0x-hex); prints the hash in decimal.
    Poseidon {
        /// Inputs.
        #[arg(required = true)]
        inputs: Vec<String>,
        /// Print 0x-hex instead of decimal.
        #[arg(long)]
        hex: bool,
    },
    /// EdDSA-Poseidon over Baby Jubjub (circomlibjs-compatible).
    #[command(subcommand)]
    Eddsa(EddsaCommand),
}

#[derive(Subcommand)]
pub(crate) enum EddsaCommand {
    /// Public key of a secret.
    Pubkey(SecretArgs),
    /// Sign a field element.
    Sign {
        #[command(flatten)]
        secret: SecretArgs,
        /// Message (a field element).
        #[arg(long)]
        msg: String,
    },
    /// Verify: exit 0 if valid, 1 if invalid, 2 on malformed input.
    Verify {
        /// `x,y`.
        #[arg(long)]
        pubkey: String,
        /// Message (a field element).
        #[arg(long)]
        msg: String,
        /// `r8x,r8y,s`.
        #[arg(long)]
        sig: String,
    },
}

#[derive(Args)]
pub(crate) struct SecretArgs {
    /// Secret key: 64 hex characters.
    #[arg(long)]
    secret: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn parse_secret(hex_text: &str) -> Result<SecretKey> {
    let t = hex_text.trim().trim_start_matches("0x");
    let bytes = hex::decode(t).context("secret is not hex")?;
    let arr: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
        anyhow::anyhow!(
            "secret must be 32 bytes (64 hex characters), got {}",
            b.len()
        )
    })?;
    Ok(SecretKey(arr))
}

fn field(text: &str, what: &str) -> Result<Fr> {
    parse_field(text).with_context(|| format!("{what}: {text:?}"))
}

fn split<const N: usize>(text: &str, what: &str) -> Result<[String; N]> {
    let parts: Vec<String> = text.split(',').map(|s| s.trim().to_string()).collect();
    parts.try_into().map_err(|p: Vec<String>| {
        anyhow::anyhow!("{what} needs {N} comma-separated values, got {}", p.len())
    })
}

pub(crate) fn run(cmd: CryptoCommand) -> Result<Outcome> {
    match cmd {
        CryptoCommand::Poseidon { inputs, hex } => {
            let xs = inputs
                .iter()
                .enumerate()
                .map(|(i, s)| field(s, &format!("input {i}")))
                .collect::<Result<Vec<Fr>>>()?;
            let h = poseidon::hash(&xs)?;
            println!("{}", if hex { to_hex(&h) } else { to_decimal(&h) });
        }
        CryptoCommand::Eddsa(EddsaCommand::Pubkey(a)) => {
            let pk = parse_secret(&a.secret)?.public_key();
            if a.json {
                println!(
                    "{}",
                    serde_json::json!({"x": to_decimal(&pk.0.x), "y": to_decimal(&pk.0.y)})
                );
            } else {
                println!("{},{}", to_decimal(&pk.0.x), to_decimal(&pk.0.y));
            }
        }
        CryptoCommand::Eddsa(EddsaCommand::Sign { secret, msg }) => {
            let sig = parse_secret(&secret.secret)?.sign(field(&msg, "msg")?);
            if secret.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "r8x": to_decimal(&sig.r8.x),
                        "r8y": to_decimal(&sig.r8.y),
                        "s": sig.s.to_string(),
                    })
                );
            } else {
                println!(
                    "{},{},{}",
                    to_decimal(&sig.r8.x),
                    to_decimal(&sig.r8.y),
                    sig.s
                );
            }
        }
        CryptoCommand::Eddsa(EddsaCommand::Verify { pubkey, msg, sig }) => {
            let [x, y] = split::<2>(&pubkey, "--pubkey")?;
            let [rx, ry, s] = split::<3>(&sig, "--sig")?;
            let key = PublicKey(Point::new_unchecked(
                field(&x, "pubkey x")?,
                field(&y, "pubkey y")?,
            ));
            let s: BigUint = parse_uint(&s).context("signature S")?;
            if s.bits() > 256 {
                bail!("signature S does not fit in 256 bits");
            }
            let sig = Signature {
                r8: Point::new_unchecked(field(&rx, "R8 x")?, field(&ry, "R8 y")?),
                s,
            };
            return Ok(match key.verify(field(&msg, "msg")?, &sig) {
                Ok(()) => {
                    println!("valid");
                    Outcome::Ok
                }
                Err(e) => {
                    println!("invalid: {e}");
                    Outcome::Status(1)
                }
            });
        }
    }
    Ok(Outcome::Ok)
}

//! `rustorium prover --nats URL`: a stateless prover worker of the proving fleet
//! (docs/operations.md, "The proving fleet").

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use rustorium::fleet::worker::{self, Misbehave, WorkerOptions};
use rustorium::prover::{KeyPair, Prover, load_proving_key, parse_proving_key, save_keys, vk_hash};

use super::Outcome;

#[derive(Args)]
pub(crate) struct ProverArgs {
    /// NATS URL of the fleet (comma-separated for a cluster).
    #[arg(long)]
    nats: String,
    /// The chain whose jobs to prove (its genesis `chain_id`).
    #[arg(long, default_value_t = 1337)]
    chain: u64,
    /// Key directory: every `d<depth>-c<capacity>/proving.key` under it is loaded, and the worker
    /// takes the jobs of those shapes whose verifying-key hash matches.
    #[arg(long, default_value = "data/keys")]
    keys: PathBuf,
    /// Download the proving key from this node's HTTP API (`/keys/proving.key`) when `--keys`
    /// has none with the `--vk-hash` given, check every point and the hash, and save it under
    /// `--keys` for the next start.
    #[arg(long, requires = "vk_hash")]
    keys_from: Option<String>,
    /// The verifying-key hash (hex) the downloaded key must have: the chain's (`[[verifying_keys]]`
    /// of its genesis), never taken from the node.
    #[arg(long, requires = "keys_from")]
    vk_hash: Option<String>,
    /// Hardware profile (`hardware/*.toml`); none: the CPU.
    #[arg(long)]
    profile: Option<PathBuf>,
    /// The worker's name in results, metrics and `/status` (default `<hostname>-<pid>`).
    #[arg(long)]
    name: Option<String>,
    /// Test only: send wrong proofs or garbage, to show that the node refuses them.
    #[arg(long, value_enum, hide = true)]
    misbehave: Option<MisbehaveArg>,
}

#[derive(Clone, Copy, ValueEnum)]
enum MisbehaveArg {
    WrongProof,
    Garbage,
    Stall,
}

/// The proving key downloaded from `node` (an HTTP URL), checked (every point, and its verifying
/// key's hash against `pinned`) and saved under `dir` — unless `dir` already has that key.
fn download_key(node: &str, pinned: &str, dir: &Path) -> Result<()> {
    let pinned = hex::decode(pinned).context("--vk-hash: not hex")?;
    if let Ok(keys) = load_keys(dir)
        && keys
            .iter()
            .any(|k| vk_hash(&k.pk.vk).as_slice() == pinned.as_slice())
    {
        return Ok(());
    }
    let url = format!("{}/keys/proving.key", node.trim_end_matches('/'));
    eprintln!("prover: downloading the proving key from {url}");
    let mut response = ureq::get(&url)
        .call()
        .with_context(|| format!("GET {url}"))?;
    let bytes = response
        .body_mut()
        .with_config()
        .limit(8 << 30)
        .read_to_vec()
        .with_context(|| format!("reading {url}"))?;
    let key = parse_proving_key(&bytes, &url)?;
    let got = vk_hash(&key.pk.vk);
    if got.as_slice() != pinned.as_slice() {
        bail!(
            "the key from {url} has verifying-key hash {}, not the pinned {}",
            hex::encode(got),
            hex::encode(&pinned)
        );
    }
    let sub = dir.join(format!("d{}-c{}", key.shape.depth, key.shape.capacity));
    save_keys(&sub, &key).with_context(|| format!("saving under {}", sub.display()))?;
    eprintln!("prover: key checked and saved under {}", sub.display());
    Ok(())
}

/// Every proving key under `dir` (`d*-c*/proving.key`).
fn load_keys(dir: &Path) -> Result<Vec<Arc<KeyPair>>> {
    let mut keys = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for e in entries {
        let pk = e?.path().join("proving.key");
        if pk.is_file() {
            let k = load_proving_key(&pk).with_context(|| format!("loading {}", pk.display()))?;
            eprintln!(
                "prover: key {} (depth {}, capacity {}{})",
                pk.display(),
                k.shape.depth,
                k.shape.capacity,
                if k.dev_seed.is_some() {
                    ", INSECURE devnet key"
                } else {
                    ""
                }
            );
            keys.push(Arc::new(k));
        }
    }
    if keys.is_empty() {
        bail!(
            "no proving keys under {} (d<depth>-c<capacity>/proving.key)",
            dir.display()
        );
    }
    Ok(keys)
}

fn prover_for(profile: Option<&Path>) -> Result<(Prover, String)> {
    let Some(p) = profile else {
        return Ok((Prover::cpu(), "cpu".into()));
    };
    let profile = rustorium::hardware::Profile::load(p)?;
    let (ntt, ntt_name) = profile.ntt_backend()?;
    let (msm, msm_name) = profile.msm_backend()?;
    Ok((
        Prover::new(msm, ntt),
        format!("msm {msm_name}, ntt {ntt_name}"),
    ))
}

pub(crate) fn run_prover(a: ProverArgs) -> Result<Outcome> {
    if let (Some(node), Some(pinned)) = (&a.keys_from, &a.vk_hash) {
        download_key(node, pinned, &a.keys)?;
    }
    let keys = load_keys(&a.keys)?;
    let (prover, backends) = prover_for(a.profile.as_deref())?;
    let name = a.name.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_else(|_| "worker".into());
        let host: String = host
            .trim()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(40)
            .collect();
        format!("{host}-{}", std::process::id())
    });
    eprintln!("prover {name}: backends {backends}, NATS {}", a.nats);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let opts = WorkerOptions {
        url: a.nats,
        chain: a.chain,
        name: name.clone(),
        keys,
        prover,
        misbehave: a.misbehave.map(|m| match m {
            MisbehaveArg::WrongProof => Misbehave::WrongProof,
            MisbehaveArg::Garbage => Misbehave::Garbage,
            MisbehaveArg::Stall => Misbehave::Stall,
        }),
        simulated: None,
        fallbacks: Arc::default(),
        connect_timeout: Duration::from_secs(30),
    };
    let report = rt.block_on(worker::run(opts, async {
        match super::node::shutdown_signal().await {
            Ok(s) => eprintln!("prover {name}: {s}: stopping"),
            Err(e) => eprintln!("prover {name}: signal handler: {e}"),
        }
    }));
    // A proof still running in a blocking thread is abandoned: its job was released.
    rt.shutdown_background();
    let report = report?;
    println!(
        "prover stopped: {} proven, {} refused{}",
        report.proven,
        report.refused,
        if report.released {
            ", in-flight job released"
        } else {
            ""
        }
    );
    Ok(Outcome::Ok)
}

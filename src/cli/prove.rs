//! `rustorium setup`, `rustorium prove`, `rustorium light verify`, and the proving helpers the demo
//! shares.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use ark_std::rand::SeedableRng;
use clap::{Args, Subcommand};
use rand_chacha::ChaCha20Rng;
use rustorium::halo2::Halo2Verifier;
use rustorium::light::{verify_envelope, verify_halo2_envelope};
use rustorium::prover::{
    KeyPair, ProofEnvelope, ProofSystem, Prover, dev_setup, load_proving_key, load_verifying_key,
    proof_json, public_json, save_keys, verifying_key_json, vk_hash,
};
use rustorium_circuits::block::{BlockCircuit, CircuitShape};
use rustorium_circuits::witness::BlockWitness;

use super::Outcome;

/// Seed of the devnet keys when none is given.
pub(crate) const DEV_SEED: u64 = 0x5275_7374_6f72_6975; // "Rustoriu"

#[derive(Args)]
pub(crate) struct SetupArgs {
    /// Tree depth.
    #[arg(long, default_value_t = 32)]
    depth: usize,
    /// Transfer slots per block.
    #[arg(long, default_value_t = 4)]
    capacity: usize,
    /// Seed of the (insecure, devnet-only) key generation.
    #[arg(long, default_value_t = DEV_SEED)]
    seed: u64,
    /// Key directory; the keys go to `<keys>/d<depth>-c<capacity>/`.
    #[arg(long, default_value = "data/keys")]
    keys: PathBuf,
}

#[derive(Subcommand)]
pub(crate) enum LightCommand {
    /// Verify a proof envelope: exit 0 if valid, 1 if invalid, 2 if malformed. A Groth16 envelope
    /// needs the verifying key file; a halo2 envelope needs nothing (its key is derived from the
    /// envelope's shape and public parameters) but can be pinned to a key hash.
    Verify {
        /// Verifying key file (`verifying.key`): required for a Groth16 envelope.
        #[arg(long)]
        vk: Option<PathBuf>,
        /// Proof envelope file (`block-<height>.proof`).
        #[arg(long)]
        proof: PathBuf,
        /// halo2: the key hash the chain pins (hex, from its genesis or `/vk`); the derived key
        /// must have it.
        #[arg(long)]
        vk_hash: Option<String>,
        /// halo2: where parameters are cached (default `$HOME/.cache/rustorium/halo2`).
        #[arg(long)]
        params_dir: Option<PathBuf>,
    },
}

/// Where the keys of `shape` live.
pub(crate) fn key_dir(root: &Path, shape: CircuitShape) -> PathBuf {
    root.join(format!("d{}-c{}", shape.depth, shape.capacity))
}

/// Runs `f` while printing its elapsed time to stderr every few seconds.
fn with_progress<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let done = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    eprintln!("{what} …");
    let ticker = {
        let done = done.clone();
        let what = what.to_string();
        std::thread::spawn(move || {
            let mut last = Instant::now();
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if last.elapsed() >= Duration::from_secs(5) {
                    eprintln!("  {what}: {:.0} s elapsed", start.elapsed().as_secs_f64());
                    last = Instant::now();
                }
            }
        })
    };
    let out = f();
    done.store(true, Ordering::Relaxed);
    let _ = ticker.join();
    eprintln!("{what}: done in {:.1} s", start.elapsed().as_secs_f64());
    out
}

/// Loads the keys of `shape` from `root`, generating (insecure devnet) keys when missing; for a
/// chain not marked `devnet` (its genesis) it neither generates nor accepts devnet keys, as the
/// node does.
pub(crate) fn load_or_setup(
    root: &Path,
    shape: CircuitShape,
    seed: u64,
    devnet: bool,
) -> Result<KeyPair> {
    let dir = key_dir(root, shape);
    let pk_path = dir.join("proving.key");
    let refuse = |what: String| anyhow::anyhow!(rustorium::node::devnet_refusal(&what));
    if !devnet && !pk_path.exists() {
        return Err(refuse(format!("no proving key at {}", pk_path.display())));
    }
    if pk_path.exists() {
        let keys = with_progress(&format!("loading {}", pk_path.display()), || {
            load_proving_key(&pk_path)
        })?;
        anyhow::ensure!(
            keys.shape == shape,
            "{} is for shape {:?}, not {:?}",
            pk_path.display(),
            keys.shape,
            shape
        );
        if let (Some(seed), false) = (keys.dev_seed, devnet) {
            return Err(refuse(format!(
                "{} is an insecure devnet key (public seed {seed:#x})",
                pk_path.display()
            )));
        }
        return Ok(keys);
    }
    setup(root, shape, seed)
}

fn setup(root: &Path, shape: CircuitShape, seed: u64) -> Result<KeyPair> {
    eprintln!(
        "WARNING: generating INSECURE devnet keys from public seed {seed:#x}: anyone can forge proofs for them."
    );
    let keys = with_progress(
        &format!(
            "generating Groth16 keys for depth {} capacity {}",
            shape.depth, shape.capacity
        ),
        || dev_setup(shape, seed),
    )?;
    let dir = key_dir(root, shape);
    let (pk, vk) = with_progress("writing keys", || save_keys(&dir, &keys))?;
    std::fs::write(
        dir.join("verification_key.json"),
        verifying_key_json(&keys.pk.vk).to_string(),
    )?;
    eprintln!(
        "keys: {} ({} bytes), {}, vk hash {}",
        pk.display(),
        std::fs::metadata(&pk).map(|m| m.len()).unwrap_or(0),
        vk.display(),
        hex::encode(vk_hash(&keys.pk.vk))
    );
    Ok(keys)
}

/// Proves an executed block, checks the envelope as a light client would, and writes
/// `block-<height>.proof` plus snarkjs's `proof-<height>.json` and `public-<height>.json` and
/// circom's `witness-<height>.wtns` to `out`.
pub(crate) fn prove_block(
    keys: &KeyPair,
    witness: &BlockWitness,
    producer: u64,
    height: u64,
    out: &Path,
) -> Result<(ProofEnvelope, Duration)> {
    let circuit = BlockCircuit::from_witness(witness, producer, height, keys.shape)?;
    let public_inputs = circuit.public_inputs();
    let wires = rustorium::prover::assignment(circuit.clone())?;
    let prover = Prover::cpu();
    // Proof blinding must be unpredictable: seed from the OS.
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("OS random source: {e}"))?;
    let mut rng = ChaCha20Rng::from_seed(seed);
    let start = Instant::now();
    let (proof, t) = keys.prove(&prover, circuit, &mut rng)?;
    let elapsed = start.elapsed();
    let (msm, ntt) = prover.backends();
    println!(
        "  proof of block {height}: {} constraints, {:.2} s on msm={msm} ntt={ntt} ({t})",
        t.constraints,
        elapsed.as_secs_f64(),
    );
    let env = ProofEnvelope::new(
        height,
        witness.chain_id,
        keys.shape,
        public_inputs,
        proof,
        vk_hash(&keys.pk.vk),
    );
    verify_envelope(&keys.pk.vk, &env).context("light-client check of the new envelope")?;
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join(format!("block-{height}.proof")), env.encode())?;
    std::fs::write(
        out.join(format!("proof-{height}.json")),
        proof_json(env.groth16().context("a Groth16 envelope")?).to_string(),
    )?;
    std::fs::write(
        out.join(format!("public-{height}.json")),
        public_json(&env.public_inputs()).to_string(),
    )?;
    let mut wtns = Vec::new();
    rustorium::prover::circom::write_wtns(&wires, &mut wtns)?;
    std::fs::write(out.join(format!("witness-{height}.wtns")), wtns)?;
    Ok((env, elapsed))
}

pub(crate) fn run_setup(a: SetupArgs) -> Result<Outcome> {
    setup(
        &a.keys,
        CircuitShape {
            depth: a.depth,
            capacity: a.capacity,
        },
        a.seed,
    )?;
    Ok(Outcome::Ok)
}

pub(crate) fn run_light(cmd: LightCommand) -> Result<Outcome> {
    let LightCommand::Verify {
        vk,
        proof,
        vk_hash: pinned,
        params_dir,
    } = cmd;
    let bytes = std::fs::read(&proof).with_context(|| format!("reading {}", proof.display()))?;
    let env =
        ProofEnvelope::decode(&bytes).with_context(|| format!("decoding {}", proof.display()))?;
    let verdict = match env.system() {
        ProofSystem::Groth16 => {
            let vk = vk.context("a Groth16 envelope needs --vk")?;
            let (shape, vk) = load_verifying_key(&vk)?;
            if env.shape != shape {
                println!(
                    "invalid: envelope is for shape {:?}, key for {:?}",
                    env.shape, shape
                );
                return Ok(Outcome::Status(1));
            }
            verify_envelope(&vk, &env)
        }
        ProofSystem::Halo2 => {
            let dir = params_dir.unwrap_or_else(super::halo2_params_dir);
            let verifier = Halo2Verifier::new(env.shape, Some(&dir))
                .with_context(|| format!("deriving the halo2 key for {:?}", env.shape))?;
            let derived = hex::encode(verifier.vk_hash());
            if let Some(pinned) = pinned
                && !pinned.eq_ignore_ascii_case(&derived)
            {
                println!(
                    "invalid: the key for {:?} is {derived}, not {pinned}",
                    env.shape
                );
                return Ok(Outcome::Status(1));
            }
            eprintln!("halo2 key for {:?}: {derived}", env.shape);
            verify_halo2_envelope(&verifier, &env)
        }
    };
    match verdict {
        Ok(()) => {
            println!(
                "valid: {} proof, height {} root {} -> {}",
                env.system(),
                env.height,
                rustorium_circuits::field::to_decimal(&env.old_root()),
                rustorium_circuits::field::to_decimal(&env.new_root())
            );
            Ok(Outcome::Ok)
        }
        Err(e) => {
            println!("invalid: {e}");
            Ok(Outcome::Status(1))
        }
    }
}

//! `rustorium demo`: the foundation's end-to-end run. Creates a state store from a genesis file,
//! applies three blocks of signed transfers (including a transfer to a new key and transfers that
//! must be rejected), checks each block's witness natively, and prints roots and a verified account
//! proof. By default every block is also proven (Groth16, CPU prover) and the proof checked as a light
//! client would. (A later layer replaces this with the devnet.)

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use rustorium::accel::CpuHasher;
use rustorium::light::{BlockData, ChainSpec, verify_chain};
use rustorium::state::{
    ExecutedBlock, Genesis, StateStore, StoreOptions, dev_secret, execute_block,
};
use rustorium_circuits::block::CircuitShape;
use rustorium_circuits::field::to_decimal;
use rustorium_circuits::merkle::AccountProof;
use rustorium_circuits::transfer::{Recipient, SignedTransfer, Transfer};

use super::Outcome;
use super::prove::{DEV_SEED, key_dir, load_or_setup, prove_block};

#[derive(Args)]
pub(crate) struct DemoArgs {
    /// Genesis file (default: the built-in devnet genesis, `config/genesis.toml`).
    #[arg(long)]
    genesis: Option<PathBuf>,
    /// Data directory; the demo replaces `state.redb` inside it and writes proofs to `proofs/`.
    #[arg(long, default_value = "data/demo")]
    data: PathBuf,
    /// Skip proving.
    #[arg(long)]
    no_prove: bool,
    /// Transfer slots of the block circuit.
    #[arg(long, default_value_t = 4)]
    capacity: usize,
    /// Key directory (keys are generated there when missing: insecure devnet keys).
    #[arg(long, default_value = "data/keys")]
    keys: PathBuf,
}

#[derive(Args)]
pub(crate) struct ProveArgs {
    /// Genesis file (default: the built-in devnet genesis, `config/genesis.toml`).
    #[arg(long)]
    genesis: Option<PathBuf>,
    /// Data directory; replaces `state.redb` inside it and writes proofs to `proofs/`.
    #[arg(long, default_value = "data/prove")]
    data: PathBuf,
    /// Transfer slots of the block circuit.
    #[arg(long, default_value_t = 4)]
    capacity: usize,
    /// Key directory (keys are generated there when missing: insecure devnet keys).
    #[arg(long, default_value = "data/keys")]
    keys: PathBuf,
}

/// A fresh store at `<data>/state.redb` holding `genesis` as version 0; prints the genesis root.
fn fresh_store(genesis: &Genesis, data: &Path) -> Result<StateStore> {
    let store = quiet_store(genesis, data)?;
    println!(
        "genesis: chain {} depth {} accounts {} hasher {} root {}",
        genesis.chain_id,
        genesis.depth,
        genesis.accounts.len(),
        store.hasher().name(),
        to_decimal(&store.reader()?.root(0)?)
    );
    Ok(store)
}

fn quiet_store(genesis: &Genesis, data: &Path) -> Result<StateStore> {
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let path = data.join("state.redb");
    if path.exists() {
        std::fs::remove_file(&path).with_context(|| format!("removing old {}", path.display()))?;
    }
    Ok(StateStore::create_from_genesis(
        &path,
        genesis,
        Arc::new(CpuHasher::new()),
        StoreOptions::default(),
    )?)
}

/// The demo's three blocks: plain transfers; a new key, a replay, a forgery and a transfer; an
/// overdraft, a transfer to the new account and a stale nonce.
fn demo_blocks(genesis: &Genesis) -> Vec<Vec<SignedTransfer>> {
    let chain = genesis.chain_id;
    let t = |from: u64, to: Recipient, amount: u64, fee: u64, nonce: u64| Transfer {
        chain_id: chain,
        from,
        to,
        amount,
        fee,
        nonce,
    };
    let new_index = genesis.accounts.len() as u64;
    let b1 = vec![
        t(0, Recipient::Index(1), 1_000, 2, 0).sign(&dev_secret(0)),
        t(1, Recipient::Index(2), 500, 1, 0).sign(&dev_secret(1)),
    ];
    let mut forged: SignedTransfer = t(2, Recipient::Index(0), 10, 1, 0).sign(&dev_secret(2));
    forged.tx.amount = 10_000; // the signature no longer matches
    let b2 = vec![
        t(
            2,
            Recipient::NewKey(dev_secret(100).public_key()),
            250,
            1,
            0,
        )
        .sign(&dev_secret(2)),
        b1[0].clone(), // replay
        forged,
        t(0, Recipient::Index(2), 7, 1, 1).sign(&dev_secret(0)),
    ];
    let b3 = vec![
        t(4, Recipient::Index(0), 2_000_000, 1, 0).sign(&dev_secret(4)), // overdraft
        t(4, Recipient::Index(new_index), 100, 1, 0).sign(&dev_secret(4)),
        t(1, Recipient::Index(0), 1, 1, 0).sign(&dev_secret(1)), // nonce already used
    ];
    vec![b1, b2, b3]
}

const PRODUCER: u64 = 3;

fn report(name: &str, b: &ExecutedBlock, elapsed: std::time::Duration) -> Result<()> {
    println!(
        "block {name}: version {} applied {} rejected {} fees {} in {:.1} ms",
        b.version,
        b.applied.len(),
        b.rejected.len(),
        b.total_fees,
        elapsed.as_secs_f64() * 1e3
    );
    for (i, e) in &b.rejected {
        println!("  rejected tx {i}: {e}");
    }
    let w = b.witness.as_ref().context("witness requested")?;
    w.check()
        .context("witness does not satisfy the transfer rules")?;
    println!(
        "  witness checked natively ({} leaf updates)",
        2 * w.transfers.len() + 1
    );
    println!(
        "  root {} -> {}",
        to_decimal(&b.old_root),
        to_decimal(&b.new_root)
    );
    Ok(())
}

pub(crate) fn run(args: DemoArgs) -> Result<Outcome> {
    let genesis = super::load_genesis(args.genesis.as_deref())?;
    if genesis.accounts.len() < 5 {
        bail!("the demo needs at least 5 genesis accounts with dev keys 0..4");
    }
    let store = fresh_store(&genesis, &args.data)?;
    let shape = CircuitShape {
        depth: genesis.depth,
        capacity: args.capacity,
    };
    let keys = if args.no_prove {
        None
    } else {
        Some(load_or_setup(&args.keys, shape, DEV_SEED, genesis.devnet)?)
    };
    let proofs = args.data.join("proofs");
    let mut envelopes = Vec::new();
    for (i, txs) in demo_blocks(&genesis).iter().enumerate() {
        let start = Instant::now();
        let block = execute_block(&store, txs, PRODUCER, true)?;
        report(&(i + 1).to_string(), &block, start.elapsed())?;
        if let Some(keys) = &keys {
            let w = block.witness.as_ref().context("witness requested")?;
            let (env, _) = prove_block(keys, w, PRODUCER, block.version, &proofs)?;
            let data = BlockData {
                height: block.version,
                producer: PRODUCER,
                transfers: block
                    .applied
                    .iter()
                    .map(|a| (a.tx.clone(), a.to_index))
                    .collect(),
            };
            envelopes.push((env, data));
        }
    }
    if let Some(keys) = &keys {
        let genesis_root = store.reader()?.root(0)?;
        let spec = ChainSpec {
            chain_id: genesis.chain_id,
            genesis_root,
            vk_hash: rustorium::prover::vk_hash(&keys.pk.vk),
        };
        let (head, root) = verify_chain(spec, &keys.pk.vk, &envelopes)?;
        println!(
            "light client: chain of {} proofs from genesis verified, head {head} root {}; proofs in {}",
            envelopes.len(),
            to_decimal(&root),
            proofs.display()
        );
    }

    let reader = store.reader()?;
    let version = reader.latest_version()?.context("versions exist")?;
    let root = reader.root(version)?;
    let new_index = genesis.accounts.len() as u64;
    let proof = reader.proof(new_index, version)?;
    let bytes = proof.encode();
    let decoded = AccountProof::decode(&bytes)?;
    decoded
        .verify(root)
        .context("account proof does not verify")?;
    let account = decoded.account.context("inclusion proof")?;
    println!(
        "account {new_index} at version {version}: balance {} nonce {}; proof of {} bytes ({} non-empty siblings) verified against root {}",
        account.balance,
        account.nonce,
        bytes.len(),
        decoded.path.siblings.len(),
        to_decimal(&root)
    );
    let empty = reader.proof(new_index + 1, version)?;
    empty
        .verify(root)
        .context("exclusion proof does not verify")?;
    println!(
        "index {} is empty at version {version}: exclusion proof verified",
        new_index + 1
    );
    Ok(Outcome::Ok)
}

pub(crate) fn run_prove(args: ProveArgs) -> Result<Outcome> {
    let genesis = super::load_genesis(args.genesis.as_deref())?;
    if genesis.accounts.len() < 5 {
        bail!("the demo state needs at least 5 genesis accounts with dev keys 0..4");
    }
    let store = fresh_store(&genesis, &args.data)?;
    let shape = CircuitShape {
        depth: genesis.depth,
        capacity: args.capacity,
    };
    let keys = load_or_setup(&args.keys, shape, DEV_SEED, genesis.devnet)?;
    // The demo's first block, cut to the circuit's capacity (its two transfers need 2; with
    // `--capacity 1` the smallest circuit, 2^14 constraints, proves its first transfer).
    let txs = &demo_blocks(&genesis)[0];
    let txs = &txs[..txs.len().min(args.capacity)];
    let block = execute_block(&store, txs, PRODUCER, true)?;
    let w = block.witness.as_ref().context("witness requested")?;
    let out = args.data.join("proofs");
    let (env, _) = prove_block(&keys, w, PRODUCER, block.version, &out)?;
    println!(
        "block {} proven and verified: {} applied; envelope {} ({} bytes), snarkjs files proof-{}.json, public-{}.json, witness-{}.wtns; verifying key {}",
        env.height,
        block.applied.len(),
        out.join(format!("block-{}.proof", env.height)).display(),
        env.encode().len(),
        env.height,
        env.height,
        env.height,
        key_dir(&args.keys, shape).join("verifying.key").display()
    );
    Ok(Outcome::Ok)
}

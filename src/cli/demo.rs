//! `rustorium demo`: the foundation's end-to-end run. Creates a state store from a genesis file,
//! applies three blocks of signed transfers (including a transfer to a new key and transfers that
//! must be rejected), checks each block's witness natively, and prints roots and a verified account
//! proof. (A later layer replaces this with the devnet.)

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use rustorium::accel::CpuHasher;
use rustorium::state::{
    ExecutedBlock, Genesis, StateStore, StoreOptions, dev_secret, execute_block,
};
use rustorium_circuits::field::to_decimal;
use rustorium_circuits::merkle::AccountProof;
use rustorium_circuits::transfer::{Recipient, SignedTransfer, Transfer};

use super::Outcome;

#[derive(Args)]
pub(crate) struct DemoArgs {
    /// Genesis file.
    #[arg(long, default_value = "config/genesis.toml")]
    genesis: PathBuf,
    /// Data directory; the demo replaces `state.redb` inside it.
    #[arg(long, default_value = "data/demo")]
    data: PathBuf,
}

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
    let genesis = Genesis::load(&args.genesis)?;
    if genesis.accounts.len() < 4 {
        bail!("the demo needs at least 4 genesis accounts with dev keys 0..3");
    }
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("creating {}", args.data.display()))?;
    let path = args.data.join("state.redb");
    if path.exists() {
        std::fs::remove_file(&path).with_context(|| format!("removing old {}", path.display()))?;
    }
    let store = StateStore::create(
        &path,
        genesis.depth,
        genesis.chain_id,
        Arc::new(CpuHasher::new()),
        StoreOptions::default(),
    )?;
    let changes: BTreeMap<u64, _> = genesis
        .accounts
        .iter()
        .enumerate()
        .map(|(i, a)| (i as u64, *a))
        .collect();
    let root = store.commit(0, &changes)?;
    println!(
        "genesis: chain {} depth {} accounts {} hasher {} root {}",
        genesis.chain_id,
        genesis.depth,
        genesis.accounts.len(),
        store.hasher().name(),
        to_decimal(&root)
    );
    let chain = genesis.chain_id;
    let t = |from: u64, to: Recipient, amount: u64, fee: u64, nonce: u64| Transfer {
        chain_id: chain,
        from,
        to,
        amount,
        fee,
        nonce,
    };
    let producer = 3;
    let newcomer = dev_secret(100).public_key();

    let b1 = vec![
        t(0, Recipient::Index(1), 1_000, 2, 0).sign(&dev_secret(0)),
        t(1, Recipient::Index(2), 500, 1, 0).sign(&dev_secret(1)),
    ];
    let replay = b1[0].clone();
    let start = Instant::now();
    let r1 = execute_block(&store, &b1, producer, true)?;
    report("1", &r1, start.elapsed())?;

    let mut forged: SignedTransfer = t(2, Recipient::Index(0), 10, 1, 0).sign(&dev_secret(2));
    forged.tx.amount = 10_000; // signature no longer matches
    let b2 = vec![
        t(2, Recipient::NewKey(newcomer), 250, 1, 0).sign(&dev_secret(2)),
        replay,
        forged,
        t(0, Recipient::Index(2), 7, 1, 1).sign(&dev_secret(0)),
    ];
    let start = Instant::now();
    let r2 = execute_block(&store, &b2, producer, true)?;
    report("2", &r2, start.elapsed())?;
    let new_index = r2
        .applied
        .first()
        .map(|a| a.to_index)
        .context("new-key transfer applied")?;

    let b3 = vec![
        t(4, Recipient::Index(0), 2_000_000, 1, 0).sign(&dev_secret(4)), // overdraft
        t(4, Recipient::Index(new_index), 100, 1, 0).sign(&dev_secret(4)),
        t(1, Recipient::Index(0), 1, 1, 0).sign(&dev_secret(1)), // nonce already used
    ];
    let start = Instant::now();
    let r3 = execute_block(&store, &b3, producer, true)?;
    report("3", &r3, start.elapsed())?;

    let reader = store.reader()?;
    let version = reader.latest_version()?.context("versions exist")?;
    let root = reader.root(version)?;
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

//! Fixtures for tests, benchmarks and dev tooling (`publish = false`): deterministic workloads,
//! reference computations, small devnet genesis and node configurations, signed devnet transfers,
//! and compute backends that fail on purpose. Library crates never depend on it; the `rustorium`
//! binary does for `debug commit-loop` (the crash test's child process) and the benchmarks.
//!
//! The devnet keys themselves (`dev_secret`, `dev_validator_key`) stay in `rustorium-state`: a
//! genesis file may name them (`dev_key = N`), so they are part of the genesis format.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rustorium_accel::wgpu::WgpuHasher;
use rustorium_accel::{AccelError, BatchHasher};
use rustorium_circuits::Fr;
use rustorium_circuits::account::Account;
use rustorium_circuits::poseidon;
use rustorium_circuits::transfer::{Recipient, SignedTransfer, Transfer};

mod workload;

pub use workload::{SplitMix, workload_batch, workload_keys};

/// The devnet genesis shipped in `config/genesis.toml`.
pub const DEVNET_GENESIS: &str = include_str!("../../config/genesis.toml");

/// The devnet chain id.
pub const DEVNET_CHAIN: u64 = 1337;

/// The root of a tree of `depth` recomputed from scratch: every leaf, every level. The reference
/// the store's incremental batch updates are compared with (small depths only).
pub fn naive_root(model: &BTreeMap<u64, Account>, depth: usize) -> Fr {
    let mut level: Vec<Fr> = (0..1u64 << depth)
        .map(|i| model.get(&i).map_or(Fr::from(0u64), Account::leaf))
        .collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|p| poseidon::hash2(p[0], p[1]))
            .collect();
    }
    level[0]
}

/// `config/genesis.toml` (funded dev accounts 0..4) with the tree depth set to `depth`, written to
/// `dir/genesis.toml`; returns the path. Tests keep circuits small. The pinned verifying keys are
/// left out: they are for the devnet's depth.
pub fn small_genesis(dir: &Path, depth: usize) -> PathBuf {
    let text = DEVNET_GENESIS
        .split("[[verifying_keys]]")
        .next()
        .expect("split yields one part")
        .replace("depth = 32", &format!("depth = {depth}"));
    let path = dir.join("genesis.toml");
    std::fs::write(&path, text).expect("write genesis");
    path
}

/// Writes a depth-5 [`small_genesis`] and `dir/node.toml` for a node on ephemeral loopback ports
/// (producer 3), with `extra` TOML lines appended; returns the config's path.
pub fn node_config(dir: &Path, extra: &str) -> PathBuf {
    small_genesis(dir, 5);
    let config = dir.join("node.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"data\"\ngenesis = \"genesis.toml\"\nproducer = 3\nquic_listen = \"127.0.0.1:0\"\nhttp_listen = \"127.0.0.1:0\"\n{extra}"
        ),
    )
    .expect("write node.toml");
    config
}

/// A transfer on the devnet chain (1337) signed by devnet key `from`.
pub fn dev_transfer(from: u64, to: Recipient, amount: u64, fee: u64, nonce: u64) -> SignedTransfer {
    Transfer {
        chain_id: DEVNET_CHAIN,
        from,
        to,
        amount,
        fee,
        nonce,
    }
    .sign(&rustorium_state::dev_secret(from))
}

/// A compute backend that fails every batch the way a lost device does, named `cuda`.
#[derive(Clone, Copy, Debug, Default)]
pub struct FailingHasher;

impl BatchHasher<Fr> for FailingHasher {
    fn name(&self) -> &'static str {
        "cuda"
    }

    fn hash_batch(&self, _: usize, _: &[Fr], _: &mut [Fr]) -> Result<(), AccelError> {
        Err(AccelError::Device {
            backend: "cuda",
            message: "simulated device loss".into(),
        })
    }
}

/// The wgpu hasher on any adapter, software included (lavapipe, installed by `scripts/test.sh`).
/// Without one, a test fails loudly unless `RUSTORIUM_SKIP_WGPU` is set, when it returns `None`
/// and the caller skips.
pub fn wgpu_hasher() -> Option<WgpuHasher> {
    match WgpuHasher::new(true, 1 << 16) {
        Ok(h) => Some(h),
        Err(e) => {
            assert!(
                std::env::var_os("RUSTORIUM_SKIP_WGPU").is_some(),
                "no Vulkan adapter ({e}): run scripts/test.sh (installs mesa-vulkan-drivers) or set RUSTORIUM_SKIP_WGPU=1"
            );
            None
        }
    }
}

/// Why [`demo_block`] could not build its block.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoBlockError {
    /// The temporary store failed.
    #[error("store: {0}")]
    Store(#[from] rustorium_state::StoreError),
    /// A temporary directory could not be made.
    #[error("temporary directory: {0}")]
    Io(#[from] std::io::Error),
    /// The devnet genesis did not parse.
    #[error("genesis: {0}")]
    Genesis(#[from] rustorium_state::GenesisError),
    /// A transfer of the block was rejected (capacity above what the dev accounts can pay).
    #[error("the demo block rejected transfers: {0}")]
    Rejected(String),
    /// The witness does not fit the shape.
    #[error("circuit: {0}")]
    Circuit(#[from] rustorium_circuits::block::CircuitError),
}

/// A block circuit of `shape` with a full witness: `shape.capacity` transfers among the devnet
/// accounts 0..4 (senders in turn, nonces counting up), executed on the devnet genesis at depth
/// `shape.depth` in a temporary store, fees to account 3. Every slot is used: benchmarks must not
/// prove mostly-zero padding.
pub fn demo_block(
    shape: rustorium_circuits::block::CircuitShape,
) -> Result<rustorium_circuits::block::BlockCircuit, DemoBlockError> {
    let (w, producer) = demo_witness(shape)?;
    Ok(rustorium_circuits::block::BlockCircuit::from_witness(
        &w, producer, 1, shape,
    )?)
}

/// The witness of [`demo_block`]'s block (height 1), and its producer.
pub fn demo_witness(
    shape: rustorium_circuits::block::CircuitShape,
) -> Result<(rustorium_circuits::witness::BlockWitness, u64), DemoBlockError> {
    let mut genesis = rustorium_state::Genesis::parse(DEVNET_GENESIS, "devnet genesis")?;
    genesis.depth = shape.depth;
    const PRODUCER: u64 = 3;
    let dir = tempfile::tempdir()?;
    let store = rustorium_state::StateStore::create_from_genesis(
        &dir.path().join("state.redb"),
        &genesis,
        std::sync::Arc::new(rustorium_accel::CpuHasher::new()),
        rustorium_state::StoreOptions::default(),
    )?;
    let txs: Vec<SignedTransfer> = (0..shape.capacity as u64)
        .map(|i| {
            let from = i % 5;
            Transfer {
                chain_id: genesis.chain_id,
                from,
                to: Recipient::Index((from + 1 + i / 5) % 5),
                amount: 1 + i,
                fee: 1,
                nonce: i / 5,
            }
            .sign(&rustorium_state::dev_secret(from))
        })
        .collect();
    let block = rustorium_state::execute_block(&store, &txs, PRODUCER, true)?;
    if !block.rejected.is_empty() {
        return Err(DemoBlockError::Rejected(format!("{:?}", block.rejected)));
    }
    let w = block
        .witness
        .ok_or_else(|| DemoBlockError::Rejected("no witness".into()))?;
    Ok((w, PRODUCER))
}

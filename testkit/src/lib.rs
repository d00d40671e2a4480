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

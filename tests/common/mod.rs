//! Helpers shared by integration tests (each test binary uses a subset of them).

#![allow(dead_code)]

use std::collections::BTreeMap;

use rustorium_circuits::Fr;
use rustorium_circuits::account::Account;
use rustorium_circuits::poseidon;

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
pub fn small_genesis(dir: &std::path::Path, depth: usize) -> std::path::PathBuf {
    let full = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/genesis.toml"))
        .expect("genesis");
    let text = full
        .split("[[verifying_keys]]")
        .next()
        .expect("split yields one part")
        .replace("depth = 32", &format!("depth = {depth}"));
    let path = dir.join("genesis.toml");
    std::fs::write(&path, text).expect("write genesis");
    path
}

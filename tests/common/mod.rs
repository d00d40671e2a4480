//! Helpers shared by integration tests (each test binary uses a subset of them).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

/// Starts `rustorium node --config <config>` and waits for its ready line; returns the process and
/// its QUIC and HTTP addresses. The process's stdout is drained in the background; stderr is
/// discarded.
pub fn start_node(config: &Path) -> (Child, SocketAddr, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rustorium"))
        .args(["node", "--config", config.to_str().expect("utf8")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn node");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let line = lines.next().expect("ready line").expect("utf8");
    // "node ready: quic 127.0.0.1:P http http://127.0.0.1:Q (cert …)"
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words[..2], ["node", "ready:"], "{line}");
    let quic = words[3].parse().expect("quic addr");
    let http = words[5]
        .trim_start_matches("http://")
        .parse()
        .expect("http addr");
    std::thread::spawn(move || for _ in lines {});
    (child, quic, http)
}

pub fn get(http: SocketAddr, path: &str) -> serde_json::Value {
    let mut r = ureq::get(&format!("http://{http}{path}"))
        .call()
        .expect("GET");
    serde_json::from_str(&r.body_mut().read_to_string().expect("body")).expect("json")
}

pub fn wait(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writes a depth-5 [`small_genesis`] and `dir/node.toml` for a node on ephemeral loopback ports
/// (producer 3), with `extra` TOML lines appended; returns the config's path.
pub fn node_config(dir: &Path, extra: &str) -> std::path::PathBuf {
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
pub fn dev_transfer(
    from: u64,
    to: rustorium_circuits::transfer::Recipient,
    amount: u64,
    fee: u64,
    nonce: u64,
) -> rustorium_circuits::transfer::SignedTransfer {
    rustorium_circuits::transfer::Transfer {
        chain_id: 1337,
        from,
        to,
        amount,
        fee,
        nonce,
    }
    .sign(&rustorium::state::dev_secret(from))
}

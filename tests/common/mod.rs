//! Helpers shared by integration tests (each test binary uses a subset of them).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[allow(unused_imports)] // each test binary uses a subset
pub use rustorium_testkit::{dev_transfer, naive_root, node_config, small_genesis};

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

/// `rustorium light sync` against the node at `http`, from `genesis`, pinned to the node's
/// verifying-key hash; asserts that it verified the chain up to `height` and returns its output.
pub fn light_sync(http: SocketAddr, genesis: &Path, height: u64) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rustorium"))
        .args([
            "light",
            "sync",
            "--node",
            &format!("http://{http}"),
            "--vk-hash",
            get(http, "/status")["vk_hash"].as_str().expect("vk hash"),
            "--genesis",
        ])
        .arg(genesis)
        .output()
        .expect("light sync");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("verified head: height {height}")),
        "{text}"
    );
    text
}

/// A metric's value (unlabelled, or with its labels spelled out in `name`) from `/metrics`.
pub fn metric(http: SocketAddr, name: &str) -> Option<u64> {
    let mut r = ureq::get(&format!("http://{http}/metrics"))
        .call()
        .expect("GET /metrics");
    let text = r.body_mut().read_to_string().expect("body");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

//! Crash recovery with a real process: a node is killed with SIGKILL while blocks are committed
//! but not yet proven; after a restart every committed block is still there with the same roots
//! and transfers, the unproven ones get proven, and a light client verifies the whole chain.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustls::pki_types::CertificateDer;
use rustorium::net::quic::Client;
use rustorium::state::dev_secret;
use rustorium_circuits::transfer::{Recipient, Transfer};

fn start_node(config: &Path) -> (Child, SocketAddr, SocketAddr) {
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

fn get(http: SocketAddr, path: &str) -> serde_json::Value {
    let mut r = ureq::get(&format!("http://{http}{path}"))
        .call()
        .expect("GET");
    serde_json::from_str(&r.body_mut().read_to_string().expect("body")).expect("json")
}

fn wait(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigkill_then_restart_loses_no_committed_transfer_and_proves_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    common::small_genesis(dir.path(), 5);
    let config = dir.path().join("node.toml");
    std::fs::write(
        &config,
        "data_dir = \"data\"\ngenesis = \"genesis.toml\"\nproducer = 3\nquic_listen = \"127.0.0.1:0\"\nhttp_listen = \"127.0.0.1:0\"\nblock_interval_ms = 50\ncapacity = 2\nkeys_dir = \"keys\"\n",
    )
    .expect("write");

    let (mut node, quic, http) = start_node(&config);
    let cert =
        CertificateDer::from(std::fs::read(dir.path().join("data/tls/cert.der")).expect("cert"));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let txs: Vec<_> = (0..10u64)
        .map(|i| {
            let from = i % 5;
            Transfer {
                chain_id: 1337,
                from,
                to: Recipient::Index((from + 1) % 5),
                amount: 3,
                fee: 1,
                nonce: i / 5,
            }
            .sign(&dev_secret(from))
        })
        .collect();
    let results = rt.block_on(async {
        let c = Client::connect(quic, cert.clone()).await.expect("connect");
        let r = c.submit(&txs).await.expect("submit");
        c.close().await;
        r
    });
    assert!(results.iter().all(|r| r.accepted), "{results:?}");
    // Kill as soon as every transfer is committed, while proofs are still being made.
    wait("all transfers committed", 60, || {
        get(http, "/status")["committed_height"].as_u64() >= Some(5)
    });
    let proven_before = get(http, "/status")["proven_height"]
        .as_u64()
        .expect("proven");
    node.kill().expect("SIGKILL");
    node.wait().expect("reaped");

    let (mut node, _, http) = start_node(&config);
    let status = get(http, "/status");
    let committed = status["committed_height"].as_u64().expect("height");
    assert!(committed >= 5, "{status}");
    let mut applied = 0;
    for h in 1..=committed {
        let b = get(http, &format!("/blocks/{h}"));
        applied += b["transfers"].as_array().expect("transfers").len();
    }
    assert_eq!(applied, 10, "every committed transfer survived the crash");
    assert!(
        proven_before < committed,
        "the kill must leave unproven blocks to exercise recovery"
    );
    wait("every block proven after restart", 120, || {
        get(http, "/status")["proven_height"].as_u64() == Some(committed)
    });
    let out = Command::new(env!("CARGO_BIN_EXE_rustorium"))
        .args([
            "light",
            "sync",
            "--node",
            &format!("http://{http}"),
            "--genesis",
        ])
        .arg(dir.path().join("genesis.toml"))
        .output()
        .expect("light sync");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("verified head: height {committed}")),
        "{text}"
    );
    // The served roots are the ones the light client verified.
    let root = get(http, "/proven/latest")["root"]
        .as_str()
        .expect("root")
        .to_string();
    assert!(text.contains(&root), "{text} vs {root}");
    node.kill().expect("kill");
    node.wait().expect("reaped");
}

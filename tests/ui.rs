//! The browser light client (`/ui`, issue 20) in headless Chromium, driven by playwright-core
//! (`ui/test/light.mjs`), against a real proving node: it recomputes the genesis root, checks the
//! verifying key, verifies every block proof with snarkjs in a Web Worker and reaches the same
//! head root as `rustorium light sync`; an account proof verifies and a tampered one is refused;
//! a tampered proof (test-only fault injection) is shown as invalid and the head stops before it;
//! the operator dashboard follows the node live over `/events` and the explorer shows blocks and
//! receipts.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{get, start_node};
use rustorium::net::quic::Client;
use rustorium_circuits::transfer::Recipient;

/// `node` and `ui/test/light.mjs`'s dependencies, or a loud failure: `scripts/test.sh` installs
/// Debian's chromium and `ui/node_modules`.
fn browser() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let chromium = std::env::var_os("CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    let ready = root.join("ui/node_modules/playwright-core").exists() && chromium.exists();
    if !ready {
        assert!(
            std::env::var_os("RUSTORIUM_SKIP_UI").is_some(),
            "chromium or ui/node_modules missing: run scripts/test.sh"
        );
        return None;
    }
    Some(root.join("ui/test/light.mjs"))
}

fn page(
    script: &Path,
    http: std::net::SocketAddr,
    blocks: u64,
    extra: &[&str],
) -> serde_json::Value {
    let out = Command::new("node")
        .arg(script)
        .arg(format!("http://{http}"))
        .arg(blocks.to_string())
        .args(extra)
        .output()
        .expect("node runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "the page run failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(text.lines().last().unwrap_or("")).expect("one JSON line")
}

#[test]
fn the_browser_light_client_verifies_the_chain_and_refuses_tampering() {
    let Some(script) = browser() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    // Block 3's proof is served tampered (valid points, wrong proof) to the page.
    let config = common::node_config(
        dir.path(),
        "keys_dir = \"keys\"\ncapacity = 1\nblock_interval_ms = 50\n[http]\nfault_tamper_proof_at = 3\n",
    );
    let genesis = dir.path().join("genesis.toml");
    let (mut child, quic, http) = start_node(&config);
    let cert = rustls::pki_types::CertificateDer::from(
        std::fs::read(dir.path().join("data/tls/cert.der")).expect("cert"),
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let block = |from: u64| {
        let want = get(http, "/status")["committed_height"]
            .as_u64()
            .expect("h")
            + 1;
        let tx = common::dev_transfer(
            from,
            rustorium_circuits::transfer::Recipient::Index(4),
            5,
            1,
            0,
        );
        rt.block_on(async {
            let c = Client::connect(quic, cert.clone()).await.expect("connect");
            let r = c.submit(&[tx]).await.expect("submit");
            assert!(r.iter().all(|r| r.accepted), "{r:?}");
            c.close().await;
        });
        common::wait("a proven block", 120, || {
            get(http, "/status")["proven_height"].as_u64() >= Some(want)
        });
    };
    block(0);
    block(1);

    // Two honest blocks: the page's head root is `light sync`'s.
    let synced = common::light_sync(http, &genesis, 2);
    let seen = page(&script, http, 2, &[]);
    assert_eq!(seen["state"], "ok", "{seen}");
    assert_eq!(seen["height"], 2, "{seen}");
    let root = seen["root"].as_str().expect("root");
    assert!(
        synced.contains(&format!("verified head: height 2 root {root}")),
        "{synced} vs {seen}"
    );
    assert_eq!(seen["proofMs"].as_array().map(Vec::len), Some(2));
    assert_eq!(seen["errors"], serde_json::json!([]), "{seen}");
    // Account 1 (it paid a transfer): the page verifies the served proof, and refuses it with a
    // sibling byte flipped; the form shows the verified balance.
    let account = &seen["account"];
    assert_eq!(account["nonce"], "1", "{seen}");
    assert_eq!(
        account["balance"],
        account["served"]["balance"].to_string(),
        "{seen}"
    );
    assert!(
        account["refused"]
            .as_str()
            .is_some_and(|r| r.contains("does not reach")),
        "{seen}"
    );
    assert!(
        account["form"]
            .as_str()
            .is_some_and(|f| f.contains("account 1 at height 2")),
        "{seen}"
    );
    // The page's transfer commitment is the circuit's; an edited transfer changes it.
    let c = &account["commitment"];
    assert_eq!(c["honest"], c["proven"], "{seen}");
    assert_ne!(c["edited"], c["proven"], "{seen}");

    // Block 3's proof is tampered on the way: shown invalid, the head stays at 2.
    block(2);
    let seen = page(&script, http, 3, &["--expect-invalid"]);
    assert_eq!(seen["state"], "invalid", "{seen}");
    assert_eq!(seen["height"], 2, "{seen}");
    assert!(
        seen["invalid"]
            .as_str()
            .is_some_and(|r| r.contains("block 3: the proof does not verify")),
        "{seen}"
    );

    // The explorer and the dashboard while transfers keep arriving: the dashboard's heights
    // advance over /events, the explorer lists the blocks and shows the newest one's receipts.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let feeder = {
        let (stop, cert) = (stop.clone(), cert.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(async {
                let c = Client::connect(quic, cert).await.expect("connect");
                let mut nonce = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && nonce < 200 {
                    let tx = common::dev_transfer(3, Recipient::Index(4), 1, 1, nonce);
                    let r = c.submit(&[tx]).await.expect("submit");
                    assert!(r[0].accepted, "{r:?}");
                    nonce += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                }
                c.close().await;
            });
        })
    };
    let shown = pages(http);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    feeder.join().expect("feeder");
    let committed: Vec<u64> = shown["dashboard"]["committed"]
        .as_array()
        .expect("heights")
        .iter()
        .filter_map(serde_json::Value::as_u64)
        .collect();
    assert!(
        committed.len() >= 3 && committed.last() > committed.first(),
        "{shown}"
    );
    assert_eq!(shown["dashboard"]["connection"], "live", "{shown}");
    assert!(
        shown["dashboard"]["backends"]
            .as_str()
            .is_some_and(|b| b.contains("msm")),
        "{shown}"
    );
    let listed = shown["explorer"]["listed"].as_array().expect("listed");
    assert!(listed.len() >= 3, "{shown}");
    let selected = shown["explorer"]["selected"].as_u64().expect("selected");
    assert_eq!(
        shown["explorer"]["title"],
        format!("Block {selected}"),
        "{shown}"
    );
    let block = get(http, &format!("/blocks/{selected}"));
    let receipts = shown["explorer"]["receipts"].as_array().expect("receipts");
    assert_eq!(
        receipts.len(),
        block["receipts"].as_array().map_or(0, Vec::len),
        "{shown}"
    );
    assert!(
        receipts
            .iter()
            .all(|r| r[1] == "applied" || r[1] == "rejected"),
        "{shown}"
    );
    assert_eq!(shown["errors"], serde_json::json!([]), "{shown}");

    // For Prometheus users: every metric deploy/grafana-dashboard.json queries is documented in
    // docs/operations.md, and so is every metric this node exports.
    let names = |text: &str| -> std::collections::BTreeSet<String> {
        let mut out = std::collections::BTreeSet::new();
        let mut rest = text;
        while let Some(at) = rest.find("rustorium_") {
            let tail = &rest[at..];
            let end = tail
                .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                .unwrap_or(tail.len());
            let name = &tail[..end];
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(name);
            out.insert(base.to_string());
            rest = &tail[end..];
        }
        out
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |p: &str| std::fs::read_to_string(root.join(p)).expect("read");
    let documented = names(&read("docs/operations.md"));
    let dashboard = names(&read("deploy/grafana-dashboard.json"));
    let exported = names(
        &ureq::get(&format!("http://{http}/metrics"))
            .call()
            .expect("GET")
            .body_mut()
            .read_to_string()
            .expect("body"),
    );
    assert!(dashboard.len() > 20, "{dashboard:?}");
    let undocumented: Vec<_> = dashboard
        .union(&exported)
        .filter(|n| !documented.contains(*n))
        .collect();
    assert!(
        undocumented.is_empty(),
        "not in docs/operations.md: {undocumented:?}"
    );
    serde_json::from_str::<serde_json::Value>(&read("deploy/grafana-dashboard.json"))
        .expect("dashboard JSON");
    child.kill().expect("kill");
    child.wait().expect("reaped");
}

fn pages(http: std::net::SocketAddr) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/test/pages.mjs");
    let out = Command::new("node")
        .arg(script)
        .arg(format!("http://{http}"))
        .output()
        .expect("node runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "the pages run failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(text.lines().last().unwrap_or("")).expect("one JSON line")
}

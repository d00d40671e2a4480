//! The node end to end on loopback: QUIC ingestion → block → proof → light-client verification
//! over HTTP; bad input of every kind gets a clear error and the node keeps running.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::CertificateDer;
use rustorium::net::codec::{Frame, Kind};
use rustorium::net::quic::Client;
use rustorium::node::{Node, NodeConfig};
use rustorium::prover::ProofSystem;
use rustorium::state::dev_secret;
use rustorium_circuits::transfer::{Recipient, SignedTransfer, Transfer};

const CHAIN: u64 = 1337;

fn config(dir: &Path) -> NodeConfig {
    NodeConfig {
        data_dir: dir.join("data"),
        genesis: common::small_genesis(dir, 5),
        producer: 3,
        quic_listen: "127.0.0.1:0".into(),
        http_listen: "127.0.0.1:0".into(),
        block_interval_ms: 200,
        capacity: 2,
        keys_dir: dir.join("keys"),
        key_seed: 5,
        prover_workers: 1,
        keep_versions: 64,
        max_proving_backlog: 64,
        http: Default::default(),
        prove: true,
        mempool: Default::default(),
        hardware: None,
        consensus: None,
        fleet: None,
        proof_system: Default::default(),
        scoring: Default::default(),
        policy: Default::default(),
    }
}

fn t(from: u64, to: u64, nonce: u64) -> SignedTransfer {
    Transfer {
        chain_id: CHAIN,
        from,
        to: Recipient::Index(to),
        amount: 10,
        fee: 1,
        nonce,
    }
    .sign(&dev_secret(from))
}

async fn start(dir: &Path) -> (Arc<Node>, Client, SocketAddr) {
    start_with(dir, config(dir)).await
}

/// Starts a node with `config` (its data directory under `dir`), its servers and a client.
async fn start_with(dir: &Path, config: NodeConfig) -> (Arc<Node>, Client, SocketAddr) {
    let node = Node::start(config).expect("node starts");
    let (quic, http) = rustorium::start_servers(
        node.clone(),
        "127.0.0.1:0".parse().expect("addr"),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("servers");
    let cert = CertificateDer::from(std::fs::read(dir.join("data/tls/cert.der")).expect("cert"));
    let client = Client::connect(quic, cert).await.expect("connect");
    (node, client, http)
}

fn http_get(http: SocketAddr, path: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent
        .get(&format!("http://{http}{path}"))
        .call()
        .expect("GET");
    (
        r.status().as_u16(),
        r.body_mut().read_to_string().expect("body"),
    )
}

fn http_post(http: SocketAddr, path: &str, body: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent
        .post(&format!("http://{http}{path}"))
        .send(body)
        .expect("POST");
    (
        r.status().as_u16(),
        r.body_mut().read_to_string().expect("body"),
    )
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).expect("JSON")
}

async fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_block_prove_and_verify_as_a_light_client() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (node, client, http) = start(dir.path()).await;
    let txs = [t(0, 1, 0), t(0, 2, 1), t(1, 2, 0)];
    let res = client.submit(&txs).await.expect("submit");
    assert!(res.iter().all(|r| r.accepted), "{res:?}");
    // Invalid ones, each with its reason.
    let mut forged = t(2, 0, 0);
    forged.tx.amount = 999;
    let mut wrong_chain = Transfer {
        chain_id: 9,
        from: 2,
        to: Recipient::Index(0),
        amount: 1,
        fee: 1,
        nonce: 0,
    }
    .sign(&dev_secret(2));
    wrong_chain.tx.chain_id = 9;
    let overdraft = Transfer {
        chain_id: CHAIN,
        from: 4,
        to: Recipient::Index(0),
        amount: 5_000_000,
        fee: 1,
        nonce: 0,
    }
    .sign(&dev_secret(4));
    let res = client
        .submit(&[forged, wrong_chain, overdraft, txs[0].clone()])
        .await
        .expect("submit");
    let reasons: Vec<&str> = res.iter().map(|r| r.reason.as_str()).collect();
    assert!(res.iter().all(|r| !r.accepted), "{reasons:?}");
    assert!(reasons[0].contains("bad signature"), "{reasons:?}");
    assert!(reasons[1].contains("wrong chain id"), "{reasons:?}");
    assert!(reasons[2].contains("insufficient balance"), "{reasons:?}");
    assert!(
        reasons[3].contains("already pending") || reasons[3].contains("stale nonce"),
        "{reasons:?}"
    );

    wait_for("two proven blocks", 120, || {
        node.metrics()
            .proven_height
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 2
    })
    .await;
    let (code, body) = http_get(http, "/blocks/1");
    assert_eq!(code, 200);
    let b1 = json(&body);
    assert_eq!(b1["transfers"].as_array().map(Vec::len), Some(2));
    assert!(b1["proof"].is_string());
    let (_, status) = http_get(http, "/status");
    assert_eq!(json(&status)["committed_height"], 2);
    let (_, metrics) = http_get(http, "/metrics");
    assert!(
        metrics.contains("rustorium_tx_rejected_total{reason=\"bad_signature\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rustorium_tx_applied_total 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rustorium_backend{op=\"poseidon\",backend=\"cpu\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rustorium_proof_seconds_count 2"),
        "{metrics}"
    );
    assert_eq!(http_get(http, "/healthz"), (200, "ok".to_string()));
    assert_eq!(json(&http_get(http, "/readyz").1)["ready"], true);

    // The light client, as a separate process, verifies the chain and an account, with the key
    // pinned by its hash (the test genesis pins none; an operator learns it out of band).
    let genesis = dir.path().join("genesis.toml");
    let url = format!("http://{http}");
    let vk_hash = json(&status)["vk_hash"]
        .as_str()
        .expect("vk hash")
        .to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_rustorium"))
        .args([
            "light",
            "sync",
            "--node",
            &url,
            "--genesis",
            genesis.to_str().expect("utf8"),
            "--vk-hash",
            &vk_hash,
        ])
        .output()
        .expect("light sync");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("verified head: height 2"), "{text}");
    let out = Command::new(env!("CARGO_BIN_EXE_rustorium"))
        .args([
            "light",
            "account",
            "2",
            "--node",
            &url,
            "--genesis",
            genesis.to_str().expect("utf8"),
            "--vk-hash",
            &vk_hash,
        ])
        .output()
        .expect("light account");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("account 2 at verified height 2: balance 1000000020"),
        "{text}"
    );
    client.close().await;
    node.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (node, client, http) = start(dir.path()).await;
    let error_of = |frames: Vec<Frame>| -> String {
        assert_eq!(frames.len(), 1, "{frames:?}");
        assert_eq!(frames[0].kind, Kind::Error);
        String::from_utf8_lossy(&frames[0].payload).into_owned()
    };
    // Unknown version, unknown kind, oversized, truncated.
    let e = error_of(
        client
            .exchange_raw(&[9, 1, 0, 0, 0, 0])
            .await
            .expect("exchange"),
    );
    assert!(e.contains("version 9"), "{e}");
    let e = error_of(
        client
            .exchange_raw(&[1, 7, 0, 0, 0, 0])
            .await
            .expect("exchange"),
    );
    assert!(e.contains("kind 7"), "{e}");
    let mut big = vec![1u8, 1];
    big.extend_from_slice(&(1u32 << 20).to_le_bytes());
    big.extend(vec![0u8; 5000]);
    let e = error_of(client.exchange_raw(&big).await.expect("exchange"));
    assert!(e.contains("exceeds"), "{e}");
    let e = error_of(
        client
            .exchange_raw(&[1, 1, 50, 0, 0, 0, 1, 2, 3])
            .await
            .expect("exchange"),
    );
    assert!(e.contains("ended inside a frame"), "{e}");
    // A well-framed but undecodable transfer.
    let junk = Frame {
        kind: Kind::Submit,
        payload: vec![1, 1, 2, 3],
    }
    .encode();
    let frames = client.exchange_raw(&junk).await.expect("exchange");
    assert_eq!(frames[0].kind, Kind::Result);
    assert!(String::from_utf8_lossy(&frames[0].payload).contains("malformed transfer"));
    // HTTP: garbage bodies, bad fields, bad paths.
    let (code, body) = http_post(http, "/tx", "{not json");
    assert_eq!(code, 400);
    assert!(
        json(&body)["error"]
            .as_str()
            .expect("error")
            .contains("not JSON")
    );
    let (code, body) = http_post(http, "/tx", r#"{"transfer":"zz"}"#);
    assert_eq!(code, 400, "{body}");
    let (code, body) = http_post(
        http,
        "/tx",
        r#"{"chain_id":1337,"from":0,"to_index":1,"amount":1,"fee":1,"nonce":0,"signature":"00"}"#,
    );
    assert_eq!(code, 400);
    assert!(body.contains("signature"), "{body}");
    let (code, _) = http_post(http, "/tx", &"x".repeat(20_000));
    assert_eq!(code, 413);
    assert_eq!(http_get(http, "/blocks/abc").0, 400);
    assert_eq!(http_get(http, "/blocks/99").0, 404);
    assert_eq!(http_get(http, "/accounts/1?height=zz").0, 400);
    // A bad signature through HTTP JSON is rejected with its reason.
    let mut forged = t(0, 1, 0);
    forged.tx.amount = 11;
    let body = format!(
        r#"{{"transfer":"{}"}}"#,
        hex::encode(forged.encode().expect("encode"))
    );
    let (code, answer) = http_post(http, "/tx", &body);
    assert_eq!(code, 400);
    assert!(
        json(&answer)["reason"]
            .as_str()
            .expect("reason")
            .contains("bad signature")
    );
    // Nothing was admitted, nothing committed; the node still takes a valid transfer.
    assert_eq!(node.mempool_len(), 0);
    assert_eq!(
        node.reader().expect("r").latest_version().expect("v"),
        Some(0)
    );
    let ok = t(0, 1, 0);
    let body = format!(
        r#"{{"transfer":"{}"}}"#,
        hex::encode(ok.encode().expect("encode"))
    );
    let (code, answer) = http_post(http, "/tx", &body);
    assert_eq!(code, 200, "{answer}");
    assert_eq!(json(&answer)["accepted"], true);
    let res = client.submit(&[t(1, 0, 0)]).await.expect("submit");
    assert!(res[0].accepted);
    client.close().await;
    node.shutdown();
}

#[test]
fn shipped_node_config_loads_and_unknown_keys_are_refused() {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/node.toml"));
    let c = NodeConfig::load(path).expect("config/node.toml loads");
    assert_eq!(c.capacity, 4);
    assert!(c.genesis.ends_with("genesis.toml"));
    let hw = c.hardware.as_ref().expect("a hardware profile");
    assert_eq!(
        rustorium::hardware::Profile::load(hw)
            .expect("profile loads")
            .name,
        "cpu"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "data_dir = \"d\"\ngenesis = \"g\"\nproducer = 0\ncolour = 1\n",
    )
    .expect("write");
    let e = NodeConfig::load(&bad).expect_err("unknown key").to_string();
    assert!(e.contains("colour") && e.contains("bad.toml"), "{e}");
    // The proof system: groth16 by default, halo2 by name, anything else refused by name.
    let base = "data_dir = \"d\"\ngenesis = \"g\"\nproducer = 0\n";
    for (line, want) in [
        ("", Some(ProofSystem::Groth16)),
        ("proof_system = \"groth16\"\n", Some(ProofSystem::Groth16)),
        ("proof_system = \"halo2\"\n", Some(ProofSystem::Halo2)),
        ("proof_system = \"plonky\"\n", None),
    ] {
        std::fs::write(&bad, format!("{base}{line}")).expect("write");
        match (NodeConfig::load(&bad), want) {
            (Ok(c), Some(want)) => assert_eq!(c.proof_system, want),
            (Err(e), None) => assert!(e.to_string().contains("plonky"), "{e}"),
            (got, want) => panic!("{line}: {got:?} (expected {want:?})"),
        }
    }
}

/// A node proving with halo2 (transparent: no keys) proves its blocks, and a light client in a
/// separate process derives the verifier itself and syncs the chain. halo2 with a fleet, and a
/// genesis pinning another key, are refused at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_halo2_node_proves_its_blocks_and_a_light_client_syncs_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The parameter cache is shared by the test runs (`<keys_dir>/halo2`): public data.
    let keys_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).to_path_buf();
    let halo2 = |dir: &Path| NodeConfig {
        genesis: common::small_genesis(dir, 4),
        capacity: 1,
        keys_dir: keys_dir.clone(),
        proof_system: ProofSystem::Halo2,
        ..config(dir)
    };
    let with_fleet = NodeConfig {
        fleet: Some(toml::from_str("url = \"nats://127.0.0.1:1\"").expect("fleet section")),
        ..halo2(dir.path())
    };
    let e = Node::start(with_fleet)
        .map(|_| ())
        .expect_err("fleet + halo2");
    assert!(e.to_string().contains("Groth16 only"), "{e}");
    let (node, client, http) = start_with(dir.path(), halo2(dir.path())).await;
    assert!(node.keys().is_none() && node.halo2().is_some());
    let res = client
        .submit(&[t(0, 1, 0), t(1, 2, 0)])
        .await
        .expect("submit");
    assert!(res.iter().all(|r| r.accepted), "{res:?}");
    wait_for("two halo2 proofs", 300, || node.head().proven >= 2).await;
    let status = json(&http_get(http, "/status").1);
    assert_eq!(status["proof_system"], "halo2");
    assert_eq!(status["key_provenance"], "transparent");
    let vk_hash = status["vk_hash"].as_str().expect("vk hash").to_string();
    let vk = json(&http_get(http, "/vk").1);
    assert_eq!(vk["system"], "halo2");
    let (code, body) = http_get(http, "/keys/proving.key");
    assert!(code == 404 && body.contains("halo2"), "{code} {body}");
    assert_eq!(vk["vk_hash"].as_str(), Some(vk_hash.as_str()));
    let env =
        rustorium::prover::ProofEnvelope::decode(&node.proof(1).expect("read").expect("proof"))
            .expect("envelope");
    assert_eq!(env.system(), ProofSystem::Halo2);
    let genesis = dir.path().join("genesis.toml");
    let sync = |hash: &str| {
        Command::new(env!("CARGO_BIN_EXE_rustorium"))
            .args([
                "light",
                "sync",
                "--node",
                &format!("http://{http}"),
                "--genesis",
            ])
            .arg(&genesis)
            .args(["--vk-hash", hash, "--params-dir"])
            .arg(keys_dir.join("halo2"))
            .output()
            .expect("light sync")
    };
    let out = sync(&vk_hash);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("verified head: height 2"), "{text}");
    // Pinned to another key: refused.
    let out = sync(&"ab".repeat(32));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pinned"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    node.shutdown();
}

struct NoBigTransfers;

impl rustorium::node::AdmissionHook for NoBigTransfers {
    fn admit(&self, tx: &SignedTransfer) -> Result<(), rustorium::node::Refused> {
        if tx.tx.amount > 100 {
            Err(rustorium::node::Refused(format!(
                "amount {} above 100",
                tx.tx.amount
            )))
        } else {
            Ok(())
        }
    }
}

/// JSON-field submissions, the `tx transfer` command, and the admission hook.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_fields_cli_submission_and_admission_hook() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (node, client, http) = start(dir.path()).await;
    let tx = t(0, 1, 0);
    let body = serde_json::json!({
        "chain_id": CHAIN, "from": 0, "to_index": 1, "amount": 10, "fee": 1, "nonce": 0,
        "signature": hex::encode(tx.sig.pack().expect("pack")),
    });
    let (code, answer) = http_post(http, "/tx", &body.to_string());
    assert_eq!(code, 200, "{answer}");
    assert_eq!(
        json(&answer)["id"],
        rustorium_circuits::field::to_decimal(&tx.tx.message())
    );
    // The CLI signs and submits over QUIC.
    let cert = dir.path().join("data/tls/cert.der");
    let addr = client_addr(&client);
    let run = |amount: &str| {
        Command::new(env!("CARGO_BIN_EXE_rustorium"))
            .args([
                "tx",
                "transfer",
                "--node",
                &addr.to_string(),
                "--cert",
                cert.to_str().expect("utf8"),
                "--dev-key",
                "1",
                "--from",
                "1",
                "--to",
                "2",
                "--amount",
                amount,
                "--nonce",
                "0",
            ])
            .output()
            .expect("tx transfer")
    };
    let out = run("5");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // With a policy installed, a big transfer is refused with the policy's reason.
    node.set_admission_hook(Arc::new(NoBigTransfers));
    let res = client
        .submit(&[Transfer {
            chain_id: CHAIN,
            from: 2,
            to: Recipient::Index(0),
            amount: 500,
            fee: 1,
            nonce: 0,
        }
        .sign(&dev_secret(2))])
        .await
        .expect("submit");
    assert!(
        !res[0].accepted && res[0].reason.contains("amount 500 above 100"),
        "{res:?}"
    );
    let out = run("7"); // same nonce, a replacement with the same fee: refused by the mempool
    assert_eq!(out.status.code(), Some(1));
    assert!(node.metrics().rejected().get("policy") == Some(&1));
    client.close().await;
    node.shutdown();
}

fn client_addr(c: &Client) -> SocketAddr {
    c.remote_address()
}

/// A data directory belongs to the genesis it was created from: another genesis with the same
/// chain id and depth but other balances or an extra account is refused, naming both files; the
/// same genesis, and a node pinning the genesis's verifying key, start.
#[test]
fn a_data_directory_refuses_another_genesis_and_keys_follow_the_pin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = config(dir.path());
    c.prove = false;
    assert!(
        Node::start(c.clone())
            .expect("first start")
            .close(Duration::from_secs(30)),
        "the node did not close"
    );
    let original = std::fs::read_to_string(&c.genesis).expect("genesis");
    for (what, text) in [
        (
            "another balance",
            original.replacen("balance = 1_000_000\n", "balance = 1_000_001\n", 1),
        ),
        (
            "an extra account",
            format!("{original}\n[[accounts]]\ndev_key = 9\nbalance = 5\n"),
        ),
    ] {
        assert_ne!(text, original, "{what}: the edit changed nothing");
        std::fs::write(&c.genesis, &text).expect("write");
        let e = Node::start(c.clone()).expect_err(what).to_string();
        assert!(
            e.contains("another genesis") && e.contains("state.redb") && e.contains("genesis.toml"),
            "{what}: {e}"
        );
    }
    std::fs::write(&c.genesis, &original).expect("write");
    assert!(Node::start(c.clone()).is_ok(), "the original genesis");

    // A genesis pinning a verifying key: the node refuses keys with another hash.
    let dir = tempfile::tempdir().expect("tempdir");
    let c = config(dir.path());
    let pinned = format!(
        "{}\n[[verifying_keys]]\ncapacity = {}\nhash = \"{}\"\n",
        std::fs::read_to_string(&c.genesis).expect("genesis"),
        c.capacity,
        "00".repeat(32)
    );
    std::fs::write(&c.genesis, pinned).expect("write");
    let e = Node::start(c).expect_err("unpinned key").to_string();
    assert!(e.contains("not the key") && e.contains("pins"), "{e}");
}

/// A damaged or foreign `verifying.key` (what light clients download) stops the node at start with
/// the file named; a missing one is rewritten from the proving key; `/vk` serves the key in memory.
#[test]
fn a_damaged_verifying_key_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = config(dir.path());
    assert!(
        Node::start(c.clone())
            .expect("first start makes keys")
            .close(Duration::from_secs(60))
    );
    let vk = dir.path().join("keys/d5-c2/verifying.key");
    let good = std::fs::read(&vk).expect("vk");
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 1;
    std::fs::write(&vk, &bad).expect("damage");
    let e = Node::start(c.clone()).expect_err("damaged vk").to_string();
    assert!(e.contains("verifying.key"), "{e}");
    // Another shape's key in its place.
    let other = rustorium::prover::dev_setup(
        rustorium_circuits::block::CircuitShape {
            depth: 5,
            capacity: 2,
        },
        99,
    )
    .expect("setup");
    std::fs::write(
        &vk,
        rustorium::prover::verifying_key_file(&other).expect("bytes"),
    )
    .expect("foreign");
    let e = Node::start(c.clone()).expect_err("foreign vk").to_string();
    assert!(
        e.contains("verifying.key") && e.contains("not the verifying key"),
        "{e}"
    );
    std::fs::remove_file(&vk).expect("rm");
    let node = Node::start(c).expect("a missing vk is rewritten");
    assert_eq!(std::fs::read(&vk).expect("rewritten"), good);
    assert!(node.close(Duration::from_secs(60)));
}

/// The chain head is published through a watch channel: a transfer that fills the pool makes a
/// block at once (the block interval is a minute: nothing waits for a timer), and its commit and
/// then its proof arrive as changes of the head, in that order, mirrored by the metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_head_is_a_watch_channel() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::start(NodeConfig {
        capacity: 1,
        block_interval_ms: 60_000,
        ..config(dir.path())
    })
    .expect("node starts");
    let mut head = node.watch_head();
    let start = *head.borrow_and_update();
    assert_eq!((start.committed, start.proven), (0, 0));
    node.submit(t(0, 1, 0)).expect("admitted");
    let mut seen = Vec::new();
    tokio::time::timeout(Duration::from_secs(120), async {
        while head.changed().await.is_ok() {
            let h = *head.borrow_and_update();
            seen.push((h.committed, h.proven));
            if h.proven >= 1 {
                break;
            }
        }
    })
    .await
    .expect("the block is committed and proven well before the block interval");
    assert_eq!(seen.first(), Some(&(1, 0)), "commit first: {seen:?}");
    assert_eq!(seen.last(), Some(&(1, 1)), "then the proof: {seen:?}");
    assert_eq!(node.head(), *head.borrow());
    let metrics = node.metrics().render();
    assert!(
        metrics.contains("rustorium_committed_height 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains("rustorium_proven_height 1\n"), "{metrics}");
    node.shutdown();
}

/// Outside a devnet (a genesis without `devnet = true`) a node neither generates nor accepts
/// insecure devnet keys, and says which file and why; keys made elsewhere (no devnet seed, as a
/// ceremony's) are accepted and reported as `external`; a devnet keeps generating its own
/// (issue 19).
#[test]
fn only_a_devnet_proves_with_devnet_keys() {
    use rustorium::node::{key_provenance, load_or_make_keys};
    use rustorium::prover::{KeyPair, save_keys};
    use rustorium_circuits::block::CircuitShape;
    let shape = CircuitShape {
        depth: 4,
        capacity: 1,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let refused = |why: &str| {
        let Err(e) = load_or_make_keys(dir.path(), shape, 7, false) else {
            panic!("accepted outside a devnet")
        };
        let e = e.to_string();
        assert!(e.contains(why) && e.contains("devnet = true"), "{e}");
    };
    refused("no proving key");
    assert!(!dir.path().join("d4-c1").exists(), "nothing generated");
    let k = load_or_make_keys(dir.path(), shape, 7, true).expect("a devnet makes its keys");
    assert_eq!(key_provenance(&k), "devnet-seed");
    refused("d4-c1/proving.key is an insecure devnet key");
    // The same key saved without its devnet seed stands for a key made elsewhere.
    save_keys(
        &dir.path().join("d4-c1"),
        &KeyPair::new(shape, None, k.pk.clone()),
    )
    .expect("save");
    let external = load_or_make_keys(dir.path(), shape, 7, false).expect("external key");
    assert_eq!(key_provenance(&external), "external");

    // Through a node's start-up: the devnet genesis with its flag removed refuses the devnet key
    // the node would otherwise generate, naming the genesis file.
    let node_dir = tempfile::tempdir().expect("tempdir");
    let config_path = common::node_config(node_dir.path(), "prove = true\ncapacity = 1\n");
    let genesis = node_dir.path().join("genesis.toml");
    let text = std::fs::read_to_string(&genesis).expect("genesis");
    assert!(text.contains("devnet = true"));
    std::fs::write(&genesis, text.replace("devnet = true", "")).expect("write");
    let config = NodeConfig::load(&config_path).expect("config");
    let Err(e) = Node::start(config) else {
        panic!("a node outside a devnet started with a devnet key")
    };
    let e = e.to_string();
    assert!(
        e.contains("no proving key") && e.contains("genesis.toml"),
        "{e}"
    );
}

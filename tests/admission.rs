//! Scoring and policy in the node's admission path (real ONNX Runtime from the project venv, the
//! shipped model and policy): an anomalous transfer is rejected with the policy's reason and
//! changes nothing, a normal one is admitted; /metrics shows the score histogram and decisions by
//! reason; a missing runtime is a clear start-up error unless `required = false`.

mod common;

use std::path::{Path, PathBuf};

use rustorium::node::admission::{PolicySection, ScoringSection};
use rustorium::node::{Node, NodeConfig, SubmitError};
use rustorium::state::dev_secret;
use rustorium_circuits::transfer::{Recipient, Transfer};

fn root(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// A plain transfer from dev account 1 (10 units, fee 3, first nonce) on the test chain.
fn normal_transfer() -> rustorium_circuits::transfer::SignedTransfer {
    Transfer {
        chain_id: 1337,
        from: 1,
        to: Recipient::Index(2),
        amount: 10,
        fee: 3,
        nonce: 0,
    }
    .sign(&dev_secret(1))
}

fn config(dir: &Path, runtime: Option<PathBuf>, required: bool) -> NodeConfig {
    NodeConfig {
        data_dir: dir.join("data"),
        genesis: common::small_genesis(dir, 5),
        producer: 3,
        quic_listen: "127.0.0.1:0".into(),
        http_listen: "127.0.0.1:0".into(),
        block_interval_ms: 60_000,
        capacity: 2,
        keys_dir: dir.join("keys"),
        key_seed: 5,
        prover_workers: 1,
        keep_versions: 64,
        prove: false,
        mempool: Default::default(),
        hardware: None,
        consensus: None,
        scoring: ScoringSection {
            enabled: true,
            model: root("config/models/scoring.onnx"),
            runtime,
            required,
            ..Default::default()
        },
        policy: PolicySection {
            script: Some(root("config/policy.glu")),
            ..Default::default()
        },
    }
}

#[test]
fn anomalous_transfers_are_rejected_by_the_policy_and_normal_ones_admitted() {
    if rustorium::scoring::discover_runtime(None).is_none() {
        assert!(
            std::env::var_os("RUSTORIUM_SKIP_ORT").is_some(),
            "no ONNX Runtime: run scripts/test.sh or set RUSTORIUM_SKIP_ORT=1"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::start(config(dir.path(), None, true)).expect("node starts");
    assert_eq!(node.admission.scoring_status, "on (cpu)");
    let normal = normal_transfer();
    node.submit(normal).expect("a normal transfer is admitted");
    // A fresh account draining itself into a new key with an absurd fee, far ahead of its nonce.
    let balance = node
        .store
        .reader()
        .expect("reader")
        .account(0, 0)
        .expect("read")
        .expect("account 0")
        .balance;
    let drain = Transfer {
        chain_id: 1337,
        from: 0,
        to: Recipient::NewKey(dev_secret(50).public_key()),
        amount: balance - 100_000,
        fee: 90_000,
        nonce: 50,
    }
    .sign(&dev_secret(0));
    match node.submit(drain) {
        Err(SubmitError::Policy(reason)) => assert!(reason.contains("anomaly score"), "{reason}"),
        other => panic!("an anomalous transfer was not rejected by the policy: {other:?}"),
    }
    assert_eq!(
        node.mempool_len(),
        1,
        "the rejected transfer changed the mempool"
    );
    let text = node.metrics.render();
    assert!(text.contains("rustorium_scoring_enabled 1"), "{text}");
    assert!(text.contains("rustorium_tx_score_count 2"), "{text}");
    assert!(
        text.contains(
            "rustorium_admission_decisions_total{decision=\"reject\",reason=\"anomaly score above 0.15\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("rustorium_admission_decisions_total{decision=\"accept\",reason=\"\"} 1"),
        "{text}"
    );
    node.shutdown();
}

#[test]
fn a_missing_runtime_fails_start_up_unless_scoring_is_optional() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = Some(PathBuf::from("/nonexistent/libonnxruntime.so"));
    let e = Node::start(config(dir.path(), missing.clone(), true)).expect_err("required");
    assert!(e.to_string().contains("[scoring]"), "{e}");
    assert!(
        e.to_string().contains("/nonexistent/libonnxruntime.so"),
        "{e}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::start(config(dir.path(), missing, false)).expect("optional scoring");
    let status = node.admission.scoring_status.clone();
    assert!(
        status.starts_with("off: ") && status.contains("not found"),
        "{status}"
    );
    assert!(
        node.metrics
            .render()
            .contains("rustorium_scoring_enabled 0")
    );
    // Unscored, the policy still runs (score 0 is below its thresholds): admitted.
    let tx = normal_transfer();
    node.submit(tx).expect("admitted");
    node.shutdown();
}

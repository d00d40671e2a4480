//! Scoring and policy in the node's admission path (real ONNX Runtime from the project venv, the
//! shipped model and policy): an anomalous transfer is rejected with the policy's reason and
//! changes nothing, a normal one is admitted; /metrics shows the score histogram and decisions by
//! reason; a missing runtime is a clear start-up error unless `required = false`.

mod common;

use std::path::{Path, PathBuf};

use rustorium::node::admission::{PolicySection, ScoringSection};
use rustorium::node::mempool::MempoolError;
use rustorium::node::{Node, NodeConfig, SubmitError};
use rustorium::state::{TxError, dev_secret};
use rustorium_circuits::transfer::{Recipient, SignedTransfer, Transfer};

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
        max_proving_backlog: 64,
        http: Default::default(),
        prove: false,
        mempool: Default::default(),
        hardware: None,
        consensus: None,
        fleet: None,
        proof_system: Default::default(),
        scoring: ScoringSection {
            enabled: true,
            model: Some(root("config/models/scoring.onnx")),
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
    assert_eq!(node.admission().scoring_status, "on (cpu)");
    let normal = normal_transfer();
    node.submit(normal).expect("a normal transfer is admitted");
    // A fresh account draining itself into a new key with an absurd fee, far ahead of its nonce.
    let balance = node
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
    let text = node.metrics().render();
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
    let status = node.admission().scoring_status.clone();
    assert!(
        status.starts_with("off: ") && status.contains("not found"),
        "{status}"
    );
    assert!(
        node.metrics()
            .render()
            .contains("rustorium_scoring_enabled 0")
    );
    // Unscored, the policy still runs (score 0 is below its thresholds): admitted.
    let tx = normal_transfer();
    node.submit(tx).expect("admitted");
    node.shutdown();
}

fn plain_config(dir: &Path, depth: usize) -> NodeConfig {
    let base = config(dir, None, false);
    NodeConfig {
        // After `config`, which writes its own genesis to the same path.
        genesis: common::small_genesis(dir, depth),
        capacity: 4, // above what the tests queue: no block unless asked for
        scoring: ScoringSection::default(),
        policy: PolicySection::default(),
        ..base
    }
}

fn refusal(node: &Node, tx: SignedTransfer) -> SubmitError {
    node.submit(tx).expect_err("must be refused")
}

/// Admission refuses what could never execute (the red team's free blocks and free accounts):
/// unknown recipients, keys already in the tree or already being created, transfers below the
/// account-creation minimums, and a sender's pending transfers that together spend more than its
/// balance. Nothing refused reaches the mempool or a block.
#[test]
fn admission_refuses_transfers_that_could_never_execute() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::start(plain_config(dir.path(), 5)).expect("node starts");
    assert!(matches!(
        refusal(
            &node,
            common::dev_transfer(0, Recipient::Index(200), 5, 1, 0)
        ),
        SubmitError::Invalid(TxError::UnknownRecipient(200))
    ));
    assert!(matches!(
        refusal(
            &node,
            common::dev_transfer(0, Recipient::NewKey(dev_secret(1).public_key()), 5, 1, 0)
        ),
        SubmitError::Invalid(TxError::RecipientKeyExists(1))
    ));
    let fresh = dev_secret(50).public_key();
    assert!(matches!(
        refusal(
            &node,
            common::dev_transfer(0, Recipient::NewKey(fresh), 0, 0, 0)
        ),
        SubmitError::Invalid(TxError::NewAccountMinimum { .. })
    ));
    // Account 4 holds 1,000,000: one transfer may spend it all, a second one nothing more.
    node.submit(common::dev_transfer(4, Recipient::Index(1), 999_990, 10, 0))
        .expect("spends the whole balance");
    for nonce in [1, 2] {
        match refusal(
            &node,
            common::dev_transfer(4, Recipient::Index(1), 1, 1, nonce),
        ) {
            SubmitError::Invalid(TxError::InsufficientBalance { balance, needed }) => {
                assert_eq!((balance, needed), (1_000_000, 1_000_002));
            }
            other => panic!("overspend admitted or refused for another reason: {other:?}"),
        }
    }
    // A replacement is measured without the transfer it replaces.
    node.submit(common::dev_transfer(4, Recipient::Index(1), 999_980, 20, 0))
        .expect("replacement with a higher fee");
    // One pending creation per key.
    node.submit(common::dev_transfer(0, Recipient::NewKey(fresh), 5, 1, 0))
        .expect("creates an account");
    assert!(matches!(
        refusal(
            &node,
            common::dev_transfer(1, Recipient::NewKey(fresh), 5, 1, 0)
        ),
        SubmitError::Mempool(MempoolError::KeyPending)
    ));
    assert_eq!(node.mempool_len(), 2, "a refused transfer reached the pool");
    // Both pending transfers execute: the block has no rejection.
    let block = node.produce_block().expect("produce").expect("a block");
    assert_eq!(block.applied.len(), 2);
    assert!(block.rejected.is_empty(), "{:?}", block.rejected);
    node.shutdown();
}

/// A tree with room for three more accounts admits three creations and refuses the fourth.
#[test]
fn admission_counts_pending_accounts_against_the_tree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::start(plain_config(dir.path(), 3)).expect("node starts"); // 8 leaves, 5 used
    for n in 0..3 {
        node.submit(common::dev_transfer(
            0,
            Recipient::NewKey(dev_secret(60 + n).public_key()),
            1,
            1,
            n,
        ))
        .expect("fits");
    }
    assert!(matches!(
        refusal(
            &node,
            common::dev_transfer(1, Recipient::NewKey(dev_secret(70).public_key()), 1, 1, 0)
        ),
        SubmitError::Invalid(TxError::TreeFull)
    ));
    node.shutdown();
}

/// Admission applies the execution rules themselves (`state::validate_transfer`), so it refuses,
/// with execution's reasons, what execution would drop: a credit that overflows the recipient's
/// balance, and an `amount + fee` that does not fit in u64. The same transfers, forced into a
/// block by the executor, are rejected there for the same reasons.
#[test]
fn admission_and_execution_refuse_the_same_transfers_for_the_same_reasons() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = plain_config(dir.path(), 5);
    let rich = u64::MAX - 5;
    let genesis = std::fs::read_to_string(&config.genesis)
        .expect("genesis")
        .replace("balance = 1_000_000\n", &format!("balance = {rich}\n"));
    config.genesis = dir.path().join("rich.toml");
    std::fs::write(&config.genesis, genesis).expect("write genesis");
    let node = Node::start(config).expect("node starts");
    let to_rich = common::dev_transfer(0, Recipient::Index(4), 10, 1, 0);
    let wraps = common::dev_transfer(4, Recipient::Index(0), u64::MAX - 1, 2, 0);
    for tx in [&to_rich, &wraps] {
        assert!(
            matches!(
                refusal(&node, tx.clone()),
                SubmitError::Invalid(TxError::Overflow)
            ),
            "admission must refuse with execution's reason"
        );
    }
    assert_eq!(node.mempool_len(), 0, "a refused transfer reached the pool");
    let executed = node.dry_run(&[to_rich, wraps], 3).expect("plan");
    assert!(executed.applied.is_empty());
    let reasons: Vec<&TxError> = executed.rejected.iter().map(|(_, e)| e).collect();
    assert_eq!(reasons, [&TxError::Overflow, &TxError::Overflow]);
    node.shutdown();
}

//! Crash safety: a child process commits workload batches and is killed with SIGKILL at random
//! moments; after each kill the reopened store must hold exactly the state of one committed version
//! (at least the last one the child reported), never a mix, and the child must resume from it.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::naive_root;
use rustorium::accel::CpuHasher;
use rustorium::state::{StateStore, StoreOptions};
use rustorium_circuits::Fr;
use rustorium_circuits::field::to_decimal;
use rustorium_testkit::{SplitMix, workload_batch, workload_keys};

const DEPTH: usize = 8;
const SEED: u64 = 42;
const BATCH: usize = 48;

#[test]
fn sigkill_during_commits_leaves_a_committed_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("crash.redb");
    let keys = workload_keys(1 << DEPTH);
    // Expected roots by version, extended on demand.
    let mut model = BTreeMap::new();
    let mut expected: Vec<Fr> = Vec::new();
    let mut expect_root = |v: u64, expected: &mut Vec<Fr>| -> Fr {
        while expected.len() as u64 <= v {
            model.extend(workload_batch(SEED, expected.len() as u64, BATCH, &keys));
            expected.push(naive_root(&model, DEPTH));
        }
        expected[v as usize]
    };
    let mut rng = SplitMix(7);
    let mut last_reported: Option<u64> = None;
    for round in 0..6 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rustorium"))
            .args([
                "debug",
                "commit-loop",
                "--depth",
                "8",
                "--seed",
                "42",
                "--batch-size",
                "48",
                "--db",
            ])
            .arg(&db)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let wanted = 2 + rng.next_u64() % 6;
        for _ in 0..wanted {
            let line = lines.next().expect("child output").expect("utf8");
            let mut parts = line.split_whitespace();
            assert_eq!(parts.next(), Some("committed"));
            let v: u64 = parts.next().expect("version").parse().expect("number");
            let root = parts.next().expect("root");
            assert_eq!(
                root,
                to_decimal(&expect_root(v, &mut expected)),
                "reported root of version {v}"
            );
            if let Some(prev) = last_reported {
                assert!(v > prev, "versions go up across restarts");
            }
            last_reported = Some(v);
        }
        // Let it run into the middle of further commits, then kill it hard.
        std::thread::sleep(Duration::from_micros(rng.next_u64() % 30_000));
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");

        let store = StateStore::open(
            &db,
            Arc::new(CpuHasher::new()),
            StoreOptions { keep_versions: 0 },
        )
        .expect("reopen after kill");
        let r = store.reader().expect("reader");
        let latest = r.latest_version().expect("latest").expect("some version");
        let reported = last_reported.expect("reported");
        assert!(
            latest >= reported,
            "round {round}: committed version {reported} lost (store at {latest})"
        );
        assert_eq!(
            r.root(latest).expect("root"),
            expect_root(latest, &mut expected),
            "round {round}"
        );
        // The tree under the root is whole: a few proofs verify against it.
        for index in [0u64, 3, 100, 255] {
            r.proof(index, latest)
                .expect("proof")
                .verify(expect_root(latest, &mut expected))
                .expect("verifies");
        }
        last_reported = Some(latest);
    }
}

//! `StateStore::root_after`, the dry-run batch update a block's planned root comes from: the
//! root of a batch on top of a version, computed without writing, equal to what committing the
//! batch yields, and to the naive full recomputation; pruned versions and out-of-range indices
//! are refused.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustorium_accel::CpuHasher;
use rustorium_circuits::account::Account;
use rustorium_state::{StateStore, StoreError, StoreOptions};
use rustorium_testkit::{naive_root, workload_batch, workload_keys};

#[test]
fn the_dry_run_root_is_the_committed_root_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let depth = 6;
    let keys = workload_keys(1 << depth);
    let store = StateStore::create(
        &dir.path().join("s.redb"),
        depth,
        1,
        Arc::new(CpuHasher::new()),
        StoreOptions::default(),
    )
    .expect("create");
    let mut model: BTreeMap<u64, Account> = BTreeMap::new();
    let genesis = workload_batch(11, 0, 20, &keys);
    model.extend(genesis.clone());
    store.commit(0, &genesis).expect("genesis");
    for n in 1..=12u64 {
        let batch = workload_batch(11, n, 1 + (n as usize * 5) % 23, &keys);
        // The same batch judged against every kept version: a dry run never moves the store.
        let planned = store.root_after(n - 1, &batch).expect("dry run");
        let reader = store.reader().expect("reader");
        assert_eq!(reader.latest_version().expect("latest"), Some(n - 1));
        drop(reader);
        model.extend(batch.clone());
        assert_eq!(planned, naive_root(&model, depth), "batch {n}: naive root");
        assert_eq!(
            planned,
            store.commit(n, &batch).expect("commit"),
            "batch {n}"
        );
    }
    // On an older version: the root that batch would have given there.
    let old = store.reader().expect("reader").root(3).expect("root 3");
    assert_eq!(store.root_after(3, &BTreeMap::new()).expect("empty"), old);
    assert!(matches!(
        store.root_after(99, &BTreeMap::new()),
        Err(StoreError::UnknownVersion(99))
    ));
    let outside = BTreeMap::from([(
        1u64 << depth,
        genesis.values().next().cloned().expect("one"),
    )]);
    assert!(
        store.root_after(12, &outside).is_err(),
        "an index outside the tree"
    );
}

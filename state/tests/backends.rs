//! The state tree's batch update on every compute backend: a GPU that fails falls back to the
//! CPU with identical roots, and the wgpu backend (lavapipe here) commits the CPU's roots.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rustorium_accel::{CpuHasher, FallbackHasher};
use rustorium_state::{StateStore, StoreOptions};
use rustorium_testkit::{FailingHasher, wgpu_hasher, workload_batch, workload_keys};

/// The store's batch update runs through the fallback with identical roots.
#[test]
fn a_store_on_a_failing_gpu_commits_the_cpu_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = workload_keys(64);
    let counter = Arc::new(AtomicU64::new(0));
    let gpu = StateStore::create(
        &dir.path().join("g.redb"),
        8,
        1,
        Arc::new(FallbackHasher::new(
            Arc::new(FailingHasher),
            counter.clone(),
        )),
        StoreOptions::default(),
    )
    .expect("create");
    let cpu = StateStore::create(
        &dir.path().join("c.redb"),
        8,
        1,
        Arc::new(CpuHasher::new()),
        StoreOptions::default(),
    )
    .expect("create");
    let batch = workload_batch(3, 0, 40, &keys);
    assert_eq!(
        gpu.commit(0, &batch).expect("commit"),
        cpu.commit(0, &batch).expect("commit")
    );
    assert_eq!(
        counter.load(Ordering::Relaxed),
        9,
        "one retry per batch: leaves and 8 levels"
    );
}

/// A full batch update of the state tree on the wgpu backend gives the CPU's roots.
#[test]
fn tree_batch_update_on_wgpu_equals_cpu() {
    use crate::CpuHasher;
    use std::sync::Arc;
    let Some(h) = wgpu_hasher() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = workload_keys(256);
    let gpu = StateStore::create(
        &dir.path().join("g.redb"),
        12,
        1,
        Arc::new(h),
        StoreOptions::default(),
    )
    .expect("create");
    let cpu = StateStore::create(
        &dir.path().join("c.redb"),
        12,
        1,
        Arc::new(CpuHasher::new()),
        StoreOptions::default(),
    )
    .expect("create");
    for v in 0..3 {
        let batch = workload_batch(11, v, 100, &keys);
        assert_eq!(
            gpu.commit(v, &batch).expect("gpu commit"),
            cpu.commit(v, &batch).expect("cpu commit"),
            "version {v}"
        );
    }
}

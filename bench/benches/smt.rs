//! Batch updates of the state tree at depth 32 (CPU backend, redb on local disk): 1k and 10k leaves
//! per committed version, over a tree that already holds 16k accounts.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rustorium::accel::CpuHasher;
use rustorium::state::{StateStore, StoreOptions};
use rustorium_circuits::account::Account;
use rustorium_testkit::{workload_batch, workload_keys};

const ACCOUNTS: usize = 1 << 14;

fn smt(c: &mut Criterion) {
    let keys = workload_keys(ACCOUNTS);
    let mut g = c.benchmark_group("smt_batch_update_depth32");
    g.sample_size(10);
    for n in [1_000usize, 10_000] {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = StateStore::create(
            &dir.path().join("bench.redb"),
            32,
            1,
            Arc::new(CpuHasher::new()),
            StoreOptions::default(),
        )
        .expect("create");
        let genesis: BTreeMap<u64, Account> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (i as u64, Account::new(*k, 1)))
            .collect();
        store.commit(0, &genesis).expect("genesis");
        let batches: Vec<_> = (0..4).map(|s| workload_batch(s, 0, n, &keys)).collect();
        let version = Cell::new(1u64);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("cpu", n), |b| {
            b.iter(|| {
                let v = version.get();
                version.set(v + 1);
                store
                    .commit(v, &batches[v as usize % batches.len()])
                    .expect("commit")
            })
        });
    }
    g.finish();
}

criterion_group!(benches, smt);
criterion_main!(benches);

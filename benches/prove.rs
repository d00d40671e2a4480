//! Groth16 proving of a small block circuit (depth 8, 1 and 2 transfers): our prover (CPU
//! backends, matrices cached per shape) beside ark-groth16's prover on the same key, and
//! verification. Large shapes: `rustorium bench prove` (BENCHMARKS.md).

use std::collections::BTreeMap;
use std::sync::Arc;

use ark_bn254::Bn254;
use ark_groth16::Groth16;
use ark_std::rand::SeedableRng;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rustorium::accel::CpuHasher;
use rustorium::prover::{Prover, dev_setup, verify};
use rustorium::state::{StateStore, StoreOptions, dev_secret, execute_block};
use rustorium_circuits::account::Account;
use rustorium_circuits::block::{BlockCircuit, CircuitShape};
use rustorium_circuits::transfer::{Recipient, Transfer};

fn block(shape: CircuitShape) -> BlockCircuit {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = StateStore::create(
        &dir.path().join("s.redb"),
        shape.depth,
        1,
        Arc::new(CpuHasher::new()),
        StoreOptions::default(),
    )
    .expect("create");
    let genesis: BTreeMap<u64, Account> = (0..4u64)
        .map(|i| (i, Account::new(dev_secret(i).public_key(), 1_000)))
        .collect();
    store.commit(0, &genesis).expect("genesis");
    let txs: Vec<_> = (0..shape.capacity as u64)
        .map(|i| {
            Transfer {
                chain_id: 1,
                from: i,
                to: Recipient::Index(i + 1),
                amount: 5,
                fee: 1,
                nonce: 0,
            }
            .sign(&dev_secret(i))
        })
        .collect();
    let b = execute_block(&store, &txs, 0, true).expect("execute");
    BlockCircuit::from_witness(&b.witness.expect("witness"), 0, 1, shape).expect("layout")
}

fn prove(c: &mut Criterion) {
    let mut g = c.benchmark_group("groth16_block_depth8");
    g.sample_size(10);
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    for capacity in [1usize, 2] {
        let shape = CircuitShape { depth: 8, capacity };
        let keys = dev_setup(shape, 1).expect("setup");
        keys.matrices().expect("matrices");
        let circuit = block(shape);
        let prover = Prover::cpu();
        g.bench_function(BenchmarkId::new("rustorium_cpu", capacity), |b| {
            b.iter(|| {
                keys.prove(&prover, circuit.clone(), &mut rng)
                    .expect("prove")
            })
        });
        g.bench_function(BenchmarkId::new("ark_groth16", capacity), |b| {
            b.iter(|| {
                Groth16::<Bn254>::create_random_proof_with_reduction(
                    circuit.clone(),
                    &keys.pk,
                    &mut rng,
                )
                .expect("prove")
            })
        });
        let (proof, _) = keys
            .prove(&prover, circuit.clone(), &mut rng)
            .expect("prove");
        let inputs = circuit.public_inputs();
        g.bench_function(BenchmarkId::new("verify", capacity), |b| {
            b.iter(|| assert!(verify(&keys.pk.vk, &proof, &inputs)))
        });
    }
    g.finish();
}

criterion_group!(benches, prove);
criterion_main!(benches);

//! Groth16 proving of a small block circuit (depth 8, 1 and 2 transfers): our prover (CPU
//! backends, matrices cached per shape) beside ark-groth16's prover on the same key, and
//! verification (the block: `rustorium_testkit::demo_block`). Large shapes: `rustorium bench prove` (BENCHMARKS.md).

use ark_bn254::Bn254;
use ark_groth16::Groth16;
use ark_std::rand::SeedableRng;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rustorium::prover::{Prover, dev_setup, verify};
use rustorium_circuits::block::{BlockCircuit, CircuitShape};

fn block(shape: CircuitShape) -> BlockCircuit {
    rustorium_testkit::demo_block(shape).expect("demo block")
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

//! Poseidon: ours against light-poseidon in the same run (single hash and batch throughput).

use ark_std::UniformRand;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use light_poseidon::{Poseidon, PoseidonHasher};
use rayon::prelude::*;
use rustorium::accel::{BatchHasher, CpuHasher};
use rustorium_circuits::Fr;
use rustorium_circuits::poseidon::{self, PoseidonField};
use std::hint::black_box;

fn single(c: &mut Criterion) {
    let mut rng = ark_std::test_rng();
    let mut g = c.benchmark_group("poseidon_single");
    for arity in [2usize, 4] {
        let inputs: Vec<Fr> = (0..arity).map(|_| Fr::rand(&mut rng)).collect();
        g.bench_with_input(BenchmarkId::new("rustorium", arity), &inputs, |b, x| {
            b.iter(|| poseidon::hash(black_box(x)).expect("arity"))
        });
        let spec = Fr::poseidon_spec(arity + 1).expect("width");
        // The optimized permutation with arkworks' arithmetic (the path before the BN254-specific
        // one), for the ratio in the same run.
        g.bench_with_input(
            BenchmarkId::new("rustorium_generic", arity),
            &inputs,
            |b, x| {
                b.iter(|| {
                    let mut s = [Fr::from(0u64); 5];
                    s[1..=arity].copy_from_slice(black_box(x));
                    match arity {
                        2 => {
                            let mut t = [s[0], s[1], s[2]];
                            poseidon::permute_generic(spec, &mut t);
                            t[0]
                        }
                        _ => {
                            poseidon::permute_generic(spec, &mut s);
                            s[0]
                        }
                    }
                })
            },
        );
        g.bench_with_input(
            BenchmarkId::new("rustorium_plain", arity),
            &inputs,
            |b, x| {
                b.iter(|| {
                    let mut s = vec![Fr::from(0u64)];
                    s.extend_from_slice(black_box(x));
                    poseidon::permute_plain(spec, &mut s);
                    s[0]
                })
            },
        );
        let mut reference = Poseidon::<Fr>::new_circom(arity).expect("width");
        g.bench_with_input(
            BenchmarkId::new("light_poseidon", arity),
            &inputs,
            |b, x| b.iter(|| reference.hash(black_box(x)).expect("hash")),
        );
    }
    g.finish();
}

fn batch(c: &mut Criterion) {
    let mut rng = ark_std::test_rng();
    let mut g = c.benchmark_group("poseidon2_batch");
    g.sample_size(10);
    for n in [1usize << 12, 1 << 16] {
        let inputs: Vec<Fr> = (0..2 * n).map(|_| Fr::rand(&mut rng)).collect();
        let mut out = vec![Fr::from(0u64); n];
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("rustorium_cpu_rayon", n), |b| {
            b.iter(|| {
                CpuHasher::new()
                    .hash_batch(2, &inputs, &mut out)
                    .expect("shape")
            })
        });
        g.bench_function(BenchmarkId::new("rustorium_1_thread", n), |b| {
            b.iter(|| poseidon::hash_many(2, &inputs, &mut out).expect("shape"))
        });
        g.bench_function(BenchmarkId::new("light_poseidon_rayon", n), |b| {
            b.iter(|| {
                out.par_chunks_mut(1024)
                    .zip(inputs.par_chunks(2048))
                    .for_each(|(o, i)| {
                        let mut h = Poseidon::<Fr>::new_circom(2).expect("width");
                        for (o, pair) in o.iter_mut().zip(i.chunks_exact(2)) {
                            *o = h.hash(pair).expect("hash");
                        }
                    })
            })
        });
    }
    g.finish();
}

/// Per core: one thread, 4,096 Poseidon(2) hashes; the IFMA path (when the CPU has it), the
/// scalar path and light-poseidon.
fn per_core(c: &mut Criterion) {
    let mut rng = ark_std::test_rng();
    let mut g = c.benchmark_group("poseidon2_per_core");
    g.sample_size(10);
    let n = 4096usize;
    let inputs: Vec<Fr> = (0..2 * n).map(|_| Fr::rand(&mut rng)).collect();
    let mut out = vec![Fr::from(0u64); n];
    g.throughput(Throughput::Elements(n as u64));
    if rustorium::accel::simd::ifma_available() {
        g.bench_function(BenchmarkId::new("rustorium_avx512_ifma", n), |b| {
            b.iter(|| rustorium::accel::simd::hash_many_ifma(2, &inputs, &mut out).expect("ifma"))
        });
    }
    g.bench_function(BenchmarkId::new("rustorium_scalar", n), |b| {
        b.iter(|| poseidon::hash_many(2, &inputs, &mut out).expect("shape"))
    });
    g.bench_function(BenchmarkId::new("light_poseidon", n), |b| {
        let mut h = Poseidon::<Fr>::new_circom(2).expect("width");
        b.iter(|| {
            for (o, pair) in out.iter_mut().zip(inputs.chunks_exact(2)) {
                *o = h.hash(pair).expect("hash");
            }
        })
    });
    g.finish();
}

criterion_group!(benches, single, batch, per_core);
criterion_main!(benches);

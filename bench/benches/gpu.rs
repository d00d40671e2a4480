//! G1 MSM and NTT per backend beside arkworks (criterion). Device backends join when present:
//! CUDA when a driver and device work, wgpu on a hardware adapter, or on a software one (lavapipe)
//! with `RUSTORIUM_BENCH_SOFTWARE=1`. Every device result is checked against arkworks first.
//! Larger sizes (2^16..2^22): `rustorium bench prove --kernels-only` (BENCHMARKS.md).

use std::sync::Arc;

use ark_ec::{CurveGroup, PrimeGroup, VariableBaseMSM};
use ark_ff::PrimeField;
use ark_std::UniformRand;
use ark_std::rand::SeedableRng;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rustorium::accel::msm::BasesId;
use rustorium::accel::{
    CpuMsm, CpuNtt, G1Affine, G1Projective, MsmBackend, NttBackend, NttKind, ScalarBigInt,
};
use rustorium_circuits::Fr;

fn msm_backends() -> Vec<Arc<dyn MsmBackend>> {
    let software = std::env::var_os("RUSTORIUM_BENCH_SOFTWARE").is_some();
    let mut v: Vec<Arc<dyn MsmBackend>> = vec![Arc::new(CpuMsm)];
    if let Ok(m) = rustorium::accel::cuda::CudaMsm::new(0, 0, u64::MAX) {
        v.push(Arc::new(m));
    }
    if let Ok(m) = rustorium::accel::wgpu::WgpuMsm::new(software, 0, u64::MAX) {
        v.push(Arc::new(m));
    }
    v
}

fn ntt_backends() -> Vec<Arc<dyn NttBackend>> {
    let software = std::env::var_os("RUSTORIUM_BENCH_SOFTWARE").is_some();
    let mut v: Vec<Arc<dyn NttBackend>> = vec![Arc::new(CpuNtt)];
    if let Ok(n) = rustorium::accel::cuda::CudaNtt::new(0) {
        v.push(Arc::new(n));
    }
    if let Ok(n) = rustorium::accel::wgpu::WgpuNtt::new(software) {
        v.push(Arc::new(n));
    }
    v
}

fn inputs(n: usize) -> (Vec<G1Affine>, Vec<ScalarBigInt>) {
    let mut rng = ChaCha20Rng::seed_from_u64(n as u64);
    let g = G1Projective::generator();
    let mut p = G1Projective::rand(&mut rng);
    let proj: Vec<G1Projective> = (0..n)
        .map(|_| {
            p += g;
            p
        })
        .collect();
    let scalars = (0..n).map(|_| Fr::rand(&mut rng).into_bigint()).collect();
    (G1Projective::normalize_batch(&proj), scalars)
}

fn bench_msm(c: &mut Criterion) {
    let backends = msm_backends();
    let mut group = c.benchmark_group("g1_msm");
    group.sample_size(10);
    for log in [12u32, 14] {
        let (bases, scalars) = inputs(1 << log);
        let want = G1Projective::msm_bigint(&bases, &scalars);
        let id = Some(BasesId {
            owner: BasesId::new_owner(),
            query: 0,
        });
        for b in &backends {
            let got = b.msm_g1(&bases, &scalars, id).expect("msm");
            assert_eq!(got, want, "{} differs from arkworks", b.name());
            group.bench_with_input(BenchmarkId::new(b.name(), log), &log, |bench, _| {
                bench.iter(|| b.msm_g1(&bases, &scalars, id).expect("msm"))
            });
        }
    }
    group.finish();
}

fn bench_ntt(c: &mut Criterion) {
    let backends = ntt_backends();
    let mut group = c.benchmark_group("ntt_forward");
    group.sample_size(10);
    for log in [12u32, 16] {
        let mut rng = ChaCha20Rng::seed_from_u64(u64::from(log));
        let input: Vec<Fr> = (0..1usize << log).map(|_| Fr::rand(&mut rng)).collect();
        let mut want = input.clone();
        CpuNtt.ntt(&mut want, NttKind::Forward).expect("ntt");
        for b in &backends {
            let mut v = input.clone();
            b.ntt(&mut v, NttKind::Forward).expect("ntt");
            assert_eq!(v, want, "{} differs from arkworks", b.name());
            group.bench_with_input(BenchmarkId::new(b.name(), log), &log, |bench, _| {
                bench.iter(|| {
                    let mut v = input.clone();
                    b.ntt(&mut v, NttKind::Forward).expect("ntt");
                    v
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_msm, bench_ntt);
criterion_main!(benches);

//! The wgpu backend against the CPU references: WGSL field arithmetic against arkworks, WGSL
//! Poseidon against the native permutation (lavapipe here; a real adapter where there is one).

use ark_std::UniformRand;
use rustorium_accel::{AccelError, BatchHasher};
use rustorium_circuits::{Fr, poseidon};
use rustorium_testkit::wgpu_hasher;

#[test]
fn wgsl_field_arithmetic_equals_arkworks() {
    let Some(h) = wgpu_hasher() else { return };
    let mut rng = ark_std::test_rng();
    let mut pairs: Vec<(Fr, Fr)> = (0..500)
        .map(|_| (Fr::rand(&mut rng), Fr::rand(&mut rng)))
        .collect();
    let edge = [
        Fr::from(0u64),
        Fr::from(1u64),
        -Fr::from(1u64),
        Fr::from(u64::MAX),
    ];
    for a in edge {
        for b in edge {
            pairs.push((a, b));
        }
    }
    let got = h.field_ops(&pairs).expect("dispatch");
    for ((a, b), (m, s, d)) in pairs.iter().zip(got) {
        assert_eq!(m, *a * b, "mul");
        assert_eq!(s, *a + b, "add");
        assert_eq!(d, *a - b, "sub");
    }
}

#[test]
fn wgsl_poseidon_equals_native() {
    let Some(h) = wgpu_hasher() else { return };
    let mut rng = ark_std::test_rng();
    for arity in [2usize, 4] {
        let n = 130;
        let inputs: Vec<Fr> = (0..n * arity).map(|_| Fr::rand(&mut rng)).collect();
        let mut out = vec![Fr::from(0u64); n];
        h.hash_batch(arity, &inputs, &mut out).expect("dispatch");
        for (i, o) in out.iter().enumerate() {
            assert_eq!(
                *o,
                poseidon::hash(&inputs[i * arity..(i + 1) * arity]).expect("arity"),
                "arity {arity} hash {i}"
            );
        }
    }
    assert!(matches!(
        h.hash_batch(3, &[], &mut []),
        Err(AccelError::Length(_))
    ));
}

/// One device for every wgpu backend of the process: after the first backend opened it, more
/// backends (another hasher, the NTT, the MSM) open none, and each still computes correctly on it
/// concurrently with the others.
#[test]
fn every_wgpu_backend_shares_one_device() {
    use rustorium_accel::wgpu::{WgpuHasher, WgpuMsm, WgpuNtt, devices_opened};
    use rustorium_accel::{CpuNtt, NttBackend, NttKind};
    let Some(first) = wgpu_hasher() else { return };
    let opened = devices_opened();
    assert!(opened >= 1);
    let hasher = WgpuHasher::new(true, 1 << 10).expect("second hasher");
    let ntt = WgpuNtt::new(true).expect("ntt");
    let _msm = WgpuMsm::new(true, 0, 1 << 20).expect("msm");
    assert_eq!(
        devices_opened(),
        opened,
        "a backend opened a device of its own"
    );
    let mut rng = ark_std::test_rng();
    let inputs: Vec<Fr> = (0..64).map(|_| Fr::rand(&mut rng)).collect();
    let data: Vec<Fr> = (0..256).map(|_| Fr::rand(&mut rng)).collect();
    std::thread::scope(|s| {
        let a = s.spawn(|| {
            let mut out = vec![Fr::from(0u64); 32];
            first.hash_batch(2, &inputs, &mut out).expect("first");
            out
        });
        let b = s.spawn(|| {
            let mut out = vec![Fr::from(0u64); 32];
            hasher.hash_batch(2, &inputs, &mut out).expect("second");
            out
        });
        let c = s.spawn(|| {
            let mut v = data.clone();
            ntt.ntt(&mut v, NttKind::Forward).expect("ntt");
            v
        });
        let want: Vec<Fr> = inputs
            .chunks(2)
            .map(|p| poseidon::hash(p).expect("hash"))
            .collect();
        assert_eq!(a.join().expect("thread"), want);
        assert_eq!(b.join().expect("thread"), want);
        let mut reference = data.clone();
        CpuNtt
            .ntt(&mut reference, NttKind::Forward)
            .expect("cpu ntt");
        assert_eq!(c.join().expect("thread"), reference);
    });
}

/// Kernel time measured by the device (timestamp queries, which lavapipe offers): each call of
/// each wgpu backend adds the time of its kernels, positive and never more than the call took end
/// to end; the CPU backends have no device clock.
#[test]
fn every_wgpu_backend_reports_its_kernel_time() {
    use rustorium_accel::wgpu::{WgpuMsm, WgpuNtt};
    use rustorium_accel::{CpuMsm, CpuNtt, MsmBackend, NttBackend, NttKind};
    use std::time::{Duration, Instant};
    let Some(hasher) = wgpu_hasher() else { return };
    let ntt = WgpuNtt::new(true).expect("ntt");
    let msm = WgpuMsm::new(true, 0, 1 << 20).expect("msm");
    let mut rng = ark_std::test_rng();
    let inputs: Vec<Fr> = (0..512).map(|_| Fr::rand(&mut rng)).collect();
    let data: Vec<Fr> = (0..1024).map(|_| Fr::rand(&mut rng)).collect();
    let bases: Vec<ark_bn254::G1Affine> = (0..64)
        .map(|_| ark_bn254::G1Affine::rand(&mut rng))
        .collect();
    let scalars: Vec<_> = (0..64)
        .map(|_| ark_ff::PrimeField::into_bigint(Fr::rand(&mut rng)))
        .collect();
    let check = |name: &str, clock: &dyn Fn() -> Option<Duration>, call: &mut dyn FnMut()| {
        for round in 0..2 {
            let before = clock().unwrap_or_else(|| panic!("{name}: no device clock"));
            let start = Instant::now();
            call();
            let wall = start.elapsed();
            let kernel = clock().expect("clock") - before;
            assert!(
                kernel > Duration::ZERO,
                "{name}, round {round}: no kernel time"
            );
            assert!(
                kernel <= wall,
                "{name}, round {round}: {kernel:?} of kernels in {wall:?}"
            );
        }
    };
    check("poseidon", &|| hasher.kernel_time(), &mut || {
        let mut out = vec![Fr::from(0u64); 256];
        hasher.hash_batch(2, &inputs, &mut out).expect("hash");
    });
    check("ntt", &|| ntt.kernel_time(), &mut || {
        let mut v = data.clone();
        ntt.ntt(&mut v, NttKind::CosetForward).expect("ntt");
    });
    check("msm", &|| msm.kernel_time(), &mut || {
        let got = msm.msm_g1(&bases, &scalars, None).expect("msm");
        assert_eq!(got, CpuMsm.msm_g1(&bases, &scalars, None).expect("cpu"));
    });
    assert!(CpuNtt.kernel_time().is_none() && CpuMsm.kernel_time().is_none());
}

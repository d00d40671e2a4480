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

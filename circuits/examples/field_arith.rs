//! Field-arithmetic probe for the build-flavour decision in docs/operations.md: arkworks'
//! multiplication and squaring chains, the field-generic and the BN254 Poseidon(2), arkworks' MSM
//! (2^16) and FFT (2^18), one thread, best of several runs. Run it once per build flavour:
//!
//! ```text
//! cargo run --release -p rustorium-circuits --example field_arith
//! RUSTFLAGS="-C target-feature=+bmi2,+adx" \
//!   cargo run --release -p rustorium-circuits --example field_arith --features ark-bn254/asm
//! ```
//! (Use a separate `CARGO_TARGET_DIR` for the second: the flags rebuild every dependency.)

use std::hint::black_box;
use std::time::Instant;

use ark_bn254::{Fr, G1Affine, G1Projective};
use ark_ec::{CurveGroup, VariableBaseMSM};
use ark_ff::{Field, UniformRand};
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use rustorium_circuits::poseidon::{self, PoseidonField};

/// The fastest of `runs` timings of `f`, in seconds.
fn best(runs: usize, mut f: impl FnMut()) -> f64 {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

fn main() {
    let mut rng = ark_std::test_rng();
    let x = Fr::rand(&mut rng);
    let n = 1_000_000;
    let t = best(5, || {
        let mut a = black_box(x);
        for _ in 0..n {
            a *= x;
        }
        black_box(a);
    });
    println!(
        "Fr multiplication (dependent chain): {:.2} ns",
        t * 1e9 / n as f64
    );
    let t = best(5, || {
        let mut a = black_box(x);
        for _ in 0..n {
            a.square_in_place();
        }
        black_box(a);
    });
    println!(
        "Fr squaring (dependent chain): {:.2} ns",
        t * 1e9 / n as f64
    );
    let Some(spec) = Fr::poseidon_spec(3) else {
        return;
    };
    let m = 20_000;
    let t = best(5, || {
        let mut s = [Fr::from(0u64), x, x];
        for _ in 0..m {
            poseidon::permute_generic(spec, &mut s);
        }
        black_box(s);
    });
    println!("Poseidon(2), generic path: {:.3} µs", t * 1e6 / m as f64);
    let t = best(5, || {
        let mut s = [Fr::from(0u64), x, x];
        for _ in 0..m {
            poseidon::permute(spec, &mut s);
        }
        black_box(s);
    });
    println!("Poseidon(2), BN254 path: {:.3} µs", t * 1e6 / m as f64);
    let k = 1 << 16;
    let bases: Vec<G1Affine> = (0..k)
        .map(|_| G1Projective::rand(&mut rng).into_affine())
        .collect();
    let scalars: Vec<Fr> = (0..k).map(|_| Fr::rand(&mut rng)).collect();
    let t = best(3, || {
        black_box(G1Projective::msm(&bases, &scalars).ok());
    });
    println!("arkworks G1 MSM 2^16: {:.1} ms", t * 1e3);
    let Some(d) = Radix2EvaluationDomain::<Fr>::new(1 << 18) else {
        return;
    };
    let mut v: Vec<Fr> = (0..1 << 18).map(|_| Fr::rand(&mut rng)).collect();
    let t = best(3, || d.fft_in_place(&mut v));
    println!("arkworks FFT 2^18: {:.1} ms", t * 1e3);
}

//! Our CPU MSM and NTT against arkworks, on every field path this machine runs (the portable one
//! always).

use ark_ec::{CurveGroup, PrimeGroup, VariableBaseMSM};
use ark_ff::{Field, PrimeField, UniformRand};
use ark_std::rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::pippenger::GlvUse;
use super::{ArkNtt, FieldPath, ntt, pippenger};
use crate::msm::edge_case_inputs_in;
use crate::{G1Projective, G2Projective, NttBackend, NttKind, ScalarBigInt};

fn paths() -> Vec<FieldPath> {
    [FieldPath::Portable, FieldPath::Bmi2Adx, FieldPath::Ifma]
        .into_iter()
        .filter(|p| super::runs_here(*p))
        .collect()
}

/// Every path, with and without the GLV endomorphism.
fn variants() -> Vec<(FieldPath, GlvUse)> {
    paths()
        .into_iter()
        .flat_map(|p| [(p, GlvUse::Never), (p, GlvUse::Always)])
        .collect()
}

/// A scalar of a witness-like mix: zero, one, small, 2^k, r − 1, r − 2, or random.
fn mixed_scalar(rng: &mut ChaCha20Rng) -> ScalarBigInt {
    let f = |x: ark_bn254::Fr| x.into_bigint();
    match rng.gen_range(0..10) {
        0 | 1 => f(ark_bn254::Fr::from(0u64)),
        2 | 3 => f(ark_bn254::Fr::from(1u64)),
        4 => f(ark_bn254::Fr::from(rng.gen_range(2u64..1 << 16))),
        5 => f(ark_bn254::Fr::from(2u64).pow([rng.gen_range(0u64..254)])),
        6 => f(-ark_bn254::Fr::from(rng.gen_range(1u64..3))),
        _ => f(ark_bn254::Fr::rand(rng)),
    }
}

/// Sizes to 2^12 on one array of mixed scalars, repeated bases and identities, each against the
/// prefix sums of arkworks' scalar multiplications (which arkworks' own MSM matches at a few
/// sizes): every size to 256, every size around a change of window size (for full and GLV-halved
/// scalars), around each power of two and batch boundary, and 32 random sizes. (Every size to 4096
/// took three minutes a run, most of CI's accel tests, for the same boundaries.)
#[test]
fn g1_msm_equals_arkworks_at_every_boundary_to_4096() {
    use ark_ec::AffineRepr;
    let n = 1 << 12;
    let mut rng = ChaCha20Rng::seed_from_u64(1818);
    let fresh: Vec<G1Projective> = (0..n).map(|_| G1Projective::rand(&mut rng)).collect();
    let mut bases = G1Projective::normalize_batch(&fresh);
    for i in 0..n {
        match rng.gen_range(0..20) {
            0 => bases[i] = crate::G1Affine::zero(),
            1 if i > 0 => bases[i] = bases[rng.gen_range(0..i)],
            2 if i > 0 => bases[i] = -bases[i - 1],
            _ => {}
        }
    }
    let scalars: Vec<ScalarBigInt> = (0..n).map(|_| mixed_scalar(&mut rng)).collect();
    let terms: Vec<G1Projective> = bases
        .iter()
        .zip(&scalars)
        .map(|(b, s)| b.mul_bigint(s))
        .collect();
    let mut prefix = vec![G1Projective::default(); n + 1];
    for i in 0..n {
        prefix[i + 1] = prefix[i] + terms[i];
    }
    for k in [1, 2, 100, 4096] {
        assert_eq!(
            G1Projective::msm_bigint(&bases[..k], &scalars[..k]),
            prefix[k]
        );
    }
    let mut sizes: std::collections::BTreeSet<usize> = (1..=256).collect();
    for bits in [127, 128, 129, 254, 255, 256] {
        for k in 2..=n {
            if pippenger::window_bits(k, bits).0 != pippenger::window_bits(k - 1, bits).0 {
                sizes.extend([k - 1, k, k + 1]);
            }
        }
    }
    for j in 8..=12 {
        sizes.extend([(1 << j) - 1, 1 << j, (1 << j) + 1]);
    }
    for b in 1..=3 {
        let b = b * pippenger::BATCH;
        sizes.extend([b - 1, b, b + 1]);
    }
    sizes.extend((0..32).map(|_| rng.gen_range(257..n)));
    sizes.retain(|&k| (1..=n).contains(&k));
    assert!(sizes.len() < 600, "{} sizes", sizes.len());
    for (path, glv) in variants() {
        for &k in &sizes {
            let got = pippenger::msm_with(path, glv, &bases[..k], &scalars[..k]);
            assert_eq!(got, prefix[k], "size {k} on {path:?}, {glv:?}");
        }
    }
}

/// An MSM's name, bases, scalars and arkworks' answer.
type Answered<G> = (String, Vec<<G as CurveGroup>::Affine>, Vec<ScalarBigInt>, G);

/// The shared edge cases of each size with arkworks' answer to each.
fn answered<G>(sizes: impl Iterator<Item = usize>) -> Vec<Answered<G>>
where
    G: CurveGroup<ScalarField = ark_bn254::Fr> + PrimeGroup + VariableBaseMSM,
{
    sizes
        .flat_map(|n| edge_case_inputs_in::<G>(n, n as u64))
        .map(|(name, bases, scalars)| {
            let want = G::msm_bigint(&bases, &scalars);
            (name, bases, scalars, want)
        })
        .collect()
}

/// The shared edge cases (random, zero, one, small, r − 1 and r − 2, repeated bases, the
/// identity, cancelling pairs, one base) in G1 and G2, at sizes around the batch, the chunking
/// threshold and above.
#[test]
fn g1_and_g2_msm_equal_arkworks_on_edge_cases() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let mut sizes = vec![1, 2, 3, 31, 1025, 2 * pippenger::BATCH + 1, 4096];
    sizes.extend((0..2).map(|_| rng.gen_range(4097..12_000)));
    // Large enough for spread digits to take the in-order path (skewed ones stay sorted).
    sizes.push(1 << 18);
    // The inputs and arkworks' answers once per size (random bases are scalar multiplications:
    // at 2^18 making them per variant was most of this test's time), then every variant.
    let g1 = answered::<G1Projective>(sizes.iter().copied());
    // G2 above the chunking threshold: one size is enough.
    let g2_cases = answered::<G2Projective>(sizes.iter().copied().filter(|&n| n <= 4096));
    for (path, glv) in variants() {
        let in_order = pippenger::IN_ORDER_TASKS.load(std::sync::atomic::Ordering::Relaxed);
        for (name, bases, scalars, want) in &g1 {
            let got = pippenger::msm_with(path, glv, bases, scalars);
            assert_eq!(
                got,
                *want,
                "G1 {name}, n = {}, {path:?}, {glv:?}",
                bases.len()
            );
        }
        assert!(
            pippenger::IN_ORDER_TASKS.load(std::sync::atomic::Ordering::Relaxed) > in_order,
            "no task took the in-order path"
        );
        for (name, bases, scalars, want) in &g2_cases {
            let got = pippenger::msm_with(path, glv, bases, scalars);
            assert_eq!(
                got,
                *want,
                "G2 {name}, n = {}, {path:?}, {glv:?}",
                bases.len()
            );
        }
        // Every G2 size to 64, mixed scalars.
        let g2: Vec<crate::G2Affine> = G2Projective::normalize_batch(
            &(0..64)
                .map(|_| G2Projective::rand(&mut rng))
                .collect::<Vec<_>>(),
        );
        let s: Vec<ScalarBigInt> = (0..64).map(|_| mixed_scalar(&mut rng)).collect();
        for k in 1..=64 {
            assert_eq!(
                pippenger::msm_with(path, glv, &g2[..k], &s[..k]),
                G2Projective::msm_bigint(&g2[..k], &s[..k]),
                "G2 size {k}, {glv:?}"
            );
        }
    }
}

/// Scalars at or above r are reduced mod r, which on the prime-order group gives the integer
/// product (arkworks' MSM drops the bits above 254 instead, so the reference is a scalar
/// multiplication by every bit), and an empty MSM is the identity.
#[test]
fn non_canonical_scalars_and_empty_inputs() {
    use ark_ec::AffineRepr;
    let g = G1Projective::generator().into_affine();
    let r = ark_bn254::Fr::MODULUS;
    let mut above = r;
    above.0[0] += 5;
    let max = ark_ff::BigInt::<4>([u64::MAX; 4]);
    let bases = vec![g, g, g];
    let scalars = vec![r, above, max];
    let want: G1Projective = scalars.iter().map(|s| g.into_group().mul_bigint(s)).sum();
    assert_eq!(pippenger::msm(&bases, &scalars), want);
    assert_eq!(
        pippenger::msm::<ark_bn254::g1::Config>(&[], &[]),
        G1Projective::default()
    );
}

/// Every kind and every size 2^0..2^14 (and 2^17, past the cache block and the radix-4 passes
/// over memory), against arkworks' radix-2 domain.
#[test]
fn ntt_equals_arkworks_for_every_kind_and_size() {
    let mut rng = ChaCha20Rng::seed_from_u64(12);
    let kinds = [
        NttKind::Forward,
        NttKind::Inverse,
        NttKind::CosetForward,
        NttKind::CosetInverse,
    ];
    for path in paths() {
        for log in (0..=14).chain([17]) {
            let data: Vec<ark_bn254::Fr> = (0..1usize << log)
                .map(|_| ark_bn254::Fr::rand(&mut rng))
                .collect();
            for kind in kinds {
                let mut want = data.clone();
                ArkNtt.ntt(&mut want, kind).expect("arkworks");
                let mut got = data.clone();
                ntt::ntt_on(path, &mut got, kind).expect("ours");
                assert_eq!(got, want, "2^{log} {kind:?} on {path:?}");
            }
        }
    }
    let mut bad = vec![ark_bn254::Fr::from(1u64); 3];
    assert!(ntt::ntt(&mut bad, NttKind::Forward).is_err());
    assert!(ntt::ntt(&mut [], NttKind::Forward).is_err());
}

/// G2 at a size whose windows take the in-order path, with repeated bases (doublings), a base and
/// its negation (cancellations) and identities among random ones.
#[test]
fn g2_msm_equals_arkworks_in_order() {
    use ark_ec::AffineRepr;
    let n = 1 << 18;
    let mut rng = ChaCha20Rng::seed_from_u64(22);
    let g = G2Projective::generator();
    let mut p = G2Projective::rand(&mut rng);
    let mut proj: Vec<G2Projective> = (0..n)
        .map(|_| {
            p += g;
            p
        })
        .collect();
    for i in (0..n).step_by(97) {
        proj[i] = proj[i / 2];
    }
    for i in (1..n).step_by(89) {
        proj[i] = -proj[i - 1];
    }
    let mut bases = G2Projective::normalize_batch(&proj);
    for b in bases.iter_mut().step_by(101) {
        *b = crate::G2Affine::zero();
    }
    let scalars: Vec<ScalarBigInt> = (0..n)
        .map(|i| {
            if i % 89 == 1 {
                // Equal scalars for P and −P: they meet in one bucket and cancel.
                ScalarBigInt::from(7u64)
            } else {
                ark_bn254::Fr::rand(&mut rng).into_bigint()
            }
        })
        .collect();
    let want = G2Projective::msm_bigint(&bases, &scalars);
    let before = pippenger::IN_ORDER_TASKS.load(std::sync::atomic::Ordering::Relaxed);
    for (path, glv) in variants() {
        let got = pippenger::msm_with(path, glv, &bases, &scalars);
        assert_eq!(got, want, "{path:?}, {glv:?}");
    }
    assert!(pippenger::IN_ORDER_TASKS.load(std::sync::atomic::Ordering::Relaxed) > before);
}

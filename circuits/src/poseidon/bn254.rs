//! The optimized Poseidon permutation over BN254's scalar field with field arithmetic written for
//! it: the scalar (one hash at a time) CPU path behind [`super::hash`], [`super::hash2`] and the
//! state tree.
//!
//! The generic permutation calls arkworks' `Fr` multiplication once per product, out of line, and
//! reduces every product. Here, on the same Montgomery representation (R = 2^256, so an `Fr`'s
//! limbs are used as they are, no conversion):
//!
//! - multiplication and squaring (CIOS: reduction interleaved with the products, few live words)
//!   are inlined into the permutation, so the out-of-order core overlaps the independent products
//!   of a round (the three S-boxes of a full round, the state updates of a partial round beside
//!   the next S-box);
//! - matrix rows are **lazily reduced**: a row's t products share one Montgomery reduction
//!   instead of t (operand scanning over the constants' words, bounds at [`dot`]);
//! - values between operations are **representatives below 2p**, not below p: with p < R/4 a
//!   Montgomery product of two such values is again below 2p, so multiplications and squarings
//!   need no final subtraction; additions subtract 2p when needed; the permutation's output is
//!   brought below p once at the end.
//!
//! Measured (`cargo bench -p rustorium-bench --bench poseidon -- poseidon_single`, BENCHMARKS.md): Poseidon(2)
//! 14.8 µs on the generic path, 10.8 µs here in the same run; each step above paid for itself.
//!
//! Results are the same bits as arkworks' and as the generic path (tests in this module and the
//! published vectors in `tests/poseidon_vectors.rs`).

use ark_bn254::{Fr, FrConfig};
use ark_ff::{BigInt, MontConfig};

use super::spec::{FULL_ROUNDS, PoseidonSpec};

/// Four little-endian 64-bit limbs of a Montgomery-form element.
type Limbs = [u64; 4];

/// The modulus p.
const P: Limbs = <FrConfig as MontConfig<4>>::MODULUS.0;
/// −p⁻¹ mod 2^64.
const INV: u64 = <FrConfig as MontConfig<4>>::INV;
/// 2p (below 2^256: p < 2^254).
const P2: Limbs = shl(P, 1);
/// 4p (below 2^256).
const P4: Limbs = shl(P, 2);

/// `a << s` for s < 64, assuming no bit leaves the top limb.
const fn shl(a: Limbs, s: u32) -> Limbs {
    [
        a[0] << s,
        (a[1] << s) | (a[0] >> (64 - s)),
        (a[2] << s) | (a[1] >> (64 - s)),
        (a[3] << s) | (a[2] >> (64 - s)),
    ]
}

/// `acc + a·b + carry` as (low, high): never overflows 128 bits.
#[inline(always)]
const fn mac(acc: u64, a: u64, b: u64, carry: u64) -> (u64, u64) {
    let t = acc as u128 + (a as u128) * (b as u128) + carry as u128;
    (t as u64, (t >> 64) as u64)
}

/// `a + b + carry` as (sum, carry out).
#[inline(always)]
const fn adc(a: u64, b: u64, carry: u64) -> (u64, u64) {
    let t = a as u128 + b as u128 + carry as u128;
    (t as u64, (t >> 64) as u64)
}

/// `a − b − borrow` as (difference, borrow out ∈ {0, 1}).
#[inline(always)]
const fn sbb(a: u64, b: u64, borrow: u64) -> (u64, u64) {
    let t = (a as u128).wrapping_sub(b as u128 + borrow as u128);
    (t as u64, (t >> 127) as u64)
}

/// `a − m` if `a ≥ m`, else `a` (branch-free).
#[inline(always)]
fn sub_if_ge(a: Limbs, m: &Limbs) -> Limbs {
    let (d0, b) = sbb(a[0], m[0], 0);
    let (d1, b) = sbb(a[1], m[1], b);
    let (d2, b) = sbb(a[2], m[2], b);
    let (d3, b) = sbb(a[3], m[3], b);
    // b = 1: a < m, keep a.
    let keep = 0u64.wrapping_sub(b);
    [
        (a[0] & keep) | (d0 & !keep),
        (a[1] & keep) | (d1 & !keep),
        (a[2] & keep) | (d2 & !keep),
        (a[3] & keep) | (d3 & !keep),
    ]
}

/// `a·b` as a representative below 2p, for a, b < 2p.
///
/// Montgomery multiplication in the CIOS form (one word of `b` at a time: add `a·b[i]`, add the
/// multiple `k·p` that clears the low word, shift by a word), with the "no-carry" shortcut: the
/// two carry chains' final words are added without a carry out, which holds because their sum is
/// at most a[3] + p[3] + 2 < 2^64 (a < 2p has a top word below 2^63, p's below 2^62). The result
/// (a·b + m·p)/R with m < R is below 4p²/R + p < 1.76p: no final subtraction.
#[inline(always)]
fn mul(a: &Limbs, b: &Limbs) -> Limbs {
    let mut t = [0u64; 4];
    for &bi in b {
        let (t0, mut c1) = mac(t[0], a[0], bi, 0);
        let k = t0.wrapping_mul(INV);
        let (_, mut c2) = mac(t0, k, P[0], 0);
        for j in 1..4 {
            let (tj, c) = mac(t[j], a[j], bi, c1);
            c1 = c;
            let (tj, c) = mac(tj, k, P[j], c2);
            c2 = c;
            t[j - 1] = tj;
        }
        t[3] = c1 + c2;
    }
    t
}

/// `a²` below 2p, for a < 2p. A separate squaring (10 word products instead of 16, then a
/// 512-bit reduction) measured slower here: its eight live words spill registers.
#[inline(always)]
fn square(a: &Limbs) -> Limbs {
    mul(a, a)
}

/// `a + b` below 2p, for a, b < 2p (the sum is below 4p < 2^256: one subtraction of 2p).
#[inline(always)]
fn add(a: &Limbs, b: &Limbs) -> Limbs {
    let (s0, c) = adc(a[0], b[0], 0);
    let (s1, c) = adc(a[1], b[1], c);
    let (s2, c) = adc(a[2], b[2], c);
    let (s3, _) = adc(a[3], b[3], c);
    sub_if_ge([s0, s1, s2, s3], &P2)
}

/// x^5 below 2p, for x < 2p.
#[inline(always)]
fn sbox(x: &Limbs) -> Limbs {
    let x2 = square(x);
    let x4 = square(&x2);
    mul(x, &x4)
}

/// `Σ_j a[j]·b[j]` below 2p with one Montgomery reduction, for a[j] < 2p and constants b[j] < p.
///
/// Bounds (p < 0.19·R): up to 8 terms the products are below 2p² and their sum below 16p²;
/// wider rows first bring a[j] below p, so the sum stays below 17p². The result
/// (Σ + m·p)/R, m < R, is below Σ/R + p: 1.76p for two terms, 3.7p up to seven, 4.1p for eight,
/// 4.3p for seventeen, brought below 2p by conditional subtractions of 4p and 2p.
#[inline(always)]
fn dot<const T: usize>(a: &[Limbs; T], b: &[Fr]) -> Limbs {
    let a = if T > 8 {
        a.map(|x| sub_if_ge(x, &P))
    } else {
        *a
    };
    // Operand scanning over the constants' limbs: add Σ_j a[j]·b[j][i], then one reduction step
    // (divide by 2^64). Six words hold the running value: it stays below (2·T·p + 2p)·2^64.
    let mut t = [0u64; 6];
    for i in 0..4 {
        for (aj, bj) in a.iter().zip(b) {
            let bi = bj.0.0[i];
            let (t0, c) = mac(t[0], aj[0], bi, 0);
            let (t1, c) = mac(t[1], aj[1], bi, c);
            let (t2, c) = mac(t[2], aj[2], bi, c);
            let (t3, c) = mac(t[3], aj[3], bi, c);
            let (t4, c) = adc(t[4], c, 0);
            t = [t0, t1, t2, t3, t4, t[5] + c];
        }
        let k = t[0].wrapping_mul(INV);
        let (_, c) = mac(t[0], k, P[0], 0);
        let (t0, c) = mac(t[1], k, P[1], c);
        let (t1, c) = mac(t[2], k, P[2], c);
        let (t2, c) = mac(t[3], k, P[3], c);
        let (t3, c) = adc(t[4], c, 0);
        t = [t0, t1, t2, t3, t[5] + c, 0];
    }
    // The result (Σ + m·p)/R is below 4.3p < 2^256: the fifth word is zero.
    let r = [t[0], t[1], t[2], t[3]];
    if T <= 2 {
        r
    } else if T <= 7 {
        sub_if_ge(r, &P2)
    } else {
        sub_if_ge(sub_if_ge(r, &P4), &P2)
    }
}

#[inline(always)]
fn full_round<const T: usize>(s: &mut [Limbs; T], c: &[Fr], m: &[Vec<Fr>]) {
    for (x, c) in s.iter_mut().zip(c) {
        *x = sbox(&add(x, &c.0.0));
    }
    let old = *s;
    for (x, row) in s.iter_mut().zip(m) {
        *x = dot(&old, row);
    }
}

/// The optimized permutation (same rounds and constants as [`super::permute_generic`]) on a
/// state of width `T`.
pub(super) fn permute<const T: usize>(spec: &PoseidonSpec<Fr>, state: &mut [Fr; T]) {
    let mut s: [Limbs; T] = [[0; 4]; T];
    for (l, x) in s.iter_mut().zip(state.iter()) {
        *l = x.0.0;
    }
    let half = FULL_ROUNDS / 2;
    let rc = &spec.round_constants;
    let opt = &spec.opt;
    for r in 0..half {
        let m = if r == half - 1 {
            &opt.pre_partial
        } else {
            &spec.mds
        };
        full_round(&mut s, &rc[r * T..(r + 1) * T], m);
    }
    for k in opt.partial_flat.chunks_exact(2 * T) {
        let (c, row, col) = (&k[0], &k[1..=T], &k[T + 1..]);
        let x0 = sbox(&add(&s[0], &c.0.0));
        s[0] = x0;
        let acc = dot(&s, row);
        for (x, c) in s[1..].iter_mut().zip(col) {
            *x = add(x, &mul(&x0, &c.0.0));
        }
        s[0] = acc;
    }
    for r in 0..half {
        full_round(&mut s, &opt.post_constants[r * T..(r + 1) * T], &spec.mds);
    }
    for (x, l) in state.iter_mut().zip(s) {
        *x = Fr::new_unchecked(BigInt(sub_if_ge(l, &P)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::{BigInteger, Field, PrimeField, UniformRand};
    use ark_std::test_rng;

    fn limbs(x: Fr) -> Limbs {
        x.0.0
    }

    /// The element a representative below 2p stands for (checked to be below 2p).
    fn fr(l: Limbs) -> Fr {
        assert_eq!(sub_if_ge(l, &P2), l, "representative not below 2p: {l:x?}");
        Fr::new_unchecked(BigInt(sub_if_ge(l, &P)))
    }

    /// `x`'s other representative below 2p: its limbs plus p.
    fn plus_p(x: Fr) -> Limbs {
        let mut b = x.0;
        b.add_with_carry(&Fr::MODULUS);
        b.0
    }

    /// Random elements plus the edges: 0, 1, −1, −2, 2^64 − 1, 2^253, and the elements whose
    /// Montgomery limbs are p − 1, 1 and the largest value below p with all-ones low limbs.
    fn samples() -> Vec<Fr> {
        let mut rng = test_rng();
        let mut v: Vec<Fr> = (0..200).map(|_| Fr::rand(&mut rng)).collect();
        v.extend([
            Fr::from(0u64),
            Fr::from(1u64),
            -Fr::from(1u64),
            -Fr::from(2u64),
            Fr::from(u64::MAX),
            Fr::from(2u64).pow([253]),
            Fr::new_unchecked(BigInt([P[0] - 1, P[1], P[2], P[3]])),
            Fr::new_unchecked(BigInt([1, 0, 0, 0])),
            Fr::new_unchecked(BigInt([u64::MAX, u64::MAX, u64::MAX, P[3] - 1])),
        ]);
        v
    }

    /// Both representatives below 2p of every sample: the permutation's values take either.
    fn representatives() -> Vec<(Fr, Limbs)> {
        samples()
            .into_iter()
            .flat_map(|x| [(x, limbs(x)), (x, plus_p(x))])
            .collect()
    }

    #[test]
    fn constants_match_the_modulus() {
        assert_eq!(P, Fr::MODULUS.0);
        assert_eq!(P[0].wrapping_mul(INV), u64::MAX, "INV is −p⁻¹ mod 2^64");
        let mut m = Fr::MODULUS;
        m.add_with_carry(&Fr::MODULUS);
        assert_eq!(P2, m.0);
        m.add_with_carry(&m.clone());
        assert_eq!(P4, m.0);
        // The bounds in `dot`'s documentation use p < 0.19·R.
        assert!(P[3] < (0.19 * 2f64.powi(64)) as u64);
    }

    #[test]
    fn arithmetic_matches_arkworks_on_both_representatives() {
        let xs = representatives();
        // The largest inputs: 2p − 1 (the representative of −1 plus p).
        let top = plus_p(-Fr::from(1u64));
        assert_eq!(fr(mul(&top, &top)), Fr::from(1u64));
        for (i, &(a, la)) in xs.iter().enumerate() {
            let (b, lb) = xs[(i * 7 + 3) % xs.len()];
            assert_eq!(fr(add(&la, &lb)), a + b, "add {i}");
            assert_eq!(fr(add(&la, &limbs(b))), a + b, "add constant {i}");
            assert_eq!(fr(mul(&la, &lb)), a * b, "mul {i}");
            assert_eq!(fr(square(&la)), a.square(), "square {i}");
            assert_eq!(fr(sbox(&la)), a.pow([5]), "sbox {i}");
        }
    }

    #[test]
    fn lazy_dot_products_match_arkworks_at_every_width() {
        let xs = representatives();
        macro_rules! check {
            ($($t:literal),*) => {$({
                for case in 0..24 {
                    // Case 0 is the worst case: every input 2p − 1, every constant p − 1.
                    let a: [(Fr, Limbs); $t] = std::array::from_fn(|j| {
                        if case == 0 {
                            (-Fr::from(1u64), plus_p(-Fr::from(1u64)))
                        } else {
                            xs[(case * 31 + j * 7) % xs.len()]
                        }
                    });
                    let b: Vec<Fr> = (0..$t)
                        .map(|j| if case == 0 { -Fr::from(1u64) } else { xs[(case * 17 + j * 13 + 5) % xs.len()].0 })
                        .collect();
                    let expect: Fr = a.iter().zip(&b).map(|(x, y)| x.0 * y).sum();
                    let got = dot::<$t>(&a.map(|x| x.1), &b);
                    assert_eq!(fr(got), expect, "width {}, case {case}", $t);
                }
            })*};
        }
        check!(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17);
    }

    #[test]
    fn permutation_matches_the_generic_path_at_every_width() {
        let mut rng = test_rng();
        macro_rules! check {
            ($($t:literal),*) => {$({
                let spec = <Fr as super::super::PoseidonField>::poseidon_spec($t).expect("width");
                for case in 0..6 {
                    let mut a: [Fr; $t] = std::array::from_fn(|j| match case {
                        0 => Fr::from(0u64),
                        1 => -Fr::from(1u64),
                        2 => Fr::from(j as u64),
                        _ => Fr::rand(&mut rng),
                    });
                    let mut b = a;
                    permute::<$t>(spec, &mut a);
                    super::super::permute_generic(spec, &mut b);
                    assert_eq!(a, b, "t = {}, case {case}", $t);
                    // The output is canonical (an ordinary Fr).
                    assert!(a.iter().all(|x| sub_if_ge(x.0.0, &P) == x.0.0));
                }
            })*};
        }
        check!(2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17);
    }
}

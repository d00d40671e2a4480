//! The GLV endomorphism for the MSM: `k·P = k₁·P + k₂·φ(P)` with `φ(x, y) = (β·x, y) = λ·P` and
//! `|k₁|, |k₂| < 2^127`, so an MSM of `n` full scalars becomes one of `2n` half-length scalars:
//! half the windows, hence half the bucket sums and Horner doublings, for the same number of
//! bucket additions.
//!
//! **Decomposition** (Babai's rounding on the curve's reduced lattice basis `N`, arkworks'
//! `GLVConfig::SCALAR_DECOMP_COEFFS`, without big integers): `βᵢ = ⌊k·gᵢ / 2^256⌋` with
//! `g₁ = ⌊2^256·n₂₂/r⌋` and `g₂ = ⌊2^256·(−n₁₂)/r⌋` computed once per call by long division,
//! then `k₁ = k − β₁n₁₁ − β₂n₂₁` and `k₂ = −β₁n₁₂ − β₂n₂₂`, all in wrapping 256-bit two's
//! complement (the results are small, so the wrap is exact). Flooring instead of rounding costs at
//! most one lattice vector: `|kᵢ| ≤ |n₁ᵢ| + |n₂ᵢ| < 2^127` for BN254 (both curves). A result out of
//! that bound (impossible for the constants in use, and checked anyway) makes the caller take the
//! MSM without GLV. Scalars below about `2^127` decompose to `(k, 0)`: small witness values keep
//! their one short digit row and their endomorphism half has only zero digits, which cost nothing.
//!
//! Both BN254 groups have the endomorphism with the same `β` (G2's `x` is scaled by `(β, 0)`) and
//! their own eigenvalue `λ`; the decomposition reads each curve's constants from arkworks.

use ark_ec::scalar_mul::glv::GLVConfig;
use ark_ff::PrimeField;

use crate::ScalarBigInt;

/// Bits of a decomposed scalar's magnitude (`< 2^127`), one spare bit for the top digit's carry.
pub const HALF_BITS: u32 = 128;

type U256 = [u64; 4];

/// One curve's decomposition constants, signed magnitudes of the lattice basis and the two
/// multipliers `gᵢ` (below `2^131`, three limbs).
#[derive(Clone, Copy, Debug)]
pub struct Glv {
    n: [(bool, u128); 4],
    g: [[u64; 3]; 2],
    g_neg: [bool; 2],
}

/// A decomposed scalar: `(negative, magnitude)` of `k₁` and of `k₂`.
pub type Halves = [(bool, u128); 2];

impl Glv {
    /// The constants of curve `P` (arkworks' basis, whose `false` sign means negative).
    pub fn of<P: GLVConfig<ScalarField = ark_bn254::Fr>>() -> Self {
        let n = P::SCALAR_DECOMP_COEFFS.map(|(positive, m)| {
            debug_assert!(m.0[2] == 0 && m.0[3] == 0, "basis entries are below 2^128");
            (!positive, u128::from(m.0[0]) | (u128::from(m.0[1]) << 64))
        });
        let r = <P::ScalarField as PrimeField>::MODULUS.0;
        // β₁ = k·n₂₂/r, β₂ = −k·n₁₂/r.
        let g = [div_2_256(n[3].1, &r), div_2_256(n[1].1, &r)];
        Glv {
            n,
            g,
            g_neg: [n[3].0, !n[1].0],
        }
    }

    /// `k = k₁ + λ·k₂ (mod r)` for `k < r`, or `None` when a half falls outside `2^127`.
    #[inline]
    pub fn split(&self, k: &ScalarBigInt) -> Option<Halves> {
        let k = k.0;
        let beta = |i: usize| -> (bool, u128) { (self.g_neg[i], mul_high(&k, &self.g[i])) };
        let (b1, b2) = (beta(0), beta(1));
        let [n11, n12, n21, n22] = self.n;
        // k₁ = k − β₁n₁₁ − β₂n₂₁, k₂ = −β₁n₁₂ − β₂n₂₂.
        let k1 = sub(&sub(&k, &signed_mul(b1, n11)), &signed_mul(b2, n21));
        let k2 = sub(&sub(&[0; 4], &signed_mul(b1, n12)), &signed_mul(b2, n22));
        Some([magnitude(&k1)?, magnitude(&k2)?])
    }
}

/// `⌊2^256·m / r⌋` (`m < 2^128`, `r < 2^254`) by binary long division, three limbs.
fn div_2_256(m: u128, r: &U256) -> [u64; 3] {
    let mut q = [0u64; 3];
    let mut rem: U256 = [0; 4];
    // The numerator's bits, from bit 383 down: m's 128 bits, then 256 zeros.
    for bit in (0..384u32).rev() {
        let top = if bit >= 256 {
            (m >> (bit - 256)) & 1
        } else {
            0
        } as u64;
        // rem < r < 2^254, so rem·2 + 1 < 2^255 fits.
        rem = [
            (rem[0] << 1) | top,
            (rem[1] << 1) | (rem[0] >> 63),
            (rem[2] << 1) | (rem[1] >> 63),
            (rem[3] << 1) | (rem[2] >> 63),
        ];
        if !lt(&rem, r) {
            rem = sub(&rem, r);
            q[(bit / 64) as usize] |= 1 << (bit % 64);
        }
    }
    q
}

fn lt(a: &U256, b: &U256) -> bool {
    for i in (0..4).rev() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
    }
    false
}

/// `a − b mod 2^256`.
#[inline(always)]
fn sub(a: &U256, b: &U256) -> U256 {
    let mut out = [0u64; 4];
    let mut borrow = false;
    for i in 0..4 {
        let (d, b1) = a[i].overflowing_sub(b[i]);
        let (d, b2) = d.overflowing_sub(u64::from(borrow));
        out[i] = d;
        borrow = b1 | b2;
    }
    out
}

/// `⌊k·g / 2^256⌋` for `k < 2^256`, `g < 2^192`; the result is below `2^128` for the multipliers
/// in use (`k < r`, `g < 2^131`).
#[inline(always)]
fn mul_high(k: &U256, g: &[u64; 3]) -> u128 {
    let mut t = [0u64; 7];
    for (i, &ki) in k.iter().enumerate() {
        let mut carry = 0u128;
        for (j, &gj) in g.iter().enumerate() {
            let v = u128::from(ki) * u128::from(gj) + u128::from(t[i + j]) + carry;
            t[i + j] = v as u64;
            carry = v >> 64;
        }
        t[i + 3] = carry as u64;
    }
    u128::from(t[4]) | (u128::from(t[5]) << 64)
}

/// `±a·b mod 2^256` for signed magnitudes below `2^128`.
#[inline(always)]
fn signed_mul(a: (bool, u128), b: (bool, u128)) -> U256 {
    let (a0, a1) = (a.1 as u64, (a.1 >> 64) as u64);
    let (b0, b1) = (b.1 as u64, (b.1 >> 64) as u64);
    let p00 = u128::from(a0) * u128::from(b0);
    let p01 = u128::from(a0) * u128::from(b1);
    let p10 = u128::from(a1) * u128::from(b0);
    let p11 = u128::from(a1) * u128::from(b1);
    let mid = (p00 >> 64) + (p01 as u64 as u128) + (p10 as u64 as u128);
    let hi = (mid >> 64) + (p01 >> 64) + (p10 >> 64) + (p11 as u64 as u128);
    let top = (hi >> 64) as u64 + (p11 >> 64) as u64;
    let v = [p00 as u64, mid as u64, hi as u64, top];
    if a.0 != b.0 { sub(&[0; 4], &v) } else { v }
}

/// A two's-complement value as `(negative, magnitude)`, if the magnitude is below `2^127`.
#[inline(always)]
fn magnitude(v: &U256) -> Option<(bool, u128)> {
    let neg = v[3] >> 63 == 1;
    let m = if neg { sub(&[0; 4], v) } else { *v };
    let small = m[2] == 0 && m[3] == 0 && m[1] >> 63 == 0;
    small.then_some((neg, u128::from(m[0]) | (u128::from(m[1]) << 64)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::{AffineRepr, CurveGroup};
    use ark_ff::{Field, UniformRand};
    use ark_std::rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn as_fr((neg, m): (bool, u128)) -> ark_bn254::Fr {
        let v = ark_bn254::Fr::from(m);
        if neg { -v } else { v }
    }

    /// `k₁ + λk₂ = k` with both halves below `2^127`, on both curves, for random scalars and the
    /// edges (0, 1, r − 1, r − 2, λ, powers of two, values just under `2^127` and `2^128`).
    fn check<P: GLVConfig<ScalarField = ark_bn254::Fr>>() {
        let glv = Glv::of::<P>();
        let mut rng = ChaCha20Rng::seed_from_u64(0x91e);
        let fr = |v: u128| ark_bn254::Fr::from(v);
        let mut ks: Vec<ark_bn254::Fr> = vec![
            fr(0),
            fr(1),
            -fr(1),
            -fr(2),
            P::LAMBDA,
            -P::LAMBDA,
            fr(u128::MAX),
            fr(u128::MAX >> 1),
            fr(1 << 127) - fr(1),
        ];
        ks.extend((0..254).map(|i| fr(2).pow([i])));
        ks.extend((0..20_000).map(|_| ark_bn254::Fr::rand(&mut rng)));
        for k in ks {
            let [h1, h2] = glv.split(&k.into_bigint()).expect("halves below 2^127");
            assert_eq!(as_fr(h1) + P::LAMBDA * as_fr(h2), k, "k = {k}");
            assert!(h1.1 >> 127 == 0 && h2.1 >> 127 == 0);
        }
        // Small scalars stay whole.
        for k in [0u64, 1, 2, 12345, u64::MAX] {
            assert_eq!(
                glv.split(&fr(u128::from(k)).into_bigint()),
                Some([(false, u128::from(k)), (false, 0)])
            );
        }
    }

    #[test]
    fn decomposition_is_exact_and_short_on_g1_and_g2() {
        check::<ark_bn254::g1::Config>();
        check::<ark_bn254::g2::Config>();
    }

    /// The endomorphism is multiplication by λ on both groups (arkworks' constants, checked).
    #[test]
    fn endomorphism_is_lambda() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        for _ in 0..4 {
            let p = crate::G1Projective::rand(&mut rng).into_affine();
            let lambda = <ark_bn254::g1::Config as GLVConfig>::LAMBDA.into_bigint();
            assert_eq!(
                <ark_bn254::g1::Config as GLVConfig>::endomorphism_affine(&p),
                p.mul_bigint(lambda).into_affine()
            );
            let q = crate::G2Projective::rand(&mut rng).into_affine();
            let lambda = <ark_bn254::g2::Config as GLVConfig>::LAMBDA.into_bigint();
            assert_eq!(
                <ark_bn254::g2::Config as GLVConfig>::endomorphism_affine(&q),
                q.mul_bigint(lambda).into_affine()
            );
        }
    }
}

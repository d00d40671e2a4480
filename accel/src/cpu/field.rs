//! BN254's base field Fq and scalar field Fr for the CPU prover: Montgomery multiplication on four
//! 64-bit limbs with R = 2^256, the very representation arkworks stores, so an arkworks element
//! converts to ours and back by copying its limbs (no multiplication, no reduction).
//!
//! **Multiplication** is CIOS (coarsely integrated operand scanning) with the "no-carry" shortcut
//! (Gautam Botrel and Youssef El Housni, gnark-crypto): when the modulus' top limb is below
//! `(2^64 − 1)/2 − 1` (both BN254 moduli start with `0x3064…`), the carry out of each outer
//! iteration fits in the top word, which saves two additions and a carry chain per iteration. The
//! result is below `2p` and one conditional subtraction brings it below `p`; every value this
//! module returns is canonical (below `p`), as arkworks' are, so equality is limb equality.
//!
//! **Instruction selection at run time.** The arithmetic is written once, as `#[inline(always)]`
//! functions over `u128` products. Hot loops that use it ([`super::pippenger`], [`super::ntt`])
//! are instantiated twice through [`dispatch!`](crate::cpu::dispatch): once for any x86-64, once
//! inside a `#[target_feature(enable = "bmi2,adx")]` function, where LLVM multiplies with `mulx`
//! (flag-free, so carry chains interleave); [`x86_path`] picks the instance when the CPU has BMI2
//! and ADX, detected once, so one binary runs everywhere with no build flag.
//! `RUSTORIUM_CPU_FIELD=portable` forces the portable instance (tests, benchmarks).

use std::marker::PhantomData;

use ark_ff::{BigInt, Field, Fp, MontConfig, PrimeField};

/// A prime modulus below 2^254 in arkworks' Montgomery form (R = 2^256).
pub trait Modulus: Copy + Send + Sync + 'static {
    /// The arkworks field with the same representation.
    type Ark: PrimeField<BigInt = BigInt<4>>;
    /// `p`, least significant limb first.
    const P: [u64; 4];
    /// `−p⁻¹ mod 2^64`.
    const INV: u64;
    /// `R mod p` (one in Montgomery form).
    const R: [u64; 4];
    /// The Montgomery limbs of an arkworks element.
    fn limbs(x: &Self::Ark) -> [u64; 4];
    /// The arkworks element of Montgomery limbs (below `p`).
    fn from_limbs(l: [u64; 4]) -> Self::Ark;
}

/// BN254's base field (the coordinates of G1; G2's are pairs of them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FqModulus;

/// BN254's scalar field (the NTT's elements, the witness).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrModulus;

impl Modulus for FqModulus {
    type Ark = ark_bn254::Fq;
    const P: [u64; 4] = <ark_bn254::FqConfig as MontConfig<4>>::MODULUS.0;
    const INV: u64 = inv(Self::P[0]);
    const R: [u64; 4] = <ark_bn254::FqConfig as MontConfig<4>>::R.0;
    #[inline(always)]
    fn limbs(x: &Self::Ark) -> [u64; 4] {
        x.0.0
    }
    #[inline(always)]
    fn from_limbs(l: [u64; 4]) -> Self::Ark {
        Fp(BigInt(l), PhantomData)
    }
}

impl Modulus for FrModulus {
    type Ark = ark_bn254::Fr;
    const P: [u64; 4] = <ark_bn254::FrConfig as MontConfig<4>>::MODULUS.0;
    const INV: u64 = inv(Self::P[0]);
    const R: [u64; 4] = <ark_bn254::FrConfig as MontConfig<4>>::R.0;
    #[inline(always)]
    fn limbs(x: &Self::Ark) -> [u64; 4] {
        x.0.0
    }
    #[inline(always)]
    fn from_limbs(l: [u64; 4]) -> Self::Ark {
        Fp(BigInt(l), PhantomData)
    }
}

/// `−p0⁻¹ mod 2^64` by Newton's iteration (each step doubles the correct low bits).
const fn inv(p0: u64) -> u64 {
    let mut x = 1u64;
    let mut i = 0;
    while i < 6 {
        x = x.wrapping_mul(2u64.wrapping_sub(p0.wrapping_mul(x)));
        i += 1;
    }
    x.wrapping_neg()
}

/// An element of the field of `M` in Montgomery form, always below `p`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub struct Mont<M: Modulus>(pub [u64; 4], PhantomData<M>);

/// Fq, ours.
pub type Fq = Mont<FqModulus>;
/// Fr, ours.
pub type Fr = Mont<FrModulus>;

/// `a + b·c + carry` as (low, high) words; never overflows 128 bits.
#[inline(always)]
fn mac(a: u64, b: u64, c: u64, carry: u64) -> (u64, u64) {
    // (2^64 − 1)² + 2·(2^64 − 1) = 2^128 − 1: the wrapping operations never wrap (they only
    // spare the overflow checks this crate's release profile keeps).
    let t = (u128::from(b).wrapping_mul(u128::from(c)))
        .wrapping_add(u128::from(a))
        .wrapping_add(u128::from(carry));
    (t as u64, (t >> 64) as u64)
}

/// `a + b + carry` as (sum, carry).
#[inline(always)]
fn adc(a: u64, b: u64, carry: u64) -> (u64, u64) {
    let t = u128::from(a)
        .wrapping_add(u128::from(b))
        .wrapping_add(u128::from(carry));
    (t as u64, (t >> 64) as u64)
}

/// `a − b − borrow` as (difference, borrow ∈ {0, 1}).
#[inline(always)]
fn sbb(a: u64, b: u64, borrow: u64) -> (u64, u64) {
    let t = u128::from(a).wrapping_sub(u128::from(b).wrapping_add(u128::from(borrow)));
    (t as u64, (t >> 127) as u64)
}

// Plain methods, not the operator traits: the hot loops call them on `Coord` values too, and one
// name per operation keeps `x.mul(y)` unambiguous there.
#[allow(clippy::should_implement_trait)]
impl<M: Modulus> Mont<M> {
    /// Zero.
    pub const ZERO: Self = Self([0; 4], PhantomData);
    /// One.
    pub const ONE: Self = Self(M::R, PhantomData);

    /// From arkworks (the same limbs).
    #[inline(always)]
    pub fn from_ark(x: &M::Ark) -> Self {
        Self(M::limbs(x), PhantomData)
    }

    /// To arkworks (the same limbs).
    #[inline(always)]
    pub fn to_ark(self) -> M::Ark {
        M::from_limbs(self.0)
    }

    /// `x − p` if that does not borrow, else `x`: brings a value below `2p` below `p`.
    #[inline(always)]
    fn reduce_once(x: [u64; 4]) -> [u64; 4] {
        let (d0, b) = sbb(x[0], M::P[0], 0);
        let (d1, b) = sbb(x[1], M::P[1], b);
        let (d2, b) = sbb(x[2], M::P[2], b);
        let (d3, b) = sbb(x[3], M::P[3], b);
        // Branch-free select (b = 1: keep x).
        let keep = b.wrapping_neg();
        [
            (x[0] & keep) | (d0 & !keep),
            (x[1] & keep) | (d1 & !keep),
            (x[2] & keep) | (d2 & !keep),
            (x[3] & keep) | (d3 & !keep),
        ]
    }

    /// `self + other`.
    #[inline(always)]
    pub fn add(self, other: Self) -> Self {
        // Both below p < 2^254: the sum fits four limbs.
        let (a, b) = (self.0, other.0);
        let (s0, c) = adc(a[0], b[0], 0);
        let (s1, c) = adc(a[1], b[1], c);
        let (s2, c) = adc(a[2], b[2], c);
        let (s3, _) = adc(a[3], b[3], c);
        Self(Self::reduce_once([s0, s1, s2, s3]), PhantomData)
    }

    /// `2·self`.
    #[inline(always)]
    pub fn double(self) -> Self {
        self.add(self)
    }

    /// `self − other`.
    #[inline(always)]
    pub fn sub(self, other: Self) -> Self {
        let (a, b) = (self.0, other.0);
        let (d0, br) = sbb(a[0], b[0], 0);
        let (d1, br) = sbb(a[1], b[1], br);
        let (d2, br) = sbb(a[2], b[2], br);
        let (d3, br) = sbb(a[3], b[3], br);
        // Wrapped below zero: add p back (the sum's carry out cancels the borrow). Branch-free:
        // the sign of a difference of field elements is a coin toss the predictor cannot learn.
        let mask = br.wrapping_neg();
        let (s0, c) = adc(d0, M::P[0] & mask, 0);
        let (s1, c) = adc(d1, M::P[1] & mask, c);
        let (s2, c) = adc(d2, M::P[2] & mask, c);
        let (s3, _) = adc(d3, M::P[3] & mask, c);
        Self([s0, s1, s2, s3], PhantomData)
    }

    /// `−self`.
    #[inline(always)]
    pub fn neg(self) -> Self {
        Self::ZERO.sub(self)
    }

    /// Whether this is zero.
    #[inline(always)]
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 4]
    }

    /// `self · other · R⁻¹ mod p`: the Montgomery product (CIOS, no-carry variant; see the module
    /// docs).
    #[inline(always)]
    pub fn mul(self, other: Self) -> Self {
        let (a, b) = (self.0, other.0);
        let mut t = [0u64; 4];
        for ai in a {
            // t += ai·b, then t = (t + m·p) / 2^64 with m chosen to clear the low word.
            let (t0, mut c) = mac(t[0], ai, b[0], 0);
            let m = t0.wrapping_mul(M::INV);
            let (_, mut c2) = mac(t0, m, M::P[0], 0);
            for j in 1..4 {
                let (tj, cj) = mac(t[j], ai, b[j], c);
                c = cj;
                let (tj, c2j) = mac(tj, m, M::P[j], c2);
                c2 = c2j;
                t[j - 1] = tj;
            }
            // No overflow: p's top limb leaves room for both carries (module docs).
            t[3] = c.wrapping_add(c2);
        }
        Self(Self::reduce_once(t), PhantomData)
    }

    /// `self²`.
    #[inline(always)]
    pub fn square(self) -> Self {
        self.mul(self)
    }

    /// `self⁻¹` (arkworks' binary inversion: one per batch of affine additions), `None` for zero.
    pub fn inverse(self) -> Option<Self> {
        self.to_ark().inverse().map(|x| Self::from_ark(&x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::{AdditiveGroup, UniformRand, Zero};
    use ark_std::rand::SeedableRng;

    /// Every operation on one pair; instantiated per field path below.
    #[inline(always)]
    fn ops<M: Modulus>(a: Mont<M>, b: Mont<M>) -> [Mont<M>; 6] {
        [
            a.add(b),
            a.sub(b),
            a.mul(b),
            a.square(),
            a.neg(),
            a.double(),
        ]
    }

    fn ops_portable<M: Modulus>(a: Mont<M>, b: Mont<M>) -> [Mont<M>; 6] {
        ops(a, b)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "bmi2,adx")]
    fn ops_adx<M: Modulus>(a: Mont<M>, b: Mont<M>) -> [Mont<M>; 6] {
        ops(a, b)
    }

    /// Random values and the edges of the representation: 0, 1, 2, p − 1, p − 2, (p ± 1)/2,
    /// powers of two at limb boundaries, and raw Montgomery limbs just below p.
    fn values<M: Modulus>() -> Vec<M::Ark> {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(18);
        let mut v: Vec<M::Ark> = (0..400).map(|_| M::Ark::rand(&mut rng)).collect();
        let two = M::Ark::from(2u64);
        let half = two.inverse().unwrap_or_default();
        v.extend([
            M::Ark::zero(),
            M::Ark::from(1u64),
            two,
            -M::Ark::from(1u64),
            -two,
            half,
            half + M::Ark::from(1u64),
            two.pow([64u64]),
            two.pow([128u64]),
            two.pow([192u64]),
            two.pow([253u64]),
        ]);
        let mut p_minus = M::P;
        p_minus[0] -= 1;
        v.push(M::from_limbs(p_minus));
        v.push(M::from_limbs([u64::MAX, u64::MAX, u64::MAX, M::P[3] - 1]));
        v.push(M::from_limbs([1, 0, 0, 0]));
        v
    }

    fn check<M: Modulus>(name: &str) {
        let vals = values::<M>();
        let detected = cfg!(target_arch = "x86_64") && {
            #[cfg(target_arch = "x86_64")]
            {
                std::is_x86_feature_detected!("bmi2") && std::is_x86_feature_detected!("adx")
            }
            #[cfg(not(target_arch = "x86_64"))]
            {
                false
            }
        };
        for (i, x) in vals.iter().enumerate() {
            // Each value against itself, its neighbour and a far one (random and edge mixed).
            for y in [
                x,
                &vals[(i + 1) % vals.len()],
                &vals[(i * 7 + 3) % vals.len()],
            ] {
                let want = [*x + y, *x - y, *x * y, x.square(), -*x, x.double()];
                let (a, b) = (Mont::<M>::from_ark(x), Mont::<M>::from_ark(y));
                let got = ops_portable(a, b).map(Mont::to_ark);
                assert_eq!(got, want, "{name} portable on {x} and {y}");
                #[cfg(target_arch = "x86_64")]
                if detected {
                    #[allow(unsafe_code)]
                    // SAFETY: BMI2 and ADX were detected on this CPU just above.
                    let got = unsafe { ops_adx(a, b) }.map(Mont::to_ark);
                    assert_eq!(got, want, "{name} bmi2-adx on {x} and {y}");
                }
                for g in got {
                    assert!(BigInt(M::limbs(&g)) < BigInt(M::P), "{name}: not canonical");
                }
            }
            let inv = Mont::<M>::from_ark(x).inverse().map(Mont::to_ark);
            assert_eq!(inv, x.inverse(), "{name} inverse of {x}");
        }
        let _ = detected;
    }

    #[test]
    fn fq_and_fr_arithmetic_equal_arkworks_on_every_path() {
        assert_eq!(FqModulus::INV, <ark_bn254::FqConfig as MontConfig<4>>::INV);
        assert_eq!(FrModulus::INV, <ark_bn254::FrConfig as MontConfig<4>>::INV);
        check::<FqModulus>("Fq");
        check::<FrModulus>("Fr");
        assert_eq!(Fq::ONE.to_ark(), ark_bn254::Fq::from(1u64));
    }
}

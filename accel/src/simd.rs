//! Multi-lane Poseidon on x86-64 with AVX-512 IFMA: eight hashes at once, one per 64-bit lane.
//!
//! Field elements of BN254's Fr use five 52-bit limbs (radix 2^52) in Montgomery form with
//! R = 2^260; `vpmadd52luq` / `vpmadd52huq` give the low and high 52 bits of 52×52-bit products,
//! accumulated in 64-bit lanes (at most ~20 terms below 2^52 per limb, so no overflow before the
//! final carry pass). The permutation is the same optimized one as the scalar path and the GPU
//! kernels (constants in `PoseidonSpec::flat_optimized`'s layout), so results are bit-identical:
//! the tests compare every lane with the scalar code on random inputs.
//!
//! **Bounds (lazy reduction).** With R = 2^260 and p < 2^254, ρ = p/R < 0.0119: a Montgomery
//! product of a and b is below a·b/R + p, so values need no final subtraction; they are only
//! carried (limbs below 2^52) and must stay below 2^260 (84.6p). Matrix rows take one Montgomery
//! reduction for all t products (`dot_raw`). In units of p, for t ≤ 5: the first full rounds
//! leave the state below 1.07; in a partial round x0 stays below 1.06 and each of state[1..]
//! grows by less than x0·ρ + 1 < 1.013, so after at most 60 partial rounds they are below 62 and
//! state[0] below (1.06 + 4·62)·ρ + 1 < 4. The next full round's S-box of a value below 63 stays
//! below 84 (x² < 63²ρ + 1 = 47.9, x⁴ < 28.1, x⁵ < 22); its rows, below 5·22·ρ + 1 = 2.3, and
//! the rounds after bring the state back below 1.07. Only the output is brought below p (one
//! conditional subtraction: it is below 2p). The tests compare every lane with the scalar path on
//! random and extreme (−1, −2, 0, 1) inputs.
//!
//! Values cross from arkworks' representation (Montgomery, R = 2^256, 4×64 limbs) through their
//! canonical integers: `x·2^260 mod p` in, and back. The path is chosen at run time
//! (`is_x86_feature_detected!`), and the scalar path stays for machines without IFMA.

#![allow(unsafe_code)] // SIMD intrinsics under runtime feature detection; see the SAFETY notes.
#![allow(clippy::needless_range_loop)] // limb loops index several arrays in step

use std::sync::OnceLock;

use ark_ff::{Field, PrimeField};
use rustorium_circuits::Fr;
use rustorium_circuits::poseidon::PoseidonField;

#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

const MASK: u64 = (1 << 52) - 1;
/// p in radix 2^52.
const P: [u64; 5] = [
    0x1f593f0000001,
    0x4879b9709143e,
    0x181585d2833e8,
    0xa029b85045b68,
    0x30644e72e131,
];
/// −p⁻¹ mod 2^52.
const PINV: u64 = 0x1f593efffffff;

/// An element in this path's form: `x·2^260 mod p` in five 52-bit limbs.
type Limbs = [u64; 5];

fn r260() -> &'static (Fr, Fr) {
    static R: OnceLock<(Fr, Fr)> = OnceLock::new();
    R.get_or_init(|| {
        let r = Fr::from(2u64).pow([260u64]);
        (r, r.inverse().unwrap_or_default())
    })
}

/// arkworks → this path's Montgomery form.
pub fn to_limbs(x: &Fr) -> Limbs {
    let w = (*x * r260().0).into_bigint().0;
    [
        w[0] & MASK,
        ((w[0] >> 52) | (w[1] << 12)) & MASK,
        ((w[1] >> 40) | (w[2] << 24)) & MASK,
        ((w[2] >> 28) | (w[3] << 36)) & MASK,
        w[3] >> 16,
    ]
}

/// This path's Montgomery form → arkworks (the limbs must be reduced, below p).
pub fn from_limbs(l: &Limbs) -> Option<Fr> {
    let mut words = [0u64; 4];
    for (i, limb) in l.iter().enumerate() {
        let shift = 52 * i;
        let (w, b) = (shift / 64, shift % 64);
        words[w] |= limb << b;
        if b > 12 && w + 1 < 4 {
            words[w + 1] |= limb >> (64 - b);
        }
    }
    let y = Fr::from_bigint(ark_ff::BigInt(words))?;
    Some(y * r260().1)
}

/// Whether this CPU runs the IFMA path.
pub fn ifma_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512ifma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Constants of one width in this path's form (flat_optimized layout).
struct Consts {
    k: Vec<Limbs>,
    t: usize,
    rp: usize,
}

fn consts(t: usize) -> Option<&'static Consts> {
    static C3: OnceLock<Option<Consts>> = OnceLock::new();
    static C5: OnceLock<Option<Consts>> = OnceLock::new();
    let cell = match t {
        3 => &C3,
        5 => &C5,
        _ => return None,
    };
    cell.get_or_init(|| {
        let spec = Fr::poseidon_spec(t)?;
        Some(Consts {
            k: spec.flat_optimized().iter().map(to_limbs).collect(),
            t,
            rp: spec.partial_rounds,
        })
    })
    .as_ref()
}

#[cfg(target_arch = "x86_64")]
mod lanes {
    use super::*;

    /// Eight field elements, limb-major.
    #[derive(Clone, Copy)]
    pub(super) struct V(pub [__m512i; 5]);

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn splat(l: &Limbs) -> V {
        V([
            _mm512_set1_epi64(l[0] as i64),
            _mm512_set1_epi64(l[1] as i64),
            _mm512_set1_epi64(l[2] as i64),
            _mm512_set1_epi64(l[3] as i64),
            _mm512_set1_epi64(l[4] as i64),
        ])
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn pack(xs: &[Limbs; 8]) -> V {
        let limb = |k: usize| {
            _mm512_set_epi64(
                xs[7][k] as i64,
                xs[6][k] as i64,
                xs[5][k] as i64,
                xs[4][k] as i64,
                xs[3][k] as i64,
                xs[2][k] as i64,
                xs[1][k] as i64,
                xs[0][k] as i64,
            )
        };
        V([limb(0), limb(1), limb(2), limb(3), limb(4)])
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn unpack(v: &V) -> [Limbs; 8] {
        let mut out = [[0u64; 5]; 8];
        for (k, limb) in v.0.iter().enumerate() {
            // SAFETY: __m512i and [u64; 8] have the same size and every bit pattern is valid for
            // both.
            let words: [u64; 8] = unsafe { core::mem::transmute::<__m512i, [u64; 8]>(*limb) };
            for (lane, w) in words.iter().enumerate() {
                out[lane][k] = *w;
            }
        }
        out
    }

    /// Carries so every limb is below 2^52 (the value must be below 2^260).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn normalize(t: [__m512i; 5]) -> [__m512i; 5] {
        let mask = _mm512_set1_epi64(MASK as i64);
        let mut out = t;
        let mut carry = _mm512_setzero_si512();
        for limb in out.iter_mut() {
            let v = _mm512_add_epi64(*limb, carry);
            *limb = _mm512_and_si512(v, mask);
            carry = _mm512_srli_epi64::<52>(v);
        }
        out
    }

    /// `x − p` where `x ≥ p`, else `x` (x normalized, below 2p).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn reduce_once(x: [__m512i; 5]) -> V {
        let mask = _mm512_set1_epi64(MASK as i64);
        let mut d = [_mm512_setzero_si512(); 5];
        let mut borrow = _mm512_setzero_si512();
        for k in 0..5 {
            let v = _mm512_sub_epi64(
                _mm512_sub_epi64(x[k], _mm512_set1_epi64(P[k] as i64)),
                borrow,
            );
            borrow = _mm512_srli_epi64::<63>(v);
            d[k] = _mm512_and_si512(v, mask);
        }
        // No final borrow: x ≥ p, take x − p.
        let keep_d = _mm512_cmpeq_epi64_mask(borrow, _mm512_setzero_si512());
        let mut out = [_mm512_setzero_si512(); 5];
        for k in 0..5 {
            out[k] = _mm512_mask_blend_epi64(keep_d, x[k], d[k]);
        }
        V(out)
    }

    /// `a + b` (no reduction: see "Bounds" in the module documentation).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn add(a: &V, b: &V) -> V {
        V(add_raw(a, b.0))
    }

    /// `a + t` for a normalized `a` and unnormalized limbs `t`, normalized.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn add_raw(a: &V, t: [__m512i; 5]) -> [__m512i; 5] {
        let mut s = t;
        for (k, limb) in s.iter_mut().enumerate() {
            *limb = _mm512_add_epi64(a.0[k], *limb);
        }
        normalize(s)
    }

    /// Montgomery product `a·b·2^−260`, below a·b/R + p (no final subtraction).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn mul(a: &V, b: &V) -> V {
        V(normalize(mul_raw(a, b)))
    }

    /// [`mul`] before the carry pass: limbs above 52 bits.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn mul_raw(a: &V, b: &V) -> [__m512i; 5] {
        dot_raw::<1>(core::slice::from_ref(a), |_, i| b.0[i])
    }

    /// `Σ_j a[j]·b[j]·2^−260` with one Montgomery reduction for the whole row, before the carry
    /// pass. `b(j, i)` is limb i of the j-th factor. Operand scanning over b's limbs: add every
    /// a[j]·b[j][i] (low and high 52-bit halves), then the multiple of p that clears the lowest
    /// limb, and shift by one limb. A limb receives at most 5·(2·T + 2) + 1 terms below 2^52
    /// (T ≤ 5: below 2^58), so nothing overflows 64 bits.
    #[inline(always)]
    fn dot_raw<const T: usize>(a: &[V], b: impl Fn(usize, usize) -> __m512i) -> [__m512i; 5] {
        // SAFETY: only called from functions compiled with AVX-512F and IFMA enabled (this
        // function is always inlined into them), which run only after feature detection.
        unsafe {
            let zero = _mm512_setzero_si512();
            let mask = _mm512_set1_epi64(MASK as i64);
            let pinv = _mm512_set1_epi64(PINV as i64);
            let mut t = [zero; 6];
            for i in 0..5 {
                for (j, aj) in a.iter().enumerate().take(T) {
                    let bi = b(j, i);
                    for k in 0..5 {
                        t[k] = _mm512_madd52lo_epu64(t[k], aj.0[k], bi);
                    }
                    for k in 0..5 {
                        t[k + 1] = _mm512_madd52hi_epu64(t[k + 1], aj.0[k], bi);
                    }
                }
                let m = _mm512_and_si512(_mm512_madd52lo_epu64(zero, t[0], pinv), mask);
                for k in 0..5 {
                    let pk = _mm512_set1_epi64(P[k] as i64);
                    t[k] = _mm512_madd52lo_epu64(t[k], pk, m);
                    t[k + 1] = _mm512_madd52hi_epu64(t[k + 1], pk, m);
                }
                // t[0] is now a multiple of 2^52: move its high part up and shift by one limb.
                let c = _mm512_srli_epi64::<52>(t[0]);
                t = [_mm512_add_epi64(t[1], c), t[2], t[3], t[4], t[5], zero];
            }
            [t[0], t[1], t[2], t[3], t[4]]
        }
    }

    /// `Σ_j a[j]·c[j]` for constants `c` (a matrix row), one reduction.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn dot<const T: usize>(a: &[V; T], c: &[Limbs]) -> V {
        V(normalize(dot_raw::<T>(a, |j, i| {
            _mm512_set1_epi64(c[j][i] as i64)
        })))
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn sbox(x: &V) -> V {
        let x2 = mul(x, x);
        let x4 = mul(&x2, &x2);
        mul(&x4, x)
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn full_round<const T: usize>(s: &mut [V; T], c: &[Limbs], m: &[Limbs]) {
        let mut old = *s;
        for i in 0..T {
            old[i] = sbox(&add(&s[i], &splat(&c[i])));
        }
        for i in 0..T {
            s[i] = dot(&old, &m[i * T..(i + 1) * T]);
        }
    }

    /// The optimized permutation on eight states (same order of operations as the GPU kernels).
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn permute<const T: usize>(s: &mut [V; T], k: &[Limbs], rp: usize) {
        let rc_first = &k[..4 * T];
        let pre = &k[4 * T..4 * T + T * T];
        let mds = &k[4 * T + T * T..4 * T + 2 * T * T];
        let mut at = 4 * T + 2 * T * T;
        let pc = &k[at..at + rp];
        at += rp;
        let rows = &k[at..at + rp * T];
        at += rp * T;
        let cols = &k[at..at + rp * (T - 1)];
        at += rp * (T - 1);
        let rc_last = &k[at..at + 4 * T];
        for r in 0..4 {
            full_round::<T>(s, &rc_first[r * T..], if r == 3 { pre } else { mds });
        }
        for r in 0..rp {
            let x0 = sbox(&add(&s[0], &splat(&pc[r])));
            let row = &rows[r * T..(r + 1) * T];
            let col = &cols[r * (T - 1)..(r + 1) * (T - 1)];
            s[0] = x0;
            let acc = dot(s, row);
            for j in 1..T {
                s[j] = V(add_raw(&s[j], mul_raw(&x0, &splat(&col[j - 1]))));
            }
            s[0] = acc;
        }
        for r in 0..4 {
            full_round::<T>(s, &rc_last[r * T..], mds);
        }
    }

    /// Eight hashes of arity T − 1: `inputs` holds 8 × (T − 1) limbs, hash-major.
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn hash8<const T: usize>(inputs: &[Limbs], c: &Consts) -> [Limbs; 8] {
        let zero = [0u64; 5];
        let mut s = [splat(&zero); T];
        for (i, slot) in s.iter_mut().enumerate().skip(1) {
            let mut lanes = [zero; 8];
            for (lane, l) in lanes.iter_mut().enumerate() {
                *l = inputs[lane * (T - 1) + (i - 1)];
            }
            *slot = pack(&lanes);
        }
        permute::<T>(&mut s, &c.k, c.rp);
        unpack(&reduce_once(s[0].0))
    }

    /// Lane-wise products, for tests.
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn mul8(a: &[Limbs; 8], b: &[Limbs; 8]) -> [Limbs; 8] {
        unpack(&reduce_once(mul(&pack(a), &pack(b)).0))
    }

    /// Lane-wise sums, for tests.
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn add8(a: &[Limbs; 8], b: &[Limbs; 8]) -> [Limbs; 8] {
        unpack(&reduce_once(add(&pack(a), &pack(b)).0))
    }
}

/// Hashes `out.len()` messages of `arity` (2 or 4) with the IFMA path, eight at a time (a final
/// partial group is padded). `None` when the CPU lacks IFMA or the arity is not 2 or 4: callers use
/// the scalar path then.
pub fn hash_many_ifma(arity: usize, inputs: &[Fr], out: &mut [Fr]) -> Option<()> {
    if !ifma_available() || inputs.len() != out.len() * arity {
        return None;
    }
    let c = consts(arity + 1)?;
    #[cfg(target_arch = "x86_64")]
    {
        for (ins, outs) in inputs.chunks(8 * arity).zip(out.chunks_mut(8)) {
            let mut limbs: Vec<Limbs> = ins.iter().map(to_limbs).collect();
            limbs.resize(8 * arity, [0; 5]);
            // SAFETY: `ifma_available()` checked that this CPU has AVX-512F and AVX-512 IFMA, the
            // target features `hash8` is compiled for.
            let res = unsafe {
                match c.t {
                    3 => lanes::hash8::<3>(&limbs, c),
                    _ => lanes::hash8::<5>(&limbs, c),
                }
            };
            for (o, l) in outs.iter_mut().zip(res.iter()) {
                *o = from_limbs(l)?;
            }
        }
        Some(())
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (c, out);
        None
    }
}

/// Lane-wise field products and sums through the IFMA arithmetic (tests); `None` without IFMA.
pub fn field_ops_ifma(a: &[Fr; 8], b: &[Fr; 8]) -> Option<([Fr; 8], [Fr; 8])> {
    if !ifma_available() {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let la: [Limbs; 8] = core::array::from_fn(|i| to_limbs(&a[i]));
        let lb: [Limbs; 8] = core::array::from_fn(|i| to_limbs(&b[i]));
        // SAFETY: IFMA and AVX-512F were detected above.
        let (m, s) = unsafe { (lanes::mul8(&la, &lb), lanes::add8(&la, &lb)) };
        let conv = |v: [Limbs; 8]| -> Option<[Fr; 8]> {
            let mut out = [Fr::from(0u64); 8];
            for (o, l) in out.iter_mut().zip(v.iter()) {
                *o = from_limbs(l)?;
            }
            Some(out)
        };
        Some((conv(m)?, conv(s)?))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_std::UniformRand;
    use rustorium_circuits::poseidon;

    fn skip() -> bool {
        if ifma_available() {
            return false;
        }
        eprintln!("no AVX-512 IFMA on this CPU: the IFMA path is not exercised here");
        true
    }

    #[test]
    fn limb_conversion_round_trips() {
        let mut rng = ark_std::test_rng();
        for x in [Fr::from(0u64), Fr::from(1u64), -Fr::from(1u64)]
            .into_iter()
            .chain((0..200).map(|_| Fr::rand(&mut rng)))
        {
            let l = to_limbs(&x);
            assert!(l.iter().all(|w| *w <= MASK));
            assert_eq!(from_limbs(&l), Some(x));
        }
        assert_eq!(from_limbs(&P), None, "p itself is not a reduced value");
    }

    #[test]
    fn ifma_field_arithmetic_equals_arkworks() {
        if skip() {
            return;
        }
        let mut rng = ark_std::test_rng();
        let edge = [
            Fr::from(0u64),
            Fr::from(1u64),
            -Fr::from(1u64),
            -Fr::from(2u64),
        ];
        for round in 0..200 {
            let a: [Fr; 8] = core::array::from_fn(|i| {
                if round == 0 {
                    edge[i % 4]
                } else {
                    Fr::rand(&mut rng)
                }
            });
            let b: [Fr; 8] = core::array::from_fn(|i| {
                if round == 0 {
                    edge[(i / 2) % 4]
                } else {
                    Fr::rand(&mut rng)
                }
            });
            let (m, s) = field_ops_ifma(&a, &b).expect("ifma");
            for i in 0..8 {
                assert_eq!(m[i], a[i] * b[i], "mul lane {i}");
                assert_eq!(s[i], a[i] + b[i], "add lane {i}");
            }
        }
    }

    #[test]
    fn ifma_poseidon_is_bit_identical_to_the_scalar_path() {
        if skip() {
            return;
        }
        let mut rng = ark_std::test_rng();
        for arity in [2usize, 4] {
            for n in [1usize, 7, 8, 9, 100] {
                // Random messages, and (n = 8) the edges: all −1, all 0, −1/−2/0/1 mixtures.
                let edge = [
                    -Fr::from(1u64),
                    -Fr::from(2u64),
                    Fr::from(0u64),
                    Fr::from(1u64),
                ];
                let inputs: Vec<Fr> = (0..n * arity)
                    .map(|i| match (n, i / arity) {
                        (8, 0) => edge[0],
                        (8, 1) => edge[2],
                        (8, h) if h < 6 => edge[(i * h) % 4],
                        _ => Fr::rand(&mut rng),
                    })
                    .collect();
                let mut out = vec![Fr::from(0u64); n];
                hash_many_ifma(arity, &inputs, &mut out).expect("ifma");
                for (i, o) in out.iter().enumerate() {
                    let want = poseidon::hash(&inputs[i * arity..(i + 1) * arity]).expect("arity");
                    assert_eq!(*o, want, "arity {arity}, hash {i} of {n}");
                }
            }
        }
        assert!(hash_many_ifma(3, &[Fr::from(1u64); 3], &mut [Fr::from(0u64)]).is_none());
    }
}

/// The AVX2 path (CPUs without IFMA): four lanes, nine 29-bit limbs, Montgomery R = 2^261;
/// `vpmuludq` gives full 58-bit products, accumulated in 64-bit lanes before one carry pass. Same
/// permutation and constants as every other path, and the same lazy reduction as the IFMA path
/// (no final subtractions, one reduction per matrix row) with more headroom: p/R < 0.006 and
/// values may reach 2^261 = 169p, while the IFMA path's bounds (state below 84p) hold here too.
pub mod avx2 {
    use super::*;

    const MASK29: u64 = (1 << 29) - 1;
    const P29: [u64; 9] = [
        0x10000001, 0x1f0fac9f, 0xe5c2450, 0x7d090f3, 0x1585d283, 0x2db40c0, 0xa6e141, 0xe5c2634,
        0x30644e,
    ];
    const PINV29: u64 = 0xfffffff;

    /// An element in this path's form: `x·2^261 mod p` in nine 29-bit limbs.
    pub type Limbs29 = [u64; 9];

    fn r261() -> &'static (Fr, Fr) {
        static R: OnceLock<(Fr, Fr)> = OnceLock::new();
        R.get_or_init(|| {
            let r = Fr::from(2u64).pow([261u64]);
            (r, r.inverse().unwrap_or_default())
        })
    }

    /// arkworks → this path's form.
    pub fn to_limbs29(x: &Fr) -> Limbs29 {
        let w = (*x * r261().0).into_bigint().0;
        core::array::from_fn(|i| {
            let (word, bit) = (29 * i / 64, 29 * i % 64);
            let low = w[word] >> bit;
            let high = if bit > 35 && word + 1 < 4 {
                w[word + 1] << (64 - bit)
            } else {
                0
            };
            (low | high) & MASK29
        })
    }

    /// This path's form → arkworks (reduced limbs only).
    pub fn from_limbs29(l: &Limbs29) -> Option<Fr> {
        let mut words = [0u64; 4];
        for (i, limb) in l.iter().enumerate() {
            let shift = 29 * i;
            let (w, b) = (shift / 64, shift % 64);
            if w < 4 {
                words[w] |= limb << b;
            }
            if b > 35 && w + 1 < 4 {
                words[w + 1] |= limb >> (64 - b);
            }
        }
        let y = Fr::from_bigint(ark_ff::BigInt(words))?;
        Some(y * r261().1)
    }

    /// Whether this CPU runs the AVX2 path.
    pub fn available() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::is_x86_feature_detected!("avx2")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    struct Consts29 {
        k: Vec<Limbs29>,
        t: usize,
        rp: usize,
    }

    fn consts29(t: usize) -> Option<&'static Consts29> {
        static C3: OnceLock<Option<Consts29>> = OnceLock::new();
        static C5: OnceLock<Option<Consts29>> = OnceLock::new();
        let cell = match t {
            3 => &C3,
            5 => &C5,
            _ => return None,
        };
        cell.get_or_init(|| {
            let spec = Fr::poseidon_spec(t)?;
            Some(Consts29 {
                k: spec.flat_optimized().iter().map(to_limbs29).collect(),
                t,
                rp: spec.partial_rounds,
            })
        })
        .as_ref()
    }

    #[cfg(target_arch = "x86_64")]
    mod lanes4 {
        use super::*;

        #[derive(Clone, Copy)]
        pub(super) struct W(pub [__m256i; 9]);

        #[inline]
        #[target_feature(enable = "avx2")]
        pub(super) fn splat(l: &Limbs29) -> W {
            W(core::array::from_fn(|k| _mm256_set1_epi64x(l[k] as i64)))
        }

        #[inline]
        #[target_feature(enable = "avx2")]
        pub(super) fn pack(xs: &[Limbs29; 4]) -> W {
            W(core::array::from_fn(|k| {
                _mm256_set_epi64x(
                    xs[3][k] as i64,
                    xs[2][k] as i64,
                    xs[1][k] as i64,
                    xs[0][k] as i64,
                )
            }))
        }

        #[inline]
        #[target_feature(enable = "avx2")]
        pub(super) fn unpack(v: &W) -> [Limbs29; 4] {
            let mut out = [[0u64; 9]; 4];
            for (k, limb) in v.0.iter().enumerate() {
                // SAFETY: __m256i and [u64; 4] have the same size; every bit pattern is valid.
                let words: [u64; 4] = unsafe { core::mem::transmute::<__m256i, [u64; 4]>(*limb) };
                for (lane, w) in words.iter().enumerate() {
                    out[lane][k] = *w;
                }
            }
            out
        }

        #[inline]
        #[target_feature(enable = "avx2")]
        fn normalize(t: [__m256i; 9]) -> [__m256i; 9] {
            let mask = _mm256_set1_epi64x(MASK29 as i64);
            let mut out = t;
            let mut carry = _mm256_setzero_si256();
            for limb in out.iter_mut() {
                let v = _mm256_add_epi64(*limb, carry);
                *limb = _mm256_and_si256(v, mask);
                carry = _mm256_srli_epi64::<29>(v);
            }
            out
        }

        #[inline]
        #[target_feature(enable = "avx2")]
        fn reduce_once(x: [__m256i; 9]) -> W {
            let mask = _mm256_set1_epi64x(MASK29 as i64);
            let mut d = [_mm256_setzero_si256(); 9];
            let mut borrow = _mm256_setzero_si256();
            for k in 0..9 {
                let v = _mm256_sub_epi64(
                    _mm256_sub_epi64(x[k], _mm256_set1_epi64x(P29[k] as i64)),
                    borrow,
                );
                borrow = _mm256_srli_epi64::<63>(v);
                d[k] = _mm256_and_si256(v, mask);
            }
            // All-ones lanes where x < p (a final borrow): keep x there.
            let keep_x = _mm256_sub_epi64(_mm256_setzero_si256(), borrow);
            W(core::array::from_fn(|k| {
                _mm256_blendv_epi8(d[k], x[k], keep_x)
            }))
        }

        /// `a + b`, carried, not reduced (bounds: the AVX2 module documentation).
        #[inline]
        #[target_feature(enable = "avx2")]
        pub(super) fn add(a: &W, b: &W) -> W {
            W(add_raw(a, b.0))
        }

        /// `a + t` for unnormalized limbs `t`, carried.
        #[inline]
        #[target_feature(enable = "avx2")]
        fn add_raw(a: &W, t: [__m256i; 9]) -> [__m256i; 9] {
            normalize(core::array::from_fn(|k| _mm256_add_epi64(a.0[k], t[k])))
        }

        /// Montgomery product `a·b·2^−261`, carried, below a·b/R + p (no final subtraction).
        #[inline]
        #[target_feature(enable = "avx2")]
        pub(super) fn mul(a: &W, b: &W) -> W {
            W(normalize(mul_raw(a, b)))
        }

        /// [`mul`] before the carry pass.
        #[inline]
        #[target_feature(enable = "avx2")]
        fn mul_raw(a: &W, b: &W) -> [__m256i; 9] {
            dot_raw::<1>(core::slice::from_ref(a), |_, i| b.0[i])
        }

        /// `Σ_j a[j]·b[j]·2^−261` with one Montgomery reduction, before the carry pass; `b(j, i)`
        /// is limb i of factor j. A limb gathers at most 9·(T + 1) full products below 2^58 plus
        /// carries below 2^35: below 2^64 for T ≤ 6.
        #[inline(always)]
        fn dot_raw<const T: usize>(a: &[W], b: impl Fn(usize, usize) -> __m256i) -> [__m256i; 9] {
            // SAFETY: only inlined into functions compiled with AVX2 enabled, which run only after
            // feature detection.
            unsafe {
                let zero = _mm256_setzero_si256();
                let mask = _mm256_set1_epi64x(MASK29 as i64);
                let pinv = _mm256_set1_epi64x(PINV29 as i64);
                let mut t = [zero; 9];
                for i in 0..9 {
                    for (j, aj) in a.iter().enumerate().take(T) {
                        let bi = b(j, i);
                        for k in 0..9 {
                            t[k] = _mm256_add_epi64(t[k], _mm256_mul_epu32(aj.0[k], bi));
                        }
                    }
                    let m = _mm256_and_si256(_mm256_mul_epu32(t[0], pinv), mask);
                    for k in 0..9 {
                        let pk = _mm256_set1_epi64x(P29[k] as i64);
                        t[k] = _mm256_add_epi64(t[k], _mm256_mul_epu32(pk, m));
                    }
                    let c = _mm256_srli_epi64::<29>(t[0]);
                    t = [
                        _mm256_add_epi64(t[1], c),
                        t[2],
                        t[3],
                        t[4],
                        t[5],
                        t[6],
                        t[7],
                        t[8],
                        zero,
                    ];
                }
                t
            }
        }

        /// `Σ_j a[j]·c[j]` for constants `c`, one reduction, carried.
        #[inline]
        #[target_feature(enable = "avx2")]
        fn dot<const T: usize>(a: &[W; T], c: &[Limbs29]) -> W {
            W(normalize(dot_raw::<T>(a, |j, i| {
                _mm256_set1_epi64x(c[j][i] as i64)
            })))
        }

        #[inline]
        #[target_feature(enable = "avx2")]
        fn sbox(x: &W) -> W {
            let x2 = mul(x, x);
            let x4 = mul(&x2, &x2);
            mul(&x4, x)
        }

        #[inline]
        #[target_feature(enable = "avx2")]
        fn full_round<const T: usize>(s: &mut [W; T], c: &[Limbs29], m: &[Limbs29]) {
            let mut old = *s;
            for i in 0..T {
                old[i] = sbox(&add(&s[i], &splat(&c[i])));
            }
            for i in 0..T {
                s[i] = dot(&old, &m[i * T..(i + 1) * T]);
            }
        }

        #[target_feature(enable = "avx2")]
        fn permute<const T: usize>(s: &mut [W; T], k: &[Limbs29], rp: usize) {
            let rc_first = &k[..4 * T];
            let pre = &k[4 * T..4 * T + T * T];
            let mds = &k[4 * T + T * T..4 * T + 2 * T * T];
            let mut at = 4 * T + 2 * T * T;
            let pc = &k[at..at + rp];
            at += rp;
            let rows = &k[at..at + rp * T];
            at += rp * T;
            let cols = &k[at..at + rp * (T - 1)];
            at += rp * (T - 1);
            let rc_last = &k[at..at + 4 * T];
            for r in 0..4 {
                full_round::<T>(s, &rc_first[r * T..], if r == 3 { pre } else { mds });
            }
            for r in 0..rp {
                let x0 = sbox(&add(&s[0], &splat(&pc[r])));
                let row = &rows[r * T..(r + 1) * T];
                let col = &cols[r * (T - 1)..(r + 1) * (T - 1)];
                s[0] = x0;
                let acc = dot(s, row);
                for j in 1..T {
                    s[j] = W(add_raw(&s[j], mul_raw(&x0, &splat(&col[j - 1]))));
                }
                s[0] = acc;
            }
            for r in 0..4 {
                full_round::<T>(s, &rc_last[r * T..], mds);
            }
        }

        #[target_feature(enable = "avx2")]
        pub(super) fn hash4<const T: usize>(inputs: &[Limbs29], c: &Consts29) -> [Limbs29; 4] {
            let zero = [0u64; 9];
            let mut s = [splat(&zero); T];
            for (i, slot) in s.iter_mut().enumerate().skip(1) {
                let lanes: [Limbs29; 4] =
                    core::array::from_fn(|lane| inputs[lane * (T - 1) + (i - 1)]);
                *slot = pack(&lanes);
            }
            permute::<T>(&mut s, &c.k, c.rp);
            unpack(&reduce_once(s[0].0))
        }

        #[target_feature(enable = "avx2")]
        pub(super) fn ops4(a: &[Limbs29; 4], b: &[Limbs29; 4]) -> ([Limbs29; 4], [Limbs29; 4]) {
            let (x, y) = (pack(a), pack(b));
            (
                unpack(&reduce_once(mul(&x, &y).0)),
                unpack(&reduce_once(add(&x, &y).0)),
            )
        }
    }

    /// Poseidon of arity 2 or 4 on the AVX2 path, four at a time; `None` without AVX2.
    pub fn hash_many(arity: usize, inputs: &[Fr], out: &mut [Fr]) -> Option<()> {
        if !available() || inputs.len() != out.len() * arity {
            return None;
        }
        let c = consts29(arity + 1)?;
        #[cfg(target_arch = "x86_64")]
        {
            for (ins, outs) in inputs.chunks(4 * arity).zip(out.chunks_mut(4)) {
                let mut limbs: Vec<Limbs29> = ins.iter().map(to_limbs29).collect();
                limbs.resize(4 * arity, [0; 9]);
                // SAFETY: `available()` checked that this CPU has AVX2, the target feature
                // `hash4` is compiled for.
                let res = unsafe {
                    match c.t {
                        3 => lanes4::hash4::<3>(&limbs, c),
                        _ => lanes4::hash4::<5>(&limbs, c),
                    }
                };
                for (o, l) in outs.iter_mut().zip(res.iter()) {
                    *o = from_limbs29(l)?;
                }
            }
            Some(())
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (c, out);
            None
        }
    }

    /// Lane-wise products and sums (tests); `None` without AVX2.
    pub fn field_ops(a: &[Fr; 4], b: &[Fr; 4]) -> Option<([Fr; 4], [Fr; 4])> {
        if !available() {
            return None;
        }
        #[cfg(target_arch = "x86_64")]
        {
            let la: [Limbs29; 4] = core::array::from_fn(|i| to_limbs29(&a[i]));
            let lb: [Limbs29; 4] = core::array::from_fn(|i| to_limbs29(&b[i]));
            // SAFETY: AVX2 was detected above.
            let (m, s) = unsafe { lanes4::ops4(&la, &lb) };
            let conv = |v: [Limbs29; 4]| -> Option<[Fr; 4]> {
                let mut out = [Fr::from(0u64); 4];
                for (o, l) in out.iter_mut().zip(v.iter()) {
                    *o = from_limbs29(l)?;
                }
                Some(out)
            };
            Some((conv(m)?, conv(s)?))
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            None
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use ark_std::UniformRand;
        use rustorium_circuits::poseidon;

        #[test]
        fn avx2_limbs_round_trip_and_arithmetic_equals_arkworks() {
            let mut rng = ark_std::test_rng();
            for _ in 0..100 {
                let x = Fr::rand(&mut rng);
                let l = to_limbs29(&x);
                assert!(l.iter().all(|w| *w <= MASK29));
                assert_eq!(from_limbs29(&l), Some(x));
            }
            if !available() {
                eprintln!("no AVX2: the AVX2 path is not exercised here");
                return;
            }
            let edge = [
                Fr::from(0u64),
                Fr::from(1u64),
                -Fr::from(1u64),
                -Fr::from(2u64),
            ];
            for round in 0..300 {
                let a: [Fr; 4] = core::array::from_fn(|i| {
                    if round == 0 {
                        edge[i]
                    } else {
                        Fr::rand(&mut rng)
                    }
                });
                let b: [Fr; 4] = core::array::from_fn(|i| {
                    if round == 0 {
                        edge[3 - i]
                    } else {
                        Fr::rand(&mut rng)
                    }
                });
                let (m, s) = field_ops(&a, &b).expect("avx2");
                for i in 0..4 {
                    assert_eq!(m[i], a[i] * b[i], "mul lane {i}");
                    assert_eq!(s[i], a[i] + b[i], "add lane {i}");
                }
            }
        }

        #[test]
        fn avx2_poseidon_is_bit_identical_to_the_scalar_path() {
            if !available() {
                return;
            }
            let mut rng = ark_std::test_rng();
            for arity in [2usize, 4] {
                for n in [1usize, 3, 4, 5, 37] {
                    // Random messages, and (n = 4) the edges: all −1, all 0, −1/−2/0/1 mixtures.
                    let edge = [
                        -Fr::from(1u64),
                        -Fr::from(2u64),
                        Fr::from(0u64),
                        Fr::from(1u64),
                    ];
                    let inputs: Vec<Fr> = (0..n * arity)
                        .map(|i| match (n, i / arity) {
                            (4, 0) => edge[0],
                            (4, 1) => edge[2],
                            (4, h) => edge[(i * h) % 4],
                            _ => Fr::rand(&mut rng),
                        })
                        .collect();
                    let mut out = vec![Fr::from(0u64); n];
                    hash_many(arity, &inputs, &mut out).expect("avx2");
                    for (i, o) in out.iter().enumerate() {
                        let want =
                            poseidon::hash(&inputs[i * arity..(i + 1) * arity]).expect("arity");
                        assert_eq!(*o, want, "arity {arity}, hash {i} of {n}");
                    }
                }
            }
        }
    }
}

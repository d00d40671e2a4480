//! G1 affine additions eight at a time with AVX-512 IFMA (`vpmadd52luq`/`vpmadd52huq`), for the
//! batch-affine MSM ([`super::pippenger`]) on CPUs that have it.
//!
//! **Representation.** An Fq element is `a·2^260 mod p` in five 52-bit limbs (Montgomery with
//! R = 2^260, one 52-bit reduction step per limb), the form of the IFMA Poseidon path
//! (`crate::simd`), here for the base field. A point is `[x0..x4, y0..y4]` (80 bytes); stored
//! points are canonical (below p), so equal coordinates have equal limbs and `y = 0` is the
//! identity (no point of G1 has y = 0: `pippenger`'s module docs). The MSM converts its bases into
//! this form once per call (two arkworks multiplications per coordinate, in parallel) and its
//! bucket results back once per bucket.
//!
//! **Bounds.** Inside a batch values are only kept below 2p: a Montgomery product of values below
//! 2p is below `4p²/2^260 + p < 2p` (p < 2^254), sums and differences are brought back below 2p by
//! one conditional subtraction of 2p (a difference is computed as `a + 2p − b`). Outputs are
//! reduced below p before they are stored.
//!
//! **The batch.** Pairs whose sum needs a case (an identity, equal x: a doubling or a
//! cancellation) are rare and are added by arkworks at `push`; the others are queued, eight per
//! vector: pass 1 computes `x₂ − x₁` and eight running products per chain (two chains, to hide the
//! multiplication's latency), the sixteen chain products are inverted with one arkworks inversion,
//! and pass 2 walks back computing each pair's inverse, λ, x₃ and y₃. Every result is tested
//! against arkworks' addition (`pippenger` tests, which run this path where the CPU has IFMA).

#![allow(unsafe_code)] // AVX-512 intrinsics under run-time feature detection; see the SAFETY notes.
#![allow(clippy::needless_range_loop)] // limb loops index several arrays in step

use core::arch::x86_64::*;
use std::sync::OnceLock;

use ark_ec::CurveGroup;
use ark_ff::{BigInt, Field, PrimeField, Zero};

use super::field::{FqModulus, Modulus};
use super::pippenger::{BATCH, PairBatch};

type ArkFq = ark_bn254::Fq;
type G1Affine = ark_bn254::G1Affine;

const MASK: u64 = (1 << 52) - 1;

/// A point: x then y, five 52-bit limbs each.
pub type P52 = [u64; 10];

/// Four 64-bit words as five 52-bit limbs.
const fn repack(w: [u64; 4]) -> [u64; 5] {
    [
        w[0] & MASK,
        ((w[0] >> 52) | (w[1] << 12)) & MASK,
        ((w[1] >> 40) | (w[2] << 24)) & MASK,
        ((w[2] >> 28) | (w[3] << 36)) & MASK,
        w[3] >> 16,
    ]
}

/// Five 52-bit limbs (a value below 2^256) as four 64-bit words.
const fn unpack(l: [u64; 5]) -> [u64; 4] {
    [
        l[0] | (l[1] << 52),
        (l[1] >> 12) | (l[2] << 40),
        (l[2] >> 24) | (l[3] << 28),
        (l[3] >> 36) | (l[4] << 16),
    ]
}

const P: [u64; 5] = repack(FqModulus::P);
const P2: [u64; 5] = repack([
    FqModulus::P[0] << 1,
    (FqModulus::P[1] << 1) | (FqModulus::P[0] >> 63),
    (FqModulus::P[2] << 1) | (FqModulus::P[1] >> 63),
    (FqModulus::P[3] << 1) | (FqModulus::P[2] >> 63),
]);
/// −p⁻¹ mod 2^52.
const PINV: u64 = FqModulus::INV & MASK;

/// `2^260` and its inverse in arkworks' Fq (conversions).
fn r260() -> &'static (ArkFq, ArkFq) {
    static R: OnceLock<(ArkFq, ArkFq)> = OnceLock::new();
    R.get_or_init(|| {
        let r = ArkFq::from(2u64).pow([260u64]);
        (r, r.inverse().unwrap_or_default())
    })
}

/// arkworks' Fq → five canonical limbs of `a·2^260 mod p`.
pub fn to52(x: &ArkFq) -> [u64; 5] {
    repack((*x * r260().0).into_bigint().0)
}

/// Five canonical limbs → arkworks' Fq (`None` if not below p).
pub fn from52(l: &[u64; 5]) -> Option<ArkFq> {
    ArkFq::from_bigint(BigInt(unpack(*l))).map(|y| y * r260().1)
}

/// A G1 point in this form; the identity has y = 0.
pub fn point_to52(p: &G1Affine) -> P52 {
    let mut out = [0u64; 10];
    if let Some((x, y)) = ark_ec::AffineRepr::xy(p) {
        out[..5].copy_from_slice(&to52(&x));
        out[5..].copy_from_slice(&to52(&y));
    }
    out
}

/// Back to arkworks; `None` for the identity (or limbs not below p, which stored points never
/// have).
pub fn point_from52(p: &P52) -> Option<G1Affine> {
    if p[5..] == [0; 5] {
        return None;
    }
    let x = from52(&[p[0], p[1], p[2], p[3], p[4]])?;
    let y = from52(&[p[5], p[6], p[7], p[8], p[9]])?;
    Some(G1Affine::new_unchecked(x, y))
}

/// `−p` for a stored point: `(x, p − y)` (the identity stays itself).
#[inline(always)]
pub fn negate(p: &P52) -> P52 {
    if p[5..] == [0; 5] {
        return *p;
    }
    let mut out = *p;
    let mut borrow = 0u64;
    for k in 0..5 {
        let v = P[k].wrapping_sub(p[5 + k]).wrapping_sub(borrow);
        borrow = v >> 63;
        out[5 + k] = v & MASK;
    }
    out
}

/// Whether this CPU runs this path (AVX-512F and IFMA).
pub fn available() -> bool {
    crate::simd::ifma_available()
}

/// An all-zero vector (a placeholder before the loops below fill arrays of vectors).
// SAFETY: `__m512i` is plain data; all-zero bits are a valid value (needs no CPU feature).
const ZERO: __m512i = unsafe { core::mem::transmute::<[u64; 8], __m512i>([0; 8]) };

/// Eight field elements, limb-major.
#[derive(Clone, Copy)]
struct V([__m512i; 5]);

/// Carries so every limb is below 2^52; `t` may have negative limbs (two's complement) as long as
/// the value is in [0, 2^260).
#[inline(always)]
fn normalize(t: [__m512i; 5]) -> [__m512i; 5] {
    // SAFETY: inlined only into functions compiled with AVX-512F and IFMA, which run only after
    // feature detection (`available`).
    unsafe {
        let mask = _mm512_set1_epi64(MASK as i64);
        let mut out = t;
        let mut carry = _mm512_setzero_si512();
        for limb in out.iter_mut() {
            let v = _mm512_add_epi64(*limb, carry);
            *limb = _mm512_and_si512(v, mask);
            carry = _mm512_srai_epi64::<52>(v);
        }
        out
    }
}

/// `x − m` if that does not go below zero, else `x` (x normalized).
#[inline(always)]
fn sub_if_ge(x: [__m512i; 5], m: &[u64; 5]) -> V {
    // SAFETY: as in `normalize`.
    unsafe {
        let mask = _mm512_set1_epi64(MASK as i64);
        let mut d = [_mm512_setzero_si512(); 5];
        let mut borrow = _mm512_setzero_si512();
        for k in 0..5 {
            let v = _mm512_sub_epi64(
                _mm512_sub_epi64(x[k], _mm512_set1_epi64(m[k] as i64)),
                borrow,
            );
            borrow = _mm512_srli_epi64::<63>(v);
            d[k] = _mm512_and_si512(v, mask);
        }
        let take_d = _mm512_cmpeq_epi64_mask(borrow, _mm512_setzero_si512());
        let mut out = [_mm512_setzero_si512(); 5];
        for k in 0..5 {
            out[k] = _mm512_mask_blend_epi64(take_d, x[k], d[k]);
        }
        V(out)
    }
}

/// `a − b` as `a + 2p − b`, below 2p for inputs below 2p.
#[inline(always)]
fn sub(a: &V, b: &V) -> V {
    // Plain loops, not `array::from_fn`: a closure is a function of its own, compiled without
    // AVX-512, and the intrinsics inside it would become calls.
    let mut s = a.0;
    for k in 0..5 {
        // SAFETY: as in `normalize`.
        s[k] = unsafe {
            _mm512_sub_epi64(
                _mm512_add_epi64(a.0[k], _mm512_set1_epi64(P2[k] as i64)),
                b.0[k],
            )
        };
    }
    sub_if_ge(normalize(s), &P2)
}

/// Below p, for an input below 2p.
#[inline(always)]
fn canonical(a: &V) -> V {
    sub_if_ge(a.0, &P)
}

/// The Montgomery product `a·b·2^−260`, below 2p for inputs below 2p. Operand scanning over b's
/// limbs; a limb accumulates at most 13 terms below 2^52 before its carry, so nothing overflows.
#[inline(always)]
fn mul(a: &V, b: &V) -> V {
    // SAFETY: as in `normalize`.
    unsafe {
        let zero = _mm512_setzero_si512();
        let mask = _mm512_set1_epi64(MASK as i64);
        let pinv = _mm512_set1_epi64(PINV as i64);
        let mut t = [zero; 6];
        for i in 0..5 {
            let bi = b.0[i];
            for k in 0..5 {
                t[k] = _mm512_madd52lo_epu64(t[k], a.0[k], bi);
                t[k + 1] = _mm512_madd52hi_epu64(t[k + 1], a.0[k], bi);
            }
            let m = _mm512_and_si512(_mm512_madd52lo_epu64(zero, t[0], pinv), mask);
            for k in 0..5 {
                let pk = _mm512_set1_epi64(P[k] as i64);
                t[k] = _mm512_madd52lo_epu64(t[k], pk, m);
                t[k + 1] = _mm512_madd52hi_epu64(t[k + 1], pk, m);
            }
            let c = _mm512_srli_epi64::<52>(t[0]);
            t = [_mm512_add_epi64(t[1], c), t[2], t[3], t[4], t[5], zero];
        }
        V(normalize([t[0], t[1], t[2], t[3], t[4]]))
    }
}

/// Lane-major buffers of a batch: `limbs[k][i]` is limb k of element i.
struct Soa {
    limbs: [Vec<u64>; 5],
}

impl Soa {
    fn new() -> Self {
        Self {
            limbs: core::array::from_fn(|_| vec![0; BATCH]),
        }
    }

    #[inline(always)]
    fn set(&mut self, i: usize, v: &[u64]) {
        for k in 0..5 {
            self.limbs[k][i] = v[k];
        }
    }

    /// Elements `8g..8g + 8` as one vector.
    #[inline(always)]
    fn load(&self, g: usize) -> V {
        let mut v = [ZERO; 5];
        for k in 0..5 {
            let row = &self.limbs[k][8 * g..8 * g + 8];
            // SAFETY: as in `normalize`; `row` holds the eight words read (unaligned).
            v[k] = unsafe { _mm512_loadu_si512(row.as_ptr().cast()) };
        }
        V(v)
    }
}

/// Eight lanes of a vector as limbs.
#[inline(always)]
fn lanes(v: &V) -> [[u64; 5]; 8] {
    let mut out = [[0u64; 5]; 8];
    for (k, limb) in v.0.iter().enumerate() {
        let mut words = [0u64; 8];
        // SAFETY: as in `normalize`; `words` has room for the eight 64-bit lanes.
        unsafe { _mm512_storeu_si512(words.as_mut_ptr().cast(), *limb) };
        for (lane, w) in words.iter().enumerate() {
            out[lane][k] = *w;
        }
    }
    out
}

#[inline(always)]
fn from_lanes(l: &[[u64; 5]; 8]) -> V {
    let mut soa = [[0u64; 8]; 5];
    for (lane, limbs) in l.iter().enumerate() {
        for k in 0..5 {
            soa[k][lane] = limbs[k];
        }
    }
    let mut v = [ZERO; 5];
    for k in 0..5 {
        // SAFETY: as in `normalize`; each row holds eight words.
        v[k] = unsafe { _mm512_loadu_si512(soa[k].as_ptr().cast()) };
    }
    V(v)
}

/// The IFMA batch (module docs).
pub(crate) struct Batch52 {
    ax: Soa,
    ay: Soa,
    bx: Soa,
    by: Soa,
    dst: Vec<u32>,
    den: Vec<V>,
    prefix: Vec<V>,
    /// Sums of the special pairs, written after the queued ones (their inputs may be `out`'s).
    special: Vec<(u32, P52)>,
}

impl Batch52 {
    /// An empty batch. Only for CPUs where [`available`] holds.
    pub(crate) fn new() -> Self {
        Self {
            ax: Soa::new(),
            ay: Soa::new(),
            bx: Soa::new(),
            by: Soa::new(),
            dst: Vec::with_capacity(BATCH),
            den: Vec::with_capacity(BATCH / 8),
            prefix: Vec::with_capacity(BATCH / 8),
            special: Vec::new(),
        }
    }

    /// The queued sums, eight per vector (module docs).
    #[inline(always)]
    fn run(&mut self, out: &mut [P52]) -> Option<()> {
        let n = self.dst.len();
        if n == 0 {
            return Some(());
        }
        // Pad the last vector with copies of the first pair (results discarded).
        let groups = n.div_ceil(8);
        for i in n..groups * 8 {
            for s in [&mut self.ax, &mut self.ay, &mut self.bx, &mut self.by] {
                for k in 0..5 {
                    s.limbs[k][i] = s.limbs[k][0];
                }
            }
        }
        self.den.clear();
        self.prefix.clear();
        let one = from_lanes(&[to52(&ArkFq::ONE); 8]);
        let mut acc = [one, one];
        for g in 0..groups {
            let d = sub(&self.bx.load(g), &self.ax.load(g));
            self.prefix.push(acc[g % 2]);
            self.den.push(d);
            acc[g % 2] = mul(&acc[g % 2], &d);
        }
        // Sixteen chain products, one arkworks inversion for all of them.
        let mut prods: Vec<ArkFq> = Vec::with_capacity(16);
        for a in &acc {
            for l in lanes(&canonical(a)) {
                prods.push(from52(&l)?);
            }
        }
        ark_ff::batch_inversion(&mut prods);
        if prods.iter().any(|p| p.is_zero()) {
            return None;
        }
        let mut inv = [V(one.0), V(one.0)];
        for (c, chunk) in prods.chunks_exact(8).enumerate() {
            let l: [[u64; 5]; 8] = core::array::from_fn(|i| to52(&chunk[i]));
            inv[c] = from_lanes(&l);
        }
        for g in (0..groups).rev() {
            let c = g % 2;
            let d_inv = mul(&inv[c], &self.prefix[g]);
            inv[c] = mul(&inv[c], &self.den[g]);
            let (ax, ay, bx, by) = (
                self.ax.load(g),
                self.ay.load(g),
                self.bx.load(g),
                self.by.load(g),
            );
            let lambda = mul(&sub(&by, &ay), &d_inv);
            let x3 = sub(&sub(&mul(&lambda, &lambda), &ax), &bx);
            let y3 = sub(&mul(&lambda, &sub(&ax, &x3)), &ay);
            let (xs, ys) = (lanes(&canonical(&x3)), lanes(&canonical(&y3)));
            for lane in 0..8 {
                let Some(&dst) = self.dst.get(8 * g + lane) else {
                    break;
                };
                let o = &mut out[dst as usize];
                o[..5].copy_from_slice(&xs[lane]);
                o[5..].copy_from_slice(&ys[lane]);
            }
        }
        self.dst.clear();
        Some(())
    }
}

/// `a + b` by arkworks, for the pairs the vector code leaves out.
fn add_special(a: &P52, b: &P52) -> P52 {
    let sum = match (point_from52(a), point_from52(b)) {
        (None, None) => return [0; 10],
        (Some(p), None) | (None, Some(p)) => p,
        (Some(p), Some(q)) => (p + q).into_affine(),
    };
    point_to52(&sum)
}

impl PairBatch for Batch52 {
    type Pt = P52;
    const INFINITY: P52 = [0; 10];

    #[inline(always)]
    fn is_infinity(p: &P52) -> bool {
        p[5..] == [0; 5]
    }

    #[inline(always)]
    fn push(&mut self, a: P52, b: P52, dst: u32) {
        if a[5..] == [0; 5] || b[5..] == [0; 5] || a[..5] == b[..5] {
            self.special.push((dst, add_special(&a, &b)));
            return;
        }
        let i = self.dst.len();
        self.ax.set(i, &a[..5]);
        self.ay.set(i, &a[5..]);
        self.bx.set(i, &b[..5]);
        self.by.set(i, &b[5..]);
        self.dst.push(dst);
    }

    #[inline(always)]
    fn is_full(&self) -> bool {
        self.dst.len() >= BATCH || self.special.len() >= BATCH
    }

    #[inline(always)]
    fn flush(&mut self, out: &mut [P52]) -> Option<()> {
        self.run(out)?;
        for (dst, p) in self.special.drain(..) {
            out[dst as usize] = p;
        }
        Some(())
    }
}

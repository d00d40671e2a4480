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

use ark_ff::{BigInt, Field, PrimeField, Zero};

use super::field::{FqModulus, Modulus};
use super::pippenger::{BATCH, PairBatch};

type ArkFq = ark_bn254::Fq;
type G1Affine = ark_bn254::G1Affine;

const MASK: u64 = (1 << 52) - 1;

/// A point: x then y, five 52-bit limbs each.
pub type P52 = [u64; 10];

/// Four 64-bit words as five 52-bit limbs.
pub(crate) const fn repack(w: [u64; 4]) -> [u64; 5] {
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

/// `2p` as four words (p < 2^254).
const fn double(p: [u64; 4]) -> [u64; 4] {
    [
        p[0] << 1,
        (p[1] << 1) | (p[0] >> 63),
        (p[2] << 1) | (p[1] >> 63),
        (p[3] << 1) | (p[2] >> 63),
    ]
}

/// A modulus in this path's radix: `p`, `2p` and `−p⁻¹ mod 2^52`.
pub(crate) trait M52 {
    /// p in five limbs.
    const P: [u64; 5];
    /// 2p in five limbs.
    const P2: [u64; 5];
    /// −p⁻¹ mod 2^52.
    const PINV: u64;
}

/// Fq (G1 and G2 coordinates).
pub(crate) struct Fq52;
/// Fr (the NTT).
pub(crate) struct Fr52;

impl M52 for Fq52 {
    const P: [u64; 5] = repack(FqModulus::P);
    const P2: [u64; 5] = repack(double(FqModulus::P));
    const PINV: u64 = FqModulus::INV & MASK;
}

impl M52 for Fr52 {
    const P: [u64; 5] = repack(super::field::FrModulus::P);
    const P2: [u64; 5] = repack(double(super::field::FrModulus::P));
    const PINV: u64 = super::field::FrModulus::INV & MASK;
}

/// Fq's p (negation of stored points).
const P: [u64; 5] = Fq52::P;

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

/// Whether this CPU runs this path (AVX-512F and IFMA).
pub fn available() -> bool {
    crate::simd::ifma_available()
}

/// An all-zero vector (a placeholder before the loops below fill arrays of vectors).
// SAFETY: `__m512i` is plain data; all-zero bits are a valid value (needs no CPU feature).
pub(crate) const ZERO: __m512i = unsafe { core::mem::transmute::<[u64; 8], __m512i>([0; 8]) };

/// Eight field elements, limb-major.
#[derive(Clone, Copy)]
pub(crate) struct V(pub(crate) [__m512i; 5]);

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
pub(crate) fn sub<M: M52>(a: &V, b: &V) -> V {
    // Plain loops, not `array::from_fn`: a closure is a function of its own, compiled without
    // AVX-512, and the intrinsics inside it would become calls.
    let mut s = a.0;
    for k in 0..5 {
        // SAFETY: as in `normalize`.
        s[k] = unsafe {
            _mm512_sub_epi64(
                _mm512_add_epi64(a.0[k], _mm512_set1_epi64(M::P2[k] as i64)),
                b.0[k],
            )
        };
    }
    sub_if_ge(normalize(s), &M::P2)
}

/// Below p, for an input below 2p.
#[inline(always)]
pub(crate) fn canonical<M: M52>(a: &V) -> V {
    sub_if_ge(a.0, &M::P)
}

/// The Montgomery product `a·b·2^−260`, below 2p for inputs below 2p. Operand scanning over b's
/// limbs; a limb accumulates at most 13 terms below 2^52 before its carry, so nothing overflows.
#[inline(always)]
pub(crate) fn mul<M: M52>(a: &V, b: &V) -> V {
    // SAFETY: as in `normalize`.
    unsafe {
        let zero = _mm512_setzero_si512();
        let mask = _mm512_set1_epi64(MASK as i64);
        let pinv = _mm512_set1_epi64(M::PINV as i64);
        let mut t = [zero; 6];
        for i in 0..5 {
            let bi = b.0[i];
            for k in 0..5 {
                t[k] = _mm512_madd52lo_epu64(t[k], a.0[k], bi);
                t[k + 1] = _mm512_madd52hi_epu64(t[k + 1], a.0[k], bi);
            }
            let m = _mm512_and_si512(_mm512_madd52lo_epu64(zero, t[0], pinv), mask);
            for k in 0..5 {
                let pk = _mm512_set1_epi64(M::P[k] as i64);
                t[k] = _mm512_madd52lo_epu64(t[k], pk, m);
                t[k + 1] = _mm512_madd52hi_epu64(t[k + 1], pk, m);
            }
            let c = _mm512_srli_epi64::<52>(t[0]);
            t = [_mm512_add_epi64(t[1], c), t[2], t[3], t[4], t[5], zero];
        }
        V(normalize([t[0], t[1], t[2], t[3], t[4]]))
    }
}

/// `a + b`, below 2p for inputs below 2p.
#[inline(always)]
pub(crate) fn add<M: M52>(a: &V, b: &V) -> V {
    let mut s = a.0;
    for k in 0..5 {
        // SAFETY: as in `normalize`.
        s[k] = unsafe { _mm512_add_epi64(a.0[k], b.0[k]) };
    }
    sub_if_ge(normalize(s), &M::P2)
}

/// Eight lanes of a vector as rows of limbs (`rows[k][lane]`).
#[inline(always)]
fn spill(v: &V, rows: &mut [[u64; 8]]) {
    for (k, limb) in v.0.iter().enumerate() {
        // SAFETY: as in `normalize`; each row has room for the eight 64-bit lanes.
        unsafe { _mm512_storeu_si512(rows[k].as_mut_ptr().cast(), *limb) };
    }
}

/// A vector from rows of limbs (`rows[k][lane]`).
#[inline(always)]
fn fill(rows: &[[u64; 8]]) -> V {
    let mut v = [ZERO; 5];
    for k in 0..5 {
        // SAFETY: as in `normalize`; each row holds eight words.
        v[k] = unsafe { _mm512_loadu_si512(rows[k].as_ptr().cast()) };
    }
    V(v)
}

/// Eight coordinates of one field: Fq ([`V`]) for G1, Fq2 (`V2`) for G2.
pub(crate) trait LaneField: Copy {
    /// Words of one coordinate: 5 (Fq) or 10 (Fq2, c0 then c1).
    const WORDS: usize;
    /// A stored point: x then y, `2·WORDS` words; the identity has y = 0.
    type Point: Copy + Send + Sync + AsRef<[u64]> + AsMut<[u64]>;
    /// The identity.
    const INFINITY: Self::Point;
    /// arkworks' coordinate field.
    type Ark: Field;
    /// arkworks' affine points.
    type Affine: ark_ec::AffineRepr<BaseField = Self::Ark>;
    /// Elements `8g..8g + 8` of WORDS lane-major rows.
    fn load(rows: &[Vec<u64>], g: usize) -> Self;
    /// Difference.
    fn sub(&self, o: &Self) -> Self;
    /// Product.
    fn mul(&self, o: &Self) -> Self;
    /// Below p.
    fn canonical(&self) -> Self;
    /// Canonical lanes into `rows[k][lane]`, k < WORDS.
    fn spill(&self, rows: &mut [[u64; 8]; 10]);
    /// Eight arkworks values (self canonical); `None` for limbs not below p.
    fn to_ark(&self) -> Option<[Self::Ark; 8]>;
    /// Eight values from arkworks.
    fn from_ark(x: &[Self::Ark]) -> Self;
    /// A stored point to arkworks (`None`: the identity).
    fn point_from(p: &Self::Point) -> Option<Self::Affine>;
    /// An arkworks point to storage.
    fn point_to(p: &Self::Affine) -> Self::Point;
}

impl LaneField for V {
    const WORDS: usize = 5;
    type Point = P52;
    const INFINITY: P52 = [0; 10];
    type Ark = ArkFq;
    type Affine = G1Affine;
    #[inline(always)]
    fn load(rows: &[Vec<u64>], g: usize) -> Self {
        let mut v = [ZERO; 5];
        for k in 0..5 {
            let row = &rows[k][8 * g..8 * g + 8];
            // SAFETY: as in `normalize`; `row` holds the eight words read (unaligned).
            v[k] = unsafe { _mm512_loadu_si512(row.as_ptr().cast()) };
        }
        V(v)
    }
    #[inline(always)]
    fn sub(&self, o: &Self) -> Self {
        sub::<Fq52>(self, o)
    }
    #[inline(always)]
    fn mul(&self, o: &Self) -> Self {
        mul::<Fq52>(self, o)
    }
    #[inline(always)]
    fn canonical(&self) -> Self {
        canonical::<Fq52>(self)
    }
    #[inline(always)]
    fn spill(&self, rows: &mut [[u64; 8]; 10]) {
        spill(self, &mut rows[..5]);
    }
    fn to_ark(&self) -> Option<[ArkFq; 8]> {
        let mut rows = [[0u64; 8]; 10];
        spill(self, &mut rows[..5]);
        let mut out = [ArkFq::zero(); 8];
        for (lane, o) in out.iter_mut().enumerate() {
            *o = from52(&core::array::from_fn(|k| rows[k][lane]))?;
        }
        Some(out)
    }
    fn from_ark(x: &[ArkFq]) -> Self {
        let mut rows = [[0u64; 8]; 5];
        for (lane, v) in x.iter().enumerate().take(8) {
            for (k, l) in to52(v).into_iter().enumerate() {
                rows[k][lane] = l;
            }
        }
        fill(&rows)
    }
    fn point_from(p: &P52) -> Option<G1Affine> {
        point_from52(p)
    }
    fn point_to(p: &G1Affine) -> P52 {
        point_to52(p)
    }
}

/// Eight Fq2 elements: `c0 + c1·u`, u² = −1.
#[derive(Clone, Copy)]
pub(crate) struct V2(V, V);

/// A G2 point: x.c0, x.c1, y.c0, y.c1, five limbs each.
pub type P104 = [u64; 20];

impl LaneField for V2 {
    const WORDS: usize = 10;
    type Point = P104;
    const INFINITY: P104 = [0; 20];
    type Ark = ark_bn254::Fq2;
    type Affine = ark_bn254::G2Affine;
    #[inline(always)]
    fn load(rows: &[Vec<u64>], g: usize) -> Self {
        V2(V::load(&rows[..5], g), V::load(&rows[5..], g))
    }
    #[inline(always)]
    fn sub(&self, o: &Self) -> Self {
        V2(sub::<Fq52>(&self.0, &o.0), sub::<Fq52>(&self.1, &o.1))
    }
    #[inline(always)]
    fn mul(&self, o: &Self) -> Self {
        // Karatsuba: three products (sums below 2p again before they are multiplied).
        let v0 = mul::<Fq52>(&self.0, &o.0);
        let v1 = mul::<Fq52>(&self.1, &o.1);
        let s = mul::<Fq52>(&add::<Fq52>(&self.0, &self.1), &add::<Fq52>(&o.0, &o.1));
        V2(
            sub::<Fq52>(&v0, &v1),
            sub::<Fq52>(&sub::<Fq52>(&s, &v0), &v1),
        )
    }
    #[inline(always)]
    fn canonical(&self) -> Self {
        V2(canonical::<Fq52>(&self.0), canonical::<Fq52>(&self.1))
    }
    #[inline(always)]
    fn spill(&self, rows: &mut [[u64; 8]; 10]) {
        spill(&self.0, &mut rows[..5]);
        spill(&self.1, &mut rows[5..]);
    }
    fn to_ark(&self) -> Option<[ark_bn254::Fq2; 8]> {
        let (a, b) = (self.0.to_ark()?, self.1.to_ark()?);
        Some(core::array::from_fn(|i| ark_bn254::Fq2::new(a[i], b[i])))
    }
    fn from_ark(x: &[ark_bn254::Fq2]) -> Self {
        let c0: Vec<ArkFq> = x.iter().map(|v| v.c0).collect();
        let c1: Vec<ArkFq> = x.iter().map(|v| v.c1).collect();
        V2(V::from_ark(&c0), V::from_ark(&c1))
    }
    fn point_from(p: &P104) -> Option<ark_bn254::G2Affine> {
        if p[10..] == [0; 10] {
            return None;
        }
        let c = |i: usize| from52(&core::array::from_fn(|k| p[5 * i + k]));
        let x = ark_bn254::Fq2::new(c(0)?, c(1)?);
        let y = ark_bn254::Fq2::new(c(2)?, c(3)?);
        Some(ark_bn254::G2Affine::new_unchecked(x, y))
    }
    fn point_to(p: &ark_bn254::G2Affine) -> P104 {
        let mut out = [0u64; 20];
        if let Some((x, y)) = ark_ec::AffineRepr::xy(p) {
            for (i, c) in [x.c0, x.c1, y.c0, y.c1].iter().enumerate() {
                out[5 * i..5 * i + 5].copy_from_slice(&to52(c));
            }
        }
        out
    }
}

/// `−p` for a stored point of either group: each y component `c` becomes `p − c` (0 stays 0).
#[inline(always)]
pub fn negate<T: AsRef<[u64]> + AsMut<[u64]> + Copy>(p: &T) -> T {
    let mut out = *p;
    let words = out.as_mut();
    let half = words.len() / 2;
    for comp in words[half..].chunks_exact_mut(5) {
        if comp.iter().all(|&l| l == 0) {
            continue;
        }
        let mut borrow = 0u64;
        for k in 0..5 {
            let v = P[k].wrapping_sub(comp[k]).wrapping_sub(borrow);
            borrow = v >> 63;
            comp[k] = v & MASK;
        }
    }
    out
}

/// The IFMA batch (module docs), for G1 (`L = V`) or G2 (`L = V2`).
pub(crate) struct Batch52<L: LaneField> {
    /// Inputs, lane-major: `ax[k][i]` is word k of pair i's first x.
    ax: Vec<Vec<u64>>,
    ay: Vec<Vec<u64>>,
    bx: Vec<Vec<u64>>,
    by: Vec<Vec<u64>>,
    dst: Vec<u32>,
    den: Vec<L>,
    prefix: Vec<L>,
    /// Sums of the special pairs, written after the queued ones (their inputs may be `out`'s).
    special: Vec<(u32, L::Point)>,
}

impl<L: LaneField> Batch52<L> {
    /// An empty batch. Only for CPUs where [`available`] holds.
    pub(crate) fn new() -> Self {
        let rows = || vec![vec![0u64; BATCH]; L::WORDS];
        Self {
            ax: rows(),
            ay: rows(),
            bx: rows(),
            by: rows(),
            dst: Vec::with_capacity(BATCH),
            den: Vec::with_capacity(BATCH / 8),
            prefix: Vec::with_capacity(BATCH / 8),
            special: Vec::new(),
        }
    }

    /// The queued sums, eight per vector (module docs).
    #[inline(always)]
    fn run(&mut self, out: &mut [L::Point]) -> Option<()> {
        let n = self.dst.len();
        if n == 0 {
            return Some(());
        }
        // Pad the last vector with copies of the first pair (results discarded).
        let groups = n.div_ceil(8);
        for rows in [&mut self.ax, &mut self.ay, &mut self.bx, &mut self.by] {
            for row in rows.iter_mut() {
                let first = row[0];
                row[n..groups * 8].fill(first);
            }
        }
        self.den.clear();
        self.prefix.clear();
        let ones = vec![L::Ark::ONE; 8];
        let one = L::from_ark(&ones);
        let mut acc = [one, one];
        for g in 0..groups {
            let d = L::load(&self.bx, g).sub(&L::load(&self.ax, g));
            self.prefix.push(acc[g % 2]);
            self.den.push(d);
            acc[g % 2] = acc[g % 2].mul(&d);
        }
        // Sixteen chain products, one arkworks inversion for all of them.
        let mut prods: Vec<L::Ark> = Vec::with_capacity(16);
        for a in &acc {
            prods.extend(a.canonical().to_ark()?);
        }
        ark_ff::batch_inversion(&mut prods);
        if prods.iter().any(|p| p.is_zero()) {
            return None;
        }
        let mut inv = [L::from_ark(&prods[..8]), L::from_ark(&prods[8..])];
        let w = L::WORDS;
        let (mut xs, mut ys) = ([[0u64; 8]; 10], [[0u64; 8]; 10]);
        for g in (0..groups).rev() {
            let c = g % 2;
            let d_inv = inv[c].mul(&self.prefix[g]);
            inv[c] = inv[c].mul(&self.den[g]);
            let (ax, ay, bx, by) = (
                L::load(&self.ax, g),
                L::load(&self.ay, g),
                L::load(&self.bx, g),
                L::load(&self.by, g),
            );
            let lambda = by.sub(&ay).mul(&d_inv);
            let x3 = lambda.mul(&lambda).sub(&ax).sub(&bx);
            let y3 = lambda.mul(&ax.sub(&x3)).sub(&ay);
            x3.canonical().spill(&mut xs);
            y3.canonical().spill(&mut ys);
            for lane in 0..8 {
                let Some(&dst) = self.dst.get(8 * g + lane) else {
                    break;
                };
                let o = out[dst as usize].as_mut();
                for k in 0..w {
                    o[k] = xs[k][lane];
                    o[w + k] = ys[k][lane];
                }
            }
        }
        self.dst.clear();
        Some(())
    }
}

/// `a + b` by arkworks, for the pairs the vector code leaves out.
fn add_special<L: LaneField>(a: &L::Point, b: &L::Point) -> L::Point {
    let sum = match (L::point_from(a), L::point_from(b)) {
        (None, None) => return L::INFINITY,
        (Some(p), None) | (None, Some(p)) => p,
        (Some(p), Some(q)) => (p + q).into(),
    };
    L::point_to(&sum)
}

impl<L: LaneField> PairBatch for Batch52<L> {
    type Pt = L::Point;
    const INFINITY: L::Point = L::INFINITY;

    #[inline(always)]
    fn is_infinity(p: &L::Point) -> bool {
        p.as_ref()[L::WORDS..].iter().all(|&l| l == 0)
    }

    #[inline(always)]
    fn push(&mut self, pa: L::Point, pb: L::Point, dst: u32) {
        let (a, b) = (pa.as_ref(), pb.as_ref());
        let w = L::WORDS;
        if a[w..].iter().all(|&l| l == 0) || b[w..].iter().all(|&l| l == 0) || a[..w] == b[..w] {
            self.special.push((dst, add_special::<L>(&pa, &pb)));
            return;
        }
        let i = self.dst.len();
        for k in 0..w {
            self.ax[k][i] = a[k];
            self.ay[k][i] = a[w + k];
            self.bx[k][i] = b[k];
            self.by[k][i] = b[w + k];
        }
        self.dst.push(dst);
    }

    #[inline(always)]
    fn is_full(&self) -> bool {
        self.dst.len() >= BATCH || self.special.len() >= BATCH
    }

    #[inline(always)]
    fn flush(&mut self, out: &mut [L::Point]) -> Option<()> {
        self.run(out)?;
        for (dst, p) in self.special.drain(..) {
            out[dst as usize] = p;
        }
        Some(())
    }
}

//! The CPU MSM: Pippenger's bucket method with signed digits and **batch-affine** bucket
//! accumulation, for G1 (coordinates in Fq) and G2 (in Fq2), on our own field arithmetic
//! ([`super::field`]).
//!
//! **Digits.** Scalars are split into `W = ⌈255/c⌉` (GLV: `⌈128/c⌉`) signed base-`2^c` digits
//! (`msm::signed_digits`, the same decomposition the GPU plan uses), so a window has `2^(c−1)`
//! buckets and a negative digit adds the negated point (`(x, −y)`, free in affine form).
//!
//! **Sort, then add in pairs.** For one window and a chunk of the points, the points are
//! counting-sorted by bucket (4-byte entries: index and sign). Each bucket's points are then summed
//! as a tree: every round adds the points of every bucket in pairs, halving them, until each bucket
//! holds one point. All pairs of a round are independent, so they are added in affine coordinates
//! in batches of [`BATCH`] sharing one field inversion (Montgomery's trick): an addition costs
//! 6 multiplications (3 for its share of the batch inversion, then λ, λ², and y), against 11 for
//! the mixed Jacobian addition arkworks' buckets use. Skewed scalars cost nothing extra: a
//! witness's 0/1 values put most points into one bucket of window 0, which the tree sums in
//! `log₂ m` rounds of large batches (a bucket filled point by point would serialise them: the 0/1
//! fast path comes for free, and zero digits are skipped before sorting).
//!
//! **Buckets to window sum** with the running-sum trick, `2·2^(c−1)` additions per window, in
//! batch-affine form too: the buckets are cut into segments whose running sums advance together,
//! one batch (one inversion) per step (`bucket_sum_batched`); windows are combined by Horner's
//! rule.
//!
//! **GLV** ([`super::glv`], [`GlvUse`]): built and tested, off by default (it loses on the
//! machine measured; `RUSTORIUM_CPU_GLV=on` turns it on).
//!
//! **Parallelism without locks.** The work is `W × K` independent tasks (window × point chunk,
//! `K` = rayon's threads for large MSMs) over rayon; each task owns its buckets and scratch. The
//! window size minimises an operation count ([`window_bits`]).
//!
//! **Affine infinity** is `y = 0`: no point of BN254's G1 or of its twist E'(Fq2) has order two
//! (both groups have odd order), so `y = 0` never occurs on the curve. Bases that are the identity
//! are read as this marker; a base with `y = 0` that is not the identity (not on the curve) makes
//! the call fall back to arkworks, so malformed keys get arkworks' answer, never a panic.

use ark_ec::scalar_mul::glv::GLVConfig;
use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ec::{AdditiveGroup, AffineRepr, VariableBaseMSM};
use ark_ff::{PrimeField, Zero};
use rayon::prelude::*;

use super::FieldPath;
use super::field::Fq;
use super::glv::{Glv, HALF_BITS, Halves};
use crate::ScalarBigInt;
use crate::msm::signed_digits;

/// Additions that share one inversion. Larger batches amortise the inversion further but leave
/// the L2 cache (the batch's inputs, outputs and prefix products).
pub const BATCH: usize = 1024;

/// Independent product chains in a batch inversion.
const LANES: usize = 4;

/// The field operations an affine addition needs (Fq for G1, Fq2 for G2).
pub trait Coord: Copy + Send + Sync + PartialEq + 'static {
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
    /// Sum.
    fn add(self, o: Self) -> Self;
    /// Difference.
    fn sub(self, o: Self) -> Self;
    /// Product.
    fn mul(self, o: Self) -> Self;
    /// Square.
    fn square(self) -> Self;
    /// Negation.
    fn neg(self) -> Self;
    /// Whether zero.
    fn is_zero(&self) -> bool;
    /// Inverse (`None` for zero).
    fn inverse(self) -> Option<Self>;
}

impl Coord for Fq {
    const ZERO: Self = Fq::ZERO;
    const ONE: Self = Fq::ONE;
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        Fq::add(self, o)
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        Fq::sub(self, o)
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        Fq::mul(self, o)
    }
    #[inline(always)]
    fn square(self) -> Self {
        Fq::square(self)
    }
    #[inline(always)]
    fn neg(self) -> Self {
        Fq::neg(self)
    }
    #[inline(always)]
    fn is_zero(&self) -> bool {
        Fq::is_zero(self)
    }
    fn inverse(self) -> Option<Self> {
        Fq::inverse(self)
    }
}

/// Fq2 = Fq[u]/(u² + 1), BN254's G2 coordinates, on our Fq.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fq2 {
    /// The constant coefficient.
    pub c0: Fq,
    /// The coefficient of `u`.
    pub c1: Fq,
}

impl Coord for Fq2 {
    const ZERO: Self = Fq2 {
        c0: Fq::ZERO,
        c1: Fq::ZERO,
    };
    const ONE: Self = Fq2 {
        c0: Fq::ONE,
        c1: Fq::ZERO,
    };
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        Fq2 {
            c0: self.c0.add(o.c0),
            c1: self.c1.add(o.c1),
        }
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        Fq2 {
            c0: self.c0.sub(o.c0),
            c1: self.c1.sub(o.c1),
        }
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        // Karatsuba: three Fq products.
        let v0 = self.c0.mul(o.c0);
        let v1 = self.c1.mul(o.c1);
        let s = self.c0.add(self.c1).mul(o.c0.add(o.c1));
        Fq2 {
            c0: v0.sub(v1),
            c1: s.sub(v0).sub(v1),
        }
    }
    #[inline(always)]
    fn square(self) -> Self {
        // (a + bu)² = (a + b)(a − b) + 2ab·u: two Fq products.
        let ab = self.c0.mul(self.c1);
        Fq2 {
            c0: self.c0.add(self.c1).mul(self.c0.sub(self.c1)),
            c1: ab.double(),
        }
    }
    #[inline(always)]
    fn neg(self) -> Self {
        Fq2 {
            c0: self.c0.neg(),
            c1: self.c1.neg(),
        }
    }
    #[inline(always)]
    fn is_zero(&self) -> bool {
        self.c0.is_zero() && self.c1.is_zero()
    }
    fn inverse(self) -> Option<Self> {
        use ark_ff::Field;
        let x = ark_bn254::Fq2::new(self.c0.to_ark(), self.c1.to_ark()).inverse()?;
        Some(Fq2 {
            c0: Fq::from_ark(&x.c0),
            c1: Fq::from_ark(&x.c1),
        })
    }
}

/// A curve whose MSM runs here: arkworks' curve (with its GLV endomorphism) and our coordinates
/// for it.
pub trait BatchCurve: GLVConfig<ScalarField = ark_bn254::Fr> {
    /// Our coordinate field.
    type C: Coord;
    /// arkworks' coordinate to ours (a copy of limbs).
    fn to_c(x: &Self::BaseField) -> Self::C;
    /// Ours to arkworks'.
    fn from_c(c: Self::C) -> Self::BaseField;
    /// The window sums on this curve's vector path for `path`, where it has one and `path` runs
    /// it (`None`: use the scalar tasks; `Some(None)`: the path failed, fall back).
    fn vector_sums(
        _path: FieldPath,
        _bases: &[Affine<Self>],
        _plan: &Plan<'_>,
    ) -> Option<Option<Vec<Projective<Self>>>> {
        None
    }
}

/// The tasks of one MSM: digits per point chunk (window-major within it) and the layout.
pub struct Plan<'a> {
    /// Entries `n..2n` are `φ(P_i)` (GLV), after the `n` bases.
    endo: bool,
    digits: &'a [Vec<i32>],
    chunk_len: usize,
    windows: usize,
    buckets: usize,
}

/// One task: a chunk of bases (in some representation `S`), one window's digits for it, the
/// bucket count → the window's sum over the chunk (`None`: fall back).
type Task<S, P> = fn(&[S], &[i32], usize) -> Option<Projective<P>>;

/// Runs every task (window × chunk) in parallel; results window-major.
fn run_tasks<P: SWCurveConfig, S: Sync>(
    bases: &[S],
    plan: &Plan<'_>,
    task: impl Fn(&[S], &[i32], usize) -> Option<Projective<P>> + Sync,
) -> Option<Vec<Projective<P>>> {
    let chunks = plan.digits.len();
    (0..plan.windows * chunks)
        .into_par_iter()
        .map(|t| {
            let (w, k) = (t / chunks, t % chunks);
            let lo = k * plan.chunk_len;
            let m = plan.digits[k].len() / plan.windows;
            task(
                &bases[lo..lo + m],
                &plan.digits[k][w * m..(w + 1) * m],
                plan.buckets,
            )
        })
        .collect()
}

impl BatchCurve for ark_bn254::g1::Config {
    type C = Fq;
    #[inline(always)]
    fn to_c(x: &ark_bn254::Fq) -> Fq {
        Fq::from_ark(x)
    }
    #[inline(always)]
    fn from_c(c: Fq) -> ark_bn254::Fq {
        c.to_ark()
    }
    fn vector_sums(
        path: FieldPath,
        bases: &[Affine<Self>],
        plan: &Plan<'_>,
    ) -> Option<Option<Vec<Projective<Self>>>> {
        #[cfg(target_arch = "x86_64")]
        return ifma_sums::<Self, super::ifma::V>(path, bases, plan, window_task_ifma_g1);
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (path, bases, plan);
            None
        }
    }
}

/// The window sums on the IFMA path where `path` is it and runs here: the bases converted once,
/// then every task on them.
#[cfg(target_arch = "x86_64")]
fn ifma_sums<P, L>(
    path: FieldPath,
    bases: &[Affine<P>],
    plan: &Plan<'_>,
    task: Task<L::Point, P>,
) -> Option<Option<Vec<Projective<P>>>>
where
    P: GLVConfig,
    L: super::ifma::LaneField<Affine = Affine<P>>,
{
    if path != FieldPath::Ifma || !super::runs_here(path) {
        return None;
    }
    let converted = with_endo(bases, plan.endo, L::point_to);
    Some(run_tasks(&converted, plan, task))
}

/// [`window_task`] on the IFMA batch ([`super::ifma`]) over converted bases.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512ifma,bmi2,adx")]
fn window_task_ifma<P, L>(
    bases: &[L::Point],
    digits: &[i32],
    buckets: usize,
) -> Option<Projective<P>>
where
    P: SWCurveConfig,
    L: super::ifma::LaneField<Affine = Affine<P>>,
{
    use super::ifma;
    window_sum(
        &mut ifma::Batch52::<L>::new(),
        |e| {
            let p = &bases[(e & !NEG) as usize];
            if e & NEG != 0 { ifma::negate(p) } else { *p }
        },
        |e| prefetch(&bases[(e & !NEG) as usize]),
        L::point_from,
        digits,
        buckets,
    )
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn window_task_ifma_g1(
    bases: &[super::ifma::P52],
    digits: &[i32],
    buckets: usize,
) -> Option<Projective<ark_bn254::g1::Config>> {
    // SAFETY: handed out by `vector_sums` only for `FieldPath::Ifma` where `runs_here` holds,
    // i.e. where AVX-512F, IFMA, BMI2 and ADX were detected.
    unsafe { window_task_ifma::<_, super::ifma::V>(bases, digits, buckets) }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn window_task_ifma_g2(
    bases: &[super::ifma::P104],
    digits: &[i32],
    buckets: usize,
) -> Option<Projective<ark_bn254::g2::Config>> {
    // SAFETY: as for `window_task_ifma_g1`.
    unsafe { window_task_ifma::<_, super::ifma::V2>(bases, digits, buckets) }
}

impl BatchCurve for ark_bn254::g2::Config {
    type C = Fq2;
    #[inline(always)]
    fn to_c(x: &ark_bn254::Fq2) -> Fq2 {
        Fq2 {
            c0: Fq::from_ark(&x.c0),
            c1: Fq::from_ark(&x.c1),
        }
    }
    #[inline(always)]
    fn from_c(c: Fq2) -> ark_bn254::Fq2 {
        ark_bn254::Fq2::new(c.c0.to_ark(), c.c1.to_ark())
    }
    fn vector_sums(
        path: FieldPath,
        bases: &[Affine<Self>],
        plan: &Plan<'_>,
    ) -> Option<Option<Vec<Projective<Self>>>> {
        #[cfg(target_arch = "x86_64")]
        return ifma_sums::<Self, super::ifma::V2>(path, bases, plan, window_task_ifma_g2);
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (path, bases, plan);
            None
        }
    }
}

/// An affine point; `y = 0` is the identity (module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Pt<C> {
    x: C,
    y: C,
}

impl<C: Coord> Pt<C> {
    const INFINITY: Self = Pt {
        x: C::ZERO,
        y: C::ZERO,
    };

    #[inline(always)]
    fn is_infinity(&self) -> bool {
        self.y.is_zero()
    }
}

/// The entry flag of a negated point.
const NEG: u32 = 1 << 31;

#[inline(always)]
fn fetch<P: BatchCurve>(bases: &[Affine<P>], entry: u32) -> Pt<P::C> {
    let p = &bases[(entry & !NEG) as usize];
    if p.is_zero() {
        return Pt::INFINITY;
    }
    let y = P::to_c(&p.y);
    Pt {
        x: P::to_c(&p.x),
        y: if entry & NEG != 0 { y.neg() } else { y },
    }
}

/// How many entries ahead round 1 prefetches its (random) bases.
const PREFETCH: usize = 24;

/// Asks the CPU to bring `x`'s cache line in (a hint: no effect on memory or results).
#[inline(always)]
#[allow(unsafe_code)]
fn prefetch<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and changes no memory; the address comes from a reference.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
            (x as *const T).cast(),
        )
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

/// Affine additions in batches: the scalar one below ([`Batch`]) and the AVX-512 IFMA one
/// ([`super::ifma`]). A point's representation is the batch's own; `push` queues `a + b` for
/// `out[dst]`, and the sums are written by `flush`, which the caller runs once the batch
/// `is_full` and at the end (inputs are copied at `push`, so `out` may hold them: a flush reads
/// nothing from it).
pub(crate) trait PairBatch {
    /// A point as this batch stores it.
    type Pt: Copy + Send + Sync;
    /// The identity.
    const INFINITY: Self::Pt;
    /// Whether `p` is the identity.
    fn is_infinity(p: &Self::Pt) -> bool;
    /// Queues `a + b` for `out[dst]`.
    fn push(&mut self, a: Self::Pt, b: Self::Pt, dst: u32);
    /// Whether the batch should be flushed now.
    fn is_full(&self) -> bool;
    /// Writes every queued sum.
    fn flush(&mut self, out: &mut [Self::Pt]) -> Option<()>;
}

/// A batch of pair additions: inputs, destinations, and the scratch of the batch inversion.
struct Batch<C> {
    a: Vec<Pt<C>>,
    b: Vec<Pt<C>>,
    dst: Vec<u32>,
    den: Vec<C>,
    prefix: Vec<C>,
}

impl<C: Coord> PairBatch for Batch<C> {
    type Pt = Pt<C>;
    const INFINITY: Pt<C> = Pt::INFINITY;
    #[inline(always)]
    fn is_infinity(p: &Pt<C>) -> bool {
        p.is_infinity()
    }
    #[inline(always)]
    fn push(&mut self, a: Pt<C>, b: Pt<C>, dst: u32) {
        self.a.push(a);
        self.b.push(b);
        self.dst.push(dst);
    }
    #[inline(always)]
    fn is_full(&self) -> bool {
        self.a.len() >= BATCH
    }
    #[inline(always)]
    fn flush(&mut self, out: &mut [Pt<C>]) -> Option<()> {
        Batch::flush(self, out)
    }
}

impl<C: Coord> Batch<C> {
    fn new() -> Self {
        Self {
            a: Vec::with_capacity(BATCH),
            b: Vec::with_capacity(BATCH),
            dst: Vec::with_capacity(BATCH),
            den: Vec::with_capacity(BATCH),
            prefix: Vec::with_capacity(BATCH),
        }
    }

    /// Adds every pair and writes the sums to `out[dst]`. `None` only if the product of the
    /// denominators were zero, which the classification below rules out for points on the curve.
    #[inline(always)]
    fn flush(&mut self, out: &mut [Pt<C>]) -> Option<()> {
        let n = self.a.len();
        if n == 0 {
            return Some(());
        }
        self.den.clear();
        self.prefix.clear();
        // Pass 1: each pair's denominator (x₂ − x₁, or 2y for a doubling, or 1 where no inversion
        // is needed) and the running product before it.
        // Four interleaved product chains (lane k mod 4): a multiplication's latency, not its
        // throughput, would bound one chain.
        let mut acc = [C::ONE; LANES];
        for k in 0..n {
            let (p, q) = (self.a[k], self.b[k]);
            let den = if p.is_infinity() || q.is_infinity() {
                C::ONE
            } else if p.x == q.x {
                if p.y == q.y { p.y.add(p.y) } else { C::ONE }
            } else {
                q.x.sub(p.x)
            };
            let lane = &mut acc[k % LANES];
            self.prefix.push(*lane);
            self.den.push(den);
            *lane = lane.mul(den);
        }
        // The lanes' inverses from one inversion (the same trick on four values).
        let mut below = [C::ONE; LANES];
        for l in 1..LANES {
            below[l] = below[l - 1].mul(acc[l - 1]);
        }
        let mut all = below[LANES - 1].mul(acc[LANES - 1]).inverse()?;
        let mut inv = [C::ONE; LANES];
        for l in (0..LANES).rev() {
            inv[l] = all.mul(below[l]);
            all = all.mul(acc[l]);
        }
        // Pass 2, backwards: 1/den_k = inv·prefix_k, then drop den_k from its lane's inverse.
        for k in (0..n).rev() {
            let (p, q) = (self.a[k], self.b[k]);
            let lane = &mut inv[k % LANES];
            let d_inv = lane.mul(self.prefix[k]);
            *lane = lane.mul(self.den[k]);
            let r = if p.is_infinity() {
                q
            } else if q.is_infinity() {
                p
            } else if p.x == q.x && p.y != q.y {
                Pt::INFINITY
            } else {
                let lambda = if p.x == q.x {
                    // Doubling (a = 0): λ = 3x² / 2y.
                    let x2 = p.x.square();
                    x2.add(x2).add(x2).mul(d_inv)
                } else {
                    q.y.sub(p.y).mul(d_inv)
                };
                let x3 = lambda.square().sub(p.x).sub(q.x);
                let y3 = lambda.mul(p.x.sub(x3)).sub(p.y);
                Pt { x: x3, y: y3 }
            };
            out[self.dst[k] as usize] = r;
        }
        self.a.clear();
        self.b.clear();
        self.dst.clear();
        Some(())
    }
}

/// One task: `Σ_i digit_i·P_i` for one window's digits of a chunk of points, as the window's
/// `Σ_k (k + 1)·bucket_k`. `None` on an impossible inversion failure (the caller falls back).
#[inline(always)]
fn window_task<P: BatchCurve>(
    bases: &[Affine<P>],
    digits: &[i32],
    buckets: usize,
) -> Option<Projective<P>> {
    window_sum(
        &mut Batch::<P::C>::new(),
        |e| fetch(bases, e),
        |e| prefetch(&bases[(e & !NEG) as usize]),
        |p: &Pt<P::C>| {
            (!p.is_infinity()).then(|| Affine::<P>::new_unchecked(P::from_c(p.x), P::from_c(p.y)))
        },
        digits,
        buckets,
    )
}

/// [`window_task`] on any [`PairBatch`]: `fetch` reads (and for a negative entry negates) a base,
/// `ahead` prefetches one, `affine` converts a bucket's point (`None` for the identity).
#[inline(always)]
pub(crate) fn window_sum<P: SWCurveConfig, B: PairBatch>(
    batch: &mut B,
    fetch: impl Fn(u32) -> B::Pt,
    ahead_of: impl Fn(u32),
    affine: impl Fn(&B::Pt) -> Option<Affine<P>>,
    digits: &[i32],
    buckets: usize,
) -> Option<Projective<P>> {
    // Counting sort of the nonzero digits by bucket.
    let mut count = vec![0u32; buckets + 1];
    for &d in digits {
        if d != 0 {
            count[d.unsigned_abs() as usize] += 1;
        }
    }
    // count[b + 1] = entries of bucket b; turn it into start offsets (start[b] = count[b]).
    let mut start = vec![0u32; buckets + 1];
    for b in 0..buckets {
        start[b + 1] = start[b] + count[b + 1];
    }
    let total = start[buckets] as usize;
    if total == 0 {
        return Some(Projective::zero());
    }
    let most = count.iter().max().copied().unwrap_or(0) as usize;
    let occupied = count.iter().filter(|&&k| k != 0).count();
    if occupied >= 4 * BATCH && most * BATCH <= 2 * total {
        #[cfg(test)]
        IN_ORDER_TASKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return in_order(batch, fetch, affine, digits, buckets);
    }
    let mut next = start.clone();
    let mut entries = vec![0u32; total];
    for (i, &d) in digits.iter().enumerate() {
        if d != 0 {
            let b = (d.unsigned_abs() - 1) as usize;
            entries[next[b] as usize] = i as u32 | if d < 0 { NEG } else { 0 };
            next[b] += 1;
        }
    }
    drop(next);
    // Round 1, from the entries into `pts`: bucket b's ⌈m/2⌉ sums go to pts[at[b]..].
    let mut at = vec![0u32; buckets + 1];
    let mut len = vec![0u32; buckets];
    for b in 0..buckets {
        let m = start[b + 1] - start[b];
        len[b] = m.div_ceil(2);
        at[b + 1] = at[b] + len[b];
    }
    let mut pts = vec![B::INFINITY; at[buckets] as usize];
    let mut active = Vec::new();
    for b in 0..buckets {
        let e = &entries[start[b] as usize..start[b + 1] as usize];
        for j in 0..e.len() / 2 {
            // The bases are read in bucket order, i.e. at random: ask for them ahead.
            let ahead = start[b] as usize + 2 * j + PREFETCH;
            if let Some(pair) = entries.get(ahead..ahead + 2) {
                ahead_of(pair[0]);
                ahead_of(pair[1]);
            }
            let (p, q) = (fetch(e[2 * j]), fetch(e[2 * j + 1]));
            batch.push(p, q, at[b] + j as u32);
            if batch.is_full() {
                batch.flush(&mut pts)?;
            }
        }
        if e.len() % 2 == 1 {
            pts[(at[b] + len[b] - 1) as usize] = fetch(e[e.len() - 1]);
        }
        if len[b] >= 2 {
            active.push(b);
        }
    }
    batch.flush(&mut pts)?;
    drop(entries);
    // Later rounds, in place: pair j of a bucket goes to its slot j (inputs 2j, 2j + 1 ≥ j).
    while !active.is_empty() {
        for &b in &active {
            let (s, l) = (at[b], len[b]);
            for j in 0..l / 2 {
                let (p, q) = (pts[(s + 2 * j) as usize], pts[(s + 2 * j + 1) as usize]);
                batch.push(p, q, s + j);
                if batch.is_full() {
                    batch.flush(&mut pts)?;
                }
            }
        }
        batch.flush(&mut pts)?;
        for &b in &active {
            let (s, l) = (at[b], len[b]);
            if l % 2 == 1 {
                pts[(s + l / 2) as usize] = pts[(s + l - 1) as usize];
            }
            len[b] = l.div_ceil(2);
        }
        active.retain(|&b| len[b] >= 2);
    }
    let bk: Vec<B::Pt> = (0..buckets)
        .map(|b| {
            if len[b] == 1 {
                pts[at[b] as usize]
            } else {
                B::INFINITY
            }
        })
        .collect();
    drop(pts);
    bucket_sum_batched(batch, &bk, affine)
}

/// Tasks that took the in-order path (tests check that their inputs reach it).
#[cfg(test)]
pub(crate) static IN_ORDER_TASKS: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(0);

/// Segments of a window's bucket sum ([`bucket_sum_batched`]) for `m` buckets: a power of two
/// near `√(14·m)`, which balances the `2m/T` batch inversions (~300 multiplications each) against
/// the `3T` Jacobian additions that combine the segments (~14 each); 1 (no segments) below 256
/// buckets.
fn segments(m: usize) -> usize {
    if m < 256 {
        return 1;
    }
    (((14 * m) as f64).sqrt() as usize)
        .next_power_of_two()
        .min(m / 4)
}

/// Multiplications of one window's bucket sum over `m` buckets, by [`segments`]' count: two
/// batch-affine additions per bucket (≈ 6 each), the inversions, and the combination; 27 per
/// bucket for the running sums in Jacobian form without segments.
fn bucket_sum_cost(m: usize) -> u64 {
    let (m, t) = (m as u64, segments(m) as u64);
    if t == 1 {
        return m * 27;
    }
    12 * m + 2 * (m / t) * 300 + 3 * t * 14
}

/// `Σ (k + 1)·bk[k]` with the running sums in batch-affine form: the buckets are cut into `T`
/// segments of `L` ([`segments`]), whose running sums advance together, one batch of `T`
/// additions per step (`r_j += bk[jL + t]`, then `s_j += r_j`, for `t` from `L − 1` down), so
/// every addition shares an inversion with `T − 1` others. Then `Σ = Σ_j s_j + L·Σ_j j·r_j` in
/// Jacobian form (`3T` additions and `log₂ L` doublings). Few buckets take [`bucket_sum`].
#[inline(always)]
fn bucket_sum_batched<P: SWCurveConfig, B: PairBatch>(
    batch: &mut B,
    bk: &[B::Pt],
    affine: impl Fn(&B::Pt) -> Option<Affine<P>>,
) -> Option<Projective<P>> {
    let m = bk.len();
    let t = segments(m);
    if t == 1 || !m.is_power_of_two() {
        return Some(bucket_sum(bk.iter().rev().map(&affine)));
    }
    let l = m / t;
    let mut r = vec![B::INFINITY; t];
    let mut s = vec![B::INFINITY; t];
    for step in (0..l).rev() {
        for j in 0..t {
            batch.push(r[j], bk[j * l + step], j as u32);
            if batch.is_full() {
                batch.flush(&mut r)?;
            }
        }
        batch.flush(&mut r)?;
        for j in 0..t {
            batch.push(s[j], r[j], j as u32);
            if batch.is_full() {
                batch.flush(&mut s)?;
            }
        }
        batch.flush(&mut s)?;
    }
    let mut total = Projective::<P>::zero();
    for p in s.iter().filter_map(&affine) {
        total += &p;
    }
    // Σ_j j·r_j: the running sums over r_1.. from the top.
    let mut weighted = bucket_sum(r[1..].iter().rev().map(&affine));
    for _ in 0..l.trailing_zeros() {
        weighted.double_in_place();
    }
    Some(total + weighted)
}

/// `Σ (k + 1)·bucket_k` by running sums, given the buckets from the top one down.
#[inline(always)]
fn bucket_sum<P: SWCurveConfig>(
    top_down: impl Iterator<Item = Option<Affine<P>>>,
) -> Projective<P> {
    let mut running = Projective::<P>::zero();
    let mut sum = Projective::<P>::zero();
    for p in top_down {
        if let Some(p) = p {
            running += &p;
        }
        if !running.is_zero() {
            sum += &running;
        }
    }
    sum
}

/// The window sum with the points taken in order (bases read sequentially, buckets at random):
/// each point is added to its bucket in the current batch unless that bucket already has an
/// addition queued, in which case the point waits for the next batch. For digits spread over the
/// buckets (no bucket holds more than `2/BATCH` of them) and at least `4·BATCH` buckets in use
/// (so a batch rarely meets a busy bucket): [`window_sum`] checks. Skewed digits would leave one
/// addition per batch, and few buckets in use (small windows, or a top window whose digits are
/// short, as GLV's halves leave it) many waiting points: they take the sorted path.
#[inline(always)]
fn in_order<P: SWCurveConfig, B: PairBatch>(
    batch: &mut B,
    fetch: impl Fn(u32) -> B::Pt,
    affine: impl Fn(&B::Pt) -> Option<Affine<P>>,
    digits: &[i32],
    buckets: usize,
) -> Option<Projective<P>> {
    /// Buckets, the batch each has an addition queued in, and the points waiting.
    struct State<T> {
        bk: Vec<T>,
        stamp: Vec<u32>,
        epoch: u32,
        waiting: Vec<u32>,
    }
    #[inline(always)]
    fn place<B: PairBatch>(st: &mut State<B::Pt>, batch: &mut B, e: u32, b: usize, p: B::Pt) {
        if st.stamp[b] == st.epoch {
            st.waiting.push(e);
        } else if B::is_infinity(&st.bk[b]) {
            st.bk[b] = p;
        } else {
            batch.push(st.bk[b], p, b as u32);
            st.stamp[b] = st.epoch;
        }
    }
    let bucket = |e: u32| (digits[(e & !NEG) as usize].unsigned_abs() - 1) as usize;
    let mut st = State {
        bk: vec![B::INFINITY; buckets],
        stamp: vec![0u32; buckets],
        epoch: 1,
        waiting: Vec::new(),
    };
    for (i, &d) in digits.iter().enumerate() {
        if d == 0 {
            continue;
        }
        let e = i as u32 | if d < 0 { NEG } else { 0 };
        place(&mut st, batch, e, bucket(e), fetch(e));
        if batch.is_full() {
            batch.flush(&mut st.bk)?;
            st.epoch += 1;
            for e in std::mem::take(&mut st.waiting) {
                place(&mut st, batch, e, bucket(e), fetch(e));
                if batch.is_full() {
                    batch.flush(&mut st.bk)?;
                    st.epoch += 1;
                }
            }
        }
    }
    loop {
        batch.flush(&mut st.bk)?;
        st.epoch += 1;
        if st.waiting.is_empty() {
            break;
        }
        for e in std::mem::take(&mut st.waiting) {
            place(&mut st, batch, e, bucket(e), fetch(e));
            if batch.is_full() {
                batch.flush(&mut st.bk)?;
                st.epoch += 1;
            }
        }
    }
    bucket_sum_batched(batch, &st.bk, affine)
}

/// The portable instance of [`window_task`].
fn window_task_portable<P: BatchCurve>(
    bases: &[Affine<P>],
    digits: &[i32],
    buckets: usize,
) -> Option<Projective<P>> {
    window_task(bases, digits, buckets)
}

/// The BMI2/ADX instance of [`window_task`] (`mulx` in the field arithmetic).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "bmi2,adx")]
fn window_task_adx<P: BatchCurve>(
    bases: &[Affine<P>],
    digits: &[i32],
    buckets: usize,
) -> Option<Projective<P>> {
    window_task(bases, digits, buckets)
}

/// [`window_task`] on `path` (the portable one unless this CPU runs `Bmi2Adx`).
#[allow(unsafe_code)]
fn window_task_dispatch<P: BatchCurve>(
    path: FieldPath,
    bases: &[Affine<P>],
    digits: &[i32],
    buckets: usize,
) -> Option<Projective<P>> {
    #[cfg(target_arch = "x86_64")]
    if path != FieldPath::Portable && super::runs_here(path) {
        // SAFETY: `runs_here` holds for a path above `Portable` only where
        // `is_x86_feature_detected!` found BMI2 and ADX, the features this instance needs.
        return unsafe { window_task_adx(bases, digits, buckets) };
    }
    window_task_portable(bases, digits, buckets)
}

/// The window size for tasks of `points` points of `bits`-bit scalars, and its operation count:
/// minimises `W·(points·7 + bucket sum)` with `W = ⌈bits/c⌉` (an affine addition ≈ 7
/// multiplications with its bookkeeping; the bucket sum by `bucket_sum_cost`).
pub fn window_bits(points: usize, bits: u32) -> (u32, u64) {
    (2..=16u32)
        .map(|c| {
            let w = u64::from(bits.div_ceil(c));
            (c, w * (points as u64 * 7 + bucket_sum_cost(1 << (c - 1))))
        })
        .min_by_key(|&(_, cost)| cost)
        .unwrap_or((8, u64::MAX))
}

/// `f` of every base, then (with `endo`) of every base's `φ(P)`: the `2n` entries of a GLV plan.
fn with_endo<P: GLVConfig, T: Send>(
    bases: &[Affine<P>],
    endo: bool,
    f: impl Fn(&Affine<P>) -> T + Sync,
) -> Vec<T> {
    let mut out: Vec<T> = bases.par_iter().map(&f).collect();
    if endo {
        out.par_extend(
            bases
                .par_iter()
                .map(|b| f(&<P as GLVConfig>::endomorphism_affine(b))),
        );
    }
    out
}

/// `Σ scalars[i]·bases[i]` (equal lengths: the caller checks). Scalars at or above the group order
/// are reduced first (their multiples of `r` vanish on the prime-order group).
pub fn msm<P: BatchCurve>(bases: &[Affine<P>], scalars: &[ScalarBigInt]) -> Projective<P> {
    msm_with(super::field_path(), GlvUse::configured(), bases, scalars)
}

/// Whether an MSM uses the GLV endomorphism ([`super::glv`]). Off by default: on this
/// machine's Zen 4 it gains at 2^16 and loses at 2^20 and in the block proof (BENCHMARKS.md,
/// "Our CPU MSM and NTT"), because halving the windows saves only the bucket sums, which the
/// batch-affine segments already made cheap, while the decomposition, `β·x` and the doubled
/// stream of bases cost per point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GlvUse {
    /// `2n` half-length scalars.
    Always,
    /// `n` full scalars (the default).
    Never,
}

impl GlvUse {
    /// `Always` where `RUSTORIUM_CPU_GLV=on` (benchmarks measure what GLV gains), else `Never`;
    /// read once.
    pub fn configured() -> GlvUse {
        static USE: std::sync::OnceLock<GlvUse> = std::sync::OnceLock::new();
        *USE.get_or_init(|| match std::env::var("RUSTORIUM_CPU_GLV").as_deref() {
            Ok("on") => GlvUse::Always,
            _ => GlvUse::Never,
        })
    }
}

/// [`msm`] on a given field path (tests and benchmarks compare them); `Bmi2Adx` on a CPU without
/// those instructions runs the portable instance.
pub fn msm_on<P: BatchCurve>(
    path: FieldPath,
    bases: &[Affine<P>],
    scalars: &[ScalarBigInt],
) -> Projective<P> {
    msm_with(path, GlvUse::Never, bases, scalars)
}

/// [`msm_on`] with GLV as `glv` says.
pub fn msm_with<P: BatchCurve>(
    path: FieldPath,
    glv: GlvUse,
    bases: &[Affine<P>],
    scalars: &[ScalarBigInt],
) -> Projective<P> {
    let n = bases.len().min(scalars.len());
    let (bases, scalars) = (&bases[..n], &scalars[..n]);
    if n == 0 {
        return Projective::zero();
    }
    if bases.par_iter().any(|p| !p.is_zero() && p.y.is_zero()) {
        // Not on the curve: the marker would be ambiguous (module docs).
        return Projective::<P>::msm_bigint(bases, scalars);
    }
    let modulus = <rustorium_circuits::Fr as PrimeField>::MODULUS;
    let reduced: Vec<ScalarBigInt>;
    let scalars = if scalars.par_iter().any(|s| *s >= modulus) {
        reduced = scalars
            .par_iter()
            .map(|s| {
                <rustorium_circuits::Fr as PrimeField>::from_le_bytes_mod_order(
                    &ark_ff::BigInteger::to_bytes_le(s),
                )
                .into_bigint()
            })
            .collect();
        &reduced[..]
    } else {
        scalars
    };
    let threads = rayon::current_num_threads().max(1);
    let chunks_for = |entries: usize| if entries >= 1 << 12 { threads } else { 1 };
    let use_glv = glv == GlvUse::Always;
    // The GLV halves of every scalar, unless one falls outside the bound (then the plain form).
    let halves: Option<Vec<Halves>> = use_glv
        .then(|| {
            let g = Glv::of::<P>();
            scalars.par_iter().map(|s| g.split(s)).collect()
        })
        .flatten();
    let (entries, bits) = match &halves {
        Some(_) => (2 * n, HALF_BITS),
        None => (n, 255),
    };
    let chunks = chunks_for(entries);
    let chunk_len = entries.div_ceil(chunks);
    let (c, _) = window_bits(chunk_len, bits);
    let windows = bits.div_ceil(c);
    let buckets = 1usize << (c - 1);
    // Digits per chunk, window-major within it (task (w, k) reads one contiguous row).
    let digits: Vec<Vec<i32>> = (0..entries.div_ceil(chunk_len))
        .into_par_iter()
        .map(|k| {
            let (lo, hi) = (k * chunk_len, ((k + 1) * chunk_len).min(entries));
            let len = hi - lo;
            let mut d = vec![0i32; len * windows as usize];
            // A tile of TILE scalars' digits, so each row is written a cache line at a time
            // (scalar by scalar, every digit would touch a line of its own).
            const TILE: usize = 16;
            let mut tile = vec![0i32; TILE * windows as usize];
            for start in (0..len).step_by(TILE) {
                let count = TILE.min(len - start);
                tile.fill(0);
                for t in 0..count {
                    let i = start + t;
                    let (neg, s) = match &halves {
                        Some(h) => {
                            let (neg, m) = h[(lo + i) % n][(lo + i) / n];
                            (neg, ScalarBigInt::new([m as u64, (m >> 64) as u64, 0, 0]))
                        }
                        None => (false, scalars[lo + i]),
                    };
                    if ark_ff::BigInteger::is_zero(&s) {
                        continue;
                    }
                    for (w, digit) in signed_digits(&s, c, windows).enumerate() {
                        tile[w * TILE + t] = if neg { -digit } else { digit };
                    }
                }
                for (w, row) in tile.chunks_exact(TILE).enumerate() {
                    d[w * len + start..w * len + start + count].copy_from_slice(&row[..count]);
                }
            }
            d
        })
        .collect();
    let plan = Plan {
        endo: halves.is_some(),
        digits: &digits,
        chunk_len,
        windows: windows as usize,
        buckets,
    };
    let sums = P::vector_sums(path, bases, &plan).unwrap_or_else(|| {
        // The bases as they are, or (GLV) with their endomorphism images appended.
        let extended;
        let all = if plan.endo {
            extended = with_endo(bases, true, |b| *b);
            &extended[..]
        } else {
            bases
        };
        run_tasks(all, &plan, |b, d, k| window_task_dispatch(path, b, d, k))
    });
    let Some(sums) = sums else {
        return Projective::<P>::msm_bigint(bases, scalars);
    };
    let mut acc = Projective::<P>::zero();
    for w in (0..windows as usize).rev() {
        for _ in 0..c {
            acc.double_in_place();
        }
        for s in &sums[w * digits.len()..(w + 1) * digits.len()] {
            acc += s;
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::CurveGroup;
    use ark_std::UniformRand;
    use ark_std::rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    /// The segmented batch-affine bucket sum equals the Jacobian running sums, on buckets with
    /// identities, repeated points (doublings in the segments' sums) and a point beside its
    /// negation (cancellations), for every window size it serves.
    #[test]
    fn batched_bucket_sum_equals_running_sums() {
        type C = ark_bn254::g1::Config;
        let mut rng = ChaCha20Rng::seed_from_u64(31);
        for c in [9u32, 10, 13, 16] {
            let m = 1usize << (c - 1);
            assert!(segments(m) > 1 && m.is_multiple_of(segments(m)));
            let fresh: Vec<_> = (0..m)
                .map(|_| crate::G1Projective::rand(&mut rng))
                .collect();
            let mut bk = crate::G1Projective::normalize_batch(&fresh);
            for k in 0..m {
                match rng.gen_range(0..8) {
                    0 => bk[k] = Affine::zero(),
                    1 if k > 0 => bk[k] = bk[k - 1],
                    2 if k > 0 => bk[k] = -bk[k - 1],
                    _ => {}
                }
            }
            let want = bucket_sum(bk.iter().rev().map(|p| (!p.is_zero()).then_some(*p)));
            let pts: Vec<Pt<Fq>> = bk
                .iter()
                .map(|p| fetch::<C>(std::slice::from_ref(p), 0))
                .collect();
            let to_affine = |p: &Pt<Fq>| {
                (!p.is_infinity())
                    .then(|| Affine::<C>::new_unchecked(C::from_c(p.x), C::from_c(p.y)))
            };
            let got = bucket_sum_batched(&mut Batch::<Fq>::new(), &pts, to_affine);
            assert_eq!(got, Some(want), "c = {c}");
        }
    }
}

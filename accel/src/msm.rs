//! The GPU MSM's host side, shared by the CUDA and wgpu backends (and the host build of the CUDA
//! kernels in tests): Pippenger with signed windows, planned on the host, accumulated on the device.
//!
//! For a window size `c`, every scalar is split into `W = ⌈255 / c⌉` signed digits
//! `d ∈ [−2^(c−1) + 1, 2^(c−1)]` (a digit above `2^(c−1)` becomes `d − 2^c` and carries one into
//! the next window; the top window never carries because scalars are below 2^254). Digit `d ≠ 0`
//! of window `w` puts `sign(d)·P` into bucket `(w, |d| − 1)`; a window's sum is
//! `Σ_k (k + 1)·bucket_k`, and the MSM is `Σ_w 2^(c·w)·window_w`.
//!
//! The device runs three kernels over the plan below:
//! 1. **accumulate**: one thread per *task*, a run of at most `T` entries of one bucket, adds its
//!    points (mixed Jacobian + affine addition, the point negated for a negative digit). `T` grows
//!    with the bucket (`max(32, √m)` for a bucket of `m` entries), so skewed scalars (witnesses are
//!    mostly 0 and 1: one huge bucket) are split across many threads instead of serialising on one.
//! 2. **combine**: one thread per bucket adds its tasks' partial sums.
//! 3. **reduce**: one thread per *segment* of `L` consecutive buckets of a window computes
//!    `Σ_{k ∈ seg} (k + 1)·bucket_k` with the running-sum trick (`2L` additions) plus one small
//!    scalar multiplication by the segment's offset.
//!
//! The host adds the `W × S` segment results and combines the windows (Horner, `c` doublings per
//! window). Planning (digits and the bucket sort) runs on the host with rayon; moving it to the
//! device (a radix sort) is the next step once it shows in GPU profiles (docs/gpu.md).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{PrimeField, Zero};
use rayon::prelude::*;

use super::{AccelError, G1Affine, G1Projective, G2Affine, G2Projective, ScalarBigInt};

/// Bits of a BN254 scalar, plus one so that the top window never carries.
const SCALAR_BITS: u32 = 255;

/// The window size used when the profile leaves it to us: grows with the MSM so that bucket work
/// (`W · 2^(c−1)`) stays well below point work (`W · n`).
pub fn default_window_bits(n: usize) -> u32 {
    let log = usize::BITS - n.max(1).leading_zeros();
    log.saturating_sub(4).clamp(4, 16)
}

/// The dimensions of a plan, all the host's finish needs (a plan built on the device has no host
/// vectors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsmShape {
    /// Window size `c`.
    pub c: u32,
    /// Windows `W`.
    pub windows: u32,
    /// Buckets per window, `2^(c−1)`.
    pub buckets: u32,
    /// Segments per window `S`.
    pub segments: u32,
    /// Buckets per segment `L`.
    pub seg_len: u32,
}

impl MsmShape {
    /// The shape for window size `c` (2..=20).
    pub fn new(c: u32) -> Result<Self, AccelError> {
        if !(2..=20).contains(&c) {
            return Err(AccelError::Length(format!(
                "window size {c} outside 2..=20"
            )));
        }
        let buckets = 1u32 << (c - 1);
        let seg_len = buckets.min(64);
        Ok(Self {
            c,
            windows: SCALAR_BITS.div_ceil(c),
            buckets,
            segments: buckets / seg_len,
            seg_len,
        })
    }

    /// Buckets in the plan (`W · 2^(c−1)`).
    pub fn total_buckets(&self) -> usize {
        (self.windows * self.buckets) as usize
    }

    /// Segments in the plan (`W · S`).
    pub fn total_segments(&self) -> usize {
        (self.windows * self.segments) as usize
    }

    /// The MSM from the device's segment results (`W · S` of them, window-major): the host part,
    /// for G1 or G2 (the plan depends only on the scalars).
    pub fn finish<G: CurveGroup>(&self, segments: &[G]) -> Result<G, AccelError> {
        if segments.len() != self.total_segments() {
            return Err(AccelError::Length(format!(
                "{} segment results for {} segments",
                segments.len(),
                self.total_segments()
            )));
        }
        let window_sums: Vec<G> = segments
            .par_chunks(self.segments as usize)
            .map(|s| s.iter().sum())
            .collect();
        let mut acc = G::zero();
        for w in window_sums.iter().rev() {
            for _ in 0..self.c {
                acc.double_in_place();
            }
            acc += w;
        }
        Ok(acc)
    }
}

/// A plan of one MSM for the device kernels; see the module docs.
#[derive(Clone, Debug)]
pub struct MsmPlan {
    /// Window size `c`.
    pub c: u32,
    /// Windows `W`.
    pub windows: u32,
    /// Buckets per window, `2^(c−1)`.
    pub buckets: u32,
    /// Segments per window `S`; a segment covers `seg_len` buckets.
    pub segments: u32,
    /// Buckets per segment `L`.
    pub seg_len: u32,
    /// Point indices grouped by bucket, bit 31 set for a negated point.
    pub entries: Vec<u32>,
    /// Tasks: `entries[task_offsets[t]..task_offsets[t + 1]]`, all in one bucket. 64-bit: a plan
    /// has up to windows × points entries, which passes 2^32 at 2^28 points with 16-bit windows
    /// (the CUDA kernels read them as such; wgpu, without 64-bit integers, refuses such a plan).
    pub task_offsets: Vec<u64>,
    /// Tasks of bucket `b` (global index `w·buckets + k`): `bucket_tasks[b]..bucket_tasks[b + 1]`.
    pub bucket_tasks: Vec<u32>,
}

/// The sign bit of an entry.
pub const NEGATE: u32 = 1 << 31;

impl MsmPlan {
    /// Plans `Σ scalars[i]·P_i` with window size `c` (2..=20).
    pub fn new(scalars: &[ScalarBigInt], c: u32) -> Result<Self, AccelError> {
        let shape = MsmShape::new(c)?;
        if scalars.len() >= NEGATE as usize {
            return Err(AccelError::Length(format!(
                "{} scalars exceed the 2^31 the plan indexes",
                scalars.len()
            )));
        }
        let (windows, buckets) = (shape.windows, shape.buckets);
        let w = windows as usize;
        // Signed digits, scalar-major.
        let digits: Vec<i32> = scalars
            .par_iter()
            .flat_map_iter(|s| signed_digits(s, c, windows))
            .collect();
        // Entries per bucket, window by window (windows in parallel).
        let counts: Vec<Vec<u32>> = (0..w)
            .into_par_iter()
            .map(|wi| {
                let mut cnt = vec![0u32; buckets as usize];
                for d in digits.iter().skip(wi).step_by(w) {
                    if *d != 0 {
                        cnt[(d.unsigned_abs() - 1) as usize] += 1;
                    }
                }
                cnt
            })
            .collect();
        let per_window: Vec<usize> = counts
            .iter()
            .map(|c| c.iter().map(|x| *x as usize).sum())
            .collect();
        let total: usize = per_window.iter().sum();
        let mut entries = vec![0u32; total];
        {
            let mut rest = entries.as_mut_slice();
            let mut slices = Vec::with_capacity(w);
            for len in &per_window {
                let (head, tail) = rest.split_at_mut(*len);
                slices.push(head);
                rest = tail;
            }
            slices
                .into_par_iter()
                .zip(counts.par_iter())
                .enumerate()
                .for_each(|(wi, (out, cnt))| {
                    let mut next: Vec<u32> = cnt
                        .iter()
                        .scan(0u32, |acc, c| {
                            let start = *acc;
                            *acc += c;
                            Some(start)
                        })
                        .collect();
                    for (i, d) in digits.iter().skip(wi).step_by(w).enumerate() {
                        if *d != 0 {
                            let k = (d.unsigned_abs() - 1) as usize;
                            let sign = if *d < 0 { NEGATE } else { 0 };
                            out[next[k] as usize] = i as u32 | sign;
                            next[k] += 1;
                        }
                    }
                });
        }
        // Tasks.
        let mut task_offsets = vec![0u64];
        let mut bucket_tasks = Vec::with_capacity(w * buckets as usize + 1);
        let mut at = 0u64;
        let task_index = |len: usize| {
            u32::try_from(len - 1).map_err(|_| {
                AccelError::Length(format!(
                    "an MSM plan of {total} entries has over 2^32 tasks"
                ))
            })
        };
        for cnt in &counts {
            for m in cnt {
                bucket_tasks.push(task_index(task_offsets.len())?);
                let t = task_len(*m);
                let mut left = *m;
                while left > 0 {
                    let take = left.min(t);
                    at += u64::from(take);
                    task_offsets.push(at);
                    left -= take;
                }
            }
        }
        bucket_tasks.push(task_index(task_offsets.len())?);
        Ok(Self {
            c,
            windows,
            buckets,
            segments: shape.segments,
            seg_len: shape.seg_len,
            entries,
            task_offsets,
            bucket_tasks,
        })
    }

    /// Tasks in the plan.
    pub fn tasks(&self) -> usize {
        self.task_offsets.len() - 1
    }

    /// Buckets in the plan (`W · 2^(c−1)`).
    pub fn total_buckets(&self) -> usize {
        self.shape().total_buckets()
    }

    /// Segments in the plan (`W · S`).
    pub fn total_segments(&self) -> usize {
        self.shape().total_segments()
    }

    /// The task offsets as u32, for devices without 64-bit integers (WGSL); refused past 2^32
    /// entries.
    pub fn task_offsets_u32(&self) -> Result<Vec<u32>, AccelError> {
        check_entries(self.entries.len())?;
        Ok(self.task_offsets.iter().map(|&o| o as u32).collect())
    }

    /// The plan's dimensions.
    pub fn shape(&self) -> MsmShape {
        MsmShape {
            c: self.c,
            windows: self.windows,
            buckets: self.buckets,
            segments: self.segments,
            seg_len: self.seg_len,
        }
    }

    /// See [`MsmShape::finish`].
    pub fn finish<G: CurveGroup>(&self, segments: &[G]) -> Result<G, AccelError> {
        self.shape().finish(segments)
    }

    /// Runs the three kernels' steps with arkworks' arithmetic on the host: the reference the
    /// device kernels are compared with step by step, and a check of the plan itself.
    pub fn execute_reference(&self, bases: &[G1Affine]) -> Result<G1Projective, AccelError> {
        let point = |e: u32| -> Result<G1Projective, AccelError> {
            let p = bases
                .get((e & !NEGATE) as usize)
                .ok_or_else(|| AccelError::Length("entry beyond the bases".into()))?;
            Ok(if e & NEGATE != 0 { -*p } else { *p }.into())
        };
        let partial: Vec<G1Projective> = self
            .task_offsets
            .windows(2)
            .map(|r| {
                self.entries[r[0] as usize..r[1] as usize]
                    .iter()
                    .map(|e| point(*e))
                    .sum::<Result<G1Projective, _>>()
            })
            .collect::<Result<_, _>>()?;
        let bucket: Vec<G1Projective> = self
            .bucket_tasks
            .windows(2)
            .map(|r| partial[r[0] as usize..r[1] as usize].iter().sum())
            .collect();
        let segments: Vec<G1Projective> = (0..self.total_segments())
            .map(|g| {
                let (w, s) = (g as u32 / self.segments, g as u32 % self.segments);
                let lo = s * self.seg_len;
                let base = (w * self.buckets + lo) as usize;
                let (mut running, mut sum) = (G1Projective::zero(), G1Projective::zero());
                for k in (0..self.seg_len as usize).rev() {
                    running += bucket[base + k];
                    sum += running;
                }
                sum + running * ark_bn254::Fr::from(lo)
            })
            .collect();
        self.finish(&segments)
    }
}

/// The common start of a device MSM: lengths checked (equal, below the 2^31 points an entry
/// indexes), then `None` for an empty MSM (the identity), else the plan's shape with
/// `window_bits` (0: by size).
pub fn shape_for_device(
    bases: usize,
    scalars: usize,
    window_bits: u32,
) -> Result<Option<MsmShape>, AccelError> {
    if bases != scalars {
        return Err(AccelError::Length(format!(
            "{bases} bases, {scalars} scalars"
        )));
    }
    if bases == 0 {
        return Ok(None);
    }
    if bases >= NEGATE as usize {
        return Err(AccelError::Length(format!(
            "{bases} scalars exceed the 2^31 the plan indexes"
        )));
    }
    let c = match window_bits {
        0 => default_window_bits(bases),
        c => c,
    };
    MsmShape::new(c).map(Some)
}

/// Where task offsets are u32 (wgpu), a plan past 2^32 entries (one per nonzero digit: at most
/// windows × points) is refused with an error, never wrapped (or, with overflow checks, a panic).
/// A device backend's error fails the job over to the CPU.
fn check_entries(total: usize) -> Result<(), AccelError> {
    if u32::try_from(total).is_err() {
        return Err(AccelError::Length(format!(
            "an MSM plan of {total} bucket entries exceeds the 2^32 its offsets index: use a larger window or split the MSM"
        )));
    }
    Ok(())
}

/// Entries per task for a bucket of `m` entries.
fn task_len(m: u32) -> u32 {
    m.isqrt().max(32)
}

/// The `windows` signed base-`2^c` digits of `s`, least significant first.
pub fn signed_digits(s: &ScalarBigInt, c: u32, windows: u32) -> impl Iterator<Item = i32> {
    // Straight from the four limbs (no bit vector per scalar: the host plan's largest cost), and
    // branch-free: a window's bits come from two adjacent limbs read as one u128 (a fifth, zero
    // limb pads the top), the carry is the comparison's result.
    let [l0, l1, l2, l3] = s.0;
    let limbs = [l0, l1, l2, l3, 0, 0];
    let mask = (1u64 << c) - 1;
    let half = 1u64 << (c - 1);
    let mut carry = 0u64;
    (0..windows).map(move |w| {
        let start = (w * c) as usize;
        let (idx, off) = ((start / 64).min(4), start % 64);
        let pair = u128::from(limbs[idx]) | (u128::from(limbs[idx + 1]) << 64);
        let v = ((pair >> off) as u64 & mask) + carry;
        carry = u64::from(v > half);
        (v as i64 - ((carry as i64) << c)) as i32
    })
}

/// Identifies a set of bases a backend may keep on the device between calls: one query of one
/// proving key. Callers promise that an id always comes with the same bases; backends still check
/// the length and a fingerprint of the points (first, middle and last), so a mistaken id costs an
/// upload, not a wrong result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BasesId {
    /// The owner (e.g. a loaded proving key), unique in the process.
    pub owner: u64,
    /// Which of the owner's base vectors (A, B, L, H…).
    pub query: u8,
}

impl BasesId {
    /// A fresh owner id, unique in this process.
    pub fn new_owner() -> u64 {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
}

/// A cheap fingerprint of a base vector (G1 or G2): its length and hashes of three of its points
/// (first, middle, last).
pub fn fingerprint<B: std::hash::Hash>(bases: &[B]) -> (usize, [u64; 3]) {
    use std::hash::{DefaultHasher, Hasher};
    let at = |i: usize| {
        let mut h = DefaultHasher::new();
        if let Some(b) = bases.get(i) {
            b.hash(&mut h);
        }
        h.finish()
    };
    (
        bases.len(),
        [
            at(0),
            at(bases.len() / 2),
            at(bases.len().saturating_sub(1)),
        ],
    )
}

/// Device buffers of bases kept between MSMs, least recently used evicted first, bounded in bytes
/// (the profile's memory limit). A vector larger than the whole budget is not cached: it is
/// uploaded for each call.
pub struct ResidentCache<T> {
    budget: u64,
    inner: Mutex<CacheInner<T>>,
}

type Fingerprint = (usize, [u64; 3]);

struct CacheInner<T> {
    used: u64,
    tick: u64,
    uploads: u64,
    items: HashMap<BasesId, (Arc<T>, u64, u64, Fingerprint)>,
}

impl<T> ResidentCache<T> {
    /// A cache of at most `budget` bytes (0: nothing is kept).
    pub fn new(budget: u64) -> Self {
        Self {
            budget,
            inner: Mutex::new(CacheInner {
                used: 0,
                tick: 0,
                uploads: 0,
                items: HashMap::new(),
            }),
        }
    }

    /// The buffer for `bases`: the cached one when `id` is known with the same fingerprint,
    /// otherwise `upload()`'s (kept when it fits the budget, evicting the least recently used).
    pub fn get_or_upload<B: std::hash::Hash>(
        &self,
        id: Option<BasesId>,
        bases: &[B],
        bytes: u64,
        upload: impl FnOnce() -> Result<T, AccelError>,
    ) -> Result<Arc<T>, AccelError> {
        let fp = fingerprint(bases);
        let mut g = self
            .inner
            .lock()
            .map_err(|_| AccelError::Length("resident cache poisoned".into()))?;
        g.tick += 1;
        let tick = g.tick;
        if let Some(id) = id {
            if let Some(item) = g.items.get_mut(&id)
                && item.3 == fp
            {
                item.2 = tick;
                return Ok(item.0.clone());
            }
            if let Some(old) = g.items.remove(&id) {
                g.used -= old.1;
            }
        }
        g.uploads += 1;
        let buf = Arc::new(upload()?);
        if let Some(id) = id.filter(|_| bytes <= self.budget) {
            while g.used + bytes > self.budget {
                let Some(victim) = g.items.iter().min_by_key(|(_, v)| v.2).map(|(k, _)| *k) else {
                    break;
                };
                if let Some(old) = g.items.remove(&victim) {
                    g.used -= old.1;
                }
            }
            g.used += bytes;
            g.items.insert(id, (buf.clone(), bytes, tick, fp));
        }
        Ok(buf)
    }

    /// Drops `id`'s buffer (after a device error that may have left it invalid).
    pub fn forget(&self, id: Option<BasesId>) {
        if let (Some(id), Ok(mut g)) = (id, self.inner.lock())
            && let Some(old) = g.items.remove(&id)
        {
            g.used -= old.1;
        }
    }

    /// Uploads so far (cache misses).
    pub fn uploads(&self) -> u64 {
        self.inner.lock().map(|g| g.uploads).unwrap_or(0)
    }

    /// Bytes held.
    pub fn used(&self) -> u64 {
        self.inner.lock().map(|g| g.used).unwrap_or(0)
    }
}

/// Bases in the device layout: per point `x` then `y`, arkworks' Montgomery limbs, the identity
/// as all zeros (no point of G1 has `y = 0`).
pub fn bases_limbs(bases: &[G1Affine]) -> Vec<u64> {
    bases
        .par_iter()
        .flat_map_iter(|p| {
            if p.is_zero() {
                [0u64; 8]
            } else {
                let (x, y) = ((p.x.0).0, (p.y.0).0);
                [x[0], x[1], x[2], x[3], y[0], y[1], y[2], y[3]]
            }
        })
        .collect()
}

/// G2 bases in the device layout: per point `x.c0, x.c1, y.c0, y.c1`, arkworks' Montgomery limbs,
/// the identity as all zeros (no point of G2's prime-order group has `y = 0`).
pub fn bases_limbs_g2(bases: &[G2Affine]) -> Vec<u64> {
    bases
        .par_iter()
        .flat_map_iter(|p| {
            let mut l = [0u64; 16];
            if !p.is_zero() {
                for (i, c) in [p.x.c0, p.x.c1, p.y.c0, p.y.c1].iter().enumerate() {
                    l[4 * i..4 * i + 4].copy_from_slice(&(c.0).0);
                }
            }
            l
        })
        .collect()
}

/// A G2 Jacobian point read back from a device (24 limbs: `X`, `Y`, `Z` in Fq2), refused unless
/// every coordinate is canonical.
pub fn jacobian_g2_from_device(
    l: &[u64],
    backend: &'static str,
) -> Result<G2Projective, AccelError> {
    let bad = || AccelError::Device {
        backend,
        message: "device returned a malformed G2 point".into(),
    };
    if l.len() != 24 {
        return Err(bad());
    }
    let fq = |i: usize| -> Result<ark_bn254::Fq, AccelError> {
        let big = ark_ff::BigInt([l[4 * i], l[4 * i + 1], l[4 * i + 2], l[4 * i + 3]]);
        if big >= ark_bn254::Fq::MODULUS {
            return Err(bad());
        }
        Ok(ark_bn254::Fq::new_unchecked(big))
    };
    let fq2 = |i: usize| -> Result<ark_bn254::Fq2, AccelError> {
        Ok(ark_bn254::Fq2::new(fq(2 * i)?, fq(2 * i + 1)?))
    };
    Ok(G2Projective::new_unchecked(fq2(0)?, fq2(1)?, fq2(2)?))
}

/// A Jacobian point read back from a device (12 limbs: `X`, `Y`, `Z`), refused unless every
/// coordinate is canonical (below q).
pub fn jacobian_from_device(l: &[u64], backend: &'static str) -> Result<G1Projective, AccelError> {
    let bad = || AccelError::Device {
        backend,
        message: "device returned a malformed G1 point".into(),
    };
    if l.len() != 12 {
        return Err(bad());
    }
    let coord = |i: usize| -> Result<ark_bn254::Fq, AccelError> {
        let big = ark_ff::BigInt([l[4 * i], l[4 * i + 1], l[4 * i + 2], l[4 * i + 3]]);
        if big >= ark_bn254::Fq::MODULUS {
            return Err(bad());
        }
        Ok(ark_bn254::Fq::new_unchecked(big))
    };
    Ok(G1Projective::new_unchecked(coord(0)?, coord(1)?, coord(2)?))
}

/// The final result of a device MSM (G1 or G2), refused unless it lies on the curve (a cheap last
/// check; the prover's self-verification is the full one).
pub fn checked_result<P: ark_ec::short_weierstrass::SWCurveConfig>(
    p: ark_ec::short_weierstrass::Projective<P>,
    backend: &'static str,
) -> Result<ark_ec::short_weierstrass::Projective<P>, AccelError> {
    if p.into_affine().is_on_curve() {
        Ok(p)
    } else {
        Err(AccelError::Device {
            backend,
            message: "MSM result is not on the curve".into(),
        })
    }
}

/// Projective → affine for many points at once (one inversion), as uploads need.
pub fn to_affine(points: &[G1Projective]) -> Vec<G1Affine> {
    G1Projective::normalize_batch(points)
}

/// Test inputs shared by every backend's MSM tests: random, zero, one and small scalars, repeated
/// bases, the identity among the bases, and a scalar of `r − 1`.
pub fn edge_case_inputs(n: usize, seed: u64) -> Vec<(String, Vec<G1Affine>, Vec<ScalarBigInt>)> {
    edge_case_inputs_in::<G1Projective>(n, seed)
}

/// [`edge_case_inputs`] in any BN254 group (G2 for the G2 MSM tests).
pub fn edge_case_inputs_in<G>(
    n: usize,
    seed: u64,
) -> Vec<(String, Vec<G::Affine>, Vec<ScalarBigInt>)>
where
    G: CurveGroup<ScalarField = ark_bn254::Fr> + ark_ec::PrimeGroup,
{
    use ark_std::UniformRand;
    use ark_std::rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    let bases: Vec<G::Affine> =
        G::normalize_batch(&(0..n).map(|_| G::rand(&mut rng)).collect::<Vec<_>>());
    let fr = |x: ark_bn254::Fr| x.into_bigint();
    let random: Vec<ScalarBigInt> = (0..n).map(|_| fr(ark_bn254::Fr::rand(&mut rng))).collect();
    let mut cases = vec![
        ("random".to_string(), bases.clone(), random.clone()),
        (
            "zero scalars".into(),
            bases.clone(),
            vec![ScalarBigInt::zero(); n],
        ),
        (
            "all ones".into(),
            bases.clone(),
            vec![fr(ark_bn254::Fr::from(1u64)); n],
        ),
        (
            "small 0/1/2/3 and 2^16".into(),
            bases.clone(),
            (0..n)
                .map(|i| fr(ark_bn254::Fr::from([0u64, 1, 2, 3, 1 << 16][i % 5])))
                .collect(),
        ),
        (
            "r - 1 and r - 2".into(),
            bases.clone(),
            (0..n)
                .map(|i| fr(-ark_bn254::Fr::from(1 + (i % 2) as u64)))
                .collect(),
        ),
    ];
    let mut repeated = vec![bases[0]; n];
    for (i, b) in repeated.iter_mut().enumerate().skip(n / 2) {
        *b = bases[i % 3];
    }
    cases.push(("repeated bases".into(), repeated, random.clone()));
    let mut with_identity = bases.clone();
    for b in with_identity.iter_mut().step_by(3) {
        *b = G::Affine::zero();
    }
    cases.push(("identity bases".into(), with_identity, random.clone()));
    // P and −P with equal scalars cancel inside one bucket.
    let mut opposite = bases.clone();
    for i in (1..n).step_by(2) {
        opposite[i] = -opposite[i - 1];
    }
    let same: Vec<ScalarBigInt> = (0..n).map(|i| random[i - i % 2]).collect();
    cases.push(("cancelling pairs".into(), opposite, same));
    let g = G::generator().into_affine();
    cases.push((
        "generator only".into(),
        vec![g; n],
        (0..n)
            .map(|i| fr(ark_bn254::Fr::from(i as u64 + 1)))
            .collect(),
    ));
    cases
}

#[cfg(test)]
mod tests {

    /// Past 2^32 entries a plan is refused with a typed error where its offsets are u32 (they
    /// would wrap).
    #[test]
    fn plans_past_2_pow_32_entries_are_refused() {
        assert!(check_entries(u32::MAX as usize).is_ok());
        let e = check_entries(u32::MAX as usize + 1).expect_err("refused");
        assert!(matches!(e, AccelError::Length(_)), "{e}");
        assert!(check_entries(1 << 40).is_err());
    }
    use super::*;
    use ark_ec::VariableBaseMSM;

    #[test]
    fn signed_digits_recompose_the_scalar() {
        use ark_std::UniformRand;
        let mut rng = ark_std::test_rng();
        let edge = [
            ark_bn254::Fr::zero(),
            ark_bn254::Fr::from(1u64),
            -ark_bn254::Fr::from(1u64),
            ark_bn254::Fr::from(u64::MAX),
        ];
        for c in [2u32, 3, 5, 8, 13, 16, 17, 20] {
            for k in 0..54 {
                let x = edge
                    .get(k)
                    .copied()
                    .unwrap_or_else(|| ark_bn254::Fr::rand(&mut rng));
                let windows = SCALAR_BITS.div_ceil(c);
                let half = 1i32 << (c - 1);
                let mut acc = ark_bn254::Fr::zero();
                let base = ark_bn254::Fr::from(1u64 << c);
                let digits: Vec<i32> = signed_digits(&x.into_bigint(), c, windows).collect();
                for d in digits.iter().rev() {
                    assert!(*d > -half && *d <= half, "digit {d} for c = {c}");
                    acc = acc * base + ark_bn254::Fr::from(i64::from(*d));
                }
                assert_eq!(acc, x);
            }
        }
    }

    #[test]
    fn the_plan_executed_on_the_host_equals_arkworks() {
        for n in [1usize, 7, 100] {
            for (name, bases, scalars) in edge_case_inputs(n, 3) {
                let want = G1Projective::msm_bigint(&bases, &scalars);
                for c in [2u32, 4, 7, default_window_bits(n)] {
                    let plan = MsmPlan::new(&scalars, c).expect("plan");
                    let got = plan.execute_reference(&bases).expect("run");
                    assert_eq!(got, want, "{name}, n = {n}, c = {c}");
                }
            }
        }
        assert!(MsmPlan::new(&[], 1).is_err());
        assert!(MsmPlan::new(&[], 21).is_err());
    }

    #[test]
    fn skewed_scalars_split_their_bucket_into_tasks() {
        let ones = vec![ark_bn254::Fr::from(1u64).into_bigint(); 10_000];
        let plan = MsmPlan::new(&ones, 8).expect("plan");
        // One bucket (window 0, digit 1) holds every entry; it is split into ⌈m / √m⌉ tasks.
        assert_eq!(plan.entries.len(), 10_000);
        assert_eq!(plan.tasks(), 100);
        assert_eq!(plan.bucket_tasks[1] - plan.bucket_tasks[0], 100);
        assert!(
            plan.task_offsets
                .windows(2)
                .all(|w| w[1] - w[0] <= u64::from(task_len(10_000)))
        );
    }

    #[test]
    fn resident_cache_reuses_checks_fingerprints_and_evicts_lru() {
        let bases = to_affine(&[G1Projective::zero(); 4]);
        let other: Vec<G1Affine> = edge_case_inputs(4, 1).remove(0).1;
        let cache = ResidentCache::<u32>::new(100);
        let id = |q| Some(BasesId { owner: 7, query: q });
        let a = cache.get_or_upload(id(0), &bases, 60, || Ok(1)).expect("a");
        assert_eq!(*a, 1);
        // A hit does not upload.
        let a2 = cache
            .get_or_upload(id(0), &bases, 60, || Ok(2))
            .expect("a2");
        assert_eq!((*a2, cache.uploads()), (1, 1));
        // Same id, other points: uploads again and replaces.
        let b = cache.get_or_upload(id(0), &other, 60, || Ok(3)).expect("b");
        assert_eq!((*b, cache.uploads(), cache.used()), (3, 2, 60));
        // A second vector does not fit next to the first: the least recently used goes.
        cache.get_or_upload(id(1), &bases, 50, || Ok(4)).expect("c");
        assert_eq!(cache.used(), 50);
        let again = cache.get_or_upload(id(0), &other, 60, || Ok(5)).expect("d");
        assert_eq!(*again, 5, "evicted entry is uploaded again");
        // Larger than the budget: served, never kept; no id: never kept.
        cache
            .get_or_upload(id(2), &bases, 101, || Ok(6))
            .expect("e");
        cache.get_or_upload(None, &bases, 10, || Ok(7)).expect("f");
        assert_eq!(cache.used(), 60);
        assert_eq!(
            *cache
                .get_or_upload(id(2), &bases, 101, || Ok(8))
                .expect("g"),
            8
        );
        // A failed upload is an error and caches nothing.
        assert!(
            cache
                .get_or_upload(id(3), &bases, 1, || Err(AccelError::Length("x".into())))
                .is_err()
        );
    }
}

//! The NTT on AVX-512 IFMA lanes: [`super::ntt`]'s decimation in frequency, eight butterflies per
//! vector. The input is converted once into five rows of 52-bit limbs (`a·2^260 mod p`, the form
//! of [`super::ifma`], here for Fr), every stage runs on the rows, and one final pass reads them in
//! bit-reversed order, converts back and applies the inverse's scaling in the same product.
//!
//! **Conversions are products.** arkworks stores `A = a·2^256 mod p`. The Montgomery product
//! (R = 2^260) of `A`'s limbs and `2^264 mod p` is `a·2^260`, this path's form; with
//! `g^i·2^264` it also applies the coset's pre-scaling. Back, the product of `a·2^260` and
//! `s·2^256 mod p` is `a·s·2^256`, arkworks' form of `a·s`: the scaling costs nothing extra.
//!
//! **Stages.** Half-widths `h ≥ 8` take eight consecutive butterflies per vector, one pass over
//! the rows per stage while a block of `2h` points exceeds [`BLOCK`], then block by block in cache.
//! The last three stages (h = 4, 2, 1) pair lanes inside one vector: both operands are permuted
//! into place, the sum and the twiddled difference computed in every lane, and a blend keeps each
//! lane's half. Values stay below 2p between stages (as in [`super::ifma`]).

#![allow(unsafe_code)] // AVX-512 intrinsics under run-time feature detection; see the SAFETY notes.
#![allow(clippy::needless_range_loop)] // limb loops index several arrays in step

use core::arch::x86_64::*;
use std::sync::{Arc, OnceLock};

use ark_ff::{BigInt, FftField, Field, Fp, PrimeField};
use rayon::prelude::*;

use super::ifma::{Fr52, V, ZERO, add, canonical, mul, repack, sub};
use super::ntt::{TableCache, cached};
use crate::{AccelError, NttKind};

type ArkFr = ark_bn254::Fr;

/// Points of a block whose remaining stages run in cache.
const BLOCK: usize = 1 << 12;
/// Points per parallel task in the element-wise passes.
const CHUNK: usize = 1 << 12;

/// `v·2^k mod p`, as the five limbs of its canonical integer (the constants of the conversions).
fn limbs_of(v: ArkFr, k: u64) -> [u64; 5] {
    repack((v * ArkFr::from(2u64).pow([k])).into_bigint().0)
}

/// Eight constants as one vector.
#[inline(always)]
fn vector(c: &[[u64; 5]; 8]) -> V {
    let mut rows = [[0u64; 8]; 5];
    for (lane, l) in c.iter().enumerate() {
        for k in 0..5 {
            rows[k][lane] = l[k];
        }
    }
    let mut v = [ZERO; 5];
    for k in 0..5 {
        // SAFETY: inlined only into functions compiled with AVX-512F and IFMA (run after
        // detection); each row holds eight words.
        v[k] = unsafe { _mm512_loadu_si512(rows[k].as_ptr().cast()) };
    }
    V(v)
}

/// `c·step^j` for j < 8, each as limbs of `· 2^k`.
fn powers8(c: ArkFr, step: ArkFr, k: u64) -> [[u64; 5]; 8] {
    let mut x = c;
    core::array::from_fn(|_| {
        let l = limbs_of(x, k);
        x *= step;
        l
    })
}

/// Five rows of limbs, shared by the tasks of a pass that write disjoint ranges of them.
#[derive(Clone, Copy)]
struct Rows([*mut u64; 5]);

// SAFETY: every pass hands each task its own index range to write (see the uses); reads of
// other ranges happen only in later passes, after rayon joined the writers.
unsafe impl Send for Rows {}
// SAFETY: as above.
unsafe impl Sync for Rows {}

impl Rows {
    /// Points `i..i + 8`. Callers keep `i + 8 ≤ n`.
    #[inline(always)]
    fn load(&self, i: usize) -> V {
        let mut v = [ZERO; 5];
        for k in 0..5 {
            // SAFETY: `i + 8 ≤ n`, the rows' length; AVX-512F as in `vector`.
            v[k] = unsafe { _mm512_loadu_si512(self.0[k].add(i).cast()) };
        }
        V(v)
    }

    /// Writes points `i..i + 8`, which belong to the calling task.
    #[inline(always)]
    fn store(&self, i: usize, v: &V) {
        for k in 0..5 {
            // SAFETY: as in `load`; the range is the caller's alone.
            unsafe { _mm512_storeu_si512(self.0[k].add(i).cast(), v.0[k]) };
        }
    }
}

/// The twiddle table of [`super::ntt::twiddles`] in this path's form, one row per limb, kept per
/// size and direction.
fn twiddles52(log_n: u32, inverse: bool) -> Result<Arc<[Vec<u64>; 5]>, AccelError> {
    static CACHE: TableCache<[Vec<u64>; 5]> = OnceLock::new();
    cached(
        &CACHE,
        (log_n, inverse),
        |t| t[0].len() * 40,
        || {
            let t = super::ntt::twiddles(log_n, inverse)?;
            let mut rows: [Vec<u64>; 5] = core::array::from_fn(|_| vec![0u64; t.len()]);
            let limbs: Vec<[u64; 5]> = t.par_iter().map(|w| limbs_of(w.to_ark(), 260)).collect();
            for (i, l) in limbs.iter().enumerate() {
                for k in 0..5 {
                    rows[k][i] = l[k];
                }
            }
            Ok(rows)
        },
    )
}

/// One DIF stage of half-width `h ≥ 8` on points `s..s + 2h` (butterflies `j` in `range`).
#[inline(always)]
fn stage(r: &Rows, t: &Rows, s: usize, h: usize, range: std::ops::Range<usize>) {
    for j in range.step_by(8) {
        let (u, v, w) = (r.load(s + j), r.load(s + h + j), t.load(h + j));
        r.store(s + j, &add::<Fr52>(&u, &v));
        r.store(s + h + j, &mul::<Fr52>(&sub::<Fr52>(&u, &v), &w));
    }
}

/// `x` with its lanes permuted: lane j takes lane `idx[j]`.
#[inline(always)]
fn perm(x: &V, idx: [i64; 8]) -> V {
    let mut out = [ZERO; 5];
    // SAFETY: AVX-512F as in `vector`; `idx` holds eight words.
    unsafe {
        let ix = _mm512_loadu_si512(idx.as_ptr().cast());
        for k in 0..5 {
            out[k] = _mm512_permutexvar_epi64(ix, x.0[k]);
        }
    }
    V(out)
}

/// Lanes of `b` where `m` has a bit, of `a` elsewhere.
#[inline(always)]
fn blend(m: u8, a: &V, b: &V) -> V {
    let mut out = [ZERO; 5];
    for k in 0..5 {
        // SAFETY: AVX-512F as in `vector`.
        out[k] = unsafe { _mm512_mask_blend_epi64(m, a.0[k], b.0[k]) };
    }
    V(out)
}

/// The stages h = 4, 2, 1 on the vector of points `i..i + 8`.
#[inline(always)]
fn last_stages(r: &Rows, i: usize, w4: &V, w2: &V) {
    let mut x = r.load(i);
    // h = 4: lanes j and j + 4.
    let (u, v) = (
        perm(&x, [0, 1, 2, 3, 0, 1, 2, 3]),
        perm(&x, [4, 5, 6, 7, 4, 5, 6, 7]),
    );
    x = blend(
        0xF0,
        &add::<Fr52>(&u, &v),
        &mul::<Fr52>(&sub::<Fr52>(&u, &v), w4),
    );
    // h = 2.
    let (u, v) = (
        perm(&x, [0, 1, 0, 1, 4, 5, 4, 5]),
        perm(&x, [2, 3, 2, 3, 6, 7, 6, 7]),
    );
    x = blend(
        0xCC,
        &add::<Fr52>(&u, &v),
        &mul::<Fr52>(&sub::<Fr52>(&u, &v), w2),
    );
    // h = 1: the twiddle is 1.
    let (u, v) = (
        perm(&x, [0, 0, 2, 2, 4, 4, 6, 6]),
        perm(&x, [1, 1, 3, 3, 5, 5, 7, 7]),
    );
    x = blend(0xAA, &add::<Fr52>(&u, &v), &sub::<Fr52>(&u, &v));
    r.store(i, &x);
}

/// Task of the input pass: points `base..base + chunk.len()` converted (and pre-scaled by
/// `step^i`) into the rows.
#[target_feature(enable = "avx512f,avx512ifma")]
fn convert_in(r: &Rows, chunk: &[ArkFr], base: usize, step: ArkFr) {
    let step8 = vector(&[limbs_of(step.pow([8u64]), 260); 8]);
    let mut factor = vector(&powers8(step.pow([base as u64]), step, 264));
    for (o, x) in chunk.chunks_exact(8).enumerate() {
        let raw: [[u64; 5]; 8] = core::array::from_fn(|j| repack(x[j].0.0));
        r.store(base + 8 * o, &mul::<Fr52>(&vector(&raw), &factor));
        factor = mul::<Fr52>(&factor, &step8);
    }
}

/// Task of a pass over memory: butterflies `range` of the stage `h` block at `s`.
#[target_feature(enable = "avx512f,avx512ifma")]
fn stage_task(r: &Rows, t: &Rows, s: usize, h: usize, range: std::ops::Range<usize>) {
    stage(r, t, s, h, range);
}

/// Task of the in-cache part: every stage from `h` down on the block at `s0`.
#[target_feature(enable = "avx512f,avx512ifma")]
fn block_task(r: &Rows, t: &Rows, tw: &[Vec<u64>; 5], s0: usize, block: usize, h: usize) {
    let w4 = vector(&core::array::from_fn(|l| tw_limbs(tw, 4 + l % 4)));
    let w2 = vector(&core::array::from_fn(|l| tw_limbs(tw, 2 + l % 2)));
    let mut hh = h;
    while hh >= 8 {
        for s in (s0..s0 + block).step_by(2 * hh) {
            stage(r, t, s, hh, 0..hh);
        }
        hh /= 2;
    }
    for i in (s0..s0 + block).step_by(8) {
        last_stages(r, i, &w4, &w2);
    }
}

/// Task of the output pass: points `base..` in natural order from the bit-reversed rows, times
/// `scale·step^i`, back in arkworks' form.
#[target_feature(enable = "avx512f,avx512ifma")]
fn convert_out(
    rows: &[Vec<u64>; 5],
    out: &mut [ArkFr],
    base: usize,
    shift: u32,
    scale: ArkFr,
    step: ArkFr,
) {
    let step8 = vector(&[limbs_of(step.pow([8u64]), 260); 8]);
    let mut factor = vector(&powers8(scale * step.pow([base as u64]), step, 256));
    for (o, out) in out.chunks_exact_mut(8).enumerate() {
        let i = base + 8 * o;
        let idx: [i64; 8] = core::array::from_fn(|j| ((i + j).reverse_bits() >> shift) as i64);
        let mut v = [ZERO; 5];
        // SAFETY: AVX-512F is enabled here; every index is below n, the rows' length.
        unsafe {
            let ix = _mm512_loadu_si512(idx.as_ptr().cast());
            for k in 0..5 {
                v[k] = _mm512_i64gather_epi64::<8>(ix, rows[k].as_ptr().cast());
            }
        }
        let y = canonical::<Fr52>(&mul::<Fr52>(&V(v), &factor));
        factor = mul::<Fr52>(&factor, &step8);
        let mut l = [[0u64; 8]; 5];
        for k in 0..5 {
            // SAFETY: AVX-512F is enabled here; each row has room for eight words.
            unsafe { _mm512_storeu_si512(l[k].as_mut_ptr().cast(), y.0[k]) };
        }
        for (j, x) in out.iter_mut().enumerate() {
            let w = [
                l[0][j] | (l[1][j] << 52),
                (l[1][j] >> 12) | (l[2][j] << 40),
                (l[2][j] >> 24) | (l[3][j] << 28),
                (l[3][j] >> 36) | (l[4][j] << 16),
            ];
            *x = Fp(BigInt(w), core::marker::PhantomData);
        }
    }
}

/// The whole transform (module docs); `data.len() ≥ 16`, a power of two, and only on a CPU
/// with AVX-512 IFMA (the caller, [`ntt`], checks).
fn run(data: &mut [ArkFr], kind: NttKind) -> Result<(), AccelError> {
    let n = data.len();
    let log_n = n.trailing_zeros();
    let d = super::domain(n)?;
    let inverse = matches!(kind, NttKind::Inverse | NttKind::CosetInverse);
    let g = ArkFr::GENERATOR;
    let tw = twiddles52(log_n, inverse)?;
    let t = Rows([
        tw[0].as_ptr().cast_mut(),
        tw[1].as_ptr().cast_mut(),
        tw[2].as_ptr().cast_mut(),
        tw[3].as_ptr().cast_mut(),
        tw[4].as_ptr().cast_mut(),
    ]);
    let mut rows: [Vec<u64>; 5] = core::array::from_fn(|_| vec![0u64; n]);
    let r = Rows(core::array::from_fn(|k| rows[k].as_mut_ptr()));

    // SAFETY (every task call below): `run` is reached only through `ntt`, where
    // `runs_here(Ifma)` found AVX-512F and IFMA on this CPU.
    // In: A·(g^i)·2^264 → a·g^i·2^260 (the coset's g^i only for CosetForward).
    let step = if kind == NttKind::CosetForward {
        g
    } else {
        ArkFr::ONE
    };
    data.par_chunks(CHUNK)
        .enumerate()
        .for_each(|(c, chunk)| unsafe { convert_in(&r, chunk, c * CHUNK, step) });

    // Stages over memory, one pass each, while a butterfly block exceeds BLOCK.
    let mut h = n / 2;
    while 2 * h > BLOCK {
        let per = (h / 8).div_ceil(rayon::current_num_threads() * 4).max(64) * 8;
        let tasks: Vec<(usize, usize)> = (0..n / (2 * h))
            .flat_map(|b| (0..h).step_by(per).map(move |j| (b * 2 * h, j)))
            .collect();
        tasks
            .par_iter()
            .for_each(|&(s, j)| unsafe { stage_task(&r, &t, s, h, j..(j + per).min(h)) });
        h /= 2;
    }
    // The rest block by block, in cache.
    let block = BLOCK.min(n);
    (0..n / block)
        .into_par_iter()
        .for_each(|b| unsafe { block_task(&r, &t, &tw, b * block, block, h) });

    // Out, in natural order: a·2^260 · s·2^256 / 2^260 = (a·s)·2^256, arkworks' form.
    let (scale, step) = match kind {
        NttKind::Inverse => (d.size_inv, ArkFr::ONE),
        NttKind::CosetInverse => (
            d.size_inv,
            g.inverse()
                .ok_or_else(|| AccelError::Length("generator has no inverse".into()))?,
        ),
        _ => (ArkFr::ONE, ArkFr::ONE),
    };
    let shift = usize::BITS - log_n;
    let rows = &rows;
    data.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(c, out)| unsafe { convert_out(rows, out, c * CHUNK, shift, scale, step) });
    Ok(())
}

/// Limbs of twiddle `i` of a table.
fn tw_limbs(tw: &[Vec<u64>; 5], i: usize) -> [u64; 5] {
    core::array::from_fn(|k| tw[k][i])
}

/// The transform on IFMA lanes where this CPU has them (`None`: it does not, or the size is
/// below 16 points; the caller takes the scalar path).
pub fn ntt(data: &mut [ArkFr], kind: NttKind) -> Option<Result<(), AccelError>> {
    if data.len() < 16 || !data.len().is_power_of_two() || !super::runs_here(super::FieldPath::Ifma)
    {
        return None;
    }
    Some(run(data, kind))
}

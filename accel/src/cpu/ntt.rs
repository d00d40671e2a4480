//! The CPU NTT: decimation in frequency (natural order in, bit-reversed out) with the stages taken
//! two at a time (radix 4: four points loaded and stored once per two stages), cache-blocked, then
//! one parallel gather that restores natural order and applies the final scaling; on our own Fr
//! arithmetic ([`super::field`]).
//!
//! **Twiddles** are computed once per domain size and direction and kept ([`twiddles`]): a table
//! `T` of `n` elements with `T[h + j] = ω_{2h}^j` for every stage half-width `h` (a power of two)
//! and `j < h`, so every stage reads its twiddles contiguously. The seven NTTs of a proof's
//! witness map share the two tables of their size.
//!
//! **Stages.** While a butterfly block (`2h` points) is larger than [`BLOCK`], each pair of stages
//! is one parallel pass over memory; the remaining stages run block by block inside the cache (each
//! block independent, in parallel).
//!
//! **Scaling.** A coset transform first multiplies by `g^i`; an inverse transform multiplies by
//! `1/n` (times `g^−i` for the coset), fused into the final reordering gather.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use ark_ff::{FftField, Field};
use rayon::prelude::*;

use super::FieldPath;
use super::field::Fr;
use crate::{AccelError, NttKind};

/// Points a block holds for the in-cache stages (2^12 · 32 B = 128 KiB).
pub const BLOCK: usize = 1 << 12;

/// Chunks of at least this many butterflies per rayon task.
const MIN_PAR: usize = 1 << 10;

/// Tables kept per (log₂ n, inverse), bounded by [`TWIDDLE_BUDGET`] bytes: the scalar path's
/// twiddles here and the IFMA path's (`ntt_ifma`).
pub(crate) type TableCache<T> = OnceLock<Mutex<HashMap<(u32, bool), Arc<T>>>>;

/// The table for `key` from `cache`, made by `make` (of `bytes(table)` bytes) on first use; the
/// cache is emptied first when the new table would pass the budget.
pub(crate) fn cached<T>(
    cache: &TableCache<T>,
    key: (u32, bool),
    bytes: fn(&T) -> usize,
    make: impl FnOnce() -> Result<T, AccelError>,
) -> Result<Arc<T>, AccelError> {
    let cache = cache.get_or_init(Default::default);
    if let Some(t) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(t);
    }
    let t = Arc::new(make()?);
    if let Ok(mut c) = cache.lock() {
        let used: usize = c.values().map(|v| bytes(v)).sum();
        if used + bytes(&t) > TWIDDLE_BUDGET {
            c.clear();
        }
        c.insert(key, t.clone());
    }
    Ok(t)
}

/// Bytes of twiddle tables kept across calls (a 2^22 table is 128 MiB; the prover's are 2^16–2^20).
pub const TWIDDLE_BUDGET: usize = 512 << 20;

/// The table of `ω^{±1}` for size `n = 2^log_n` (see the module docs), computed once and kept.
pub fn twiddles(log_n: u32, inverse: bool) -> Result<Arc<Vec<Fr>>, AccelError> {
    static CACHE: TableCache<Vec<Fr>> = OnceLock::new();
    cached(
        &CACHE,
        (log_n, inverse),
        |t| t.len() * 32,
        || make_twiddles(log_n, inverse),
    )
}

fn make_twiddles(log_n: u32, inverse: bool) -> Result<Vec<Fr>, AccelError> {
    let n = 1usize << log_n;
    let d = super::domain(n)?;
    let w = if inverse {
        d.group_gen_inv
    } else {
        d.group_gen
    };
    let mut t = vec![Fr::ZERO; n.max(2)];
    if n >= 2 {
        // Top stage: T[n/2 + j] = ω^j, in parallel chunks each starting from ω^start.
        let half = n / 2;
        t[half..n]
            .par_chunks_mut(MIN_PAR)
            .enumerate()
            .for_each(|(k, c)| {
                let mut x = Fr::from_ark(&w.pow([(k * MIN_PAR) as u64]));
                let step = Fr::from_ark(&w);
                for v in c {
                    *v = x;
                    x = x.mul(step);
                }
            });
        // T[h + j] = ω_{2h}^j = ω_{4h}^{2j} = T[2h + 2j].
        let mut h = half / 2;
        while h >= 1 {
            let (lo, hi) = t.split_at_mut(2 * h);
            for j in 0..h {
                lo[h + j] = hi[2 * j];
            }
            h /= 2;
        }
    }
    Ok(t)
}

/// One radix-2 butterfly of DIF: `(u, v) → (u + v, (u − v)·w)`.
#[inline(always)]
fn bfly(u: &mut ark_bn254::Fr, v: &mut ark_bn254::Fr, w: Fr) {
    let (a, b) = (Fr::from_ark(u), Fr::from_ark(v));
    *u = a.add(b).to_ark();
    *v = a.sub(b).mul(w).to_ark();
}

/// Two DIF stages (half-widths `2q` then `q`) on the quarters of one block of `4q` points, for
/// `j` in the chunk: `t1` are the first stage's twiddles for the first and second halves' pairs,
/// `t2` the second stage's.
#[inline(always)]
fn radix4(q: [&mut [ark_bn254::Fr]; 4], t1a: &[Fr], t1b: &[Fr], t2: &[Fr]) {
    let [q0, q1, q2, q3] = q;
    for j in 0..q0.len() {
        let (a0, a1, a2, a3) = (
            Fr::from_ark(&q0[j]),
            Fr::from_ark(&q1[j]),
            Fr::from_ark(&q2[j]),
            Fr::from_ark(&q3[j]),
        );
        let (b0, b2) = (a0.add(a2), a0.sub(a2).mul(t1a[j]));
        let (b1, b3) = (a1.add(a3), a1.sub(a3).mul(t1b[j]));
        q0[j] = b0.add(b1).to_ark();
        q1[j] = b0.sub(b1).mul(t2[j]).to_ark();
        q2[j] = b2.add(b3).to_ark();
        q3[j] = b2.sub(b3).mul(t2[j]).to_ark();
    }
}

/// Every DIF stage with half-width `h ≤ top` on a block (sequential: the block is in cache).
#[inline(always)]
fn stages_in_block(block: &mut [ark_bn254::Fr], mut h: usize, t: &[Fr]) {
    while h >= 2 {
        let q = h / 2;
        for g in block.chunks_exact_mut(2 * h) {
            let (lo, hi) = g.split_at_mut(h);
            let (q0, q1) = lo.split_at_mut(q);
            let (q2, q3) = hi.split_at_mut(q);
            radix4(
                [q0, q1, q2, q3],
                &t[h..h + q],
                &t[h + q..2 * h],
                &t[q..2 * q],
            );
        }
        h /= 4;
    }
    if h == 1 {
        let w = t[1];
        for g in block.chunks_exact_mut(2) {
            let (a, b) = g.split_at_mut(1);
            bfly(&mut a[0], &mut b[0], w);
        }
    }
}

/// The DIF stages on all of `data` (natural order in, bit-reversed out).
#[inline(always)]
fn dif(data: &mut [ark_bn254::Fr], t: &[Fr]) {
    let n = data.len();
    let mut h = n / 2;
    // Passes over memory, two stages each, while a butterfly block exceeds the cache block.
    while 2 * h > BLOCK && h >= 2 {
        let q = h / 2;
        let chunk = (q / rayon::current_num_threads().max(1)).clamp(MIN_PAR.min(q), q);
        data.par_chunks_mut(2 * h).for_each(|g| {
            let (lo, hi) = g.split_at_mut(h);
            let (q0, q1) = lo.split_at_mut(q);
            let (q2, q3) = hi.split_at_mut(q);
            q0.par_chunks_mut(chunk)
                .zip(q1.par_chunks_mut(chunk))
                .zip(q2.par_chunks_mut(chunk))
                .zip(q3.par_chunks_mut(chunk))
                .zip(t[h..h + q].par_chunks(chunk))
                .zip(t[h + q..2 * h].par_chunks(chunk))
                .zip(t[q..2 * q].par_chunks(chunk))
                .for_each(|((((((q0, q1), q2), q3), t1a), t1b), t2)| {
                    radix4([q0, q1, q2, q3], t1a, t1b, t2)
                });
        });
        h /= 4;
    }
    if h == 0 {
        return;
    }
    data.par_chunks_mut((2 * h).max(BLOCK).min(n))
        .for_each(|b| stages_in_block(b, h, t));
}

/// The portable instance of [`dif`].
fn dif_portable(data: &mut [ark_bn254::Fr], t: &[Fr]) {
    dif(data, t)
}

/// The BMI2/ADX instance of [`dif`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "bmi2,adx")]
fn dif_adx(data: &mut [ark_bn254::Fr], t: &[Fr]) {
    dif(data, t)
}

#[allow(unsafe_code)]
fn dif_dispatch(path: FieldPath, data: &mut [ark_bn254::Fr], t: &[Fr]) {
    #[cfg(target_arch = "x86_64")]
    if path != FieldPath::Portable && super::runs_here(path) {
        // SAFETY: `runs_here` holds for a path above `Portable` only where
        // `is_x86_feature_detected!` found BMI2 and ADX, the features this instance needs.
        return unsafe { dif_adx(data, t) };
    }
    dif_portable(data, t)
}

/// Multiplies `data[i]` by `start·step^i`, in parallel chunks.
fn scale_by_powers(data: &mut [ark_bn254::Fr], start: ark_bn254::Fr, step: ark_bn254::Fr) {
    data.par_chunks_mut(MIN_PAR).enumerate().for_each(|(k, c)| {
        let mut x = Fr::from_ark(&(start * step.pow([(k * MIN_PAR) as u64])));
        let s = Fr::from_ark(&step);
        for v in c {
            *v = Fr::from_ark(v).mul(x).to_ark();
            x = x.mul(s);
        }
    });
}

/// The transform `kind` of `data` in place (length a power of two); the same results as arkworks'
/// radix-2 domain (`fft_in_place`, `ifft_in_place`, and their coset versions with the field's
/// generator).
pub fn ntt(data: &mut [ark_bn254::Fr], kind: NttKind) -> Result<(), AccelError> {
    ntt_on(super::field_path(), data, kind)
}

/// [`ntt`] on a given field path (tests and benchmarks compare them).
pub fn ntt_on(
    path: FieldPath,
    data: &mut [ark_bn254::Fr],
    kind: NttKind,
) -> Result<(), AccelError> {
    #[cfg(target_arch = "x86_64")]
    if path == FieldPath::Ifma
        && let Some(done) = super::ntt_ifma::ntt(data, kind)
    {
        return done;
    }
    let n = data.len();
    let d = super::domain(n)?;
    if n == 1 {
        // The transform of one point is itself (times 1/1, and g^0 = 1).
        return Ok(());
    }
    let log_n = n.trailing_zeros();
    let inverse = matches!(kind, NttKind::Inverse | NttKind::CosetInverse);
    let g = ark_bn254::Fr::GENERATOR;
    if kind == NttKind::CosetForward {
        scale_by_powers(data, ark_bn254::Fr::ONE, g);
    }
    let t = twiddles(log_n, inverse)?;
    dif_dispatch(path, data, &t);
    // Bit-reversed → natural order, with the inverse's scaling fused in.
    let src = data.to_vec();
    let shift = usize::BITS - log_n;
    let (scale, step) = match kind {
        NttKind::Inverse => (Some(d.size_inv), ark_bn254::Fr::ONE),
        NttKind::CosetInverse => (
            Some(d.size_inv),
            g.inverse()
                .ok_or_else(|| AccelError::Length("generator has no inverse".into()))?,
        ),
        _ => (None, ark_bn254::Fr::ONE),
    };
    data.par_chunks_mut(MIN_PAR).enumerate().for_each(|(k, c)| {
        let base = k * MIN_PAR;
        match scale {
            None => {
                for (i, v) in c.iter_mut().enumerate() {
                    *v = src[(base + i).reverse_bits() >> shift];
                }
            }
            Some(s) => {
                let mut x = Fr::from_ark(&(s * step.pow([base as u64])));
                let st = Fr::from_ark(&step);
                for (i, v) in c.iter_mut().enumerate() {
                    *v = Fr::from_ark(&src[(base + i).reverse_bits() >> shift])
                        .mul(x)
                        .to_ark();
                    x = x.mul(st);
                }
            }
        }
    });
    Ok(())
}

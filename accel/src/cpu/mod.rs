//! The CPU backends of the prover's operations, ours: BN254 field arithmetic on four 64-bit
//! limbs with run-time instruction selection ([`field`]), a batch-affine signed-digit Pippenger
//! MSM for G1 and G2 ([`pippenger`]) and a radix-4, cache-blocked NTT with cached twiddles
//! ([`ntt`]). arkworks' MSM and FFT stay as the references they are tested and benchmarked
//! against ([`ArkMsm`], [`ArkNtt`]). Also the host-side NTT plan the GPU backends share.

pub mod field;
pub mod glv;
#[cfg(target_arch = "x86_64")]
pub mod ifma;
pub mod ntt;
#[cfg(target_arch = "x86_64")]
pub mod ntt_ifma;
pub mod pippenger;

use ark_ec::VariableBaseMSM;
use ark_ff::FftField;
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use rustorium_circuits::Fr;

use super::{
    AccelError, G1Affine, G1Projective, G2Affine, G2Projective, MsmBackend, NttBackend, NttKind,
    ScalarBigInt,
};

/// Which instance of the field arithmetic's hot loops this CPU runs (see [`field`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldPath {
    /// [`FieldPath::Bmi2Adx`], and the G1 MSM's affine additions eight at a time with AVX-512
    /// IFMA ([`ifma`]), where the CPU has all four.
    Ifma,
    /// Compiled with BMI2 and ADX (`mulx`), run where the CPU has both.
    Bmi2Adx,
    /// Any x86-64 (or another architecture).
    Portable,
}

impl FieldPath {
    /// The name logged and printed by `bench` (`bmi2-adx` or `portable`).
    pub fn name(self) -> &'static str {
        match self {
            FieldPath::Ifma => "avx512-ifma",
            FieldPath::Bmi2Adx => "bmi2-adx",
            FieldPath::Portable => "portable",
        }
    }
}

/// The field path of this machine, detected once at run time: IFMA where the CPU has AVX-512 IFMA,
/// BMI2 and ADX; else BMI2 + ADX where it has those; else portable.
/// `RUSTORIUM_CPU_FIELD=bmi2-adx` or `=portable` caps it (tests, benchmarks).
pub fn field_path() -> FieldPath {
    static PATH: std::sync::OnceLock<FieldPath> = std::sync::OnceLock::new();
    *PATH.get_or_init(|| {
        let cap = std::env::var("RUSTORIUM_CPU_FIELD").unwrap_or_default();
        #[cfg(target_arch = "x86_64")]
        if cap != "portable"
            && std::is_x86_feature_detected!("bmi2")
            && std::is_x86_feature_detected!("adx")
        {
            return if cap != "bmi2-adx" && ifma::available() {
                FieldPath::Ifma
            } else {
                FieldPath::Bmi2Adx
            };
        }
        let _ = cap;
        FieldPath::Portable
    })
}

/// Whether `path` may run here: no faster than this machine's [`field_path`].
pub(crate) fn runs_here(path: FieldPath) -> bool {
    let rank = |p: FieldPath| match p {
        FieldPath::Portable => 0,
        FieldPath::Bmi2Adx => 1,
        FieldPath::Ifma => 2,
    };
    rank(path) <= rank(field_path())
}

fn check_lengths(what: &str, bases: usize, scalars: usize) -> Result<(), AccelError> {
    if bases != scalars {
        return Err(AccelError::Length(format!(
            "{bases} {what} bases, {scalars} scalars"
        )));
    }
    Ok(())
}

/// Our CPU MSM ([`pippenger`]), G1 and G2, parallel through rayon.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuMsm;

impl MsmBackend for CpuMsm {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn msm_g1(
        &self,
        bases: &[G1Affine],
        scalars: &[ScalarBigInt],
        _id: Option<super::msm::BasesId>,
    ) -> Result<G1Projective, AccelError> {
        check_lengths("G1", bases.len(), scalars.len())?;
        Ok(pippenger::msm(bases, scalars))
    }

    fn msm_g2(
        &self,
        bases: &[G2Affine],
        scalars: &[ScalarBigInt],
        _id: Option<super::msm::BasesId>,
    ) -> Result<G2Projective, AccelError> {
        check_lengths("G2", bases.len(), scalars.len())?;
        Ok(pippenger::msm(bases, scalars))
    }
}

/// arkworks' variable-base MSM (G1 and G2): the reference [`CpuMsm`] is tested and benchmarked
/// against.
#[derive(Clone, Copy, Debug, Default)]
pub struct ArkMsm;

impl MsmBackend for ArkMsm {
    fn name(&self) -> &'static str {
        "arkworks"
    }

    fn msm_g1(
        &self,
        bases: &[G1Affine],
        scalars: &[ScalarBigInt],
        _id: Option<super::msm::BasesId>,
    ) -> Result<G1Projective, AccelError> {
        check_lengths("G1", bases.len(), scalars.len())?;
        Ok(G1Projective::msm_bigint(bases, scalars))
    }
}

/// Our CPU NTT ([`ntt`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuNtt;

impl NttBackend for CpuNtt {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn ntt(&self, data: &mut [Fr], kind: NttKind) -> Result<(), AccelError> {
        ntt::ntt(data, kind)
    }
}

/// arkworks' radix-2 FFT: the reference [`CpuNtt`] is tested and benchmarked against.
#[derive(Clone, Copy, Debug, Default)]
pub struct ArkNtt;

/// Host-side preparation of a GPU NTT, shared by the CUDA and wgpu backends and the host test build:
/// twiddles `w^i` (i < n/2; `w` the domain's root of unity or its inverse), and the pointwise
/// factors applied before (coset powers `g^i`) and after (`1/n`, times `g^-i` for a coset inverse).
pub(crate) struct NttPlan {
    pub twiddles: Vec<rustorium_circuits::Fr>,
    pub pre: Option<Vec<rustorium_circuits::Fr>>,
    pub post: Option<Vec<rustorium_circuits::Fr>>,
}

pub(crate) fn ntt_plan(n: usize, kind: crate::NttKind) -> Result<NttPlan, crate::AccelError> {
    use crate::NttKind;
    use ark_ff::{FftField, Field};
    use rustorium_circuits::Fr;
    let d = domain(n)?;
    let powers = |base: Fr, count: usize, start: Fr| -> Vec<Fr> {
        std::iter::successors(Some(start), |x| Some(*x * base))
            .take(count)
            .collect()
    };
    let inverse = matches!(kind, NttKind::Inverse | NttKind::CosetInverse);
    let w = if inverse {
        d.group_gen_inv
    } else {
        d.group_gen
    };
    let g = Fr::GENERATOR;
    let g_inv = g
        .inverse()
        .ok_or_else(|| crate::AccelError::Length("generator has no inverse".into()))?;
    Ok(NttPlan {
        twiddles: powers(w, n / 2, Fr::ONE),
        pre: (kind == NttKind::CosetForward).then(|| powers(g, n, Fr::ONE)),
        post: match kind {
            NttKind::Inverse => Some(vec![d.size_inv; n]),
            NttKind::CosetInverse => Some(powers(g_inv, n, d.size_inv)),
            _ => None,
        },
    })
}

/// The passes of a GPU NTT of 2^`log_n` points whose groups hold at most 2^`max_k` points: each
/// pass is (first stage, stages), covering stages 0 .. log_n in order, split as evenly as possible
/// (2^20 with groups of 2^10: two passes of ten stages; 2^22 with 2^9: 8, 7, 7). Shared by the
/// CUDA and wgpu backends and the host test build (`kernels/cuda/ntt.cuh` explains a pass).
pub(crate) fn ntt_passes(log_n: u32, max_k: u32) -> Vec<(u32, u32)> {
    if log_n == 0 {
        return Vec::new();
    }
    let max_k = max_k.max(1);
    let count = log_n.div_ceil(max_k);
    let (base, extra) = (log_n / count, log_n % count);
    let mut s = 0;
    (0..count)
        .map(|i| {
            let k = base + u32::from(i < extra);
            let pass = (s, k);
            s += k;
            pass
        })
        .collect()
}

/// The radix-2 domain of exactly `n` points.
pub(crate) fn domain(n: usize) -> Result<Radix2EvaluationDomain<Fr>, AccelError> {
    if !n.is_power_of_two() {
        return Err(AccelError::Length(format!(
            "NTT length {n} is not a power of two"
        )));
    }
    Radix2EvaluationDomain::new(n)
        .filter(|d| d.size() == n)
        .ok_or_else(|| AccelError::Length(format!("no radix-2 domain of size {n}")))
}

impl NttBackend for ArkNtt {
    fn name(&self) -> &'static str {
        "arkworks"
    }

    fn ntt(&self, data: &mut [Fr], kind: NttKind) -> Result<(), AccelError> {
        let d = domain(data.len())?;
        let coset = || {
            d.get_coset(Fr::GENERATOR)
                .ok_or_else(|| AccelError::Length("no coset domain".into()))
        };
        let mut v = data.to_vec(); // arkworks transforms a Vec; the copy is O(n) against O(n log n)
        match kind {
            NttKind::Forward => d.fft_in_place(&mut v),
            NttKind::Inverse => d.ifft_in_place(&mut v),
            NttKind::CosetForward => coset()?.fft_in_place(&mut v),
            NttKind::CosetInverse => coset()?.ifft_in_place(&mut v),
        }
        data.copy_from_slice(&v);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::ntt_passes;

    /// Every stage is in exactly one pass, in order; no pass exceeds the group size; the passes
    /// are as few as the group size allows and differ by at most one stage.
    #[test]
    fn ntt_passes_cover_every_stage_once_evenly() {
        assert_eq!(ntt_passes(20, 10), vec![(0, 10), (10, 10)]);
        assert_eq!(ntt_passes(22, 9), vec![(0, 8), (8, 7), (15, 7)]);
        assert_eq!(ntt_passes(3, 10), vec![(0, 3)]);
        assert!(ntt_passes(0, 10).is_empty());
        for max_k in 1..=10 {
            for log_n in 1..=28 {
                let passes = ntt_passes(log_n, max_k);
                let mut next = 0;
                for &(s, k) in &passes {
                    assert_eq!(s, next, "2^{log_n} in groups of 2^{max_k}");
                    assert!((1..=max_k).contains(&k));
                    next += k;
                }
                assert_eq!(next, log_n);
                assert_eq!(passes.len() as u32, log_n.div_ceil(max_k));
                let (lo, hi) = passes
                    .iter()
                    .fold((u32::MAX, 0), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
                assert!(hi - lo <= 1, "uneven passes {passes:?}");
            }
        }
    }
}

#[cfg(test)]
mod against_arkworks;

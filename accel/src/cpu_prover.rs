//! CPU backends of the prover's operations: arkworks' Pippenger MSM (parallel through rayon) and
//! arkworks' radix-2 domain for the NTTs. They are the references the GPU backends are tested
//! against.

use ark_ec::VariableBaseMSM;
use ark_ff::FftField;
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use rustorium_circuits::Fr;

use super::{AccelError, G1Affine, G1Projective, MsmBackend, NttBackend, NttKind, ScalarBigInt};

/// arkworks' variable-base MSM.
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
        if bases.len() != scalars.len() {
            return Err(AccelError::Length(format!(
                "{} bases, {} scalars",
                bases.len(),
                scalars.len()
            )));
        }
        Ok(G1Projective::msm_bigint(bases, scalars))
    }
}

/// arkworks' radix-2 NTT.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuNtt;

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

impl NttBackend for CpuNtt {
    fn name(&self) -> &'static str {
        "cpu"
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

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

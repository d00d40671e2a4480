//! Groth16 over BN254 with our own prover: constraint synthesis by arkworks, then the QAP witness
//! map through an [`NttBackend`] and the G1 MSMs through an [`MsmBackend`] (G2 stays on the CPU).
//! Proofs verify with `ark_groth16::Groth16::verify_proof`, and for the same `(r, s)` they are
//! identical to ark-groth16's own.
//!
//! The witness map follows ark-groth16's `LibsnarkReduction` (which its key generation assumes):
//! domain of size `≥ constraints + public inputs` (inputs copied into the extra rows of `A`),
//! `h = (A·B − C) / Z` computed on the coset `g·⟨ω⟩` with seven NTTs.

mod envelope;
mod keys;
mod snarkjs;

pub use envelope::{EnvelopeError, ProofEnvelope};
pub use keys::{
    KeyError, KeyPair, VkHash, dev_setup, load_proving_key, load_verifying_key, save_keys, vk_hash,
};
pub use snarkjs::{proof_json, public_json, verifying_key_json};

use std::sync::Arc;
use std::time::{Duration, Instant};

use ark_bn254::{Bn254, G2Projective};
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::{FftField, Field, One, PrimeField, UniformRand, Zero};
use ark_groth16::{Groth16, PreparedVerifyingKey, Proof, ProvingKey, VerifyingKey};
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, R1CS_PREDICATE_LABEL,
    SynthesisError, SynthesisMode,
};
use ark_std::rand::{CryptoRng, RngCore};
use rayon::prelude::*;
use rustorium_circuits::Fr;
use thiserror::Error;

use crate::accel::{
    AccelError, G1Affine, G1Projective, MsmBackend, NttBackend, NttKind, ScalarBigInt,
};

/// Errors of proving.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ProverError {
    /// The circuit could not be synthesized or is not satisfied by its witness.
    #[error("synthesis: {0}")]
    Synthesis(#[from] SynthesisError),
    /// The witness does not satisfy the circuit (the block is not valid under the circuit's rules).
    #[error("the witness does not satisfy the circuit")]
    Unsatisfied,
    /// The proving key does not fit the circuit.
    #[error("proving key does not fit the circuit: {0}")]
    KeyMismatch(String),
    /// A backend failed.
    #[error("backend: {0}")]
    Backend(#[from] AccelError),
    /// The proof did not verify (a backend computed something wrong).
    #[error("proof made with msm={msm} ntt={ntt} failed verification")]
    SelfCheck {
        /// MSM backend.
        msm: &'static str,
        /// NTT backend.
        ntt: &'static str,
    },
}

/// Where the time of one proof went.
#[derive(Clone, Debug, Default)]
pub struct ProofTimings {
    /// Constraint synthesis and matrix construction.
    pub synthesis: Duration,
    /// The QAP witness map (seven NTTs and the pointwise work).
    pub witness_map: Duration,
    /// The MSMs (G1 on the backend, G2 on the CPU).
    pub msm: Duration,
    /// Self-verification.
    pub verify: Duration,
    /// Constraints.
    pub constraints: usize,
}

/// A Groth16 prover over pluggable backends.
#[derive(Clone)]
pub struct Prover {
    msm: Arc<dyn MsmBackend>,
    ntt: Arc<dyn NttBackend>,
}

impl std::fmt::Debug for Prover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prover")
            .field("msm", &self.msm.name())
            .field("ntt", &self.ntt.name())
            .finish()
    }
}

/// The synthesized R1CS of one circuit instance.
struct Synthesized {
    matrices: Vec<Vec<Vec<(Fr, usize)>>>,
    num_inputs: usize,
    num_constraints: usize,
    assignment: Vec<Fr>,
}

fn synthesize<C: ConstraintSynthesizer<Fr>>(circuit: C) -> Result<Synthesized, ProverError> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Prove {
        construct_matrices: true,
        generate_lc_assignments: false,
    });
    circuit.generate_constraints(cs.clone())?;
    cs.finalize();
    if !cs.is_satisfied()? {
        return Err(ProverError::Unsatisfied);
    }
    let mut all = cs.to_matrices()?;
    let matrices = all
        .remove(R1CS_PREDICATE_LABEL)
        .ok_or_else(|| ProverError::KeyMismatch("no R1CS predicate".into()))?;
    let num_inputs = cs.num_instance_variables();
    let num_constraints = cs.num_constraints();
    let assignment = [cs.instance_assignment()?, cs.witness_assignment()?].concat();
    Ok(Synthesized {
        matrices,
        num_inputs,
        num_constraints,
        assignment,
    })
}

fn row_value(row: &[(Fr, usize)], z: &[Fr]) -> Fr {
    row.iter()
        .map(|(c, i)| if c.is_one() { z[*i] } else { *c * z[*i] })
        .sum()
}

impl Prover {
    /// A prover on the given backends.
    pub fn new(msm: Arc<dyn MsmBackend>, ntt: Arc<dyn NttBackend>) -> Self {
        Self { msm, ntt }
    }

    /// A prover on the CPU backends.
    pub fn cpu() -> Self {
        Self::new(
            Arc::new(crate::accel::CpuMsm),
            Arc::new(crate::accel::CpuNtt),
        )
    }

    /// Backend names `(msm, ntt)`.
    pub fn backends(&self) -> (&'static str, &'static str) {
        (self.msm.name(), self.ntt.name())
    }

    /// `h`, the quotient's coefficients, exactly as ark-groth16's `LibsnarkReduction`.
    fn witness_map(&self, s: &Synthesized) -> Result<Vec<Fr>, ProverError> {
        let n = (s.num_constraints + s.num_inputs).next_power_of_two();
        let z = &s.assignment;
        let (ma, mb, mc) = (&s.matrices[0], &s.matrices[1], &s.matrices[2]);
        let mut a = vec![Fr::zero(); n];
        let mut b = vec![Fr::zero(); n];
        let mut c = vec![Fr::zero(); n];
        a[..s.num_constraints]
            .par_iter_mut()
            .zip(&mut b[..s.num_constraints])
            .zip(&mut c[..s.num_constraints])
            .enumerate()
            .for_each(|(i, ((a, b), c))| {
                *a = row_value(&ma[i], z);
                *b = row_value(&mb[i], z);
                *c = row_value(&mc[i], z);
            });
        a[s.num_constraints..s.num_constraints + s.num_inputs].copy_from_slice(&z[..s.num_inputs]);
        for v in [&mut a, &mut b, &mut c] {
            self.ntt.ntt(v, NttKind::Inverse)?;
            self.ntt.ntt(v, NttKind::CosetForward)?;
        }
        // Z(x) = x^n − 1 is the constant g^n − 1 on the coset.
        let z_inv = (Fr::GENERATOR.pow([n as u64]) - Fr::ONE)
            .inverse()
            .ok_or_else(|| {
                ProverError::KeyMismatch("vanishing polynomial is zero on the coset".into())
            })?;
        a.par_iter_mut().zip(&b).zip(&c).for_each(|((a, b), c)| {
            *a = (*a * b - c) * z_inv;
        });
        self.ntt.ntt(&mut a, NttKind::CosetInverse)?;
        Ok(a)
    }

    /// A proof with blinding `(r, s)` (zero for both gives an unblinded proof; use
    /// [`Prover::prove`] for real proofs).
    pub fn prove_with_randomness<C: ConstraintSynthesizer<Fr>>(
        &self,
        pk: &ProvingKey<Bn254>,
        circuit: C,
        r: Fr,
        s: Fr,
    ) -> Result<(Proof<Bn254>, ProofTimings), ProverError> {
        let mut t = ProofTimings::default();
        let start = Instant::now();
        let syn = synthesize(circuit)?;
        t.synthesis = start.elapsed();
        t.constraints = syn.num_constraints;
        let num_aux = syn.assignment.len() - syn.num_inputs;
        if pk.a_query.len() != syn.assignment.len()
            || pk.l_query.len() != num_aux
            || pk.vk.gamma_abc_g1.len() != syn.num_inputs
        {
            return Err(ProverError::KeyMismatch(format!(
                "key for {} variables / {} inputs, circuit has {} / {}",
                pk.a_query.len(),
                pk.vk.gamma_abc_g1.len(),
                syn.assignment.len(),
                syn.num_inputs
            )));
        }
        let start = Instant::now();
        let h = self.witness_map(&syn)?;
        t.witness_map = start.elapsed();

        let start = Instant::now();
        let to_big =
            |v: &[Fr]| -> Vec<ScalarBigInt> { v.par_iter().map(|x| x.into_bigint()).collect() };
        let h_big = to_big(&h[..pk.h_query.len().min(h.len())]);
        let z_big = to_big(&syn.assignment[1..]); // every variable but the constant 1
        let aux_big = &z_big[syn.num_inputs - 1..];
        let msm = |bases: &[G1Affine], scalars: &[ScalarBigInt]| self.msm.msm_g1(bases, scalars);
        let h_acc = msm(&pk.h_query[..h_big.len()], &h_big)?;
        let l_acc = msm(&pk.l_query, aux_big)?;
        // A = α + a_query[0] + Σ z_i a_query[i] + r δ (likewise B); a_query[0] belongs to "1".
        let a_acc = msm(&pk.a_query[1..], &z_big)?;
        let b1_acc = msm(&pk.b_g1_query[1..], &z_big)?;
        let b2_acc = G2Projective::msm_bigint(&pk.b_g2_query[1..], &z_big);
        t.msm = start.elapsed();

        let g_a = pk.vk.alpha_g1.into_group() + pk.a_query[0] + a_acc + pk.delta_g1 * r;
        let g1_b = if r.is_zero() {
            G1Projective::zero()
        } else {
            pk.beta_g1.into_group() + pk.b_g1_query[0] + b1_acc + pk.delta_g1 * s
        };
        let g2_b = pk.vk.beta_g2.into_group() + pk.b_g2_query[0] + b2_acc + pk.vk.delta_g2 * s;
        let g_c = g_a * s + g1_b * r - pk.delta_g1 * (r * s) + l_acc + h_acc;
        let proof = Proof {
            a: g_a.into_affine(),
            b: g2_b.into_affine(),
            c: g_c.into_affine(),
        };

        let start = Instant::now();
        let pvk = ark_groth16::prepare_verifying_key(&pk.vk);
        let inputs = &syn.assignment[1..syn.num_inputs];
        if !Groth16::<Bn254>::verify_proof(&pvk, &proof, inputs).unwrap_or(false) {
            return Err(ProverError::SelfCheck {
                msm: self.msm.name(),
                ntt: self.ntt.name(),
            });
        }
        t.verify = start.elapsed();
        Ok((proof, t))
    }

    /// A blinded proof, verified before it is returned.
    pub fn prove<C: ConstraintSynthesizer<Fr>, R: RngCore + CryptoRng>(
        &self,
        pk: &ProvingKey<Bn254>,
        circuit: C,
        rng: &mut R,
    ) -> Result<(Proof<Bn254>, ProofTimings), ProverError> {
        let r = Fr::rand(rng);
        let s = Fr::rand(rng);
        self.prove_with_randomness(pk, circuit, r, s)
    }
}

/// Verifies a proof against public inputs.
pub fn verify(vk: &VerifyingKey<Bn254>, proof: &Proof<Bn254>, inputs: &[Fr]) -> bool {
    let pvk: PreparedVerifyingKey<Bn254> = ark_groth16::prepare_verifying_key(vk);
    inputs.len() + 1 == vk.gamma_abc_g1.len()
        && Groth16::<Bn254>::verify_proof(&pvk, proof, inputs).unwrap_or(false)
}

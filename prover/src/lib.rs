//! Groth16 over BN254 with our own prover: constraint synthesis by arkworks, then the QAP witness
//! map through an [`NttBackend`] and the MSMs through an [`MsmBackend`] (G2 on the CPU unless the
//! backend has G2 kernels: [`MsmBackend::g2_backend`]).
//! Proofs verify with `ark_groth16::Groth16::verify_proof`, and for the same `(r, s)` they are
//! identical to ark-groth16's own.
//!
//! The witness map follows ark-groth16's `LibsnarkReduction` (which its key generation assumes):
//! domain of size `≥ constraints + public inputs` (inputs copied into the extra rows of `A`),
//! `h = (A·B − C) / Z` computed on the coset `g·⟨ω⟩` with seven NTTs.

pub mod ceremony;
pub mod circom;
pub mod job;
mod keys;
mod snarkjs;

pub use job::{JobError, ProvingJob};
pub use keys::{
    KeyError, KeyPair, VkHash, dev_setup, load_proving_key, load_verifying_key, parse_proving_key,
    parse_verifying_key, proving_key_file, save_keys, verifying_key_file, vk_hash,
};
pub use rustorium_verifier::envelope::{BlockProof, EnvelopeError, ProofEnvelope, ProofSystem};
pub use snarkjs::{
    SnarkjsJsonError, proof_from_json, proof_json, public_from_json, public_json,
    verifying_key_json,
};

use std::sync::Arc;
use std::time::{Duration, Instant};

use ark_bn254::Bn254;
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{FftField, Field, One, PrimeField, UniformRand, Zero};
use ark_groth16::{Groth16, Proof, ProvingKey};
use ark_relations::gr1cs::{ConstraintSynthesizer, SynthesisError};
use ark_std::rand::{CryptoRng, RngCore};
use rayon::prelude::*;
use rustorium_circuits::Fr;
use thiserror::Error;

use rustorium_accel::msm::BasesId;
use rustorium_accel::{
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

/// Where the time of one proof went: wall-clock time per phase and, for device backends, the
/// device's own time of their kernels (their [`rustorium_accel::KernelClock`]: CUDA events,
/// wgpu timestamp queries). With several proofs running at once on one backend, a kernel time
/// includes the others' kernels of the same interval.
#[derive(Clone, Debug, Default)]
pub struct ProofTimings {
    /// Computing the assignment (witness generation).
    pub synthesis: Duration,
    /// The QAP witness map (seven NTTs and the pointwise work).
    pub witness_map: Duration,
    /// Device time of the witness map's NTT kernels; `None` on the CPU.
    pub ntt_kernels: Option<Duration>,
    /// The MSM phase end to end (the G1 MSMs on the backend while G2 runs on the CPU).
    pub msm: Duration,
    /// The four G1 MSMs (H, L, A, B1) on the MSM backend, end to end.
    pub g1_msm: Duration,
    /// Device time of the MSM backend's kernels (the G1 MSMs', and G2's when it runs on the
    /// device); `None` on the CPU.
    pub g1_kernels: Option<Duration>,
    /// The G2 MSM (B2): on the CPU concurrently with the G1 MSMs, or after them on a backend
    /// with G2 kernels.
    pub g2_msm: Duration,
    /// Where the G2 MSM ran ([`MsmBackend::g2_backend`]).
    pub g2_backend: &'static str,
    /// Self-verification.
    pub verify: Duration,
    /// Constraints.
    pub constraints: usize,
}

/// The device time between two readings of a backend's kernel clock.
fn kernel_span(before: Option<Duration>, after: Option<Duration>) -> Option<Duration> {
    Some(after?.saturating_sub(before?))
}

impl std::fmt::Display for ProofTimings {
    /// One line, phases in order, kernel times in brackets where a device measured them:
    /// `synthesis 0.41 s, witness map 0.20 s [kernels 12.3 ms], G1 MSMs 0.90 s [kernels
    /// 40.1 ms], G2 MSM 0.85 s on cpu, self-check 2.1 ms` (the G1 kernel time includes G2's when
    /// G2 runs on the device).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kernels = |k: Option<Duration>| {
            k.map_or(String::new(), |k| {
                format!(" [kernels {:.1} ms]", k.as_secs_f64() * 1e3)
            })
        };
        write!(
            f,
            "synthesis {:.2} s, witness map {:.2} s{}, G1 MSMs {:.2} s{}, G2 MSM {:.2} s on {}, self-check {:.1} ms",
            self.synthesis.as_secs_f64(),
            self.witness_map.as_secs_f64(),
            kernels(self.ntt_kernels),
            self.g1_msm.as_secs_f64(),
            kernels(self.g1_kernels),
            self.g2_msm.as_secs_f64(),
            self.g2_backend,
            self.verify.as_secs_f64() * 1e3
        )
    }
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

/// The R1CS matrices of a circuit shape (built once per shape; every proof only computes its
/// assignment). It lives in the circuits crate, shared with the halo2 compiler.
pub use rustorium_circuits::r1cs::R1cs as CircuitMatrices;

/// The full assignment `[1, inputs…, witness…]` of `circuit` (wire order of a `.wtns`:
/// [`circom::write_wtns`]).
pub fn assignment<C: ConstraintSynthesizer<Fr>>(circuit: C) -> Result<Vec<Fr>, ProverError> {
    Ok(rustorium_circuits::r1cs::assignment(circuit)?)
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
            Arc::new(rustorium_accel::CpuMsm),
            Arc::new(rustorium_accel::CpuNtt),
        )
    }

    /// Backend names `(msm, ntt)`.
    pub fn backends(&self) -> (&'static str, &'static str) {
        (self.msm.name(), self.ntt.name())
    }

    /// `h`, the quotient's coefficients, exactly as ark-groth16's `LibsnarkReduction`. Fails with
    /// [`ProverError::Unsatisfied`] when some constraint `⟨A_i,z⟩·⟨B_i,z⟩ = ⟨C_i,z⟩` does not hold.
    fn witness_map(&self, s: &CircuitMatrices, z: &[Fr]) -> Result<Vec<Fr>, ProverError> {
        let n = (s.num_constraints + s.num_inputs).next_power_of_two();
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
        let satisfied = a[..s.num_constraints]
            .par_iter()
            .zip(&b[..s.num_constraints])
            .zip(&c[..s.num_constraints])
            .all(|((a, b), c)| *a * b == *c);
        if !satisfied {
            return Err(ProverError::Unsatisfied);
        }
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
    /// [`Prover::prove`] for real proofs). `matrices` must be those of the circuit's shape
    /// ([`CircuitMatrices::of`]); a circuit of another shape is refused.
    pub fn prove_with_randomness<C: ConstraintSynthesizer<Fr>>(
        &self,
        pk: &ProvingKey<Bn254>,
        matrices: &CircuitMatrices,
        circuit: C,
        r: Fr,
        s: Fr,
    ) -> Result<(Proof<Bn254>, ProofTimings), ProverError> {
        self.prove_inner(pk, matrices, None, circuit, r, s)
    }

    /// The proof; `owner` (see [`BasesId`]) lets device backends keep the key's bases resident.
    fn prove_inner<C: ConstraintSynthesizer<Fr>>(
        &self,
        pk: &ProvingKey<Bn254>,
        matrices: &CircuitMatrices,
        owner: Option<u64>,
        circuit: C,
        r: Fr,
        s: Fr,
    ) -> Result<(Proof<Bn254>, ProofTimings), ProverError> {
        let mut t = ProofTimings::default();
        let start = Instant::now();
        let z = rustorium_circuits::r1cs::assignment(circuit)?;
        t.synthesis = start.elapsed();
        t.constraints = matrices.num_constraints;
        let m = matrices;
        if z.len() != m.num_inputs + m.num_witness
            || pk.a_query.len() != z.len()
            || pk.l_query.len() != m.num_witness
            || pk.vk.gamma_abc_g1.len() != m.num_inputs
        {
            return Err(ProverError::KeyMismatch(format!(
                "key for {} variables / {} inputs, matrices for {} / {}, circuit assigns {}",
                pk.a_query.len(),
                pk.vk.gamma_abc_g1.len(),
                m.num_inputs + m.num_witness,
                m.num_inputs,
                z.len()
            )));
        }
        let start = Instant::now();
        let ntt_clock = self.ntt.kernel_time();
        let h = self.witness_map(m, &z)?;
        t.witness_map = start.elapsed();
        t.ntt_kernels = kernel_span(ntt_clock, self.ntt.kernel_time());

        let start = Instant::now();
        let to_big =
            |v: &[Fr]| -> Vec<ScalarBigInt> { v.par_iter().map(|x| x.into_bigint()).collect() };
        let h_big = to_big(&h[..pk.h_query.len().min(h.len())]);
        let z_big = to_big(&z[1..]); // every variable but the constant 1
        let aux_big = &z_big[m.num_inputs - 1..];
        let id = |query: u8| owner.map(|owner| BasesId { owner, query });
        let msm = |bases: &[G1Affine], scalars: &[ScalarBigInt], q: u8| {
            self.msm.msm_g1(bases, scalars, id(q))
        };
        // G2 on the CPU runs on a thread of its own while the G1 MSMs run on their backend; on a
        // backend with G2 kernels it runs there after them (one device, one stream).
        let msm_clock = self.msm.kernel_time();
        let g2_backend = self.msm.g2_backend();
        let g2_query = &pk.b_g2_query[1..];
        let g2_msm = || {
            let start = Instant::now();
            let b2 = self.msm.msm_g2(g2_query, &z_big, id(4));
            (b2, start.elapsed())
        };
        let g1_msms = || -> Result<_, AccelError> {
            let start = Instant::now();
            let r = (
                msm(&pk.h_query[..h_big.len()], &h_big, 0)?,
                msm(&pk.l_query, aux_big, 1)?,
                // A = α + a_query[0] + Σ z_i a_query[i] + r δ (likewise B); a_query[0] belongs
                // to the constant "1".
                msm(&pk.a_query[1..], &z_big, 2)?,
                msm(&pk.b_g1_query[1..], &z_big, 3)?,
            );
            Ok((r, start.elapsed()))
        };
        let (g1, g2) = if g2_backend == "cpu" {
            std::thread::scope(|scope| {
                let g2 = scope.spawn(g2_msm);
                let g1 = g1_msms();
                (g1, g2.join())
            })
        } else {
            let g1 = g1_msms();
            (g1, Ok(g2_msm()))
        };
        let ((h_acc, l_acc, a_acc, b1_acc), g1_time) = g1?;
        let (b2_acc, g2_time) =
            g2.map_err(|_| ProverError::KeyMismatch("G2 MSM thread panicked".into()))?;
        let b2_acc = b2_acc?;
        t.g1_msm = g1_time;
        t.msm = start.elapsed();
        t.g2_msm = g2_time;
        t.g2_backend = g2_backend;
        t.g1_kernels = kernel_span(msm_clock, self.msm.kernel_time());

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
        let inputs = &z[1..m.num_inputs];
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
        matrices: &CircuitMatrices,
        circuit: C,
        rng: &mut R,
    ) -> Result<(Proof<Bn254>, ProofTimings), ProverError> {
        let r = Fr::rand(rng);
        let s = Fr::rand(rng);
        self.prove_inner(pk, matrices, None, circuit, r, s)
    }

    /// [`Prover::prove`] with the key's bases identified by `owner` (unique per loaded key, see
    /// [`BasesId`]), so a device backend uploads them once.
    pub fn prove_resident<C: ConstraintSynthesizer<Fr>, R: RngCore + CryptoRng>(
        &self,
        pk: &ProvingKey<Bn254>,
        matrices: &CircuitMatrices,
        owner: u64,
        circuit: C,
        rng: &mut R,
    ) -> Result<(Proof<Bn254>, ProofTimings), ProverError> {
        let r = Fr::rand(rng);
        let s = Fr::rand(rng);
        self.prove_inner(pk, matrices, Some(owner), circuit, r, s)
    }
}

pub use rustorium_verifier::{PreparedKey, verify};

/// Proves with `primary`; if its backends fail (a device error, or a proof that does not verify),
/// logs, counts in `fallbacks` and proves again on the CPU. Errors of the witness itself are not
/// retried.
pub fn prove_with_fallback<R: RngCore + CryptoRng>(
    keys: &KeyPair,
    primary: &Prover,
    circuit: rustorium_circuits::block::BlockCircuit,
    rng: &mut R,
    fallbacks: &std::sync::atomic::AtomicU64,
) -> Result<(Proof<Bn254>, ProofTimings), ProverError> {
    match keys.prove(primary, circuit.clone(), rng) {
        Err(e @ (ProverError::Backend(_) | ProverError::SelfCheck { .. }))
            if primary.backends() != ("cpu", "cpu") =>
        {
            fallbacks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(error = %e, "GPU proving failed; retrying on the CPU");
            keys.prove(&Prover::cpu(), circuit, rng)
        }
        other => other,
    }
}

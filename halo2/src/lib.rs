//! Rustorium's transparent proof system: the block statement proven with zcash's `halo2_proofs`
//! (PLONKish arithmetization, inner-product-argument commitments over BN254 G1, no trusted setup).
//!
//! The circuit is the block circuit's own R1CS compiled into rows ([`compile`]), so a halo2 proof
//! and a Groth16 proof of a block are proofs of one statement with the same public inputs
//! `[old_root, new_root, commitment, chain_id, height]`. The parameters are hashed to the curve from
//! a public string ([`params`]); the verifying key follows from the parameters and the circuit
//! shape alone, so a light client derives it itself and needs no key file. Proofs use halo2's
//! Blake2b transcript.
//!
//! Curves: halo2_proofs 0.3 takes its curves through pasta_curves' `CurveAffine`; halo2curves 0.7
//! implements that trait for BN254 (field and group arithmetic, SvdW hash-to-curve, the GLV
//! endomorphism), so no newtype over arkworks is needed. [`field`] converts between the two
//! libraries' scalar fields.

pub mod compile;
pub mod field;
pub mod params;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ark_relations::gr1cs::SynthesisError;
use halo2_proofs::plonk::{
    ProvingKey, SingleVerifier, VerifyingKey, create_proof, keygen_pk, keygen_vk, verify_proof,
};
use halo2_proofs::poly::commitment::Params;
use halo2_proofs::transcript::{Blake2bRead, Blake2bWrite, Challenge255};
use halo2curves::bn256::{Fr as H2Fr, G1Affine};
use rustorium_circuits::Fr;
use rustorium_circuits::block::{BlockCircuit, CircuitError, CircuitShape, NUM_PUBLIC_INPUTS};
use rustorium_circuits::r1cs::{R1cs, assignment};
use sha2::{Digest, Sha256};
use thiserror::Error;

pub use compile::{Plan, R1csCircuit};
pub use {halo2_proofs, halo2curves};

/// SHA-256 identifying a halo2 verifying key ([`vk_hash`]).
pub type Halo2VkHash = [u8; 32];

/// Errors of the halo2 prover and verifier.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Halo2Error {
    /// The shape is not a valid circuit shape.
    #[error("circuit shape: {0}")]
    Shape(#[from] CircuitError),
    /// The block circuit could not be synthesized.
    #[error("synthesis: {0}")]
    Synthesis(#[from] SynthesisError),
    /// halo2 failed (key generation or proving).
    #[error("halo2: {0}")]
    Plonk(String),
    /// The witness does not satisfy the circuit (the proof made from it does not verify).
    #[error("the witness does not satisfy the circuit")]
    Unsatisfied,
    /// The proof does not verify against these public inputs (or is malformed).
    #[error("the halo2 proof does not verify")]
    Invalid,
    /// The circuit is for another shape than the key.
    #[error("circuit is for {got:?}, the key for {expected:?}")]
    WrongShape {
        /// The key's shape.
        expected: CircuitShape,
        /// The circuit's shape.
        got: CircuitShape,
    },
    /// A parameter cache file could not be written.
    #[error("parameter cache {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl From<halo2_proofs::plonk::Error> for Halo2Error {
    fn from(e: halo2_proofs::plonk::Error) -> Self {
        Self::Plonk(format!("{e:?}"))
    }
}

/// The compiled circuit of a shape.
///
/// # Errors
/// An invalid shape.
pub fn plan(shape: CircuitShape) -> Result<Plan, Halo2Error> {
    Ok(Plan::compile(&R1cs::of(BlockCircuit::blank(shape)?)?))
}

/// The verifying key's identity: SHA-256 over a domain tag, `k` and halo2's pinned form of the key
/// (the field moduli, the domain, the constraint system, the fixed and permutation commitments).
pub fn vk_hash(k: u32, vk: &VerifyingKey<G1Affine>) -> Halo2VkHash {
    let mut h = Sha256::new();
    h.update(b"rustorium/halo2-ipa-bn254/r1cs-v1\0");
    h.update(k.to_le_bytes());
    h.update(format!("{:?}", vk.pinned()).as_bytes());
    h.finalize().into()
}

/// What verifies halo2 block proofs of one shape.
#[derive(Clone, Debug)]
pub struct Halo2Verifier {
    shape: CircuitShape,
    plan: Arc<Plan>,
    params: Arc<Params<G1Affine>>,
    vk: VerifyingKey<G1Affine>,
    vk_hash: Halo2VkHash,
}

impl Halo2Verifier {
    /// Derives everything for `shape`: the circuit, the parameters (cached under `params_dir`) and
    /// the verifying key. Transparent: nothing is read that the caller has to trust.
    ///
    /// # Errors
    /// An invalid shape, a cache that cannot be written, key generation failing.
    pub fn new(shape: CircuitShape, params_dir: Option<&Path>) -> Result<Self, Halo2Error> {
        let plan = Arc::new(plan(shape)?);
        let k = plan.k();
        let params = params::params(k, params_dir)?;
        let vk = keygen_vk(&*params, &blank(&plan))?;
        Ok(Self {
            shape,
            vk_hash: vk_hash(k, &vk),
            plan,
            params,
            vk,
        })
    }

    /// The shape.
    pub fn shape(&self) -> CircuitShape {
        self.shape
    }

    /// The verifying key's hash ([`vk_hash`]).
    pub fn vk_hash(&self) -> Halo2VkHash {
        self.vk_hash
    }

    /// `log2` of the circuit's rows.
    pub fn k(&self) -> u32 {
        self.params.k()
    }

    /// Verifies `proof` for `public_inputs` (`[old_root, new_root, commitment, chain_id,
    /// height]`). Malformed bytes are [`Halo2Error::Invalid`], never a panic.
    ///
    /// # Errors
    /// [`Halo2Error::Invalid`].
    pub fn verify(
        &self,
        public_inputs: &[Fr; NUM_PUBLIC_INPUTS],
        proof: &[u8],
    ) -> Result<(), Halo2Error> {
        let instance: Vec<H2Fr> = public_inputs.iter().map(field::to_halo2).collect();
        let mut reader = std::io::Cursor::new(proof);
        let mut transcript = Blake2bRead::<_, G1Affine, Challenge255<_>>::init(&mut reader);
        verify_proof(
            &*self.params,
            &self.vk,
            SingleVerifier::new(&self.params),
            &[&[&instance[..]]],
            &mut transcript,
        )
        .map_err(|_| Halo2Error::Invalid)?;
        // A valid proof followed by extra bytes is not the proof: refuse trailing data.
        if reader.position() != proof.len() as u64 {
            return Err(Halo2Error::Invalid);
        }
        Ok(())
    }
}

fn blank(plan: &Arc<Plan>) -> R1csCircuit {
    R1csCircuit {
        plan: plan.clone(),
        assignment: None,
    }
}

/// What proves halo2 block proofs of one shape: the verifier's parts and the proving key.
#[derive(Clone, Debug)]
pub struct Halo2Prover {
    verifier: Halo2Verifier,
    pk: ProvingKey<G1Affine>,
}

impl Halo2Prover {
    /// Derives the verifier ([`Halo2Verifier::new`]) and the proving key for `shape`.
    ///
    /// # Errors
    /// As [`Halo2Verifier::new`].
    pub fn new(shape: CircuitShape, params_dir: Option<&Path>) -> Result<Self, Halo2Error> {
        let verifier = Halo2Verifier::new(shape, params_dir)?;
        let pk = keygen_pk(
            &*verifier.params,
            verifier.vk.clone(),
            &blank(&verifier.plan),
        )?;
        Ok(Self { verifier, pk })
    }

    /// The verifier of this prover's proofs.
    pub fn verifier(&self) -> &Halo2Verifier {
        &self.verifier
    }

    /// The compiled circuit.
    pub fn plan(&self) -> &Arc<Plan> {
        &self.verifier.plan
    }

    /// Proves `circuit` (a block laid out for this prover's shape) and checks the proof before
    /// returning it: a witness that does not satisfy the circuit gives
    /// [`Halo2Error::Unsatisfied`], never a proof.
    ///
    /// # Errors
    /// Wrong shape, synthesis, [`Halo2Error::Unsatisfied`].
    pub fn prove(&self, circuit: BlockCircuit) -> Result<Vec<u8>, Halo2Error> {
        let shape = self.verifier.shape;
        if circuit.shape != shape {
            return Err(Halo2Error::WrongShape {
                expected: shape,
                got: circuit.shape,
            });
        }
        let public = circuit.public_inputs();
        let proof = self.prove_assignment(&assignment(circuit)?)?;
        self.verifier
            .verify(&public, &proof)
            .map_err(|_| Halo2Error::Unsatisfied)?;
        Ok(proof)
    }

    /// Proves a full R1CS assignment `[1, inputs…, witness…]` without checking the result.
    ///
    /// # Errors
    /// halo2 failing.
    pub fn prove_assignment(&self, z: &[Fr]) -> Result<Vec<u8>, Halo2Error> {
        let plan = &self.verifier.plan;
        let z: Vec<H2Fr> = z.iter().map(field::to_halo2).collect();
        let instance = z[1..=plan.num_public()].to_vec();
        let circuit = R1csCircuit {
            plan: plan.clone(),
            assignment: Some(Arc::new(z)),
        };
        let mut transcript = Blake2bWrite::<_, G1Affine, Challenge255<_>>::init(vec![]);
        create_proof(
            &*self.verifier.params,
            &self.pk,
            &[circuit],
            &[&[&instance[..]]],
            rand_core::OsRng,
            &mut transcript,
        )?;
        Ok(transcript.finalize())
    }
}

/// Whether a full assignment satisfies the compiled circuit, by halo2's `MockProver` (every gate
/// on every row, every copy constraint, the instance column).
pub fn mock_satisfied(plan: &Arc<Plan>, z: &[Fr]) -> bool {
    let z: Vec<H2Fr> = z.iter().map(field::to_halo2).collect();
    let instance = z[1..=plan.num_public()].to_vec();
    let circuit = R1csCircuit {
        plan: plan.clone(),
        assignment: Some(Arc::new(z)),
    };
    match halo2_proofs::dev::MockProver::run(plan.k(), &circuit, vec![instance]) {
        Ok(prover) => prover.verify().is_ok(),
        Err(_) => false,
    }
}

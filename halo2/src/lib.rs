//! Rustorium's transparent proof system: the block statement proven with zcash's `halo2_proofs`
//! (PLONKish arithmetization, inner-product-argument commitments over BN254 G1, no trusted setup).
//!
//! The circuit is the block statement written on halo2 chips ([`native`]: Poseidon rounds, Baby
//! Jubjub additions, swaps and byte lookups as custom gates), rule for rule as the Groth16
//! circuit states it, with the same public inputs `[old_root, new_root, commitment, chain_id,
//! height]`; the soundness tests require every witness change that breaks one to break the other. The parameters are hashed to the curve from
//! a public string ([`params`]); the verifying key follows from the parameters and the circuit
//! shape alone, so a light client derives it itself and needs no key file. Proofs use halo2's
//! Blake2b transcript.
//!
//! Curves: halo2_proofs 0.3 takes its curves through pasta_curves' `CurveAffine`; halo2curves 0.7
//! implements that trait for BN254 (field and group arithmetic, SvdW hash-to-curve, the GLV
//! endomorphism), so no newtype over arkworks is needed. [`field`] converts between the two
//! libraries' scalar fields.

pub mod field;
pub mod native;
pub mod params;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use halo2_proofs::plonk::{
    ProvingKey, SingleVerifier, VerifyingKey, create_proof, keygen_pk, keygen_vk, verify_proof,
};
use halo2_proofs::poly::commitment::Params;
use halo2_proofs::transcript::{Blake2bRead, Blake2bWrite, Challenge255};
use halo2curves::bn256::{Fr as H2Fr, G1Affine};
use rustorium_circuits::Fr;
use rustorium_circuits::block::{BlockCircuit, CircuitError, CircuitShape, NUM_PUBLIC_INPUTS};
use sha2::{Digest, Sha256};
use thiserror::Error;

pub use native::{Layout, LayoutError, NativeCircuit, Trace};
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
    /// The witness cannot be laid out for its shape.
    #[error("layout: {0}")]
    Layout(#[from] LayoutError),
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

/// The circuit of a shape: the layout of its blank witness.
///
/// # Errors
/// An invalid shape.
pub fn layout(shape: CircuitShape) -> Result<Layout, Halo2Error> {
    Ok(native::trace(&BlockCircuit::blank(shape)?)?.layout)
}

/// The verifying key's identity: SHA-256 over a domain tag, `k` and halo2's pinned form of the key
/// (the field moduli, the domain, the constraint system, the fixed and permutation commitments).
pub fn vk_hash(k: u32, vk: &VerifyingKey<G1Affine>) -> Halo2VkHash {
    let mut h = Sha256::new();
    h.update(b"rustorium/halo2-ipa-bn254/native-v1\0");
    h.update(k.to_le_bytes());
    h.update(format!("{:?}", vk.pinned()).as_bytes());
    h.finalize().into()
}

/// What verifies halo2 block proofs of one shape.
#[derive(Clone, Debug)]
pub struct Halo2Verifier {
    shape: CircuitShape,
    layout: Arc<Layout>,
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
        let layout = Arc::new(layout(shape)?);
        let k = native::k_of(&layout);
        let params = params::params(k, params_dir)?;
        let vk = keygen_vk(&*params, &blank(&layout))?;
        Ok(Self {
            shape,
            vk_hash: vk_hash(k, &vk),
            layout,
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

fn blank(layout: &Arc<Layout>) -> NativeCircuit {
    NativeCircuit {
        layout: layout.clone(),
        values: None,
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
            &blank(&verifier.layout),
        )?;
        Ok(Self { verifier, pk })
    }

    /// The verifier of this prover's proofs.
    pub fn verifier(&self) -> &Halo2Verifier {
        &self.verifier
    }

    /// The circuit.
    pub fn layout(&self) -> &Arc<Layout> {
        &self.verifier.layout
    }

    /// Proves `circuit` (a block laid out for this prover's shape) and checks the proof before
    /// returning it: a witness that does not satisfy the circuit gives
    /// [`Halo2Error::Unsatisfied`], never a proof.
    ///
    /// # Errors
    /// Wrong shape, a witness that cannot be laid out, [`Halo2Error::Unsatisfied`].
    pub fn prove(&self, circuit: BlockCircuit) -> Result<Vec<u8>, Halo2Error> {
        let shape = self.verifier.shape;
        if circuit.shape != shape {
            return Err(Halo2Error::WrongShape {
                expected: shape,
                got: circuit.shape,
            });
        }
        let public = circuit.public_inputs();
        let trace = native::trace(&circuit)?;
        let proof = self.prove_trace(trace, &public)?;
        self.verifier
            .verify(&public, &proof)
            .map_err(|_| Halo2Error::Unsatisfied)?;
        Ok(proof)
    }

    /// Proves a trace's values for `public` without checking the result.
    ///
    /// # Errors
    /// A trace of another layout ([`Halo2Error::Unsatisfied`]), halo2 failing.
    pub fn prove_trace(
        &self,
        trace: Trace,
        public: &[Fr; NUM_PUBLIC_INPUTS],
    ) -> Result<Vec<u8>, Halo2Error> {
        let layout = &self.verifier.layout;
        if trace.layout != **layout {
            return Err(Halo2Error::Unsatisfied);
        }
        let instance: Vec<H2Fr> = public.iter().map(field::to_halo2).collect();
        let circuit = NativeCircuit {
            layout: layout.clone(),
            values: Some(Arc::new(trace.values)),
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

/// Whether a trace satisfies its circuit by halo2's `MockProver` (every gate, lookup and copy
/// constraint, the instance column `public`).
pub fn mock_satisfied(trace: &Trace, public: &[Fr]) -> bool {
    let instance: Vec<H2Fr> = public.iter().map(field::to_halo2).collect();
    let circuit = NativeCircuit {
        layout: Arc::new(trace.layout.clone()),
        values: Some(Arc::new(trace.values.clone())),
    };
    match halo2_proofs::dev::MockProver::run(native::k_of(&trace.layout), &circuit, vec![instance])
    {
        Ok(prover) => prover.verify().is_ok(),
        Err(_) => false,
    }
}

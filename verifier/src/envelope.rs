//! The proof envelope: what a node publishes per block and a light client checks.
//!
//! ```text
//! version      u8      = 2
//! height       u64 LE  (public input 5)
//! chain_id     u64 LE  (public input 4)
//! depth        u8
//! capacity     u32 LE
//! old_root     32 B    (field elements: 32 bytes LE, canonical)
//! new_root     32 B
//! commitment   32 B
//! proof        128 B   arkworks compressed Groth16 proof (A: G1, B: G2, C: G1)
//! vk_hash      32 B    SHA-256 of the compressed verifying key
//! ```
//! The proof's public inputs are `[old_root, new_root, commitment, chain_id, height]`, so the
//! height and chain an envelope claims are the ones the proof is for. Version 1 (three public
//! inputs, height and chain unbound) is refused.

use ark_bn254::Bn254;
use ark_groth16::Proof;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rustorium_circuits::Fr;
use rustorium_circuits::block::{CircuitShape, NUM_PUBLIC_INPUTS};
use rustorium_circuits::field::{FieldError, from_bytes_le, to_bytes_le};
use thiserror::Error;

use crate::keyfile::VkHash;

/// Encoded size of an envelope.
pub const ENVELOPE_BYTES: usize = 1 + 8 + 8 + 1 + 4 + 96 + 128 + 32;
/// The envelope version written and accepted.
pub const ENVELOPE_VERSION: u8 = 2;

/// A block's proof with what it proves.
#[derive(Clone, Debug, PartialEq)]
pub struct ProofEnvelope {
    /// Block height (a public input of the proof).
    pub height: u64,
    /// Chain id (a public input of the proof).
    pub chain_id: u64,
    /// Circuit shape the proof is for.
    pub shape: CircuitShape,
    /// `[old_root, new_root, commitment]` (the first three public inputs; chain id and height
    /// are the other two, see [`ProofEnvelope::public_inputs`]).
    pub roots: [Fr; 3],
    /// The Groth16 proof.
    pub proof: Proof<Bn254>,
    /// Which verifying key checks it.
    pub vk_hash: VkHash,
}

/// Errors decoding an envelope.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// Wrong length.
    #[error("a proof envelope is {ENVELOPE_BYTES} bytes, got {0}")]
    Length(usize),
    /// Unknown version.
    #[error("unknown envelope version {0}")]
    Version(u8),
    /// A public input is not canonical.
    #[error("public input: {0}")]
    Field(#[from] FieldError),
    /// The proof's points are malformed, off the curve or outside the subgroup.
    #[error("proof: {0}")]
    Proof(String),
}

impl ProofEnvelope {
    /// The envelope of `proof` for a circuit's public inputs (`[old_root, new_root, commitment,
    /// chain_id, height]`).
    pub fn new(
        height: u64,
        chain_id: u64,
        shape: CircuitShape,
        public_inputs: [Fr; NUM_PUBLIC_INPUTS],
        proof: Proof<Bn254>,
        vk_hash: VkHash,
    ) -> Self {
        let [old_root, new_root, commitment, ..] = public_inputs;
        Self {
            height,
            chain_id,
            shape,
            roots: [old_root, new_root, commitment],
            proof,
            vk_hash,
        }
    }

    /// Old root.
    pub fn old_root(&self) -> Fr {
        self.roots[0]
    }

    /// New root.
    pub fn new_root(&self) -> Fr {
        self.roots[1]
    }

    /// Transaction commitment.
    pub fn commitment(&self) -> Fr {
        self.roots[2]
    }

    /// The proof's public inputs: `[old_root, new_root, commitment, chain_id, height]`.
    pub fn public_inputs(&self) -> [Fr; NUM_PUBLIC_INPUTS] {
        [
            self.roots[0],
            self.roots[1],
            self.roots[2],
            Fr::from(self.chain_id),
            Fr::from(self.height),
        ]
    }

    /// Binary encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ENVELOPE_BYTES);
        out.push(ENVELOPE_VERSION);
        out.extend_from_slice(&self.height.to_le_bytes());
        out.extend_from_slice(&self.chain_id.to_le_bytes());
        out.push(self.shape.depth as u8);
        out.extend_from_slice(&(self.shape.capacity as u32).to_le_bytes());
        for x in &self.roots {
            out.extend_from_slice(&to_bytes_le(x));
        }
        self.proof
            .serialize_compressed(&mut out)
            .expect("writing to a Vec cannot fail");
        out.extend_from_slice(&self.vk_hash);
        out
    }

    /// Strict decoding.
    pub fn decode(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        if bytes.len() != ENVELOPE_BYTES {
            return Err(EnvelopeError::Length(bytes.len()));
        }
        if bytes[0] != ENVELOPE_VERSION {
            return Err(EnvelopeError::Version(bytes[0]));
        }
        let u64_at = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        let shape = CircuitShape {
            depth: bytes[17] as usize,
            capacity: u32::from_le_bytes(bytes[18..22].try_into().expect("4 bytes")) as usize,
        };
        let mut roots = [Fr::from(0u64); 3];
        for (i, x) in roots.iter_mut().enumerate() {
            *x = from_bytes_le(&bytes[22 + 32 * i..54 + 32 * i])?;
        }
        let proof = Proof::<Bn254>::deserialize_compressed(&bytes[118..246])
            .map_err(|e| EnvelopeError::Proof(e.to_string()))?;
        Ok(Self {
            height: u64_at(1),
            chain_id: u64_at(9),
            shape,
            roots,
            proof,
            vk_hash: bytes[246..278].try_into().expect("32 bytes"),
        })
    }
}

//! The proof envelope: what a node publishes per block and a light client checks.
//!
//! ```text
//! version      u8      = 1
//! height       u64 LE
//! depth        u8
//! capacity     u32 LE
//! old_root     32 B    (field elements: 32 bytes LE, canonical)
//! new_root     32 B
//! commitment   32 B
//! proof        128 B   arkworks compressed Groth16 proof (A: G1, B: G2, C: G1)
//! vk_hash      32 B    SHA-256 of the compressed verifying key
//! ```

use ark_bn254::Bn254;
use ark_groth16::Proof;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rustorium_circuits::Fr;
use rustorium_circuits::block::CircuitShape;
use rustorium_circuits::field::{FieldError, from_bytes_le, to_bytes_le};
use thiserror::Error;

use super::VkHash;

/// Encoded size of an envelope.
pub const ENVELOPE_BYTES: usize = 1 + 8 + 1 + 4 + 96 + 128 + 32;

/// A block's proof with what it proves.
#[derive(Clone, Debug, PartialEq)]
pub struct ProofEnvelope {
    /// Block height.
    pub height: u64,
    /// Circuit shape the proof is for.
    pub shape: CircuitShape,
    /// `[old_root, new_root, commitment]`.
    pub public_inputs: [Fr; 3],
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
    /// Old root.
    pub fn old_root(&self) -> Fr {
        self.public_inputs[0]
    }

    /// New root.
    pub fn new_root(&self) -> Fr {
        self.public_inputs[1]
    }

    /// Transaction commitment.
    pub fn commitment(&self) -> Fr {
        self.public_inputs[2]
    }

    /// Binary encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ENVELOPE_BYTES);
        out.push(1);
        out.extend_from_slice(&self.height.to_le_bytes());
        out.push(self.shape.depth as u8);
        out.extend_from_slice(&(self.shape.capacity as u32).to_le_bytes());
        for x in &self.public_inputs {
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
        if bytes[0] != 1 {
            return Err(EnvelopeError::Version(bytes[0]));
        }
        let height = u64::from_le_bytes(bytes[1..9].try_into().expect("8 bytes"));
        let shape = CircuitShape {
            depth: bytes[9] as usize,
            capacity: u32::from_le_bytes(bytes[10..14].try_into().expect("4 bytes")) as usize,
        };
        let mut public_inputs = [Fr::from(0u64); 3];
        for (i, x) in public_inputs.iter_mut().enumerate() {
            *x = from_bytes_le(&bytes[14 + 32 * i..46 + 32 * i])?;
        }
        let proof = Proof::<Bn254>::deserialize_compressed(&bytes[110..238])
            .map_err(|e| EnvelopeError::Proof(e.to_string()))?;
        Ok(Self {
            height,
            shape,
            public_inputs,
            proof,
            vk_hash: bytes[238..270].try_into().expect("32 bytes"),
        })
    }
}

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
//!
//! Version 3 carries a halo2 proof (`rustorium-halo2`: the same statement, transparent, no
//! trusted setup) in place of the Groth16 one; the version byte is the proof system:
//! ```text
//! version      u8      = 3
//! height … commitment   as version 2
//! proof_len    u32 LE  (1..=MAX_HALO2_PROOF_BYTES)
//! proof        proof_len B   halo2 proof (Blake2b transcript)
//! vk_hash      32 B    rustorium_halo2::vk_hash of the verifying key derived for the shape
//! ```

use ark_bn254::Bn254;
use ark_groth16::Proof;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rustorium_circuits::Fr;
use rustorium_circuits::block::{CircuitShape, NUM_PUBLIC_INPUTS};
use rustorium_circuits::field::{FieldError, from_bytes_le, to_bytes_le};
use thiserror::Error;

use crate::keyfile::VkHash;

/// Encoded size of a Groth16 envelope.
pub const ENVELOPE_BYTES: usize = 1 + 8 + 8 + 1 + 4 + 96 + 128 + 32;
/// The version of a Groth16 envelope.
pub const ENVELOPE_VERSION: u8 = 2;
/// The version of a halo2 envelope.
pub const HALO2_ENVELOPE_VERSION: u8 = 3;
/// The longest halo2 proof an envelope may carry (a block proof is a few kilobytes; anything
/// longer is refused before it is read).
pub const MAX_HALO2_PROOF_BYTES: usize = 64 * 1024;

/// The proof systems a chain can be proven with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ProofSystem {
    /// Groth16 over BN254: tiny proofs, constant-time verification, a trusted setup per shape.
    #[default]
    Groth16,
    /// halo2 (IPA over BN254): no trusted setup; larger proofs, verification linear in the
    /// circuit size.
    Halo2,
}

impl ProofSystem {
    /// Its name in configuration and on the wire (`groth16`, `halo2`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Groth16 => "groth16",
            Self::Halo2 => "halo2",
        }
    }
}

impl std::fmt::Display for ProofSystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ProofSystem {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "groth16" => Ok(Self::Groth16),
            "halo2" => Ok(Self::Halo2),
            other => Err(format!(
                "unknown proof system {other:?} (expected \"groth16\" or \"halo2\")"
            )),
        }
    }
}

/// A block proof of either system.
#[derive(Clone, Debug, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "a Groth16 proof (256 bytes in memory) is the common case; boxing it would cost an allocation per envelope"
)]
pub enum BlockProof {
    /// A Groth16 proof.
    Groth16(Proof<Bn254>),
    /// A halo2 proof's bytes.
    Halo2(Vec<u8>),
}

impl BlockProof {
    /// Its proof system.
    pub fn system(&self) -> ProofSystem {
        match self {
            Self::Groth16(_) => ProofSystem::Groth16,
            Self::Halo2(_) => ProofSystem::Halo2,
        }
    }
}

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
    /// The proof.
    pub proof: BlockProof,
    /// Which verifying key checks it.
    pub vk_hash: VkHash,
}

/// Errors decoding an envelope.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// Wrong length (for its version; a halo2 proof longer than [`MAX_HALO2_PROOF_BYTES`]).
    #[error("a proof envelope of this version cannot be {0} bytes")]
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
    /// The envelope of a Groth16 `proof` for a circuit's public inputs (`[old_root, new_root,
    /// commitment, chain_id, height]`).
    pub fn new(
        height: u64,
        chain_id: u64,
        shape: CircuitShape,
        public_inputs: [Fr; NUM_PUBLIC_INPUTS],
        proof: Proof<Bn254>,
        vk_hash: VkHash,
    ) -> Self {
        Self::with_proof(
            height,
            chain_id,
            shape,
            public_inputs,
            BlockProof::Groth16(proof),
            vk_hash,
        )
    }

    /// The envelope of a proof of either system.
    pub fn with_proof(
        height: u64,
        chain_id: u64,
        shape: CircuitShape,
        public_inputs: [Fr; NUM_PUBLIC_INPUTS],
        proof: BlockProof,
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

    /// The Groth16 proof, if it is one.
    pub fn groth16(&self) -> Option<&Proof<Bn254>> {
        match &self.proof {
            BlockProof::Groth16(p) => Some(p),
            BlockProof::Halo2(_) => None,
        }
    }

    /// Its proof system.
    pub fn system(&self) -> ProofSystem {
        self.proof.system()
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
        out.push(match self.proof {
            BlockProof::Groth16(_) => ENVELOPE_VERSION,
            BlockProof::Halo2(_) => HALO2_ENVELOPE_VERSION,
        });
        out.extend_from_slice(&self.height.to_le_bytes());
        out.extend_from_slice(&self.chain_id.to_le_bytes());
        out.push(self.shape.depth as u8);
        out.extend_from_slice(&(self.shape.capacity as u32).to_le_bytes());
        for x in &self.roots {
            out.extend_from_slice(&to_bytes_le(x));
        }
        match &self.proof {
            BlockProof::Groth16(p) => p
                .serialize_compressed(&mut out)
                .expect("writing to a Vec cannot fail"),
            BlockProof::Halo2(p) => {
                out.extend_from_slice(&(p.len() as u32).to_le_bytes());
                out.extend_from_slice(p);
            }
        }
        out.extend_from_slice(&self.vk_hash);
        out
    }

    /// Strict decoding of either version.
    pub fn decode(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        const HEADER: usize = 1 + 8 + 8 + 1 + 4 + 96;
        if bytes.len() < HEADER + 32 {
            return Err(EnvelopeError::Length(bytes.len()));
        }
        let (proof, proof_bytes) = match bytes[0] {
            ENVELOPE_VERSION => {
                if bytes.len() != ENVELOPE_BYTES {
                    return Err(EnvelopeError::Length(bytes.len()));
                }
                let raw = &bytes[HEADER..HEADER + 128];
                let proof = Proof::<Bn254>::deserialize_compressed(raw)
                    .map_err(|e| EnvelopeError::Proof(e.to_string()))?;
                (BlockProof::Groth16(proof), 128)
            }
            HALO2_ENVELOPE_VERSION => {
                let len = u32::from_le_bytes(bytes[HEADER..HEADER + 4].try_into().expect("4 bytes"))
                    as usize;
                if len == 0 || len > MAX_HALO2_PROOF_BYTES || bytes.len() != HEADER + 4 + len + 32 {
                    return Err(EnvelopeError::Length(bytes.len()));
                }
                let proof = bytes[HEADER + 4..HEADER + 4 + len].to_vec();
                (BlockProof::Halo2(proof), 4 + len)
            }
            v => return Err(EnvelopeError::Version(v)),
        };
        let u64_at = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        let shape = CircuitShape {
            depth: bytes[17] as usize,
            capacity: u32::from_le_bytes(bytes[18..22].try_into().expect("4 bytes")) as usize,
        };
        let mut roots = [Fr::from(0u64); 3];
        for (i, x) in roots.iter_mut().enumerate() {
            *x = from_bytes_le(&bytes[22 + 32 * i..54 + 32 * i])?;
        }
        let at = HEADER + proof_bytes;
        Ok(Self {
            height: u64_at(1),
            chain_id: u64_at(9),
            shape,
            roots,
            proof,
            vk_hash: bytes[at..at + 32].try_into().expect("32 bytes"),
        })
    }
}

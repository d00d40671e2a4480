//! A worker's answer to a proving job, as bytes (docs/protocol.md, "Proving results (version 1)").
//! Decoding is strict — a result comes from a machine the node does not trust — but a decoded
//! result is still only a claim: the node checks the envelope against its own block and verifying
//! key before it stores anything ([`crate::Link`] carries it, the node judges it).
//!
//! ```text
//! magic "RSTR" | version u8 = 1 | worker name length u8 (1..=64) | worker name (A-Z a-z 0-9 . _ -)
//! | prove_ms u32 | proof envelope (rustorium_verifier::envelope, ENVELOPE_BYTES)
//! ```

use rustorium_verifier::envelope::{ENVELOPE_BYTES, EnvelopeError, ProofEnvelope};
use thiserror::Error;

/// The result encoding's magic.
pub const RESULT_MAGIC: &[u8; 4] = b"RSTR";
/// Current result version.
pub const RESULT_VERSION: u8 = 1;
/// Longest worker name.
pub const MAX_WORKER_NAME: usize = 64;

/// One proof from one worker.
#[derive(Clone, Debug, PartialEq)]
pub struct ProofResult {
    /// The worker's name (as it calls itself: an operator's label, not an authentication).
    pub worker: String,
    /// The worker's own proving time, milliseconds (informational).
    pub prove_ms: u32,
    /// The proof and the public inputs it claims.
    pub envelope: ProofEnvelope,
}

/// Why bytes are not a result.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResultError {
    /// Wrong magic or a version this build does not read.
    #[error("not a version-{RESULT_VERSION} proving result")]
    Version,
    /// The bytes end inside a field.
    #[error("truncated at {0}")]
    Truncated(&'static str),
    /// The worker name is empty, too long or has characters outside `A-Z a-z 0-9 . _ -`.
    #[error("bad worker name")]
    Name,
    /// The envelope is malformed (length, non-canonical inputs, points off the curve or outside
    /// the subgroup).
    #[error("envelope: {0}")]
    Envelope(#[from] EnvelopeError),
}

/// Whether `name` is a valid worker name (also what metrics labels and subjects may carry).
pub fn valid_worker_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_WORKER_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

impl ProofResult {
    /// The version-1 encoding. Panics only on a worker name [`valid_worker_name`] refuses (the
    /// worker checks its name at start).
    pub fn encode(&self) -> Vec<u8> {
        assert!(valid_worker_name(&self.worker), "invalid worker name");
        let mut out = Vec::with_capacity(4 + 1 + 1 + self.worker.len() + 4 + ENVELOPE_BYTES);
        out.extend_from_slice(RESULT_MAGIC);
        out.push(RESULT_VERSION);
        out.push(self.worker.len() as u8);
        out.extend_from_slice(self.worker.as_bytes());
        out.extend_from_slice(&self.prove_ms.to_le_bytes());
        out.extend_from_slice(&self.envelope.encode());
        out
    }

    /// Decodes [`ProofResult::encode`] strictly: nothing may be missing or follow the envelope.
    pub fn decode(bytes: &[u8]) -> Result<Self, ResultError> {
        if bytes.len() < 6 || &bytes[..4] != RESULT_MAGIC || bytes[4] != RESULT_VERSION {
            return Err(ResultError::Version);
        }
        let len = usize::from(bytes[5]);
        let rest = &bytes[6..];
        if rest.len() < len {
            return Err(ResultError::Truncated("worker name"));
        }
        let (name, rest) = rest.split_at(len);
        let worker = std::str::from_utf8(name).map_err(|_| ResultError::Name)?;
        if !valid_worker_name(worker) {
            return Err(ResultError::Name);
        }
        if rest.len() < 4 {
            return Err(ResultError::Truncated("prove_ms"));
        }
        let (ms, env) = rest.split_at(4);
        let prove_ms = u32::from_le_bytes([ms[0], ms[1], ms[2], ms[3]]);
        Ok(Self {
            worker: worker.to_string(),
            prove_ms,
            envelope: ProofEnvelope::decode(env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::AffineRepr;
    use rustorium_circuits::Fr;
    use rustorium_circuits::block::CircuitShape;

    fn sample() -> ProofResult {
        let proof = ark_groth16::Proof {
            a: ark_bn254::G1Affine::generator(),
            b: ark_bn254::G2Affine::generator(),
            c: (ark_bn254::G1Affine::generator() * Fr::from(7u64)).into(),
        };
        let inputs = [1u64, 2, 3, 1337, 9].map(Fr::from);
        ProofResult {
            worker: "gpu-3.rack_b".into(),
            prove_ms: 1234,
            envelope: ProofEnvelope::new(
                9,
                1337,
                CircuitShape {
                    depth: 8,
                    capacity: 4,
                },
                inputs,
                proof,
                [5; 32],
            ),
        }
    }

    #[test]
    fn results_round_trip_and_malformed_bytes_are_refused() {
        let r = sample();
        let bytes = r.encode();
        assert_eq!(bytes.len(), 6 + r.worker.len() + 4 + ENVELOPE_BYTES);
        assert_eq!(ProofResult::decode(&bytes), Ok(r.clone()));
        // Every truncation is refused, never a panic.
        for n in 0..bytes.len() {
            assert!(
                ProofResult::decode(&bytes[..n]).is_err(),
                "prefix of {n} bytes"
            );
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(matches!(
            ProofResult::decode(&trailing),
            Err(ResultError::Envelope(EnvelopeError::Length(_)))
        ));
        let mut version = bytes.clone();
        version[4] = 2;
        assert_eq!(ProofResult::decode(&version), Err(ResultError::Version));
        let mut name = bytes.clone();
        name[6] = b' ';
        assert_eq!(ProofResult::decode(&name), Err(ResultError::Name));
        // A point off the curve in the proof.
        let mut point = bytes.clone();
        let a_at = 6 + r.worker.len() + 4 + 1 + 8 + 8 + 1 + 4 + 96;
        point[a_at] ^= 0x01;
        assert!(matches!(
            ProofResult::decode(&point),
            Err(ResultError::Envelope(_))
        ));
    }

    #[test]
    fn worker_names_are_bounded_and_plain() {
        assert!(valid_worker_name("w0"));
        assert!(valid_worker_name(&"a".repeat(MAX_WORKER_NAME)));
        assert!(!valid_worker_name(""));
        assert!(!valid_worker_name(&"a".repeat(MAX_WORKER_NAME + 1)));
        assert!(!valid_worker_name("w\"0"));
        assert!(!valid_worker_name("w 0"));
    }
}

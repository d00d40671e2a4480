//! Light-client verification: a proof envelope against a verifying key, a chain of envelopes, and
//! an account proof against a verified root. Needs only the circuits crate and the verifier.

use ark_bn254::Bn254;
use ark_groth16::VerifyingKey;
use rustorium_circuits::Fr;
use rustorium_circuits::field::to_decimal;
use rustorium_circuits::merkle::{AccountProof, MerkleError};
use thiserror::Error;

use crate::prover::{ProofEnvelope, verify, vk_hash};

/// Why verification failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LightError {
    /// The envelope names another verifying key.
    #[error("envelope at height {0} was made for another verifying key")]
    WrongKey(u64),
    /// The Groth16 proof does not verify.
    #[error("proof at height {0} does not verify")]
    InvalidProof(u64),
    /// Heights are not consecutive.
    #[error("expected height {expected}, got {got}")]
    Height {
        /// Height expected.
        expected: u64,
        /// Height found.
        got: u64,
    },
    /// An envelope does not start from the previous envelope's new root (or the trusted root).
    #[error("envelope at height {height} starts from root {got}, expected {expected}")]
    Root {
        /// Height.
        height: u64,
        /// Expected old root.
        expected: String,
        /// Its old root.
        got: String,
    },
    /// The chain is empty.
    #[error("no envelopes to verify")]
    Empty,
    /// An account proof failed.
    #[error("account proof: {0}")]
    Account(#[from] MerkleError),
}

/// Verifies one envelope against `vk`.
pub fn verify_envelope(vk: &VerifyingKey<Bn254>, env: &ProofEnvelope) -> Result<(), LightError> {
    if vk_hash(vk) != env.vk_hash {
        return Err(LightError::WrongKey(env.height));
    }
    if !verify(vk, &env.proof, &env.public_inputs) {
        return Err(LightError::InvalidProof(env.height));
    }
    Ok(())
}

/// Verifies a chain of envelopes starting at `trusted_root` (the genesis root, or an earlier
/// verified head) and height `first_height`; returns the verified head `(height, root)`.
pub fn verify_chain<'a>(
    vk_for: impl Fn(&ProofEnvelope) -> Option<&'a VerifyingKey<Bn254>>,
    trusted_root: Fr,
    first_height: u64,
    envelopes: &[ProofEnvelope],
) -> Result<(u64, Fr), LightError> {
    if envelopes.is_empty() {
        return Err(LightError::Empty);
    }
    let mut root = trusted_root;
    let mut height = first_height;
    for env in envelopes {
        if env.height != height {
            return Err(LightError::Height {
                expected: height,
                got: env.height,
            });
        }
        if env.old_root() != root {
            return Err(LightError::Root {
                height,
                expected: to_decimal(&root),
                got: to_decimal(&env.old_root()),
            });
        }
        let vk = vk_for(env).ok_or(LightError::WrongKey(env.height))?;
        verify_envelope(vk, env)?;
        root = env.new_root();
        height += 1;
    }
    Ok((height - 1, root))
}

/// Verifies an account proof against a root the light client has verified.
pub fn verify_account(proof: &AccountProof, verified_root: Fr) -> Result<(), LightError> {
    Ok(proof.verify(verified_root)?)
}

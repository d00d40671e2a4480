//! Light-client verification: a proof envelope against a verifying key, a chain of envelopes with
//! the block data they commit to, and an account proof against a verified root. Needs only the
//! circuits crate and the verifier.
//!
//! What a light client trusts comes from its own genesis file, never from the node it talks to
//! ([`ChainSpec`]): the chain id, the genesis root (computed locally from the genesis accounts) and
//! the hash of the verifying key. For every block it then checks, in order: the envelope names the
//! pinned key and the genesis chain; the height is the next one; the old root is the previous new
//! root; the block has at least one transfer (a proof of a block without transfers is refused, so a
//! server cannot pad a chain with no-op blocks); every transfer carries the genesis chain id; the
//! commitment recomputed from the block's transfers, recipient indices and producer equals the
//! proof's; and the proof verifies against `[old_root, new_root, commitment, chain_id, height]`:
//! a Groth16 proof with the key prepared once per chain, or a halo2 proof (a chain with
//! `proof_system = "halo2"`) with the verifying key the client derived itself for the shape
//! ([`LightClient::halo2`]).

use ark_bn254::Bn254;
use ark_groth16::VerifyingKey;
use rustorium_circuits::Fr;
use rustorium_circuits::block::tx_commitment;
use rustorium_circuits::field::to_decimal;
use rustorium_circuits::merkle::{AccountProof, MerkleError};
use rustorium_circuits::transfer::SignedTransfer;
use rustorium_halo2::Halo2Verifier;
use std::sync::Arc;
use thiserror::Error;

use crate::envelope::{BlockProof, ProofEnvelope, ProofSystem};
use crate::keyfile::{VkHash, vk_hash};
use crate::verify;

/// Why verification failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LightError {
    /// The envelope names another verifying key.
    #[error("envelope at height {0} was made for another verifying key")]
    WrongKey(u64),
    /// The verifying key offered is not the one the genesis pins.
    #[error("the verifying key's hash {got} is not the pinned {expected}")]
    UnpinnedKey {
        /// Pinned hash (hex).
        expected: String,
        /// Hash of the key offered (hex).
        got: String,
    },
    /// The envelope or a transfer of its block names another chain.
    #[error("block at height {height} is for chain {got}, expected {expected}")]
    WrongChain {
        /// Height.
        height: u64,
        /// The genesis chain id.
        expected: u64,
        /// The chain id found.
        got: u64,
    },
    /// The proof does not verify.
    #[error("proof at height {0} does not verify")]
    InvalidProof(u64),
    /// The envelope's proof is of another proof system than the chain's.
    #[error("proof at height {height} is a {got} proof, the chain is proven with {expected}")]
    WrongSystem {
        /// Height.
        height: u64,
        /// The chain's system.
        expected: ProofSystem,
        /// The envelope's.
        got: ProofSystem,
    },
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
    /// The block data does not hash to the commitment the proof is for.
    #[error("block {0}: its transfers do not match the proven commitment")]
    Commitment(u64),
    /// The block has no transfers: no-op blocks are never proven.
    #[error("block {0} has no transfers")]
    NoOp(u64),
    /// The chain is empty.
    #[error("no envelopes to verify")]
    Empty,
    /// An account proof failed.
    #[error("account proof: {0}")]
    Account(#[from] MerkleError),
}

/// What a light client trusts, from its own genesis file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainSpec {
    /// The genesis chain id.
    pub chain_id: u64,
    /// The genesis root, computed locally.
    pub genesis_root: Fr,
    /// The hash of the verifying key the chain's proofs use: SHA-256 of the compressed Groth16
    /// key, or `rustorium_halo2::vk_hash` of the halo2 key.
    pub vk_hash: VkHash,
}

/// The block data a light client needs besides the proof: what the commitment covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockData {
    /// Height.
    pub height: u64,
    /// The producer's account index (receives the fees).
    pub producer: u64,
    /// Applied transfers in order, each with its recipient's leaf index (assigned for a new key).
    pub transfers: Vec<(SignedTransfer, u64)>,
}

impl BlockData {
    /// The commitment these transfers make on `chain_id`.
    pub fn commitment(&self, chain_id: u64) -> Fr {
        tx_commitment(
            chain_id,
            self.producer,
            self.transfers.iter().map(|(t, to)| (t.tx.message(), *to)),
        )
    }
}

/// What checks one chain's proofs: a prepared Groth16 key or a halo2 verifier.
#[derive(Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per light client, never in bulk"
)]
pub enum BlockVerifier {
    /// Groth16.
    Groth16(crate::PreparedKey),
    /// halo2, for one shape.
    Halo2(Arc<Halo2Verifier>),
}

impl BlockVerifier {
    /// Its proof system.
    pub fn system(&self) -> ProofSystem {
        match self {
            Self::Groth16(_) => ProofSystem::Groth16,
            Self::Halo2(_) => ProofSystem::Halo2,
        }
    }

    /// Checks `env`'s proof against its public inputs (not its key hash: see
    /// [`verify_envelope`]).
    pub fn check(&self, env: &ProofEnvelope) -> Result<(), LightError> {
        let ok = match (self, &env.proof) {
            (Self::Groth16(pvk), BlockProof::Groth16(p)) => pvk.verify(p, &env.public_inputs()),
            (Self::Halo2(v), BlockProof::Halo2(p)) => halo2_verifies(v, env, p),
            _ => {
                return Err(LightError::WrongSystem {
                    height: env.height,
                    expected: self.system(),
                    got: env.system(),
                });
            }
        };
        if ok {
            Ok(())
        } else {
            Err(LightError::InvalidProof(env.height))
        }
    }
}

/// A light client following one chain from its genesis: the verifying key prepared once, the
/// verified head advanced block by block.
#[derive(Clone)]
pub struct LightClient {
    spec: ChainSpec,
    verifier: BlockVerifier,
    height: u64,
    root: Fr,
}

impl std::fmt::Debug for LightClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LightClient")
            .field("spec", &self.spec)
            .field("height", &self.height)
            .finish()
    }
}

impl LightClient {
    /// A client at the genesis of `spec`, with `vk` (from anywhere: it must hash to the pinned
    /// value).
    pub fn new(spec: ChainSpec, vk: &VerifyingKey<Bn254>) -> Result<Self, LightError> {
        let got = vk_hash(vk);
        if got != spec.vk_hash {
            return Err(LightError::UnpinnedKey {
                expected: hex::encode(spec.vk_hash),
                got: hex::encode(got),
            });
        }
        Ok(Self {
            verifier: BlockVerifier::Groth16(crate::PreparedKey::new(vk)),
            height: 0,
            root: spec.genesis_root,
            spec,
        })
    }

    /// A client at the genesis of a chain proven with halo2, with the verifier it derived for the
    /// chain's shape ([`Halo2Verifier::new`]: transparent, so nothing comes from a server). The
    /// verifier's key must hash to the pinned value.
    pub fn halo2(spec: ChainSpec, verifier: Arc<Halo2Verifier>) -> Result<Self, LightError> {
        let got = verifier.vk_hash();
        if got != spec.vk_hash {
            return Err(LightError::UnpinnedKey {
                expected: hex::encode(spec.vk_hash),
                got: hex::encode(got),
            });
        }
        Ok(Self {
            verifier: BlockVerifier::Halo2(verifier),
            height: 0,
            root: spec.genesis_root,
            spec,
        })
    }

    /// The verified head `(height, root)`.
    pub fn head(&self) -> (u64, Fr) {
        (self.height, self.root)
    }

    /// Checks the next block's envelope and data (module docs) and advances the head. Nothing
    /// changes when it fails.
    pub fn apply(&mut self, env: &ProofEnvelope, block: &BlockData) -> Result<(), LightError> {
        let expected = self.height + 1;
        if env.height != expected || block.height != expected {
            return Err(LightError::Height {
                expected,
                got: if env.height != expected {
                    env.height
                } else {
                    block.height
                },
            });
        }
        if env.vk_hash != self.spec.vk_hash {
            return Err(LightError::WrongKey(env.height));
        }
        let chain = self.spec.chain_id;
        let wrong_chain = |got| LightError::WrongChain {
            height: env.height,
            expected: chain,
            got,
        };
        if env.chain_id != chain {
            return Err(wrong_chain(env.chain_id));
        }
        if let Some((t, _)) = block.transfers.iter().find(|(t, _)| t.tx.chain_id != chain) {
            return Err(wrong_chain(t.tx.chain_id));
        }
        if env.old_root() != self.root {
            return Err(LightError::Root {
                height: env.height,
                expected: to_decimal(&self.root),
                got: to_decimal(&env.old_root()),
            });
        }
        if block.transfers.is_empty() {
            return Err(LightError::NoOp(env.height));
        }
        if block.commitment(chain) != env.commitment() {
            return Err(LightError::Commitment(env.height));
        }
        self.verifier.check(env)?;
        self.height = env.height;
        self.root = env.new_root();
        Ok(())
    }
}

/// Verifies one Groth16 envelope against `vk` alone: the key hash and the pairing check over the
/// envelope's public inputs (its height and chain id included). It does not know which chain the
/// caller means or what the block contained: [`LightClient`] checks those.
pub fn verify_envelope(vk: &VerifyingKey<Bn254>, env: &ProofEnvelope) -> Result<(), LightError> {
    if vk_hash(vk) != env.vk_hash {
        return Err(LightError::WrongKey(env.height));
    }
    let Some(proof) = env.groth16() else {
        return Err(LightError::WrongSystem {
            height: env.height,
            expected: ProofSystem::Groth16,
            got: env.system(),
        });
    };
    if !verify(vk, proof, &env.public_inputs()) {
        return Err(LightError::InvalidProof(env.height));
    }
    Ok(())
}

/// [`verify_envelope`] for a halo2 envelope, with a verifier derived for its shape.
pub fn verify_halo2_envelope(
    verifier: &Halo2Verifier,
    env: &ProofEnvelope,
) -> Result<(), LightError> {
    if verifier.vk_hash() != env.vk_hash {
        return Err(LightError::WrongKey(env.height));
    }
    let BlockProof::Halo2(proof) = &env.proof else {
        return Err(LightError::WrongSystem {
            height: env.height,
            expected: ProofSystem::Halo2,
            got: env.system(),
        });
    };
    if !halo2_verifies(verifier, env, proof) {
        return Err(LightError::InvalidProof(env.height));
    }
    Ok(())
}

/// Whether a halo2 `proof` verifies for `env`'s shape and public inputs.
fn halo2_verifies(verifier: &Halo2Verifier, env: &ProofEnvelope, proof: &[u8]) -> bool {
    env.shape == verifier.shape() && verifier.verify(&env.public_inputs(), proof).is_ok()
}

/// Verifies the chain of `blocks` from the genesis of `spec`; returns the verified head
/// `(height, root)`.
pub fn verify_chain(
    spec: ChainSpec,
    vk: &VerifyingKey<Bn254>,
    blocks: &[(ProofEnvelope, BlockData)],
) -> Result<(u64, Fr), LightError> {
    if blocks.is_empty() {
        return Err(LightError::Empty);
    }
    let mut client = LightClient::new(spec, vk)?;
    for (env, block) in blocks {
        client.apply(env, block)?;
    }
    Ok(client.head())
}

/// Verifies an account proof against a root the light client has verified.
pub fn verify_account(proof: &AccountProof, verified_root: Fr) -> Result<(), LightError> {
    Ok(proof.verify(verified_root)?)
}

//! The light client's verifier: proof envelopes, verifying-key files and hashes, chains of
//! proven blocks and account proofs. It depends on the statement (`rustorium-circuits`),
//! ark-groth16 and the halo2 verifier (`rustorium-halo2`) only: no async runtime, no networking, no storage, no GPU, so anything that checks
//! Rustorium proofs (a CLI, a service, a future wasm build) pulls in nothing of the node.

pub mod envelope;
pub mod keyfile;
pub mod light;

use ark_bn254::Bn254;
use ark_groth16::{Groth16, PreparedVerifyingKey, Proof, VerifyingKey};
use rustorium_circuits::Fr;

pub use envelope::{
    BlockProof, ENVELOPE_BYTES, ENVELOPE_VERSION, EnvelopeError, HALO2_ENVELOPE_VERSION,
    ProofEnvelope, ProofSystem,
};
pub use keyfile::{KeyError, STATEMENT_VERSION, VkHash, parse_verifying_key, vk_hash};
pub use light::{
    BlockData, BlockVerifier, ChainSpec, LightClient, LightError, verify_account, verify_chain,
    verify_envelope, verify_halo2_envelope,
};
pub use rustorium_halo2 as halo2;

/// Verifies a proof against public inputs (the key prepared for this one call; to check many
/// proofs under one key, prepare it once: [`PreparedKey`], as [`LightClient`] does).
pub fn verify(vk: &VerifyingKey<Bn254>, proof: &Proof<Bn254>, inputs: &[Fr]) -> bool {
    PreparedKey::new(vk).verify(proof, inputs)
}

/// A verifying key prepared once (the pairing with `alpha`/`beta` and the negated `gamma`,
/// `delta` precomputed): verifying a proof then costs about half of a one-off [`verify`]
/// (BENCHMARKS.md, "Latest full report").
#[derive(Clone)]
pub struct PreparedKey(PreparedVerifyingKey<Bn254>);

impl PreparedKey {
    /// Prepares `vk`.
    pub fn new(vk: &VerifyingKey<Bn254>) -> Self {
        Self(ark_groth16::prepare_verifying_key(vk))
    }

    /// Whether `proof` verifies for `inputs` (false, never a panic, for the wrong number of
    /// inputs).
    pub fn verify(&self, proof: &Proof<Bn254>, inputs: &[Fr]) -> bool {
        inputs.len() + 1 == self.0.vk.gamma_abc_g1.len()
            && Groth16::<Bn254>::verify_proof(&self.0, proof, inputs).unwrap_or(false)
    }
}

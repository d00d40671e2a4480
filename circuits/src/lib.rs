//! The statement Rustorium proves, and everything a light client needs to check it: circomlib's
//! Poseidon, EdDSA-Poseidon over Baby Jubjub, the account and transfer encodings, and account
//! (Merkle) proofs. No GPU, no IO, no async.

pub mod field;
pub mod poseidon;

/// The field of state, Merkle trees and circuits: BN254's scalar field (Baby Jubjub's base field).
pub type Fr = ark_bn254::Fr;
pub mod account;
pub mod babyjubjub;
pub mod block;
pub mod eddsa;
pub mod gadgets;
pub mod merkle;
pub mod r1cs;
pub mod transfer;
pub mod witness;

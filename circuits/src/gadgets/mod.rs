//! R1CS gadgets (arkworks `gr1cs`), each the in-circuit twin of a native primitive and tested
//! against it on random inputs: Poseidon, Merkle paths, Baby Jubjub arithmetic, EdDSA-Poseidon.
//!
//! Shapes never depend on values: every value that comes from a witness is allocated as a witness
//! variable, so the same code builds the proving-key circuit and every proving circuit.

pub mod babyjubjub;
pub mod eddsa;
pub mod merkle;
pub mod poseidon;

use ark_r1cs_std::fields::fp::FpVar;

/// A field variable over BN254's scalar field.
pub type FrVar = FpVar<crate::Fr>;

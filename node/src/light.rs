//! Light-client verification, from the `rustorium-verifier` crate (which depends on the circuits
//! crate and ark-groth16 only): envelopes, chains of proven blocks with their block data, account
//! proofs. Re-exported here for the node's own light client and the CLI.

pub use rustorium_verifier::light::*;

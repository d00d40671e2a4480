//! The block circuit written for halo2 directly ("native"), instead of compiled from its R1CS.
//!
//! Six advice columns carry every chip (see the gate table in [`builder`]):
//!
//! * **Poseidon** (circomlib's, widths 3–6 with the constants of `rustorium_circuits::poseidon`):
//!   one row per round, the next row the state after it; full and partial rounds are separate
//!   degree-5 gates with the round constants in fixed columns: 66–69 rows a hash.
//! * **Baby Jubjub** addition as one custom gate (complete twisted Edwards formulas, so doubling
//!   and the identity need no special case); variable-base multiplication is double-and-add over
//!   the canonical bits, fixed-base multiplication adds precomputed `2ⁱ·Base8` selected by each bit.
//! * **EdDSA-Poseidon** verification from those, with `S ≤ l − 1` and the hash's bits canonical
//!   (`≤ p − 1`) as in the R1CS.
//! * **64-bit range checks** by lookup: a running sum of eight byte limbs, each limb looked up in
//!   a 256-row table.
//! * **Merkle paths**: a swap gate (conditional order of node and sibling) then a width-3 hash.
//! * Bits by a Horner gate (five bits and the accumulator a row); a general arithmetic gate for the
//!   rest (padding and fee rules, the message packing, selections against zero).
//!
//! At depth 32 a transfer takes 11,632 rows (16,201 for a one-transfer block, `k` = 14);
//! the block circuit's R1CS compiled to rows took 209,983 (`k` = 18), arkworks having inlined its
//! linear combinations into 20 matrix entries per constraint.
//!
//! [`block::trace`] states the block rules on these chips in the same order as the R1CS
//! synthesizer, so both circuits prove one statement with the same public inputs; the soundness
//! tests mutate every witness value and require both to refuse it.

pub mod block;
pub mod builder;
pub mod circuit;
#[cfg(test)]
mod tests;

pub use block::{LayoutError, trace};
pub use builder::{Builder, Layout, Trace};
pub use circuit::{NativeCircuit, Violation, k_of};

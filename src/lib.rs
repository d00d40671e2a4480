//! Rustorium: a GPU-accelerated zero-knowledge proving node. The crates below this one are the
//! statement (`rustorium-circuits`), the light client (`rustorium-verifier`), the compute backends
//! (`rustorium-accel`), the account state (`rustorium-state`) and the prover (`rustorium-prover`),
//! re-exported here under their old module names; this crate adds networking, consensus, the node
//! and its HTTP API (docs/architecture.md draws the graph).

pub use rustorium_accel as accel;
pub use rustorium_accel::hardware;
pub use rustorium_consensus as consensus;
pub use rustorium_net as net;
pub use rustorium_prover as prover;
pub use rustorium_state as state;

pub mod api;
pub mod builtin;
pub mod light;
pub mod logging;
pub mod node;
pub mod policy;
pub mod scoring;

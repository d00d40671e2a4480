//! Rustorium: a GPU-accelerated zero-knowledge proving node. This crate is the machine that runs
//! the statement defined in `rustorium-circuits`: compute backends, the state store, execution and
//! (in later layers) proving, networking and the node.

pub mod accel;
pub mod api;
pub mod builtin;
pub mod consensus;
pub mod hardware;
pub mod light;
pub mod logging;
pub mod net;
pub mod node;
pub mod policy;
pub mod prover;
pub mod scoring;
pub mod state;

//! BFT consensus among validators: malachite's Tendermint core (`arc-malachitebft-core-*`)
//! driven by our own loop, over our QUIC transport, deciding blocks that carry their
//! post-execution state root. Design, message flow and fault model: docs/consensus.md.

pub mod codec;
pub(crate) mod engine;
pub mod p2p;
pub mod types;

pub use engine::{Byzantine, EngineConfig};

//! BFT consensus among validators: malachite's Tendermint core (`arc-malachitebft-core-*`) in a
//! sans-IO driver ([`driver::Driver`]) that the node reaches through [`driver::Host`], run by one
//! thread ([`engine::Engine`]) over the validator transport of `rustorium-net`, deciding blocks
//! that carry their post-execution state root. What consensus keeps on disk (signed votes,
//! decided blocks with certificates) is [`store`]'s. Design, message flow and fault model:
//! docs/consensus.md.

pub mod codec;
pub mod driver;
pub mod engine;
pub mod store;
pub mod types;

pub use driver::{Byzantine, Driver, EngineConfig, Host, Target, Transmit};

//! Rustorium: a GPU-accelerated zero-knowledge proving node. This crate is the `rustorium`
//! binary's library: the CLI's logging set-up and the start of a node's servers. Everything else
//! is in the crates below, re-exported here under their module names (docs/architecture.md draws
//! the graph): the statement (`rustorium-circuits`), the light client (`rustorium-verifier`), the
//! compute backends (`rustorium-accel`), the account state (`rustorium-state`), the prover
//! (`rustorium-prover`), the QUIC endpoints (`rustorium-net`), consensus
//! (`rustorium-consensus`), the node (`rustorium-node`) and its HTTP API (`rustorium-api`).

use std::net::SocketAddr;
use std::sync::Arc;

pub use rustorium_accel as accel;
pub use rustorium_accel::hardware;
pub use rustorium_api as api;
pub use rustorium_consensus as consensus;
pub use rustorium_fleet as fleet;
pub use rustorium_halo2 as halo2;
pub use rustorium_net as net;
pub use rustorium_node as node;
pub use rustorium_node::{builtin, light, policy, scoring};
pub use rustorium_prover as prover;
pub use rustorium_state as state;

pub mod logging;

/// Starts QUIC ingestion and the HTTP API of `node` on the current tokio runtime; returns the
/// bound addresses (port 0 picks a free port).
pub async fn start_servers(
    node: Arc<node::Node>,
    quic: SocketAddr,
    http: SocketAddr,
) -> std::io::Result<(SocketAddr, SocketAddr)> {
    let quic = node.serve_ingestion(quic).map_err(std::io::Error::other)?;
    let http = api::serve_http(node, http).await?;
    Ok((quic, http))
}

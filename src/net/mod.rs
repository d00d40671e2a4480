//! Networking: the ingestion protocol (sans-IO [`codec`]) and its QUIC transport ([`quic`]).

pub mod codec;
pub mod quic;

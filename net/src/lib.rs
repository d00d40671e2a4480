//! Every QUIC endpoint of the node, over one TLS setup ([`tls`]): transfer ingestion (the
//! sans-IO frame [`codec`] and its transport, [`quic`]) and the validator transport ([`peer`]:
//! authenticated by validator keys, carrying consensus's bytes without reading them). Nothing
//! here knows the node, consensus or the state: ingestion hands transfers to an
//! [`quic::Ingest`], the validator transport hands bytes to a channel.

pub mod codec;
pub mod peer;
pub mod quic;
pub mod tls;

//! QUIC transport (quinn) for ingestion: a server that feeds SUBMIT frames to the node and answers
//! each with a RESULT, and a client. TLS 1.3 with the node's self-signed certificate (kept in
//! `<data>/tls/`), which clients pin; ALPN `rustorium/1`.
//!
//! Back-pressure: at most `MAX_STREAMS` concurrent streams per connection; a stream's next frame is
//! read only after the previous one was answered, so QUIC flow control slows a sender down to the
//! node's admission rate; a full mempool answers `mempool full`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustorium_circuits::field::to_bytes_le;
use rustorium_circuits::transfer::SignedTransfer;
use thiserror::Error;

use super::codec::{CodecError, Decoder, Frame, Kind, SubmitResult};
use crate::node::Node;

/// ALPN protocol id.
pub const ALPN: &[u8] = b"rustorium/1";
/// Concurrent bidirectional streams per connection.
pub const MAX_STREAMS: u32 = 16;

/// Transport errors.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum QuicError {
    /// TLS set-up failed.
    #[error("tls: {0}")]
    Tls(String),
    /// I/O (binding, certificate files).
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// Connecting failed.
    #[error("connect: {0}")]
    Connect(String),
    /// The stream failed.
    #[error("stream: {0}")]
    Stream(String),
    /// The peer broke the protocol.
    #[error("protocol: {0}")]
    Protocol(#[from] CodecError),
    /// The server answered with an ERROR frame.
    #[error("server error: {0}")]
    Server(String),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Loads the node's certificate and key from `dir`, creating a self-signed pair on first use.
pub fn node_identity(
    dir: &Path,
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), QuicError> {
    let cert_path = dir.join("cert.der");
    let key_path = dir.join("key.der");
    if !cert_path.exists() || !key_path.exists() {
        std::fs::create_dir_all(dir)?;
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
            .map_err(|e| QuicError::Tls(e.to_string()))?;
        std::fs::write(&key_path, ck.signing_key.serialize_der())?;
        std::fs::write(&cert_path, ck.cert.der())?;
    }
    let cert = CertificateDer::from(std::fs::read(&cert_path)?);
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(std::fs::read(&key_path)?));
    Ok((cert, key))
}

/// Binds the ingestion endpoint.
pub fn server_endpoint(addr: SocketAddr, tls_dir: &Path) -> Result<quinn::Endpoint, QuicError> {
    let (cert, key) = node_identity(tls_dir)?;
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| QuicError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .map_err(|e| QuicError::Tls(e.to_string()))?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto = QuicServerConfig::try_from(tls).map_err(|e| QuicError::Tls(e.to_string()))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    transport.max_concurrent_bidi_streams(MAX_STREAMS.into());
    transport.max_concurrent_uni_streams(0u32.into());
    config.transport_config(Arc::new(transport));
    Ok(quinn::Endpoint::server(config, addr)?)
}

/// Serves ingestion on `endpoint` until it is closed.
pub async fn serve(endpoint: quinn::Endpoint, node: Arc<Node>) {
    while let Some(incoming) = endpoint.accept().await {
        let node = node.clone();
        tokio::spawn(async move {
            let Ok(conn) = incoming.await else { return };
            while let Ok((send, recv)) = conn.accept_bi().await {
                let node = node.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve_stream(send, recv, node).await {
                        tracing::debug!(error = %e, "ingestion stream ended with an error");
                    }
                });
            }
        });
    }
}

/// Writes an ERROR frame and finishes the stream (best effort: the peer may be gone).
async fn send_error(send: &mut quinn::SendStream, node: &Node, reason: String) {
    node.metrics.reject("malformed_frame");
    let _ = send
        .write_all(
            &Frame {
                kind: Kind::Error,
                payload: reason.into_bytes(),
            }
            .encode(),
        )
        .await;
    let _ = send.finish();
}

async fn serve_stream(
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    node: Arc<Node>,
) -> Result<(), QuicError> {
    let mut decoder = Decoder::new();
    let mut buf = vec![0u8; 8192];
    loop {
        loop {
            let frame = match decoder.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    send_error(&mut send, &node, e.to_string()).await;
                    return Err(e.into());
                }
            };
            if frame.kind != Kind::Submit {
                let msg = format!("unexpected frame kind {:?}", frame.kind);
                send_error(&mut send, &node, msg.clone()).await;
                return Err(QuicError::Server(msg));
            }
            let n = node.clone();
            let result = tokio::task::spawn_blocking(move || n.submit_bytes(&frame.payload))
                .await
                .map_err(|e| QuicError::Stream(e.to_string()))?;
            let answer = match result {
                Ok(tx) => SubmitResult {
                    accepted: true,
                    tx_id: to_bytes_le(&tx.tx.message()),
                    reason: String::new(),
                },
                Err(e) => SubmitResult {
                    accepted: false,
                    tx_id: [0; 32],
                    reason: e.to_string(),
                },
            };
            send.write_all(&answer.to_frame().encode())
                .await
                .map_err(|e| QuicError::Stream(e.to_string()))?;
        }
        match recv
            .read(&mut buf)
            .await
            .map_err(|e| QuicError::Stream(e.to_string()))?
        {
            Some(n) => decoder.push(&buf[..n]),
            None => {
                let end = decoder.finish();
                if let Err(e) = &end {
                    send_error(&mut send, &node, e.to_string()).await;
                } else {
                    let _ = send.finish();
                }
                return end.map_err(Into::into);
            }
        }
    }
}

/// An ingestion client pinned to the node's certificate.
pub struct Client {
    endpoint: quinn::Endpoint,
    conn: quinn::Connection,
}

/// How often an idle [`Client`] pings the node.
pub const CLIENT_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(5);

impl Client {
    /// Connects to `addr`, trusting only `cert` (the node's `tls/cert.der`).
    pub async fn connect(
        addr: SocketAddr,
        cert: CertificateDer<'static>,
    ) -> Result<Self, QuicError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).map_err(|e| QuicError::Tls(e.to_string()))?;
        let mut tls = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| QuicError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![ALPN.to_vec()];
        let crypto = QuicClientConfig::try_from(tls).map_err(|e| QuicError::Tls(e.to_string()))?;
        let bind: SocketAddr = if addr.is_ipv6() {
            "[::]:0"
        } else {
            "0.0.0.0:0"
        }
        .parse()
        .expect("valid address");
        let mut endpoint = quinn::Endpoint::client(bind)?;
        let mut config = quinn::ClientConfig::new(Arc::new(crypto));
        // An idle client (one waiting for the prover, say) keeps its connection: the server's
        // idle timeout (quinn's default, 30 s) never fires while the client lives.
        let mut transport = quinn::TransportConfig::default();
        transport.keep_alive_interval(Some(CLIENT_KEEP_ALIVE));
        config.transport_config(Arc::new(transport));
        endpoint.set_default_client_config(config);
        let conn = endpoint
            .connect(addr, "localhost")
            .map_err(|e| QuicError::Connect(e.to_string()))?
            .await
            .map_err(|e| QuicError::Connect(e.to_string()))?;
        Ok(Self { endpoint, conn })
    }

    /// Sends raw bytes on a new stream and reads frames until the server finishes the stream.
    pub async fn exchange_raw(&self, bytes: &[u8]) -> Result<Vec<Frame>, QuicError> {
        let (mut send, mut recv) = self
            .conn
            .open_bi()
            .await
            .map_err(|e| QuicError::Stream(e.to_string()))?;
        send.write_all(bytes)
            .await
            .map_err(|e| QuicError::Stream(e.to_string()))?;
        let _ = send.finish();
        let data = recv
            .read_to_end(1 << 20)
            .await
            .map_err(|e| QuicError::Stream(e.to_string()))?;
        let mut d = Decoder::new();
        d.push(&data);
        let mut frames = Vec::new();
        while let Some(f) = d.next_frame()? {
            frames.push(f);
        }
        d.finish()?;
        Ok(frames)
    }

    /// Submits transfers on one stream; one result per transfer, in order.
    pub async fn submit(&self, txs: &[SignedTransfer]) -> Result<Vec<SubmitResult>, QuicError> {
        let mut bytes = Vec::new();
        for t in txs {
            let payload = t
                .encode()
                .ok_or_else(|| QuicError::Stream("transfer does not encode".into()))?;
            bytes.extend(
                Frame {
                    kind: Kind::Submit,
                    payload,
                }
                .encode(),
            );
        }
        let frames = self.exchange_raw(&bytes).await?;
        frames
            .into_iter()
            .map(|f| match f.kind {
                Kind::Result => Ok(SubmitResult::decode(&f.payload)?),
                Kind::Error => Err(QuicError::Server(
                    String::from_utf8_lossy(&f.payload).into_owned(),
                )),
                Kind::Submit => Err(QuicError::Protocol(CodecError::Kind(1))),
            })
            .collect()
    }

    /// The node's address.
    pub fn remote_address(&self) -> SocketAddr {
        self.conn.remote_address()
    }

    /// Closes the connection.
    pub async fn close(self) {
        self.conn.close(0u32.into(), b"done");
        self.endpoint.wait_idle().await;
    }
}

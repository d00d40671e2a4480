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

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustorium_circuits::field::to_bytes_le;
use rustorium_circuits::transfer::SignedTransfer;
use thiserror::Error;

use crate::codec::{CodecError, Decoder, Frame, Kind, SubmitResult};
use crate::tls::{self, ServerTrust, TlsError};

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
    Tls(#[from] TlsError),
    /// I/O (binding, certificate files).
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The node identity files are unusable (names the file and says why).
    #[error("node identity: {0}")]
    Identity(String),
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

/// Loads the node's certificate and key from `dir`, creating a self-signed pair on first use.
pub fn node_identity(
    dir: &Path,
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), QuicError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let cert_path = dir.join("cert.der");
    let key_path = dir.join("key.der");
    let named =
        |p: &Path, e: &dyn std::fmt::Display| QuicError::Identity(format!("{}: {e}", p.display()));
    match (cert_path.exists(), key_path.exists()) {
        (false, false) => {
            // Made aside and renamed into place as a pair: a crash while creating it (the red
            // team's kill during a first start) leaves either no identity or a whole one, never
            // a key without its certificate, which the next start would rightly refuse.
            let staging = dir.with_extension("new");
            if staging.exists() {
                std::fs::remove_dir_all(&staging).map_err(|e| named(&staging, &e))?;
            }
            std::fs::create_dir_all(&staging).map_err(|e| named(&staging, &e))?;
            let (cert, key) = tls::self_signed("localhost")?;
            let (new_key, new_cert) = (staging.join("key.der"), staging.join("cert.der"));
            // The private key is readable by the owner only, from its first byte.
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&new_key)
                .map_err(|e| named(&new_key, &e))?;
            std::io::Write::write_all(&mut f, key.secret_der())
                .and_then(|()| f.sync_all())
                .map_err(|e| named(&new_key, &e))?;
            let mut f = std::fs::File::create(&new_cert).map_err(|e| named(&new_cert, &e))?;
            std::io::Write::write_all(&mut f, &cert)
                .and_then(|()| f.sync_all())
                .map_err(|e| named(&new_cert, &e))?;
            if dir.exists() {
                // An empty directory left by an older version or a crash: nothing to keep.
                std::fs::remove_dir(dir).map_err(|e| named(dir, &e))?;
            }
            std::fs::rename(&staging, dir).map_err(|e| named(dir, &e))?;
            if let Some(parent) = dir.parent()
                && let Ok(d) = std::fs::File::open(parent)
            {
                let _ = d.sync_all();
            }
        }
        (true, true) => {}
        (cert, _) => {
            // Clients pin the certificate: a new identity must never be made behind their back.
            let (missing, present) = if cert {
                (&key_path, &cert_path)
            } else {
                (&cert_path, &key_path)
            };
            return Err(named(
                missing,
                &format!(
                    "missing while {} exists; the node identity is not recreated silently (clients pin its certificate): restore the file, or delete both to make a new identity",
                    present.display()
                ),
            ));
        }
    }
    let mode = std::fs::metadata(&key_path)
        .map_err(|e| named(&key_path, &e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        tracing::warn!(path = %key_path.display(), mode = format!("{mode:o}"), "private key readable by others: restricting to 0600");
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| named(&key_path, &e))?;
    }
    let cert_bytes = std::fs::read(&cert_path).map_err(|e| named(&cert_path, &e))?;
    let key_bytes = std::fs::read(&key_path).map_err(|e| named(&key_path, &e))?;
    // Checked here so that a damaged file is named, not reported by rustls as a TLS failure.
    let parsed = rustls::crypto::ring::sign::any_supported_type(&PrivateKeyDer::Pkcs8(
        PrivatePkcs8KeyDer::from(key_bytes.clone()),
    ));
    if parsed.is_err() {
        return Err(named(&key_path, &"not a PKCS#8 private key"));
    }
    if cert_bytes.is_empty() || cert_bytes[0] != 0x30 {
        return Err(named(&cert_path, &"not a DER certificate"));
    }
    let cert = CertificateDer::from(cert_bytes);
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_bytes));
    Ok((cert, key))
}

/// Binds the ingestion endpoint.
pub fn server_endpoint(addr: SocketAddr, tls_dir: &Path) -> Result<quinn::Endpoint, QuicError> {
    let (cert, key) = node_identity(tls_dir)?;
    let mut transport = quinn::TransportConfig::default();
    transport.max_concurrent_bidi_streams(MAX_STREAMS.into());
    transport.max_concurrent_uni_streams(0u32.into());
    let config = tls::server_config(cert, key, ALPN, transport)?;
    Ok(quinn::Endpoint::server(config, addr)?)
}

/// What the ingestion server hands transfers to. The node implements it; this layer knows nothing
/// of the node, its mempool or its metrics.
pub trait Ingest: Send + Sync + 'static {
    /// Why a transfer was refused (sent to the client as the RESULT's reason).
    type Error: std::fmt::Display + Send + 'static;

    /// Decodes and admits one encoded signed transfer; returns it when admitted.
    fn submit_encoded(&self, bytes: &[u8]) -> Result<SignedTransfer, Self::Error>;

    /// Decodes and admits several, one result each, in order. The node overrides it to make the
    /// accepted ones durable with one commit; the default submits them one by one.
    fn submit_batch(&self, frames: &[Vec<u8>]) -> Vec<Result<SignedTransfer, Self::Error>> {
        frames.iter().map(|f| self.submit_encoded(f)).collect()
    }

    /// Counts a frame the server refused before any transfer was decoded.
    fn malformed_frame(&self);
}

/// Serves ingestion on `endpoint` until it is closed.
pub async fn serve<I: Ingest>(endpoint: quinn::Endpoint, node: Arc<I>) {
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
async fn send_error<I: Ingest>(send: &mut quinn::SendStream, node: &I, reason: String) {
    node.malformed_frame();
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

async fn serve_stream<I: Ingest>(
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    node: Arc<I>,
) -> Result<(), QuicError> {
    let mut decoder = Decoder::new();
    let mut buf = vec![0u8; 8192];
    loop {
        // Every frame decoded so far goes to the node as one batch (one durable commit for all),
        // answered in order; a bad frame ends the stream after the batch before it is answered.
        let mut batch = Vec::new();
        let mut bad = None;
        loop {
            match decoder.next_frame() {
                Ok(Some(f)) if f.kind == Kind::Submit => batch.push(f.payload),
                Ok(Some(f)) => {
                    let msg = format!("unexpected frame kind {:?}", f.kind);
                    bad = Some((msg.clone(), QuicError::Server(msg)));
                    break;
                }
                Ok(None) => break,
                Err(e) => {
                    bad = Some((e.to_string(), e.into()));
                    break;
                }
            }
        }
        if !batch.is_empty() {
            let n = node.clone();
            let results = tokio::task::spawn_blocking(move || n.submit_batch(&batch))
                .await
                .map_err(|e| QuicError::Stream(e.to_string()))?;
            let mut out = Vec::new();
            for result in results {
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
                out.extend_from_slice(&answer.to_frame().encode());
            }
            send.write_all(&out)
                .await
                .map_err(|e| QuicError::Stream(e.to_string()))?;
        }
        if let Some((msg, e)) = bad {
            send_error(&mut send, node.as_ref(), msg).await;
            return Err(e);
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
                    send_error(&mut send, node.as_ref(), e.to_string()).await;
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
        let bind: SocketAddr = if addr.is_ipv6() {
            "[::]:0"
        } else {
            "0.0.0.0:0"
        }
        .parse()
        .expect("valid address");
        let mut endpoint = quinn::Endpoint::client(bind)?;
        // An idle client (one waiting for the prover, say) keeps its connection: the server's
        // idle timeout (quinn's default, 30 s) never fires while the client lives.
        let mut transport = quinn::TransportConfig::default();
        transport.keep_alive_interval(Some(CLIENT_KEEP_ALIVE));
        endpoint.set_default_client_config(tls::client_config(
            ServerTrust::Pinned(cert),
            ALPN,
            transport,
        )?);
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

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("stat").permissions().mode() & 0o777
    }

    /// The red team's key-file findings: the private key was world-readable, and deleting it
    /// silently made a new identity that broke every client pinning the certificate.
    #[test]
    fn the_node_identity_is_private_and_never_silently_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tls = dir.path().join("tls");
        let (cert, _) = node_identity(&tls).expect("first identity");
        let (key_path, cert_path) = (tls.join("key.der"), tls.join("cert.der"));
        assert_eq!(mode(&key_path), 0o600, "private key permissions");
        // The same identity on every start.
        assert_eq!(node_identity(&tls).expect("again").0, cert);
        // A key made readable by others is restricted again.
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        node_identity(&tls).expect("loads");
        assert_eq!(mode(&key_path), 0o600);
        // Either file missing: refused, the other file named and left as it was.
        let key = std::fs::read(&key_path).expect("key");
        std::fs::remove_file(&key_path).expect("rm");
        let e = node_identity(&tls).expect_err("missing key").to_string();
        assert!(e.contains("key.der") && e.contains("missing"), "{e}");
        assert_eq!(
            std::fs::read(&cert_path).expect("cert"),
            cert.to_vec(),
            "cert rewritten"
        );
        assert!(
            !key_path.exists(),
            "a key was made behind the operator's back"
        );
        std::fs::write(&key_path, &key).expect("restore");
        std::fs::remove_file(&cert_path).expect("rm");
        let e = node_identity(&tls).expect_err("missing cert").to_string();
        assert!(e.contains("cert.der"), "{e}");
        std::fs::write(&cert_path, cert.as_ref()).expect("restore");
        // Damaged files are refused with their names.
        std::fs::write(&key_path, b"not a key").expect("damage");
        let e = node_identity(&tls).expect_err("damaged key").to_string();
        assert!(e.contains("key.der"), "{e}");
        std::fs::write(&key_path, &key).expect("restore");
        std::fs::write(&cert_path, b"").expect("damage");
        let e = node_identity(&tls).expect_err("damaged cert").to_string();
        assert!(e.contains("cert.der"), "{e}");
    }

    /// A first start killed while making its identity leaves at most a staging directory (with
    /// any part of a pair) and an empty directory: the next start makes a whole identity and
    /// removes the leftovers; the key is never in place without its certificate.
    #[test]
    fn an_interrupted_identity_creation_is_made_again_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tls = dir.path().join("tls");
        let staging = dir.path().join("tls.new");
        std::fs::create_dir_all(&staging).expect("staging");
        std::fs::write(staging.join("key.der"), b"half a key").expect("partial key");
        std::fs::create_dir_all(&tls).expect("empty dir");
        let (cert, _) = node_identity(&tls).expect("identity");
        assert!(!staging.exists(), "staging left behind");
        assert_eq!(
            std::fs::read(tls.join("cert.der")).expect("cert"),
            cert.to_vec()
        );
        assert_eq!(mode(&tls.join("key.der")), 0o600);
        assert_eq!(node_identity(&tls).expect("again").0, cert);
    }
}

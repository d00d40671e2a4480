//! Validator-to-validator transport over QUIC (quinn). TLS carries the connection (self-signed
//! certificates: identity is not the certificate's job here); after the handshake both sides
//! prove their *validator key* by signing the TLS exporter value of this very connection
//! (`export_keying_material`), with their role in the signed bytes, so a signature cannot be
//! replayed on another connection or reflected. Only genesis validators are accepted.
//!
//! One message per unidirectional stream (at most [`MAX_MESSAGE`] bytes, read with that limit);
//! the lower-indexed validator dials the higher one and keeps redialling while disconnected.
//! Undecodable messages are dropped and counted, never passed on.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use tokio::sync::mpsc;

use super::codec::{MAX_MESSAGE, Wire};
pub use super::driver::Target;
use super::types::{Sig, ValidatorId, ValidatorSet, sign, verify};

const ALPN: &[u8] = b"rustorium-validator/1";
const EXPORTER_LABEL: &[u8] = b"rustorium validator auth v1";

/// Why the validator transport could not start, or a peer's handshake was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum P2pError {
    /// The connection's self-signed certificate could not be made.
    #[error("validator certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// The TLS configuration was refused.
    #[error("validator TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// The TLS configuration has no cipher suite QUIC can use.
    #[error("validator QUIC: {0}")]
    CipherSuite(#[from] quinn::crypto::rustls::NoInitialCipherSuite),
    /// The listen address could not be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The connection has no TLS exporter (never with TLS 1.3).
    #[error("connection has no TLS exporter")]
    NoExporter,
    /// The connection failed during the handshake.
    #[error("connection: {0}")]
    Connection(#[from] quinn::ConnectionError),
    /// Sending the hello failed.
    #[error("sending hello: {0}")]
    Write(#[from] quinn::WriteError),
    /// The hello stream was closed early.
    #[error("hello stream: {0}")]
    Closed(#[from] quinn::ClosedStream),
    /// Reading the peer's hello failed.
    #[error("reading hello: {0}")]
    Read(#[from] quinn::ReadToEndError),
    /// The peer sent no hello in time.
    #[error("handshake timed out")]
    Timeout,
    /// The peer's hello is not 66 bytes.
    #[error("bad hello ({0} bytes)")]
    BadHello(usize),
    /// The peer names an index outside the validator set.
    #[error("{0} is not a validator")]
    NotValidator(ValidatorId),
    /// The peer is ourselves or not the validator we dialled.
    #[error("unexpected peer {0}")]
    UnexpectedPeer(ValidatorId),
    /// The peer's signature over this connection's exporter does not verify.
    #[error("{0}: bad validator signature")]
    BadSignature(ValidatorId),
}

/// What the transport delivers to the consensus thread.
#[derive(Debug)]
pub struct Inbound {
    /// Authenticated sender.
    pub from: ValidatorId,
    /// The message.
    pub msg: Wire,
}

/// Handle to a running transport.
#[derive(Clone)]
pub struct P2p {
    out: mpsc::UnboundedSender<(Target, Vec<u8>)>,
    /// Peers whose traffic is dropped both ways (fault injection for partition tests).
    pub blocked: Arc<Mutex<HashSet<u16>>>,
    /// Messages from peers that did not decode.
    pub malformed: Arc<AtomicU64>,
    connected: Arc<Mutex<HashMap<u16, quinn::Connection>>>,
}

/// Transport settings.
pub struct P2pConfig {
    /// This validator.
    pub me: ValidatorId,
    /// Its key.
    pub key: ed25519_dalek::SigningKey,
    /// The validator set.
    pub validators: ValidatorSet,
    /// Chain id (in the authentication bytes).
    pub chain_id: u64,
    /// Listen address.
    pub listen: SocketAddr,
    /// Peer addresses by validator index.
    pub peers: Vec<(ValidatorId, SocketAddr)>,
    /// Counter of malformed messages (the node's metric).
    pub malformed: Arc<AtomicU64>,
}

#[derive(Debug)]
struct AnyServerCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        // Identity is proven by the validator-key signature over the exporter value.
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("TLS 1.2 is not offered".into()))
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn auth_bytes(chain_id: u64, exporter: &[u8; 32], role: u8, id: ValidatorId) -> Vec<u8> {
    let mut b = b"rustorium/p2p-auth/v1".to_vec();
    b.extend_from_slice(&chain_id.to_le_bytes());
    b.extend_from_slice(exporter);
    b.push(role);
    b.extend_from_slice(&id.0.to_le_bytes());
    b
}

struct Shared {
    cfg: P2pConfig,
    inbox: std::sync::mpsc::Sender<Inbound>,
    p2p: P2p,
}

impl P2p {
    /// Binds `listen` and starts the transport on `rt`; authenticated messages arrive on `inbox`.
    pub fn start(
        rt: &tokio::runtime::Handle,
        cfg: P2pConfig,
        inbox: std::sync::mpsc::Sender<Inbound>,
    ) -> Result<Self, P2pError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let ck = rcgen::generate_simple_self_signed(vec!["validator".to_string()])?;
        let cert = rustls::pki_types::CertificateDer::from(ck.cert.der().to_vec());
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(
            rustls::pki_types::PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()),
        );
        let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)?;
        server.alpn_protocols = vec![ALPN.to_vec()];
        let mut client = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServerCert(provider)))
            .with_no_client_auth();
        client.alpn_protocols = vec![ALPN.to_vec()];
        let server = QuicServerConfig::try_from(server)?;
        let client = QuicClientConfig::try_from(client)?;
        let mut transport = quinn::TransportConfig::default();
        transport.keep_alive_interval(Some(Duration::from_millis(500)));
        // 3 s, in milliseconds.
        transport.max_idle_timeout(Some(quinn::IdleTimeout::from(quinn::VarInt::from_u32(
            3_000,
        ))));
        transport.max_concurrent_uni_streams(1024u32.into());
        let transport = Arc::new(transport);
        let mut server = quinn::ServerConfig::with_crypto(Arc::new(server));
        server.transport_config(transport.clone());
        let mut client = quinn::ClientConfig::new(Arc::new(client));
        client.transport_config(transport);
        let endpoint = {
            let _guard = rt.enter();
            let mut e =
                quinn::Endpoint::server(server, cfg.listen).map_err(|source| P2pError::Bind {
                    addr: cfg.listen,
                    source,
                })?;
            e.set_default_client_config(client);
            e
        };
        let (out, out_rx) = mpsc::unbounded_channel();
        let p2p = P2p {
            out,
            blocked: Arc::default(),
            malformed: cfg.malformed.clone(),
            connected: Arc::default(),
        };
        let shared = Arc::new(Shared {
            cfg,
            inbox,
            p2p: p2p.clone(),
        });
        rt.spawn(accept_loop(endpoint.clone(), shared.clone()));
        rt.spawn(dial_loop(endpoint, shared.clone()));
        rt.spawn(send_loop(out_rx, shared));
        Ok(p2p)
    }

    /// Queues `msg` for `to` (never blocks; dropped for disconnected peers: consensus
    /// rebroadcasts and block sync recover).
    pub fn send(&self, to: Target, msg: &Wire) {
        let _ = self.out.send((to, msg.encode()));
    }

    /// Queues raw bytes (fault injection: garbage).
    pub fn send_raw(&self, to: Target, bytes: Vec<u8>) {
        let _ = self.out.send((to, bytes));
    }

    /// Connected peers.
    pub fn connected(&self) -> Vec<u16> {
        let mut v: Vec<u16> = self
            .connected
            .lock()
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default();
        v.sort_unstable();
        v
    }

    fn is_blocked(&self, id: u16) -> bool {
        self.blocked
            .lock()
            .map(|b| b.contains(&id))
            .unwrap_or(false)
    }
}

async fn handshake(
    conn: &quinn::Connection,
    s: &Shared,
    dialer: bool,
    expect: Option<ValidatorId>,
) -> Result<ValidatorId, P2pError> {
    let mut exporter = [0u8; 32];
    conn.export_keying_material(&mut exporter, EXPORTER_LABEL, b"")
        .map_err(|_| P2pError::NoExporter)?;
    let (my_role, their_role) = if dialer { (0u8, 1u8) } else { (1, 0) };
    let me = s.cfg.me;
    let hello = {
        let sig = sign(
            &s.cfg.key,
            &auth_bytes(s.cfg.chain_id, &exporter, my_role, me),
        );
        let mut b = me.0.to_le_bytes().to_vec();
        b.extend_from_slice(&sig.0);
        b
    };
    let (mut send, mut recv) = if dialer {
        conn.open_bi().await?
    } else {
        conn.accept_bi().await?
    };
    send.write_all(&hello).await?;
    send.finish()?;
    let theirs = tokio::time::timeout(Duration::from_secs(3), recv.read_to_end(66))
        .await
        .map_err(|_| P2pError::Timeout)??;
    if theirs.len() != 66 {
        return Err(P2pError::BadHello(theirs.len()));
    }
    let id = ValidatorId(u16::from_le_bytes([theirs[0], theirs[1]]));
    let mut sig = [0u8; 64];
    sig.copy_from_slice(&theirs[2..]);
    let v = s
        .cfg
        .validators
        .0
        .get(id.0 as usize)
        .ok_or(P2pError::NotValidator(id))?;
    if id == me || expect.is_some_and(|e| e != id) {
        return Err(P2pError::UnexpectedPeer(id));
    }
    if !verify(
        &v.key,
        &auth_bytes(s.cfg.chain_id, &exporter, their_role, id),
        &Sig(sig),
    ) {
        return Err(P2pError::BadSignature(id));
    }
    Ok(id)
}

async fn run_conn(conn: quinn::Connection, id: ValidatorId, s: Arc<Shared>) {
    if let Ok(mut m) = s.p2p.connected.lock() {
        m.insert(id.0, conn.clone());
    }
    tracing::info!(peer = %id, "validator connected");
    loop {
        let Ok(mut recv) = conn.accept_uni().await else {
            break;
        };
        let s = s.clone();
        tokio::spawn(async move {
            let Ok(bytes) = recv.read_to_end(MAX_MESSAGE).await else {
                s.p2p.malformed.fetch_add(1, Ordering::Relaxed);
                return;
            };
            if s.p2p.is_blocked(id.0) {
                return;
            }
            match Wire::decode(&bytes) {
                Ok(msg) => {
                    let _ = s.inbox.send(Inbound { from: id, msg });
                }
                Err(e) => {
                    s.p2p.malformed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(peer = %id, error = %e, "malformed validator message dropped");
                }
            }
        });
    }
    if let Ok(mut m) = s.p2p.connected.lock()
        && m.get(&id.0)
            .is_some_and(|c| c.stable_id() == conn.stable_id())
    {
        m.remove(&id.0);
    }
    tracing::info!(peer = %id, "validator disconnected");
}

async fn accept_loop(endpoint: quinn::Endpoint, s: Arc<Shared>) {
    while let Some(incoming) = endpoint.accept().await {
        let s = s.clone();
        tokio::spawn(async move {
            let Ok(conn) = incoming.await else { return };
            match handshake(&conn, &s, false, None).await {
                Ok(id) => run_conn(conn, id, s).await,
                Err(e) => {
                    tracing::warn!(error = %e, "validator handshake refused");
                    conn.close(1u32.into(), b"auth");
                }
            }
        });
    }
}

async fn dial_loop(endpoint: quinn::Endpoint, s: Arc<Shared>) {
    loop {
        for (id, addr) in &s.cfg.peers {
            if id.0 <= s.cfg.me.0 {
                continue; // the lower index dials
            }
            let up = s
                .p2p
                .connected
                .lock()
                .map(|m| m.contains_key(&id.0))
                .unwrap_or(false);
            if up {
                continue;
            }
            let Ok(connecting) = endpoint.connect(*addr, "validator") else {
                continue;
            };
            let (s, id) = (s.clone(), *id);
            tokio::spawn(async move {
                let Ok(Ok(conn)) = tokio::time::timeout(Duration::from_secs(2), connecting).await
                else {
                    return;
                };
                match handshake(&conn, &s, true, Some(id)).await {
                    Ok(id) => run_conn(conn, id, s).await,
                    Err(e) => tracing::warn!(error = %e, "validator handshake failed"),
                }
            });
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn send_loop(mut rx: mpsc::UnboundedReceiver<(Target, Vec<u8>)>, s: Arc<Shared>) {
    while let Some((to, bytes)) = rx.recv().await {
        let conns: Vec<(u16, quinn::Connection)> = match s.p2p.connected.lock() {
            Ok(m) => m
                .iter()
                .filter(|(id, _)| match to {
                    Target::All => true,
                    Target::One(v) => **id == v.0,
                })
                .map(|(id, c)| (*id, c.clone()))
                .collect(),
            Err(_) => continue,
        };
        let bytes = Arc::new(bytes);
        for (id, conn) in conns {
            if s.p2p.is_blocked(id) {
                continue;
            }
            let bytes = bytes.clone();
            tokio::spawn(async move {
                if let Ok(mut send) = conn.open_uni().await {
                    let _ = send.write_all(&bytes).await;
                    let _ = send.finish();
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::types::{Validator, dev_validator_key};

    fn free_addr() -> SocketAddr {
        std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("port")
    }

    fn start(
        rt: &tokio::runtime::Runtime,
        me: u16,
        key: u64,
        addrs: &[SocketAddr],
    ) -> (P2p, std::sync::mpsc::Receiver<Inbound>) {
        let validators = ValidatorSet(
            (0..2)
                .map(|i| Validator {
                    id: ValidatorId(i),
                    key: dev_validator_key(u64::from(i)).verifying_key(),
                    fee_account: 0,
                })
                .collect(),
        );
        let (tx, rx) = std::sync::mpsc::channel();
        let p = P2p::start(
            rt.handle(),
            P2pConfig {
                me: ValidatorId(me),
                key: dev_validator_key(key),
                validators,
                chain_id: 1,
                listen: addrs[me as usize],
                peers: vec![(ValidatorId(0), addrs[0]), (ValidatorId(1), addrs[1])],
                malformed: Arc::default(),
            },
            tx,
        )
        .expect("start");
        (p, rx)
    }

    fn wait(mut ok: impl FnMut() -> bool) -> bool {
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// A peer holding a key that is not the claimed validator's is refused; the right key
    /// connects, and messages arrive attributed to the authenticated sender.
    #[test]
    fn only_the_validator_key_authenticates() {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let addrs = [free_addr(), free_addr()];
        let (a, _a_in) = start(&rt, 0, 0, &addrs);
        let (impostor, _) = start(&rt, 1, 9, &addrs);
        std::thread::sleep(Duration::from_secs(2));
        assert!(a.connected().is_empty(), "an impostor was accepted");
        assert!(impostor.connected().is_empty());
        drop(rt);
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let addrs = [free_addr(), free_addr()];
        let (a, a_in) = start(&rt, 0, 0, &addrs);
        let (b, _b_in) = start(&rt, 1, 1, &addrs);
        assert!(wait(|| a.connected() == vec![1] && b.connected() == vec![0]));
        b.send(Target::All, &Wire::Status { committed: 5 });
        let got = a_in.recv_timeout(Duration::from_secs(5)).expect("message");
        assert_eq!(got.from, ValidatorId(1));
        assert_eq!(got.msg, Wire::Status { committed: 5 });
    }
}

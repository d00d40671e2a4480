//! The validator transport over QUIC (quinn), on the one TLS setup ([`crate::tls`]): TLS carries
//! the connection (throwaway self-signed certificates: identity is not the certificate's job
//! here); after the handshake both sides prove their *validator key* (Ed25519) by signing the
//! TLS exporter value of this very connection, with their role in the signed bytes, so a
//! signature cannot be replayed on another connection or reflected. Only the configured
//! validators are accepted.
//!
//! It carries bytes: one message per unidirectional stream, at most `max_message` bytes (read
//! with that limit); what they mean is consensus's business. The lower-indexed validator dials
//! the higher one and keeps redialling while disconnected. A stream that fails or exceeds the
//! limit is dropped and counted, never passed on.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use tokio::sync::mpsc;

use crate::tls::{self, ServerTrust, TlsError};

const ALPN: &[u8] = b"rustorium-validator/1";
const EXPORTER_LABEL: &[u8] = b"rustorium validator auth v1";

/// Why the validator transport could not start, or a peer's handshake was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum P2pError {
    /// The TLS configuration could not be made, or the connection has no exporter.
    #[error("validator TLS: {0}")]
    Tls(#[from] TlsError),
    /// The listen address could not be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
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
    NotValidator(PeerId),
    /// The peer is ourselves or not the validator we dialled.
    #[error("unexpected peer {0}")]
    UnexpectedPeer(PeerId),
    /// The peer's signature over this connection's exporter does not verify.
    #[error("{0}: bad validator signature")]
    BadSignature(PeerId),
}

/// A validator's index in the validator set: how the transport names peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(pub u16);

impl std::fmt::Display for PeerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// Where an outgoing message goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Every connected validator.
    All,
    /// One validator.
    One(PeerId),
}

/// What the transport delivers: bytes from an authenticated validator.
#[derive(Debug)]
pub struct Inbound {
    /// Authenticated sender.
    pub from: PeerId,
    /// The message, at most `max_message` bytes, not yet decoded.
    pub bytes: Vec<u8>,
}

/// Handle to a running transport.
#[derive(Clone)]
pub struct P2p {
    out: mpsc::UnboundedSender<(Target, Vec<u8>)>,
    /// Peers whose traffic is dropped both ways (fault injection for partition tests).
    pub blocked: Arc<Mutex<HashSet<u16>>>,
    /// Messages that failed to arrive whole or within the size limit, and (counted by the
    /// reader) messages that did not decode.
    pub malformed: Arc<AtomicU64>,
    connected: Arc<Mutex<HashMap<u16, quinn::Connection>>>,
}

/// Transport settings.
pub struct P2pConfig {
    /// This validator.
    pub me: PeerId,
    /// Its key.
    pub key: SigningKey,
    /// Every validator's key, by index.
    pub validators: Vec<VerifyingKey>,
    /// Chain id (in the authentication bytes).
    pub chain_id: u64,
    /// Listen address.
    pub listen: SocketAddr,
    /// Peer addresses by validator index.
    pub peers: Vec<(PeerId, SocketAddr)>,
    /// The largest message accepted.
    pub max_message: usize,
    /// Counter of malformed messages (the node's metric).
    pub malformed: Arc<AtomicU64>,
}

fn auth_bytes(chain_id: u64, exporter: &[u8; 32], role: u8, id: PeerId) -> Vec<u8> {
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

fn transport() -> quinn::TransportConfig {
    let mut transport = quinn::TransportConfig::default();
    transport.keep_alive_interval(Some(Duration::from_millis(500)));
    // 3 s, in milliseconds.
    transport.max_idle_timeout(Some(quinn::IdleTimeout::from(quinn::VarInt::from_u32(
        3_000,
    ))));
    transport.max_concurrent_uni_streams(1024u32.into());
    transport
}

impl P2p {
    /// Binds `listen` and starts the transport on `rt`; authenticated messages arrive on `inbox`.
    pub fn start(
        rt: &tokio::runtime::Handle,
        cfg: P2pConfig,
        inbox: std::sync::mpsc::Sender<Inbound>,
    ) -> Result<Self, P2pError> {
        let (cert, key) = tls::self_signed("validator")?;
        let server = tls::server_config(cert, key, ALPN, transport())?;
        let client = tls::client_config(ServerTrust::ProvenOnConnection, ALPN, transport())?;
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

    /// Queues `bytes` for `to` (never blocks; dropped for disconnected peers: consensus
    /// rebroadcasts and block sync recover).
    pub fn send(&self, to: Target, bytes: Vec<u8>) {
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
    expect: Option<PeerId>,
) -> Result<PeerId, P2pError> {
    let exporter = tls::exporter(conn, EXPORTER_LABEL)?;
    let (my_role, their_role) = if dialer { (0u8, 1u8) } else { (1, 0) };
    let me = s.cfg.me;
    let hello = {
        let sig = s
            .cfg
            .key
            .sign(&auth_bytes(s.cfg.chain_id, &exporter, my_role, me));
        let mut b = me.0.to_le_bytes().to_vec();
        b.extend_from_slice(&sig.to_bytes());
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
    let id = PeerId(u16::from_le_bytes([theirs[0], theirs[1]]));
    let mut sig = [0u8; 64];
    sig.copy_from_slice(&theirs[2..]);
    let key = s
        .cfg
        .validators
        .get(id.0 as usize)
        .ok_or(P2pError::NotValidator(id))?;
    if id == me || expect.is_some_and(|e| e != id) {
        return Err(P2pError::UnexpectedPeer(id));
    }
    let signed = auth_bytes(s.cfg.chain_id, &exporter, their_role, id);
    if key
        .verify_strict(&signed, &ed25519_dalek::Signature::from_bytes(&sig))
        .is_err()
    {
        return Err(P2pError::BadSignature(id));
    }
    Ok(id)
}

async fn run_conn(conn: quinn::Connection, id: PeerId, s: Arc<Shared>) {
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
            let Ok(bytes) = recv.read_to_end(s.cfg.max_message).await else {
                s.p2p.malformed.fetch_add(1, Ordering::Relaxed);
                return;
            };
            if s.p2p.is_blocked(id.0) {
                return;
            }
            let _ = s.inbox.send(Inbound { from: id, bytes });
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

    fn free_addr() -> SocketAddr {
        std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("port")
    }

    fn key(i: u8) -> SigningKey {
        SigningKey::from_bytes(&[i + 1; 32])
    }

    fn start(
        rt: &tokio::runtime::Runtime,
        me: u16,
        key_seed: u8,
        addrs: &[SocketAddr],
    ) -> (P2p, std::sync::mpsc::Receiver<Inbound>) {
        let (tx, rx) = std::sync::mpsc::channel();
        let p = P2p::start(
            rt.handle(),
            P2pConfig {
                me: PeerId(me),
                key: key(key_seed),
                validators: vec![key(0).verifying_key(), key(1).verifying_key()],
                chain_id: 1,
                listen: addrs[me as usize],
                peers: vec![(PeerId(0), addrs[0]), (PeerId(1), addrs[1])],
                max_message: 1024,
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
    /// connects, messages arrive attributed to the authenticated sender, and one above the size
    /// limit is dropped and counted.
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
        b.send(Target::All, vec![0u8; 1025]);
        b.send(Target::One(PeerId(0)), b"status 5".to_vec());
        let got = a_in.recv_timeout(Duration::from_secs(5)).expect("message");
        assert_eq!(got.from, PeerId(1));
        assert_eq!(got.bytes, b"status 5");
        assert!(
            wait(|| a.malformed.load(Ordering::Relaxed) == 1),
            "oversized message not counted"
        );
        assert!(
            a_in.try_recv().is_err(),
            "the oversized message was passed on"
        );
    }
}

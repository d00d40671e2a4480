//! The one TLS setup of every QUIC endpoint: rustls with the ring provider, TLS 1.3 only, one
//! ALPN per protocol. Two ways to trust a server:
//!
//! - [`ServerTrust::Pinned`]: the server's certificate is the one given (ingestion clients pin
//!   the node's `tls/cert.der`);
//! - [`ServerTrust::ProvenOnConnection`]: the certificate is not checked (each process makes a
//!   throwaway one) because identity is proven after the handshake, by a signature over this
//!   connection's exporter value ([`exporter`]); the validator transport does this with
//!   validator keys. The TLS 1.3 handshake signature is still verified, so the exporter value is
//!   the peer's and the session's own.

use std::sync::Arc;

use quinn::crypto::rustls::{NoInitialCipherSuite, QuicClientConfig, QuicServerConfig};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Why a TLS configuration could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A self-signed certificate could not be made.
    #[error("certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// rustls refused the configuration (a bad key or certificate).
    #[error("{0}")]
    Rustls(#[from] rustls::Error),
    /// The configuration has no cipher suite QUIC can use.
    #[error("{0}")]
    CipherSuite(#[from] NoInitialCipherSuite),
    /// The connection has no TLS exporter (never with TLS 1.3).
    #[error("connection has no TLS exporter")]
    NoExporter,
}

/// How a client trusts the server it connects to.
#[derive(Clone, Debug)]
pub enum ServerTrust {
    /// Only this certificate.
    Pinned(CertificateDer<'static>),
    /// Any certificate: the server proves who it is on the connection (see the module docs).
    ProvenOnConnection,
}

/// The crypto provider every endpoint uses.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A fresh self-signed certificate and its key, for `name`.
pub fn self_signed(
    name: &str,
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), TlsError> {
    let ck = rcgen::generate_simple_self_signed(vec![name.to_string()])?;
    Ok((
        CertificateDer::from(ck.cert.der().to_vec()),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der())),
    ))
}

/// A QUIC server configuration presenting `cert`, speaking `alpn`, with `transport`.
pub fn server_config(
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    alpn: &[u8],
    transport: quinn::TransportConfig,
) -> Result<quinn::ServerConfig, TlsError> {
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)?;
    tls.alpn_protocols = vec![alpn.to_vec()];
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(QuicServerConfig::try_from(tls)?));
    config.transport_config(Arc::new(transport));
    Ok(config)
}

/// A QUIC client configuration trusting servers as `trust` says, speaking `alpn`.
pub fn client_config(
    trust: ServerTrust,
    alpn: &[u8],
    transport: quinn::TransportConfig,
) -> Result<quinn::ClientConfig, TlsError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?;
    let mut tls = match trust {
        ServerTrust::Pinned(cert) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(cert)?;
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        ServerTrust::ProvenOnConnection => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ProvenOnConnection(provider())))
            .with_no_client_auth(),
    };
    tls.alpn_protocols = vec![alpn.to_vec()];
    let mut config = quinn::ClientConfig::new(Arc::new(QuicClientConfig::try_from(tls)?));
    config.transport_config(Arc::new(transport));
    Ok(config)
}

/// This connection's TLS exporter value for `label`: the same on both ends of one TLS session
/// and different on every other, so a signature over it cannot be replayed elsewhere.
pub fn exporter(conn: &quinn::Connection, label: &[u8]) -> Result<[u8; 32], TlsError> {
    let mut out = [0u8; 32];
    conn.export_keying_material(&mut out, label, b"")
        .map_err(|_| TlsError::NoExporter)?;
    Ok(out)
}

/// Accepts any server certificate but verifies the TLS 1.3 handshake signature made with it.
#[derive(Debug)]
struct ProvenOnConnection(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for ProvenOnConnection {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        // Identity is proven after the handshake, by a signature over the exporter value.
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("TLS 1.2 is not offered".into()))
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
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

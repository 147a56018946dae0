//! TLS to NameServers and brokers (Java `useTLS`): every connection of the client is
//! wrapped in TLS with rustls; the frames inside are unchanged.

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::rustls::{self, pki_types};

use crate::error::Error;

/// How connections are secured.
///
/// ```
/// use rocketmq_tokio::{ClientOptions, TlsOptions};
/// // System roots, the server name taken from each address's host.
/// let opts = ClientOptions::new("ns.example.com:9876").tls(TlsOptions::new());
/// # let _ = opts;
/// ```
#[derive(Clone)]
pub struct TlsOptions {
    roots: Roots,
    server_name: Option<String>,
}

#[derive(Clone)]
enum Roots {
    /// The platform's trust store.
    System,
    /// Certificates from PEM text (a private CA).
    Pem(Vec<u8>),
    /// No verification at all.
    Insecure,
}

impl std::fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let roots = match self.roots {
            Roots::System => "system",
            Roots::Pem(_) => "custom CA",
            Roots::Insecure => "NO VERIFICATION",
        };
        f.debug_struct("TlsOptions")
            .field("roots", &roots)
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl Default for TlsOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl TlsOptions {
    /// Verify servers against the platform's trust store (the default).
    pub fn new() -> Self {
        TlsOptions {
            roots: Roots::System,
            server_name: None,
        }
    }

    /// Verify servers against the CA certificates in `pem` (PEM text) instead.
    pub fn with_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.roots = Roots::Pem(pem.into());
        self
    }

    /// [`with_ca_pem`](Self::with_ca_pem) from a file.
    pub fn with_ca_file(self, path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let pem = std::fs::read(path).map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
        Ok(self.with_ca_pem(pem))
    }

    /// The name certificates must carry (default: each address's host, which for an
    /// IP address must then be in the certificate's IP SANs).
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// Accept any certificate. Only for test setups with self-signed certificates:
    /// the connection is encrypted but the server is not authenticated.
    pub fn danger_accept_invalid_certs(mut self) -> Self {
        self.roots = Roots::Insecure;
        self
    }

    /// Build the connector once per client.
    pub(crate) fn connector(&self) -> Result<Connector, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Invalid(format!("TLS: {e}")))?;
        let config = match &self.roots {
            Roots::Insecure => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
                .with_no_client_auth(),
            roots => {
                let mut store = rustls::RootCertStore::empty();
                match roots {
                    Roots::Pem(pem) => {
                        use pki_types::pem::PemObject;
                        for cert in pki_types::CertificateDer::pem_slice_iter(pem) {
                            let cert = cert.map_err(|e| Error::Invalid(format!("TLS CA: {e}")))?;
                            store
                                .add(cert)
                                .map_err(|e| Error::Invalid(format!("TLS CA: {e}")))?;
                        }
                    }
                    _ => {
                        let found = rustls_native_certs::load_native_certs();
                        for cert in found.certs {
                            // Unparsable system certificates are skipped, as browsers do.
                            let _ = store.add(cert);
                        }
                    }
                }
                if store.is_empty() {
                    return Err(Error::Invalid("TLS: no trusted CA certificate".into()));
                }
                builder.with_root_certificates(store).with_no_client_auth()
            }
        };
        Ok(Connector {
            inner: tokio_rustls::TlsConnector::from(Arc::new(config)),
            server_name: self.server_name.clone(),
        })
    }
}

/// Opens TLS sessions over connected sockets.
#[derive(Clone)]
pub(crate) struct Connector {
    inner: tokio_rustls::TlsConnector,
    server_name: Option<String>,
}

impl Connector {
    pub(crate) async fn connect(
        &self,
        addr: &str,
        tcp: tokio::net::TcpStream,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
        let host = match &self.server_name {
            Some(n) => n.clone(),
            None => addr
                .rsplit_once(':')
                .map_or(addr, |(h, _)| h)
                .trim_matches(['[', ']'])
                .to_owned(),
        };
        let name = pki_types::ServerName::try_from(host)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        self.inner.connect(name, tcp).await
    }
}

/// The explicit opt-out: every certificate is accepted, signatures are still checked
/// (so the session keys are the server's).
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &pki_types::CertificateDer<'_>,
        _intermediates: &[pki_types::CertificateDer<'_>],
        _server_name: &pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &pki_types::CertificateDer<'_>,
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

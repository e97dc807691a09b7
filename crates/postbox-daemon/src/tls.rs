//! TLS on the TCP listener (`tls://`): the daemon's certificate and key, and the CA a client's
//! certificate must be signed by when client certificates are required.
//!
//! TLS 1.3 only, with ring as the one crypto provider. Everything is read and checked when the
//! [`TlsServer`] is built — before the daemon binds anything — so that a missing, unreadable or
//! invalid file stops the start with a message naming the file, never a client's handshake later.
//! The token, when one is configured, is still checked in the `Hello`, which now travels inside
//! TLS.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

/// The largest PEM file read, checked before reading it: certificates and keys are a few KiB, a
/// bundle of CAs a few hundred.
pub const MAX_PEM_FILE_SIZE: u64 = 4 << 20;

/// Whether clients must present a certificate.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ClientCertificates {
    /// Clients present none; the token (if configured) is their credential. The default.
    NotRequired,
    /// Every client must present a certificate signed by a CA in this PEM file, or its handshake
    /// fails.
    Required(PathBuf),
}

/// The TLS side of a `tls://` listener, ready to accept handshakes.
#[derive(Clone)]
pub struct TlsServer {
    config: Arc<rustls::ServerConfig>,
    clients: ClientCertificates,
}

impl std::fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsServer")
            .field("clients", &self.clients)
            .finish_non_exhaustive()
    }
}

impl TlsServer {
    /// Reads the certificate chain (`cert`, PEM: the daemon's certificate first, then any
    /// intermediates), its private key (`key`, PEM: PKCS#8, SEC1 or PKCS#1), and with
    /// [`ClientCertificates::Required`] the CAs clients' certificates must be signed by.
    ///
    /// # Errors
    ///
    /// [`TlsError`]: a file that cannot be read or is too large, holds no certificate or key,
    /// or is not PEM; a key that does not match the certificate; a CA file with no usable CA.
    pub fn from_files(
        cert: &Path,
        key: &Path,
        clients: ClientCertificates,
    ) -> Result<TlsServer, TlsError> {
        let chain = load_certificates(cert, "certificate")?;
        let key = load_private_key(key)?;
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|error| TlsError::Rejected {
                reason: error.to_string(),
            })?;
        let builder = match &clients {
            ClientCertificates::NotRequired => builder.with_no_client_auth(),
            ClientCertificates::Required(ca) => {
                let roots = load_roots(ca, "client CA")?;
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                        .build()
                        .map_err(|error| TlsError::Rejected {
                            reason: format!("the client CA {}: {error}", ca.display()),
                        })?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder
            .with_single_cert(chain, key)
            .map_err(|error| TlsError::Rejected {
                reason: format!(
                    "the certificate {} and its key: {error} (is the key the certificate's?)",
                    cert.display()
                ),
            })?;
        Ok(TlsServer {
            config: Arc::new(config),
            clients,
        })
    }

    /// Whether clients must present a certificate.
    pub fn client_certificates(&self) -> &ClientCertificates {
        &self.clients
    }

    /// An acceptor for the listener's connections.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.clone())
    }
}

/// Why a [`TlsServer`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read (missing, no permission, ...).
    #[error("cannot read the TLS {what} {}: {source}", path.display())]
    Read {
        /// What the file should hold (`"certificate"`, `"private key"`, `"client CA"`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// A file is larger than [`MAX_PEM_FILE_SIZE`]: no certificate or key is.
    #[error(
        "the TLS {what} {} is {size} bytes, more than a PEM file holds (at most {MAX_PEM_FILE_SIZE})",
        path.display()
    )]
    TooLarge {
        /// What the file should hold.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
    },
    /// A file is not PEM, or holds none of what it should: a certificate file without
    /// `BEGIN CERTIFICATE`, a key file without a private key.
    #[error(
        "the TLS {what} {} {reason}: expected PEM (as `postbox certs` writes)",
        path.display()
    )]
    InvalidPem {
        /// What the file should hold.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused what the files hold: a key that is not the certificate's, a CA that is not
    /// a usable trust anchor.
    #[error("TLS setup failed: {reason}")]
    Rejected {
        /// What rustls said, and about which file.
        reason: String,
    },
}

/// The crypto provider every TLS config of the daemon uses: ring, which builds with only a C
/// compiler. rustls deprecates it for lacking post-quantum key exchange (aws-lc-rs has it, at the
/// price of a much heavier build); switching is this one line and the feature in Cargo.toml.
///
/// Its TLS 1.3 suites are offered AES-128-GCM first (ring's default puts AES-256-GCM first):
/// the suite every TLS 1.3 implementation must have (RFC 8446 §9.1), and ten AES rounds a block
/// instead of fourteen, which is what two daemons linking as nodes settle on; a `tls://` client
/// gets the first suite of its own list that the daemon has.
#[allow(deprecated)]
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    let mut provider = rustls::crypto::ring::default_provider();
    provider
        .cipher_suites
        .sort_by_key(|suite| suite.suite() != rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
    Arc::new(provider)
}

/// The bytes of `path`, at most [`MAX_PEM_FILE_SIZE`] of them.
fn read_limited(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    let read_error = |source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read_error)?.len();
    if size > MAX_PEM_FILE_SIZE {
        return Err(TlsError::TooLarge {
            what,
            path: path.to_owned(),
            size,
        });
    }
    std::fs::read(path).map_err(read_error)
}

/// Every certificate in the PEM file `path`; at least one.
pub(crate) fn load_certificates(
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read_limited(path, what)?;
    let invalid = |reason: String| TlsError::InvalidPem {
        what,
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| invalid(format!("is not valid PEM ({error})")))?;
    if certs.is_empty() {
        return Err(invalid("holds no certificate".to_owned()));
    }
    Ok(certs)
}

/// The private key in the PEM file `path`.
pub(crate) fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let what = "private key";
    let pem = read_limited(path, what)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|error| TlsError::InvalidPem {
        what,
        path: path.to_owned(),
        reason: match error {
            rustls::pki_types::pem::Error::NoItemsFound => "holds no private key".to_owned(),
            error => format!("is not valid PEM ({error})"),
        },
    })
}

/// The CAs in the PEM file `path` (`what`: `"client CA"`, `"node CA"`), as trust anchors.
pub(crate) fn load_roots(path: &Path, what: &'static str) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certificates(path, what)? {
        roots.add(cert).map_err(|error| TlsError::Rejected {
            reason: format!("the {what} {}: {error}", path.display()),
        })?;
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn unreadable_empty_and_garbled_files_say_which_file_and_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let error = load_certificates(&missing, "certificate").unwrap_err();
        assert!(matches!(error, TlsError::Read { .. }), "{error:?}");
        assert!(error.to_string().contains("missing.pem"), "{error}");

        let empty = write(dir.path(), "empty.pem", "");
        let error = load_certificates(&empty, "certificate").unwrap_err();
        assert!(
            error.to_string().contains("holds no certificate"),
            "{error}"
        );

        let garbled = write(
            dir.path(),
            "garbled.pem",
            "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
        );
        let error = load_certificates(&garbled, "certificate").unwrap_err();
        assert!(error.to_string().contains("not valid PEM"), "{error}");

        let error = load_private_key(&empty).unwrap_err();
        assert!(
            error.to_string().contains("holds no private key"),
            "{error}"
        );
        let no_key = write(dir.path(), "cert-only.pem", "just text\n");
        assert!(matches!(
            load_private_key(&no_key),
            Err(TlsError::InvalidPem { .. })
        ));
    }

    #[test]
    fn a_file_larger_than_any_pem_is_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.pem");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(MAX_PEM_FILE_SIZE + 1).unwrap();
        assert!(matches!(
            load_certificates(&path, "certificate"),
            Err(TlsError::TooLarge { .. })
        ));
    }

    #[test]
    fn a_server_without_its_files_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("server.pem");
        let key = dir.path().join("server.key");
        let error =
            TlsServer::from_files(&cert, &key, ClientCertificates::NotRequired).unwrap_err();
        assert!(error.to_string().contains("server.pem"), "{error}");
    }

    fn issued(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        (
            write(dir, &format!("{name}.pem"), &cert.pem()),
            write(dir, &format!("{name}.key"), &key.serialize_pem()),
        )
    }

    #[test]
    fn a_certificate_with_its_key_builds_and_with_another_key_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = issued(dir.path(), "a");
        let (ca, other_key) = issued(dir.path(), "b");
        let server =
            TlsServer::from_files(&cert, &key, ClientCertificates::Required(ca.clone())).unwrap();
        assert_eq!(
            server.client_certificates(),
            &ClientCertificates::Required(ca)
        );
        let error =
            TlsServer::from_files(&cert, &other_key, ClientCertificates::NotRequired).unwrap_err();
        assert!(matches!(error, TlsError::Rejected { .. }), "{error:?}");
    }
}

//! Mutual TLS between nodes: this node's certificate and key, and the cluster CA every node's
//! certificate must be signed by.

use std::path::Path;
use std::sync::Arc;

use postbox_wire::link::NodeName;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};

use crate::tls::{TlsError, load_certificates, load_private_key, load_roots, provider};

/// Node links' TLS, both ways: a node dials as a TLS client presenting its certificate and
/// accepts as a TLS server requiring one. TLS 1.3 only. Both certificates must be signed by the
/// node CA; a dialled node's certificate must be for the name dialled, and an accepting node
/// checks that the dialler's certificate is for the name its link `Hello` claims
/// before handing the connection to that node's association.
#[derive(Clone)]
pub struct NodeTls {
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for NodeTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeTls").finish_non_exhaustive()
    }
}

impl NodeTls {
    /// Reads this node's certificate chain (`cert`, PEM, e.g. from `postbox certs issue NAME`),
    /// its private key (`key`, PEM) and the node CA (`ca`, PEM: the cluster's `ca.pem`).
    ///
    /// # Errors
    ///
    /// [`TlsError`]: a file that cannot be read, is too large, is not PEM or holds nothing
    /// usable; a key that is not the certificate's.
    pub fn from_files(cert: &Path, key: &Path, ca: &Path) -> Result<NodeTls, TlsError> {
        let chain = load_certificates(cert, "node certificate")?;
        let private = load_private_key(key)?;
        let roots = Arc::new(load_roots(ca, "node CA")?);
        let rejected = |what: &str, error: rustls::Error| TlsError::Rejected {
            reason: format!("{what}: {error}"),
        };
        let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
            .build()
            .map_err(|error| TlsError::Rejected {
                reason: format!("the node CA {}: {error}", ca.display()),
            })?;
        let mismatch = format!(
            "the node certificate {} and its key (is the key the certificate's?)",
            cert.display()
        );
        let server = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|error| rejected("TLS 1.3", error))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain.clone(), private.clone_key())
            .map_err(|error| rejected(&mismatch, error))?;
        let client = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|error| rejected("TLS 1.3", error))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, private)
            .map_err(|error| rejected(&mismatch, error))?;
        Ok(NodeTls {
            server: Arc::new(server),
            client: Arc::new(client),
        })
    }

    /// The acceptor for inbound node connections.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.server.clone())
    }

    /// The connector for dialling a node.
    pub(crate) fn connector(&self) -> tokio_rustls::TlsConnector {
        tokio_rustls::TlsConnector::from(self.client.clone())
    }

    /// Checks that `certificate` (verified already against the node CA by the handshake) is
    /// for node `name`: its DNS name, as `postbox certs issue NAME` writes it.
    ///
    /// # Errors
    ///
    /// A human reason when it is not, or the certificate cannot be read.
    pub(crate) fn check_name(
        certificate: &CertificateDer<'_>,
        name: &NodeName,
    ) -> Result<(), String> {
        let parsed = ParsedCertificate::try_from(certificate)
            .map_err(|error| format!("its certificate cannot be read: {error}"))?;
        let server_name = server_name(name)?;
        rustls::client::verify_server_name(&parsed, &server_name)
            .map_err(|_| format!("its certificate is not for node {name}"))
    }
}

/// `name` as the TLS name a node's certificate carries.
///
/// # Errors
///
/// A node name that is no DNS name (an underscore, say): no certificate can be checked for it.
pub(crate) fn server_name(name: &NodeName) -> Result<ServerName<'static>, String> {
    ServerName::try_from(name.as_str().to_owned())
        .map_err(|_| format!("node name {name} is not a DNS name, which its certificate needs"))
}

/// Certificates for unit tests: a CA, and node certificates it signs.
#[cfg(test)]
pub(crate) mod test_certs {
    use std::path::{Path, PathBuf};

    use rcgen::{
        BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
        KeyUsagePurpose,
    };

    use super::NodeTls;

    /// A CA in `dir` (`ca.pem`), and `NodeTls` for node `name` signed by it.
    pub(crate) fn node_tls(dir: &Path, name: &str) -> NodeTls {
        let ca_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = params.self_signed(&ca_key).unwrap();
        let ca_path = write(dir, "ca.pem", &ca.pem());
        let issuer = Issuer::from_ca_cert_pem(&ca.pem(), ca_key).unwrap();
        let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        let cert_path = write(dir, &format!("{name}.pem"), &cert.pem());
        let key_path = write(dir, &format!("{name}.key"), &key.serialize_pem());
        NodeTls::from_files(&cert_path, &key_path, &ca_path).unwrap()
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

#[cfg(test)]
mod tests {
    use rustls::pki_types::ServerName;
    use rustls::{CipherSuite, Connection};

    use super::test_certs;

    /// Moves what `from` has to send into `to`, and lets `to` process it.
    fn transfer(from: &mut Connection, to: &mut Connection) {
        let mut wire = Vec::new();
        while from.wants_write() {
            from.write_tls(&mut wire).unwrap();
        }
        let mut unread = &wire[..];
        while !unread.is_empty() {
            to.read_tls(&mut unread).unwrap();
            to.process_new_packets().unwrap();
        }
    }

    #[test]
    fn linked_nodes_settle_on_aes_128_gcm() {
        let dir = tempfile::tempdir().unwrap();
        let tls = test_certs::node_tls(dir.path(), "a");
        let name = ServerName::try_from("a").unwrap();
        let mut client =
            Connection::Client(rustls::ClientConnection::new(tls.client.clone(), name).unwrap());
        let mut server =
            Connection::Server(rustls::ServerConnection::new(tls.server.clone()).unwrap());
        for _ in 0..8 {
            transfer(&mut client, &mut server);
            transfer(&mut server, &mut client);
        }
        assert!(!client.is_handshaking() && !server.is_handshaking());
        for side in [&client, &server] {
            assert_eq!(
                side.negotiated_cipher_suite().map(|suite| suite.suite()),
                Some(CipherSuite::TLS13_AES_128_GCM_SHA256)
            );
        }
    }
}

//! The client's side of `tls://`: what to trust and who to be ([`TlsOptions`]), and the TLS
//! handshake, whose failures become a [`ConnectError::Tls`] that says what to do.
//!
//! TLS 1.3 only, with ring as the crypto provider (as the daemon). The daemon's certificate is
//! verified against the CA given by `?ca=PATH` (or `$POSTBOX_TLS_CA`), else against the Mozilla
//! roots compiled in by `webpki-roots` — a fixed set, the same on every machine, that needs no
//! system store to be readable; the name checked is the URL's host, or `?name=NODE`.

use std::io::{self, Read as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{AlertDescription, CertificateError, ClientConfig, ClientConnection, RootCertStore};

use crate::connect_error::ConnectError;

/// The largest PEM file read, checked before reading it: certificates and keys are a few KiB, a
/// bundle of CAs a few hundred.
const MAX_PEM_FILE_SIZE: u64 = 4 << 20;

/// What a `tls://` connection trusts and presents: the options of the URL's query, completed from
/// the environment.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub(crate) struct TlsOptions {
    /// The CAs the daemon's certificate must be signed by (`ca=`, `$POSTBOX_TLS_CA`); none: the
    /// `webpki-roots` set.
    pub(crate) ca: Option<PathBuf>,
    /// The name the daemon's certificate must be valid for (`name=`); none: the URL's host.
    pub(crate) name: Option<String>,
    /// The client's certificate and key (`cert=` and `key=`, `$POSTBOX_TLS_CERT` and
    /// `$POSTBOX_TLS_KEY`), for a daemon that requires one.
    pub(crate) identity: Option<(PathBuf, PathBuf)>,
}

impl TlsOptions {
    /// The options of a URL's query (`ca=PATH&name=NODE&cert=PATH&key=PATH`, values
    /// percent-decoded), or why they are no options.
    pub(crate) fn from_query(query: &str) -> Result<TlsOptions, String> {
        let mut options = TlsOptions::default();
        let (mut cert, mut key) = (None, None);
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?} has no value"))?;
            let value =
                percent_decode(value).ok_or_else(|| format!("{pair:?} is badly escaped"))?;
            if value.is_empty() {
                return Err(format!("{name} is empty"));
            }
            let slot = match name {
                "ca" => &mut options.ca,
                "cert" => &mut cert,
                "key" => &mut key,
                "name" => {
                    options.name = Some(value);
                    continue;
                }
                _ => return Err(format!("unknown option {name:?} (ca, name, cert or key)")),
            };
            *slot = Some(PathBuf::from(value));
        }
        options.identity = match (cert, key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => return Err("cert and key go together".to_owned()),
        };
        Ok(options)
    }

    /// These options, with what the URL left out taken from `var` (`POSTBOX_TLS_CA`,
    /// `POSTBOX_TLS_CERT` with `POSTBOX_TLS_KEY`).
    pub(crate) fn or_from_env(mut self, var: impl Fn(&str) -> Option<String>) -> TlsOptions {
        let path = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        if self.ca.is_none() {
            self.ca = path("POSTBOX_TLS_CA");
        }
        if self.identity.is_none() {
            self.identity = path("POSTBOX_TLS_CERT").zip(path("POSTBOX_TLS_KEY"));
        }
        self
    }

    /// The rustls configuration these options describe.
    fn client_config(&self) -> Result<ClientConfig, ConnectError> {
        let mut roots = RootCertStore::empty();
        match &self.ca {
            Some(ca) => {
                for cert in load_certificates(ca, "CA")? {
                    roots.add(cert).map_err(|error| {
                        ConnectError::Tls(format!("the CA file {}: {error}", ca.display()))
                    })?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let builder = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|error| ConnectError::Tls(error.to_string()))?
            .with_root_certificates(roots);
        match &self.identity {
            None => Ok(builder.with_no_client_auth()),
            Some((cert, key)) => {
                let chain = load_certificates(cert, "client certificate")?;
                let key_der = load_private_key(key)?;
                builder
                    .with_client_auth_cert(chain, key_der)
                    .map_err(|error| {
                        ConnectError::Tls(format!(
                            "the client certificate {} and key {}: {error} (is the key the \
                         certificate's?)",
                            cert.display(),
                            key.display()
                        ))
                    })
            }
        }
    }

    /// What the daemon's certificate is checked against, for messages.
    fn trusted(&self) -> String {
        match &self.ca {
            Some(ca) => format!("the CA in {}", ca.display()),
            None => "the public roots of webpki-roots".to_owned(),
        }
    }
}

/// Runs the TLS handshake with the daemon at `host` over `tcp` (blocking, within `timeout`), as
/// `options` say.
///
/// # Errors
///
/// [`ConnectError::Tls`]: an unusable CA, certificate or key file, a server name that is no name,
/// a daemon certificate that is not trusted or not valid for the name, any other handshake
/// failure; each says what to do.
pub(crate) fn handshake(
    tcp: &mut TcpStream,
    host: &str,
    options: &TlsOptions,
    timeout: Duration,
) -> Result<ClientConnection, ConnectError> {
    let name = options.name.as_deref().unwrap_or(host);
    let server_name = ServerName::try_from(name.to_owned()).map_err(|_| {
        ConnectError::Tls(format!(
            "{name:?} is not a server name a certificate can be checked against; give the \
             daemon's name with ?name=NODE"
        ))
    })?;
    let config = Arc::new(options.client_config()?);
    let mut conn = ClientConnection::new(config, server_name)
        .map_err(|error| ConnectError::Tls(error.to_string()))?;
    let io_error = |e: io::Error| ConnectError::Io(e.to_string());
    tcp.set_read_timeout(Some(timeout)).map_err(io_error)?;
    tcp.set_write_timeout(Some(timeout)).map_err(io_error)?;
    while conn.is_handshaking() {
        if let Err(error) = conn.complete_io(tcp) {
            return Err(ConnectError::Tls(describe(&error, name, options)));
        }
    }
    tcp.set_read_timeout(None).map_err(io_error)?;
    tcp.set_write_timeout(None).map_err(io_error)?;
    Ok(conn)
}

/// What a failed TLS exchange means and what to do about it; `name` is the name the daemon's
/// certificate was checked against.
pub(crate) fn describe(error: &io::Error, name: &str, options: &TlsOptions) -> String {
    let Some(tls) = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    else {
        return match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                "the TLS handshake timed out: is the daemon listening with tls:// there?".to_owned()
            }
            // A daemon that refuses a connection closes it with the ClientHello unread, which
            // the kernel may turn into a reset: the same refusal as an orderly close.
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted => {
                "the daemon closed the connection during the TLS handshake: is it listening with \
                 tls:// there, and not refusing connections (see its log)?"
                    .to_owned()
            }
            _ => format!("the TLS handshake failed: {error}"),
        };
    };
    describe_tls(tls, name, options)
}

/// [`describe`] for an error rustls reports.
pub(crate) fn describe_tls(error: &rustls::Error, name: &str, options: &TlsOptions) -> String {
    use rustls::Error;
    match error {
        // A bad signature: a CA of the same name signed it, but not the one trusted.
        Error::InvalidCertificate(
            CertificateError::UnknownIssuer | CertificateError::BadSignature,
        ) => format!(
            "the daemon's certificate is not signed by a CA this client trusts ({}): give the \
             cluster's ca.pem with ?ca=PATH or $POSTBOX_TLS_CA",
            options.trusted()
        ),
        Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => format!(
            "the daemon's certificate is not valid for the name {name:?}: connect to a name it was \
             issued for, or name the daemon with ?name=NODE"
        ),
        Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => "the daemon's certificate has expired: issue it a new one (`postbox certs issue`)"
            .to_owned(),
        Error::AlertReceived(AlertDescription::CertificateRequired) => {
            "the daemon requires a client certificate: give one signed by the CA it trusts with \
             ?cert=PATH&key=PATH or $POSTBOX_TLS_CERT and $POSTBOX_TLS_KEY"
                .to_owned()
        }
        Error::AlertReceived(
            AlertDescription::UnknownCA
            | AlertDescription::BadCertificate
            | AlertDescription::CertificateUnknown
            | AlertDescription::DecryptError,
        ) => "the daemon does not trust this client's certificate: use one signed by the CA its \
              --tls-client-ca names"
            .to_owned(),
        Error::InvalidMessage(_) => "the daemon does not speak TLS there: is it listening with \
             tls:// (not tcp://) at that port?"
            .to_owned(),
        error => format!("the TLS handshake failed: {error}"),
    }
}

/// The crypto provider of every client TLS config: ring (see the daemon's `tls` module for why).
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The bytes of `path`, at most [`MAX_PEM_FILE_SIZE`] of them.
fn read_limited(path: &Path, what: &str) -> Result<Vec<u8>, ConnectError> {
    let read_error =
        |e: io::Error| ConnectError::Tls(format!("cannot read the {what} {}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_PEM_FILE_SIZE {
        return Err(ConnectError::Tls(format!(
            "the {what} {} is larger than a PEM file is ({MAX_PEM_FILE_SIZE} bytes at most)",
            path.display()
        )));
    }
    Ok(bytes)
}

/// Every certificate in the PEM file `path`; at least one.
fn load_certificates(
    path: &Path,
    what: &str,
) -> Result<Vec<CertificateDer<'static>>, ConnectError> {
    let pem = read_limited(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| {
            ConnectError::Tls(format!(
                "the {what} {} is not valid PEM ({error})",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(ConnectError::Tls(format!(
            "the {what} {} holds no certificate (expected PEM, as `postbox certs` writes)",
            path.display()
        )));
    }
    Ok(certs)
}

/// The private key in the PEM file `path`.
fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, ConnectError> {
    let pem = read_limited(path, "client key")?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|error| {
        ConnectError::Tls(format!(
            "the client key {} holds no usable private key ({error})",
            path.display()
        ))
    })
}

/// `text` with `%XX` escapes decoded, or `None` if an escape is broken or the result not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_gives_each_option_once_decoded_and_refuses_the_rest() {
        let options =
            TlsOptions::from_query("ca=/etc/ca.pem&name=node-a&cert=/c%20d.pem&key=/k").unwrap();
        assert_eq!(options.ca.as_deref(), Some(Path::new("/etc/ca.pem")));
        assert_eq!(options.name.as_deref(), Some("node-a"));
        assert_eq!(
            options.identity,
            Some((PathBuf::from("/c d.pem"), PathBuf::from("/k")))
        );
        assert_eq!(TlsOptions::from_query(""), Ok(TlsOptions::default()));
        for bad in ["cert=/c", "key=/k", "x=1", "ca", "ca=", "ca=%zz", "ca=%4"] {
            assert!(TlsOptions::from_query(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_environment_fills_what_the_url_leaves_out() {
        let env = |name: &str| match name {
            "POSTBOX_TLS_CA" => Some("/env/ca.pem".to_owned()),
            "POSTBOX_TLS_CERT" => Some("/env/c.pem".to_owned()),
            "POSTBOX_TLS_KEY" => Some("/env/c.key".to_owned()),
            _ => None,
        };
        let filled = TlsOptions::default().or_from_env(env);
        assert_eq!(filled.ca.as_deref(), Some(Path::new("/env/ca.pem")));
        assert!(filled.identity.is_some());
        let url = TlsOptions::from_query("ca=/url/ca.pem")
            .unwrap()
            .or_from_env(env);
        assert_eq!(
            url.ca.as_deref(),
            Some(Path::new("/url/ca.pem")),
            "the URL wins"
        );
    }

    #[test]
    fn unusable_pem_files_are_tls_errors_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("postbox-tls-client-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let missing = dir.join("missing.pem");
        for (options, file) in [
            (
                TlsOptions {
                    ca: Some(empty.clone()),
                    ..TlsOptions::default()
                },
                "empty.pem",
            ),
            (
                TlsOptions {
                    ca: Some(missing.clone()),
                    ..TlsOptions::default()
                },
                "missing.pem",
            ),
            (
                TlsOptions {
                    identity: Some((empty.clone(), missing.clone())),
                    ..TlsOptions::default()
                },
                "empty.pem",
            ),
        ] {
            match options.client_config() {
                Err(ConnectError::Tls(why)) => assert!(why.contains(file), "{why}"),
                other => panic!("expected a TLS error, got {other:?}"),
            }
        }
        assert!(
            TlsOptions::default().client_config().is_ok(),
            "the public roots"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn each_failure_says_what_to_do() {
        use rustls::Error;
        let options = TlsOptions::default();
        let says = |error: Error, what: &str| {
            let text = describe_tls(&error, "node-a", &options);
            assert!(text.contains(what), "{error:?}: {text}");
        };
        says(
            Error::InvalidCertificate(CertificateError::UnknownIssuer),
            "?ca=PATH",
        );
        says(
            Error::InvalidCertificate(CertificateError::BadSignature),
            "webpki-roots",
        );
        says(
            Error::InvalidCertificate(CertificateError::NotValidForName),
            "?name=NODE",
        );
        says(
            Error::InvalidCertificate(CertificateError::Expired),
            "postbox certs issue",
        );
        says(
            Error::AlertReceived(AlertDescription::CertificateRequired),
            "?cert=PATH&key=PATH",
        );
        says(
            Error::AlertReceived(AlertDescription::UnknownCA),
            "--tls-client-ca",
        );
        let timeout = io::Error::from(io::ErrorKind::TimedOut);
        assert!(describe(&timeout, "node-a", &options).contains("timed out"));
    }
}

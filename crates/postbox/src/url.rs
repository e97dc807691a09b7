//! Addresses of postbox nodes, and connecting to them.

use std::sync::Arc;

use postbox_wire::Token;

use crate::connect_error::ConnectError;
use crate::process::Process;
use crate::transport::inproc::InprocNode;
use crate::transport::socket::{Endpoint, Payloads, SocketLink, TlsOptions};

/// A parsed postbox address.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Url {
    /// `inproc://NAME`: the in-process node called NAME (empty for the default node).
    Inproc(String),
    /// `unix:///PATH`: a local daemon's socket.
    Unix(String),
    /// `tcp://HOST:PORT`: a remote daemon.
    Tcp(String),
    /// `tls://HOST:PORT[?ca=PATH&name=NODE&cert=PATH&key=PATH]`: a remote daemon over TLS; the
    /// string is what follows `tls://`, options included.
    Tls(String),
}

/// Whether `address` is `HOST:PORT` with a host and a port number.
fn is_host_port(address: &str) -> bool {
    address
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
}

/// `HOST:PORT` and the options of a `tls://` URL's rest.
fn tls_parts(rest: &str) -> Result<(&str, TlsOptions), String> {
    let (address, query) = rest.split_once('?').unwrap_or((rest, ""));
    if !is_host_port(address) {
        return Err(format!("{address:?} is not HOST:PORT"));
    }
    Ok((address, TlsOptions::from_query(query)?))
}

impl std::str::FromStr for Url {
    type Err = ConnectError;

    fn from_str(url: &str) -> Result<Url, ConnectError> {
        let invalid = || ConnectError::InvalidUrl(url.to_owned());
        let (scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
        match scheme {
            "inproc" => postbox_core::Name::new(rest)
                .map(|_| Url::Inproc(rest.to_owned()))
                .or_else(|_| {
                    if rest.is_empty() {
                        Ok(Url::Inproc(String::new()))
                    } else {
                        Err(invalid())
                    }
                }),
            "unix" if rest.starts_with('/') => Ok(Url::Unix(rest.to_owned())),
            "tcp" if is_host_port(rest) => Ok(Url::Tcp(rest.to_owned())),
            "tls" if tls_parts(rest).is_ok() => Ok(Url::Tls(rest.to_owned())),
            _ => Err(invalid()),
        }
    }
}

/// The address `connect_default` uses: `$POSTBOX_URL` if set, else the local daemon's default
/// socket (`$POSTBOX_SOCKET`, else `$XDG_RUNTIME_DIR/postbox.sock`, else
/// `/tmp/postbox-$UID/postbox.sock`).
pub fn default_url() -> String {
    match std::env::var("POSTBOX_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            let uid = crate::clock::host_credentials().uid;
            let path = postbox_wire::default_socket_path(|name| std::env::var(name).ok(), uid);
            format!("unix://{}", path.display())
        }
    }
}

/// Connects to [`default_url`] as a new process.
///
/// # Errors
///
/// As [`connect`].
pub fn connect_default() -> Result<Process, ConnectError> {
    connect(&default_url())
}

/// The token for a TCP daemon: `$POSTBOX_TOKEN_FILE`'s contents (without a trailing newline),
/// else `$POSTBOX_TOKEN`, else none.
fn token_from_env() -> Result<Option<Token>, ConnectError> {
    let secret = match std::env::var_os("POSTBOX_TOKEN_FILE") {
        Some(file) => {
            let text = std::fs::read(&file).map_err(|e| {
                ConnectError::InvalidToken(format!("{}: {e}", file.to_string_lossy()))
            })?;
            let end = text
                .iter()
                .rposition(|b| !b.is_ascii_whitespace())
                .map_or(0, |i| i + 1);
            text[..end].to_vec()
        }
        None => match std::env::var("POSTBOX_TOKEN") {
            Ok(token) if !token.is_empty() => token.into_bytes(),
            _ => return Ok(None),
        },
    };
    Token::new(secret)
        .map(Some)
        .map_err(|e| ConnectError::InvalidToken(e.to_string()))
}

/// Connects to the postbox node at `url` as a new process.
///
/// - `inproc://` — the default in-process node of this OS process; `inproc://NAME` — the one
///   called NAME (nodes are created on first use and live while any of their processes does).
/// - `unix:///PATH` — the local daemon listening there; the daemon learns this process's uid and
///   gid from the socket. Payloads of 64 KiB or more travel as sealed memfds, written once and
///   mapped by their receivers rather than copied through the daemon (docs/shm.md); `?shm_from=BYTES`
///   sets that threshold, `?shm=off` (or `POSTBOX_SHM=off`) keeps every payload inline.
/// - `tcp://HOST:PORT` — a daemon listening on TCP, with the token from `$POSTBOX_TOKEN_FILE` or
///   `$POSTBOX_TOKEN`.
/// - `tls://HOST:PORT` — a daemon listening with TLS 1.3, with the token as for `tcp://`. Its
///   certificate must be valid for HOST (or the name `?name=NODE` gives) and signed by the CAs in
///   `?ca=PATH` (else `$POSTBOX_TLS_CA`, else the public roots of `webpki-roots`). A daemon that
///   requires client certificates gets `?cert=PATH&key=PATH` (else `$POSTBOX_TLS_CERT` and
///   `$POSTBOX_TLS_KEY`). Option values are percent-decoded.
///
/// A daemon connection **is** the process: dropping the [`Process`] closes it, and the daemon
/// terminates the process at once.
///
/// ```
/// let alice = postbox::connect("inproc://doc-connect")?;
/// let bob = postbox::connect("inproc://doc-connect")?;
/// alice.send_to(bob.pid(), "hello")?;
/// assert_eq!(bob.recv_any()?.sender, alice.pid());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// `InvalidUrl`; `Io` when the daemon cannot be reached; `Handshake` when it refuses;
/// `InvalidToken`; `Tls` when TLS fails (an untrusted certificate, a name mismatch, a refused
/// client certificate, an unusable file), saying what to do.
pub fn connect(url: &str) -> Result<Process, ConnectError> {
    let token = match url.parse::<Url>()? {
        Url::Tcp(_) | Url::Tls(_) => token_from_env()?,
        _ => None,
    };
    connect_to(url, token)
}

/// As [`connect`], presenting `token` to a TCP or TLS daemon instead of reading it from the environment
/// (for programs that keep their secrets elsewhere). Other transports ignore it.
///
/// # Errors
///
/// As [`connect`]; `InvalidToken` when `token` is empty or too long.
pub fn connect_with_token(url: &str, token: &[u8]) -> Result<Process, ConnectError> {
    let token =
        Token::new(token.to_vec()).map_err(|e| ConnectError::InvalidToken(e.to_string()))?;
    connect_to(url, Some(token))
}

/// Takes a `node=NAME` option out of `url`'s query: the URL without it, and the node.
///
/// # Errors
///
/// `InvalidUrl` when the node is not a valid node name, or is given twice.
fn home_node(url: &str) -> Result<(String, Option<String>), ConnectError> {
    let invalid = || ConnectError::InvalidUrl(url.to_owned());
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None));
    };
    let mut node = None;
    let mut rest = Vec::new();
    for pair in query.split('&') {
        match pair.strip_prefix("node=") {
            Some(name) => {
                if node.is_some() || postbox_wire::link::NodeName::new(name).is_err() {
                    return Err(invalid());
                }
                node = Some(name.to_owned());
            }
            None => rest.push(pair),
        }
    }
    let url = if rest.iter().all(|pair| pair.is_empty()) {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((url, node))
}

/// Takes the `shm=` and `shm_from=` options out of a `unix://` URL's query (with
/// `POSTBOX_SHM`): the URL without them, and where its large payloads travel.
///
/// # Errors
///
/// `InvalidUrl` for an option other than `node=`, `shm=on|off` and `shm_from=BYTES`.
fn payloads(url: &str) -> Result<(String, Payloads), ConnectError> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let pairs: Vec<&str> = query.split('&').filter(|pair| !pair.is_empty()).collect();
    let env = std::env::var("POSTBOX_SHM").ok();
    let payloads = Payloads::from_query(&pairs, env.as_deref()).map_err(|option| {
        ConnectError::InvalidUrl(format!(
            "{url}: unknown option {option:?} (a unix:// URL takes node=NAME, shm=on|off and shm_from=BYTES)"
        ))
    })?;
    Ok((base.to_owned(), payloads))
}

fn connect_to(url: &str, token: Option<Token>) -> Result<Process, ConnectError> {
    let (url, home) = home_node(url)?;
    let url = url.as_str();
    if home.is_some() && matches!(url.parse::<Url>()?, Url::Inproc(_)) {
        return Err(ConnectError::InvalidUrl(format!(
            "{url}: an in-process node has no other nodes (node= is for daemons)"
        )));
    }
    let link = match url.parse::<Url>()? {
        Url::Inproc(name) => return Ok(InprocNode::named(&name).process()),
        Url::Unix(rest) => {
            let (path, payloads) = payloads(&rest)?;
            SocketLink::connect(Endpoint::Unix(&path, payloads), None)?
        }
        Url::Tcp(address) => SocketLink::connect(Endpoint::Tcp(&address), token)?,
        Url::Tls(rest) => {
            let (address, options) =
                tls_parts(&rest).map_err(|_| ConnectError::InvalidUrl(url.to_owned()))?;
            let options = options.or_from_env(|name| std::env::var(name).ok());
            SocketLink::connect(Endpoint::Tls(address, &options), token)?
        }
    };
    Ok(Process::with_home_node(Arc::new(link), home))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_scheme_and_rejects_the_rest() {
        assert_eq!("inproc://".parse(), Ok(Url::Inproc(String::new())));
        assert_eq!("inproc://a.b".parse(), Ok(Url::Inproc("a.b".into())));
        assert_eq!(
            "unix:///run/pb.sock".parse(),
            Ok(Url::Unix("/run/pb.sock".into()))
        );
        assert_eq!(
            "tcp://127.0.0.1:7000".parse(),
            Ok(Url::Tcp("127.0.0.1:7000".into()))
        );
        assert_eq!(
            "tls://node-a:7070?ca=/c.pem&name=a".parse(),
            Ok(Url::Tls("node-a:7070?ca=/c.pem&name=a".into()))
        );
        assert_eq!("tls://[::1]:1".parse(), Ok(Url::Tls("[::1]:1".into())));
        for bad in [
            "tls://host",
            "tls://h:1?what=1",
            "tls://h:1?cert=/only-cert",
            "",
            "inproc:/",
            "inproc://a b",
            "unix://rel",
            "tcp://host",
            "tcp://:1",
            "tcp://h:99999",
            "http://x",
        ] {
            assert!(
                matches!(bad.parse::<Url>(), Err(ConnectError::InvalidUrl(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_absent_daemon_is_an_io_error_not_a_hang() {
        let name = format!("postbox-absent-{}.sock", std::process::id());
        let url = format!("unix://{}", std::env::temp_dir().join(name).display());
        assert!(matches!(connect(&url).unwrap_err(), ConnectError::Io(_)));
    }
}

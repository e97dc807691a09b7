//! Addresses of postbox nodes, and connecting to them.

use thiserror::Error;

use crate::node::InprocNode;
use crate::process::Process;

/// Why [`connect`] failed.
#[derive(Clone, PartialEq, Eq, Debug, Error)]
pub enum ConnectError {
    /// The address is not a postbox URL (`inproc://[NAME]`, `unix:///PATH`, `tcp://HOST:PORT`).
    #[error("invalid postbox URL {0:?}: expected inproc://[NAME], unix:///PATH or tcp://HOST:PORT")]
    InvalidUrl(String),
    /// The transport is recognised but this build cannot connect through it yet.
    #[error("the {0} transport is not available in this version of postbox")]
    Unsupported(&'static str),
}

/// A parsed postbox address.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Url {
    /// `inproc://NAME`: the in-process node called NAME (empty for the default node).
    Inproc(String),
    /// `unix:///PATH`: a local daemon's socket.
    Unix(String),
    /// `tcp://HOST:PORT`: a remote daemon.
    Tcp(String),
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
            "tcp"
                if rest.rsplit_once(':').is_some_and(|(host, port)| {
                    !host.is_empty() && port.parse::<u16>().is_ok()
                }) =>
            {
                Ok(Url::Tcp(rest.to_owned()))
            }
            _ => Err(invalid()),
        }
    }
}

/// Connects to the postbox node at `url` as a new process.
///
/// - `inproc://` — the default in-process node of this OS process; `inproc://NAME` — the one
///   called NAME (nodes are created on first use and live while any of their processes does).
/// - `unix:///PATH`, `tcp://HOST:PORT` — a daemon (not available in this version: `Unsupported`).
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
/// `InvalidUrl` for anything else; `Unsupported` for a transport this build lacks.
pub fn connect(url: &str) -> Result<Process, ConnectError> {
    match url.parse::<Url>()? {
        Url::Inproc(name) => Ok(InprocNode::named(&name).process()),
        Url::Unix(_) => Err(ConnectError::Unsupported("unix")),
        Url::Tcp(_) => Err(ConnectError::Unsupported("tcp")),
    }
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
        for bad in [
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
    fn daemon_transports_are_reported_unsupported_not_faked() {
        assert_eq!(
            connect("unix:///tmp/x.sock").unwrap_err(),
            ConnectError::Unsupported("unix")
        );
        assert_eq!(
            connect("tcp://127.0.0.1:1").unwrap_err(),
            ConnectError::Unsupported("tcp")
        );
    }
}

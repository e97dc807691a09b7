//! Why connecting to a postbox node failed.

use thiserror::Error;

/// Why [`connect`](crate::connect) failed.
#[derive(Clone, PartialEq, Eq, Debug, Error)]
pub enum ConnectError {
    /// The address is not a postbox URL (`inproc://[NAME]`, `unix:///PATH`, `tcp://HOST:PORT`,
    /// `tls://HOST:PORT[?OPTIONS]`).
    #[error(
        "invalid postbox URL {0:?}: expected inproc://[NAME], unix:///PATH, tcp://HOST:PORT or \
         tls://HOST:PORT[?ca=PATH&name=NODE&cert=PATH&key=PATH]"
    )]
    InvalidUrl(String),
    /// The daemon could not be reached: no socket at that path, connection refused, ...
    #[error("cannot reach the postbox daemon: {0}")]
    Io(String),
    /// The daemon refused the connection or answered something that is not postbox: wrong
    /// token, no common protocol version, garbage.
    #[error("postbox handshake failed: {0}")]
    Handshake(String),
    /// TLS with the daemon failed (`tls://`): its certificate is not signed by a trusted CA or
    /// not valid for the name connected to, the daemon refused this client's certificate (or its
    /// lack of one), a CA, certificate or key file is unusable, or the handshake failed. The
    /// message says which, and what to do.
    #[error("TLS with the postbox daemon failed: {0}")]
    Tls(String),
    /// The token (`POSTBOX_TOKEN`, or the file named by `POSTBOX_TOKEN_FILE`) is unusable.
    #[error("invalid token: {0}")]
    InvalidToken(String),
}

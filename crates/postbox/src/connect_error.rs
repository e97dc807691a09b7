//! Why connecting to a postbox node failed.

use thiserror::Error;

/// Why [`connect`](crate::connect) failed.
#[derive(Clone, PartialEq, Eq, Debug, Error)]
pub enum ConnectError {
    /// The address is not a postbox URL (`inproc://[NAME]`, `unix:///PATH`, `tcp://HOST:PORT`).
    #[error("invalid postbox URL {0:?}: expected inproc://[NAME], unix:///PATH or tcp://HOST:PORT")]
    InvalidUrl(String),
    /// The daemon could not be reached: no socket at that path, connection refused, ...
    #[error("cannot reach the postbox daemon: {0}")]
    Io(String),
    /// The daemon refused the connection or answered something that is not postbox: wrong
    /// token, no common protocol version, garbage.
    #[error("postbox handshake failed: {0}")]
    Handshake(String),
    /// The token (`POSTBOX_TOKEN`, or the file named by `POSTBOX_TOKEN_FILE`) is unusable.
    #[error("invalid token: {0}")]
    InvalidToken(String),
}

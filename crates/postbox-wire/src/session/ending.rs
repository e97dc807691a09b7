//! Why a session ended.

use crate::{DecodeError, ErrorBody, HandshakeError};

/// Why a connection is over. After it, a session sends and delivers nothing more (but what it
/// had queued to transmit, such as an `Error` telling the peer why, which the driver should still
/// try to write before closing).
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum Ending {
    /// The peer sent `Close`, or this side closed and the peer then ended the stream: the
    /// orderly end.
    #[error("the connection was closed")]
    Closed,
    /// The stream ended (or could no longer be read or written) without a `Close`.
    #[error("the connection was lost")]
    Lost,
    /// The peer ended the connection with an `Error` frame (request id 0).
    #[error("the peer ended the connection: {0}")]
    PeerError(ErrorBody),
    /// The handshake failed or was refused; on this side's fault-finding, an `Error` telling the
    /// peer why is queued.
    #[error("handshake failed: {0}")]
    Handshake(HandshakeError),
    /// This side turned the peer away after its `Hello` (over a limit, shutting down); the
    /// `Error` saying so is queued.
    #[error("refused: {0}")]
    Refused(ErrorBody),
    /// The peer's bytes are not valid frames; an `Error` saying why is queued.
    #[error("the peer sent invalid frames: {0}")]
    Corrupt(DecodeError),
    /// The peer sent a well-formed frame it may not send; an `Error PROTOCOL_VIOLATION` saying
    /// which is queued.
    #[error("the peer broke the protocol: {0}")]
    Violation(String),
    /// This side's server is shutting down; every request in flight was answered
    /// `SHUTTING_DOWN`, and `Close` is queued.
    #[error("shutting down")]
    ShuttingDown,
}

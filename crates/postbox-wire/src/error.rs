//! Errors: one type per operation, each variant saying when it happens.
//!
//! Every decoding error means the same thing to a receiver: the peer is broken or hostile, the
//! connection cannot be trusted any more. [`DecodeError::code`] names the
//! [`ErrorCode`] to send in the `Error` frame before closing.

use crate::{ErrorBody, ErrorCode, FrameKind, Version};

/// A request id that the frame kind may not carry (see [`FrameKind`]); building such a
/// [`Frame`](crate::Frame) is refused, so none is ever encoded.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error("a {kind} frame may not carry request id {request_id}")]
pub struct InvalidRequestId {
    /// The frame's kind.
    pub kind: FrameKind,
    /// The refused id: 0 on a kind about one request, anything else on a kind about the
    /// connection.
    pub request_id: u64,
}

/// Why [`FrameDecoder::decode`](crate::FrameDecoder::decode) refused the bytes: the peer is
/// corrupt, and the connection must be closed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum DecodeError {
    /// The bytes do not start with `b"PB"`: the peer speaks another protocol, or the stream lost
    /// its alignment. Detected from the first byte on.
    #[error("bad magic: the peer is not speaking the postbox protocol")]
    BadMagic,
    /// The header's version is not the one in force (version 1 during the handshake, the
    /// negotiated one afterwards).
    #[error("unsupported protocol version {found} (expected {expected})")]
    UnsupportedVersion {
        /// The version byte the header carries.
        found: u8,
        /// The version this decoder is configured for.
        expected: Version,
    },
    /// The header's kind byte names no frame kind.
    #[error("unknown frame kind {kind}")]
    UnknownKind {
        /// The kind byte the header carries.
        kind: u8,
    },
    /// The header sets flags that this version does not define (version 1 defines none).
    #[error("unknown flags {flags:#06x} on a {kind} frame")]
    UnknownFlags {
        /// The frame's kind.
        kind: FrameKind,
        /// The flags field, as received.
        flags: u16,
    },
    /// The header's request id does not suit its kind.
    #[error(transparent)]
    InvalidRequestId(#[from] InvalidRequestId),
    /// The header announces a payload longer than the limit. Detected from the header alone, before
    /// any of the payload is buffered or any room reserved for it.
    #[error("frame too large: {len} bytes, limit {max}")]
    TooLarge {
        /// The announced payload length.
        len: u32,
        /// The limit in force.
        max: u32,
    },
    /// The frame's CRC32C does not match its bytes: they were corrupted on the way, or the
    /// length field was and the frame boundaries are lost.
    #[error("bad checksum: frame says {expected:#010x}, bytes give {computed:#010x}")]
    BadChecksum {
        /// The checksum the header carries.
        expected: u32,
        /// The checksum of the bytes received.
        computed: u32,
    },
}

impl DecodeError {
    /// The code to put in the `Error` frame sent to the peer before closing.
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::BadMagic
            | DecodeError::UnknownKind { .. }
            | DecodeError::UnknownFlags { .. }
            | DecodeError::InvalidRequestId(_) => ErrorCode::MALFORMED_FRAME,
            DecodeError::UnsupportedVersion { .. } => ErrorCode::UNSUPPORTED_VERSION,
            DecodeError::TooLarge { .. } => ErrorCode::FRAME_TOO_LARGE,
            DecodeError::BadChecksum { .. } => ErrorCode::BAD_CHECKSUM,
        }
    }
}

/// Why [`FrameEncoder::encode`](crate::FrameEncoder::encode) refused a frame. Nothing was
/// written.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum EncodeError {
    /// The payload is longer than the limit in force, so the peer would refuse the frame.
    #[error("frame too large: {len} bytes, limit {max}")]
    TooLarge {
        /// The payload's length.
        len: usize,
        /// The limit in force.
        max: u32,
    },
}

/// Why the payload of a handshake or `Error` frame could not be read.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum PayloadError {
    /// The payload ended in the middle of `field`.
    #[error("payload truncated in field `{field}`")]
    Truncated {
        /// The field that was cut short.
        field: &'static str,
    },
    /// A `Hello` offered no version at all.
    #[error("no protocol version offered")]
    NoVersions,
    /// A version number is 0, which no version uses.
    #[error("protocol version 0 does not exist")]
    ZeroVersion,
    /// A token is longer than [`MAX_TOKEN_LEN`](crate::MAX_TOKEN_LEN).
    #[error("token of {len} bytes is longer than the limit")]
    TokenTooLong {
        /// The token's length.
        len: usize,
    },
}

/// A token that [`Token::new`](crate::Token::new) refused: empty, or longer than
/// [`MAX_TOKEN_LEN`](crate::MAX_TOKEN_LEN).
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error("a token must be 1 to {max} bytes long, not {len}", max = crate::MAX_TOKEN_LEN)]
pub struct InvalidToken {
    /// The refused token's length.
    pub len: usize,
}

/// Why a handshake failed. Except after [`PeerError`](HandshakeError::PeerError),
/// [`Closed`](HandshakeError::Closed) and [`Finished`](HandshakeError::Finished), the handshake
/// has queued an `Error` frame for the peer: send what `poll_transmit` returns, then close.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The peer sent a frame its side may not send at this point (a `Request` before the
    /// `Welcome`, a second `Hello`, a `Hello` to a client).
    #[error("unexpected {kind} frame during the handshake")]
    UnexpectedFrame {
        /// The frame's kind.
        kind: FrameKind,
    },
    /// The payload of a `Hello`, `Welcome` or `Error` frame is malformed.
    #[error("malformed {kind} payload: {source}")]
    MalformedPayload {
        /// The frame's kind.
        kind: FrameKind,
        /// What was wrong with it.
        source: PayloadError,
    },
    /// The peer offered a frame limit below
    /// [`HANDSHAKE_MAX_FRAME_LEN`](crate::HANDSHAKE_MAX_FRAME_LEN), too small for the
    /// protocol's own frames.
    #[error("frame limit {offered} is below the minimum {min}")]
    FrameLimitTooSmall {
        /// The limit the peer offered.
        offered: u32,
        /// The smallest limit allowed.
        min: u32,
    },
    /// Server side: none of the versions the client offered is one the server speaks.
    #[error("no protocol version in common with the peer")]
    NoCommonVersion,
    /// Client side: the server's `Welcome` chose a version the client did not offer, or a frame
    /// limit larger than the client's.
    #[error(
        "the server chose version {version} and frame limit {max_frame_len}, which the client did not offer"
    )]
    BadNegotiation {
        /// The version the server chose.
        version: Version,
        /// The frame limit the server chose.
        max_frame_len: u32,
    },
    /// Server side: the server requires a token and the client's was missing or wrong.
    #[error("missing or wrong token")]
    Unauthorized,
    /// The peer sent an `Error` frame: for a client, the server refused it.
    #[error("the peer refused the handshake: {0}")]
    PeerError(ErrorBody),
    /// The peer sent `Close` before the handshake completed.
    #[error("the peer closed the connection during the handshake")]
    Closed,
    /// A frame was handed over after the handshake had already succeeded or failed: frames
    /// after a success belong to the session.
    #[error("the handshake has already finished")]
    Finished,
}

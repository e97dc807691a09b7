//! The payload of an `Error` frame: a machine-readable code and a human-readable message.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::cursor::Cursor;
use crate::{Frame, FrameKind, PayloadError, RequestId};

/// The longest message [`ErrorBody::new`] keeps, in bytes, so that an `Error` frame always fits
/// in [`HANDSHAKE_MAX_FRAME_LEN`](crate::HANDSHAKE_MAX_FRAME_LEN).
pub const MAX_ERROR_MESSAGE_LEN: usize = 1024;

/// What went wrong, as a number a program can act on.
///
/// Codes `0x0001..=0x00ff` are the protocol's own, listed here. Codes `0x0100..=0xffff` are
/// reserved for the operation encoding (to be specified). A receiver must accept codes it does not
/// know and treat them as a generic failure, so this is a number, not a closed enum.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ErrorCode(u16);

impl ErrorCode {
    /// A frame header was invalid: bad magic, unknown kind, unknown flags, or a request id its
    /// kind may not carry.
    pub const MALFORMED_FRAME: ErrorCode = ErrorCode(0x0001);
    /// A header carried a version other than the one in force, or a `Hello` offered no version
    /// the server speaks.
    pub const UNSUPPORTED_VERSION: ErrorCode = ErrorCode(0x0002);
    /// A header announced a payload over the frame limit.
    pub const FRAME_TOO_LARGE: ErrorCode = ErrorCode(0x0003);
    /// A frame's CRC32C did not match its bytes.
    pub const BAD_CHECKSUM: ErrorCode = ErrorCode(0x0004);
    /// A well-formed frame broke the rules of the conversation: a kind its sender may not send
    /// at this point, a request id already in flight, a `Welcome` nobody negotiated, a frame limit
    /// below the minimum.
    pub const PROTOCOL_VIOLATION: ErrorCode = ErrorCode(0x0005);
    /// A frame's payload could not be read.
    pub const MALFORMED_PAYLOAD: ErrorCode = ErrorCode(0x0006);
    /// The server requires a token and the client's was missing or wrong.
    pub const UNAUTHORIZED: ErrorCode = ErrorCode(0x0007);
    /// A configured limit refuses this: too many connections, too many operations in flight.
    pub const LIMIT_EXCEEDED: ErrorCode = ErrorCode(0x0008);
    /// The request was cancelled by a `Cancel` before it completed.
    pub const CANCELLED: ErrorCode = ErrorCode(0x0009);
    /// The server is shutting down.
    pub const SHUTTING_DOWN: ErrorCode = ErrorCode(0x000a);
    /// The sender failed in a way that is its own fault, not the peer's.
    pub const INTERNAL: ErrorCode = ErrorCode(0x000b);

    /// The first code reserved for the operation encoding.
    pub const FIRST_OPERATION_CODE: u16 = 0x0100;

    /// Wraps a raw code, known or not.
    pub const fn new(raw: u16) -> ErrorCode {
        ErrorCode(raw)
    }

    /// The raw code, as it goes on the wire.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// What the code means, for the protocol's own codes.
    fn name(self) -> Option<&'static str> {
        Some(match self {
            ErrorCode::MALFORMED_FRAME => "malformed frame",
            ErrorCode::UNSUPPORTED_VERSION => "unsupported protocol version",
            ErrorCode::FRAME_TOO_LARGE => "frame too large",
            ErrorCode::BAD_CHECKSUM => "bad checksum",
            ErrorCode::PROTOCOL_VIOLATION => "protocol violation",
            ErrorCode::MALFORMED_PAYLOAD => "malformed payload",
            ErrorCode::UNAUTHORIZED => "unauthorized",
            ErrorCode::LIMIT_EXCEEDED => "limit exceeded",
            ErrorCode::CANCELLED => "cancelled",
            ErrorCode::SHUTTING_DOWN => "shutting down",
            ErrorCode::INTERNAL => "internal error",
            _ => return None,
        })
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "error {:#06x}", self.0),
        }
    }
}

/// The payload of an `Error` frame.
///
/// ```text
/// offset  size  field
///      0     2  code, u16 little-endian
///      2     -  message, UTF-8, the rest of the payload (may be empty)
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct ErrorBody {
    code: ErrorCode,
    message: String,
}

impl ErrorBody {
    /// An error with `code`, explained by `message` cut to at most [`MAX_ERROR_MESSAGE_LEN`]
    /// bytes (at a character boundary).
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ErrorBody {
        let mut message = message.into();
        if message.len() > MAX_ERROR_MESSAGE_LEN {
            let mut cut = MAX_ERROR_MESSAGE_LEN;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        ErrorBody { code, message }
    }

    /// What went wrong, for programs.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// What went wrong, for people. Not meant to be parsed.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The payload bytes.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(2 + self.message.len());
        out.put_u16_le(self.code.get());
        out.put_slice(self.message.as_bytes());
        out.freeze()
    }

    /// The `Error` frame carrying this payload: about `request` (which fails, and whose id is
    /// retired), or with `None` about the connection (which the sender then closes).
    pub fn to_frame(&self, request: Option<RequestId>) -> Frame {
        Frame::for_request(FrameKind::Error, request, self.encode())
    }

    /// Reads an `Error` payload. Invalid UTF-8 in the message is replaced, not refused: the code
    /// is what matters, and the message should reach a person even if garbled.
    ///
    /// # Errors
    ///
    /// [`PayloadError::Truncated`] if the payload is shorter than a code.
    pub fn decode(payload: &[u8]) -> Result<ErrorBody, PayloadError> {
        let mut cursor = Cursor::new(payload);
        let code = ErrorCode::new(cursor.u16("error code")?);
        let message = String::from_utf8_lossy(cursor.rest()).into_owned();
        Ok(ErrorBody { code, message })
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{}: {}", self.code, self.message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_is_laid_out_as_documented_and_round_trips() {
        let body = ErrorBody::new(ErrorCode::UNAUTHORIZED, "no");
        assert_eq!(&body.encode()[..], &[0x07, 0x00, b'n', b'o'][..]);
        assert_eq!(ErrorBody::decode(&body.encode()), Ok(body.clone()));
        let frame = body.to_frame(RequestId::new(3));
        assert_eq!(frame.kind(), FrameKind::Error);
        assert_eq!(frame.request_id(), RequestId::new(3));
        assert_eq!(body.to_frame(None).request_id(), None);
    }

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        let body = ErrorBody::new(ErrorCode::INTERNAL, "é".repeat(MAX_ERROR_MESSAGE_LEN));
        assert_eq!(body.message().len(), MAX_ERROR_MESSAGE_LEN);
        let odd = ErrorBody::new(ErrorCode::INTERNAL, format!("x{}", "é".repeat(600)));
        assert_eq!(odd.message().len(), MAX_ERROR_MESSAGE_LEN - 1);
        assert!(odd.message().starts_with('x'));
    }

    #[test]
    fn garbled_messages_still_arrive_and_short_payloads_do_not() {
        assert_eq!(
            ErrorBody::decode(&[0x05, 0x00, 0xff, b'!']),
            Ok(ErrorBody::new(ErrorCode::PROTOCOL_VIOLATION, "\u{fffd}!"))
        );
        assert_eq!(
            ErrorBody::decode(&[0x05]),
            Err(PayloadError::Truncated {
                field: "error code"
            })
        );
    }

    #[test]
    fn unknown_codes_are_kept_and_displayed_as_numbers() {
        let body = ErrorBody::decode(&[0x34, 0x12]).unwrap();
        assert_eq!(body.code(), ErrorCode::new(0x1234));
        assert_eq!(body.to_string(), "error 0x1234");
        assert_eq!(
            ErrorBody::new(ErrorCode::CANCELLED, "by client").to_string(),
            "cancelled: by client"
        );
    }
}

//! Frames: the unit the protocol moves, what kinds there are, and the limits both ends apply.

use std::fmt;
use std::num::{NonZeroU8, NonZeroU64};

use bytes::Bytes;

use crate::error::InvalidRequestId;

/// The two bytes every frame starts with, so that a peer speaking something else (HTTP on the TCP
/// port, a stray `nc`) is rejected at its first byte instead of being parsed as a length.
pub const MAGIC: [u8; 2] = *b"PB";

/// The length of the fixed header in front of every payload.
pub const HEADER_LEN: usize = crate::header::HEADER_LEN;

/// The frame limit in force until the handshake has negotiated one, and the smallest limit a peer
/// may negotiate.
///
/// It is small so that an unauthenticated peer cannot make the receiver buffer much, and large
/// enough that every handshake frame (and every [`ErrorBody`](crate::ErrorBody)) always fits.
pub const HANDSHAKE_MAX_FRAME_LEN: u32 = 4096;

/// The frame limit a client or server offers unless configured otherwise: 1 MiB, sixteen times the
/// default maximum message size, leaving room for the operation encoding around a message.
pub const DEFAULT_MAX_FRAME_LEN: u32 = 1 << 20;

/// A protocol version: the layout of everything after the frame header.
///
/// The header layout itself is frozen for every version, so a peer of any version can read a
/// `Hello`. Version 0 is never used, so a zeroed header is never valid.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Version(NonZeroU8);

impl Version {
    /// Version 1, the one this crate speaks.
    pub const V1: Version = Version(NonZeroU8::MIN);

    /// The version every handshake frame (`Hello`, `Welcome`, an `Error` refusing a `Hello`)
    /// carries, whatever the peers end up negotiating, so that old and new peers can always
    /// negotiate.
    pub const HANDSHAKE: Version = Version::V1;

    /// Wraps a raw version number; `None` for 0, which no version uses.
    pub const fn new(raw: u8) -> Option<Version> {
        match NonZeroU8::new(raw) {
            Some(raw) => Some(Version(raw)),
            None => None,
        }
    }

    /// The raw version number, as it goes on the wire.
    pub const fn get(self) -> u8 {
        self.0.get()
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.get())
    }
}

/// The protocol versions this crate implements, lowest first; what a client offers and a server
/// accepts by default.
pub const SUPPORTED_VERSIONS: &[Version] = &[Version::V1];

/// What a frame is for. The kind fixes who may send it, which request ids it may carry and what
/// its payload means.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum FrameKind {
    /// Client to server, first frame on a connection: the versions and limits the client offers
    /// (payload: [`Hello`](crate::Hello)). Request id 0.
    Hello,
    /// Server to client, the answer to an acceptable `Hello`: what was negotiated and the client's
    /// pid (payload: [`Welcome`](crate::Welcome)). Request id 0.
    Welcome,
    /// Client to server: start an operation. The client picks a request id not in flight, so many
    /// operations can wait at once on one connection.
    Request,
    /// Server to client: the result of the request with the same id. It retires the id.
    Response,
    /// Server to client, unasked: a notification. Request id 0 for the connection as a whole, or
    /// the id of a request still in flight that it reports progress on (for subscriptions).
    Event,
    /// Client to server: stop waiting on the request with this id. The request still ends with a
    /// `Response` (if it completed first) or an `Error` with code `CANCELLED`.
    Cancel,
    /// Either direction: something failed (payload: [`ErrorBody`](crate::ErrorBody)). With a
    /// request id, that request failed and the id is retired; with id 0, the connection failed
    /// and the sender closes it.
    Error,
    /// Either direction: the sender is done and will send nothing more; the receiver finishes up
    /// and closes the connection. Request id 0.
    Close,
}

/// Which request ids a frame kind may carry.
enum IdRule {
    /// Only 0: the frame is about the connection.
    Zero,
    /// Never 0: the frame is about one request.
    NonZero,
    /// 0 for the connection, anything else for one request.
    Any,
}

impl FrameKind {
    /// Every kind, in wire order.
    pub const ALL: [FrameKind; 8] = [
        FrameKind::Hello,
        FrameKind::Welcome,
        FrameKind::Request,
        FrameKind::Response,
        FrameKind::Event,
        FrameKind::Cancel,
        FrameKind::Error,
        FrameKind::Close,
    ];

    /// The kind a wire byte names; `None` for 0 and 9..=255, which no version-1 kind uses.
    pub const fn from_u8(raw: u8) -> Option<FrameKind> {
        Some(match raw {
            1 => FrameKind::Hello,
            2 => FrameKind::Welcome,
            3 => FrameKind::Request,
            4 => FrameKind::Response,
            5 => FrameKind::Event,
            6 => FrameKind::Cancel,
            7 => FrameKind::Error,
            8 => FrameKind::Close,
            _ => return None,
        })
    }

    /// The wire byte for this kind.
    pub const fn as_u8(self) -> u8 {
        match self {
            FrameKind::Hello => 1,
            FrameKind::Welcome => 2,
            FrameKind::Request => 3,
            FrameKind::Response => 4,
            FrameKind::Event => 5,
            FrameKind::Cancel => 6,
            FrameKind::Error => 7,
            FrameKind::Close => 8,
        }
    }

    fn id_rule(self) -> IdRule {
        match self {
            FrameKind::Hello | FrameKind::Welcome | FrameKind::Close => IdRule::Zero,
            FrameKind::Request | FrameKind::Response | FrameKind::Cancel => IdRule::NonZero,
            FrameKind::Event | FrameKind::Error => IdRule::Any,
        }
    }

    /// Checks that `request_id` is one this kind may carry.
    pub(crate) fn check_request_id(self, request_id: u64) -> Result<(), InvalidRequestId> {
        let ok = match self.id_rule() {
            IdRule::Zero => request_id == 0,
            IdRule::NonZero => request_id != 0,
            IdRule::Any => true,
        };
        if ok {
            Ok(())
        } else {
            Err(InvalidRequestId {
                kind: self,
                request_id,
            })
        }
    }
}

impl fmt::Display for FrameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FrameKind::Hello => "hello",
            FrameKind::Welcome => "welcome",
            FrameKind::Request => "request",
            FrameKind::Response => "response",
            FrameKind::Event => "event",
            FrameKind::Cancel => "cancel",
            FrameKind::Error => "error",
            FrameKind::Close => "close",
        })
    }
}

/// Names one operation in flight on a connection; never 0, which means "the connection itself".
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct RequestId(NonZeroU64);

impl RequestId {
    /// Wraps a raw request id; `None` for 0.
    pub const fn new(raw: u64) -> Option<RequestId> {
        match NonZeroU64::new(raw) {
            Some(raw) => Some(RequestId(raw)),
            None => None,
        }
    }

    /// The raw id, as it goes on the wire.
    pub const fn get(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.get())
    }
}

/// One frame: a kind, a request id and an opaque payload.
///
/// A `Frame` value is always valid (its request id suits its kind), so encoding one can only fail
/// on size. The protocol version and checksum are not part of it: they belong to the connection
/// and to the bytes, and the codec adds and checks them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Frame {
    kind: FrameKind,
    request_id: u64,
    payload: Bytes,
}

impl Frame {
    /// A frame of any kind, for code that handles kinds generically (a proxy, a test).
    ///
    /// # Errors
    ///
    /// [`InvalidRequestId`] if `request_id` is not one `kind` may carry: 0 for `Request`,
    /// `Response` and `Cancel`, anything but 0 for `Hello`, `Welcome` and `Close`.
    pub fn new(
        kind: FrameKind,
        request_id: u64,
        payload: impl Into<Bytes>,
    ) -> Result<Frame, InvalidRequestId> {
        kind.check_request_id(request_id)?;
        Ok(Frame {
            kind,
            request_id,
            payload: payload.into(),
        })
    }

    /// A `Hello`, `Welcome` or `Close`: kinds that are about the connection, not a request.
    pub(crate) fn connection(kind: FrameKind, payload: impl Into<Bytes>) -> Frame {
        Frame {
            kind,
            request_id: 0,
            payload: payload.into(),
        }
    }

    /// A `Request` that starts the operation `payload` encodes.
    pub fn request(id: RequestId, payload: impl Into<Bytes>) -> Frame {
        Frame::for_request(FrameKind::Request, Some(id), payload)
    }

    /// The `Response` that completes request `id`.
    pub fn response(id: RequestId, payload: impl Into<Bytes>) -> Frame {
        Frame::for_request(FrameKind::Response, Some(id), payload)
    }

    /// An `Event` about request `id` (a subscription still in flight), or about the connection.
    pub fn event(id: Option<RequestId>, payload: impl Into<Bytes>) -> Frame {
        Frame::for_request(FrameKind::Event, id, payload)
    }

    /// A `Cancel` of request `id`.
    pub fn cancel(id: RequestId) -> Frame {
        Frame::for_request(FrameKind::Cancel, Some(id), Bytes::new())
    }

    /// A `Close`: the sender is done with the connection.
    pub fn close() -> Frame {
        Frame::connection(FrameKind::Close, Bytes::new())
    }

    /// A frame of a kind that may carry a request id (every kind but `Hello`, `Welcome`, `Close`).
    pub(crate) fn for_request(
        kind: FrameKind,
        id: Option<RequestId>,
        payload: impl Into<Bytes>,
    ) -> Frame {
        Frame {
            kind,
            request_id: id.map_or(0, RequestId::get),
            payload: payload.into(),
        }
    }

    /// What the frame is for.
    pub fn kind(&self) -> FrameKind {
        self.kind
    }

    /// The request the frame belongs to, or `None` for a frame about the whole connection.
    pub fn request_id(&self) -> Option<RequestId> {
        RequestId::new(self.request_id)
    }

    /// The payload, whose meaning depends on the kind.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// Takes the payload out, without copying, to decode the operation it carries.
    pub fn into_payload(self) -> Bytes {
        self.payload
    }
}

/// What both ends of a connection agree on for every frame: the protocol version in the header
/// and the largest payload. Before the handshake it is [`FrameConfig::HANDSHAKE`]; afterwards,
/// [`Negotiated::frame_config`](crate::Negotiated::frame_config).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct FrameConfig {
    /// The version every frame's header carries; a frame with another version is refused.
    pub version: Version,
    /// The largest payload, in bytes (the 22-byte header is not counted). Checked before any
    /// byte of the payload is buffered.
    pub max_frame_len: u32,
}

impl FrameConfig {
    /// The configuration until the handshake completes: version 1 and a 4 KiB limit.
    pub const HANDSHAKE: FrameConfig = FrameConfig {
        version: Version::HANDSHAKE,
        max_frame_len: HANDSHAKE_MAX_FRAME_LEN,
    };
}

impl Default for FrameConfig {
    /// [`FrameConfig::HANDSHAKE`], since every connection starts with a handshake.
    fn default() -> FrameConfig {
        FrameConfig::HANDSHAKE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_wire_byte_and_nothing_else_is_a_kind() {
        for kind in FrameKind::ALL {
            assert_eq!(FrameKind::from_u8(kind.as_u8()), Some(kind));
        }
        let known: Vec<u8> = FrameKind::ALL.iter().map(|k| k.as_u8()).collect();
        assert_eq!(known, (1..=8).collect::<Vec<u8>>());
        assert_eq!(FrameKind::from_u8(0), None);
        for raw in 9..=u8::MAX {
            assert_eq!(FrameKind::from_u8(raw), None);
        }
    }

    #[test]
    fn request_ids_follow_the_kind() {
        for kind in [FrameKind::Hello, FrameKind::Welcome, FrameKind::Close] {
            assert!(Frame::new(kind, 0, "").is_ok());
            assert_eq!(
                Frame::new(kind, 7, ""),
                Err(InvalidRequestId {
                    kind,
                    request_id: 7
                })
            );
        }
        for kind in [FrameKind::Request, FrameKind::Response, FrameKind::Cancel] {
            assert!(Frame::new(kind, 0, "").is_err());
            assert!(Frame::new(kind, u64::MAX, "").is_ok());
        }
        for kind in [FrameKind::Event, FrameKind::Error] {
            assert!(Frame::new(kind, 0, "").is_ok());
            assert!(Frame::new(kind, 1, "").is_ok());
        }
    }

    #[test]
    fn typed_constructors_make_valid_frames() {
        let id = RequestId::new(42).unwrap();
        let frames = [
            Frame::request(id, "op"),
            Frame::response(id, "ok"),
            Frame::event(Some(id), "tick"),
            Frame::event(None, "notice"),
            Frame::cancel(id),
            Frame::close(),
        ];
        for frame in frames {
            let rebuilt = Frame::new(
                frame.kind(),
                frame.request_id().map_or(0, RequestId::get),
                frame.payload().clone(),
            );
            assert_eq!(rebuilt.as_ref(), Ok(&frame));
        }
        assert_eq!(Frame::cancel(id).request_id(), Some(id));
        assert_eq!(Frame::close().request_id(), None);
    }

    #[test]
    fn version_zero_and_request_id_zero_do_not_exist() {
        assert_eq!(Version::new(0), None);
        assert_eq!(Version::new(1), Some(Version::V1));
        assert_eq!(RequestId::new(0), None);
        assert_eq!(SUPPORTED_VERSIONS, &[Version::V1]);
    }
}

//! Bytes in, link frames out: the receiving half of the link codec.

use bytes::{Buf, Bytes, BytesMut};

use super::{
    Incarnation, InvalidNodeName, LINK_MAGIC, LINK_VERSION, LinkFrame, LinkFrameKind, LinkHello,
    NodeName, Seq,
};
use crate::cursor::Cursor;
use crate::header::{HEADER_LEN, Header};
use crate::{ErrorBody, PayloadError};

/// Why [`LinkDecoder::decode`] refused the bytes: the connection is corrupt (or the peer is not a
/// postbox node) and must be closed; an association then resumes on a new one.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum LinkDecodeError {
    /// The bytes do not start with `b"PN"`: not a link frame, or the stream lost its alignment.
    #[error("bad magic: the peer is not speaking the postbox node-link protocol")]
    BadMagic,
    /// The header's version is not [`LINK_VERSION`].
    #[error("unsupported link protocol version {found} (this node speaks {LINK_VERSION})")]
    UnsupportedVersion {
        /// The version byte the header carries.
        found: u8,
    },
    /// The header's kind byte names no link frame kind.
    #[error("unknown link frame kind {kind}")]
    UnknownKind {
        /// The kind byte.
        kind: u8,
    },
    /// The header sets flags; version 1 defines none.
    #[error("unknown flags {flags:#06x} on a {kind} frame")]
    UnknownFlags {
        /// The frame's kind.
        kind: LinkFrameKind,
        /// The flags field.
        flags: u16,
    },
    /// The header's number does not suit the kind (a data frame numbered 0, an ack numbered).
    #[error("a {kind} frame may not carry the number {number}")]
    BadNumber {
        /// The frame's kind.
        kind: LinkFrameKind,
        /// The number field.
        number: u64,
    },
    /// The header announces a payload over the limit; refused from the header alone.
    #[error("link frame too large: {len} bytes, limit {max}")]
    TooLarge {
        /// The announced payload length.
        len: u32,
        /// The limit in force.
        max: u32,
    },
    /// The frame's CRC32C does not match its bytes.
    #[error("bad checksum: frame says {expected:#010x}, bytes give {computed:#010x}")]
    BadChecksum {
        /// The checksum the header carries.
        expected: u32,
        /// The checksum of the bytes received.
        computed: u32,
    },
    /// The payload is shorter than its kind's fields.
    #[error("malformed {kind} payload: {source}")]
    Malformed {
        /// The frame's kind.
        kind: LinkFrameKind,
        /// Which field was cut.
        source: PayloadError,
    },
    /// A `Hello` names its sender with an invalid node name.
    #[error("malformed hello: {0}")]
    BadNodeName(InvalidNodeName),
    /// A `Hello` gives its sender's incarnation as 0, which no incarnation is.
    #[error("malformed hello: incarnation 0")]
    ZeroIncarnation,
}

/// Cuts link frames out of a byte stream: header checks, the length limit before any buffering,
/// the checksum, then the payload's fields.
///
/// It follows [`FrameDecoder`](crate::FrameDecoder)'s contract: `Ok(Some(_))` consumed one
/// frame, `Ok(None)` needs more bytes and consumed nothing, `Err` means the connection is corrupt
/// (nothing consumed; the same error again if called again). It never panics and never reserves
/// room for more than the header plus `max_frame_len`.
#[derive(Clone, Copy, Debug)]
pub struct LinkDecoder {
    max_frame_len: u32,
}

impl LinkDecoder {
    /// A decoder accepting payloads up to `max_frame_len` bytes.
    pub fn new(max_frame_len: u32) -> LinkDecoder {
        LinkDecoder { max_frame_len }
    }

    /// Takes the first frame off the front of `src`, if a whole one is there.
    ///
    /// # Errors
    ///
    /// A [`LinkDecodeError`] when the bytes are not a valid link frame.
    pub fn decode(&self, src: &mut BytesMut) -> Result<Option<LinkFrame>, LinkDecodeError> {
        let magic_seen = src.len().min(LINK_MAGIC.len());
        if src.get(..magic_seen) != LINK_MAGIC.get(..magic_seen) {
            return Err(LinkDecodeError::BadMagic);
        }
        let Some((header_bytes, rest)) = src.split_first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let header = Header::from_bytes(header_bytes);
        let kind = self.check_header(&header)?;
        let too_large = LinkDecodeError::TooLarge {
            len: header.payload_len,
            max: self.max_frame_len,
        };
        let payload_len = usize::try_from(header.payload_len).map_err(|_| too_large)?;
        let available = rest.len();
        let Some(payload) = rest.get(..payload_len) else {
            src.reserve(payload_len - available);
            return Ok(None);
        };
        let computed = header.compute_checksum(payload);
        if computed != header.checksum {
            return Err(LinkDecodeError::BadChecksum {
                expected: header.checksum,
                computed,
            });
        }
        let frame = parse(kind, header.request_id, payload)?;
        src.advance(HEADER_LEN);
        let payload = src.split_to(payload_len).freeze();
        Ok(Some(match frame {
            // The message is cut out of the buffer, not copied.
            LinkFrame::Data { seq, ack, .. } => LinkFrame::Data {
                seq,
                ack,
                payload: payload.slice(super::DATA_OVERHEAD..),
            },
            other => other,
        }))
    }

    fn check_header(&self, header: &Header) -> Result<LinkFrameKind, LinkDecodeError> {
        if header.version != LINK_VERSION {
            return Err(LinkDecodeError::UnsupportedVersion {
                found: header.version,
            });
        }
        let kind = LinkFrameKind::from_u8(header.kind)
            .ok_or(LinkDecodeError::UnknownKind { kind: header.kind })?;
        if header.flags != 0 {
            return Err(LinkDecodeError::UnknownFlags {
                kind,
                flags: header.flags,
            });
        }
        if !kind.allows_number(header.request_id) {
            return Err(LinkDecodeError::BadNumber {
                kind,
                number: header.request_id,
            });
        }
        if header.payload_len > self.max_frame_len {
            return Err(LinkDecodeError::TooLarge {
                len: header.payload_len,
                max: self.max_frame_len,
            });
        }
        Ok(kind)
    }
}

/// Reads a payload's fields. A data frame's message is left empty here: the caller cuts it out
/// of the buffer once the frame is known to be good.
fn parse(kind: LinkFrameKind, number: u64, payload: &[u8]) -> Result<LinkFrame, LinkDecodeError> {
    let malformed = |source| LinkDecodeError::Malformed { kind, source };
    let mut cursor = Cursor::new(payload);
    let ack = |cursor: &mut Cursor<'_>| cursor.u64("ack").map(Seq::new).map_err(malformed);
    Ok(match kind {
        LinkFrameKind::Hello => {
            let len = cursor.u8("node name length").map_err(malformed)?;
            let name = cursor
                .bytes(usize::from(len), "node name")
                .map_err(malformed)?;
            let node = NodeName::new(name).map_err(LinkDecodeError::BadNodeName)?;
            let incarnation = cursor.u64("incarnation").map_err(malformed)?;
            let incarnation =
                Incarnation::new(incarnation).ok_or(LinkDecodeError::ZeroIncarnation)?;
            let known = Incarnation::new(cursor.u64("known incarnation").map_err(malformed)?);
            let delivered = Seq::new(cursor.u64("delivered").map_err(malformed)?);
            let max_frame_len = cursor.u32("max frame length").map_err(malformed)?;
            LinkFrame::Hello(LinkHello {
                node,
                incarnation,
                known,
                delivered,
                max_frame_len,
            })
        }
        LinkFrameKind::Data => LinkFrame::Data {
            seq: Seq::new(number),
            ack: ack(&mut cursor)?,
            payload: Bytes::new(),
        },
        LinkFrameKind::Ack => LinkFrame::Ack {
            ack: ack(&mut cursor)?,
        },
        LinkFrameKind::Ping => LinkFrame::Ping {
            id: number,
            ack: ack(&mut cursor)?,
        },
        LinkFrameKind::Pong => LinkFrame::Pong {
            id: number,
            ack: ack(&mut cursor)?,
        },
        LinkFrameKind::Goodbye => LinkFrame::Goodbye {
            ack: ack(&mut cursor)?,
        },
        LinkFrameKind::Error => LinkFrame::Error(ErrorBody::decode(payload).map_err(malformed)?),
    })
}

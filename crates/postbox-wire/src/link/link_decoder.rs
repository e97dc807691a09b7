//! Bytes in, link frames out: the receiving half of the link codec.

use bytes::{Buf, Bytes, BytesMut};

use super::{
    FLAG_UNCHECKED, Incarnation, InvalidNodeName, LINK_MAGIC, LINK_VERSION, LinkFrame,
    LinkFrameKind, LinkHello, NodeName, Seq,
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
    /// The header sets flags this decoder does not take: version 1 defines only
    /// [`FLAG_UNCHECKED`], on data frames, for a decoder that accepts them.
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
    unchecked: bool,
}

impl LinkDecoder {
    /// A decoder accepting payloads up to `max_frame_len` bytes, every frame checksummed.
    pub fn new(max_frame_len: u32) -> LinkDecoder {
        LinkDecoder {
            max_frame_len,
            unchecked: false,
        }
    }

    /// The same decoder, also taking data frames flagged [`FLAG_UNCHECKED`], which carry no
    /// checksum: for a connection that authenticates every byte itself (TLS).
    pub fn accepting_unchecked(self) -> LinkDecoder {
        LinkDecoder {
            unchecked: true,
            ..self
        }
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
        let computed = if header.flags == FLAG_UNCHECKED {
            0
        } else {
            header.compute_checksum(payload)
        };
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
        let unchecked_data =
            self.unchecked && kind == LinkFrameKind::Data && header.flags == FLAG_UNCHECKED;
        if header.flags != 0 && !unchecked_data {
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
            // Options came later: a Hello that ends before them has none.
            let options = cursor.u8("options").unwrap_or(0);
            LinkFrame::Hello(LinkHello {
                node,
                incarnation,
                known,
                delivered,
                max_frame_len,
                unchecked: options & super::link_frame::HELLO_UNCHECKED != 0,
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

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: u32 = 64;

    /// A header with the given raw fields and a correct checksum over `payload`.
    fn raw(version: u8, kind: u8, flags: u16, number: u64, len: u32, payload: &[u8]) -> BytesMut {
        let mut header = Header {
            magic: LINK_MAGIC,
            version,
            kind,
            flags,
            request_id: number,
            payload_len: len,
            checksum: 0,
        };
        header.checksum = header.compute_checksum(payload);
        let mut bytes = BytesMut::from(&header.to_bytes()[..]);
        bytes.extend_from_slice(payload);
        bytes
    }

    fn decode(mut bytes: BytesMut) -> Result<Option<LinkFrame>, LinkDecodeError> {
        LinkDecoder::new(LIMIT).decode(&mut bytes)
    }

    #[test]
    fn a_client_frame_is_refused_at_its_first_bytes() {
        assert_eq!(
            decode(BytesMut::from(&b"PB"[..])),
            Err(LinkDecodeError::BadMagic)
        );
        assert_eq!(decode(BytesMut::from(&b"P"[..])), Ok(None));
        assert_eq!(decode(BytesMut::new()), Ok(None));
    }

    #[test]
    fn header_fields_are_checked_before_the_payload_arrives() {
        let cases = [
            (
                raw(2, 3, 0, 0, 8, b""),
                LinkDecodeError::UnsupportedVersion { found: 2 },
            ),
            (
                raw(1, 0, 0, 0, 8, b""),
                LinkDecodeError::UnknownKind { kind: 0 },
            ),
            (
                raw(1, 8, 0, 0, 8, b""),
                LinkDecodeError::UnknownKind { kind: 8 },
            ),
            (
                raw(1, 3, 1, 0, 8, b""),
                LinkDecodeError::UnknownFlags {
                    kind: LinkFrameKind::Ack,
                    flags: 1,
                },
            ),
            (
                raw(1, 2, 0, 0, 8, b""),
                LinkDecodeError::BadNumber {
                    kind: LinkFrameKind::Data,
                    number: 0,
                },
            ),
            (
                raw(1, 3, 0, 4, 8, b""),
                LinkDecodeError::BadNumber {
                    kind: LinkFrameKind::Ack,
                    number: 4,
                },
            ),
        ];
        for (bytes, expected) in cases {
            assert_eq!(decode(bytes), Err(expected));
        }
        // Pings and pongs may carry any id.
        assert!(decode(raw(1, 4, 0, u64::MAX, 8, &[0; 8])).is_ok());
    }

    #[test]
    fn too_large_is_refused_from_the_header_without_reserving_room() {
        let mut bytes = raw(1, 2, 0, 1, u32::MAX, b"");
        let capacity = bytes.capacity();
        assert_eq!(
            LinkDecoder::new(LIMIT).decode(&mut bytes),
            Err(LinkDecodeError::TooLarge {
                len: u32::MAX,
                max: LIMIT
            })
        );
        assert_eq!(bytes.capacity(), capacity);
        let mut at_limit = raw(1, 2, 0, 1, LIMIT, b"");
        assert_eq!(LinkDecoder::new(LIMIT).decode(&mut at_limit), Ok(None));
        assert!(at_limit.capacity() >= HEADER_LEN + LIMIT as usize);
    }

    #[test]
    fn a_flipped_bit_fails_the_checksum_and_nothing_is_consumed() {
        let mut good = BytesMut::new();
        LinkFrame::Data {
            seq: Seq::new(1),
            ack: Seq::ZERO,
            payload: Bytes::from_static(b"payload"),
        }
        .encode(&mut good);
        for at in (6..14).chain(18..good.len()) {
            let mut bad = good.clone();
            bad[at] ^= 0x04;
            let len = bad.len();
            let result = LinkDecoder::new(LIMIT).decode(&mut bad);
            assert!(
                matches!(result, Err(LinkDecodeError::BadChecksum { .. })),
                "byte {at}: {result:?}"
            );
            assert_eq!(bad.len(), len);
        }
    }

    #[test]
    fn short_or_invalid_payloads_are_malformed() {
        let truncated = LinkDecodeError::Malformed {
            kind: LinkFrameKind::Ack,
            source: PayloadError::Truncated { field: "ack" },
        };
        assert_eq!(decode(raw(1, 3, 0, 0, 7, &[0; 7])), Err(truncated));
        let mut hello = vec![2, b'a', b' '];
        hello.extend_from_slice(&[1; 28]);
        let len = hello.len() as u32;
        assert_eq!(
            decode(raw(1, 1, 0, 0, len, &hello)),
            Err(LinkDecodeError::BadNodeName(InvalidNodeName::Character {
                byte: b' ',
                at: 1
            }))
        );
        let mut hello = vec![1, b'a'];
        hello.extend_from_slice(&[0; 28]);
        assert_eq!(
            decode(raw(1, 1, 0, 0, 30, &hello)),
            Err(LinkDecodeError::ZeroIncarnation)
        );
        let mut hello = vec![1, b'a', 1, 0, 0, 0, 0, 0, 0, 0];
        hello.extend_from_slice(&[0; 10]);
        assert_eq!(
            decode(raw(1, 1, 0, 0, 20, &hello)),
            Err(LinkDecodeError::Malformed {
                kind: LinkFrameKind::Hello,
                source: PayloadError::Truncated { field: "delivered" },
            })
        );
        assert!(matches!(
            decode(raw(1, 7, 0, 0, 1, &[5])),
            Err(LinkDecodeError::Malformed {
                kind: LinkFrameKind::Error,
                ..
            })
        ));
    }

    #[test]
    fn kinds_round_trip_through_their_wire_byte() {
        for kind in LinkFrameKind::ALL {
            assert_eq!(LinkFrameKind::from_u8(kind.as_u8()), Some(kind));
        }
        let bytes: Vec<u8> = LinkFrameKind::ALL.iter().map(|k| k.as_u8()).collect();
        assert_eq!(bytes, (1..=7).collect::<Vec<u8>>());
    }

    /// `frame` as a decoder that takes unchecked data frames would read it.
    fn decode_unchecked(mut bytes: BytesMut) -> Result<Option<LinkFrame>, LinkDecodeError> {
        LinkDecoder::new(LIMIT)
            .accepting_unchecked()
            .decode(&mut bytes)
    }

    /// A frame flagged unchecked with the checksum field `checksum`.
    fn unchecked(kind: u8, number: u64, payload: &[u8], checksum: u32) -> BytesMut {
        let header = Header {
            magic: LINK_MAGIC,
            version: LINK_VERSION,
            kind,
            flags: FLAG_UNCHECKED,
            request_id: number,
            payload_len: u32::try_from(payload.len()).unwrap(),
            checksum,
        };
        let mut bytes = BytesMut::from(&header.to_bytes()[..]);
        bytes.extend_from_slice(payload);
        bytes
    }

    #[test]
    fn unchecked_data_is_taken_only_by_a_decoder_that_accepts_it() {
        let payload = [3, 0, 0, 0, 0, 0, 0, 0, b'h', b'i'];
        let data = unchecked(LinkFrameKind::Data.as_u8(), 5, &payload, 0);
        assert_eq!(
            decode_unchecked(data.clone()),
            Ok(Some(LinkFrame::Data {
                seq: Seq::new(5),
                ack: Seq::new(3),
                payload: Bytes::from_static(b"hi"),
            }))
        );
        assert!(matches!(
            decode(data),
            Err(LinkDecodeError::UnknownFlags {
                flags: FLAG_UNCHECKED,
                ..
            })
        ));
        // The flag on any other kind, or with a checksum in the field, is refused.
        let ack = unchecked(LinkFrameKind::Ack.as_u8(), 0, &[0; 8], 0);
        assert!(matches!(
            decode_unchecked(ack),
            Err(LinkDecodeError::UnknownFlags { .. })
        ));
        let stray = unchecked(LinkFrameKind::Data.as_u8(), 5, &payload, 7);
        assert!(matches!(
            decode_unchecked(stray),
            Err(LinkDecodeError::BadChecksum { expected: 7, .. })
        ));
        // Checksummed frames still are checked.
        let mut flipped = raw(1, 2, 0, 5, 10, &payload);
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(matches!(
            decode_unchecked(flipped),
            Err(LinkDecodeError::BadChecksum { .. })
        ));
    }

    #[test]
    fn a_hello_says_whether_its_sender_takes_unchecked_data() {
        for unchecked in [false, true] {
            let hello = LinkFrame::Hello(LinkHello {
                node: NodeName::new("a").unwrap(),
                incarnation: Incarnation::new(9).unwrap(),
                known: None,
                delivered: Seq::ZERO,
                max_frame_len: LIMIT,
                unchecked,
            });
            let mut bytes = BytesMut::new();
            hello.encode(&mut bytes);
            assert_eq!(decode(bytes), Ok(Some(hello)));
        }
        // An older node's Hello ends before the options: it takes checksummed frames only.
        let mut old = vec![1, b'a', 9, 0, 0, 0, 0, 0, 0, 0];
        old.extend_from_slice(&[0; 16]);
        old.extend_from_slice(&LIMIT.to_le_bytes());
        let Ok(Some(LinkFrame::Hello(hello))) = decode(raw(1, 1, 0, 0, 30, &old)) else {
            panic!("an older Hello decodes");
        };
        assert!(!hello.unchecked);
    }
}

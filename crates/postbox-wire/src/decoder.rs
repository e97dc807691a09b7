//! Bytes in, frames out: the receiving half of the codec.

use bytes::{Buf, BytesMut};

use crate::header::Header;
use crate::{DecodeError, Frame, FrameConfig, FrameKind, HEADER_LEN, MAGIC};

/// Cuts frames out of a byte stream, checking every header field, the length limit and the
/// checksum.
///
/// It follows the contract of tokio-util's `Decoder`, so a driver can wrap it in one line: hand it
/// the receive buffer after every read; `Ok(Some(frame))` consumed one frame from the front,
/// `Ok(None)` means more bytes are needed (nothing was consumed), `Err` means the peer is corrupt.
///
/// **Untrusted input.** It never panics, whatever the bytes. It refuses a frame longer than
/// [`FrameConfig::max_frame_len`] from its header alone, before buffering or reserving room for
/// the payload, so a peer can never make the receiver hold more than the header plus the limit
/// for one frame. Payloads are cut out of the buffer without copying.
///
/// **After an error** the connection cannot be trusted: send an `Error` frame with
/// [`DecodeError::code`] if possible, then close. The decoder consumes nothing on error, so calling
/// it again returns the same error.
///
/// ```
/// use bytes::BytesMut;
/// use postbox_wire::{DecodeError, Frame, FrameConfig, FrameDecoder, FrameEncoder, RequestId};
///
/// let config = FrameConfig::HANDSHAKE;
/// let frame = Frame::request(RequestId::new(1).unwrap(), "ping");
/// let mut wire = BytesMut::new();
/// FrameEncoder::new(config).encode(&frame, &mut wire).unwrap();
///
/// // Bytes arrive in pieces: the decoder waits until a whole frame is there.
/// let mut decoder = FrameDecoder::new(config);
/// let mut received = BytesMut::new();
/// received.extend_from_slice(&wire[..10]);
/// assert_eq!(decoder.decode(&mut received), Ok(None));
/// received.extend_from_slice(&wire[10..]);
/// assert_eq!(decoder.decode(&mut received), Ok(Some(frame)));
/// assert!(received.is_empty());
///
/// // A flipped bit anywhere is caught.
/// let mut corrupted = BytesMut::from(&wire[..]);
/// corrupted[25] ^= 0x01;
/// assert!(matches!(decoder.decode(&mut corrupted), Err(DecodeError::BadChecksum { .. })));
/// ```
#[derive(Clone, Debug, Default)]
pub struct FrameDecoder {
    config: FrameConfig,
}

impl FrameDecoder {
    /// A decoder accepting frames of `config.version` with payloads up to `config.max_frame_len`.
    pub fn new(config: FrameConfig) -> FrameDecoder {
        FrameDecoder { config }
    }

    /// The version and limit in force.
    pub fn config(&self) -> FrameConfig {
        self.config
    }

    /// Changes the version and limit, as the handshake completes
    /// ([`Negotiated::frame_config`](crate::Negotiated::frame_config)). Applies from the next frame.
    pub fn set_config(&mut self, config: FrameConfig) {
        self.config = config;
    }

    /// Takes the first frame off the front of `src`, if a whole one is there.
    ///
    /// Returns `Ok(None)` when `src` holds no whole frame yet; it then consumes nothing, and when
    /// the header has arrived it reserves room in `src` for the rest of the frame (never more than
    /// [`HEADER_LEN`] plus the limit). Header fields are checked as soon as the header has arrived
    /// (the magic as soon as its first byte has), so a bad header is refused without waiting for
    /// its payload.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] when the bytes are not a valid frame under this decoder's
    /// configuration. Nothing is consumed.
    pub fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        let magic_seen = src.len().min(MAGIC.len());
        if src.get(..magic_seen) != MAGIC.get(..magic_seen) {
            return Err(DecodeError::BadMagic);
        }
        let Some((header_bytes, rest)) = src.split_first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let header = Header::from_bytes(header_bytes);
        let kind = self.check_header(&header)?;

        // `check_header` bounded the length by a u32 limit, so this only fails on targets whose
        // usize is narrower than 32 bits, where such a frame could not be held anyway.
        let Ok(payload_len) = usize::try_from(header.payload_len) else {
            return Err(DecodeError::TooLarge {
                len: header.payload_len,
                max: self.config.max_frame_len,
            });
        };
        let available = rest.len();
        let Some(payload) = rest.get(..payload_len) else {
            src.reserve(payload_len - available);
            return Ok(None);
        };
        let computed = header.compute_checksum(payload);
        if computed != header.checksum {
            return Err(DecodeError::BadChecksum {
                expected: header.checksum,
                computed,
            });
        }

        src.advance(HEADER_LEN);
        let payload = src.split_to(payload_len).freeze();
        Ok(Some(Frame::new(kind, header.request_id, payload)?))
    }

    /// Checks every header field except the checksum, which needs the payload.
    fn check_header(&self, header: &Header) -> Result<FrameKind, DecodeError> {
        if header.magic != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        if header.version != self.config.version.get() {
            return Err(DecodeError::UnsupportedVersion {
                found: header.version,
                expected: self.config.version,
            });
        }
        let kind = FrameKind::from_u8(header.kind)
            .ok_or(DecodeError::UnknownKind { kind: header.kind })?;
        if header.flags != 0 {
            return Err(DecodeError::UnknownFlags {
                kind,
                flags: header.flags,
            });
        }
        kind.check_request_id(header.request_id)?;
        if header.payload_len > self.config.max_frame_len {
            return Err(DecodeError::TooLarge {
                len: header.payload_len,
                max: self.config.max_frame_len,
            });
        }
        Ok(kind)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::{FrameEncoder, InvalidRequestId, RequestId, Version};

    const CONFIG: FrameConfig = FrameConfig {
        version: Version::V1,
        max_frame_len: 64,
    };

    fn encode(frame: &Frame) -> BytesMut {
        let mut wire = BytesMut::new();
        FrameEncoder::new(CONFIG).encode(frame, &mut wire).unwrap();
        wire
    }

    fn request(id: u64, payload: &'static [u8]) -> Frame {
        Frame::request(RequestId::new(id).unwrap(), payload)
    }

    /// A header with the given raw fields and a correct checksum over `payload`.
    fn raw(kind: u8, flags: u16, request_id: u64, len: u32, payload: &[u8]) -> BytesMut {
        let mut header = Header {
            magic: MAGIC,
            version: 1,
            kind,
            flags,
            request_id,
            payload_len: len,
            checksum: 0,
        };
        header.checksum = header.compute_checksum(payload);
        let mut wire = BytesMut::from(&header.to_bytes()[..]);
        wire.extend_from_slice(payload);
        wire
    }

    #[test]
    fn smoke() {
        let frame = request(7, b"hello");
        let mut wire = encode(&frame);
        assert_eq!(FrameDecoder::new(CONFIG).decode(&mut wire), Ok(Some(frame)));
        assert!(wire.is_empty());
    }

    #[test]
    fn waits_for_every_byte_and_consumes_nothing_meanwhile() {
        let frame = request(7, b"hello");
        let wire = encode(&frame);
        let mut decoder = FrameDecoder::new(CONFIG);
        for cut in 0..wire.len() {
            let mut partial = BytesMut::from(&wire[..cut]);
            assert_eq!(decoder.decode(&mut partial), Ok(None), "cut at {cut}");
            assert_eq!(partial.len(), cut);
        }
    }

    #[test]
    fn decodes_back_to_back_frames_one_at_a_time() {
        let frames = [request(1, b"a"), Frame::close(), request(2, b"")];
        let mut wire = BytesMut::new();
        for frame in &frames {
            wire.extend_from_slice(&encode(frame));
        }
        let mut decoder = FrameDecoder::new(CONFIG);
        for frame in frames {
            assert_eq!(decoder.decode(&mut wire), Ok(Some(frame)));
        }
        assert_eq!(decoder.decode(&mut wire), Ok(None));
    }

    #[test]
    fn bad_magic_is_caught_at_the_first_byte() {
        let mut decoder = FrameDecoder::new(CONFIG);
        assert_eq!(
            decoder.decode(&mut BytesMut::from(&b"G"[..])),
            Err(DecodeError::BadMagic)
        );
        assert_eq!(
            decoder.decode(&mut BytesMut::from(&b"PX"[..])),
            Err(DecodeError::BadMagic)
        );
        assert_eq!(decoder.decode(&mut BytesMut::from(&b"P"[..])), Ok(None));
        assert_eq!(decoder.decode(&mut BytesMut::new()), Ok(None));
    }

    #[test]
    fn a_version_other_than_the_configured_one_is_refused() {
        let mut wire = encode(&request(1, b"x"));
        wire[2] = 2;
        assert_eq!(
            FrameDecoder::new(CONFIG).decode(&mut wire),
            Err(DecodeError::UnsupportedVersion {
                found: 2,
                expected: Version::V1
            })
        );
    }

    #[test]
    fn unknown_kinds_flags_and_misplaced_request_ids_are_refused_before_the_payload() {
        let mut decoder = FrameDecoder::new(CONFIG);
        // Each header announces a payload that never arrives: the error comes from the header.
        let cases = [
            (raw(0, 0, 1, 10, b""), DecodeError::UnknownKind { kind: 0 }),
            (raw(9, 0, 1, 10, b""), DecodeError::UnknownKind { kind: 9 }),
            (
                raw(3, 0x8000, 1, 10, b""),
                DecodeError::UnknownFlags {
                    kind: FrameKind::Request,
                    flags: 0x8000,
                },
            ),
            (
                raw(3, 0, 0, 10, b""),
                DecodeError::InvalidRequestId(InvalidRequestId {
                    kind: FrameKind::Request,
                    request_id: 0,
                }),
            ),
            (
                raw(1, 0, 5, 10, b""),
                DecodeError::InvalidRequestId(InvalidRequestId {
                    kind: FrameKind::Hello,
                    request_id: 5,
                }),
            ),
        ];
        for (mut wire, expected) in cases {
            assert_eq!(decoder.decode(&mut wire), Err(expected));
        }
    }

    #[test]
    fn too_large_is_refused_from_the_header_without_reserving_room() {
        let mut decoder = FrameDecoder::new(CONFIG);
        let mut wire = raw(3, 0, 1, u32::MAX, b"");
        let capacity = wire.capacity();
        assert_eq!(
            decoder.decode(&mut wire),
            Err(DecodeError::TooLarge {
                len: u32::MAX,
                max: 64
            })
        );
        assert_eq!(wire.capacity(), capacity);
        assert_eq!(wire.len(), HEADER_LEN);
    }

    #[test]
    fn the_limit_itself_is_allowed_and_room_is_reserved_for_it() {
        let payload = [7u8; 64];
        let mut wire = raw(4, 0, 1, 64, &payload);
        let mut header_only = BytesMut::from(&wire[..HEADER_LEN]);
        let mut decoder = FrameDecoder::new(CONFIG);
        assert_eq!(decoder.decode(&mut header_only), Ok(None));
        assert!(header_only.capacity() >= HEADER_LEN + 64);
        let frame = decoder.decode(&mut wire).unwrap().unwrap();
        assert_eq!(frame.payload(), &Bytes::copy_from_slice(&payload));
    }

    #[test]
    fn a_corrupted_byte_fails_the_checksum_and_the_error_repeats() {
        let wire = encode(&request(0x0102_0304, b"payload"));
        let mut decoder = FrameDecoder::new(CONFIG);
        // Bytes the header checks do not interpret: the request id and the payload.
        for at in (6..14).chain(HEADER_LEN..wire.len()) {
            let mut corrupted = wire.clone();
            corrupted[at] ^= 0x40;
            let first = decoder.decode(&mut corrupted);
            assert!(
                matches!(first, Err(DecodeError::BadChecksum { .. })),
                "byte {at}: {first:?}"
            );
            assert_eq!(decoder.decode(&mut corrupted), first);
        }
    }

    #[test]
    fn a_changed_configuration_applies_to_the_next_frame() {
        let mut decoder = FrameDecoder::default();
        assert_eq!(decoder.config(), FrameConfig::HANDSHAKE);
        let big = Frame::request(RequestId::new(1).unwrap(), vec![0u8; 5000]);
        let mut wire = BytesMut::new();
        let session = FrameConfig {
            version: Version::V1,
            max_frame_len: 8192,
        };
        FrameEncoder::new(session).encode(&big, &mut wire).unwrap();
        assert!(matches!(
            decoder.clone().decode(&mut wire.clone()),
            Err(DecodeError::TooLarge { len: 5000, .. })
        ));
        decoder.set_config(session);
        assert_eq!(decoder.decode(&mut wire), Ok(Some(big)));
    }

    #[test]
    fn every_error_maps_to_an_error_code() {
        use crate::ErrorCode;
        assert_eq!(DecodeError::BadMagic.code(), ErrorCode::MALFORMED_FRAME);
        assert_eq!(
            DecodeError::TooLarge { len: 2, max: 1 }.code(),
            ErrorCode::FRAME_TOO_LARGE
        );
        assert_eq!(
            DecodeError::BadChecksum {
                expected: 0,
                computed: 1
            }
            .code(),
            ErrorCode::BAD_CHECKSUM
        );
        assert_eq!(
            DecodeError::UnsupportedVersion {
                found: 9,
                expected: Version::V1
            }
            .code(),
            ErrorCode::UNSUPPORTED_VERSION
        );
    }
}

//! Frames in, bytes out: the sending half of the codec.

use bytes::BytesMut;

use crate::header::Header;
use crate::{EncodeError, Frame, FrameConfig, FrameKind, HEADER_LEN, MAGIC, RequestId};

/// Writes frames as bytes: header, checksum, payload.
///
/// **Round trip.** Every frame it accepts, a [`FrameDecoder`](crate::FrameDecoder) with the same
/// [`FrameConfig`] decodes back unchanged, consuming exactly the bytes written, however the bytes
/// are split on the way. It refuses what the peer would refuse (a payload over the limit) rather
/// than write it, so a sender learns of the mistake locally instead of losing the connection.
///
/// ```
/// use bytes::BytesMut;
/// use postbox_wire::{EncodeError, Frame, FrameConfig, FrameEncoder, RequestId, HEADER_LEN};
///
/// let encoder = FrameEncoder::new(FrameConfig::HANDSHAKE);
/// let mut wire = BytesMut::new();
/// encoder.encode(&Frame::request(RequestId::new(1).unwrap(), "ping"), &mut wire).unwrap();
/// assert_eq!(wire.len(), HEADER_LEN + 4);
///
/// let huge = Frame::request(RequestId::new(2).unwrap(), vec![0u8; 5000]);
/// assert_eq!(
///     encoder.encode(&huge, &mut wire),
///     Err(EncodeError::TooLarge { len: 5000, max: 4096 })
/// );
/// assert_eq!(wire.len(), HEADER_LEN + 4); // nothing written
/// ```
#[derive(Clone, Debug, Default)]
pub struct FrameEncoder {
    config: FrameConfig,
}

impl FrameEncoder {
    /// An encoder writing `config.version` into every header and refusing payloads over
    /// `config.max_frame_len`.
    pub fn new(config: FrameConfig) -> FrameEncoder {
        FrameEncoder { config }
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

    /// Appends `frame` to `dst`, reserving room for all of it first.
    ///
    /// # Errors
    ///
    /// [`EncodeError::TooLarge`] if the payload is longer than the limit in force; `dst` is left
    /// untouched.
    pub fn encode(&self, frame: &Frame, dst: &mut BytesMut) -> Result<(), EncodeError> {
        let payload = frame.payload();
        let too_large = EncodeError::TooLarge {
            len: payload.len(),
            max: self.config.max_frame_len,
        };
        let payload_len = u32::try_from(payload.len()).map_err(|_| too_large)?;
        if payload_len > self.config.max_frame_len {
            return Err(too_large);
        }
        let mut header = Header {
            magic: MAGIC,
            version: self.config.version.get(),
            kind: frame.kind().as_u8(),
            flags: 0,
            request_id: frame.request_id().map_or(0, |id| id.get()),
            payload_len,
            checksum: 0,
        };
        header.checksum = header.compute_checksum(payload);
        dst.reserve(HEADER_LEN + payload.len());
        dst.extend_from_slice(&header.to_bytes());
        dst.extend_from_slice(payload);
        Ok(())
    }

    /// Encodes a frame of `kind` whose payload `write` appends straight to `dst`, after room for
    /// the header: the same bytes as [`FrameEncoder::encode`] of that payload, without encoding
    /// the payload apart and copying it (which, for a large message, is a copy of the message).
    ///
    /// # Errors
    ///
    /// [`EncodeError::TooLarge`] if the payload is over the configured limit; `dst` is then left
    /// as it was.
    pub fn encode_with(
        &self,
        kind: FrameKind,
        request_id: Option<RequestId>,
        dst: &mut BytesMut,
        write: impl FnOnce(&mut BytesMut),
    ) -> Result<(), EncodeError> {
        let start = dst.len();
        dst.extend_from_slice(&[0; HEADER_LEN]);
        write(dst);
        let payload = &dst[start + HEADER_LEN..];
        let too_large = EncodeError::TooLarge {
            len: payload.len(),
            max: self.config.max_frame_len,
        };
        let payload_len = match u32::try_from(payload.len()) {
            Ok(len) if len <= self.config.max_frame_len => len,
            _ => {
                dst.truncate(start);
                return Err(too_large);
            }
        };
        let mut header = Header {
            magic: MAGIC,
            version: self.config.version.get(),
            kind: kind.as_u8(),
            flags: 0,
            request_id: request_id.map_or(0, |id| id.get()),
            payload_len,
            checksum: 0,
        };
        header.checksum = header.compute_checksum(payload);
        dst[start..start + HEADER_LEN].copy_from_slice(&header.to_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FrameKind, RequestId, Version};

    /// Pins the format: if this changes, every deployed peer breaks. The checksum is CRC32C of
    /// bytes 0..18 followed by the payload, as computed by an independent implementation.
    #[test]
    fn a_request_is_laid_out_byte_for_byte_as_documented() {
        let frame = Frame::request(RequestId::new(0x0102).unwrap(), "hi");
        let mut wire = BytesMut::new();
        FrameEncoder::new(FrameConfig::HANDSHAKE)
            .encode(&frame, &mut wire)
            .unwrap();
        #[rustfmt::skip]
        let expected: [u8; 24] = [
            b'P', b'B',                                     // magic
            0x01,                                           // version 1
            0x03,                                           // kind: request
            0x00, 0x00,                                     // flags
            0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // request id 0x0102
            0x02, 0x00, 0x00, 0x00,                         // payload length 2
            0x81, 0x30, 0x28, 0x34,                         // CRC32C 0x34283081
            b'h', b'i',                                     // payload
        ];
        assert_eq!(&wire[..], &expected[..]);
    }

    #[test]
    fn a_payload_written_in_place_encodes_exactly_as_a_frame_of_it() {
        let encoder = FrameEncoder::new(FrameConfig::HANDSHAKE);
        let id = RequestId::new(7).unwrap();
        let mut apart = BytesMut::from(&b"before"[..]);
        encoder
            .encode(&Frame::response(id, &b"payload"[..]), &mut apart)
            .unwrap();
        let mut in_place = BytesMut::from(&b"before"[..]);
        encoder
            .encode_with(FrameKind::Response, Some(id), &mut in_place, |dst| {
                dst.extend_from_slice(b"payload");
            })
            .unwrap();
        assert_eq!(in_place, apart);
    }

    #[test]
    fn a_payload_written_in_place_over_the_limit_leaves_the_buffer_as_it_was() {
        let config = FrameConfig {
            version: Version::V1,
            max_frame_len: 4,
        };
        let mut wire = BytesMut::from(&b"kept"[..]);
        let result =
            FrameEncoder::new(config).encode_with(FrameKind::Request, None, &mut wire, |dst| {
                dst.extend_from_slice(b"too long");
            });
        assert_eq!(result, Err(EncodeError::TooLarge { len: 8, max: 4 }));
        assert_eq!(&wire[..], b"kept");
    }

    #[test]
    fn the_configured_version_goes_into_the_header() {
        let config = FrameConfig {
            version: Version::new(7).unwrap(),
            max_frame_len: 16,
        };
        let mut wire = BytesMut::new();
        FrameEncoder::new(config)
            .encode(&Frame::close(), &mut wire)
            .unwrap();
        assert_eq!(wire[2], 7);
        assert_eq!(wire[3], FrameKind::Close.as_u8());
        assert_eq!(wire.len(), HEADER_LEN);
    }

    #[test]
    fn a_payload_exactly_at_the_limit_is_written_one_over_is_not() {
        let config = FrameConfig {
            version: Version::V1,
            max_frame_len: 8,
        };
        let encoder = FrameEncoder::new(config);
        let id = RequestId::new(1).unwrap();
        let mut wire = BytesMut::from(&b"previous"[..]);
        encoder
            .encode(&Frame::request(id, vec![1u8; 8]), &mut wire)
            .unwrap();
        assert_eq!(wire.len(), 8 + HEADER_LEN + 8);
        assert_eq!(
            encoder.encode(&Frame::request(id, vec![1u8; 9]), &mut wire),
            Err(EncodeError::TooLarge { len: 9, max: 8 })
        );
        assert_eq!(wire.len(), 8 + HEADER_LEN + 8);
    }

    #[test]
    fn a_changed_configuration_applies_to_the_next_frame() {
        let mut encoder = FrameEncoder::default();
        assert_eq!(encoder.config(), FrameConfig::HANDSHAKE);
        let big = Frame::event(None, vec![0u8; 5000]);
        let mut wire = BytesMut::new();
        assert!(encoder.encode(&big, &mut wire).is_err());
        encoder.set_config(FrameConfig {
            version: Version::V1,
            max_frame_len: 5000,
        });
        assert!(encoder.encode(&big, &mut wire).is_ok());
    }
}

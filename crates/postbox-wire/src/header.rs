//! The fixed 22-byte header every frame starts with: its layout, in one place.
//!
//! This module only moves bytes in and out of the layout; what the fields may contain is checked by
//! the decoder and guaranteed by [`Frame`](crate::Frame)'s constructors.
//!
//! ```text
//! offset  size  field        encoding
//!      0     2  magic        b"PB"
//!      2     1  version      u8
//!      3     1  kind         u8
//!      4     2  flags        u16 little-endian
//!      6     8  request id   u64 little-endian
//!     14     4  payload len  u32 little-endian
//!     18     4  checksum     u32 little-endian, CRC32C of bytes 0..18 then the payload
//! ```

/// The length of the header; the payload starts right after it.
pub(crate) const HEADER_LEN: usize = 22;

/// The offset of the checksum, which covers every header byte before it.
const CHECKSUM_AT: usize = 18;

/// The header's fields, as raw wire values (not yet validated).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Header {
    pub(crate) magic: [u8; 2],
    pub(crate) version: u8,
    pub(crate) kind: u8,
    pub(crate) flags: u16,
    pub(crate) request_id: u64,
    pub(crate) payload_len: u32,
    pub(crate) checksum: u32,
}

impl Header {
    /// Splits header bytes into fields. Total: every byte pattern is a `Header`.
    pub(crate) fn from_bytes(bytes: &[u8; HEADER_LEN]) -> Header {
        let [
            m0,
            m1,
            version,
            kind,
            f0,
            f1,
            r0,
            r1,
            r2,
            r3,
            r4,
            r5,
            r6,
            r7,
            l0,
            l1,
            l2,
            l3,
            c0,
            c1,
            c2,
            c3,
        ] = *bytes;
        Header {
            magic: [m0, m1],
            version,
            kind,
            flags: u16::from_le_bytes([f0, f1]),
            request_id: u64::from_le_bytes([r0, r1, r2, r3, r4, r5, r6, r7]),
            payload_len: u32::from_le_bytes([l0, l1, l2, l3]),
            checksum: u32::from_le_bytes([c0, c1, c2, c3]),
        }
    }

    /// Lays the fields out as header bytes; the inverse of [`Header::from_bytes`].
    pub(crate) fn to_bytes(self) -> [u8; HEADER_LEN] {
        let [m0, m1] = self.magic;
        let [f0, f1] = self.flags.to_le_bytes();
        let [r0, r1, r2, r3, r4, r5, r6, r7] = self.request_id.to_le_bytes();
        let [l0, l1, l2, l3] = self.payload_len.to_le_bytes();
        let [c0, c1, c2, c3] = self.checksum.to_le_bytes();
        [
            m0,
            m1,
            self.version,
            self.kind,
            f0,
            f1,
            r0,
            r1,
            r2,
            r3,
            r4,
            r5,
            r6,
            r7,
            l0,
            l1,
            l2,
            l3,
            c0,
            c1,
            c2,
            c3,
        ]
    }

    /// The CRC32C this header's checksum field must hold for `payload`: it covers the header up to
    /// the checksum (so a corrupted kind, id or length is caught too) and then the payload.
    pub(crate) fn compute_checksum(self, payload: &[u8]) -> u32 {
        let bytes = self.to_bytes();
        let (covered, _checksum) = bytes.split_at(CHECKSUM_AT);
        crc32c::crc32c_append(crc32c::crc32c(covered), payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header {
            magic: *b"PB",
            version: 1,
            kind: 3,
            flags: 0x0201,
            request_id: 0x0807_0605_0403_0201,
            payload_len: 0x0d0c_0b0a,
            checksum: 0x1211_100f,
        }
    }

    #[test]
    fn fields_sit_at_their_documented_offsets_little_endian() {
        let bytes = sample().to_bytes();
        assert_eq!(
            bytes,
            [
                b'P', b'B', 1, 3, 0x01, 0x02, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x0a,
                0x0b, 0x0c, 0x0d, 0x0f, 0x10, 0x11, 0x12
            ]
        );
        assert_eq!(Header::from_bytes(&bytes), sample());
    }

    #[test]
    fn checksum_ignores_the_checksum_field_and_covers_everything_else() {
        let header = sample();
        let other_checksum = Header {
            checksum: 0,
            ..header
        };
        assert_eq!(
            header.compute_checksum(b"x"),
            other_checksum.compute_checksum(b"x")
        );
        let other_id = Header {
            request_id: 1,
            ..header
        };
        assert_ne!(
            header.compute_checksum(b"x"),
            other_id.compute_checksum(b"x")
        );
        assert_ne!(header.compute_checksum(b"x"), header.compute_checksum(b"y"));
    }

    #[test]
    fn checksum_is_crc32c_of_the_covered_bytes() {
        let header = sample();
        let mut covered = header.to_bytes()[..CHECKSUM_AT].to_vec();
        covered.extend_from_slice(b"payload");
        assert_eq!(
            header.compute_checksum(b"payload"),
            crc32c::crc32c(&covered)
        );
    }
}

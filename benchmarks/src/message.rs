//! The layout of every benchmark message: who sent it and its sequence number, at the front.
//!
//! Bytes 0..8 are the producer's index and bytes 8..16 the sequence number, both `u64`
//! little-endian; the rest of the message is padding to the case's size. A message whose producer
//! and sequence are both [`SENTINEL`] tells a competing consumer that the producer has finished.

use crate::check_error::CheckError;

/// How many bytes the header takes; every case's size is at least this.
pub const HEADER_LEN: usize = 16;

/// The producer index and sequence number of the end-of-stream marker of the competing-consumers
/// workload.
pub const SENTINEL: u64 = u64::MAX;

/// What the front of a message says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The index of the producer that sent it (0 for the pinger and the single producer).
    pub producer: u64,
    /// Its sequence number, counting from 0 per producer.
    pub seq: u64,
}

impl Header {
    /// The end-of-stream marker.
    pub const END: Header = Header {
        producer: SENTINEL,
        seq: SENTINEL,
    };

    /// Whether this is the end-of-stream marker.
    pub fn is_end(self) -> bool {
        self == Header::END
    }

    /// Writes this header at the front of `message`.
    ///
    /// # Panics
    ///
    /// If `message` is shorter than [`HEADER_LEN`] (a case's size never is).
    pub fn write(self, message: &mut [u8]) {
        message[..8].copy_from_slice(&self.producer.to_le_bytes());
        message[8..16].copy_from_slice(&self.seq.to_le_bytes());
    }

    /// Reads the header of a received `message`, which must be exactly `size` bytes long.
    ///
    /// # Errors
    ///
    /// [`CheckError::Length`] if the message is not `size` bytes (or too short for a header).
    pub fn read(message: &[u8], size: usize) -> Result<Header, CheckError> {
        if message.len() != size || message.len() < HEADER_LEN {
            return Err(CheckError::Length {
                got: message.len(),
                expected: size,
            });
        }
        let word = |range: std::ops::Range<usize>| {
            let mut bytes = [0; 8];
            bytes.copy_from_slice(&message[range]);
            u64::from_le_bytes(bytes)
        };
        Ok(Header {
            producer: word(0..8),
            seq: word(8..16),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_reads_back_as_written_little_endian() {
        let mut message = vec![0xAA; 64];
        Header {
            producer: 3,
            seq: 0x0102,
        }
        .write(&mut message);
        assert_eq!(&message[..9], &[3, 0, 0, 0, 0, 0, 0, 0, 2]);
        assert_eq!(message[16], 0xAA, "the padding is untouched");
        assert_eq!(
            Header::read(&message, 64),
            Ok(Header {
                producer: 3,
                seq: 0x0102
            })
        );
    }

    #[test]
    fn a_message_of_the_wrong_length_is_refused() {
        assert_eq!(
            Header::read(&[0; 63], 64),
            Err(CheckError::Length {
                got: 63,
                expected: 64
            })
        );
        assert!(Header::read(&[0; 8], 8).is_err(), "too short for a header");
    }

    #[test]
    fn the_end_marker_is_recognised() {
        let mut message = [0; 16];
        Header::END.write(&mut message);
        assert!(Header::read(&message, 16).is_ok_and(Header::is_end));
        assert!(
            !Header {
                producer: 0,
                seq: 0
            }
            .is_end()
        );
    }
}

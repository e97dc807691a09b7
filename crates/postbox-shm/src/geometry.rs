//! A ring's shape: how many slots, how many payload bytes each; and where every word lies.

use crate::error::GeometryError;

/// The largest number of slots a ring may have.
pub const MAX_CAPACITY: usize = 1 << 20;
/// The largest inline payload of a slot, in bytes.
pub const MAX_SLOT_PAYLOAD: usize = 1 << 20;
/// The largest ring, in bytes: a bound on what an attacher agrees to map.
pub const MAX_RING_BYTES: usize = 1 << 32;

/// Words of the ring header before the first slot (six cache lines).
pub(crate) const HEADER_WORDS: usize = 48;
/// Words of a slot before its payload: sequence, length and flags, mtype, sender, send time.
pub(crate) const SLOT_HEADER_WORDS: usize = 5;

// Word indices in the header (each group on its own 64-byte cache line).
pub(crate) const W_MAGIC: usize = 0;
pub(crate) const W_VERSION: usize = 1;
pub(crate) const W_CAPACITY: usize = 2;
pub(crate) const W_SLOT_PAYLOAD: usize = 3;
pub(crate) const W_MESSAGE_LIMIT: usize = 4;
pub(crate) const W_BYTE_LIMIT: usize = 5;
pub(crate) const W_TAIL: usize = 8;
pub(crate) const W_HEAD: usize = 16;
pub(crate) const W_LAST_RECEIVER: usize = 17;
pub(crate) const W_LAST_RECEIVED_AT: usize = 18;
pub(crate) const W_RECV_EVENT: usize = 24;
pub(crate) const W_RECV_WAITERS: usize = 25;
pub(crate) const W_SEND_EVENT: usize = 32;
pub(crate) const W_SEND_WAITERS: usize = 33;
pub(crate) const W_ABANDONED: usize = 40;
pub(crate) const W_QUEUED_BYTES: usize = 41;

// Word indices in a slot.
pub(crate) const S_SEQ: usize = 0;
pub(crate) const S_LEN: usize = 1;
pub(crate) const S_MTYPE: usize = 2;
pub(crate) const S_SENDER: usize = 3;
pub(crate) const S_SENT_AT: usize = 4;

/// `b"PBXRING1"` read as a little-endian word.
pub(crate) const MAGIC: u64 = u64::from_le_bytes(*b"PBXRING1");
/// The layout version this crate writes and accepts (2: bounds, send times, last receiver).
pub(crate) const VERSION: u64 = 2;

/// How many slots a ring has and how large an inline payload each holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    capacity: usize,
    slot_payload: usize,
}

impl Geometry {
    /// A ring of `capacity` slots (a power of two, 2..=[`MAX_CAPACITY`]), each holding up to
    /// `slot_payload` bytes (rounded up to a multiple of 8, 8..=[`MAX_SLOT_PAYLOAD`]).
    ///
    /// # Errors
    ///
    /// [`GeometryError`] when either number is out of its range or the ring would pass
    /// [`MAX_RING_BYTES`].
    pub fn new(capacity: usize, slot_payload: usize) -> Result<Self, GeometryError> {
        if !(2..=MAX_CAPACITY).contains(&capacity) || !capacity.is_power_of_two() {
            return Err(GeometryError::Capacity { capacity });
        }
        if !(1..=MAX_SLOT_PAYLOAD).contains(&slot_payload) {
            return Err(GeometryError::SlotPayload { slot_payload });
        }
        let geometry = Self {
            capacity,
            slot_payload: slot_payload.next_multiple_of(8),
        };
        if geometry.bytes() > MAX_RING_BYTES {
            return Err(GeometryError::TooLarge {
                bytes: geometry.bytes(),
            });
        }
        Ok(geometry)
    }

    /// The number of slots: at most this many messages are queued.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The largest payload a slot holds, in bytes.
    pub fn slot_payload(&self) -> usize {
        self.slot_payload
    }

    /// The bytes of memory the ring occupies (header and slots).
    pub fn bytes(&self) -> usize {
        // Cannot overflow: both factors are at most 2^20 and 2^17 + 5.
        (HEADER_WORDS + self.capacity * self.slot_words()) * 8
    }

    /// Words per slot, header included.
    pub(crate) fn slot_words(&self) -> usize {
        SLOT_HEADER_WORDS + self.slot_payload / 8
    }

    /// The index of word `word` of slot `slot`.
    pub(crate) fn slot_word(&self, slot: usize, word: usize) -> usize {
        HEADER_WORDS + slot * self.slot_words() + word
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_of_a_small_ring() {
        let geometry = Geometry::new(4, 20).unwrap();
        assert_eq!(geometry.slot_payload(), 24);
        assert_eq!(geometry.slot_words(), 8);
        assert_eq!(geometry.bytes(), (48 + 4 * 8) * 8);
        assert_eq!(geometry.slot_word(0, S_SEQ), 48);
        assert_eq!(geometry.slot_word(3, S_SENT_AT), 48 + 3 * 8 + 4);
        assert_eq!(MAGIC.to_le_bytes(), *b"PBXRING1");
    }

    #[test]
    fn the_largest_ring_fits_its_limit() {
        // Slots of 4 KiB (header included) would pass 4 GiB by the ring header.
        assert!(Geometry::new(MAX_CAPACITY, 4096 - 40).is_err());
        let geometry = Geometry::new(MAX_CAPACITY, 4096 - 48).unwrap();
        assert_eq!(geometry.bytes(), 48 * 8 + MAX_CAPACITY * 4088);
        assert!(geometry.bytes() <= MAX_RING_BYTES);
    }
}

//! The ring's errors, one type per operation. Shared memory is untrusted, so most operations can
//! answer [`Corruption`]: the peer that wrote the words broke the protocol, and that ring is no
//! longer usable (hand it back to the daemon).

use crate::message::Message;

/// An invalid [`Geometry`](crate::Geometry).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GeometryError {
    /// When the capacity is not a power of two in 2..=`MAX_CAPACITY`.
    #[error("ring capacity {capacity} is not a power of two from 2 to 1048576; choose one")]
    Capacity {
        /// The capacity asked for.
        capacity: usize,
    },
    /// When the slot payload is 0 or above `MAX_SLOT_PAYLOAD`.
    #[error("slot payload of {slot_payload} bytes is not from 1 to 1048576; choose one")]
    SlotPayload {
        /// The slot payload asked for.
        slot_payload: usize,
    },
    /// When the whole ring would pass `MAX_RING_BYTES`.
    #[error("a ring of {bytes} bytes is larger than 4 GiB; use fewer or smaller slots")]
    TooLarge {
        /// The ring's size.
        bytes: usize,
    },
}

/// Why [`Ring::create`](crate::Ring::create) failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CreateError {
    /// When the memory is smaller than [`Geometry::bytes`](crate::Geometry::bytes).
    #[error("cannot create a ring of {needed} bytes in {available} bytes of memory; give it more")]
    TooSmall {
        /// Bytes the ring needs.
        needed: usize,
        /// Bytes the memory has.
        available: usize,
    },
    /// When the bounds hold no message, or more messages than the ring has slots.
    #[error("cannot bound a ring of {capacity} slots to {messages} messages; give 1 to {capacity}")]
    Bounds {
        /// The message bound asked for.
        messages: u64,
        /// The ring's slots.
        capacity: usize,
    },
}

/// Why [`Ring::attach`](crate::Ring::attach) refused the memory. Everything in the header is
/// checked, since a peer wrote it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AttachError {
    /// When the memory is shorter than a ring header.
    #[error("cannot attach a ring: {available} bytes is shorter than a ring header")]
    TooShort {
        /// Bytes the memory has.
        available: usize,
    },
    /// When the header does not start with the ring's magic number.
    #[error("cannot attach a ring: magic number {found:#018x} is not a postbox ring's")]
    Magic {
        /// The word found.
        found: u64,
    },
    /// When the header's layout version is not this crate's.
    #[error("cannot attach a ring: layout version {found} is not the supported version 2")]
    Version {
        /// The version found.
        found: u64,
    },
    /// When the header's geometry is invalid.
    #[error("cannot attach a ring: its header is invalid: {0}")]
    Geometry(#[source] GeometryError),
    /// When the header's geometry needs more memory than there is.
    #[error("cannot attach a ring: its header says {needed} bytes but the memory has {available}")]
    TooSmall {
        /// Bytes the header's geometry needs.
        needed: usize,
        /// Bytes the memory has.
        available: usize,
    },
    /// When the header's message bound is 0 or more than the ring's slots.
    #[error("cannot attach a ring: its header bounds {capacity} slots to {messages} messages")]
    Bounds {
        /// The message bound found.
        messages: u64,
        /// The ring's slots.
        capacity: usize,
    },
}

/// What a peer broke in the shared words, found while operating on the ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Corruption {
    /// When the head and tail positions are impossible (head past tail, or more than the
    /// capacity apart).
    #[error("positions head {head} and tail {tail} are inconsistent")]
    Positions {
        /// The head position read.
        head: u64,
        /// The tail position read.
        tail: u64,
    },
    /// When a slot's sequence word is impossible for the position being operated on.
    #[error("slot sequence {seq} is impossible at position {pos}")]
    Sequence {
        /// The position.
        pos: u64,
        /// The sequence word read.
        seq: u64,
    },
    /// When a slot's length word is larger than a slot's payload.
    #[error("slot length {len} exceeds the slot payload of {max} bytes")]
    Length {
        /// The length read.
        len: u64,
        /// The slot payload.
        max: usize,
    },
    /// When positions kept moving under an operation for an implausible number of attempts.
    #[error("positions kept changing for {attempts} attempts")]
    NoProgress {
        /// The attempts made.
        attempts: u32,
    },
}

/// Why [`Ring::try_push`](crate::Ring::try_push) did not queue the message (the caller still
/// holds it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TryPushError {
    /// When every slot holds a message (or a message still being written or read).
    #[error("the ring is full; wait for room or try again later")]
    Full,
    /// When the payload is larger than a slot.
    #[error("payload of {len} bytes exceeds the ring's slot of {max} bytes; send it by segment")]
    TooLarge {
        /// The payload's length.
        len: usize,
        /// The slot payload.
        max: usize,
    },
    /// When the daemon has reclaimed the ring (before this message was committed).
    #[error("the ring was reclaimed by the daemon; send through the daemon")]
    Reclaimed,
    /// When a peer corrupted the ring.
    #[error("the ring is corrupt: {0}; hand it back to the daemon")]
    Corrupt(#[source] Corruption),
}

/// Why [`Ring::push`](crate::Ring::push) did not queue the message (the caller still holds it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// When the deadline passed with the ring still full.
    #[error("timed out waiting for room in the ring")]
    Timeout,
    /// When the payload is larger than a slot.
    #[error("payload of {len} bytes exceeds the ring's slot of {max} bytes; send it by segment")]
    TooLarge {
        /// The payload's length.
        len: usize,
        /// The slot payload.
        max: usize,
    },
    /// When the daemon has reclaimed the ring (before this message was committed).
    #[error("the ring was reclaimed by the daemon; send through the daemon")]
    Reclaimed,
    /// When a peer corrupted the ring.
    #[error("the ring is corrupt: {0}; hand it back to the daemon")]
    Corrupt(#[source] Corruption),
}

/// Why [`Ring::try_pop`](crate::Ring::try_pop) returned no message although it was not simply
/// empty.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TryPopError {
    /// When the oldest message is claimed but not committed: its writer is writing it now, or
    /// died while writing it. Retry shortly; if it persists, the daemon reclaims the ring.
    #[error("the oldest message is still being written (or its writer died); retry or reclaim")]
    Incomplete,
    /// When the daemon has reclaimed the ring.
    #[error("the ring was reclaimed by the daemon; receive through the daemon")]
    Reclaimed,
    /// When a peer corrupted the ring.
    #[error("the ring is corrupt: {0}; hand it back to the daemon")]
    Corrupt(#[source] Corruption),
}

/// Why [`Ring::pop`](crate::Ring::pop) returned no message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PopError {
    /// When the deadline passed with the ring empty.
    #[error("timed out waiting for a message in the ring")]
    Timeout,
    /// When the deadline passed with the oldest message still claimed but not committed: its
    /// writer is stuck or dead, and the daemon must reclaim the ring.
    #[error("the oldest message was never committed (its writer is stuck or dead); reclaim")]
    Stalled,
    /// When the daemon has reclaimed the ring.
    #[error("the ring was reclaimed by the daemon; receive through the daemon")]
    Reclaimed,
    /// When a peer corrupted the ring.
    #[error("the ring is corrupt: {0}; hand it back to the daemon")]
    Corrupt(#[source] Corruption),
}

/// Why [`Ring::reclaim`](crate::Ring::reclaim) could not recover the whole queue.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReclaimError {
    /// When a peer corrupted the ring: `recovered` holds the complete messages found in order
    /// before the corruption; the rest of the queue is lost.
    #[error("reclaimed {} messages, then found the ring corrupt: {corruption}", recovered.len())]
    Corrupt {
        /// What was broken.
        corruption: Corruption,
        /// The complete messages recovered before it.
        recovered: Vec<Message>,
    },
}

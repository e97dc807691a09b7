//! What a slot carries: payload bytes and the words the mailbox needs beside them.

/// The words travelling with a payload: who sent it, when, its type and priority.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Meta {
    /// The sender's pid, as the daemon numbered it (the daemon, not the ring, vouches for it).
    pub sender: u64,
    /// The message type (`mtype`, ≥ 1 for the mailbox; the ring carries any value).
    pub mtype: i64,
    /// The message priority.
    pub priority: u16,
    /// When it was sent, as the sender's clock tells it (the mailbox's statistics and the
    /// receiver's `sent_at`; the ring carries any value).
    pub sent_at: u64,
}

/// A message taken from a ring.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Message {
    /// The payload bytes.
    pub payload: Vec<u8>,
    /// Sender, send time, type and priority.
    pub meta: Meta,
    /// Its position in the ring: how many slots were claimed before it (so the daemon numbers
    /// delegated messages from the ring's order, and a reclaimed queue keeps its numbers).
    pub pos: u64,
}

/// How much a ring may hold at once, below its slots: a mailbox's bounds exactly, where the
/// ring's capacity is a power of two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// Messages queued at most: 1 ..= the ring's capacity.
    pub messages: u64,
    /// Payload bytes queued at most.
    pub bytes: u64,
}

/// The last receive from a ring, as its receivers report it ([`Ring::note_receipt`]).
///
/// [`Ring::note_receipt`]: crate::Ring::note_receipt
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Receipt {
    /// The receiver's pid.
    pub receiver: u64,
    /// When it received, as its clock tells it.
    pub at: u64,
}

/// What [`Ring::try_pop_into`](crate::Ring::try_pop_into) took besides the payload: the
/// message's words and its position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Taken {
    /// Sender, send time, type and priority.
    pub meta: Meta,
    /// Its position in the ring (see [`Message::pos`]).
    pub pos: u64,
}

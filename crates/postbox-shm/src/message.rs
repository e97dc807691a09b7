//! What a slot carries: payload bytes and the words the mailbox needs beside them.

/// The words travelling with a payload: who sent it, its type and priority.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Meta {
    /// The sender's pid, as the daemon numbered it (the daemon, not the ring, vouches for it).
    pub sender: u64,
    /// The message type (`mtype`, ≥ 1 for the mailbox; the ring carries any value).
    pub mtype: i64,
    /// The message priority.
    pub priority: u16,
}

/// A message taken from a ring.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Message {
    /// The payload bytes.
    pub payload: Vec<u8>,
    /// Sender, type and priority.
    pub meta: Meta,
}

//! Engine-wide limits: what keeps one careless or hostile process from exhausting the host.

/// Engine-wide limits. Every one is reported as a clear error when reached, never a crash.
///
/// **The accounting rule** for held messages: every message the engine holds — queued in a
/// mailbox or an inbox (down notifications included), or held by a sender waiting for room or
/// for a rendezvous — is charged its payload length plus [`MESSAGE_CHARGE`] bytes, and the sum of
/// the charges (plus the byte capacities, with their messages' charges, lent to in-process lanes)
/// never passes [`Limits::max_queued_bytes`]. So a flood of empty messages is bounded as surely
/// as a flood of large ones.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Limits {
    /// The largest payload any mailbox or inbox accepts, in bytes.
    pub max_message_size: usize,
    /// How many messages a process's inbox holds before direct senders wait.
    pub inbox_capacity: usize,
    /// What the messages the engine holds may be charged in all (each its payload plus
    /// [`MESSAGE_CHARGE`], see the accounting rule above); a send that would pass it fails with
    /// `QuotaExceeded`. This is what keeps unbounded mailboxes, and waiting senders, from taking
    /// unbounded memory.
    pub max_queued_bytes: usize,
    /// How many mailboxes one uid may have created and not yet deleted.
    pub max_mailboxes_per_uid: usize,
}

impl Default for Limits {
    /// 8 MiB messages, 1024-message inboxes, 256 MiB queued, 1024 mailboxes per uid.
    fn default() -> Limits {
        Limits {
            max_message_size: 8 << 20,
            inbox_capacity: 1024,
            max_queued_bytes: 256 << 20,
            max_mailboxes_per_uid: 1024,
        }
    }
}

/// What each message the engine holds is charged against [`Limits::max_queued_bytes`] beyond its
/// payload: the engine's own bookkeeping for it (its queue node, about 170 bytes, and its share of
/// the allocators' slack), so that an empty message is not free.
pub const MESSAGE_CHARGE: usize = 256;

/// The charge of a message of `payload_len` bytes: its payload plus [`MESSAGE_CHARGE`].
pub const fn message_charge(payload_len: usize) -> usize {
    payload_len.saturating_add(MESSAGE_CHARGE)
}

/// How many producers (idempotent senders) one mailbox remembers; beyond, the least recently
/// used is forgotten, and its next send is accepted whatever its number.
///
/// Each costs about 80 bytes in memory (and a row in the store for a durable mailbox); 1024
/// covers every producer of a busy mailbox while bounding what a flood of fresh ids can take.
pub const MAX_PRODUCERS_PER_MAILBOX: usize = 1024;

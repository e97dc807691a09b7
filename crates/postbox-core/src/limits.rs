//! Engine-wide limits: what keeps one careless or hostile process from exhausting the host.

/// Engine-wide limits. Every one is reported as a clear error when reached, never a crash.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Limits {
    /// The largest payload any mailbox or inbox accepts, in bytes.
    pub max_message_size: usize,
    /// How many messages a process's inbox holds before direct senders wait.
    pub inbox_capacity: usize,
    /// Payload bytes queued across all mailboxes and inboxes; beyond it sends fail with
    /// `QuotaExceeded`. This is what keeps unbounded mailboxes from taking unbounded memory.
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

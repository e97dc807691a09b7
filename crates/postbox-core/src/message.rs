//! Messages: what a sender hands over and what a receiver gets.

use bytes::Bytes;

use crate::{CallId, Pid, Timestamp};

/// A message to send: payload bytes plus a System V type and a POSIX priority.
///
/// The payload is [`Bytes`], so a message moves through queues without being copied.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Message {
    /// The payload.
    pub payload: Bytes,
    /// The message type used by typed selective receive; must be at least 1 (default 1).
    pub mtype: i64,
    /// The priority used by priority-ordered mailboxes, highest first (default 0).
    pub priority: u16,
}

impl Message {
    /// A message with the default type (1) and priority (0).
    pub fn new(payload: impl Into<Bytes>) -> Message {
        Message {
            payload: payload.into(),
            mtype: 1,
            priority: 0,
        }
    }

    /// The same message with type `mtype`; sending a type below 1 fails with `InvalidType`.
    #[must_use]
    pub fn with_type(mut self, mtype: i64) -> Message {
        self.mtype = mtype;
        self
    }

    /// The same message with priority `priority`.
    #[must_use]
    pub fn with_priority(mut self, priority: u16) -> Message {
        self.priority = priority;
        self
    }

    /// The payload length in bytes.
    pub fn len(&self) -> usize {
        self.payload.len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }
}

impl From<Bytes> for Message {
    fn from(payload: Bytes) -> Message {
        Message::new(payload)
    }
}

impl From<Vec<u8>> for Message {
    fn from(payload: Vec<u8>) -> Message {
        Message::new(payload)
    }
}

impl From<&'static [u8]> for Message {
    fn from(payload: &'static [u8]) -> Message {
        Message::new(payload)
    }
}

impl<const N: usize> From<&'static [u8; N]> for Message {
    fn from(payload: &'static [u8; N]) -> Message {
        Message::new(&payload[..])
    }
}

impl From<&'static str> for Message {
    fn from(payload: &'static str) -> Message {
        Message::new(payload)
    }
}

impl From<String> for Message {
    fn from(payload: String) -> Message {
        Message::new(payload)
    }
}

/// What kind of message a receiver got.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum MessageKind {
    /// A message some process sent.
    User,
    /// A *down* notification: the process in [`Received::sender`] has terminated. Delivered to the
    /// inbox of every process that monitored it, after every message that process sent.
    Down,
    /// A request: the sender waits in a call for the answer. The process that received it holds
    /// the one-shot right to answer it (`reply` or `fail`, naming this call).
    Request(CallId),
}

/// A received message, with what the engine recorded about it.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Received {
    /// The message as sent.
    pub message: Message,
    /// The sending process (for a down notification, the process that terminated).
    pub sender: Pid,
    /// The mailbox's sequence number for this message: increasing in the order messages were accepted.
    pub seq: u64,
    /// When the message was sent.
    pub sent_at: Timestamp,
    /// A user message or a down notification.
    pub kind: MessageKind,
    /// Which delivery of the message this is: 1 the first time it is handed out, `n` when
    /// `n - 1` leases of it ended without an acknowledgement (returned, expired, or their
    /// holder gone). With [`seq`](Self::seq) it names one lease, so that settling an old attempt
    /// can never settle a newer one.
    pub attempt: u32,
}

impl Received {
    /// The payload.
    pub fn payload(&self) -> &Bytes {
        &self.message.payload
    }

    /// The message type.
    pub fn mtype(&self) -> i64 {
        self.message.mtype
    }

    /// The priority.
    pub fn priority(&self) -> u16 {
        self.message.priority
    }

    /// Whether this is a down notification rather than a message.
    pub fn is_down(&self) -> bool {
        self.kind == MessageKind::Down
    }

    /// The call this message is the request of, if it is one: what the receiver names to answer
    /// it.
    pub fn call(&self) -> Option<CallId> {
        match self.kind {
            MessageKind::Request(call) => Some(call),
            MessageKind::User | MessageKind::Down => None,
        }
    }
}

//! Errors: one type per operation, sharing one vocabulary across every transport.
//!
//! `Disconnected`, `Timeout` and `Protocol` are never produced by the engine itself: drivers
//! produce them (a lost transport, an expired deadline, a peer that sent garbage). They live here
//! so that a user cannot tell transports apart by their errors.

use std::fmt;

use bytes::Bytes;

use crate::Message;

/// Why a send failed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum SendErrorKind {
    /// The destination process never existed.
    #[error("no such process")]
    NotFound,
    /// The mailbox's mode does not let this process send, or the process has no right to it.
    #[error("permission denied")]
    PermissionDenied,
    /// The mailbox or inbox is full (or, with zero capacity, no receiver is waiting) and the send
    /// was not allowed to wait.
    #[error("mailbox is full")]
    Full,
    /// The deadline passed before the send completed; the message was not delivered.
    #[error("timed out")]
    Timeout,
    /// The payload is larger than the mailbox's size rule, byte capacity or the engine's maximum.
    #[error("message too large")]
    TooLarge,
    /// The payload is not exactly the size a fixed-size mailbox requires.
    #[error("message has the wrong size for this fixed-size mailbox")]
    WrongSize,
    /// The message type is below 1.
    #[error("message type must be at least 1")]
    InvalidType,
    /// The mailbox was deleted (before or while the send waited).
    #[error("mailbox is gone")]
    Gone,
    /// The destination process (or the other end of a pair) has terminated.
    #[error("peer process is gone")]
    PeerGone,
    /// A pair mailbox already has its sending end held by another process.
    #[error("mailbox is busy: another process holds the right")]
    Busy,
    /// Queuing the message would pass the engine-wide limit on queued bytes.
    #[error("queued-bytes quota exceeded")]
    QuotaExceeded,
    /// A drop-oldest mailbox discarded the message before any receiver took it (receipts only).
    #[error("message was dropped by drop-oldest overflow before it was received")]
    Dropped,
    /// The calling process has terminated, or its transport was lost.
    #[error("disconnected")]
    Disconnected,
    /// The peer broke the protocol, or refused the request outright (over one of its limits,
    /// say): then [`SendError::reason`] says why.
    #[error("protocol error")]
    Protocol,
}

/// A failed send: why, and the message handed back whenever it was not consumed.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SendError {
    kind: SendErrorKind,
    message: Option<Message>,
    /// Why the daemon refused the request, when it did (never sent over the wire: a refusal
    /// is its own frame).
    #[cfg_attr(feature = "serde", serde(skip))]
    reason: Option<String>,
}

impl SendError {
    /// A failure that hands `message` back.
    pub fn new(kind: SendErrorKind, message: Message) -> SendError {
        SendError {
            kind,
            message: Some(message),
            reason: None,
        }
    }

    /// A failure after which the message is no longer available: lost with the transport
    /// (`Disconnected`), or a broken peer (`Protocol`).
    pub fn without_message(kind: SendErrorKind) -> SendError {
        SendError {
            kind,
            message: None,
            reason: None,
        }
    }

    /// The daemon (or a node it forwarded to) refused the request, saying `reason`: a
    /// [`SendErrorKind::Protocol`] failure that says why.
    pub fn refused(reason: impl Into<String>) -> SendError {
        SendError {
            kind: SendErrorKind::Protocol,
            message: None,
            reason: Some(reason.into()),
        }
    }

    /// Why the request was refused, when it was ([`SendError::refused`]).
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// Why the send failed.
    pub fn kind(&self) -> SendErrorKind {
        self.kind
    }

    /// The message, handed back; `None` only when it was lost with the transport.
    pub fn into_message(self) -> Option<Message> {
        self.message
    }

    /// The message, by reference.
    pub fn message(&self) -> Option<&Message> {
        self.message.as_ref()
    }

    /// The message, to change in place (a transport moving its payload beside the frame that
    /// hands it back, and putting it back on arrival).
    pub fn message_mut(&mut self) -> Option<&mut Message> {
        self.message.as_mut()
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            Some(reason) => write!(f, "send failed: the request was refused: {reason}"),
            None => write!(f, "send failed: {}", self.kind),
        }
    }
}

impl std::error::Error for SendError {}

/// Why a receive failed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum RecvError {
    /// The mailbox's mode or receive rights do not let this process receive.
    #[error("permission denied")]
    PermissionDenied,
    /// Nothing matching was queued and the receive was not allowed to wait.
    #[error("mailbox is empty")]
    Empty,
    /// The deadline passed before a matching message arrived.
    #[error("timed out")]
    Timeout,
    /// The mailbox was deleted (before or while the receive waited).
    #[error("mailbox is gone")]
    Gone,
    /// The awaited sender (`From(pid)`, or the other end of a pair) has terminated and none of its
    /// messages remain.
    #[error("peer process is gone")]
    PeerGone,
    /// Another process holds the receive right of this exclusive or pair mailbox.
    #[error("mailbox is busy: another process holds the receive right")]
    Busy,
    /// The calling process has terminated, or its transport was lost.
    #[error("disconnected")]
    Disconnected,
    /// The peer broke the protocol.
    #[error("protocol error")]
    Protocol,
    /// An acknowledgement came too late: the lease had already ended (its lease time was up),
    /// so the message went back and may be delivered again.
    #[error("lease ended before the acknowledgement: the message may be delivered again")]
    LeaseEnded,
}

/// Why `create`, `open` or `open_or_create` failed.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum OpenError {
    /// `open`: no mailbox has this name.
    #[error("no such mailbox")]
    NotFound,
    /// `create`: a mailbox with this name exists.
    #[error("mailbox already exists")]
    AlreadyExists,
    /// `open`: the mailbox's mode allows this process neither to send nor to receive.
    #[error("permission denied")]
    PermissionDenied,
    /// The name breaks the naming rule.
    #[error("invalid name: names are 1 to 255 bytes of letters, digits and . _ / -")]
    InvalidName,
    /// `create`: the attributes contradict each other or the engine's limits; says which.
    #[error("invalid attributes: {0}")]
    InvalidAttributes(String),
    /// `create`: this uid already has as many mailboxes as it may.
    #[error("mailbox quota exceeded for this user")]
    QuotaExceeded,
    /// The calling process has terminated, or its transport was lost.
    #[error("disconnected")]
    Disconnected,
    /// The peer broke the protocol.
    #[error("protocol error")]
    Protocol,
    /// The daemon (or a node it forwarded to) refused the request outright, saying why: over
    /// one of its limits, or naming mailboxes of two nodes at once. Never the engine's answer.
    #[error("the request was refused: {0}")]
    Refused(String),
}

/// Why an administrative operation failed: `delete`, `set`, `set_owner`, `grant_receive`,
/// `revoke_receive`, `register`, `monitor`, `stat`.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum AdminError {
    /// No such process (never existed) or mailbox name.
    #[error("not found")]
    NotFound,
    /// Only the owner (or uid 0) may do this.
    #[error("permission denied")]
    PermissionDenied,
    /// The mailbox was deleted.
    #[error("mailbox is gone")]
    Gone,
    /// The process named as the new owner or grantee has terminated.
    #[error("peer process is gone")]
    PeerGone,
    /// `register`: the name is taken, or this process already has one.
    #[error("already exists")]
    AlreadyExists,
    /// `register`: the name breaks the naming rule.
    #[error("invalid name: names are 1 to 255 bytes of letters, digits and . _ / -")]
    InvalidName,
    /// The request does not apply to this mailbox; says why.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The calling process has terminated, or its transport was lost.
    #[error("disconnected")]
    Disconnected,
    /// The peer broke the protocol.
    #[error("protocol error")]
    Protocol,
    /// The daemon (or a node it forwarded to) refused the request outright, saying why: over
    /// one of its limits, say. Never the engine's answer.
    #[error("the request was refused: {0}")]
    Refused(String),
}

/// A failed select (or receive): which branch failed, and why.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error("receive on branch {branch} failed: {error}")]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SelectError {
    /// The index of the failing branch, in the order they were given (0 for a plain receive).
    pub branch: usize,
    /// Why it failed.
    pub error: RecvError,
}

/// Why a call failed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum CallErrorKind {
    /// The called process never existed.
    #[error("no such process")]
    NotFound,
    /// The mailbox's mode does not let this process send, or it does not have it open.
    #[error("permission denied")]
    PermissionDenied,
    /// The request could not be queued at once and the call was not allowed to wait for room.
    #[error("mailbox is full")]
    Full,
    /// The deadline passed before the answer came: before the request was taken it is handed
    /// back; after, the server's reply right is revoked and its late answer dropped.
    #[error("timed out")]
    Timeout,
    /// The request is larger than the mailbox's size rule, byte capacity or the engine's maximum.
    #[error("request too large")]
    TooLarge,
    /// The request is not exactly the size a fixed-size mailbox requires.
    #[error("request has the wrong size for this fixed-size mailbox")]
    WrongSize,
    /// The request's message type is below 1.
    #[error("message type must be at least 1")]
    InvalidType,
    /// The mailbox was deleted before anyone took the request.
    #[error("mailbox is gone")]
    Gone,
    /// The called process terminated (before or while the call waited), or the process that
    /// had taken the request terminated without answering.
    #[error("peer process is gone")]
    PeerGone,
    /// A pair mailbox already has its sending end held by another process.
    #[error("mailbox is busy: another process holds the right")]
    Busy,
    /// Queuing the request would pass the engine-wide limit on queued bytes.
    #[error("queued-bytes quota exceeded")]
    QuotaExceeded,
    /// The request was discarded before anyone took it: by a purge, or by drop-oldest overflow.
    #[error("request was dropped before it was received")]
    Dropped,
    /// No process but the caller holds a right to receive from the mailbox: nobody could answer.
    #[error("no responders: no process may receive from this mailbox")]
    NoResponders,
    /// The server answered with a failure; its bytes are in [`CallError::failure`].
    #[error("the server failed the request")]
    Failed,
    /// The calling process has terminated, or its transport was lost.
    #[error("disconnected")]
    Disconnected,
    /// The peer broke the protocol, or refused the request outright (over one of its limits,
    /// say): then [`CallError::reason`] says why.
    #[error("protocol error")]
    Protocol,
}

impl From<SendErrorKind> for CallErrorKind {
    fn from(kind: SendErrorKind) -> CallErrorKind {
        match kind {
            SendErrorKind::NotFound => CallErrorKind::NotFound,
            SendErrorKind::PermissionDenied => CallErrorKind::PermissionDenied,
            SendErrorKind::Full => CallErrorKind::Full,
            SendErrorKind::Timeout => CallErrorKind::Timeout,
            SendErrorKind::TooLarge => CallErrorKind::TooLarge,
            SendErrorKind::WrongSize => CallErrorKind::WrongSize,
            SendErrorKind::InvalidType => CallErrorKind::InvalidType,
            SendErrorKind::Gone => CallErrorKind::Gone,
            SendErrorKind::PeerGone => CallErrorKind::PeerGone,
            SendErrorKind::Busy => CallErrorKind::Busy,
            SendErrorKind::QuotaExceeded => CallErrorKind::QuotaExceeded,
            SendErrorKind::Dropped => CallErrorKind::Dropped,
            SendErrorKind::Disconnected => CallErrorKind::Disconnected,
            SendErrorKind::Protocol => CallErrorKind::Protocol,
        }
    }
}

/// A failed call: why, the request handed back whenever no server took it, and for
/// [`CallErrorKind::Failed`] what the server said.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CallError {
    kind: CallErrorKind,
    request: Option<Message>,
    failure: Option<Bytes>,
    /// Why the daemon refused the request, when it did (never sent over the wire: a refusal
    /// is its own frame).
    #[cfg_attr(feature = "serde", serde(skip))]
    reason: Option<String>,
}

impl CallError {
    /// A failure before any server took the request, which comes back.
    pub fn new(kind: CallErrorKind, request: Message) -> CallError {
        CallError {
            kind,
            request: Some(request),
            failure: None,
            reason: None,
        }
    }

    /// A failure after a server took the request (or with the transport lost): nothing to hand
    /// back.
    pub fn without_message(kind: CallErrorKind) -> CallError {
        CallError {
            kind,
            request: None,
            failure: None,
            reason: None,
        }
    }

    /// The daemon (or a node it forwarded to) refused the request, saying `reason`: a
    /// [`CallErrorKind::Protocol`] failure that says why.
    pub fn refused(reason: impl Into<String>) -> CallError {
        CallError {
            kind: CallErrorKind::Protocol,
            request: None,
            failure: None,
            reason: Some(reason.into()),
        }
    }

    /// Why the request was refused, when it was ([`CallError::refused`]).
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// The server's failed answer, carrying its bytes.
    pub fn failed(failure: impl Into<Bytes>) -> CallError {
        CallError {
            kind: CallErrorKind::Failed,
            request: None,
            failure: Some(failure.into()),
            reason: None,
        }
    }

    /// Why the call failed.
    pub fn kind(&self) -> CallErrorKind {
        self.kind
    }

    /// The request, handed back: `Some` only when no server took it.
    pub fn into_message(self) -> Option<Message> {
        self.request
    }

    /// The request, by reference.
    pub fn message(&self) -> Option<&Message> {
        self.request.as_ref()
    }

    /// The request, to change in place (a transport moving its payload beside the frame that
    /// hands it back, and putting it back on arrival).
    pub fn message_mut(&mut self) -> Option<&mut Message> {
        self.request.as_mut()
    }

    /// What the server said when it failed the request ([`CallErrorKind::Failed`] only).
    pub fn failure(&self) -> Option<&Bytes> {
        self.failure.as_ref()
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(reason) = &self.reason {
            return write!(f, "call failed: the request was refused: {reason}");
        }
        write!(f, "call failed: {}", self.kind)?;
        if let Some(failure) = &self.failure {
            write!(f, ": {}", String::from_utf8_lossy(failure))?;
        }
        Ok(())
    }
}

impl std::error::Error for CallError {}

/// Why an answer (`reply` or `fail`) was refused.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ReplyError {
    /// This process holds no reply right for the call: it never received the request (another
    /// process did, or it was only peeked at), or it has answered it already.
    #[error("no reply right: this process did not receive the request, or answered it already")]
    NoRight,
    /// The caller stopped waiting (timeout, cancel, termination) and the right was revoked: the
    /// answer was dropped, and counted in the late replies of the node's statistics.
    #[error("the caller stopped waiting: the reply was dropped")]
    Revoked,
    /// The answer is larger than the engine's maximum message size; the right is kept, so a
    /// smaller answer or a failure may follow.
    #[error("reply too large")]
    TooLarge,
    /// The answer's message type is below 1; the right is kept.
    #[error("message type must be at least 1")]
    InvalidType,
    /// The answering process has terminated, or its transport was lost.
    #[error("disconnected")]
    Disconnected,
    /// The peer broke the protocol.
    #[error("protocol error")]
    Protocol,
}

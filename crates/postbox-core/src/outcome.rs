//! What engine operations return: immediate results, tickets for blocked operations, and the
//! completions that later events produce for those tickets.

use bytes::Bytes;

use crate::{
    CallError, MailboxId, Message, Pid, Received, SelectError, Selector, SendError, Ticket,
};

/// Whether an operation may wait.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Wait {
    /// Fail at once (`Full`, `Empty`) rather than wait.
    Try,
    /// Become a waiter (a [`Ticket`]) when the operation cannot complete now. The driver decides
    /// how long to wait and cancels the ticket when its deadline passes.
    Block,
}

/// When a send counts as done.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Delivery {
    /// Once the message is queued (for zero capacity: once a receiver took it).
    Queued,
    /// Once a receiver took the message; the send then reports that receiver's pid.
    Receipt,
}

/// The result of a send that did not fail.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SendOutcome {
    /// Done. `receiver` is the receiving process when it is already known: always for
    /// [`Delivery::Receipt`] and zero-capacity mailboxes, never for plain queued sends.
    Sent {
        /// Who took the message, if known.
        receiver: Option<Pid>,
    },
    /// The send waits; its [`Completion`] comes later under this ticket.
    Blocked(Ticket),
}

/// The result of a receive or select that did not fail.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum RecvOutcome {
    /// A message, taken from the branch with this index.
    Received {
        /// Which branch (0 for a plain receive).
        branch: usize,
        /// The message.
        message: Received,
    },
    /// The receive waits; its [`Completion`] comes later under this ticket.
    Blocked(Ticket),
}

/// How a blocked operation ended.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Completion {
    /// A blocked send completed.
    Sent {
        /// Who took the message, if known (see [`SendOutcome::Sent`]).
        receiver: Option<Pid>,
    },
    /// A blocked send failed (its mailbox was deleted, its peer terminated, ...).
    SendFailed(SendError),
    /// A blocked receive got a message.
    Received {
        /// Which branch it came from.
        branch: usize,
        /// The message.
        message: Received,
    },
    /// A blocked receive failed.
    RecvFailed(SelectError),
    /// A call got its answer.
    Replied(Message),
    /// A call failed: the server failed the request, terminated holding it, or it never reached
    /// one.
    CallFailed(CallError),
}

/// What cancelling a still-pending ticket gave back.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Cancelled {
    /// A send that had not completed: its message, which nobody received.
    Send(Message),
    /// A receive that had not completed.
    Recv,
    /// A call: its request, handed back, when nobody had taken it yet; `None` when a server
    /// had, whose reply right is now revoked (an answer it gives later is dropped and counted).
    Call(Option<Message>),
}

/// A server's answer to a request.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Reply {
    /// The answer: the caller's call returns this message.
    Answer(Message),
    /// An application error: the caller's call fails with
    /// [`CallErrorKind::Failed`](crate::CallErrorKind::Failed), carrying these bytes.
    Failure(Bytes),
}

/// Where a receive looks.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Source {
    /// The calling process's own inbox.
    Inbox,
    /// A mailbox the process has open.
    Mailbox(MailboxId),
}

/// One receive operation of a select (or the only one of a plain receive).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Branch {
    /// Where to look.
    pub source: Source,
    /// Which message to take.
    pub selector: Selector,
}

impl Branch {
    /// A branch on `source` with `selector`.
    pub const fn new(source: Source, selector: Selector) -> Branch {
        Branch { source, selector }
    }
}

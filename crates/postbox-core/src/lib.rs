//! The postbox mailbox engine: message-passing semantics as a pure, deterministic state machine.
//!
//! This crate is the contract of postbox, executable: processes and their inboxes, named
//! mailboxes with every attribute (capacity, size rule, order, overflow, ownership, receivers,
//! mode), typed selective receive, rendezvous, dispatch, select, rights, termination and
//! statistics. It does no I/O, starts no threads and reads no clock, so every rule can be tested
//! exhaustively; the `postbox` crate drives it from threads, async tasks and (through the daemon)
//! sockets.
//!
//! Blocking is represented, not performed: an operation that must wait returns a [`Ticket`], and
//! later operations complete it (see [`Engine::poll_completion`]).
//!
//! ```
//! use postbox_core::*;
//!
//! let mut engine = Engine::default();
//! let now = Timestamp::ZERO;
//! let alice = engine.spawn(Credentials::new(1000, 1000), now);
//! let bob = engine.spawn(Credentials::new(1000, 1000), now);
//!
//! // Bob waits for a message from Alice: he gets a ticket.
//! let from_alice = [Branch::new(Source::Inbox, Selector::From(alice))];
//! let RecvOutcome::Blocked(ticket) = engine.recv(bob, &from_alice, Wait::Block, now).unwrap() else {
//!     unreachable!()
//! };
//! // Alice sends; Bob's ticket completes.
//! engine.send_to(alice, bob, Message::new("hi"), Delivery::Queued, Wait::Block, now).unwrap();
//! let (done, Completion::Received { message, .. }) = engine.poll_completion().unwrap() else {
//!     unreachable!()
//! };
//! assert_eq!((done, message.payload().as_ref()), (ticket, &b"hi"[..]));
//!
//! // Once Alice terminates, waiting on her fails at once instead of forever.
//! engine.terminate(alice, now);
//! let error = engine.recv(bob, &from_alice, Wait::Block, now).unwrap_err();
//! assert_eq!(error.error, RecvError::PeerGone);
//! ```

mod attrs;
mod engine;
mod error;
mod ids;
mod limits;
mod mailbox;
mod members;
mod message;
mod name;
mod outcome;
mod process;
mod producers;
mod queue;
mod selector;
mod stats;

pub use attrs::{
    Capacity, Dispatch, Durability, MailboxAttrs, MessageSize, Mode, Order, Overflow, Owner,
    Ownership, Receivers, Redelivery,
};
pub use engine::{
    Census, Change, Delegation, DurableMailbox, Engine, Handback, LeaseId, Need, PageIn,
    ResidentBudget, Settlement, StoredMessage, keeps_tail_on_disk,
};
pub use error::{
    AdminError, CallError, CallErrorKind, OpenError, RecvError, ReplyError, SelectError, SendError,
    SendErrorKind,
};
pub use ids::{CallId, Credentials, MailboxId, OsProcess, Pid, Ticket, Timestamp};
pub use limits::{Limits, MAX_PRODUCERS_PER_MAILBOX, MESSAGE_CHARGE, message_charge};
pub use message::{Message, MessageKind, Received};
pub use name::{InvalidName, MAX_NAME_LEN, Name};
pub use outcome::{
    Branch, Cancelled, Completion, Delivery, RecvOutcome, Reply, SendOutcome, Source, Wait,
};
pub use producers::{ProducerId, ProducerRecord, ProducerSeq};
pub use queue::DiskTail;
pub use selector::Selector;
pub use stats::{EngineStats, MailboxStats, ProcessInfo, Usage, WaitInfo, WaitKind, WaitTarget};

//! postbox: message passing between processes that share no memory.
//!
//! A **process** is a participant with a pid and an inbox. Processes talk **directly** — send to
//! a pid, receive from one pid or from anyone — or **indirectly**, through named **mailboxes**
//! that many processes share. Every choice of the design space is an explicit setting:
//! buffering (zero = rendezvous, bounded, unbounded), message size (fixed or variable), order
//! (FIFO or priority), overflow (block or drop-oldest), who receives (owner, exclusive, shared,
//! pair), ownership (by a process or by the system) and permissions. And a peer's death is never
//! a silent hang: whoever waits on it gets `PeerGone` or `Gone` at once.
//!
//! Every operation comes in the same five flavours on every handle: blocking (`send`), non-blocking
//! (`try_send`: `Full` / `Empty`), `*_timeout`, `*_deadline` and `*_async` (a future that works on
//! any executor).
//!
//! # A tour
//!
//! Processes on an in-process node (threads of this program; the same API will reach a daemon):
//!
//! ```
//! use postbox::{Capacity, InprocNode, Message, Selector};
//!
//! let node = InprocNode::new();
//! let server = node.process();
//! let client = node.process();
//!
//! // Direct messaging: to a pid, from anyone.
//! client.send_to(server.pid(), "ping")?;
//! let got = server.recv_any()?;
//! assert_eq!((got.payload().as_ref(), got.sender), (&b"ping"[..], client.pid()));
//!
//! // A bounded mailbox, System V typed selective receive.
//! let jobs = server.mailbox("jobs").capacity(Capacity::bounded(2, 1024)).create()?;
//! jobs.send(Message::new("low").with_type(5))?;
//! jobs.send(Message::new("urgent").with_type(1))?;
//! assert_eq!(jobs.recv_matching(Selector::TypeAtMost(3))?.payload().as_ref(), b"urgent");
//!
//! // When full, try_send fails at once and hands the message back.
//! jobs.send("x")?;
//! let full = jobs.try_send("y").unwrap_err();
//! assert_eq!(full.kind(), postbox::SendErrorKind::Full);
//! assert_eq!(full.into_message().unwrap().payload.as_ref(), b"y");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A rendezvous: a zero-capacity send returns only once a receiver has taken the message, and
//! names that receiver.
//!
//! ```
//! use postbox::{Capacity, InprocNode, Receivers, Dispatch};
//!
//! let node = InprocNode::new();
//! let a = node.process();
//! let b = node.process();
//! let meet = a.mailbox("meet").capacity(Capacity::Zero)
//!     .receivers(Receivers::Shared(Dispatch::FirstWaiting)).mode(postbox::Mode::new(0o666)).create()?;
//! let b_pid = b.pid();
//! std::thread::scope(|s| {
//!     s.spawn(move || {
//!         let inbox = b.mailbox("meet").open().unwrap();
//!         inbox.recv().unwrap();
//!     });
//!     assert_eq!(meet.send("hello").unwrap().receiver, Some(b_pid));
//! });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Nobody waits forever on a dead peer:
//!
//! ```
//! use postbox::{InprocNode, RecvError};
//!
//! let node = InprocNode::new();
//! let waiter = node.process();
//! let doomed = node.process();
//! let doomed_pid = doomed.pid();
//! waiter.monitor(doomed_pid)?;
//! drop(doomed); // dropping a process handle terminates the process
//! assert!(waiter.recv_from(doomed_pid)?.is_down()); // the monitor's down notification
//! assert_eq!(waiter.recv_from(doomed_pid).unwrap_err(), RecvError::PeerGone);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Many messages at once: [`Mailbox::send_batch`] sends a list as that many sends would (in
//! order, each checked and counted, the first failure stopping the batch with the rest handed
//! back in a [`SendBatchError`]), and [`Mailbox::recv_many`] takes up to N ready messages; through
//! a daemon each is one request and one answer, which is what makes small messages cheap.
//!
//! ```
//! use postbox::InprocNode;
//!
//! let node = InprocNode::new();
//! let p = node.process();
//! let log = p.mailbox("log").create()?;
//! log.send_batch(["started", "working", "done"])?;
//! let lines: Vec<_> = log.recv_many(10)?.iter().map(|m| m.payload().clone()).collect();
//! assert_eq!(lines, ["started", "working", "done"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Call and reply: [`Process::call`] sends a request to a process or a mailbox and waits for the
//! answer. The process that receives the request holds the one right to answer it, once:
//! [`Process::reply`] or [`Process::fail`], which never wait. A caller that stops waiting
//! revokes that right, so a late answer is dropped (and counted), never delivered to a later
//! call; a server that terminates holding a request fails its call with `PeerGone` at once.
//!
//! ```
//! use postbox::{CallErrorKind, InprocNode};
//!
//! let node = InprocNode::new();
//! let server = node.process();
//! let client = node.process();
//! let server_pid = server.pid();
//! std::thread::scope(|s| {
//!     s.spawn(move || {
//!         let request = server.recv_any().unwrap();
//!         server.reply(&request, format!("hello, {}", String::from_utf8_lossy(request.payload()))).unwrap();
//!         let request = server.recv_any().unwrap();
//!         server.fail(&request, "no such user").unwrap();
//!     });
//!     assert_eq!(client.call(server_pid, "ada").unwrap().payload.as_ref(), b"hello, ada");
//!     let failed = client.call(server_pid, "bob").unwrap_err();
//!     assert_eq!(failed.kind(), CallErrorKind::Failed);
//!     assert_eq!(failed.failure().unwrap().as_ref(), b"no such user");
//! });
//! ```
//!
//! Typed services: [`#[postbox::service]`](macro@service) on a trait generates a client whose
//! methods are calls and a server loop that answers them, arguments in postcard, and a method
//! identity that makes a client of a changed trait fail with an incompatibility instead of
//! misreading the answer; the contract is in [`service`](mod@service).
//!
//! # Errors
//!
//! One error type per operation kind, one shared vocabulary: [`SendError`] (with
//! [`SendErrorKind`], and the message handed back), [`RecvError`], [`SelectError`] (naming the
//! branch), [`OpenError`], [`AdminError`], [`CallError`] (with [`CallErrorKind`], the request
//! handed back when no server took it), [`ReplyError`] and [`ConnectError`]. Each variant's documentation says
//! when it happens.

mod batch;
mod callee;
mod clock;
mod connect_error;
mod consumer;
pub mod events;
mod leased;
mod loan;
mod mailbox;
mod process;
mod process_core;
mod producer;
mod select;
mod send_batch_error;
pub mod service;
mod transport;
mod url;
mod wait;

pub use callee::Callee;
pub use connect_error::ConnectError;
pub use consumer::Consumer;
pub use leased::Leased;
pub use loan::Loan;
pub use mailbox::{Mailbox, MailboxBuilder, Sent};
/// Makes a trait a typed service: see [`service`](mod@service).
pub use postbox_macros::service;
pub use process::Process;
pub use producer::{Producer, ProducerBuilder, ProducerError, Retry};
pub use select::{Select, Selected};
pub use send_batch_error::SendBatchError;
pub use transport::inproc::InprocNode;
pub use url::{Url, connect, connect_default, connect_with_token, default_url};

pub use postbox_core::{
    AdminError, CallError, CallErrorKind, CallId, Capacity, Credentials, Dispatch, Durability,
    EngineStats, Limits, MAX_PRODUCERS_PER_MAILBOX, MESSAGE_CHARGE, MailboxAttrs, MailboxId,
    MailboxStats, Message, MessageKind, MessageSize, Mode, OpenError, Order, Overflow, Owner,
    Ownership, Pid, ProcessInfo, ProducerId, Received, Receivers, RecvError, Redelivery,
    ReplyError, SelectError, Selector, SendError, SendErrorKind, Timestamp, WaitInfo, WaitKind,
    WaitTarget,
};

/// What [`Process::node_links`] answers: this node and the nodes it links with.
pub use postbox_wire::{LocalNode, NodeLinks, PeerLink, PeerState};

/// The payload type: reference-counted bytes, moved through queues without copying.
pub use bytes::Bytes;

/// The README's examples, compiled and run as doctests so that they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

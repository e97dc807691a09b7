//! Transports: how a process reaches its node's engine.
//!
//! Every transport implements one interface, [`Link`]: it carries the protocol's
//! [`Request`](postbox_wire::Request)s to an engine and brings back its
//! [`Response`](postbox_wire::Response)s, so process, mailbox and select handles are written once
//! and answer identically over every transport. Each transport is a flavour in its own folder:
//!
//! - [`inproc`]: the engine in this OS process, shared by threads, with a fast lane per plain
//!   mailbox;
//! - [`socket`]: a daemon over a Unix or TCP socket, driven by the protocol's client session;
//! - [`shm`]: beside a `unix://` connection, a plain mailbox the daemon lends to a ring in shared
//!   memory, used directly.
//!
//! A mailbox handle learns at open which [`Flavor`] its plain sends and receives take; every other
//! operation is a request over the link. Waiting requests land their answers in a [`Slot`]
//! (`slot`), which a blocked thread waits on or a future ([`RequestFuture`]) polls. What a dropped
//! receive future took after all goes back through the process's [`Returns`] (`returns`).

/// How many payload bytes a receive of many asks for beyond its first message: answers of a few
/// hundred KiB keep the reader's buffers small and the pipeline moving; a larger one only delays
/// the first message of the next.
pub(crate) const ANSWER_BYTES: u64 = 256 << 10;

mod answer;
mod flavor;
mod future;
pub(crate) mod inproc;
mod link;
mod pending;
mod returns;
pub(crate) mod shm;
mod slot;
pub(crate) mod socket;

pub(crate) use answer::{
    Answer, Failure, admin_error, called, received, received_many, replied, sent,
};
pub(crate) use flavor::Flavor;
pub(crate) use future::RequestFuture;
pub(crate) use link::Link;
pub(crate) use pending::{Call, Pending, WaitFor};
pub(crate) use returns::{Returns, Taking};
pub(crate) use slot::{Slot, Waited};

//! A request that did not complete at once, and how a caller waits for it.

use std::sync::Arc;
use std::time::Instant;

use super::answer::Answer;
use super::slot::Slot;

/// A request that waits: where its answer will land.
#[derive(Debug)]
pub(crate) struct Pending {
    /// The transport's name for the request (an engine ticket, a protocol request id).
    pub(crate) id: u64,
    pub(crate) slot: Arc<Slot>,
}

/// How a request was taken.
pub(crate) enum Call {
    /// Answered at once.
    Now(Answer),
    /// Answered later, into the pending slot.
    Pending(Pending),
}

/// Waits for `pending`'s answer until a deadline, withdrawing it then: [`Link::wait`] of the
/// request's link, handed to a transport flavour that made a request wait on its own path.
///
/// [`Link::wait`]: super::Link::wait
pub(crate) type WaitFor<'a> = &'a dyn Fn(&Pending, Option<Instant>) -> Answer;

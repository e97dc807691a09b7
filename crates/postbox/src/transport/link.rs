//! A process's link to its node: the one interface every transport implements.
//!
//! A link carries [`Request`]s to the engine and brings back
//! [`Response`](postbox_wire::Response)s — the same types the daemon's protocol carries — so
//! process and mailbox handles are written once for every transport, and answer identically
//! whichever is underneath.

use std::fmt;
use std::time::Instant;

use postbox_core::{MailboxId, Pid};
use postbox_wire::Request;

use super::answer::Answer;
use super::flavor::Flavor;
use super::pending::{Call, Pending};

/// A process's connection to its node.
pub(crate) trait Link: Send + Sync + fmt::Debug {
    /// The process this link is.
    fn pid(&self) -> Pid;

    /// Carries `request` to the engine.
    fn call(&self, request: Request) -> Call;

    /// Waits for `pending`'s answer; when `deadline` passes first, withdraws the request and
    /// returns the withdrawal's answer (`Timeout`, a send's message handed back) — or the real
    /// answer, if it raced the withdrawal.
    fn wait(&self, pending: &Pending, deadline: Option<Instant>) -> Answer;

    /// Waits for `pending`'s answer until `deadline`, leaving the request in flight when it
    /// passes (`None`): for a caller that keeps several requests in flight and only stops
    /// waiting for a while.
    fn wait_until(&self, pending: &Pending, deadline: Option<Instant>) -> Option<Answer> {
        pending.slot.wait(deadline)
    }

    /// How plain sends and receives on `mailbox`, just opened, travel: the transport's own
    /// path for them when it has one, else requests like every other operation.
    fn mailbox_flavor(&self, _mailbox: MailboxId) -> Flavor {
        Flavor::Engine
    }

    /// The smallest payload this link sends attached, as a sealed memfd's descriptor rather
    /// than inline (`unix://` with attachments negotiated); `None` for a link that never does.
    fn attach_from(&self) -> Option<usize> {
        None
    }

    /// Whether the node carries out idempotent sends (`Request::ProducerSend`): an in-process
    /// node always does; a daemon says so in its handshake.
    fn idempotent_sends(&self) -> bool {
        true
    }

    /// Withdraws `pending` without waiting for the outcome (a dropped future). An answer that
    /// crossed the withdrawal still lands in the slot, now or later; the caller orphans the
    /// slot to hand it on ([`Slot::orphan`](super::Slot::orphan)).
    fn abandon(&self, pending: &Pending);

    /// A future waits for an answer with no thread blocked in [`Link::wait`]: make sure answers
    /// are still carried to their slots (a transport that reads in the waiting thread starts a
    /// reader).
    fn serve_wakers(&self) {}

    /// Terminates the process: its own waiting requests are answered `Disconnected`, then the
    /// engine carries out termination.
    fn terminate(&self);
}

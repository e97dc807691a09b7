//! Futures for the `*_async` operations: one future type drives every operation.
//!
//! The operation starts on first poll (futures are lazy: creating one and dropping it unpolled
//! has no effect). If it has to wait, the future registers its waker in the operation's slot.
//! Dropping a waiting future withdraws the operation: a send is not delivered (its message is
//! dropped), a receive stops waiting. It works on any executor; it needs no runtime.
//!
//! Cancel safety: a receive whose message arrived after the future's last poll but before it was
//! dropped loses that message. Use the blocking or `try_*` forms where that matters.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use postbox_core::{Completion, Engine, Pid, Ticket, Timestamp};

use crate::node::{NodeShared, Pending};

/// How an operation ended: at once, or through a completion after waiting.
pub(crate) enum Outcome<R> {
    Now(R),
    Later(Completion),
}

enum Step<F> {
    Start(F),
    Waiting(Pending),
    Finished,
}

/// A future that runs one engine operation, waiting for it without blocking a thread.
pub(crate) struct OperationFuture<R, F> {
    node: Arc<NodeShared>,
    pid: Pid,
    step: Step<F>,
    ticket_of: fn(&R) -> Option<Ticket>,
}

impl<R, F> OperationFuture<R, F>
where
    F: FnOnce(&mut Engine, Timestamp) -> R,
{
    pub(crate) fn new(
        node: Arc<NodeShared>,
        pid: Pid,
        op: F,
        ticket_of: fn(&R) -> Option<Ticket>,
    ) -> Self {
        OperationFuture {
            node,
            pid,
            step: Step::Start(op),
            ticket_of,
        }
    }
}

impl<R, F> Future for OperationFuture<R, F>
where
    F: FnOnce(&mut Engine, Timestamp) -> R + Unpin,
{
    type Output = Outcome<R>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome<R>> {
        let this = self.get_mut();
        let pending = match std::mem::replace(&mut this.step, Step::Finished) {
            Step::Start(op) => match this.node.start(this.pid, op, this.ticket_of) {
                (result, None) => return Poll::Ready(Outcome::Now(result)),
                (_, Some(pending)) => pending,
            },
            Step::Waiting(pending) => pending,
            Step::Finished => panic!("operation future polled after it completed"),
        };
        match pending.slot.take_or_register(cx.waker()) {
            Some(done) => Poll::Ready(Outcome::Later(done)),
            None => {
                this.step = Step::Waiting(pending);
                Poll::Pending
            }
        }
    }
}

impl<R, F> Drop for OperationFuture<R, F> {
    fn drop(&mut self) {
        if let Step::Waiting(pending) = &self.step {
            self.node.cancel(pending);
        }
    }
}

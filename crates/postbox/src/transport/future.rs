//! The future behind every `*_async` operation.
//!
//! The request is made on first poll (futures are lazy: creating one and dropping it unpolled
//! has no effect). If it has to wait, the future registers its waker in the request's slot.
//! Dropping a waiting future withdraws the request: a send is not delivered (its message is
//! dropped), a receive stops waiting. It works on any executor; it needs no runtime.
//!
//! Cancel safety: a receive whose message arrived after the future's last poll but before it was
//! dropped loses that message. Use the blocking or `try_*` forms where that matters.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use postbox_wire::Request;

use super::answer::Answer;
use super::link::Link;
use super::pending::{Call, Pending};

enum Step {
    Start(Request),
    Waiting(Pending),
    Finished,
}

/// A future that carries one request over a link and yields its answer.
pub(crate) struct RequestFuture {
    link: Arc<dyn Link>,
    step: Step,
}

impl RequestFuture {
    pub(crate) fn new(link: Arc<dyn Link>, request: Request) -> RequestFuture {
        RequestFuture {
            link,
            step: Step::Start(request),
        }
    }
}

impl Future for RequestFuture {
    type Output = Answer;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Answer> {
        let this = self.get_mut();
        let pending = match std::mem::replace(&mut this.step, Step::Finished) {
            Step::Start(request) => match this.link.call(request) {
                Call::Now(answer) => return Poll::Ready(answer),
                Call::Pending(pending) => pending,
            },
            Step::Waiting(pending) => pending,
            Step::Finished => panic!("request future polled after it completed"),
        };
        match pending.slot.take_or_register(cx.waker()) {
            Some(answer) => Poll::Ready(answer),
            None => {
                this.link.serve_wakers();
                this.step = Step::Waiting(pending);
                Poll::Pending
            }
        }
    }
}

impl Drop for RequestFuture {
    fn drop(&mut self) {
        if let Step::Waiting(pending) = &self.step {
            self.link.abandon(pending);
        }
    }
}

//! The future behind every `*_async` operation.
//!
//! The request is made on first poll (futures are lazy: creating one and dropping it unpolled
//! has no effect). If it has to wait, the future registers its waker in the request's slot.
//! Dropping a waiting future withdraws the request: a send is not delivered (its message is
//! dropped), a receive stops waiting. It works on any executor; it needs no runtime.
//!
//! Cancel safety: dropping a waiting receive loses no message. Its withdrawal may cross the
//! node's answer (a message arrived meanwhile); the message is then handed back, without the
//! drop waiting for it — to its old place at the front of its mailbox when it was taken on
//! lease, as every receive of one branch takes it, else to the process's next receive that
//! matches it (see [`returns`](super::returns)); a receive of many, for every message it took.
//! So `select!`ing a receive against a timer, and dropping it when the timer
//! wins, is safe.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use postbox_wire::Request;

use super::answer::Answer;
use super::link::Link;
use super::pending::{Call, Pending};
use super::returns::{Returns, Taking, acknowledge, hand_back};

enum Step {
    Start(Request),
    Waiting(Pending),
    Finished,
}

/// A receive's messages, and where a dropped receive hands them back.
struct Receive {
    taking: Taking,
    returns: Arc<Returns>,
}

/// A future that carries one request over a link and yields its answer.
pub(crate) struct RequestFuture {
    link: Arc<dyn Link>,
    step: Step,
    /// For a receive: how it takes its messages.
    receive: Option<Receive>,
}

impl RequestFuture {
    /// A future of `request`, which takes no message (a send, a settlement).
    pub(crate) fn new(link: Arc<dyn Link>, request: Request) -> RequestFuture {
        RequestFuture {
            link,
            step: Step::Start(request),
            receive: None,
        }
    }

    /// A future of the receive `request`, which takes its messages as `taking` says; dropped
    /// while it waits, it hands back what it took to `returns`.
    pub(crate) fn receive(
        link: Arc<dyn Link>,
        request: Request,
        taking: Taking,
        returns: Arc<Returns>,
    ) -> RequestFuture {
        RequestFuture {
            link,
            step: Step::Start(request),
            receive: Some(Receive { taking, returns }),
        }
    }

    fn ready(&self, answer: Answer) -> Poll<Answer> {
        if let Some(Receive {
            taking: Taking::Acked(source),
            ..
        }) = &self.receive
        {
            acknowledge(&*self.link, *source, &answer);
        }
        Poll::Ready(answer)
    }
}

impl Future for RequestFuture {
    type Output = Answer;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Answer> {
        let this = self.get_mut();
        let pending = match std::mem::replace(&mut this.step, Step::Finished) {
            Step::Start(request) => match this.link.call(request) {
                Call::Now(answer) => return this.ready(answer),
                Call::Pending(pending) => pending,
            },
            Step::Waiting(pending) => pending,
            Step::Finished => panic!("request future polled after it completed"),
        };
        match pending.slot.take_or_register(cx.waker()) {
            Some(answer) => this.ready(answer),
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
        let Step::Waiting(pending) = &self.step else {
            return;
        };
        self.link.abandon(pending);
        let Some(Receive { taking, returns }) = self.receive.take() else {
            return;
        };
        // The answer may be in already, or still come (the withdrawal crossed it): either way
        // what it took goes back. A withdrawn request is never answered: its slot drops with the
        // handler unrun.
        let in_flight = returns.begin();
        let link = Arc::downgrade(&self.link);
        pending.slot.orphan(Box::new(move |answer| {
            hand_back(link, returns, taking, answer, in_flight);
        }));
    }
}

//! A consumer: a receiver that keeps a window of messages coming from one mailbox, on lease (see
//! [`Consumer`] for what it promises, docs/semantics.md "Leases and receive windows" for the
//! rules).

use std::collections::VecDeque;
use std::task::Poll;
use std::time::{Duration, Instant};

use postbox_core::{Branch, LeaseId, Received, RecvError, Selector, Settlement, Source, Wait};
use postbox_wire::{MAX_BATCH, Request, Response};

use crate::Mailbox;
use crate::process_core::ProcessCore;
use crate::transport::ANSWER_BYTES;
use crate::transport::{Answer, Call, Failure, Pending, received_many};
use crate::wait::Patience;

/// A request the consumer sent: answered at once, or waiting for its answer.
#[derive(Debug)]
enum Sent {
    Answered(Box<Answer>),
    Waiting(Pending),
}

impl From<Call> for Sent {
    fn from(call: Call) -> Sent {
        match call {
            Call::Now(answer) => Sent::Answered(Box::new(answer)),
            Call::Pending(pending) => Sent::Waiting(pending),
        }
    }
}

/// The oldest request in flight, as [`Consumer::oldest_request`] found it.
enum Oldest {
    Answered(Answer),
    /// Its id and slot (shared with the request, which stays in the window until answered).
    Waiting(Pending),
}

/// A receiver that keeps a window of messages coming from one mailbox, so that a daemon's round
/// trip is not paid once per message — and that never loses a message it took ahead but did not
/// hand out. Made by [`Mailbox::into_consumer`](crate::Mailbox::into_consumer); it owns the
/// handle, so the mailbox stays open while it holds messages.
///
/// A plain receive asks for one message and waits for the answer; several receives in flight
/// would take messages the receiver may never read (one meant for another consumer, say). A
/// consumer keeps *lease* requests in flight for up to `window` messages: the mailbox hands them
/// over but keeps each until it is settled.
///
/// - A message it hands out is acknowledged only once it is asked for another (its receiver is
///   done with it): when it then has to wait, when half a window of them has gathered, and when
///   it stops — never while the message may still be in use.
/// - [`Consumer::stop`] (or dropping it) withdraws the requests in flight and returns every
///   message that arrived but was not handed out to its old place at the front of the queue, for
///   the mailbox's other receivers.
/// - If its process dies, the mailbox takes back what it still holds on lease: messages that
///   never reached the consumer, and those handed out since the last acknowledgement (at most
///   half a window), which are then delivered again — at least once, never lost.
#[derive(Debug)]
pub struct Consumer {
    /// The handle it consumes from. Dropping the consumer returns its messages (in `Drop`)
    /// before this field is dropped and closes the handle.
    handle: Mailbox,
    window: usize,
    /// Messages one lease request asks for: half the window, so that one request can be
    /// answered while the next is already waiting.
    chunk: usize,
    /// Lease requests sent, oldest first, with how many messages each asked for.
    requests: VecDeque<(Sent, usize)>,
    /// The sum of what `requests` asked for.
    requested: usize,
    /// Messages that arrived and were not handed out yet, in order.
    ready: VecDeque<Received>,
    /// Leases handed out and not yet acknowledged.
    handed: Vec<LeaseId>,
    /// Settle requests whose answers were not read yet.
    settling: VecDeque<Sent>,
    /// The first failure of a settlement, reported by [`Consumer::stop`].
    settle_error: Option<RecvError>,
    finished: bool,
}

impl Consumer {
    pub(crate) fn new(handle: Mailbox, window: usize) -> Consumer {
        let window = window.clamp(1, MAX_BATCH);
        Consumer {
            handle,
            window,
            chunk: (window / 2).max(1),
            requests: VecDeque::new(),
            requested: 0,
            ready: VecDeque::new(),
            handed: Vec::new(),
            settling: VecDeque::new(),
            settle_error: None,
            finished: false,
        }
    }

    /// The most messages this consumer takes ahead.
    pub fn window(&self) -> usize {
        self.window
    }

    /// The mailbox handle it consumes from, for everything else (`send`, `stat`, ...).
    pub fn mailbox(&self) -> &Mailbox {
        &self.handle
    }

    fn core(&self) -> &ProcessCore {
        self.handle.core()
    }

    /// The next message, waiting for one as long as it takes.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::recv`](crate::Mailbox::recv): `Gone`, `PermissionDenied`, `Busy`,
    /// `Disconnected`, ...
    pub fn recv(&mut self) -> Result<Received, RecvError> {
        self.next(Patience::Forever)
    }

    /// The next message if one has arrived; `Empty` otherwise (the requests stay in flight).
    ///
    /// # Errors
    ///
    /// As [`Consumer::recv`], plus `Empty`.
    pub fn try_recv(&mut self) -> Result<Received, RecvError> {
        self.next(Patience::None)
    }

    /// As [`Consumer::recv`], waiting at most `timeout`; the requests stay in flight after a
    /// timeout.
    ///
    /// # Errors
    ///
    /// As [`Consumer::recv`], plus `Timeout`.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Received, RecvError> {
        self.next(Patience::timeout(timeout))
    }

    /// As [`Consumer::recv`], waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`Consumer::recv`], plus `Timeout`.
    pub fn recv_deadline(&mut self, deadline: Instant) -> Result<Received, RecvError> {
        self.next(Patience::Until(deadline))
    }

    /// Stops: acknowledges every message handed out, withdraws the requests in flight, and
    /// returns every message that arrived but was not handed out to the front of the mailbox's
    /// queue, in order. Returns how many messages went back. Dropping a consumer does the same,
    /// without the report.
    ///
    /// # Errors
    ///
    /// The first failure to settle (`Gone` when the mailbox was deleted meanwhile: its messages
    /// went with it; `Disconnected`).
    pub fn stop(mut self) -> Result<usize, RecvError> {
        self.finish()
    }

    fn next(&mut self, patience: Patience) -> Result<Received, RecvError> {
        loop {
            if let Some(message) = self.hand_out() {
                return Ok(message);
            }
            let answer = match self.oldest_request()? {
                Oldest::Answered(answer) => answer,
                Oldest::Waiting(pending) => {
                    let deadline = match patience {
                        Patience::None => Some(Instant::now()),
                        Patience::Forever => None,
                        Patience::Until(deadline) => Some(deadline),
                    };
                    let Some(answer) = self.core().link.wait_until(&pending, deadline) else {
                        return Err(match patience {
                            Patience::None => RecvError::Empty,
                            _ => RecvError::Timeout,
                        });
                    };
                    self.answered_oldest();
                    answer
                }
            };
            self.ready.extend(received_many(answer)?);
        }
    }

    /// The next message as a future, which works on any executor. Dropping it while it waits
    /// loses nothing: the requests stay in flight for the next receive.
    ///
    /// # Errors
    ///
    /// As [`Consumer::recv`].
    pub async fn recv_async(&mut self) -> Result<Received, RecvError> {
        loop {
            if let Some(message) = self.hand_out() {
                return Ok(message);
            }
            let answer = match self.oldest_request()? {
                Oldest::Answered(answer) => answer,
                Oldest::Waiting(pending) => {
                    let link = self.core().link.clone();
                    let answer = std::future::poll_fn(|cx| {
                        match pending.slot.take_or_register(cx.waker()) {
                            Some(answer) => Poll::Ready(answer),
                            None => {
                                // Nobody may be reading the socket for this thread.
                                link.serve_wakers();
                                Poll::Pending
                            }
                        }
                    })
                    .await;
                    self.answered_oldest();
                    answer
                }
            };
            self.ready.extend(received_many(answer)?);
        }
    }

    /// Hands out the next message that has arrived, if one has, and refills the window. Asking
    /// for another message means being done with the ones handed out before: once half a window
    /// of them has gathered, they are acknowledged — never the one being handed out now, which
    /// its receiver has not used yet (acknowledging it here would lose it to a crash before use).
    fn hand_out(&mut self) -> Option<Received> {
        let message = self.ready.pop_front()?;
        if self.handed.len() >= self.chunk {
            self.acknowledge();
        }
        self.handed.push(LeaseId::from(&message));
        self.request_more();
        Some(message)
    }

    /// Before waiting: acknowledges what was handed out (it is done with), refills the window,
    /// and looks at the oldest request — taking its answer if it came with the request.
    fn oldest_request(&mut self) -> Result<Oldest, RecvError> {
        self.acknowledge();
        self.request_more();
        match self.requests.front() {
            Some((Sent::Answered(_), _)) => match self.requests.pop_front() {
                Some((Sent::Answered(answer), asked)) => {
                    self.requested -= asked;
                    Ok(Oldest::Answered(*answer))
                }
                _ => unreachable!("the front was an answered request"),
            },
            Some((Sent::Waiting(pending), _)) => Ok(Oldest::Waiting(Pending {
                id: pending.id,
                slot: pending.slot.clone(),
            })),
            None => Err(RecvError::Protocol),
        }
    }

    /// The oldest request's answer was taken: it leaves the window.
    fn answered_oldest(&mut self) {
        if let Some((_, asked)) = self.requests.pop_front() {
            self.requested -= asked;
        }
    }

    /// Sends lease requests while the window has room for another half window.
    fn request_more(&mut self) {
        while self.ready.len() + self.requested + self.chunk <= self.window {
            let request = Request::Lease {
                branch: Branch::new(Source::Mailbox(self.handle.id()), Selector::Any),
                max_messages: u32::try_from(self.chunk).unwrap_or(u32::MAX),
                max_bytes: ANSWER_BYTES,
                wait: Wait::Block,
            };
            let sent = Sent::from(self.core().link.call(request));
            self.requests.push_back((sent, self.chunk));
            self.requested += self.chunk;
        }
    }

    /// Acknowledges what was handed out, without waiting for the answer (answers already read
    /// are looked at on the way).
    fn acknowledge(&mut self) {
        while let Some(Sent::Waiting(pending)) = self.settling.front() {
            let Some(answer) = pending.slot.take() else {
                break;
            };
            self.note_settled(answer);
            self.settling.pop_front();
        }
        if self.handed.is_empty() {
            return;
        }
        let leases = std::mem::take(&mut self.handed);
        match self.settle(leases, Settlement::Ack) {
            Sent::Answered(answer) => self.note_settled(*answer),
            waiting => self.settling.push_back(waiting),
        }
    }

    fn settle(&self, leases: Vec<LeaseId>, settlement: Settlement) -> Sent {
        Sent::from(self.core().link.call(Request::Settle {
            source: Source::Mailbox(self.handle.id()),
            leases,
            settlement,
        }))
    }

    fn note_settled(&mut self, answer: Answer) {
        let error = match answer {
            Ok(Response::Settled(_)) => return,
            Ok(Response::RecvFailed(error)) => error.error,
            Err(Failure::Disconnected) => RecvError::Disconnected,
            Ok(_) | Err(Failure::Protocol | Failure::Refused(_)) => RecvError::Protocol,
        };
        self.settle_error.get_or_insert(error);
    }

    fn finish(&mut self) -> Result<usize, RecvError> {
        if std::mem::replace(&mut self.finished, true) {
            return Ok(0);
        }
        self.acknowledge();
        // A withdrawn request is answered `Timeout`, or with what it took if that crossed the
        // withdrawal: those messages go back too.
        for (sent, _) in std::mem::take(&mut self.requests) {
            let answer = match sent {
                Sent::Answered(answer) => *answer,
                Sent::Waiting(pending) => self.core().link.wait(&pending, Some(Instant::now())),
            };
            if let Ok(messages) = received_many(answer) {
                self.ready.extend(messages);
            }
        }
        self.requested = 0;
        let unused: Vec<LeaseId> = self.ready.drain(..).map(|m| LeaseId::from(&m)).collect();
        let returned = unused.len();
        if returned > 0 {
            let sent = self.settle(unused, Settlement::Return);
            self.settling.push_back(sent);
        }
        for sent in std::mem::take(&mut self.settling) {
            let answer = match sent {
                Sent::Answered(answer) => *answer,
                Sent::Waiting(pending) => self.core().link.wait(&pending, None),
            };
            self.note_settled(answer);
        }
        match self.settle_error {
            Some(error) => Err(error),
            None => Ok(returned),
        }
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        // Nothing to report to: a lost transport or a deleted mailbox took the messages anyway.
        let _ = self.finish();
    }
}

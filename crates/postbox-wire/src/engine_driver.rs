//! What every host of an engine keeps beside it: who waits for each ticket.

use postbox_core::{
    Cancelled, Completion, Engine, Message, Pid, RecvError, SelectError, SendError, SendErrorKind,
    Ticket, Timestamp,
};
use rustc_hash::FxHashMap;

use crate::apply::call_error;
use crate::{Applied, BatchWait, Request, Response, apply, completion_response};

/// An engine and the waiter of each of its waiting requests — the bookkeeping that the
/// in-process node and the daemon's hub would otherwise each keep: a request that blocks becomes
/// a ticket; the caller's waiter `W` (a slot a thread sleeps on, a connection and request id) is
/// registered under it in the same step, so that no completion can find its ticket unclaimed;
/// completions and withdrawals hand the waiter back with its answer.
///
/// Drivers call [`poll_completion`](Self::poll_completion) until it is empty after every engine
/// call, under the same lock as the call, so a waiter registered is always answered exactly once:
/// by a completion, a withdrawal, or [`forget`](Self::forget).
///
/// ```
/// use postbox_core::{Branch, Credentials, Engine, Limits, Message, Selector, Source, Timestamp, Wait, Delivery};
/// use postbox_wire::{Carried, EngineDriver, Request, Response, Target};
///
/// let now = Timestamp::from_nanos(1);
/// let mut driver = EngineDriver::new(Engine::new(Limits::default()));
/// let a = driver.engine_mut().spawn(Credentials::new(1000, 1000), now);
/// let b = driver.engine_mut().spawn(Credentials::new(1000, 1000), now);
///
/// // b waits for a message: its waiter ("b's recv") is registered under the ticket.
/// let recv = Request::Recv { branches: vec![Branch::new(Source::Inbox, Selector::Any)], wait: Wait::Block };
/// assert!(matches!(driver.apply(b, recv, now, || "b's recv"), Carried::Waiting(_)));
///
/// // a's send completes it: the waiter comes back with its answer.
/// let send = Request::Send { target: Target::Process(b), message: Message::new("hi"), delivery: Delivery::Queued, wait: Wait::Block };
/// assert_eq!(driver.apply(a, send, now, || "a's send"), Carried::Now(Response::Sent { receiver: None }));
/// let (waiter, answer) = driver.poll_completion().unwrap();
/// assert_eq!(waiter, "b's recv");
/// assert!(matches!(answer, Response::Received { .. }));
/// ```
#[derive(Debug)]
pub struct EngineDriver<W> {
    engine: Engine,
    waiters: FxHashMap<Ticket, W>,
    /// Send batches with messages waiting, under their first waiting message's ticket.
    batches: FxHashMap<Ticket, Batch<W>>,
    /// The batch each waiting message of a batch belongs to.
    member_of: FxHashMap<Ticket, Ticket>,
    /// The time of the latest call that passed one, for withdrawals the driver makes itself.
    now: Timestamp,
}

/// A send batch some of whose messages wait, and who waits for its answer.
#[derive(Debug)]
struct Batch<W> {
    waiter: W,
    /// Sent before the first had to wait.
    sent: u32,
    /// From the first that waited on, in batch order.
    positions: Vec<Position>,
    /// What stopped the batch while it was being sent, and the messages after that one.
    stopped: Option<(SendError, Vec<Message>)>,
}

/// Where one message of a waiting batch stands.
#[derive(Debug)]
enum Position {
    Waiting(Ticket),
    Sent,
    Failed(SendError),
    /// Withdrawn: by the driver, or because an earlier message failed.
    Withdrawn(Message),
}

/// What became of a request the driver carried out.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Carried {
    /// Its answer, now.
    Now(Response),
    /// It waits under this ticket; its answer comes from
    /// [`poll_completion`](EngineDriver::poll_completion) or
    /// [`withdraw`](EngineDriver::withdraw).
    Waiting(Ticket),
}

/// What withdrawing a request gave back.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Withdrawal {
    /// A receive, withdrawn.
    Recv,
    /// A send, withdrawn: its message, not delivered.
    Send(Message),
    /// A call, withdrawn: its request when no server had taken it, else `None` (the server's
    /// reply right is revoked).
    Call(Option<Message>),
    /// A send batch: its answer, given the failure the withdrawn message counts as.
    Batch {
        /// Messages sent.
        sent: u32,
        /// The first message not sent, and the rest.
        unsent: Vec<Message>,
        /// A failure that stopped the batch before the withdrawal, if one did.
        failed: Option<SendError>,
    },
}

impl Withdrawal {
    /// The answer of the withdrawn request, the withdrawal counting as `send` for a send or a
    /// call (with its message handed back: `Timeout` when a deadline passed, `Disconnected` when
    /// its process terminated) and `recv` for a receive.
    pub fn response(self, send: SendErrorKind, recv: RecvError) -> Response {
        match self {
            Withdrawal::Recv => Response::RecvFailed(SelectError {
                branch: 0,
                error: recv,
            }),
            Withdrawal::Send(message) => Response::SendFailed(SendError::new(send, message)),
            Withdrawal::Call(request) => Response::CallFailed(call_error(send.into(), request)),
            Withdrawal::Batch {
                sent,
                mut unsent,
                failed,
            } => {
                let failed = match failed {
                    Some(failed) => failed,
                    None if unsent.is_empty() => SendError::without_message(send),
                    None => SendError::new(send, unsent.remove(0)),
                };
                Response::SentBatch {
                    sent,
                    failed: Some(failed),
                    unsent,
                }
            }
        }
    }
}

impl<W> Batch<W> {
    fn is_done(&self) -> bool {
        !self
            .positions
            .iter()
            .any(|position| matches!(position, Position::Waiting(_)))
    }

    /// The batch's answer, once no message waits: the messages sent up to the first that was
    /// not, why that one was not, and the rest handed back.
    fn answer(self) -> (W, Response) {
        let mut sent = self.sent;
        let mut failed: Option<SendError> = None;
        let mut unsent = Vec::new();
        for position in self.positions {
            match position {
                Position::Sent => sent += 1,
                Position::Failed(error) if failed.is_none() => failed = Some(error),
                Position::Failed(error) => unsent.extend(error.into_message()),
                Position::Withdrawn(message) if failed.is_none() => {
                    failed = Some(SendError::new(SendErrorKind::Timeout, message));
                }
                Position::Withdrawn(message) => unsent.push(message),
                Position::Waiting(_) => {}
            }
        }
        if let Some((error, rest)) = self.stopped {
            match failed {
                None => failed = Some(error),
                Some(_) => unsent.extend(error.into_message()),
            }
            unsent.extend(rest);
        }
        let response = Response::SentBatch {
            sent,
            failed,
            unsent,
        };
        (self.waiter, response)
    }

    /// Everything still waiting, withdrawn: what the batch gives back.
    fn withdrawal(self) -> (W, Withdrawal) {
        let mut sent = self.sent;
        let mut failed = None;
        let mut unsent = Vec::new();
        for position in self.positions {
            match position {
                Position::Sent if failed.is_none() && unsent.is_empty() => sent += 1,
                Position::Sent => {}
                Position::Failed(error) if failed.is_none() && unsent.is_empty() => {
                    failed = Some(error);
                }
                Position::Failed(error) => unsent.extend(error.into_message()),
                Position::Withdrawn(message) => unsent.push(message),
                Position::Waiting(_) => {}
            }
        }
        if let Some((error, rest)) = self.stopped {
            unsent.extend(error.into_message());
            unsent.extend(rest);
        }
        let withdrawal = Withdrawal::Batch {
            sent,
            unsent,
            failed,
        };
        (self.waiter, withdrawal)
    }
}

impl<W> EngineDriver<W> {
    /// Drives `engine`, with no waiters yet.
    pub fn new(engine: Engine) -> EngineDriver<W> {
        EngineDriver {
            engine,
            waiters: FxHashMap::default(),
            batches: FxHashMap::default(),
            member_of: FxHashMap::default(),
            now: Timestamp::ZERO,
        }
    }

    /// The engine, to read.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine, for calls that make no ticket (spawning, terminating, lending a queue). Call
    /// [`poll_completion`](Self::poll_completion) afterwards: they may complete others' tickets.
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// Carries out `request` for `pid` ([`apply`]); a request that must wait is registered with
    /// the waiter `waiter()` makes (called only then).
    pub fn apply(
        &mut self,
        pid: Pid,
        request: Request,
        now: Timestamp,
        waiter: impl FnOnce() -> W,
    ) -> Carried {
        self.now = now;
        match apply(&mut self.engine, pid, request, now) {
            Applied::Now(response) => Carried::Now(response),
            Applied::Blocked(ticket) => {
                self.waiters.insert(ticket, waiter());
                Carried::Waiting(ticket)
            }
            Applied::BlockedBatch(wait) => self.wait_batch(wait, waiter()),
        }
    }

    /// Registers a send batch whose messages wait, under its first waiting ticket.
    fn wait_batch(&mut self, wait: BatchWait, waiter: W) -> Carried {
        let positions: Vec<Position> = wait
            .waiting
            .iter()
            .map(|ticket| ticket.map_or(Position::Sent, Position::Waiting))
            .collect();
        let batch = Batch {
            waiter,
            sent: wait.sent,
            positions,
            stopped: wait.stopped,
        };
        let Some(handle) = wait.waiting.iter().flatten().next().copied() else {
            // Nothing waits after all: the batch is answered now.
            return Carried::Now(batch.answer().1);
        };
        for ticket in wait.waiting.into_iter().flatten() {
            self.member_of.insert(ticket, handle);
        }
        self.batches.insert(handle, batch);
        Carried::Waiting(handle)
    }

    /// The next completed request's waiter and answer, if any.
    pub fn poll_completion(&mut self) -> Option<(W, Response)> {
        while let Some((ticket, completion)) = self.engine.poll_completion() {
            if let Some(waiter) = self.waiters.remove(&ticket) {
                return Some((waiter, completion_response(completion)));
            }
            if let Some(answer) = self.batch_completion(ticket, completion) {
                return Some(answer);
            }
        }
        None
    }

    /// One waiting message of a batch completed: the batch's answer once none waits. A failure
    /// stops the batch there: the messages after it are withdrawn, as they would never have
    /// been sent.
    fn batch_completion(
        &mut self,
        ticket: Ticket,
        completion: Completion,
    ) -> Option<(W, Response)> {
        let handle = self.member_of.remove(&ticket)?;
        let batch = self.batches.get_mut(&handle)?;
        let index = batch
            .positions
            .iter()
            .position(|p| matches!(p, Position::Waiting(t) if *t == ticket))?;
        match completion {
            Completion::SendFailed(error) => {
                batch.positions[index] = Position::Failed(error);
                for later in &mut batch.positions[index + 1..] {
                    let Position::Waiting(ticket) = *later else {
                        continue;
                    };
                    if let Some(Cancelled::Send(message)) = self.engine.cancel(ticket, self.now) {
                        self.member_of.remove(&ticket);
                        *later = Position::Withdrawn(message);
                    }
                }
            }
            _ => batch.positions[index] = Position::Sent,
        }
        if !batch.is_done() {
            return None;
        }
        let batch = self.batches.remove(&handle)?;
        Some(batch.answer())
    }

    /// Withdraws the request waiting under `ticket`: its waiter and what the withdrawal gave
    /// back, or `None` when it has no waiter any more (answered already). The withdrawal is
    /// `None` only if the driver missed a completion (an engine call whose completions were not
    /// polled).
    pub fn withdraw(&mut self, ticket: Ticket, now: Timestamp) -> Option<(W, Option<Withdrawal>)> {
        self.now = now;
        if let Some(waiter) = self.waiters.remove(&ticket) {
            let withdrawal = match self.engine.cancel(ticket, now) {
                Some(Cancelled::Send(message)) => Some(Withdrawal::Send(message)),
                Some(Cancelled::Recv) => Some(Withdrawal::Recv),
                Some(Cancelled::Call(request)) => Some(Withdrawal::Call(request)),
                None => None,
            };
            return Some((waiter, withdrawal));
        }
        let mut batch = self.batches.remove(&ticket)?;
        for position in &mut batch.positions {
            let Position::Waiting(waiting) = *position else {
                continue;
            };
            self.member_of.remove(&waiting);
            if let Some(Cancelled::Send(message)) = self.engine.cancel(waiting, now) {
                *position = Position::Withdrawn(message);
            }
        }
        let (waiter, withdrawal) = batch.withdrawal();
        Some((waiter, Some(withdrawal)))
    }

    /// Forgets the waiter of `ticket` without withdrawing the request (its process is
    /// terminating, which withdraws it).
    pub fn forget(&mut self, ticket: Ticket) -> Option<W> {
        if let Some(waiter) = self.waiters.remove(&ticket) {
            return Some(waiter);
        }
        let batch = self.batches.remove(&ticket)?;
        for position in &batch.positions {
            if let Position::Waiting(waiting) = position {
                self.member_of.remove(waiting);
            }
        }
        Some(batch.waiter)
    }

    /// The waiter under `ticket`, if it still waits.
    pub fn waiter(&self, ticket: Ticket) -> Option<&W> {
        self.waiters
            .get(&ticket)
            .or_else(|| self.batches.get(&ticket).map(|batch| &batch.waiter))
    }

    /// Every waiting request's ticket and waiter.
    pub fn waiters(&self) -> impl Iterator<Item = (Ticket, &W)> {
        let singles = self
            .waiters
            .iter()
            .map(|(&ticket, waiter)| (ticket, waiter));
        let batches = self
            .batches
            .iter()
            .map(|(&ticket, batch)| (ticket, &batch.waiter));
        singles.chain(batches)
    }
}

//! What every host of an engine keeps beside it: who waits for each ticket.

use postbox_core::{Cancelled, Engine, Pid, Ticket, Timestamp};
use rustc_hash::FxHashMap;

use crate::{Applied, Request, Response, apply, completion_response};

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
/// use postbox_wire::{Applied, EngineDriver, Request, Response, Target};
///
/// let now = Timestamp::from_nanos(1);
/// let mut driver = EngineDriver::new(Engine::new(Limits::default()));
/// let a = driver.engine_mut().spawn(Credentials::new(1000, 1000), now);
/// let b = driver.engine_mut().spawn(Credentials::new(1000, 1000), now);
///
/// // b waits for a message: its waiter ("b's recv") is registered under the ticket.
/// let recv = Request::Recv { branches: vec![Branch::new(Source::Inbox, Selector::Any)], wait: Wait::Block };
/// assert!(matches!(driver.apply(b, recv, now, || "b's recv"), Applied::Blocked(_)));
///
/// // a's send completes it: the waiter comes back with its answer.
/// let send = Request::Send { target: Target::Process(b), message: Message::new("hi"), delivery: Delivery::Queued, wait: Wait::Block };
/// assert_eq!(driver.apply(a, send, now, || "a's send"), Applied::Now(Response::Sent { receiver: None }));
/// let (waiter, answer) = driver.poll_completion().unwrap();
/// assert_eq!(waiter, "b's recv");
/// assert!(matches!(answer, Response::Received { .. }));
/// ```
#[derive(Debug)]
pub struct EngineDriver<W> {
    engine: Engine,
    waiters: FxHashMap<Ticket, W>,
}

impl<W> EngineDriver<W> {
    /// Drives `engine`, with no waiters yet.
    pub fn new(engine: Engine) -> EngineDriver<W> {
        EngineDriver {
            engine,
            waiters: FxHashMap::default(),
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
    ) -> Applied {
        let applied = apply(&mut self.engine, pid, request, now);
        if let Applied::Blocked(ticket) = applied {
            self.waiters.insert(ticket, waiter());
        }
        applied
    }

    /// The next completed request's waiter and answer, if any.
    pub fn poll_completion(&mut self) -> Option<(W, Response)> {
        while let Some((ticket, completion)) = self.engine.poll_completion() {
            if let Some(waiter) = self.waiters.remove(&ticket) {
                return Some((waiter, completion_response(completion)));
            }
        }
        None
    }

    /// Withdraws the request waiting under `ticket`: its waiter and what the withdrawal gave
    /// back (a send's message), or `None` when it has no waiter any more (answered already). The
    /// engine's part is `None` only if the driver missed a completion (an engine call whose
    /// completions were not polled).
    pub fn withdraw(&mut self, ticket: Ticket, now: Timestamp) -> Option<(W, Option<Cancelled>)> {
        let waiter = self.waiters.remove(&ticket)?;
        Some((waiter, self.engine.cancel(ticket, now)))
    }

    /// Forgets the waiter of `ticket` without withdrawing the request (its process is
    /// terminating, which withdraws it).
    pub fn forget(&mut self, ticket: Ticket) -> Option<W> {
        self.waiters.remove(&ticket)
    }

    /// The waiter under `ticket`, if it still waits.
    pub fn waiter(&self, ticket: Ticket) -> Option<&W> {
        self.waiters.get(&ticket)
    }

    /// Every waiting ticket and its waiter.
    pub fn waiters(&self) -> impl Iterator<Item = (Ticket, &W)> {
        self.waiters
            .iter()
            .map(|(&ticket, waiter)| (ticket, waiter))
    }
}

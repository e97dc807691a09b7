//! A fast lane: a delegated mailbox's queue, run by the in-process transport under a lock of its
//! own.
//!
//! The in-process node carries every operation out on one engine under one lock, so a producer
//! and a consumer on two CPUs take turns on that lock for every message, however unrelated their
//! work. For a mailbox the engine can [delegate](postbox_core::Engine::delegate) — bounded, FIFO,
//! blocking on overflow, any message to any permitted receiver — the node lends the queue to a
//! lane, and plain sends and receives on it take only the lane's lock: the two ends of one
//! mailbox contend with each other only, for the few instructions of a queue push or pop.
//!
//! A lane keeps the engine's rules for that mailbox exactly: the message and byte bounds, the
//! size rule, who may send and receive, FIFO order, waiting senders admitted in order, a message
//! handed straight to the longest-waiting receiver, sequence numbers and statistics. Anything
//! else — a typed receive, a select, a receipt, a future, statistics, an administrative change, a
//! termination — makes the node [take the lane back](Lane::take_back) first: its queue,
//! statistics and waiting operations return to the engine in order, and the lane is lent again
//! once the mailbox is idle.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use postbox_core::{
    Cancelled, Delegation, Handback, MailboxId, Message, MessageKind, Pid, Received, RecvError,
    SelectError, SendError, SendErrorKind, Timestamp, Wait,
};
use postbox_wire::{Response, cancelled_response};

use crate::clock::now;
use crate::transport::{Pending, Slot, WaitFor, received, sent};
use crate::wait::Patience;

/// Marks a [`Pending::id`] as a lane waiter's (the low bits are the mailbox id), never an engine
/// ticket's.
pub(crate) const LANE_WAITER: u64 = 1 << 63;

/// How a lane took an operation.
#[derive(Debug)]
enum LaneCall<T, B> {
    /// Carried out.
    Done(T),
    /// Waiting in the lane; the answer lands in the pending slot.
    Waiting(Pending),
    /// Not the lane's to carry out (not lent, or not a caller or message it may take): the
    /// caller goes through the engine, with what it gave back.
    Declined(B),
}

/// Busy-polls before an operation that would wait registers as a waiter: on two CPUs the other
/// end usually makes room or brings a message within a few hundred nanoseconds, far sooner than
/// a waiter is registered, answered and woken.
#[derive(Debug, Default)]
struct Backoff {
    step: u32,
}

impl Backoff {
    /// Spin rounds of doubling length, then yields.
    const SPIN_STEPS: u32 = 6;
    const STEPS: u32 = 10;

    fn is_done(&self) -> bool {
        self.step >= Self::STEPS
    }

    fn snooze(&mut self) {
        if self.step < Self::SPIN_STEPS {
            for _ in 0..1_u32 << self.step {
                std::hint::spin_loop();
            }
        } else {
            std::thread::yield_now();
        }
        self.step += 1;
    }
}

/// A send waiting in the lane for room.
#[derive(Debug)]
pub(crate) struct WaitingSend {
    pub(crate) slot: Arc<Slot>,
    pub(crate) pid: Pid,
    pub(crate) message: Message,
}

/// A receive waiting in the lane for a message.
#[derive(Debug)]
pub(crate) struct WaitingRecv {
    pub(crate) slot: Arc<Slot>,
    pub(crate) pid: Pid,
}

/// What [`Lane::take_back`] returns to the engine.
#[derive(Debug)]
pub(crate) struct TakenBack {
    pub(crate) handback: Handback,
    pub(crate) senders: VecDeque<WaitingSend>,
    pub(crate) receivers: VecDeque<WaitingRecv>,
}

#[derive(Debug, Default)]
struct State {
    /// The engine's terms while the lane is lent; `None` when the engine runs the mailbox.
    terms: Option<Delegation>,
    queue: Queue,
}

/// The mailbox's queue and waiting operations while lent: apart from the terms, so that an
/// operation can read those while it changes these.
#[derive(Debug, Default)]
struct Queue {
    messages: VecDeque<Received>,
    bytes: usize,
    /// Statistics since the lane was lent (its `queued` stays empty until handed back).
    tally: Handback,
    senders: VecDeque<WaitingSend>,
    receivers: VecDeque<WaitingRecv>,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Lane {
    mailbox: MailboxId,
    state: Mutex<State>,
}

impl Queue {
    fn has_room_for(&self, terms: &Delegation, len: usize) -> bool {
        self.messages.len() < terms.messages && self.bytes + len <= terms.bytes
    }

    /// Gives `message` its sequence number and counts it as sent.
    fn accept(&mut self, sender: Pid, message: Message, now: Timestamp) -> Received {
        let seq = self.tally.next_seq;
        self.tally.next_seq += 1;
        self.tally.sent += 1;
        self.tally.last_send = Some((sender, now));
        Received {
            message,
            sender,
            seq,
            sent_at: now,
            kind: MessageKind::User,
            // A lane only ever hands a message out once: leases reclaim the mailbox first.
            attempt: 1,
        }
    }

    /// Counts `received` as taken by `receiver`.
    fn hand_over(&mut self, receiver: Pid, now: Timestamp) {
        self.tally.received += 1;
        self.tally.last_recv = Some((receiver, now));
    }

    /// Queues waiting senders' messages while the first of them fits, in order.
    fn admit_waiting_senders(&mut self, terms: &Delegation, now: Timestamp) {
        while let Some(head) = self.senders.front()
            && self.has_room_for(terms, head.message.len())
            && let Some(WaitingSend { slot, pid, message }) = self.senders.pop_front()
        {
            self.bytes += message.len();
            let accepted = self.accept(pid, message, now);
            self.messages.push_back(accepted);
            slot.fill(Ok(Response::Sent { receiver: None }));
        }
    }
}

impl Lane {
    pub(crate) fn new(mailbox: MailboxId) -> Lane {
        Lane {
            mailbox,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Lane operations leave the state consistent between any two statements that can panic
        // (none can on any input): carry on rather than poison the mailbox.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Locks the lane; an operation that may wait first polls it, briefly, until `ready` says it
    /// can go ahead (or the lane is no longer lent), so that it rarely has to register and sleep.
    fn lock_when(
        &self,
        wait: Wait,
        ready: impl Fn(&Delegation, &Queue) -> bool,
    ) -> MutexGuard<'_, State> {
        let mut backoff = Backoff::default();
        loop {
            let state = self.lock();
            let go = match &state.terms {
                Some(terms) => ready(terms, &state.queue),
                None => true,
            };
            if go || wait == Wait::Try || backoff.is_done() {
                return state;
            }
            drop(state);
            backoff.snooze();
        }
    }

    /// A plain send of `message` from `pid`, waiting (with `wait`) as `patience` allows: its
    /// result, or the message back when the lane declines it.
    pub(crate) fn send_plain(
        &self,
        wait: WaitFor<'_>,
        pid: Pid,
        message: Message,
        patience: Patience,
    ) -> Result<Result<Option<Pid>, SendError>, Message> {
        match self.send(pid, message, patience.wait(), now()) {
            LaneCall::Done(result) => Ok(result.map(|()| None)),
            LaneCall::Waiting(pending) => Ok(sent(wait(&pending, patience.deadline()))),
            LaneCall::Declined(message) => Err(message),
        }
    }

    /// A plain receive for `pid`, waiting (with `wait`) as `patience` allows: its result, or
    /// `None` when the lane declines it.
    pub(crate) fn recv_plain(
        &self,
        wait: WaitFor<'_>,
        pid: Pid,
        patience: Patience,
    ) -> Option<Result<Received, SelectError>> {
        match self.recv(pid, patience.wait(), now()) {
            LaneCall::Done(result) => Some(result),
            LaneCall::Waiting(pending) => {
                let answer = wait(&pending, patience.deadline());
                Some(received(answer).map(|(_, message)| message))
            }
            LaneCall::Declined(()) => None,
        }
    }

    /// Sends as many of `messages` from `pid` as fit now, in order, under one lock: how many were
    /// sent (taken off the front of `messages`). It stops, without waiting, at the first message
    /// that does not fit or that the lane may not take (not lent, not this sender's, breaking the
    /// size rule): that one and the rest are the caller's to send through the engine, which
    /// answers them exactly as it would a single send.
    pub(crate) fn send_many(&self, pid: Pid, messages: &mut VecDeque<Message>) -> usize {
        let now = now();
        let mut state = self.lock();
        let State {
            terms: Some(terms),
            queue,
        } = &mut *state
        else {
            return 0;
        };
        if !terms.senders.contains(&pid) {
            return 0;
        }
        let mut sent = 0;
        while let Some(message) = messages.front() {
            if !terms.admits(message) {
                break;
            }
            if let Some(waiter) = queue.receivers.pop_front() {
                let Some(message) = messages.pop_front() else {
                    break;
                };
                let received = queue.accept(pid, message, now);
                queue.hand_over(waiter.pid, now);
                waiter.slot.fill(Ok(Response::Received {
                    branch: 0,
                    message: received,
                }));
            } else if queue.senders.is_empty() && queue.has_room_for(terms, message.len()) {
                let Some(message) = messages.pop_front() else {
                    break;
                };
                queue.bytes += message.len();
                let accepted = queue.accept(pid, message, now);
                queue.messages.push_back(accepted);
            } else {
                break;
            }
            sent += 1;
        }
        sent
    }

    /// Takes up to `max` messages for `pid`, in order, under one lock; `None` when the lane may
    /// not (not lent, not this receiver's), an empty list when it has none.
    pub(crate) fn recv_many(&self, pid: Pid, max: usize) -> Option<Vec<Received>> {
        let now = now();
        let mut state = self.lock();
        let State {
            terms: Some(terms),
            queue,
        } = &mut *state
        else {
            return None;
        };
        if !terms.receivers.contains(&pid) {
            return None;
        }
        let take = max.min(queue.messages.len());
        let taken: Vec<Received> = queue.messages.drain(..take).collect();
        for received in &taken {
            queue.bytes -= received.message.len();
            queue.hand_over(pid, now);
        }
        if !taken.is_empty() {
            queue.admit_waiting_senders(terms, now);
        }
        Some(taken)
    }

    fn pending(&self, slot: Arc<Slot>) -> Pending {
        Pending {
            id: LANE_WAITER | self.mailbox.as_raw(),
            slot,
        }
    }

    /// Starts running the mailbox on the engine's `terms`. The caller holds the engine's lock.
    pub(crate) fn lend(&self, terms: Delegation) {
        let mut state = self.lock();
        state.queue.tally = Handback {
            next_seq: terms.next_seq,
            ..Handback::default()
        };
        state.terms = Some(terms);
    }

    /// Stops running the mailbox and returns everything the engine needs to run it again, or
    /// `None` when the lane was not lent. The caller holds the engine's lock.
    pub(crate) fn take_back(&self) -> Option<TakenBack> {
        let mut state = self.lock();
        state.terms.take()?;
        let queue = std::mem::take(&mut state.queue);
        let mut handback = queue.tally;
        handback.queued = queue.messages.into();
        Some(TakenBack {
            handback,
            senders: queue.senders,
            receivers: queue.receivers,
        })
    }

    /// Sends `message` from `pid`; with [`Wait::Block`], waits in the lane when there is no room.
    fn send(
        &self,
        pid: Pid,
        message: Message,
        wait: Wait,
        now: Timestamp,
    ) -> LaneCall<Result<(), SendError>, Message> {
        let mut state = self.lock_when(wait, |terms, queue| {
            !queue.receivers.is_empty()
                || (queue.senders.is_empty() && queue.has_room_for(terms, message.len()))
        });
        let State {
            terms: Some(terms),
            queue,
        } = &mut *state
        else {
            return LaneCall::Declined(message);
        };
        if !terms.senders.contains(&pid) || !terms.admits(&message) {
            return LaneCall::Declined(message);
        }
        if let Some(waiter) = queue.receivers.pop_front() {
            let received = queue.accept(pid, message, now);
            queue.hand_over(waiter.pid, now);
            waiter.slot.fill(Ok(Response::Received {
                branch: 0,
                message: received,
            }));
            return LaneCall::Done(Ok(()));
        }
        if queue.senders.is_empty() && queue.has_room_for(terms, message.len()) {
            queue.bytes += message.len();
            let accepted = queue.accept(pid, message, now);
            queue.messages.push_back(accepted);
            return LaneCall::Done(Ok(()));
        }
        match wait {
            Wait::Try => LaneCall::Done(Err(SendError::new(SendErrorKind::Full, message))),
            Wait::Block => {
                let slot = Arc::new(Slot::default());
                let waiting = WaitingSend {
                    slot: slot.clone(),
                    pid,
                    message,
                };
                queue.senders.push_back(waiting);
                LaneCall::Waiting(self.pending(slot))
            }
        }
    }

    /// Receives the oldest message for `pid`; with [`Wait::Block`], waits in the lane when there
    /// is none.
    fn recv(
        &self,
        pid: Pid,
        wait: Wait,
        now: Timestamp,
    ) -> LaneCall<Result<Received, SelectError>, ()> {
        let mut state = self.lock_when(wait, |_, queue| !queue.messages.is_empty());
        let State {
            terms: Some(terms),
            queue,
        } = &mut *state
        else {
            return LaneCall::Declined(());
        };
        if !terms.receivers.contains(&pid) {
            return LaneCall::Declined(());
        }
        if let Some(received) = queue.messages.pop_front() {
            queue.bytes -= received.message.len();
            queue.hand_over(pid, now);
            queue.admit_waiting_senders(terms, now);
            return LaneCall::Done(Ok(received));
        }
        match wait {
            Wait::Try => LaneCall::Done(Err(SelectError {
                branch: 0,
                error: RecvError::Empty,
            })),
            Wait::Block => {
                let slot = Arc::new(Slot::default());
                queue.receivers.push_back(WaitingRecv {
                    slot: slot.clone(),
                    pid,
                });
                LaneCall::Waiting(self.pending(slot))
            }
        }
    }

    /// Withdraws the lane waiter whose slot is `slot` (its deadline passed): the withdrawal's
    /// answer, or `None` when it is no longer waiting in the lane (answered, or moved to the
    /// engine when the lane was taken back).
    pub(crate) fn withdraw(&self, slot: &Arc<Slot>, now: Timestamp) -> Option<Response> {
        let mut state = self.lock();
        let State { terms, queue } = &mut *state;
        if let Some(index) = queue
            .senders
            .iter()
            .position(|w| Arc::ptr_eq(&w.slot, slot))
        {
            let waiting = queue.senders.remove(index)?;
            // Later senders may fit where this one did not.
            if let Some(terms) = terms {
                queue.admit_waiting_senders(terms, now);
            }
            return Some(cancelled_response(Cancelled::Send(waiting.message)));
        }
        let index = queue
            .receivers
            .iter()
            .position(|w| Arc::ptr_eq(&w.slot, slot))?;
        queue.receivers.remove(index);
        Some(cancelled_response(Cancelled::Recv))
    }
}

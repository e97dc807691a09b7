//! A completion slot: where a waiting request's answer lands, and how its waiter is woken.
//!
//! One slot per waiting request. The transport fills it; a thread waits on it (spinning
//! briefly, then yielding, then parking on a condition variable) or a future registers its waker
//! in it. Spinning and yielding first matter: a producer and consumer on two CPUs usually hand
//! over within microseconds, far sooner than a park/unpark round trip, and the filler only pays
//! for a wake-up system call when the waiter has really parked.
//!
//! A slot whose waiter has gone (a dropped future) may be *orphaned* with a handler
//! ([`Slot::orphan`]): its answer, already in or still to come, goes to the handler instead of
//! being dropped, so that a message the answer carries can be handed back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::task::Waker;
use std::time::Instant;

use super::answer::Answer;

/// How many times a waiting thread polls the slot, busy, before it starts yielding.
const SPINS: u32 = 64;

/// How many times it then yields its CPU before parking.
const YIELDS: u32 = 32;

/// What an orphaned slot's answer goes to (see [`Slot::orphan`]).
pub(crate) type Orphaned = Box<dyn FnOnce(Answer) + Send>;

#[derive(Default)]
struct State {
    done: Option<Answer>,
    waker: Option<Waker>,
    /// Nobody waits any more: the answer goes here when it comes.
    orphaned: Option<Orphaned>,
    /// A thread sleeps on the condition variable and must be notified.
    parked: bool,
    /// Something changed for the waiter other than its answer (see [`Slot::nudge`]).
    nudged: bool,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("done", &self.done)
            .field("waker", &self.waker)
            .field("orphaned", &self.orphaned.is_some())
            .field("parked", &self.parked)
            .field("nudged", &self.nudged)
            .finish()
    }
}

/// How [`Slot::wait_or_nudged`] ended.
#[derive(Debug)]
pub(crate) enum Waited {
    /// With the answer.
    Filled(Answer),
    /// Without it: the waiter was nudged.
    Nudged,
    /// Without it: the deadline passed.
    TimedOut,
}

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    ready: AtomicBool,
    state: Mutex<State>,
    filled: Condvar,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave `State` inconsistent: recover.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stores the answer and wakes the waiter. A slot is filled at most once; later fills are
    /// ignored, so a transport may race a withdrawal against an answer safely.
    /// An orphaned slot hands the answer to its handler instead, on the filling thread (outside
    /// the slot's lock; a transport must not fill an orphaned slot under a lock the handler may
    /// take — the in-process transport never fills one late: its withdrawal is immediate).
    pub(crate) fn fill(&self, answer: Answer) {
        let (waker, parked) = {
            let mut state = self.lock();
            if self.ready.load(Ordering::Acquire) {
                return;
            }
            if let Some(orphaned) = state.orphaned.take() {
                self.ready.store(true, Ordering::Release);
                drop(state);
                orphaned(answer);
                return;
            }
            state.done = Some(answer);
            self.ready.store(true, Ordering::Release);
            (state.waker.take(), state.parked)
        };
        if parked {
            self.filled.notify_all();
        }
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Nobody will wait for the answer any more: `handler` gets it — at once if it is in, else
    /// when it is filled. A slot dropped unfilled drops the handler unrun (the request was
    /// withdrawn, or the link is gone).
    pub(crate) fn orphan(&self, handler: Orphaned) {
        let mut state = self.lock();
        match state.done.take() {
            Some(answer) => {
                drop(state);
                handler(answer);
            }
            None if self.ready.load(Ordering::Acquire) => {}
            None => state.orphaned = Some(handler),
        }
    }

    /// Whether the answer is in.
    pub(crate) fn is_filled(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Takes the answer if it is in.
    pub(crate) fn take(&self) -> Option<Answer> {
        if !self.is_filled() {
            return None;
        }
        self.lock().done.take()
    }

    /// Wakes the waiter without an answer, so that it looks again at what it waits for (the
    /// socket transport: nobody reads the connection any more, and the waiter may take over).
    /// A nudge before the waiter waits is kept for it.
    pub(crate) fn nudge(&self) {
        let parked = {
            let mut state = self.lock();
            state.nudged = true;
            state.parked
        };
        if parked {
            self.filled.notify_all();
        }
    }

    /// Takes the answer if it is there, else registers `waker` to be woken when it comes.
    pub(crate) fn take_or_register(&self, waker: &Waker) -> Option<Answer> {
        let mut state = self.lock();
        match state.done.take() {
            Some(done) => Some(done),
            None => {
                if !state.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
                    state.waker = Some(waker.clone());
                }
                None
            }
        }
    }

    /// Blocks the calling thread until the slot is filled or `deadline` passes (`None`: forever).
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> Option<Answer> {
        loop {
            match self.wait_or_nudged(deadline) {
                Waited::Filled(answer) => return Some(answer),
                Waited::Nudged => continue,
                Waited::TimedOut => return None,
            }
        }
    }

    /// Blocks the calling thread until the slot is filled, the waiter is nudged, or `deadline`
    /// passes (`None`: forever).
    pub(crate) fn wait_or_nudged(&self, deadline: Option<Instant>) -> Waited {
        for round in 0..SPINS + YIELDS {
            if self.ready.load(Ordering::Acquire) {
                break;
            }
            if round < SPINS {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        let mut state = self.lock();
        loop {
            if let Some(done) = state.done.take() {
                state.parked = false;
                return Waited::Filled(done);
            }
            if std::mem::take(&mut state.nudged) {
                state.parked = false;
                return Waited::Nudged;
            }
            state.parked = true;
            state = match deadline {
                None => self.filled.wait(state).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                        state.parked = false;
                        return Waited::TimedOut;
                    };
                    self.filled
                        .wait_timeout(state, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }
}

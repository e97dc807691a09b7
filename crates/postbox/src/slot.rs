//! A completion slot: where a waiting request's answer lands, and how its waiter is woken.
//!
//! One slot per waiting request. The transport fills it; a thread waits on it (spinning
//! briefly, then parking on a condition variable) or a future registers its waker in it. The
//! brief spin matters: a producer and consumer on two CPUs usually hand over within a few hundred
//! nanoseconds, far sooner than a park/unpark round trip.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::task::Waker;
use std::time::Instant;

use crate::link::Answer;

/// How many times a waiting thread polls the slot before parking.
const SPIN_LIMIT: u32 = 200;

#[derive(Debug, Default)]
struct State {
    done: Option<Answer>,
    waker: Option<Waker>,
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
    pub(crate) fn fill(&self, answer: Answer) {
        let waker = {
            let mut state = self.lock();
            if self.ready.load(Ordering::Acquire) {
                return;
            }
            state.done = Some(answer);
            self.ready.store(true, Ordering::Release);
            state.waker.take()
        };
        self.filled.notify_all();
        if let Some(waker) = waker {
            waker.wake();
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
        for _ in 0..SPIN_LIMIT {
            if self.ready.load(Ordering::Acquire) {
                break;
            }
            std::hint::spin_loop();
        }
        let mut state = self.lock();
        loop {
            if let Some(done) = state.done.take() {
                return Some(done);
            }
            state = match deadline {
                None => self.filled.wait(state).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let left = deadline.checked_duration_since(Instant::now())?;
                    self.filled
                        .wait_timeout(state, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }
}

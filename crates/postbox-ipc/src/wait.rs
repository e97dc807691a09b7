//! Blocking as the kernel does: a call waiting for a message or for room returns `EINTR` when a
//! signal handler interrupts it.
//!
//! postbox's blocking calls wait on a condition variable that signals do not disturb (Rust
//! restarts the futex wait), so the shim does not use them for the calls that block. It runs
//! the operation's future instead (`recv_matching_async`, `send_async`, `lease_matching_async`)
//! on a one-future executor: the future's waker writes to an eventfd, and the calling thread
//! sleeps in `ppoll(2)` on that eventfd. `ppoll` is interruptible, and it sets the signal mask
//! for the sleep atomically, which is what makes this sound without installing any handler:
//!
//! 1. On entry the thread blocks every signal (`pthread_sigmask`), keeping the caller's mask.
//!    A signal arriving while the future is polled in user space stays pending; nothing is
//!    missed in the gap between deciding to sleep and sleeping.
//! 2. The thread sleeps in `ppoll` with the caller's mask back in force. A pending or arriving
//!    signal whose handler runs makes `ppoll` fail with `EINTR` — and the call returns `EINTR`,
//!    after dropping the future. Dropping is cancel-safe in postbox: a send that was waiting is
//!    withdrawn (not delivered), and a message a withdrawn receive took meanwhile goes back to
//!    the front of its mailbox — so no message is lost or sent twice.
//! 3. On return the caller's mask is restored; a signal that came while the operation
//!    completed is delivered then, after a successful call, as on Linux.
//!
//! Which calls restart under `SA_RESTART` (signal(7)): System V `msgsnd`/`msgrcv` never do
//! ([`Restart::Never`]). POSIX `mq_send`, `mq_receive` and their timed forms do
//! ([`Restart::WithSaRestart`]): for the sleep, the signals whose handlers have `SA_RESTART`
//! stay blocked and are watched through a signalfd (never read); when one is pending, the
//! thread lets it through (its handler runs), blocks again and goes back to waiting. A handler
//! installed without `SA_RESTART` interrupts the call as above.
//!
//! The connection's helper thread is started with every signal blocked (see `connection`), so a
//! signal sent to the process is delivered to the program's own threads, as it would be without
//! the shim.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use std::ffi::c_int;

use crate::sys::{self, EventFd, Polled, SignalFd};

/// Whether a call restarts when a handler installed with `SA_RESTART` runs during it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Restart {
    /// Always `EINTR` (System V IPC).
    Never,
    /// `EINTR` only for a handler without `SA_RESTART` (POSIX message queues).
    WithSaRestart,
}

/// How an interruptible wait ended.
#[derive(Debug)]
pub(crate) enum Waited<T> {
    /// The operation finished (successfully or not).
    Done(T),
    /// A signal handler ran (`EINTR`); the operation was withdrawn.
    Interrupted,
    /// The deadline passed; the operation was withdrawn.
    TimedOut,
}

/// A waker that makes an eventfd readable. The eventfd lives as long as the last waker clone,
/// so a waker the transport keeps after the wait never writes to a closed descriptor.
struct Notifier(EventFd);

impl Wake for Notifier {
    fn wake(self: Arc<Self>) {
        self.0.notify();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.notify();
    }
}

/// The caller's signal mask, restored when dropped.
struct MaskGuard(sys::SignalSet);

impl Drop for MaskGuard {
    fn drop(&mut self) {
        sys::set_signal_mask(&self.0);
    }
}

/// Runs `operation` to completion on this thread, until `deadline` at most, returning early
/// if a signal handler interrupts it (per `restart`). `Err` only when the waiting machinery
/// itself fails (no descriptors left).
pub(crate) fn wait<F: Future>(
    operation: F,
    deadline: Option<Instant>,
    restart: Restart,
) -> Result<Waited<F::Output>, c_int> {
    let notifier = Arc::new(Notifier(EventFd::new()?));
    let waker = Waker::from(notifier.clone());
    let mut context = Context::from_waker(&waker);
    let caller = MaskGuard(sys::block_signals());
    let mut operation = pin!(operation);
    loop {
        if let Poll::Ready(output) = operation.as_mut().poll(&mut context) {
            return Ok(Waited::Done(output));
        }
        let timeout = deadline.map(|at| at.saturating_duration_since(Instant::now()));
        if timeout == Some(Duration::ZERO) {
            return Ok(Waited::TimedOut);
        }
        let restarting = match restart {
            Restart::Never => None,
            Restart::WithSaRestart => Some(sys::restarting_handlers(&caller.0)),
        };
        let mut mask = caller.0;
        let watch = match restarting {
            Some(set) if !set.is_empty() => {
                for signal in 1..=libc::SIGRTMAX() {
                    if set.contains(signal) {
                        mask.insert(signal);
                    }
                }
                Some(SignalFd::new(&set)?)
            }
            _ => None,
        };
        match sys::ppoll(&notifier.0, watch.as_ref(), timeout, &mask)? {
            Polled::Woken => notifier.0.drain(),
            Polled::SignalPending => {
                // An SA_RESTART handler's signal: let it run, then wait on.
                sys::set_signal_mask(&caller.0);
                sys::block_signals();
            }
            Polled::Interrupted => return Ok(Waited::Interrupted),
            Polled::TimedOut => {} // the deadline check above ends it
        }
    }
}

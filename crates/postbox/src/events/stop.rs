//! How a source's thread is told to stop, whatever it is waiting on.

use std::future::Future;
use std::os::unix::net::UnixStream;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Instant;

use signal_hook::iterator::Handle;

/// What else must be woken, besides the thread, for a source to see its stop: the source's wait
/// that parking does not interrupt.
#[derive(Debug)]
pub(crate) enum Wakeup {
    /// Nothing: the source only parks (timers).
    Park,
    /// A signal iterator the source waits on; closing it ends the wait.
    Signals(Handle),
    /// One end of a socket pair whose other end the source polls beside its file descriptor;
    /// writing a byte ends the poll.
    Socket(UnixStream),
}

/// A source's stop flag, shared by its handle and its thread.
///
/// The thread checks [`Stop::is_stopped`] between waits and waits only in ways a stop ends:
/// parking ([`Stop::sleep_until`], and [`Stop::block_on`] for sends), or the [`Wakeup`].
#[derive(Debug)]
pub(crate) struct Stop {
    stopped: AtomicBool,
    /// The source's thread, set once it has started.
    thread: OnceLock<Thread>,
    wakeup: Mutex<Wakeup>,
}

impl Stop {
    /// A stop flag, not raised, that also wakes `wakeup`.
    pub(crate) fn new(wakeup: Wakeup) -> Arc<Stop> {
        Arc::new(Stop {
            stopped: AtomicBool::new(false),
            thread: OnceLock::new(),
            wakeup: Mutex::new(wakeup),
        })
    }

    /// Called first by the source's thread: names the thread that [`Stop::raise`] unparks.
    pub(crate) fn attach(&self) {
        let _ = self.thread.set(thread::current());
    }

    /// Whether the source has been asked to stop.
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Asks the source to stop, and wakes it wherever it waits.
    pub(crate) fn raise(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
        let wakeup = self.wakeup.lock().unwrap_or_else(|p| p.into_inner());
        match &*wakeup {
            Wakeup::Park => {}
            Wakeup::Signals(handle) => handle.close(),
            Wakeup::Socket(socket) => {
                // A full socket buffer already holds a wake-up; any error means the poller's
                // end is gone, and with it the need to wake it.
                let _ = std::io::Write::write(&mut &*socket, &[1]);
            }
        }
    }

    /// Parks the calling (source) thread until `deadline`; `false` when stopped first.
    pub(crate) fn sleep_until(&self, deadline: Instant) -> bool {
        loop {
            if self.is_stopped() {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            thread::park_timeout(deadline - now);
        }
    }

    /// Runs `future` on the calling (source) thread until it completes, or until the source is
    /// stopped: then the future is dropped (a send is withdrawn) and the result is `None`.
    ///
    /// This is what lets a source wait as long as a bounded mailbox stays full and still stop at
    /// once: the library's futures work on any executor, and this one is a parked thread.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> Option<F::Output> {
        let waker = Waker::from(Arc::new(Unpark(thread::current())));
        let mut context = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if self.is_stopped() {
                return None;
            }
            if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
                return Some(output);
            }
            // An unpark between the poll and here (an answer, or a stop) is not lost: it makes
            // this park return at once.
            thread::park();
        }
    }
}

/// A waker that unparks the thread blocked in [`Stop::block_on`].
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

//! The handle of a running event source.

use std::sync::Arc;
use std::thread::JoinHandle;

use postbox_core::Pid;

use super::destination::Destination;
use super::poster::Poster;
use super::source_error::SourceError;
use super::start_error::StartError;
use super::stop::{Stop, Wakeup};
use crate::process::Process;

/// A running event source: a thread that posts events from its own process.
///
/// The source ends by itself when it has nothing more to say (a timer's last tick, a file
/// descriptor's end, a child's exit) or when posting fails (the mailbox deleted: `Gone`); it ends
/// when asked with [`EventSource::stop`], or when the handle is dropped. However it ends, its
/// process is terminated — receivers blocked in `recv_from` its pid get `PeerGone`, monitors a
/// down notification — and by the time `stop`, `join` or `drop` returns, it has been.
#[derive(Debug)]
pub struct EventSource {
    pid: Pid,
    stop: Arc<Stop>,
    thread: Option<JoinHandle<Result<(), SourceError>>>,
}

impl EventSource {
    /// Opens `destination` from `process` and runs `body` on a thread of its own, which gets the
    /// poster; `wakeup` is what [`Stop::raise`] wakes besides the thread.
    pub(crate) fn spawn(
        what: &str,
        process: Process,
        destination: Destination,
        wakeup: Wakeup,
        body: impl FnOnce(&Poster) -> Result<(), SourceError> + Send + 'static,
    ) -> Result<EventSource, StartError> {
        let pid = process.pid();
        let stop = Stop::new(wakeup);
        let poster = Poster::open(process, destination, stop.clone())?;
        let thread = std::thread::Builder::new()
            .name(format!("postbox-{what}-{pid}"))
            .spawn(move || {
                poster.stop().attach();
                body(&poster)
            })
            .map_err(StartError::Spawn)?;
        Ok(EventSource {
            pid,
            stop,
            thread: Some(thread),
        })
    }

    /// The source's pid: the sender of every event it posts, for `recv_from` and
    /// `Selector::From`, and the process to `monitor`.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Whether the source has ended (by itself or by a failure); [`EventSource::join`] then
    /// returns at once.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops the source, withdrawing a post that waits for room, and waits until its thread has
    /// ended and its process is terminated.
    ///
    /// # Errors
    ///
    /// The [`SourceError`] that had already ended the source, if one had.
    pub fn stop(mut self) -> Result<(), SourceError> {
        self.stop.raise();
        self.finish()
    }

    /// Waits until the source ends by itself: a timer after its last tick, a file descriptor at
    /// its end, a child at its exit — or a failure. A source that never ends by itself (a
    /// periodic timer with no count, a signal source) is waited for until posting fails.
    ///
    /// # Errors
    ///
    /// The [`SourceError`] that ended the source.
    pub fn join(mut self) -> Result<(), SourceError> {
        self.finish()
    }

    fn finish(&mut self) -> Result<(), SourceError> {
        match self.thread.take() {
            Some(thread) => thread.join().unwrap_or(Err(SourceError::Panicked)),
            None => Ok(()),
        }
    }
}

impl Drop for EventSource {
    fn drop(&mut self) {
        self.stop.raise();
        let _ = self.finish();
    }
}

//! Child exit sources: a child process's end, posted as an event.

use std::os::unix::process::ExitStatusExt as _;
use std::process::Child;

use super::destination::Destination;
use super::event::{Event, ExitStatus};
use super::event_source::EventSource;
use super::signal::Signal;
use super::source_error::SourceError;
use super::start_error::StartError;
use super::stop::Wakeup;
use crate::process::Process;

/// A child exit source: waits for a child process to end, posts one
/// [`Exit`](super::EventKind::Exit) event with its exit code or the signal that killed it, and
/// ends.
///
/// The source owns the [`Child`] and reaps it. Stopped before the child has ended, it leaves the
/// child running, as dropping a `Child` does. It waits on `SIGCHLD` (installing a handler for it
/// while it runs), so no thread is spent polling.
///
/// ```
/// use postbox::events::{ChildExit, Event, ExitStatus};
/// use postbox::InprocNode;
///
/// let node = InprocNode::new();
/// let me = node.process();
/// let child = std::process::Command::new("sh").args(["-c", "exit 3"]).spawn()?;
/// let source = ChildExit::watch(child).start(node.process(), me.pid())?;
/// let event = Event::from_received(&me.recv_from(source.pid())?);
/// assert_eq!(event, Some(Event::Exit(ExitStatus::Code(3))));
/// source.join()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ChildExit {
    child: Child,
}

impl ChildExit {
    /// A source for `child`'s end.
    pub fn watch(child: Child) -> ChildExit {
        ChildExit { child }
    }

    /// Starts waiting as `process` (the source's own process, terminated when the source ends),
    /// posting to `destination`.
    ///
    /// # Errors
    ///
    /// [`StartError::Signals`] when `SIGCHLD` cannot be watched; [`StartError::Open`] when the
    /// destination mailbox cannot be opened; [`StartError::Spawn`].
    pub fn start(
        self,
        process: Process,
        destination: impl Into<Destination>,
    ) -> Result<EventSource, StartError> {
        let mut signals =
            signal_hook::iterator::Signals::new([Signal::CHLD.number()]).map_err(|error| {
                StartError::Signals {
                    signals: Signal::CHLD.name().to_owned(),
                    error,
                }
            })?;
        let wakeup = Wakeup::Signals(signals.handle());
        let mut child = self.child;
        EventSource::spawn(
            "child",
            process,
            destination.into(),
            wakeup,
            move |poster| {
                loop {
                    // The handler is installed before the first look, and a SIGCHLD that arrives
                    // between a look and the wait makes the wait return at once: no exit is missed.
                    if let Some(status) = child.try_wait().map_err(SourceError::Wait)? {
                        let status = match (status.code(), status.signal()) {
                            (Some(code), _) => ExitStatus::Code(code),
                            (None, Some(number)) => match Signal::from_number(number) {
                                Some(signal) => ExitStatus::Signal(signal),
                                None => ExitStatus::Code(128 + number),
                            },
                            (None, None) => ExitStatus::Code(-1),
                        };
                        poster.post(Event::Exit(status).to_message())?;
                        return Ok(());
                    }
                    if poster.stop().is_stopped() {
                        return Ok(());
                    }
                    signals.wait().for_each(drop);
                    if signals.is_closed() {
                        return Ok(());
                    }
                }
            },
        )
    }
}

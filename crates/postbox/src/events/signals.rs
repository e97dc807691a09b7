//! Signals: POSIX signals this program receives, posted as events.

use super::destination::Destination;
use super::event::Event;
use super::event_source::EventSource;
use super::poster::Posted;
use super::signal::Signal;
use super::start_error::StartError;
use super::stop::Wakeup;
use crate::process::Process;

/// A signal source: posts a [`Signal`](super::EventKind::Signal) event each time this program
/// receives one of the watched signals.
///
/// While the source runs, a watched signal no longer has its default effect (`SIGINT` no longer
/// ends the program): it becomes an event. The handler is installed when [`Signals::start`]
/// returns, so a signal raised after that is never lost; the same signal arriving several times
/// before the source has posted it is posted once (POSIX signals are not queued). Several sources
/// may watch the same signal: each posts it. After the source stops, the signal is ignored rather
/// than restored to its default action (the handler cannot be uninstalled without unsafe code).
///
/// Posting waits while the destination is full; signals that arrive meanwhile are posted after,
/// each kind once.
///
/// ```
/// use postbox::events::{Event, Signal, Signals};
/// use postbox::InprocNode;
///
/// let node = InprocNode::new();
/// let me = node.process();
/// let source = Signals::new([Signal::WINCH]).start(node.process(), me.pid())?;
/// signal_hook::low_level::raise(Signal::WINCH.number())?;
/// let event = Event::from_received(&me.recv_from(source.pid())?);
/// assert_eq!(event, Some(Event::Signal(Signal::WINCH)));
/// source.stop()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Signals {
    signals: Vec<Signal>,
}

impl Signals {
    /// A source watching `signals`.
    pub fn new(signals: impl IntoIterator<Item = Signal>) -> Signals {
        Signals {
            signals: signals.into_iter().collect(),
        }
    }

    /// Installs the handlers and starts posting as `process` (the source's own process,
    /// terminated when the source ends) to `destination`.
    ///
    /// # Errors
    ///
    /// [`StartError::Signals`] for a signal that cannot be watched ([`Signal::can_watch`]);
    /// [`StartError::Open`] when the destination mailbox cannot be opened;
    /// [`StartError::Spawn`].
    pub fn start(
        self,
        process: Process,
        destination: impl Into<Destination>,
    ) -> Result<EventSource, StartError> {
        let names = || {
            let names: Vec<&str> = self.signals.iter().map(|s| s.name()).collect();
            names.join(", ")
        };
        let refuse = |error| StartError::Signals {
            signals: names(),
            error,
        };
        if let Some(forbidden) = self.signals.iter().find(|s| !s.can_watch()) {
            return Err(refuse(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{forbidden} cannot be caught by a program"),
            )));
        }
        let numbers: Vec<i32> = self.signals.iter().map(|s| s.number()).collect();
        let mut iterator = signal_hook::iterator::Signals::new(&numbers).map_err(refuse)?;
        let wakeup = Wakeup::Signals(iterator.handle());
        EventSource::spawn(
            "signals",
            process,
            destination.into(),
            wakeup,
            move |poster| {
                loop {
                    if poster.stop().is_stopped() {
                        return Ok(());
                    }
                    // Ends at once, empty, when the stop closes the iterator.
                    for number in iterator.wait() {
                        let Some(signal) = Signal::from_number(number) else {
                            continue;
                        };
                        if let Posted::Stopped = poster.post(Event::Signal(signal).to_message())? {
                            return Ok(());
                        }
                    }
                    if iterator.is_closed() {
                        return Ok(());
                    }
                }
            },
        )
    }
}

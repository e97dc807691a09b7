//! Timers: one-shot and periodic ticks, coalesced when the destination is full.

use std::time::{Duration, Instant};

use super::destination::Destination;
use super::event::Event;
use super::event_source::EventSource;
use super::poster::{Posted, Poster};
use super::source_error::SourceError;
use super::start_error::StartError;
use super::stop::Wakeup;
use crate::process::Process;

/// When a timer ticks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Schedule {
    /// Once, this long after the start.
    After(Duration),
    /// Every period, the first one period after the start.
    Every(Duration),
}

/// A timer source: posts [`Tick`](super::EventKind::Tick) events, once or every period.
///
/// Tick `n` is due `n` periods after the start — deadlines never drift with the time posting
/// takes. A tick that finds the destination full is **not** queued anywhere: it is counted, and
/// the next tick that fits carries the count (`missed`), so a slow receiver sees fewer ticks,
/// never a backlog, and never more queued than the mailbox's bound. The last tick of a timer with
/// a count (and the only one of [`Timer::after`]) waits for room instead, so that a timer with a
/// count posts exactly that many events; the timer then ends.
///
/// ```
/// use std::time::Duration;
/// use postbox::events::{Event, Timer};
/// use postbox::InprocNode;
///
/// let node = InprocNode::new();
/// let me = node.process();
/// let timer = Timer::every(Duration::from_millis(1)).count(2).start(node.process(), me.pid())?;
/// let first = Event::from_received(&me.recv_from(timer.pid())?);
/// assert!(matches!(first, Some(Event::Tick { tick: 1.., .. })));
/// me.recv_from(timer.pid())?;
/// timer.join()?; // ended by itself after its second tick
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Timer {
    schedule: Schedule,
    count: Option<u64>,
}

impl Timer {
    /// A timer that ticks once, `delay` after it starts.
    pub fn after(delay: Duration) -> Timer {
        Timer {
            schedule: Schedule::After(delay),
            count: Some(1),
        }
    }

    /// A timer that ticks every `period`, the first tick one period after it starts, until it is
    /// stopped (or [`Timer::count`] ticks have been posted).
    ///
    /// # Panics
    ///
    /// If `period` is zero.
    pub fn every(period: Duration) -> Timer {
        assert!(!period.is_zero(), "a timer's period must not be zero");
        Timer {
            schedule: Schedule::Every(period),
            count: None,
        }
    }

    /// Ends the timer after it has posted `ticks` tick events (a periodic timer; a one-shot one
    /// posts one).
    ///
    /// # Panics
    ///
    /// If `ticks` is zero.
    pub fn count(mut self, ticks: u64) -> Timer {
        assert!(ticks > 0, "a timer's count must be at least 1");
        if let Schedule::Every(_) = self.schedule {
            self.count = Some(ticks);
        }
        self
    }

    /// Starts the timer as `process` (the source's own process, terminated when the source
    /// ends), posting to `destination`.
    ///
    /// # Errors
    ///
    /// [`StartError::Open`] when the destination mailbox cannot be opened;
    /// [`StartError::Spawn`].
    pub fn start(
        self,
        process: Process,
        destination: impl Into<Destination>,
    ) -> Result<EventSource, StartError> {
        let started = Instant::now();
        EventSource::spawn(
            "timer",
            process,
            destination.into(),
            Wakeup::Park,
            move |poster| self.run(poster, started),
        )
    }

    fn run(self, poster: &Poster, started: Instant) -> Result<(), SourceError> {
        let (first, period) = match self.schedule {
            Schedule::After(delay) => (delay, None),
            Schedule::Every(period) => (period, Some(period)),
        };
        let mut posted = 0;
        let mut missed = 0;
        let mut tick: u64 = 1;
        let mut due = started + first;
        loop {
            if !poster.stop().sleep_until(due) {
                return Ok(());
            }
            if let Some(period) = period {
                // Ticks whose time passed while this thread was late (not scheduled, or a slow
                // node) are folded in, as ticks that found no room are.
                let elapsed = Instant::now().saturating_duration_since(started);
                let now_tick =
                    u64::try_from(elapsed.as_nanos() / period.as_nanos()).unwrap_or(tick);
                if now_tick > tick {
                    missed += now_tick - tick;
                    tick = now_tick;
                }
            }
            let last = self.count.is_some_and(|count| posted + 1 == count);
            let message = Event::Tick { tick, missed }.to_message();
            let outcome = if last {
                poster.post(message)?
            } else {
                poster.try_post(message)?
            };
            match outcome {
                Posted::Sent => {
                    posted += 1;
                    missed = 0;
                    if last {
                        return Ok(());
                    }
                }
                Posted::Full => missed += 1,
                Posted::Stopped => return Ok(()),
            }
            let Some(period) = period else {
                return Ok(());
            };
            tick += 1;
            match due_at(started, period, tick) {
                Some(at) => due = at,
                // Beyond what the clock can express: never due.
                None => {
                    while poster.stop().sleep_until(Instant::now() + period) {}
                    return Ok(());
                }
            }
        }
    }
}

/// When tick `tick` of a timer with `period` started at `started` is due; `None` past the
/// clock's range.
fn due_at(started: Instant, period: Duration, tick: u64) -> Option<Instant> {
    let nanos = period.as_nanos().checked_mul(u128::from(tick))?;
    let offset = Duration::from_secs(u64::try_from(nanos / 1_000_000_000).ok()?)
        + Duration::from_nanos((nanos % 1_000_000_000) as u64);
    started.checked_add(offset)
}

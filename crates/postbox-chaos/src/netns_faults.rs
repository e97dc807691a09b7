//! A schedule of cuts and partitions played on two network namespaces.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::fault_counts::{Counters, FaultCounts};
use crate::netns::{NetnsError, NetnsPair};
use crate::schedule::{Fault, Step};

/// Plays a [`Schedule`](crate::Schedule) on a [`NetnsPair`], where the kernel itself breaks
/// the link: a [`Fault::Cut`] aborts every established connection between the hosts
/// ([`NetnsPair::cut`]: a reset on both sides, whichever [`Cut`](crate::Cut) was drawn), a
/// [`Fault::Partition`] drops every packet either way with nftables for its duration
/// ([`NetnsPair::partition`], then [`NetnsPair::heal`]). Other faults need bytes to pass
/// through a [`FaultProxy`](crate::FaultProxy) and end the play with
/// [`NetnsError::Unsupported`].
///
/// [`play`](Self::play) blocks: run it on a thread of its own, and read
/// [`counts`](Self::counts) or [`stop`](Self::stop) it from another. Its counts: `resets`, the
/// connections cut (a cut finding none open counts nothing); `partitions`, those begun.
#[derive(Debug, Default)]
pub struct NetnsFaults {
    counters: Counters,
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl NetnsFaults {
    /// A player that has played nothing yet.
    pub fn new() -> NetnsFaults {
        NetnsFaults::default()
    }

    /// What it has done so far.
    pub fn counts(&self) -> FaultCounts {
        self.counters.snapshot()
    }

    /// Ends [`play`](Self::play) at once; a partition under way is healed first.
    pub fn stop(&self) {
        *self.lock() = true;
        self.wake.notify_all();
    }

    /// Plays `steps` on `pair` until they run out or [`stop`](Self::stop): each step's pause is
    /// counted from when the previous fault was applied. Returns how many faults were applied.
    ///
    /// # Errors
    ///
    /// When a cut, partition or heal fails (see [`NetnsPair`]), or a step holds a fault other
    /// than a cut or a partition; the pair is healed first.
    pub fn play(
        &self,
        pair: &mut NetnsPair,
        steps: impl IntoIterator<Item = Step>,
    ) -> Result<u64, NetnsError> {
        let result = self.play_steps(pair, steps);
        let healed = pair.heal();
        result.and_then(|played| healed.map(|()| played))
    }

    fn play_steps(
        &self,
        pair: &mut NetnsPair,
        steps: impl IntoIterator<Item = Step>,
    ) -> Result<u64, NetnsError> {
        let mut played = 0;
        let mut at = Instant::now();
        for step in steps {
            at += step.after;
            if self.stopped_by(at) {
                break;
            }
            match step.fault {
                Fault::Cut(_) => {
                    let cut = pair.cut()?;
                    Counters::add(&self.counters.resets, cut);
                }
                Fault::Partition(lasts) => {
                    pair.partition()?;
                    Counters::add(&self.counters.partitions, 1);
                    let stopped = self.stopped_by(Instant::now() + lasts);
                    pair.heal()?;
                    if stopped {
                        return Ok(played + 1);
                    }
                }
                fault => return Err(NetnsError::Unsupported { fault }),
            }
            played += 1;
        }
        Ok(played)
    }

    /// Waits until `deadline` unless stopped first; whether it was stopped.
    fn stopped_by(&self, deadline: Instant) -> bool {
        let mut stopped = self.lock();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if *stopped || left == Duration::ZERO {
                return *stopped;
            }
            stopped = self
                .wake
                .wait_timeout(stopped, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    fn lock(&self) -> MutexGuard<'_, bool> {
        // A bool stays consistent across a panic elsewhere.
        self.stopped
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

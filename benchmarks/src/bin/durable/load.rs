//! The load every system gets: `producers` producers, each sending one message at a time and
//! waiting for its acknowledgement, for a warm-up and then a measured window. The rate counts
//! the sends begun and acknowledged inside the window; the latencies, every send in progress
//! during it (begun before it closed, acknowledged after it opened), so that a send that waited
//! longer than the window, or a producer starved of a lock, is not left out of them. How many
//! producers got no acknowledgement at all inside the window is counted too.

use std::sync::{Barrier, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use postbox_benchmarks::stats::LatencySummary;
use serde::Serialize;

/// How long a run warms up and then measures.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    /// Sends before the window, not counted (connections and the store warm up).
    pub(crate) warmup: Duration,
    /// The measured window.
    pub(crate) window: Duration,
}

/// When one run's window opens and closes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    /// The first send counted begins at or after this.
    pub(crate) from: Instant,
    /// The last send counted is acknowledged at or before this; producers stop here.
    pub(crate) until: Instant,
}

impl Window {
    /// The window of a run starting now.
    pub(crate) fn starting_now(timing: Timing) -> Window {
        let from = Instant::now() + timing.warmup;
        Window {
            from,
            until: from + timing.window,
        }
    }
}

/// One producer's sends in the window.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// Of every send in progress during the window.
    latencies_ns: Vec<u64>,
    /// Sends begun and acknowledged in the window.
    acknowledged: u64,
}

impl Tally {
    /// Records a send begun at `began` and acknowledged at `acked`.
    pub(crate) fn record(&mut self, window: &Window, began: Instant, acked: Instant) {
        if began < window.until && acked >= window.from {
            let ns = acked.duration_since(began).as_nanos();
            self.latencies_ns
                .push(u64::try_from(ns).unwrap_or(u64::MAX));
            if began >= window.from && acked <= window.until {
                self.acknowledged += 1;
            }
        }
    }
}

/// What one run measured: every producer's counted sends together.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Run {
    /// Sends begun and acknowledged inside the window, all producers together.
    pub(crate) messages: u64,
    /// The window's length.
    pub(crate) seconds: f64,
    /// `messages / seconds`.
    pub(crate) messages_per_s: f64,
    /// The latency of one send (from the call to its acknowledgement), of every send in
    /// progress during the window.
    pub(crate) latency: LatencySummary,
    /// Producers with no send begun and acknowledged inside the window (starved).
    pub(crate) starved_producers: usize,
    /// The median fsync of the same disk, measured just before this run (the disk's speed
    /// changes with what else the machine is writing), in nanoseconds.
    pub(crate) fsync_p50_ns: u64,
}

impl Run {
    /// Combines the producers' tallies of one window.
    ///
    /// # Errors
    ///
    /// When no send at all was acknowledged inside the window.
    pub(crate) fn of(tallies: Vec<Tally>, window: &Window) -> Result<Run> {
        let messages = tallies.iter().map(|t| t.acknowledged).sum();
        let starved_producers = tallies.iter().filter(|t| t.acknowledged == 0).count();
        let samples: Vec<u64> = tallies.into_iter().flat_map(|t| t.latencies_ns).collect();
        let seconds = window.until.duration_since(window.from).as_secs_f64();
        let latency = LatencySummary::from_samples(samples)
            .ok_or_else(|| anyhow!("no send was in progress within the {seconds} s window"))?;
        Ok(Run {
            messages,
            seconds,
            messages_per_s: messages as f64 / seconds,
            latency,
            starved_producers,
            fsync_p50_ns: 0,
        })
    }
}

/// Runs `producers` threads: each calls `setup` (connect, open …) for its sender, all start
/// together once every one is set up, and each calls its sender until the window closes.
///
/// # Errors
///
/// The first producer's setup or send error, naming the producer.
pub(crate) fn threads<S, F>(producers: usize, timing: Timing, setup: S) -> Result<Run>
where
    S: Fn(usize) -> Result<F> + Sync,
    F: FnMut() -> Result<()>,
{
    let barrier = Barrier::new(producers + 1);
    let window: OnceLock<Window> = OnceLock::new();
    let (barrier, window_ref, setup) = (&barrier, &window, &setup);
    let tallies = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..producers)
            .map(|i| {
                scope.spawn(move || -> Result<Tally> {
                    // Every producer passes both barriers, even one whose setup failed, so that
                    // the others are not left waiting.
                    let sender = setup(i);
                    barrier.wait();
                    barrier.wait();
                    let mut send = sender.with_context(|| format!("producer {i}: setting up"))?;
                    let window = window_ref.get().context("the window was not set")?;
                    let mut tally = Tally::default();
                    loop {
                        let began = Instant::now();
                        if began >= window.until {
                            return Ok(tally);
                        }
                        send().with_context(|| format!("producer {i}: sending"))?;
                        tally.record(window, began, Instant::now());
                    }
                })
            })
            .collect();
        barrier.wait();
        let _ = window_ref.set(Window::starting_now(timing));
        barrier.wait();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| anyhow!("a producer panicked"))?)
            .collect::<Result<Vec<Tally>>>()
    })?;
    let window = window.get().context("the window was not set")?;
    Run::of(tallies, window)
}

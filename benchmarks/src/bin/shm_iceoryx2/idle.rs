//! What a receiver with nothing to receive costs: the CPU time of a thread blocked in the ring's
//! `pop` (and in iceoryx2's listener, beside it) over a short and a long idle wait. The short
//! wait holds the spin budget; the difference between the two is what waiting costs once the
//! budget is spent.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use postbox_shm::PopError;

use crate::iceoryx2::IdleListener;
use crate::ring;

/// The short wait: well past the spin budget (tens of microseconds).
const SHORT: Duration = Duration::from_millis(200);

/// One mechanism's idle cost.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IdleCost {
    /// CPU time of the long wait.
    pub(crate) cpu: Duration,
    /// The long wait's length.
    pub(crate) wall: Duration,
    /// CPU time per second of waiting after the spin budget: (long − short CPU) over
    /// (long − short wall), as a fraction of one CPU.
    pub(crate) after_budget: f64,
}

/// This thread's CPU time so far, from `/proc/thread-self/schedstat` (nanoseconds the
/// scheduler ran it; `getrusage` counts in ticks on many kernels, too coarse for microseconds).
fn thread_cpu() -> Result<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat")
        .context("reading this thread's CPU time (/proc/thread-self/schedstat)")?;
    let nanos = text
        .split_whitespace()
        .next()
        .and_then(|field| field.parse::<u64>().ok())
        .with_context(|| format!("/proc/thread-self/schedstat reads {text:?}"))?;
    Ok(Duration::from_nanos(nanos))
}

/// Times `wait(time)` for the short and the long wait, in CPU and wall time.
fn measure(long: Duration, mut wait: impl FnMut(Duration) -> Result<()>) -> Result<IdleCost> {
    let mut once = |time| -> Result<(Duration, Duration)> {
        let (cpu, start) = (thread_cpu()?, Instant::now());
        wait(time)?;
        Ok((thread_cpu()? - cpu, start.elapsed()))
    };
    let (short_cpu, short_wall) = once(SHORT)?;
    let (cpu, wall) = once(long)?;
    let extra_wall = wall.saturating_sub(short_wall).as_secs_f64().max(1e-3);
    Ok(IdleCost {
        cpu,
        wall,
        after_budget: cpu.saturating_sub(short_cpu).as_secs_f64() / extra_wall,
    })
}

/// A receiver blocked in `pop` on an empty ring in a segment, for `long`.
pub(crate) fn ring_receiver(long: Duration) -> Result<IdleCost> {
    let ring = ring::create(64)?;
    let mut buf = Vec::new();
    measure(long, |time| {
        match ring.pop_into(&mut buf, Some(Instant::now() + time)) {
            Err(PopError::Timeout) => Ok(()),
            Ok(_) => bail!("an idle ring delivered a message"),
            Err(error) => Err(error).context("waiting on an idle ring"),
        }
    })
}

/// A subscriber blocked on its listener, for `long`.
pub(crate) fn iceoryx2_receiver(long: Duration, address: &str) -> Result<IdleCost> {
    let listener = IdleListener::open(address)?;
    measure(long, |time| listener.wait(time))
}

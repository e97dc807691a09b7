//! What every side of a case is, whatever carries its messages: something that sends and
//! receives whole payloads, waiting the way the case says.

use anyhow::Result;

/// How a side waits for a message (or, sending, for room).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Waiting {
    /// Non-blocking calls in a loop: `spin_loop` between polls, `yield_now` every
    /// [`POLLS_BEFORE_YIELD`] polls.
    BusyPoll,
    /// The mechanism's blocking form: the ring's `push`/`pop` (a short spin, then the futex),
    /// iceoryx2's listener woken by a notifier after every sample.
    Event,
}

impl Waiting {
    /// The name the tables use.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Waiting::BusyPoll => "busy-poll",
            Waiting::Event => "event",
        }
    }
}

/// How many empty polls a busy-polling side makes between two `sched_yield`s, for both
/// mechanisms alike (the comparison's iceoryx2 peer uses the same figure). Without the yields a
/// side sharing its CPU with its peer spins out its whole time slice before the peer can answer.
pub(crate) const POLLS_BEFORE_YIELD: u32 = 64;

/// One poll of a busy-polling loop that found nothing: a spin hint, or every
/// [`POLLS_BEFORE_YIELD`] polls a yield. Fails after `2^28` polls (minutes), so a lost peer
/// ends the run instead of hanging it.
pub(crate) fn idle_poll(polls: &mut u32, what: &str) -> Result<()> {
    *polls += 1;
    if *polls > 1 << 28 {
        anyhow::bail!("{what}: nothing after {polls} polls; the other side is gone or stuck");
    }
    if polls.is_multiple_of(POLLS_BEFORE_YIELD) {
        std::thread::yield_now();
    } else {
        std::hint::spin_loop();
    }
    Ok(())
}

/// One side's ports for a case.
pub(crate) trait Endpoint {
    /// Sends `payload` as one message, waiting for room as the case says.
    fn send(&mut self, payload: &[u8]) -> Result<()>;
    /// Receives one message into `buf` (replacing its contents), waiting as the case says.
    fn recv(&mut self, buf: &mut Vec<u8>) -> Result<()>;
}

//! A timer for a deadline that moves with almost every message: re-armed only when the deadline
//! comes earlier than the one armed.
//!
//! Arming a tokio timer earlier than the runtime's next planned wake-up wakes the thread that
//! waits for I/O (an eventfd write, then an `epoll_wait` that returns at once for it). An
//! association's deadline moves with almost every frame — an acknowledgement falls due 10 ms
//! after a message arrives, and is no longer due once the next frame carries it — so a fresh
//! timer each turn cost the peer's task three system calls per message in a round trip. This
//! timer keeps its deadline when the new one is later: it then fires early, the association,
//! asked at a time when nothing is due yet, does nothing, and the next turn arms it again.

use std::future::pending;
use std::pin::Pin;

use tokio::time::{Instant, Sleep, sleep_until};

/// A timer that fires no later than the earliest deadline it was given since it last fired.
#[derive(Debug)]
pub(crate) struct LazyTimer {
    /// Made when first set, then reset: one registration with the runtime's timers.
    sleep: Option<Pin<Box<Sleep>>>,
    /// The deadline the timer is set for; none when it has fired and was not set since.
    armed: Option<Instant>,
}

impl LazyTimer {
    pub(crate) fn new() -> LazyTimer {
        LazyTimer {
            sleep: None,
            armed: None,
        }
    }

    /// Makes the timer fire no later than `deadline`: a no-op unless `deadline` is earlier than
    /// what the timer is set for (or it is not set).
    pub(crate) fn arm(&mut self, deadline: Option<Instant>) {
        let Some(deadline) = deadline else {
            return;
        };
        if self.armed.is_some_and(|armed| armed <= deadline) {
            return;
        }
        match &mut self.sleep {
            Some(sleep) => sleep.as_mut().reset(deadline),
            None => self.sleep = Some(Box::pin(sleep_until(deadline))),
        }
        self.armed = Some(deadline);
    }

    /// Waits until the deadline it is set for passes, then is unset; forever while unset.
    /// Cancel-safe: dropped unfinished, the timer stays set.
    pub(crate) async fn fired(&mut self) {
        match &mut self.sleep {
            Some(sleep) if self.armed.is_some() => sleep.as_mut().await,
            _ => pending().await,
        }
        self.armed = None;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// How long `timer` takes to fire, in paused time (the clock jumps to each deadline).
    async fn fires_after(timer: &mut LazyTimer) -> Duration {
        let start = Instant::now();
        timer.fired().await;
        start.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn fires_at_the_earliest_deadline_given_since_it_last_fired() {
        let mut timer = LazyTimer::new();
        let now = Instant::now();
        timer.arm(Some(now + Duration::from_millis(500)));
        timer.arm(Some(now + Duration::from_millis(10)));
        // Later deadlines leave it set for the earlier one.
        timer.arm(Some(now + Duration::from_millis(20)));
        timer.arm(None);
        assert_eq!(fires_after(&mut timer).await, Duration::from_millis(10));
        // Fired, it is unset: the next deadline sets it, even a later one.
        timer.arm(Some(now + Duration::from_millis(500)));
        assert_eq!(fires_after(&mut timer).await, Duration::from_millis(490));
    }

    #[tokio::test(start_paused = true)]
    async fn an_unset_timer_never_fires() {
        let mut timer = LazyTimer::new();
        timer.arm(None);
        let waited = tokio::time::timeout(Duration::from_secs(3600), timer.fired()).await;
        assert!(waited.is_err(), "fired without a deadline");
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_cancelled_keeps_the_deadline() {
        let mut timer = LazyTimer::new();
        let now = Instant::now();
        timer.arm(Some(now + Duration::from_millis(100)));
        let cut = tokio::time::timeout(Duration::from_millis(30), timer.fired()).await;
        assert!(cut.is_err());
        assert_eq!(fires_after(&mut timer).await, Duration::from_millis(70));
    }
}

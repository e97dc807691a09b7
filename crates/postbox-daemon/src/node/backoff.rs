//! When to dial a peer again: capped exponential backoff with jitter.

use std::time::Duration;

/// The first wait after a failed or lost connection.
const FIRST: Duration = Duration::from_millis(50);

/// The longest wait between two attempts: a restarted peer is found within about this long.
const CAP: Duration = Duration::from_secs(1);

/// The waits between dial attempts: doubling from 50 ms up to 1 s, each drawn uniformly from
/// its upper half so that nodes restarted together do not dial in lockstep. A connection that
/// comes up resets it.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
    /// A splitmix64 state: jitter needs spread, not secrecy.
    seed: u64,
}

impl Backoff {
    /// A backoff whose jitter starts from `seed` (different per node and peer).
    pub(crate) fn new(seed: u64) -> Backoff {
        Backoff { next: FIRST, seed }
    }

    /// The wait before the next attempt.
    pub(crate) fn next_wait(&mut self) -> Duration {
        let ceiling = self.next;
        self.next = (self.next * 2).min(CAP);
        let half = ceiling / 2;
        let spread = u64::try_from(half.as_micros()).unwrap_or(u64::MAX).max(1);
        half + Duration::from_micros(self.random() % spread)
    }

    /// After a connection came up: start again from the first wait.
    pub(crate) fn reset(&mut self) {
        self.next = FIRST;
    }

    fn random(&mut self) -> u64 {
        self.seed = self.seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_within_their_upper_half_up_to_the_cap_and_reset() {
        let mut backoff = Backoff::new(7);
        let mut ceiling = FIRST;
        for _ in 0..10 {
            let wait = backoff.next_wait();
            assert!(
                wait >= ceiling / 2 && wait <= ceiling,
                "{wait:?} of {ceiling:?}"
            );
            ceiling = (ceiling * 2).min(CAP);
        }
        assert!(backoff.next_wait() >= CAP / 2);
        backoff.reset();
        assert!(backoff.next_wait() <= FIRST);
        let waits: Vec<Duration> = (0..4).map(|_| Backoff::new(1).next_wait()).collect();
        assert!(
            waits.windows(2).all(|w| w[0] == w[1]),
            "deterministic per seed"
        );
        assert_ne!(Backoff::new(1).next_wait(), Backoff::new(2).next_wait());
    }
}

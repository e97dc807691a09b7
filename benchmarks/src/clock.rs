//! The one clock every process of a run shares.

use nix::time::{ClockId, clock_gettime};

/// Nanoseconds on the system's monotonic clock (`CLOCK_MONOTONIC`): the same clock in every
/// process of the machine, so that a producer's start and a consumer's end, taken in different
/// processes, can be subtracted.
pub fn monotonic_ns() -> u64 {
    // CLOCK_MONOTONIC cannot fail on Linux with a valid clock id; 0 would only shorten nothing.
    clock_gettime(ClockId::CLOCK_MONOTONIC)
        .map(|t| {
            (t.tv_sec() as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(t.tv_nsec() as u64)
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_never_goes_back() {
        let a = monotonic_ns();
        let b = monotonic_ns();
        assert!(a > 0 && b >= a);
    }
}

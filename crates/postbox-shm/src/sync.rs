//! The atomics the ring is written with: `std`'s, or loom's under `--cfg loom`, so that a loom
//! model checks the very code that runs (see `tests/loom.rs`). Also the two places where the
//! ring meets the operating system: the spin hint and the futex wake.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU64, Ordering, fence};

/// Tells the processor (or loom's scheduler) that this thread waits for another. Inlined: as a
/// call (the ring is generic, so its code is compiled in the user's crate) it took 8% of the
/// samples of a busy-polling benchmark.
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

/// Wakes every thread sleeping on `word`, in any process. Under loom nobody sleeps (the model
/// covers the non-blocking operations), so there is nothing to wake.
pub(crate) fn wake_all(word: &AtomicU64) {
    #[cfg(loom)]
    let _ = word;
    #[cfg(not(loom))]
    crate::sys::futex_wake_all(word);
}

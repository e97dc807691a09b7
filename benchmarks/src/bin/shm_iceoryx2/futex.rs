//! The futex floor: two processes handing a turn back and forth through one shared word with
//! nothing but `FUTEX_WAIT` and `FUTEX_WAKE` (shared, not private, as between processes). No
//! spinning: each side checks the word once, then sleeps. What a round trip costs when each
//! hand-over is a wake-up — the figure a blocking ring must not exceed on one CPU.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

/// The longest one sleep lasts before the word is checked again.
const SLICE: Duration = Duration::from_secs(1);
/// How long a side waits for its turn before the run counts as failed.
const LIMIT: Duration = Duration::from_secs(60);

/// The 32 bits of `word` the kernel compares: its low half.
fn futex_word(word: &AtomicU64) -> *mut u32 {
    let ptr = word.as_ptr().cast::<u32>();
    if cfg!(target_endian = "big") {
        ptr.wrapping_add(1)
    } else {
        ptr
    }
}

/// Sleeps while `word` still reads `seen` (low half), for at most [`SLICE`].
#[allow(unsafe_code)]
fn wait(word: &AtomicU64, seen: u64) {
    let timeout = libc::timespec {
        tv_sec: SLICE.as_secs() as libc::time_t,
        tv_nsec: 0,
    };
    // SAFETY: the address is the low half of a live, aligned `AtomicU64` in a shared mapping
    // that outlives the call; the kernel only reads it. The timeout lives across the call.
    // Errors (EAGAIN when the word changed, EINTR, ETIMEDOUT) all mean "look again".
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            futex_word(word),
            libc::FUTEX_WAIT,
            seen as u32,
            &timeout as *const libc::timespec,
        );
    }
}

/// Wakes the sleeper on `word`, if any.
#[allow(unsafe_code)]
fn wake(word: &AtomicU64) {
    // SAFETY: as in `wait`; FUTEX_WAKE reads no memory but the futex word's address.
    unsafe {
        libc::syscall(libc::SYS_futex, futex_word(word), libc::FUTEX_WAKE, 1);
    }
}

/// Waits until `word` reads `turn`.
fn await_turn(word: &AtomicU64, turn: u64) -> Result<()> {
    let start = Instant::now();
    loop {
        let seen = word.load(Ordering::Acquire);
        if seen == turn {
            return Ok(());
        }
        if start.elapsed() > LIMIT {
            bail!("futex ping-pong: waited {LIMIT:?} for turn {turn}, the word reads {seen}");
        }
        wait(word, seen);
    }
}

/// One round trip from the pinger's side: round `k` hands turn `2k + 1` over and waits for
/// `2k + 2`.
pub(crate) fn ping(word: &AtomicU64, k: u64) -> Result<()> {
    word.store(2 * k + 1, Ordering::Release);
    wake(word);
    await_turn(word, 2 * k + 2)
}

/// The echo's side of round `k`.
pub(crate) fn pong(word: &AtomicU64, k: u64) -> Result<()> {
    await_turn(word, 2 * k + 1)?;
    word.store(2 * k + 2, Ordering::Release);
    wake(word);
    Ok(())
}

//! A hostile peer scribbling random bytes over a ring while others use it: operations may fail
//! (`Corrupt`, `Full`, `Incomplete`, ...), but none panics, hangs, or touches memory outside the
//! mapping. Every operation is bounded, so the whole run is too: a watchdog fails the test if a
//! worker does not finish.

// Real memory, threads and processes: not part of the loom build (see tests/loom.rs).
#![cfg(not(loom))]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use postbox_shm::{
    Geometry, Memory, Meta, PopError, PushError, Ring, Segment, SegmentKind, TryPopError,
    TryPushError,
};

/// A small deterministic generator (xorshift64*), seeded per thread.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Operations per worker per round; each round starts from a fresh ring, since a scribbled
/// ring soon stays broken (which is allowed) and would stop exercising the checks.
const OPERATIONS: u32 = 2_000;
/// Rounds per test.
const ROUNDS: u64 = 40;

#[derive(Debug, Default)]
struct Tally {
    ok: u64,
    failed: u64,
    corrupt: u64,
}

fn round(seed: u64, target_header: bool) -> Tally {
    let geometry = Geometry::new(8, 32).unwrap();
    let segment = Segment::create("scribbled", SegmentKind::Ring, geometry.bytes()).unwrap();
    let ring = Arc::new(Ring::create(segment, geometry).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = mpsc::channel();

    let scribbler = {
        let (ring, stop) = (ring.clone(), stop.clone());
        thread::spawn(move || {
            let mut random = Random(seed);
            let words = ring.memory().words();
            let mut scribbles = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let r = random.next();
                // Mostly the control words and slot headers, where damage is most interesting.
                let limit = if target_header || r % 2 == 0 {
                    48 + 8 * 4
                } else {
                    words.len()
                };
                let index = (random.next() % limit as u64) as usize;
                let current = words[index].load(Ordering::Relaxed);
                let value = match r % 6 {
                    0 => random.next(),
                    1 => current.wrapping_add(1),
                    2 => current.wrapping_sub(random.next() % 16),
                    3 => 0,
                    4 if r % 7 == 0 => u64::MAX,
                    _ => random.next() % 64,
                };
                // Mostly leave the ring open (bit 63 of a position closes it for good), so
                // that operations keep running into the damage rather than into `Reclaimed`.
                let value = if r % 64 == 0 {
                    value
                } else {
                    value & !(1 << 63)
                };
                words[index].store(value, Ordering::Relaxed);
                let mut bytes = [0u8; 3];
                bytes.iter_mut().for_each(|b| *b = random.next() as u8);
                let _ = ring
                    .memory()
                    .write_at((random.next() % 4096) as usize, &bytes);
                scribbles += 1;
                // Let the workers run between bursts of damage.
                if scribbles % 4 == 0 {
                    let pause = Instant::now() + Duration::from_millis(1);
                    while Instant::now() < pause && !stop.load(Ordering::Relaxed) {
                        thread::yield_now();
                    }
                }
            }
            scribbles
        })
    };

    for worker in 0..4u64 {
        let (ring, done_tx) = (ring.clone(), done_tx.clone());
        thread::spawn(move || {
            let mut random = Random(seed ^ ((worker + 1) * 0x1234_5678));
            let mut tally = Tally::default();
            let mut buf = Vec::new();
            for _ in 0..OPERATIONS {
                let deadline = Some(Instant::now() + Duration::from_micros(300));
                let len = (random.next() % 40) as usize;
                // Ok(true): done; Ok(false): failed honestly; Err(()): reported corruption.
                let outcome: Result<bool, ()> = match random.next() % 6 {
                    0 => match ring.try_push(&vec![7; len], Meta::default()) {
                        Err(TryPushError::Corrupt(_)) => Err(()),
                        other => Ok(other.is_ok()),
                    },
                    1 => match ring.push(&vec![7; len], Meta::default(), deadline) {
                        Err(PushError::Corrupt(_)) => Err(()),
                        other => Ok(other.is_ok()),
                    },
                    2 => match ring.try_pop_into(&mut buf) {
                        Err(TryPopError::Corrupt(_)) => Err(()),
                        other => Ok(other.is_ok_and(|m| m.is_some() && buf.len() <= 32)),
                    },
                    3 => match ring.pop(deadline) {
                        Err(PopError::Corrupt(_)) => Err(()),
                        other => Ok(other.is_ok_and(|m| m.payload.len() <= 32)),
                    },
                    4 => match ring.try_claim(&vec![1; len], Meta::default()) {
                        Err(TryPushError::Corrupt(_)) => Err(()),
                        other => Ok(other.is_ok()),
                    },
                    _ => {
                        let _ = ring.stats();
                        Ok(true)
                    }
                };
                match outcome {
                    Ok(true) => tally.ok += 1,
                    Ok(false) => tally.failed += 1,
                    Err(()) => tally.corrupt += 1,
                }
            }
            done_tx.send(tally).unwrap();
        });
    }
    drop(done_tx);

    let watchdog = Instant::now() + Duration::from_secs(120);
    let mut total = Tally::default();
    for _ in 0..4 {
        let left = watchdog.saturating_duration_since(Instant::now());
        let tally = done_rx
            .recv_timeout(left)
            .expect("a worker hung (or panicked) on a scribbled ring");
        total.ok += tally.ok;
        total.failed += tally.failed;
        total.corrupt += tally.corrupt;
    }
    stop.store(true, Ordering::Relaxed);
    let scribbles = scribbler.join().expect("the scribbler panicked");
    // The reclaimer, too, must answer on a scribbled ring.
    let _ = ring.reclaim();
    let _ = ring.reclaim();
    assert_eq!(
        total.ok + total.failed + total.corrupt,
        4 * u64::from(OPERATIONS)
    );
    assert!(scribbles > 0);
    total
}

fn scribble_test(seed: u64, target_header: bool) {
    let mut total = Tally::default();
    for r in 0..ROUNDS {
        let tally = round(seed.wrapping_mul(r + 1), target_header);
        total.ok += tally.ok;
        total.failed += tally.failed;
        total.corrupt += tally.corrupt;
    }
    eprintln!("seed {seed:#x}: {total:?}");
    assert!(
        total.ok > 0,
        "no operation got through: the run tested nothing"
    );
    assert!(
        total.corrupt > 0,
        "no corruption was ever reported: the scribbles missed"
    );
}

#[test]
fn scribbling_over_control_words_never_panics_or_hangs() {
    scribble_test(0x5eed_0001, true);
}

#[test]
fn scribbling_over_the_whole_ring_never_panics_or_hangs() {
    scribble_test(0x5eed_0002, false);
}

//! A loom model of the ring: every interleaving (up to a preemption bound) of a few producers,
//! consumers and the reclaimer on a tiny ring, checking that no message is lost, duplicated or
//! reordered, and that a push succeeds exactly when its message is delivered or reclaimed.
//!
//! Run with (about a minute at most):
//! `RUSTFLAGS="--cfg loom" cargo test -p postbox-shm --release --test loom`

#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;

use postbox_shm::{Bounds, Geometry, HeapMemory, Meta, Ring, TryPopError, TryPushError};

fn ring(capacity: usize) -> Arc<Ring<HeapMemory>> {
    let geometry = Geometry::new(capacity, 8).unwrap();
    Arc::new(Ring::create(HeapMemory::new(geometry.bytes()), geometry).unwrap())
}

fn meta(sender: u64) -> Meta {
    Meta {
        sender,
        mtype: 1,
        priority: 0,
        sent_at: 0,
    }
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    builder.check(f);
}

/// Pushes, yielding while the ring is full.
fn push(ring: &Ring<HeapMemory>, payload: &[u8], sender: u64) {
    loop {
        match ring.try_push(payload, meta(sender)) {
            Ok(()) => return,
            Err(TryPushError::Full) => thread::yield_now(),
            Err(other) => panic!("push failed: {other}"),
        }
    }
}

/// Pops, yielding while the ring is empty or its oldest message is being written.
fn pop(ring: &Ring<HeapMemory>) -> (u64, Vec<u8>) {
    loop {
        match ring.try_pop() {
            Ok(Some(message)) => return (message.meta.sender, message.payload),
            Ok(None) | Err(TryPopError::Incomplete) => thread::yield_now(),
            Err(other) => panic!("pop failed: {other}"),
        }
    }
}

#[test]
fn two_producers_one_consumer() {
    model(|| {
        let ring = ring(2);
        let producers: Vec<_> = (0..2u64)
            .map(|p| {
                let ring = ring.clone();
                thread::spawn(move || push(&ring, &[p as u8], p))
            })
            .collect();
        let mut got = [pop(&ring), pop(&ring)];
        for producer in producers {
            producer.join().unwrap();
        }
        got.sort();
        assert_eq!(got, [(0, vec![0]), (1, vec![1])]);
        assert_eq!(ring.try_pop(), Ok(None));
    });
}

#[test]
fn one_producer_two_consumers_across_a_wrap() {
    model(|| {
        // Capacity 2, up to three messages: the third reuses the first slot. No thread waits
        // for another (that would only multiply loom's branches): a full ring refuses, an
        // empty one answers `None`, and the main thread drains what is left at the end.
        let ring = ring(2);
        let producer = {
            let ring = ring.clone();
            thread::spawn(move || {
                (0..3u8)
                    .filter(|&i| ring.try_push(&[i], meta(0)).is_ok())
                    .collect::<Vec<_>>()
            })
        };
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let ring = ring.clone();
                thread::spawn(move || {
                    let mut got = Vec::new();
                    for _ in 0..2 {
                        if let Ok(Some(message)) = ring.try_pop() {
                            got.push(message.payload[0]);
                        }
                    }
                    got
                })
            })
            .collect();
        let sent = producer.join().unwrap();
        let mut all = Vec::new();
        for consumer in consumers {
            let got = consumer.join().unwrap();
            // Each consumer sees the producer's messages in order.
            assert!(got.windows(2).all(|w| w[0] < w[1]), "reordered: {got:?}");
            all.extend(got);
        }
        while let Some(message) = ring.try_pop().unwrap() {
            all.push(message.payload[0]);
        }
        all.sort();
        assert_eq!(all, sent);
    });
}

#[test]
fn reclaim_racing_a_producer_loses_and_duplicates_nothing() {
    model(|| {
        let ring = ring(2);
        ring.try_push(b"a", meta(1)).unwrap();
        let producer = {
            let ring = ring.clone();
            thread::spawn(move || ring.try_push(b"b", meta(2)))
        };
        let reclaimed = ring.reclaim().unwrap();
        let pushed = producer.join().unwrap();
        let payloads: Vec<&[u8]> = reclaimed
            .messages
            .iter()
            .map(|m| m.payload.as_slice())
            .collect();
        match pushed {
            // Committed before the reclaim tore it: reclaimed after "a".
            Ok(()) => assert_eq!(payloads, [&b"a"[..], b"b"]),
            // Refused or torn: the sender still holds "b", and the daemon does not.
            Err(TryPushError::Reclaimed) => assert_eq!(payloads, [&b"a"[..]]),
            Err(other) => panic!("push failed: {other}"),
        }
        assert_eq!(reclaimed.abandoned, 0);
    });
}

#[test]
fn reclaim_racing_a_consumer_loses_and_duplicates_nothing() {
    model(|| {
        let ring = ring(2);
        ring.try_push(b"a", meta(1)).unwrap();
        ring.try_push(b"b", meta(1)).unwrap();
        let consumer = {
            let ring = ring.clone();
            thread::spawn(move || ring.try_pop())
        };
        let reclaimed = ring.reclaim().unwrap();
        let mut all: Vec<Vec<u8>> = Vec::new();
        match consumer.join().unwrap() {
            Ok(Some(message)) => all.push(message.payload),
            Err(TryPopError::Reclaimed) => {}
            other => panic!("pop answered {other:?}"),
        }
        all.extend(reclaimed.messages.into_iter().map(|m| m.payload));
        assert_eq!(all, [b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(reclaimed.torn, 0);
    });
}

#[test]
fn racing_senders_never_pass_the_bounds() {
    // Two slots bounded to one message of at most 8 bytes, and a receiver taking once: of
    // three pushes of 5 bytes, at most two ever succeed (one before the take, one after), and
    // never two queued at once.
    model(|| {
        let geometry = Geometry::new(2, 8).unwrap();
        let bounds = Bounds {
            messages: 1,
            bytes: 8,
        };
        let ring = Arc::new(
            Ring::create_bounded(HeapMemory::new(geometry.bytes()), geometry, bounds).unwrap(),
        );
        let senders: Vec<_> = (0..2u64)
            .map(|s| {
                let ring = ring.clone();
                thread::spawn(move || ring.try_push(&[s as u8; 5], meta(s)).is_ok())
            })
            .collect();
        let taken = match ring.try_pop() {
            Ok(Some(_)) => 1,
            Ok(None) | Err(TryPopError::Incomplete) => 0,
            Err(other) => panic!("pop failed: {other}"),
        };
        let pushed = senders
            .into_iter()
            .map(|s| usize::from(s.join().unwrap()))
            .sum::<usize>();
        let queued = ring.stats().queued as usize;
        assert!(queued <= 1, "{queued} queued past a bound of one");
        assert_eq!(pushed, taken + queued);
    });
}

//! The ring's behaviour in one process: FIFO order, limits, claims, torn slots and reclaim,
//! header validation, statistics, waiting and waking, and a multi-threaded stress run.

// Real memory, threads and processes: not part of the loom build (see tests/loom.rs).
#![cfg(not(loom))]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use postbox_shm::{
    AttachError, Bounds, Corruption, CreateError, Geometry, GeometryError, HeapMemory, Memory,
    Meta, PopError, PushError, Receipt, Ring, Segment, SegmentKind, TryPopError, TryPushError,
};

fn meta(sender: u64) -> Meta {
    Meta {
        sender,
        mtype: 1,
        priority: 0,
        sent_at: 0,
    }
}

fn heap_ring(capacity: usize, slot_payload: usize) -> Ring<HeapMemory> {
    let geometry = Geometry::new(capacity, slot_payload).unwrap();
    Ring::create(HeapMemory::new(geometry.bytes()), geometry).unwrap()
}

/// Waits (without sleeping as synchronisation) until `condition` holds, failing after 10 s.
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        thread::yield_now();
    }
}

#[test]
fn smoke() {
    let ring = heap_ring(4, 16);
    ring.try_push(
        b"one",
        Meta {
            sender: 3,
            mtype: -9,
            priority: 65535,
            sent_at: 0,
        },
    )
    .unwrap();
    let message = ring.try_pop().unwrap().unwrap();
    assert_eq!(message.payload, b"one");
    assert_eq!(
        message.meta,
        Meta {
            sender: 3,
            mtype: -9,
            priority: 65535,
            sent_at: 0,
        }
    );
    assert_eq!(ring.try_pop(), Ok(None));
}

#[test]
fn fifo_across_many_laps_with_every_length() {
    let ring = heap_ring(8, 40);
    let mut buf = Vec::new();
    for i in 0..1000u64 {
        let payload: Vec<u8> = (0..(i % 41) as u8).map(|b| b ^ i as u8).collect();
        ring.try_push(
            &payload,
            Meta {
                sender: i,
                mtype: i as i64,
                priority: i as u16,
                sent_at: 0,
            },
        )
        .unwrap();
        if i % 3 == 0 {
            ring.try_push(b"extra", meta(0)).unwrap();
        }
        let got = ring.try_pop_into(&mut buf).unwrap().unwrap();
        assert_eq!((buf.as_slice(), got.meta.sender), (payload.as_slice(), i));
        if i % 3 == 0 {
            assert_eq!(ring.try_pop().unwrap().unwrap().payload, b"extra");
        }
    }
    assert_eq!(ring.try_pop(), Ok(None));
}

#[test]
fn full_ring_refuses_until_a_slot_is_freed() {
    let ring = heap_ring(4, 8);
    for i in 0..4 {
        ring.try_push(&[i], meta(1)).unwrap();
    }
    assert_eq!(ring.try_push(b"x", meta(1)), Err(TryPushError::Full));
    assert_eq!(ring.try_pop().unwrap().unwrap().payload, [0]);
    ring.try_push(b"x", meta(1)).unwrap();
    let order: Vec<Vec<u8>> = (0..4)
        .map(|_| ring.try_pop().unwrap().unwrap().payload)
        .collect();
    assert_eq!(order, [vec![1], vec![2], vec![3], b"x".to_vec()]);
}

#[test]
fn too_large_payload_is_refused_and_slot_payload_rounds_up() {
    let ring = heap_ring(2, 13);
    assert_eq!(ring.geometry().slot_payload(), 16);
    ring.try_push(&[7; 16], meta(1)).unwrap();
    assert_eq!(
        ring.try_push(&[7; 17], meta(1)),
        Err(TryPushError::TooLarge { len: 17, max: 16 })
    );
    assert_eq!(
        ring.push(&[7; 17], meta(1), None),
        Err(PushError::TooLarge { len: 17, max: 16 })
    );
}

#[test]
fn geometry_limits() {
    assert_eq!(
        Geometry::new(3, 8),
        Err(GeometryError::Capacity { capacity: 3 })
    );
    assert_eq!(
        Geometry::new(1, 8),
        Err(GeometryError::Capacity { capacity: 1 })
    );
    assert_eq!(
        Geometry::new(1 << 21, 8),
        Err(GeometryError::Capacity { capacity: 1 << 21 })
    );
    assert_eq!(
        Geometry::new(2, 0),
        Err(GeometryError::SlotPayload { slot_payload: 0 })
    );
    assert!(matches!(
        Geometry::new(1 << 20, 1 << 20),
        Err(GeometryError::TooLarge { .. })
    ));
    let geometry = Geometry::new(2, 8).unwrap();
    assert_eq!(
        Ring::create(HeapMemory::new(geometry.bytes() - 8), geometry).unwrap_err(),
        CreateError::TooSmall {
            needed: geometry.bytes(),
            available: geometry.bytes() - 8
        }
    );
}

#[test]
fn attach_validates_every_header_field() {
    let geometry = Geometry::new(4, 8).unwrap();
    let memory = Arc::new(HeapMemory::new(geometry.bytes()));
    let ring = Ring::create(memory.clone(), geometry).unwrap();
    ring.try_push(b"seen", meta(1)).unwrap();
    let attached = Ring::attach(memory.clone()).unwrap();
    assert_eq!(attached.geometry(), geometry);
    assert_eq!(attached.try_pop().unwrap().unwrap().payload, b"seen");

    let words = memory.words();
    let with = |index: usize, value: u64| {
        let old = words[index].swap(value, Ordering::SeqCst);
        let result = Ring::attach(memory.clone()).map(|_| ());
        words[index].store(old, Ordering::SeqCst);
        result
    };
    assert!(matches!(with(0, 1), Err(AttachError::Magic { found: 1 })));
    assert_eq!(with(1, 1), Err(AttachError::Version { found: 1 }));
    assert!(matches!(
        with(2, 3),
        Err(AttachError::Geometry(GeometryError::Capacity { .. }))
    ));
    assert!(matches!(with(2, u64::MAX), Err(AttachError::Geometry(_))));
    assert!(matches!(
        with(3, 12),
        Err(AttachError::Geometry(GeometryError::SlotPayload { .. }))
    ));
    assert!(matches!(with(2, 8), Err(AttachError::TooSmall { .. })));
    // The message bound: 1 to the capacity.
    assert_eq!(
        with(4, 0),
        Err(AttachError::Bounds {
            messages: 0,
            capacity: 4
        })
    );
    assert_eq!(
        with(4, 5),
        Err(AttachError::Bounds {
            messages: 5,
            capacity: 4
        })
    );
    assert_eq!(
        Ring::create_bounded(
            HeapMemory::new(geometry.bytes()),
            geometry,
            Bounds {
                messages: 5,
                bytes: 0
            }
        )
        .unwrap_err(),
        CreateError::Bounds {
            messages: 5,
            capacity: 4
        }
    );
    assert_eq!(
        Ring::attach(HeapMemory::new(8)).unwrap_err(),
        AttachError::TooShort { available: 8 }
    );
    Ring::attach(memory).unwrap();
}

fn bounded_ring(capacity: usize, slot_payload: usize, bounds: Bounds) -> Ring<Arc<HeapMemory>> {
    let geometry = Geometry::new(capacity, slot_payload).unwrap();
    let memory = Arc::new(HeapMemory::new(geometry.bytes()));
    Ring::create_bounded(memory, geometry, bounds).unwrap()
}

#[test]
fn the_message_bound_holds_below_the_capacity() {
    // A mailbox of 3 messages in a ring of 4 slots: the fourth push is refused, on every lap.
    let ring = bounded_ring(
        4,
        8,
        Bounds {
            messages: 3,
            bytes: u64::MAX,
        },
    );
    for lap in 0..5u8 {
        for i in 0..3 {
            ring.try_push(&[lap, i], meta(1)).unwrap();
        }
        assert_eq!(ring.try_push(b"x", meta(1)), Err(TryPushError::Full));
        assert_eq!(ring.try_pop().unwrap().unwrap().payload, [lap, 0]);
        ring.try_push(&[lap, 3], meta(1)).unwrap();
        assert_eq!(ring.try_push(b"x", meta(1)), Err(TryPushError::Full));
        for i in 1..4 {
            assert_eq!(ring.try_pop().unwrap().unwrap().payload, [lap, i]);
        }
        assert_eq!(ring.try_pop(), Ok(None));
    }
    // An attacher reads the same bounds and keeps them.
    let attached = Ring::attach(ring.memory().clone()).unwrap();
    assert_eq!(attached.bounds(), ring.bounds());
}

#[test]
fn the_byte_bound_holds_and_frees_as_messages_are_taken() {
    // 10 bytes at most, in slots of 8: two of 5, not a third; every byte taken frees room.
    let ring = bounded_ring(
        4,
        8,
        Bounds {
            messages: 4,
            bytes: 10,
        },
    );
    ring.try_push(&[1; 5], meta(1)).unwrap();
    ring.try_push(&[2; 5], meta(1)).unwrap();
    assert_eq!(ring.try_push(&[3], meta(1)), Err(TryPushError::Full));
    ring.try_push(&[], meta(1)).unwrap();
    assert_eq!(ring.try_pop().unwrap().unwrap().payload, [1; 5]);
    assert_eq!(ring.try_push(&[4; 6], meta(1)), Err(TryPushError::Full));
    ring.try_push(&[4; 5], meta(1)).unwrap();
    // An abandoned claim's bytes are freed when receivers pass its slot.
    assert_eq!(ring.try_pop().unwrap().unwrap().payload, [2; 5]);
    drop(ring.try_claim(&[5; 5], meta(1)).unwrap());
    assert_eq!(ring.try_push(&[6], meta(1)), Err(TryPushError::Full));
    assert_eq!(ring.try_pop().unwrap().unwrap().payload, []);
    assert_eq!(ring.try_pop().unwrap().unwrap().payload, [4; 5]);
    assert_eq!(ring.try_pop(), Ok(None));
    ring.try_push(&[7; 8], meta(1)).unwrap();
    ring.try_push(&[8; 2], meta(1)).unwrap();
    assert_eq!(ring.try_push(&[9], meta(1)), Err(TryPushError::Full));
}

#[test]
fn a_sender_waiting_at_the_byte_bound_learns_of_a_reclaim() {
    let ring = Arc::new(bounded_ring(
        4,
        8,
        Bounds {
            messages: 4,
            bytes: 4,
        },
    ));
    ring.try_push(b"1234", meta(1)).unwrap();
    assert_eq!(ring.try_push(b"5", meta(1)), Err(TryPushError::Full));
    let sender = {
        let ring = ring.clone();
        thread::spawn(move || {
            ring.push(
                b"5678",
                meta(2),
                Some(Instant::now() + Duration::from_secs(30)),
            )
        })
    };
    eventually("the sender sleeps", || ring.stats().senders_waiting == 1);
    assert_eq!(ring.reclaim().unwrap().messages.len(), 1);
    assert_eq!(sender.join().unwrap(), Err(PushError::Reclaimed));
    assert_eq!(ring.try_push(b"5", meta(1)), Err(TryPushError::Reclaimed));
}

#[test]
fn bounds_hold_under_contention() {
    // Four senders against one receiver that checks, after each take, that what is queued
    // never passed either bound.
    let ring = Arc::new(bounded_ring(
        8,
        8,
        Bounds {
            messages: 5,
            bytes: 24,
        },
    ));
    let deadline = || Some(Instant::now() + Duration::from_secs(30));
    let senders: Vec<_> = (0..4u64)
        .map(|s| {
            let ring = ring.clone();
            thread::spawn(move || {
                for i in 0..2_000u64 {
                    let len = (i % 8) as usize;
                    ring.push(&vec![s as u8; len], meta(s), deadline()).unwrap();
                }
            })
        })
        .collect();
    for _ in 0..8_000 {
        ring.pop(deadline()).unwrap();
        let stats = ring.stats();
        // Positions are read one after the other, so allow for a take in between.
        assert!(stats.queued <= 5 + 1, "queued {}", stats.queued);
    }
    for sender in senders {
        sender.join().unwrap();
    }
    assert_eq!(ring.try_pop(), Ok(None));
}

#[test]
fn positions_send_times_and_the_last_receipt_come_back() {
    let ring = heap_ring(4, 8);
    let sent = |sender: u64, sent_at: u64| Meta {
        sent_at,
        ..meta(sender)
    };
    ring.try_push(b"a", sent(1, 100)).unwrap();
    ring.try_push(b"b", sent(2, 200)).unwrap();
    let a = ring.try_pop().unwrap().unwrap();
    assert_eq!((a.pos, a.meta), (0, sent(1, 100)));
    assert_eq!(ring.last_receipt(), None);
    ring.note_receipt(Receipt {
        receiver: 9,
        at: 150,
    });
    drop(ring.try_claim(b"gone", sent(3, 300)).unwrap());
    ring.try_push(b"c", sent(4, 400)).unwrap();
    let reclaimed = ring.reclaim().unwrap();
    // b (1) and c (3) are queued; the abandoned claim (2) is skipped but its position used.
    let queued: Vec<(u64, Meta)> = reclaimed.messages.iter().map(|m| (m.pos, m.meta)).collect();
    assert_eq!(queued, [(1, sent(2, 200)), (3, sent(4, 400))]);
    assert_eq!(reclaimed.next_pos, 4);
    assert_eq!(reclaimed.abandoned_total, 1);
    assert_eq!(reclaimed.last_sent, Some(sent(4, 400)));
    assert_eq!(
        reclaimed.last_receipt,
        Some(Receipt {
            receiver: 9,
            at: 150
        })
    );
}

#[test]
fn the_last_send_is_found_when_everything_was_taken() {
    let ring = heap_ring(2, 8);
    for i in 0..5u64 {
        ring.try_push(
            b"m",
            Meta {
                sent_at: i,
                ..meta(i)
            },
        )
        .unwrap();
        ring.try_pop().unwrap().unwrap();
    }
    let reclaimed = ring.reclaim().unwrap();
    assert!(reclaimed.messages.is_empty());
    assert_eq!(reclaimed.next_pos, 5);
    assert_eq!(
        reclaimed.last_sent,
        Some(Meta {
            sent_at: 4,
            ..meta(4)
        })
    );
    // A ring nobody sent to has none.
    assert_eq!(heap_ring(2, 8).reclaim().unwrap().last_sent, None);
}

#[test]
fn ring_in_a_segment() {
    let geometry = Geometry::new(16, 64).unwrap();
    let segment = Segment::create("ring-test", SegmentKind::Ring, geometry.bytes()).unwrap();
    let ring = Ring::create(segment, geometry).unwrap();
    ring.try_push(&[1; 64], meta(1)).unwrap();
    let fd = ring.memory().fd().try_clone_to_owned().unwrap();
    let attached = Ring::attach(Segment::attach(fd).unwrap()).unwrap();
    assert_eq!(attached.try_pop().unwrap().unwrap().payload, [1; 64]);
    assert_eq!(ring.stats().popped, 1);
}

#[test]
fn abandoned_claim_is_skipped_and_counted() {
    let ring = heap_ring(4, 8);
    ring.try_push(b"a", meta(1)).unwrap();
    drop(ring.try_claim(b"dropped", meta(1)).unwrap());
    ring.try_push(b"b", meta(1)).unwrap();
    assert_eq!(ring.try_pop().unwrap().unwrap().payload, b"a");
    assert_eq!(ring.try_pop().unwrap().unwrap().payload, b"b");
    assert_eq!(ring.try_pop(), Ok(None));
    let stats = ring.stats();
    assert_eq!((stats.pushed, stats.popped, stats.abandoned), (3, 3, 1));
}

#[test]
fn claim_is_invisible_until_committed() {
    let ring = heap_ring(4, 8);
    let claim = ring.try_claim(b"later", meta(1)).unwrap();
    assert_eq!(ring.try_pop(), Err(TryPopError::Incomplete));
    claim.commit().unwrap();
    assert_eq!(ring.try_pop().unwrap().unwrap().payload, b"later");
}

/// A writer that dies between claim and commit (its claim forgotten, never dropped): live
/// receivers are told, not left spinning, and reclaim recovers every complete message in order.
#[test]
fn writer_dies_mid_write_then_reclaim_recovers_complete_messages_in_order() {
    let ring = heap_ring(8, 8);
    ring.try_push(b"1", meta(1)).unwrap();
    ring.try_push(b"2", meta(1)).unwrap();
    std::mem::forget(ring.try_claim(b"torn", meta(9)).unwrap());
    ring.try_push(b"3", meta(2)).unwrap();
    drop(ring.try_claim(b"gave up", meta(2)).unwrap());
    ring.try_push(b"4", meta(2)).unwrap();

    assert_eq!(ring.try_pop().unwrap().unwrap().payload, b"1");
    assert_eq!(ring.try_pop().unwrap().unwrap().payload, b"2");
    assert_eq!(ring.try_pop(), Err(TryPopError::Incomplete));
    let started = Instant::now();
    assert_eq!(
        ring.pop(Some(Instant::now() + Duration::from_millis(50))),
        Err(PopError::Stalled)
    );
    assert!(started.elapsed() >= Duration::from_millis(50));

    let reclaimed = ring.reclaim().unwrap();
    let payloads: Vec<&[u8]> = reclaimed
        .messages
        .iter()
        .map(|m| m.payload.as_slice())
        .collect();
    assert_eq!(payloads, [&b"3"[..], b"4"]);
    assert_eq!((reclaimed.torn, reclaimed.abandoned), (1, 1));
    assert_eq!(ring.try_pop(), Err(TryPopError::Reclaimed));
    assert_eq!(ring.try_push(b"5", meta(1)), Err(TryPushError::Reclaimed));
    assert!(ring.stats().reclaimed);
    assert_eq!(ring.reclaim().unwrap().messages, []);
}

#[test]
fn reclaim_tears_a_live_claim_and_its_writer_keeps_the_message() {
    let ring = heap_ring(4, 8);
    ring.try_push(b"queued", meta(1)).unwrap();
    let claim = ring.try_claim(b"racing", meta(1)).unwrap();
    let reclaimed = ring.reclaim().unwrap();
    assert_eq!(reclaimed.messages.len(), 1);
    assert_eq!(reclaimed.torn, 1);
    assert_eq!(claim.commit(), Err(TryPushError::Reclaimed));
}

#[test]
fn reclaim_wakes_sleepers() {
    let ring = Arc::new(heap_ring(2, 8));
    let receiver = {
        let ring = ring.clone();
        thread::spawn(move || ring.pop(None))
    };
    eventually("the receiver sleeps", || {
        ring.stats().receivers_waiting == 1
    });
    ring.reclaim().unwrap();
    assert_eq!(receiver.join().unwrap(), Err(PopError::Reclaimed));

    let ring = Arc::new(heap_ring(2, 8));
    ring.try_push(b"1", meta(1)).unwrap();
    ring.try_push(b"2", meta(1)).unwrap();
    let sender = {
        let ring = ring.clone();
        thread::spawn(move || ring.push(b"3", meta(1), None))
    };
    eventually("the sender sleeps", || ring.stats().senders_waiting == 1);
    assert_eq!(ring.reclaim().unwrap().messages.len(), 2);
    assert_eq!(sender.join().unwrap(), Err(PushError::Reclaimed));
}

#[test]
fn sleeping_receiver_is_woken_by_a_push_and_sleeping_sender_by_a_pop() {
    let ring = Arc::new(heap_ring(2, 8));
    let receiver = {
        let ring = ring.clone();
        thread::spawn(move || ring.pop(Some(Instant::now() + Duration::from_secs(30))))
    };
    eventually("the receiver sleeps", || {
        ring.stats().receivers_waiting == 1
    });
    ring.try_push(b"wake", meta(1)).unwrap();
    assert_eq!(receiver.join().unwrap().unwrap().payload, b"wake");
    assert_eq!(ring.stats().receivers_waiting, 0);

    ring.try_push(b"1", meta(1)).unwrap();
    ring.try_push(b"2", meta(1)).unwrap();
    let sender = {
        let ring = ring.clone();
        thread::spawn(move || {
            ring.push(
                b"3",
                meta(1),
                Some(Instant::now() + Duration::from_secs(30)),
            )
        })
    };
    eventually("the sender sleeps", || ring.stats().senders_waiting == 1);
    assert_eq!(ring.try_pop().unwrap().unwrap().payload, b"1");
    sender.join().unwrap().unwrap();
    assert_eq!(ring.try_pop().unwrap().unwrap().payload, b"2");
    assert_eq!(ring.try_pop().unwrap().unwrap().payload, b"3");
}

#[test]
fn blocking_pop_into_replaces_the_buffer_and_waits_for_a_push() {
    let ring = Arc::new(heap_ring(4, 64));
    let mut buf = vec![0xffu8; 100];
    ring.try_push(b"first", meta(3)).unwrap();
    let got = ring.pop_into(&mut buf, None).unwrap();
    assert_eq!((buf.as_slice(), got.meta), (&b"first"[..], meta(3)));
    // A longer message after a shorter one, then a shorter one: only the message's bytes.
    ring.try_push(&[7u8; 61], meta(4)).unwrap();
    ring.pop_into(&mut buf, None).unwrap();
    assert_eq!(buf, vec![7u8; 61]);
    ring.try_push(b"ab", meta(5)).unwrap();
    ring.pop_into(&mut buf, None).unwrap();
    assert_eq!(buf, b"ab");

    let receiver = {
        let ring = ring.clone();
        thread::spawn(move || {
            let mut buf = Vec::new();
            let taken = ring.pop_into(&mut buf, Some(Instant::now() + Duration::from_secs(30)));
            (taken.map(|taken| taken.meta), buf)
        })
    };
    eventually("the receiver sleeps", || {
        ring.stats().receivers_waiting == 1
    });
    ring.try_push(b"late", meta(6)).unwrap();
    assert_eq!(receiver.join().unwrap(), (Ok(meta(6)), b"late".to_vec()));
    assert_eq!(
        ring.pop_into(&mut buf, Some(Instant::now() + Duration::from_millis(20))),
        Err(PopError::Timeout)
    );
}

#[test]
fn a_sleeper_whose_wake_a_peer_suppressed_still_receives_within_its_longest_sleep() {
    let ring = Arc::new(heap_ring(2, 8));
    let (done, result) = std::sync::mpsc::channel();
    {
        let ring = ring.clone();
        thread::spawn(move || {
            let start = Instant::now();
            let message = ring.pop(None);
            let _ = done.send((message, start.elapsed()));
        });
    }
    eventually("the receiver sleeps", || {
        ring.stats().receivers_waiting == 1
    });
    // Long enough for the sleeps to have grown to their longest (0.1 + 0.2 + 0.4 + 0.8 s).
    let idle = Instant::now();
    while idle.elapsed() < Duration::from_millis(1600) {
        assert!(result.try_recv().is_err(), "woken with nothing to receive");
        thread::yield_now();
    }
    // A hostile peer zeroes the sleepers count (header word 25), so the push wakes nobody.
    ring.memory().words()[25].store(0, Ordering::SeqCst);
    let pushed = Instant::now();
    ring.try_push(b"late", meta(1)).unwrap();
    let (message, _) = result
        .recv_timeout(Duration::from_secs(10))
        .expect("the sleeper re-checks on its own");
    assert_eq!(message.unwrap().payload, b"late");
    let late = pushed.elapsed();
    assert!(
        late < Duration::from_secs(4),
        "found {late:?} after the push"
    );
}

#[test]
fn timeouts_when_nothing_happens() {
    let ring = heap_ring(2, 8);
    let deadline = Instant::now() + Duration::from_millis(30);
    assert_eq!(ring.pop(Some(deadline)), Err(PopError::Timeout));
    assert!(Instant::now() >= deadline);
    ring.try_push(b"1", meta(1)).unwrap();
    ring.try_push(b"2", meta(1)).unwrap();
    let deadline = Instant::now() + Duration::from_millis(30);
    assert_eq!(
        ring.push(b"3", meta(1), Some(deadline)),
        Err(PushError::Timeout)
    );
    assert!(Instant::now() >= deadline);
    assert_eq!(ring.stats().senders_waiting, 0);
}

/// CPU time of the calling thread, from `/proc/thread-self/schedstat` (nanoseconds on CPU).
/// Read from /proc rather than by `clock_gettime`, whose vDSO lookup in rustix faults under
/// valgrind, where these tests also run.
fn thread_cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    let nanos = stat
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap();
    Duration::from_nanos(nanos)
}

/// The CPU time and wall time of one `pop` on an empty ring that waits `wait`.
fn idle_pop(ring: &Ring<HeapMemory>, wait: Duration) -> (Duration, Duration) {
    let wall = Instant::now();
    let cpu = thread_cpu_time();
    assert_eq!(ring.pop(Some(wall + wait)), Err(PopError::Timeout));
    (thread_cpu_time() - cpu, wall.elapsed())
}

/// An idle receiver costs (nearly) no CPU after its short spin: it sleeps in the futex. A
/// measurement with generous bounds: a polling receiver would burn the whole wait. Two waits
/// of different length, so that the spin's own cost (which valgrind inflates to tens of
/// milliseconds) cancels out: the extra 600 ms of waiting must cost almost nothing.
#[test]
fn idle_receiver_sleeps_in_the_futex() {
    let ring = heap_ring(2, 8);
    let (short_cpu, short_wall) = idle_pop(&ring, Duration::from_millis(200));
    let (long_cpu, long_wall) = idle_pop(&ring, Duration::from_millis(800));
    assert!(short_wall >= Duration::from_millis(200) && long_wall >= Duration::from_millis(800));
    assert!(
        short_cpu < Duration::from_millis(100),
        "{short_cpu:?} of CPU in {short_wall:?}"
    );
    assert!(
        long_cpu.saturating_sub(short_cpu) < Duration::from_millis(30),
        "600 ms more of idle waiting cost {:?} more CPU ({long_cpu:?} in {long_wall:?})",
        long_cpu.saturating_sub(short_cpu)
    );
}

#[test]
fn statistics_are_exact() {
    let ring = heap_ring(8, 8);
    for _ in 0..5 {
        ring.try_push(b"x", meta(1)).unwrap();
    }
    ring.try_pop().unwrap().unwrap();
    ring.try_pop().unwrap().unwrap();
    let stats = ring.stats();
    assert_eq!((stats.pushed, stats.popped, stats.queued), (5, 2, 3));
    assert_eq!(
        (
            stats.receivers_waiting,
            stats.senders_waiting,
            stats.reclaimed
        ),
        (0, 0, false)
    );
}

/// Two producers and two consumers through a small ring, blocking: every message arrives once,
/// and each producer's messages in the order sent.
#[test]
fn mpmc_threads_lose_duplicate_and_reorder_nothing() {
    const PER_PRODUCER: u64 = 50_000;
    let ring = Arc::new(heap_ring(16, 16));
    let deadline = Instant::now() + Duration::from_secs(120);
    let producers: Vec<_> = (0..2u64)
        .map(|p| {
            let ring = ring.clone();
            thread::spawn(move || {
                for i in 0..PER_PRODUCER {
                    ring.push(&i.to_le_bytes(), meta(p), Some(deadline))
                        .unwrap();
                }
            })
        })
        .collect();
    let done = Arc::new(AtomicBool::new(false));
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let (ring, done) = (ring.clone(), done.clone());
            thread::spawn(move || {
                let mut seen = Vec::new();
                loop {
                    match ring.pop(Some(Instant::now() + Duration::from_millis(20))) {
                        Ok(m) => seen.push((
                            m.meta.sender,
                            u64::from_le_bytes(m.payload.try_into().unwrap()),
                        )),
                        Err(PopError::Timeout) if done.load(Ordering::SeqCst) => return seen,
                        // A producer preempted between claim and commit for the whole 20 ms:
                        // legitimate on a loaded machine (or under valgrind); try again.
                        Err(PopError::Timeout | PopError::Stalled) => {
                            assert!(Instant::now() < deadline)
                        }
                        Err(other) => panic!("pop failed: {other}"),
                    }
                }
            })
        })
        .collect();
    for producer in producers {
        producer.join().unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let mut next = [0u64; 2];
    let mut all: Vec<(u64, u64)> = Vec::new();
    for consumer in consumers {
        let seen = consumer.join().unwrap();
        // Per consumer, each producer's messages come in increasing order.
        let mut last = [None::<u64>; 2];
        for &(p, i) in &seen {
            assert!(last[p as usize].is_none_or(|l| l < i), "reordered: {p}/{i}");
            last[p as usize] = Some(i);
        }
        all.extend(seen);
    }
    all.sort_unstable();
    for (p, i) in all {
        assert_eq!(i, next[p as usize], "lost or duplicated message {p}/{i}");
        next[p as usize] += 1;
    }
    assert_eq!(next, [PER_PRODUCER; 2]);
    assert_eq!(ring.stats().queued, 0);
}

#[test]
fn corrupt_length_is_reported_not_trusted() {
    let geometry = Geometry::new(2, 8).unwrap();
    let memory = Arc::new(HeapMemory::new(geometry.bytes()));
    let ring = Ring::create(memory.clone(), geometry).unwrap();
    ring.try_push(b"ok", meta(1)).unwrap();
    // Slot 0's length word: header (48 words), then sequence, then length.
    memory.words()[48 + 1].store(1 << 20, Ordering::SeqCst);
    assert_eq!(
        ring.try_pop(),
        Err(TryPopError::Corrupt(Corruption::Length {
            len: 1 << 20,
            max: 8
        }))
    );
    // The ring goes on: the slot was released.
    ring.try_push(b"next", meta(1)).unwrap();
    assert_eq!(ring.try_pop().unwrap().unwrap().payload, b"next");
}

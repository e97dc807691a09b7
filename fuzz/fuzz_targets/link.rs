//! Drives a node-link association with arbitrary input: first byte 0 feeds the raw bytes (in
//! pieces) after a valid `Hello`; anything else builds well-formed link frames from the bytes
//! (valid checksums, so the fuzzer reaches the state machine) interleaved with sends, timeouts and
//! reconnections.
//!
//! Checks, beyond "does not panic": messages are delivered in sequence-number order without a
//! gap or a repeat, the resend buffer stays within its bounds, and raw bytes never deliver.

#![no_main]

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use postbox_wire::link::{
    Admission, Association, Incarnation, LinkConfig, LinkEvent, LinkFrame, LinkHello, NodeName,
    Origin, Seq,
};
use postbox_wire::{ErrorBody, ErrorCode};

const LIMIT: u32 = 4096;

fn config() -> LinkConfig {
    LinkConfig {
        max_frame_len: LIMIT,
        max_unacked_messages: 16,
        max_unacked_bytes: 1024,
        authenticated_transport: true,
        ..LinkConfig::new()
    }
}

fn hello(incarnation: u64, known: u64, delivered: u64) -> LinkFrame {
    LinkFrame::Hello(LinkHello {
        node: NodeName::new("b").expect("valid"),
        incarnation: Incarnation::new(incarnation.max(1)).expect("not 0"),
        known: Incarnation::new(known),
        delivered: Seq::new(delivered),
        max_frame_len: LIMIT,
        // Both ways: data frames with and without checksums.
        unchecked: incarnation % 2 == 0,
    })
}

fn u64_from(bytes: &[u8]) -> u64 {
    let mut raw = [0u8; 8];
    let len = bytes.len().min(8);
    raw[..len].copy_from_slice(&bytes[..len]);
    u64::from_le_bytes(raw)
}

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    let mut now = start;
    let mut association = Association::new(
        config(),
        NodeName::new("a").expect("valid"),
        Incarnation::new(1).expect("not 0"),
        NodeName::new("b").expect("valid"),
        now,
    );
    let Admission::Use(mut id) = association.connection_up(now, Origin::Accepted) else {
        panic!("the first connection is used");
    };
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let raw = mode == 0;
    let mut delivered = 0u64;
    let check = |association: &mut Association, delivered: &mut u64| {
        while let Some(event) = association.poll_event() {
            match event {
                LinkEvent::Delivered(_) => {
                    assert!(!raw, "raw bytes delivered a message");
                    *delivered += 1;
                }
                LinkEvent::PeerRestarted { .. } => *delivered = 0,
                _ => {}
            }
        }
        // One message per sequence number, none skipped: the count is the last number.
        let stats = association.stats();
        assert_eq!(stats.delivered, *delivered);
        assert!(stats.unacked <= 16 && stats.unacked_bytes <= 1024);
    };

    if raw {
        let mut greeting = BytesMut::new();
        hello(2, 0, 0).encode(&mut greeting);
        association.handle_input(now, id, &mut greeting);
        for piece in data.chunks(7) {
            association.handle_input(now, id, &mut BytesMut::from(piece));
            check(&mut association, &mut delivered);
        }
        return;
    }

    // Operations: an op byte, then up to 8 bytes of argument.
    let mut rest = data;
    while let [op, tail @ ..] = rest {
        let (arg, tail) = tail.split_at(tail.len().min(8));
        rest = tail;
        let n = u64_from(arg);
        let mut wire = BytesMut::new();
        match op % 12 {
            0 => hello(n % 3 + 2, n % 2, (n >> 8) % 4).encode(&mut wire),
            1 | 2 | 3 => LinkFrame::Data {
                seq: Seq::new((n % 8).max(1) + delivered.saturating_sub(2)),
                ack: Seq::new((n >> 8) % 4),
                payload: Bytes::copy_from_slice(arg),
            }
            .encode(&mut wire),
            4 => LinkFrame::Ack {
                ack: Seq::new(n % 8),
            }
            .encode(&mut wire),
            5 => LinkFrame::Ping {
                id: n,
                ack: Seq::ZERO,
            }
            .encode(&mut wire),
            6 => LinkFrame::Pong {
                id: n % 4,
                ack: Seq::ZERO,
            }
            .encode(&mut wire),
            7 => LinkFrame::Goodbye { ack: Seq::ZERO }.encode(&mut wire),
            8 => LinkFrame::Error(ErrorBody::new(ErrorCode::INTERNAL, "fuzz")).encode(&mut wire),
            9 => {
                let _ = association.send(Bytes::copy_from_slice(arg));
            }
            10 => {
                now += Duration::from_millis(n % 4000);
                association.handle_timeout(now);
            }
            _ => {
                let origin = if n % 2 == 0 {
                    Origin::Dialed
                } else {
                    Origin::Accepted
                };
                if let Admission::Use(new) = association.connection_up(now, origin) {
                    id = new;
                }
            }
        }
        association.transmit().clear();
        if !wire.is_empty() {
            association.handle_input(now, id, &mut wire);
        }
        check(&mut association, &mut delivered);
    }
});

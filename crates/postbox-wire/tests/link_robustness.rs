//! Hostile bytes into a link: the decoder and an association never panic, never deliver what
//! they cannot check, and never reserve room for more than one frame over the limit; and what a
//! link delivers, read as a node message, is one or an error, never a panic.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use postbox_core::{Credentials, Delivery, MailboxId, Message, Pid, Wait};
use postbox_wire::link::{
    Admission, Association, Incarnation, LinkConfig, LinkDecoder, LinkEvent, LinkFrame, LinkHello,
    NodeName, Origin, Seq,
};
use postbox_wire::{ErrorCode, HEADER_LEN, NodeMessage, Request, Response, Target};
use proptest::prelude::*;

const LIMIT: u32 = 4096;

fn config() -> LinkConfig {
    LinkConfig {
        max_frame_len: LIMIT,
        ..LinkConfig::new()
    }
}

/// Bytes that are either random or a valid frame stream with one byte flipped, so that the
/// decoder's deeper checks are reached too.
fn hostile() -> impl Strategy<Value = Vec<u8>> {
    let random = proptest::collection::vec(any::<u8>(), 0..2048);
    let near_valid = (
        proptest::collection::vec(any::<u8>(), 0..200),
        any::<u64>(),
        any::<usize>(),
        any::<u8>(),
    )
        .prop_map(|(payload, seq, at, flip)| {
            let mut bytes = BytesMut::new();
            LinkFrame::Data {
                seq: Seq::new(seq | 1),
                ack: Seq::ZERO,
                payload: Bytes::from(payload),
            }
            .encode(&mut bytes);
            let at = at % bytes.len();
            bytes[at] ^= flip | 1;
            bytes.to_vec()
        });
    prop_oneof![random, near_valid]
}

/// A valid node message of each kind, the request carrying `payload`.
fn node_messages(payload: Vec<u8>) -> [NodeMessage; 5] {
    let origin = Pid::from_raw(7);
    [
        NodeMessage::Request {
            origin,
            credentials: Credentials::new(1000, 100),
            id: 3,
            request: Request::Send {
                target: Target::Mailbox(MailboxId::from_raw(9)),
                message: Message::new(payload).with_type(5),
                delivery: Delivery::Queued,
                wait: Wait::Block,
            },
        },
        NodeMessage::Cancel { origin, id: 3 },
        NodeMessage::Answer {
            origin,
            id: 3,
            response: Response::Done,
        },
        NodeMessage::Refused {
            origin,
            id: 3,
            code: ErrorCode::LIMIT_EXCEEDED,
            message: "too many".into(),
        },
        NodeMessage::Ended { pid: origin },
    ]
}

/// What a hostile node could deliver as a message: random bytes, or a valid node message with
/// one byte flipped or cut short, so that the checks past the header are reached too.
fn hostile_message() -> impl Strategy<Value = Vec<u8>> {
    let random = proptest::collection::vec(any::<u8>(), 0..512);
    let near_valid = (
        proptest::collection::vec(any::<u8>(), 0..300),
        0usize..5,
        any::<usize>(),
        any::<u8>(),
        any::<bool>(),
    )
        .prop_map(|(payload, kind, at, flip, cut)| {
            let [a, b, c, d, e] = node_messages(payload);
            let mut bytes = [a, b, c, d, e][kind].encode().to_vec();
            let at = at % bytes.len();
            if cut {
                bytes.truncate(at);
            } else {
                bytes[at] ^= flip | 1;
            }
            bytes
        });
    prop_oneof![random, near_valid]
}

proptest! {
    #[test]
    fn a_node_message_from_a_hostile_peer_decodes_or_is_refused_never_panics(
        bytes in hostile_message(),
    ) {
        // What decodes is a message in its own right: it encodes and decodes to itself.
        if let Ok(message) = NodeMessage::decode(&Bytes::from(bytes)) {
            prop_assert_eq!(NodeMessage::decode(&message.encode()), Ok(message));
        }
    }

    #[test]
    fn the_decoder_never_panics_nor_reserves_past_the_limit(
        bytes in hostile(),
        piece in 1usize..64,
    ) {
        let decoder = LinkDecoder::new(LIMIT);
        let mut buffer = BytesMut::new();
        for chunk in bytes.chunks(piece) {
            buffer.extend_from_slice(chunk);
            let capacity = buffer.capacity();
            match decoder.decode(&mut buffer) {
                Ok(Some(frame)) => {
                    if let LinkFrame::Data { payload, .. } = frame {
                        prop_assert!(payload.len() <= LIMIT as usize);
                    }
                }
                Ok(None) => prop_assert!(
                    buffer.capacity() <= capacity.max(2 * (HEADER_LEN + LIMIT as usize))
                ),
                Err(_) => break,
            }
        }
    }

    #[test]
    fn an_association_takes_any_bytes_without_panicking_or_delivering_them(
        bytes in hostile(),
        piece in 1usize..64,
        greeted in any::<bool>(),
    ) {
        let now = Instant::now();
        let mut association = Association::new(
            config(),
            NodeName::new("a").unwrap(),
            Incarnation::new(1).unwrap(),
            NodeName::new("b").unwrap(),
            now,
        );
        let Admission::Use(id) = association.connection_up(now, Origin::Accepted) else {
            panic!("the first connection is used");
        };
        if greeted {
            // A valid Hello first, so that the bytes after it reach the established state.
            let mut hello = BytesMut::new();
            LinkFrame::Hello(LinkHello {
                node: NodeName::new("b").unwrap(),
                incarnation: Incarnation::new(2).unwrap(),
                known: None,
                delivered: Seq::ZERO,
                max_frame_len: LIMIT,
                unchecked: false,
            })
            .encode(&mut hello);
            association.handle_input(now, id, &mut hello);
            prop_assert!(association.is_up());
        }
        for chunk in bytes.chunks(piece) {
            association.handle_input(now, id, &mut BytesMut::from(chunk));
        }
        association.handle_timeout(now);
        while let Some(event) = association.poll_event() {
            // Without a valid Hello from "b" nothing can be delivered.
            prop_assert!(!matches!(event, LinkEvent::Delivered(_)), "{event:?}");
        }
    }

    #[test]
    fn every_frame_round_trips(
        seq in 1u64..,
        ack in any::<u64>(),
        payload in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let frame = LinkFrame::Data { seq: Seq::new(seq), ack: Seq::new(ack), payload: Bytes::from(payload) };
        let mut bytes = BytesMut::new();
        frame.encode(&mut bytes);
        prop_assert_eq!(LinkDecoder::new(LIMIT).decode(&mut bytes), Ok(Some(frame)));
        prop_assert!(bytes.is_empty());
    }
}

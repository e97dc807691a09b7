//! Operation payloads: every request and response survives a round trip, and no input — random,
//! truncated or mutated — makes the decoders panic.

use postbox_core::{
    Branch, Capacity, Delivery, LeaseId, MailboxAttrs, MailboxId, Message, MessageSize, Mode, Pid,
    Selector, Settlement, Source, Wait,
};
use postbox_wire::{Request, Response, Target, decode_request, decode_response, encode_request};
use proptest::prelude::*;

fn selector() -> impl Strategy<Value = Selector> {
    prop_oneof![
        Just(Selector::Any),
        any::<i64>().prop_map(Selector::Type),
        any::<i64>().prop_map(Selector::NotType),
        any::<i64>().prop_map(Selector::TypeAtMost),
        any::<u64>().prop_map(|p| Selector::From(Pid::from_raw(p))),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    (
        proptest::collection::vec(any::<u8>(), 0..64),
        any::<i64>(),
        any::<u16>(),
    )
        .prop_map(|(payload, mtype, priority)| {
            Message::new(payload)
                .with_type(mtype)
                .with_priority(priority)
        })
}

fn request() -> impl Strategy<Value = Request> {
    let wait = prop_oneof![Just(Wait::Try), Just(Wait::Block)];
    let branch = (any::<bool>(), any::<u64>(), selector()).prop_map(|(inbox, id, selector)| {
        let source = if inbox {
            Source::Inbox
        } else {
            Source::Mailbox(MailboxId::from_raw(id))
        };
        Branch::new(source, selector)
    });
    let attrs =
        (any::<u16>(), 1..100usize, any::<bool>()).prop_map(|(mode, n, fixed)| MailboxAttrs {
            capacity: Capacity::bounded(n, n * 10),
            size: if fixed {
                MessageSize::Fixed(n)
            } else {
                MessageSize::Variable(n)
            },
            mode: Mode::new(mode),
            ..MailboxAttrs::system_owned()
        });
    prop_oneof![
        (any::<u64>(), message(), any::<bool>(), wait.clone()).prop_map(
            |(id, message, receipt, wait)| {
                let delivery = if receipt {
                    Delivery::Receipt
                } else {
                    Delivery::Queued
                };
                Request::Send {
                    target: Target::Process(Pid::from_raw(id)),
                    message,
                    delivery,
                    wait,
                }
            }
        ),
        (proptest::collection::vec(branch, 0..5), wait)
            .prop_map(|(branches, wait)| Request::Recv { branches, wait }),
        ("[a-z]{1,20}", attrs).prop_map(|(name, attrs)| Request::Create { name, attrs }),
        any::<u64>().prop_map(|id| Request::Stat {
            mailbox: MailboxId::from_raw(id)
        }),
        Just(Request::ListProcesses),
        (any::<u64>(), proptest::collection::vec(message(), 0..4)).prop_map(|(id, messages)| {
            Request::SendBatch {
                target: Target::Mailbox(MailboxId::from_raw(id)),
                messages,
                wait: Wait::Block,
            }
        }),
        (any::<u64>(), selector(), any::<u32>(), any::<u64>()).prop_map(
            |(id, selector, max_messages, max_bytes)| Request::RecvMany {
                branch: Branch::new(Source::Mailbox(MailboxId::from_raw(id)), selector),
                max_messages,
                max_bytes,
                wait: Wait::Block,
            }
        ),
        (any::<u64>(), selector(), any::<u32>(), any::<u64>()).prop_map(
            |(id, selector, max_messages, max_bytes)| Request::Lease {
                branch: Branch::new(Source::Mailbox(MailboxId::from_raw(id)), selector),
                max_messages,
                max_bytes,
                wait: Wait::Try,
            }
        ),
        (
            any::<u64>(),
            proptest::collection::vec((any::<u64>(), any::<u32>()), 0..4),
            any::<bool>()
        )
            .prop_map(|(id, leases, ack)| Request::Settle {
                source: Source::Mailbox(MailboxId::from_raw(id)),
                leases: leases
                    .into_iter()
                    .map(|(seq, attempt)| LeaseId { seq, attempt })
                    .collect(),
                settlement: if ack {
                    Settlement::Ack
                } else {
                    Settlement::Return
                },
            }),
        (
            any::<bool>(),
            any::<u64>(),
            selector(),
            any::<u32>(),
            any::<u64>()
        )
            .prop_map(
                |(inbox, id, selector, max_messages, max_bytes)| Request::Peek {
                    source: if inbox {
                        Source::Inbox
                    } else {
                        Source::Mailbox(MailboxId::from_raw(id))
                    },
                    selector,
                    max_messages,
                    max_bytes,
                }
            ),
        any::<u64>().prop_map(|id| Request::Purge {
            mailbox: MailboxId::from_raw(id)
        }),
    ]
}

proptest! {
    #[test]
    fn requests_round_trip(request in request()) {
        let bytes = encode_request(&request);
        prop_assert_eq!(decode_request(&bytes), Ok(request));
    }

    #[test]
    fn a_request_encoded_in_place_is_the_same_bytes(request in request(), before in proptest::collection::vec(any::<u8>(), 0..8)) {
        let mut in_place = bytes::BytesMut::from(&before[..]);
        postbox_wire::encode_request_into(&request, &mut in_place);
        prop_assert_eq!(&in_place[..before.len()], &before[..]);
        prop_assert_eq!(&in_place[before.len()..], &encode_request(&request)[..]);
    }

    #[test]
    fn a_response_encoded_in_place_is_the_same_bytes(message in message()) {
        let response = Response::Received {
            branch: 1,
            message: postbox_core::Received {
                message,
                sender: Pid::from_raw(9),
                seq: 12,
                sent_at: postbox_core::Timestamp::from_nanos(5_000),
                kind: postbox_core::MessageKind::User,
                attempt: 1,
            },
        };
        let mut in_place = bytes::BytesMut::new();
        postbox_wire::encode_response_into(&response, &mut in_place);
        prop_assert_eq!(&in_place[..], &postbox_wire::encode_response(&response)[..]);
    }

    #[test]
    fn random_bytes_never_panic_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_request(&bytes);
        let _ = decode_response(&bytes);
        let shared = bytes::Bytes::from(bytes);
        let _ = postbox_wire::decode_request_shared(&shared);
        let _ = postbox_wire::decode_response_shared(&shared);
    }

    /// The decoders that let large payloads borrow their frame give exactly what the plain ones
    /// give, for whole requests and for every mutation or truncation of one.
    #[test]
    fn the_sharing_decoders_agree_with_the_plain_ones(request in request(), at in any::<usize>(), byte in any::<u8>(), cut in any::<usize>()) {
        let whole = encode_request(&request);
        prop_assert_eq!(postbox_wire::decode_request_shared(&whole), Ok(request));
        let mut bytes = whole.to_vec();
        if !bytes.is_empty() {
            let at = at % bytes.len();
            bytes[at] = byte;
            bytes.truncate(cut % (bytes.len() + 1));
        }
        let shared = bytes::Bytes::from(bytes.clone());
        prop_assert_eq!(postbox_wire::decode_request_shared(&shared).ok(), decode_request(&bytes).ok());
        prop_assert_eq!(postbox_wire::decode_response_shared(&shared).ok(), decode_response(&bytes).ok());
    }

    #[test]
    fn mutated_and_truncated_requests_never_panic(request in request(), at in any::<usize>(), byte in any::<u8>(), cut in any::<usize>()) {
        let mut bytes = encode_request(&request).to_vec();
        if !bytes.is_empty() {
            let at = at % bytes.len();
            bytes[at] = byte;
            bytes.truncate(cut % (bytes.len() + 1));
        }
        let _ = decode_request(&bytes);
        let _ = decode_response(&bytes);
    }
}

#[test]
fn a_response_with_a_message_round_trips() {
    let response = Response::Sent {
        receiver: Some(Pid::from_raw(3)),
    };
    let bytes = postbox_wire::encode_response(&response);
    assert_eq!(decode_response(&bytes), Ok(response));
}

/// Any request at all, with ids a hostile peer might make up: unknown mailboxes, pids that never
/// existed, absurd sizes.
fn hostile_request() -> impl Strategy<Value = Request> {
    let mailbox = (0..6u64).prop_map(MailboxId::from_raw);
    let pid = (0..6u64).prop_map(Pid::from_raw);
    let wait = prop_oneof![Just(Wait::Try), Just(Wait::Block)];
    let branch = (any::<bool>(), mailbox.clone(), selector()).prop_map(|(inbox, id, selector)| {
        Branch::new(
            if inbox {
                Source::Inbox
            } else {
                Source::Mailbox(id)
            },
            selector,
        )
    });
    let attrs =
        (any::<u16>(), 0..4usize, 0..4usize, any::<bool>()).prop_map(|(mode, n, b, fixed)| {
            MailboxAttrs {
                capacity: if n == 0 {
                    Capacity::Zero
                } else {
                    Capacity::bounded(n, b)
                },
                size: if fixed {
                    MessageSize::Fixed(b)
                } else {
                    MessageSize::Variable(usize::MAX)
                },
                mode: Mode::new(mode),
                ..MailboxAttrs::system_owned()
            }
        });
    prop_oneof![
        (
            any::<bool>(),
            mailbox.clone(),
            pid.clone(),
            message(),
            any::<bool>(),
            wait.clone()
        )
            .prop_map(|(direct, id, to, message, receipt, wait)| Request::Send {
                target: if direct {
                    Target::Process(to)
                } else {
                    Target::Mailbox(id)
                },
                message,
                delivery: if receipt {
                    Delivery::Receipt
                } else {
                    Delivery::Queued
                },
                wait,
            }),
        (proptest::collection::vec(branch, 0..3), wait.clone())
            .prop_map(|(branches, wait)| Request::Recv { branches, wait }),
        ("[ab]", attrs.clone()).prop_map(|(name, attrs)| Request::Create { name, attrs }),
        ("[ab]", attrs).prop_map(|(name, attrs)| Request::OpenOrCreate { name, attrs }),
        "[ab]".prop_map(|name| Request::Open { name }),
        mailbox
            .clone()
            .prop_map(|mailbox| Request::Close { mailbox }),
        mailbox
            .clone()
            .prop_map(|mailbox| Request::Delete { mailbox }),
        (mailbox.clone(), any::<u64>())
            .prop_map(|(mailbox, bytes)| Request::SetMaxBytes { mailbox, bytes }),
        (mailbox.clone(), pid.clone()).prop_map(|(mailbox, p)| Request::SetOwner {
            mailbox,
            owner: postbox_core::Owner::Process(p)
        }),
        (mailbox.clone(), pid.clone())
            .prop_map(|(mailbox, grantee)| Request::GrantReceive { mailbox, grantee }),
        (mailbox.clone(), pid.clone())
            .prop_map(|(mailbox, grantee)| Request::RevokeReceive { mailbox, grantee }),
        mailbox
            .clone()
            .prop_map(|mailbox| Request::Stat { mailbox }),
        pid.clone().prop_map(|target| Request::Monitor { target }),
        "[ab]".prop_map(|name| Request::Register { name }),
        Just(Request::ListMailboxes),
        (
            any::<bool>(),
            mailbox.clone(),
            pid.clone(),
            proptest::collection::vec(message(), 0..6),
            wait.clone()
        )
            .prop_map(|(direct, id, to, messages, wait)| Request::SendBatch {
                target: if direct {
                    Target::Process(to)
                } else {
                    Target::Mailbox(id)
                },
                messages,
                wait,
            }),
        (
            (any::<bool>(), mailbox.clone(), selector()),
            0..2000u32,
            any::<u64>(),
            prop_oneof![Just(Wait::Try), Just(Wait::Block)]
        )
            .prop_map(|((inbox, id, selector), max_messages, max_bytes, wait)| {
                let source = if inbox {
                    Source::Inbox
                } else {
                    Source::Mailbox(id)
                };
                Request::RecvMany {
                    branch: Branch::new(source, selector),
                    max_messages,
                    max_bytes,
                    wait,
                }
            }),
        (
            (any::<bool>(), mailbox.clone(), selector()),
            0..2000u32,
            any::<u64>(),
            prop_oneof![Just(Wait::Try), Just(Wait::Block)]
        )
            .prop_map(|((inbox, id, selector), max_messages, max_bytes, wait)| {
                let source = if inbox {
                    Source::Inbox
                } else {
                    Source::Mailbox(id)
                };
                Request::Lease {
                    branch: Branch::new(source, selector),
                    max_messages,
                    max_bytes,
                    wait,
                }
            }),
        (
            mailbox.clone(),
            proptest::collection::vec((0..8u64, 1..3u32), 0..1100),
            any::<bool>()
        )
            .prop_map(|(id, leases, ack)| Request::Settle {
                source: Source::Mailbox(id),
                leases: leases
                    .into_iter()
                    .map(|(seq, attempt)| LeaseId { seq, attempt })
                    .collect(),
                settlement: if ack {
                    Settlement::Ack
                } else {
                    Settlement::Return
                },
            }),
        (
            (any::<bool>(), mailbox.clone(), selector()),
            0..2000u32,
            any::<u64>()
        )
            .prop_map(
                |((inbox, id, selector), max_messages, max_bytes)| Request::Peek {
                    source: if inbox {
                        Source::Inbox
                    } else {
                        Source::Mailbox(id)
                    },
                    selector,
                    max_messages,
                    max_bytes,
                }
            ),
        mailbox
            .clone()
            .prop_map(|mailbox| Request::Purge { mailbox }),
    ]
}

proptest! {
    /// What a daemon does with a decoded request from a hostile peer: whatever the ids and
    /// sizes, the engine answers (or makes the request wait) and never panics; withdrawals and
    /// terminations in between never panic either.
    #[test]
    fn hostile_requests_never_panic_the_engine(
        steps in proptest::collection::vec((0..4u64, hostile_request(), any::<bool>()), 1..40),
    ) {
        use postbox_core::{Credentials, Engine, Limits, Timestamp};
        use postbox_wire::{Applied, apply};
        let mut engine = Engine::new(Limits { max_queued_bytes: 64, ..Limits::default() });
        let now = Timestamp::ZERO;
        let pids: Vec<Pid> = (0..3).map(|i| engine.spawn(Credentials::new(1000 + i, 100), now)).collect();
        let mut tickets = Vec::new();
        for (who, request, cancel) in steps {
            // `who` 3 is a process that has terminated (or never existed).
            let pid = pids.get(who as usize).copied().unwrap_or(Pid::from_raw(99));
            match apply(&mut engine, pid, request, now) {
                Applied::Blocked(ticket) => tickets.push(ticket),
                Applied::BlockedBatch(batch) => tickets.extend(batch.waiting.into_iter().flatten()),
                Applied::Now(_) => {}
            }
            if cancel {
                if let Some(ticket) = tickets.pop() {
                    let _ = engine.cancel(ticket, now);
                }
            }
            while engine.poll_completion().is_some() {}
        }
        engine.terminate(pids[0], now);
        while engine.poll_completion().is_some() {}
        for ticket in tickets {
            let _ = engine.cancel(ticket, now);
        }
    }
}

/// `Peek` copies the first matching message whatever its size, then more while they fit in its
/// byte budget; it takes nothing, and a count of 0 or above `MAX_BATCH` is a protocol error.
#[test]
fn peek_answers_within_its_byte_budget_and_takes_nothing() {
    use postbox_core::{AdminError, Credentials, Engine, Timestamp};
    use postbox_wire::{Applied, MAX_BATCH, RECEIVED_OVERHEAD, apply};
    let now = Timestamp::ZERO;
    let mut engine = Engine::default();
    let pid = engine.spawn(Credentials::new(1000, 1000), now);
    let q = engine
        .create(pid, "q", MailboxAttrs::default(), now)
        .expect("create");
    for byte in 0..4u8 {
        let message = Message::new(vec![byte; 100]);
        engine
            .send(pid, q, message, Delivery::Queued, Wait::Try, now)
            .expect("send");
    }
    let mut peek = |max_messages, max_bytes| {
        let request = Request::Peek {
            source: Source::Mailbox(q),
            selector: Selector::Any,
            max_messages,
            max_bytes,
        };
        match apply(&mut engine, pid, request, now) {
            Applied::Now(Response::Peeked(seen)) => Ok(seen.iter().map(|m| m.seq).collect()),
            Applied::Now(Response::AdminFailed(error)) => Err(error),
            other => panic!("{other:?}"),
        }
    };
    let one = (100 + RECEIVED_OVERHEAD) as u64;
    assert_eq!(peek(10, 0), Ok(vec![0]), "the first always");
    // As for `RecvMany`, the budget counts the first message too, though it never stops it.
    assert_eq!(peek(10, 2 * one - 1), Ok(vec![0]));
    assert_eq!(peek(10, 2 * one), Ok(vec![0, 1]));
    assert_eq!(peek(10, 3 * one), Ok(vec![0, 1, 2]));
    assert_eq!(peek(2, u64::MAX), Ok(vec![0, 1]));
    assert_eq!(
        peek(10, u64::MAX),
        Ok(vec![0, 1, 2, 3]),
        "nothing was taken"
    );
    assert_eq!(peek(0, u64::MAX), Err(AdminError::Protocol));
    let too_many = u32::try_from(MAX_BATCH + 1).unwrap();
    assert_eq!(peek(too_many, u64::MAX), Err(AdminError::Protocol));
}

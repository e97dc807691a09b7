//! Delegation: which mailboxes the engine lends to a transport, the quota it reserves for them,
//! and what it takes back — queue, sequence numbers, statistics — exactly as if it had run them.

mod common;

use bytes::Bytes;
use common::*;
use postbox_core::{
    Capacity, Credentials, Dispatch, Engine, Handback, Limits, MESSAGE_CHARGE, MailboxAttrs,
    Message, MessageKind, Mode, Order, Overflow, Received, Receivers, Selector, SendErrorKind,
};

fn bounded(messages: usize, bytes: usize) -> MailboxAttrs {
    MailboxAttrs {
        capacity: Capacity::Bounded { messages, bytes },
        ..MailboxAttrs::process_owned()
    }
}

#[test]
fn only_plain_idle_mailboxes_are_delegated() {
    let plain = bounded(4, 1024);
    let cases = [
        (plain, true),
        (MailboxAttrs::system_owned(), true),
        (
            MailboxAttrs {
                capacity: Capacity::Unbounded,
                ..plain
            },
            false,
        ),
        (
            MailboxAttrs {
                capacity: Capacity::Zero,
                ..plain
            },
            false,
        ),
        (
            MailboxAttrs {
                order: Order::Priority,
                ..plain
            },
            false,
        ),
        (
            MailboxAttrs {
                overflow: Overflow::DropOldest,
                ..plain
            },
            false,
        ),
        (
            MailboxAttrs {
                receivers: Receivers::Exclusive,
                ..plain
            },
            false,
        ),
        (
            MailboxAttrs {
                receivers: Receivers::Pair,
                ..plain
            },
            false,
        ),
        (
            MailboxAttrs {
                receivers: Receivers::Shared(Dispatch::RoundRobin),
                ..plain
            },
            false,
        ),
    ];
    for (index, (attrs, expected)) in cases.into_iter().enumerate() {
        let mut engine = Engine::default();
        let owner = spawn(&mut engine);
        let q = create(&mut engine, owner, &format!("q{index}"), attrs);
        assert_eq!(engine.delegate(q).is_some(), expected, "{attrs:?}");
        assert_eq!(engine.is_delegated(q), expected);
    }
}

#[test]
fn a_mailbox_with_messages_or_waiters_is_not_delegated_and_never_twice() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let q = create(&mut engine, owner, "q", bounded(4, 1024));
    send(&mut engine, owner, q, "queued");
    assert!(engine.delegate(q).is_none(), "a message is queued");
    take(&mut engine, owner, on(q, Selector::Any));
    let ticket = recv_blocked(&mut engine, owner, &[on(q, Selector::Any)]);
    assert!(engine.delegate(q).is_none(), "a receiver waits");
    engine.cancel(ticket, at(1));
    assert!(engine.delegate(q).is_some());
    assert!(engine.delegate(q).is_none(), "already delegated");
}

#[test]
fn the_terms_name_the_bounds_and_who_may_send_and_receive() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let writer = spawn(&mut engine);
    let stranger = engine.spawn(Credentials::new(4242, 4242), at(0));
    let attrs = MailboxAttrs {
        mode: Mode::new(0o622),
        ..bounded(8, 512)
    };
    let q = create(&mut engine, owner, "q", attrs);
    engine.open(writer, "q").unwrap();
    engine.open(stranger, "q").unwrap();
    let terms = engine.delegate(q).expect("plain and idle");
    assert_eq!((terms.messages, terms.bytes), (8, 512));
    assert_eq!(terms.size, attrs.size);
    assert_eq!(terms.max_message_size, engine.limits().max_message_size);
    assert_eq!(terms.senders, vec![owner, writer, stranger]);
    assert_eq!(
        terms.receivers,
        vec![owner],
        "owner-receive: the owner only"
    );
    assert_eq!(terms.next_seq, 0);
}

#[test]
fn a_delegated_mailbox_reserves_its_bytes_against_the_quota() {
    // A lent mailbox reserves its byte capacity plus the charge of as many messages as it holds.
    let reserve = 600 + 4 * MESSAGE_CHARGE;
    let limits = Limits {
        max_queued_bytes: reserve + 400 + MESSAGE_CHARGE,
        ..Limits::default()
    };
    let mut engine = Engine::new(limits);
    let owner = spawn(&mut engine);
    let lent = create(&mut engine, owner, "lent", bounded(4, 600));
    let other = create(&mut engine, owner, "other", bounded(4, 600));
    assert!(engine.delegate(lent).is_some());
    assert_eq!(engine.delegated_bytes(), reserve);
    assert!(
        engine.delegate(other).is_none(),
        "600 + 600 exceeds the quota"
    );
    let refused = engine
        .send(
            owner,
            other,
            Message::new(vec![0; 401]),
            postbox_core::Delivery::Queued,
            postbox_core::Wait::Try,
            at(1),
        )
        .expect_err("the reservation counts");
    assert_eq!(refused.kind(), SendErrorKind::QuotaExceeded);
    engine.reclaim(lent, Handback::default());
    assert_eq!(engine.delegated_bytes(), 0);
    send(&mut engine, owner, other, vec![b'x'; 401]);
}

#[test]
fn reclaiming_restores_the_queue_sequence_numbers_and_statistics() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let sender = spawn(&mut engine);
    let q = create(&mut engine, owner, "q", bounded(8, 1024));
    engine.open(sender, "q").unwrap();
    send(&mut engine, sender, q, "before");
    assert_eq!(take(&mut engine, owner, on(q, Selector::Any)), b"before");
    let terms = engine.delegate(q).expect("idle");
    assert_eq!(terms.next_seq, 1);
    // The transport accepted three messages (seq 1, 2, 3) and handed one over.
    let left = |seq: u64, text: &'static str| Received {
        message: Message::new(Bytes::from_static(text.as_bytes())),
        sender,
        seq,
        sent_at: at(10 + seq),
        kind: MessageKind::User,
        attempt: 1,
    };
    engine.reclaim(
        q,
        Handback {
            queued: vec![left(2, "two"), left(3, "three")],
            sent: 3,
            received: 1,
            last_send: Some((sender, at(13))),
            last_recv: Some((owner, at(14))),
            next_seq: 4,
        },
    );
    assert!(!engine.is_delegated(q));
    let stats = engine.stat(owner, q).unwrap();
    assert_eq!((stats.total_sent, stats.total_received), (4, 2));
    assert_eq!((stats.messages, stats.bytes), (2, 8));
    assert_eq!(stats.last_send, Some((sender, at(13))));
    assert_eq!(stats.last_recv, Some((owner, at(14))));
    let node = engine.stats();
    assert_eq!((node.total_sent, node.total_received), (4, 2));
    assert_eq!((node.queued_messages, node.queued_bytes), (2, 8));
    let second = try_recv(&mut engine, owner, on(q, Selector::Any)).unwrap();
    assert_eq!((second.seq, payload(&second)), (2, b"two".to_vec()));
    send(&mut engine, sender, q, "four");
    assert_eq!(take(&mut engine, owner, on(q, Selector::Any)), b"three");
    let fourth = try_recv(&mut engine, owner, on(q, Selector::Any)).unwrap();
    assert_eq!(
        fourth.seq, 4,
        "numbering continues where the transport left off"
    );
}

#[test]
fn reclaiming_a_mailbox_not_delegated_changes_nothing() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let q = create(&mut engine, owner, "q", bounded(8, 1024));
    let handback = Handback {
        sent: 5,
        next_seq: 9,
        ..Handback::default()
    };
    engine.reclaim(q, handback);
    let stats = engine.stat(owner, q).unwrap();
    assert_eq!(stats.total_sent, 0);
    send(&mut engine, owner, q, "first");
    let first = try_recv(&mut engine, owner, on(q, Selector::Any)).unwrap();
    assert_eq!(first.seq, 0);
}

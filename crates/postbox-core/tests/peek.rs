//! Peeking: copies of queued messages in the order receives would take them, and nothing changes.

mod common;

use common::*;
use postbox_core::{
    AdminError, Capacity, Credentials, Engine, MailboxAttrs, MailboxId, Message, Mode, Order, Pid,
    Received, Receivers, RecvOutcome, Selector, Source, Timestamp, Wait,
};

fn shared(order: Order) -> MailboxAttrs {
    MailboxAttrs {
        order,
        mode: Mode::new(0o666),
        ..MailboxAttrs::system_owned()
    }
}

fn peek(engine: &Engine, pid: Pid, q: MailboxId, selector: Selector, max: usize) -> Vec<u64> {
    engine
        .peek(pid, Source::Mailbox(q), selector, max)
        .expect("peek")
        .iter()
        .map(|m| m.seq)
        .collect()
}

/// What successive non-blocking receives with `selector` take, by sequence number.
fn drain(engine: &mut Engine, pid: Pid, q: MailboxId, selector: Selector) -> Vec<u64> {
    std::iter::from_fn(|| try_recv(engine, pid, on(q, selector)).ok())
        .map(|m| m.seq)
        .collect()
}

/// A mailbox with a mix of types, priorities and senders, in the given order.
fn filled(order: Order) -> (Engine, Pid, Pid, MailboxId) {
    let mut engine = Engine::default();
    let a = spawn(&mut engine);
    let b = spawn(&mut engine);
    let q = create(&mut engine, a, "q", shared(order));
    engine.open(b, "q").unwrap();
    for (i, (mtype, priority)) in [(3, 0), (1, 5), (2, 0), (1, 9), (3, 5), (2, 1)]
        .into_iter()
        .enumerate()
    {
        let from = if i % 2 == 0 { a } else { b };
        let message = Message::new(vec![i as u8])
            .with_type(mtype)
            .with_priority(priority);
        send(&mut engine, from, q, message);
    }
    (engine, a, b, q)
}

#[test]
fn smoke() {
    let mut engine = Engine::default();
    let a = spawn(&mut engine);
    let q = create(&mut engine, a, "q", MailboxAttrs::default());
    send(&mut engine, a, q, "one");
    send(&mut engine, a, q, "two");
    let seen = engine
        .peek(a, Source::Mailbox(q), Selector::Any, 10)
        .unwrap();
    let payloads: Vec<_> = seen.iter().map(payload).collect();
    assert_eq!(payloads, [b"one".to_vec(), b"two".to_vec()]);
    assert_eq!(take(&mut engine, a, on(q, Selector::Any)), b"one");
}

#[test]
fn peek_shows_what_successive_receives_take_for_every_selector_and_order() {
    for order in [Order::Fifo, Order::Priority] {
        let (probe, a, b, _) = filled(order);
        drop(probe);
        for selector in [
            Selector::Any,
            Selector::Type(1),
            Selector::NotType(3),
            Selector::TypeAtMost(2),
            Selector::TypeAtMost(3),
            Selector::From(a),
            Selector::From(b),
        ] {
            let (mut engine, _, reader, q) = filled(order);
            let peeked = peek(&engine, reader, q, selector, 100);
            let taken = drain(&mut engine, reader, q, selector);
            assert!(!taken.is_empty(), "{order:?} {selector:?} takes something");
            assert_eq!(peeked, taken, "{order:?} {selector:?}");
        }
    }
}

#[test]
fn peek_copies_whole_messages_and_stops_at_max() {
    let (engine, _, b, q) = filled(Order::Priority);
    let all = engine
        .peek(b, Source::Mailbox(q), Selector::Any, 100)
        .unwrap();
    // Highest priority first, FIFO among equals.
    let priorities: Vec<u16> = all.iter().map(Received::priority).collect();
    assert_eq!(priorities, [9, 5, 5, 1, 0, 0]);
    assert_eq!(all[0].mtype(), 1);
    assert_eq!(payload(&all[0]), [3]);
    assert_eq!(peek(&engine, b, q, Selector::Any, 2), [3, 1]);
    assert!(peek(&engine, b, q, Selector::Any, 0).is_empty());
    assert!(peek(&engine, b, q, Selector::Type(7), 10).is_empty());
}

#[test]
fn peek_changes_no_statistics_waiter_or_right() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let waiter = spawn(&mut engine);
    let q = create(
        &mut engine,
        owner,
        "q",
        MailboxAttrs {
            receivers: Receivers::Exclusive,
            ..shared(Order::Fifo)
        },
    );
    engine.open(waiter, "q").unwrap();
    send(&mut engine, owner, q, Message::new("a").with_type(1));
    // The waiter holds the exclusive right and waits for a type the queue does not have.
    let ticket = recv_blocked(&mut engine, waiter, &[on(q, Selector::Type(2))]);
    let before = engine.stat(owner, q).unwrap();
    let engine_before = engine.stats();
    // The owner may peek although another process holds the exclusive right.
    assert_eq!(peek(&engine, owner, q, Selector::Any, 10), [0]);
    assert_eq!(engine.stat(owner, q).unwrap(), before);
    assert_eq!(engine.stats(), engine_before);
    assert!(engine.is_waiting(ticket));
    assert!(completions(&mut engine).is_empty());
    // The waiter is still the one a matching message goes to.
    send(&mut engine, owner, q, Message::new("b").with_type(2));
    let (_, message) = received(only_completion(&mut engine, ticket));
    assert_eq!(payload(&message), b"b");
}

#[test]
fn leased_messages_are_not_shown_until_returned() {
    let mut engine = Engine::default();
    let a = spawn(&mut engine);
    let q = create(&mut engine, a, "q", shared(Order::Fifo));
    send(&mut engine, a, q, "one");
    send(&mut engine, a, q, "two");
    let leased = match engine.lease(a, &[on(q, Selector::Any)], Wait::Try, at(1)) {
        Ok(RecvOutcome::Received { message, .. }) => message,
        other => panic!("{other:?}"),
    };
    assert_eq!(peek(&engine, a, q, Selector::Any, 10), [1]);
    engine
        .settle(
            a,
            Source::Mailbox(q),
            &[postbox_core::LeaseId::from(&leased)],
            postbox_core::Settlement::Return,
            at(2),
        )
        .unwrap();
    assert_eq!(peek(&engine, a, q, Selector::Any, 10), [0, 1]);
}

#[test]
fn messages_held_by_waiting_senders_are_not_queued() {
    let mut engine = Engine::default();
    let a = spawn(&mut engine);
    let attrs = MailboxAttrs {
        capacity: Capacity::bounded(1, 1024),
        ..shared(Order::Fifo)
    };
    let q = create(&mut engine, a, "q", attrs);
    send(&mut engine, a, q, "queued");
    send_blocked(&mut engine, a, q, "waiting", postbox_core::Delivery::Queued);
    assert_eq!(peek(&engine, a, q, Selector::Any, 10), [0]);
    let zero = create(
        &mut engine,
        a,
        "zero",
        MailboxAttrs {
            capacity: Capacity::Zero,
            ..shared(Order::Fifo)
        },
    );
    send_blocked(
        &mut engine,
        a,
        zero,
        "rendezvous",
        postbox_core::Delivery::Queued,
    );
    assert!(peek(&engine, a, zero, Selector::Any, 10).is_empty());
}

#[test]
fn who_may_peek_is_who_may_receive() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let friend = spawn(&mut engine);
    let stranger = engine.spawn(Credentials::new(2000, 2000), Timestamp::ZERO);
    // Process-owned, owner-only receive, readable and writable by all.
    let attrs = MailboxAttrs {
        mode: Mode::new(0o666),
        ..MailboxAttrs::process_owned()
    };
    let q = create(&mut engine, owner, "q", attrs);
    send(&mut engine, owner, q, "x");
    let denied = Err(AdminError::PermissionDenied);
    let peek_as = |engine: &Engine, pid| {
        engine
            .peek(pid, Source::Mailbox(q), Selector::Any, 1)
            .map(|m| m.len())
    };
    // Not open: denied.
    assert_eq!(peek_as(&engine, friend), denied);
    engine.open(friend, "q").unwrap();
    // Open, but the owner-only policy: denied until granted.
    assert_eq!(peek_as(&engine, friend), denied);
    engine.grant_receive(owner, q, friend, at(1)).unwrap();
    assert_eq!(peek_as(&engine, friend), Ok(1));
    assert_eq!(peek_as(&engine, owner), Ok(1));

    // System-owned, shared, 0620: others may send but not receive, so not peek either.
    let attrs = MailboxAttrs {
        mode: Mode::new(0o622),
        ..MailboxAttrs::system_owned()
    };
    let r = create(&mut engine, owner, "r", attrs);
    engine.open(stranger, "r").unwrap();
    let peek_r = |engine: &Engine, pid| {
        engine
            .peek(pid, Source::Mailbox(r), Selector::Any, 1)
            .map(|m| m.len())
    };
    assert_eq!(peek_r(&engine, stranger), denied);
    assert_eq!(peek_r(&engine, owner), Ok(0));

    // Inboxes: only one's own.
    send_to(&mut engine, friend, owner, "direct");
    assert_eq!(
        engine
            .peek(owner, Source::Inbox, Selector::Any, 5)
            .map(|m| m.len()),
        Ok(1)
    );
    assert_eq!(
        engine.peek(friend, Source::Inbox, Selector::Any, 5),
        Ok(Vec::new())
    );

    // Deleted: gone. Terminated caller: disconnected.
    engine.delete(owner, q).unwrap();
    assert_eq!(peek_as(&engine, owner), Err(AdminError::Gone));
    engine.terminate(friend, at(2));
    assert_eq!(
        engine.peek(friend, Source::Inbox, Selector::Any, 1),
        Err(AdminError::Disconnected)
    );
}

//! Broadcast mailboxes: every message to every member, the bound per member's backlog.

mod common;

use common::*;
use postbox_core::{
    CallErrorKind, Capacity, Completion, Delivery, Durability, Engine, MailboxAttrs, MailboxId,
    Message, OpenError, Order, Overflow, Pid, Receivers, RecvError, Selector, SendErrorKind,
    SendOutcome, Timestamp, Wait,
};

fn attrs(capacity: Capacity, overflow: Overflow) -> MailboxAttrs {
    MailboxAttrs {
        receivers: Receivers::Broadcast,
        capacity,
        overflow,
        ..MailboxAttrs::system_owned()
    }
}

/// A broadcast mailbox, a publisher and three members that joined by trying to receive.
fn setup(engine: &mut Engine, attrs: MailboxAttrs) -> (Pid, [Pid; 3], MailboxId) {
    let publisher = spawn(engine);
    let members = [spawn(engine), spawn(engine), spawn(engine)];
    let q = create(engine, publisher, "room", attrs);
    for member in members {
        engine.open(member, "room").unwrap();
        assert_eq!(
            try_recv(engine, member, on(q, Selector::Any)).unwrap_err(),
            RecvError::Empty
        );
    }
    (publisher, members, q)
}

fn any(q: MailboxId) -> postbox_core::Branch {
    on(q, Selector::Any)
}

#[test]
fn every_member_gets_every_message_in_order() {
    let mut engine = Engine::default();
    let (publisher, members, q) = setup(&mut engine, attrs(Capacity::default(), Overflow::Block));
    let waiting = recv_blocked(&mut engine, members[0], &[any(q)]);
    for text in ["one", "two", "three"] {
        send(&mut engine, publisher, q, text);
    }
    let (_, first) = received(only_completion(&mut engine, waiting));
    assert_eq!(payload(&first), b"one");
    let stats = engine.stat(publisher, q).unwrap();
    assert_eq!(
        (stats.messages, stats.bytes),
        (3, 11),
        "distinct messages owed"
    );
    assert_eq!((stats.total_sent, stats.total_received), (3, 1));
    assert_eq!(take(&mut engine, members[0], any(q)), b"two");
    assert_eq!(take(&mut engine, members[0], any(q)), b"three");
    for &member in &members[1..] {
        for text in ["one", "two", "three"] {
            assert_eq!(take(&mut engine, member, any(q)), text.as_bytes());
        }
    }
    let stats = engine.stat(publisher, q).unwrap();
    assert_eq!((stats.messages, stats.bytes), (0, 0));
    assert_eq!(
        (stats.total_sent, stats.total_received),
        (3, 9),
        "received counts deliveries"
    );
    assert_eq!(engine.stats().queued_messages, 0, "every copy released");
}

#[test]
fn a_joiner_sees_only_later_messages_and_a_sender_is_no_member() {
    let mut engine = Engine::default();
    let (publisher, members, q) = setup(
        &mut engine,
        attrs(Capacity::bounded(1, 64), Overflow::Block),
    );
    send(&mut engine, publisher, q, "before");
    // The publisher never received: it holds no backlog, so its own sends never wait on it.
    let late = spawn(&mut engine);
    engine.open(late, "room").unwrap();
    assert_eq!(
        try_recv(&mut engine, late, any(q)).unwrap_err(),
        RecvError::Empty
    );
    for member in members {
        assert_eq!(take(&mut engine, member, any(q)), b"before");
    }
    send(&mut engine, publisher, q, "after");
    assert_eq!(take(&mut engine, late, any(q)), b"after");
}

#[test]
fn a_send_with_no_members_succeeds_and_is_counted_dropped() {
    let mut engine = Engine::default();
    let publisher = spawn(&mut engine);
    let q = create(
        &mut engine,
        publisher,
        "room",
        attrs(Capacity::Zero, Overflow::Block),
    );
    let sent = try_send(&mut engine, publisher, q, "nobody").unwrap();
    assert_eq!(sent, SendOutcome::Sent { receiver: None });
    let stats = engine.stat(publisher, q).unwrap();
    assert_eq!((stats.messages, stats.total_sent, stats.dropped), (0, 1, 1));
    assert_eq!(engine.stats().total_dropped, 1);
}

#[test]
fn a_slow_member_blocks_the_sender_until_it_receives() {
    let mut engine = Engine::default();
    let (publisher, members, q) = setup(
        &mut engine,
        attrs(Capacity::bounded(1, 64), Overflow::Block),
    );
    send(&mut engine, publisher, q, "a");
    for &member in &members[..2] {
        assert_eq!(take(&mut engine, member, any(q)), b"a");
    }
    let full = try_send(&mut engine, publisher, q, "b").unwrap_err();
    assert_eq!(full.kind(), SendErrorKind::Full);
    let blocked = send_blocked(&mut engine, publisher, q, "b", Delivery::Queued);
    assert!(completions(&mut engine).is_empty());
    assert_eq!(take(&mut engine, members[2], any(q)), b"a");
    assert_eq!(
        only_completion(&mut engine, blocked),
        Completion::Sent { receiver: None }
    );
    for member in members {
        assert_eq!(take(&mut engine, member, any(q)), b"b");
    }
}

#[test]
fn drop_oldest_loses_only_the_slow_members_oldest() {
    let mut engine = Engine::default();
    let (publisher, members, q) = setup(
        &mut engine,
        attrs(Capacity::bounded(2, 64), Overflow::DropOldest),
    );
    for text in ["1", "2", "3"] {
        send(&mut engine, publisher, q, text);
        assert_eq!(take(&mut engine, members[0], any(q)), text.as_bytes());
    }
    for &member in &members[1..] {
        assert_eq!(take(&mut engine, member, any(q)), b"2", "its oldest went");
        assert_eq!(take(&mut engine, member, any(q)), b"3");
    }
    let stats = engine.stat(publisher, q).unwrap();
    assert_eq!(stats.dropped, 2, "one copy lost by each slow member");
}

#[test]
fn a_member_leaving_releases_a_sender_blocked_only_by_it() {
    for death in [false, true] {
        let mut engine = Engine::default();
        let (publisher, members, q) = setup(
            &mut engine,
            attrs(Capacity::bounded(1, 64), Overflow::Block),
        );
        send(&mut engine, publisher, q, "a");
        for &member in &members[..2] {
            take(&mut engine, member, any(q));
        }
        let blocked = send_blocked(&mut engine, publisher, q, "b", Delivery::Queued);
        if death {
            engine.terminate(members[2], at(1));
        } else {
            engine.close(members[2], q, at(1));
        }
        assert_eq!(
            only_completion(&mut engine, blocked),
            Completion::Sent { receiver: None }
        );
        let stats = engine.stat(publisher, q).unwrap();
        assert_eq!(stats.messages, 1, "only b is owed now ({death})");
        assert_eq!(
            engine.stats().queued_messages,
            2,
            "one copy per remaining member"
        );
    }
}

#[test]
fn a_rendezvous_completes_when_every_member_took_it() {
    let mut engine = Engine::default();
    let (publisher, members, q) = setup(&mut engine, attrs(Capacity::Zero, Overflow::Block));
    let full = try_send(&mut engine, publisher, q, "x").unwrap_err();
    assert_eq!(full.kind(), SendErrorKind::Full, "not every member waits");
    let waiting = recv_blocked(&mut engine, members[0], &[any(q)]);
    let ticket = send_blocked(&mut engine, publisher, q, "x", Delivery::Queued);
    let (_, got) = received(only_completion(&mut engine, waiting));
    assert_eq!(payload(&got), b"x");
    assert_eq!(take(&mut engine, members[1], any(q)), b"x");
    assert!(engine.is_waiting(ticket), "one member still owes it");
    // A member that leaves no longer owes it.
    engine.close(members[2], q, at(1));
    assert_eq!(
        only_completion(&mut engine, ticket),
        Completion::Sent { receiver: None }
    );
    // With every member waiting, a non-blocking send completes at once.
    let tickets: Vec<_> = members[..2]
        .iter()
        .map(|&m| recv_blocked(&mut engine, m, &[any(q)]))
        .collect();
    assert_eq!(
        try_send(&mut engine, publisher, q, "y").unwrap(),
        SendOutcome::Sent { receiver: None }
    );
    assert_eq!(completions(&mut engine).len(), tickets.len());
}

#[test]
fn a_cancelled_rendezvous_is_withdrawn_from_members_that_had_not_taken_it() {
    let mut engine = Engine::default();
    let (publisher, members, q) = setup(&mut engine, attrs(Capacity::Zero, Overflow::Block));
    let ticket = send_blocked(&mut engine, publisher, q, "x", Delivery::Queued);
    assert_eq!(take(&mut engine, members[0], any(q)), b"x");
    let cancelled = engine.cancel(ticket, at(2));
    assert_eq!(
        cancelled,
        Some(postbox_core::Cancelled::Send(Message::new("x")))
    );
    assert_eq!(
        try_recv(&mut engine, members[1], any(q)).unwrap_err(),
        RecvError::Empty
    );
    assert_eq!(engine.stats().queued_messages, 0);
    assert_eq!(engine.stat(publisher, q).unwrap().messages, 0);
}

#[test]
fn typed_receive_and_priority_order_are_per_member() {
    let mut engine = Engine::default();
    let order = MailboxAttrs {
        order: Order::Priority,
        ..attrs(Capacity::default(), Overflow::Block)
    };
    let (publisher, members, q) = setup(&mut engine, order);
    let typed = recv_blocked(&mut engine, members[0], &[on(q, Selector::Type(2))]);
    send(&mut engine, publisher, q, Message::new("low").with_type(1));
    send(
        &mut engine,
        publisher,
        q,
        Message::new("two").with_type(2).with_priority(1),
    );
    send(
        &mut engine,
        publisher,
        q,
        Message::new("high").with_type(1).with_priority(5),
    );
    let (_, got) = received(only_completion(&mut engine, typed));
    assert_eq!(
        payload(&got),
        b"two",
        "a waiting typed receive takes only its type"
    );
    assert_eq!(take(&mut engine, members[0], any(q)), b"high");
    assert_eq!(take(&mut engine, members[0], any(q)), b"low");
    assert_eq!(
        take(&mut engine, members[1], on(q, Selector::Type(2))),
        b"two"
    );
    assert_eq!(take(&mut engine, members[1], any(q)), b"high");
    assert_eq!(take(&mut engine, members[2], any(q)), b"high");
    // Peek shows what this member would get, and takes nothing.
    let peeked = engine
        .peek(
            members[2],
            postbox_core::Source::Mailbox(q),
            Selector::Any,
            10,
        )
        .unwrap();
    let texts: Vec<_> = peeked.iter().map(payload).collect();
    assert_eq!(texts, [b"two".to_vec(), b"low".to_vec()]);
    assert_eq!(engine.next_len(members[2], &any(q)), Some(3));
    assert_eq!(engine.next_len(members[0], &any(q)), None);
}

#[test]
fn purge_empties_every_backlog_and_counts_each_copy() {
    let mut engine = Engine::default();
    let (publisher, members, q) = setup(&mut engine, attrs(Capacity::default(), Overflow::Block));
    send(&mut engine, publisher, q, "a");
    take(&mut engine, members[0], any(q));
    assert_eq!(engine.purge(publisher, q, at(1)).unwrap(), 2);
    let stats = engine.stat(publisher, q).unwrap();
    assert_eq!((stats.messages, stats.dropped), (0, 2));
    assert_eq!(engine.stats().queued_messages, 0);
}

#[test]
fn receipts_wait_for_every_member_and_report_drops() {
    let mut engine = Engine::default();
    let (publisher, members, q) = setup(
        &mut engine,
        attrs(Capacity::bounded(1, 64), Overflow::DropOldest),
    );
    let ticket = send_blocked(&mut engine, publisher, q, "a", Delivery::Receipt);
    take(&mut engine, members[0], any(q));
    take(&mut engine, members[1], any(q));
    assert!(engine.is_waiting(ticket));
    send(&mut engine, publisher, q, "b");
    let failed = send_failed(only_completion(&mut engine, ticket));
    assert_eq!(failed.kind(), SendErrorKind::Dropped, "member 3 lost it");
}

#[test]
fn leases_calls_disk_and_delegation_are_refused() {
    let mut engine = Engine::default();
    let (publisher, members, q) = setup(&mut engine, attrs(Capacity::default(), Overflow::Block));
    let lease = engine.lease(members[0], &[any(q)], Wait::Try, Timestamp::ZERO);
    assert_eq!(lease.unwrap_err().error, RecvError::PermissionDenied);
    let call = engine.call(
        publisher,
        q,
        Message::new("req"),
        Wait::Try,
        Timestamp::ZERO,
    );
    assert_eq!(call.unwrap_err().kind(), CallErrorKind::PermissionDenied);
    assert_eq!(engine.delegate(q), None, "never lent to the fast lane");
    let on_disk = MailboxAttrs {
        durability: Durability::Disk,
        ..attrs(Capacity::default(), Overflow::Block)
    };
    let refused = engine.create(publisher, "durable", on_disk, Timestamp::ZERO);
    assert!(matches!(refused, Err(OpenError::InvalidAttributes(why)) if why.contains("memory")));
}

#[test]
fn a_member_that_loses_read_permission_leaves() {
    let mut engine = Engine::default();
    let (publisher, members, q) = setup(
        &mut engine,
        attrs(Capacity::bounded(1, 64), Overflow::Block),
    );
    let other = engine.spawn(postbox_core::Credentials::new(2000, 2000), Timestamp::ZERO);
    engine
        .set_mode(publisher, q, postbox_core::Mode::new(0o666), at(1))
        .unwrap();
    engine.open(other, "room").unwrap();
    assert_eq!(
        try_recv(&mut engine, other, any(q)).unwrap_err(),
        RecvError::Empty
    );
    send(&mut engine, publisher, q, "a");
    for member in members {
        take(&mut engine, member, any(q));
    }
    let blocked = send_blocked(&mut engine, publisher, q, "b", Delivery::Queued);
    engine
        .set_mode(publisher, q, postbox_core::Mode::new(0o662), at(2))
        .unwrap();
    assert_eq!(
        only_completion(&mut engine, blocked),
        Completion::Sent { receiver: None },
        "the stranger's backlog no longer holds the sender up"
    );
    assert_eq!(
        try_recv(&mut engine, other, any(q)).unwrap_err(),
        RecvError::PermissionDenied
    );
}

#[test]
fn deleting_fails_receipt_senders_and_releases_every_copy() {
    let mut engine = Engine::default();
    let (publisher, _members, q) = setup(&mut engine, attrs(Capacity::Zero, Overflow::Block));
    let ticket = send_blocked(&mut engine, publisher, q, "x", Delivery::Queued);
    engine.delete(publisher, q).unwrap();
    assert_eq!(
        send_failed(only_completion(&mut engine, ticket)).kind(),
        SendErrorKind::Gone
    );
    assert_eq!(engine.stats().queued_messages, 0);
}

//! Leased receives: the mailbox keeps a leased message until its receiver acknowledges it or
//! returns it; returned messages go back to their old place, ahead of later ones.

mod common;

use common::*;
use postbox_core::{
    Capacity, Engine, LeaseId, Limits, MESSAGE_CHARGE, MailboxAttrs, MailboxId, Message,
    MessageSize, Order, Pid, Received, Receivers, RecvError, RecvOutcome, Selector, SendErrorKind,
    Settlement, Source, Wait,
};

/// A shared mailbox `q` created by an owner, opened by two consumers.
fn setup(engine: &mut Engine, attrs: MailboxAttrs) -> (Pid, Pid, Pid, MailboxId) {
    let owner = spawn(engine);
    let a = spawn(engine);
    let b = spawn(engine);
    let q = create(engine, owner, "q", attrs);
    engine.open(a, "q").unwrap();
    engine.open(b, "q").unwrap();
    (owner, a, b, q)
}

fn shared() -> MailboxAttrs {
    MailboxAttrs {
        receivers: Receivers::Shared(postbox_core::Dispatch::FirstWaiting),
        ..MailboxAttrs::default()
    }
}

fn lease(engine: &mut Engine, pid: Pid, q: MailboxId) -> Received {
    match engine.lease(pid, &[on(q, Selector::Any)], Wait::Try, at(5)) {
        Ok(RecvOutcome::Received { message, .. }) => message,
        other => panic!("expected a leased message, got {other:?}"),
    }
}

fn settle(
    engine: &mut Engine,
    pid: Pid,
    q: MailboxId,
    leases: &[LeaseId],
    how: Settlement,
) -> usize {
    engine
        .settle(pid, Source::Mailbox(q), leases, how, at(6))
        .expect("settle")
}

fn queued_seqs(engine: &mut Engine, pid: Pid, q: MailboxId) -> Vec<u64> {
    std::iter::from_fn(|| try_recv(engine, pid, on(q, Selector::Any)).ok())
        .map(|m| m.seq)
        .collect()
}

#[test]
fn an_acknowledged_lease_is_gone_and_counted_once() {
    let mut engine = Engine::default();
    let (owner, a, _, q) = setup(&mut engine, shared());
    send(&mut engine, owner, q, "one");
    let got = lease(&mut engine, a, q);
    assert_eq!(payload(&got), b"one");
    assert_eq!(engine.leased(q), 1);
    let stat = engine.stat(owner, q).unwrap();
    assert_eq!((stat.messages, stat.total_received), (0, 1));

    assert_eq!(
        settle(&mut engine, a, q, &[LeaseId::from(&got)], Settlement::Ack),
        1
    );
    assert_eq!(
        settle(&mut engine, a, q, &[LeaseId::from(&got)], Settlement::Ack),
        0,
        "settling twice is idempotent"
    );
    assert_eq!(engine.leased(q), 0);
    assert_eq!(engine.stat(owner, q).unwrap().total_received, 1);
    assert_eq!(
        try_recv(&mut engine, a, on(q, Selector::Any)),
        Err(RecvError::Empty)
    );
}

#[test]
fn returned_leases_go_back_ahead_of_later_messages_in_their_order() {
    let mut engine = Engine::default();
    let (owner, a, b, q) = setup(&mut engine, shared());
    for text in ["0", "1", "2", "3"] {
        send(&mut engine, owner, q, text);
    }
    let first = lease(&mut engine, a, q);
    let second = lease(&mut engine, a, q);
    assert_eq!((first.seq, second.seq), (0, 1));
    assert_eq!(engine.stat(owner, q).unwrap().total_received, 2);

    assert_eq!(
        settle(
            &mut engine,
            a,
            q,
            &[LeaseId::from(&second), LeaseId::from(&first)],
            Settlement::Return
        ),
        2
    );
    let stat = engine.stat(owner, q).unwrap();
    assert_eq!(
        (stat.messages, stat.total_received),
        (4, 0),
        "returned messages are queued again and no longer count as received"
    );
    let again = try_recv(&mut engine, b, on(q, Selector::Any)).unwrap();
    assert_eq!(
        again,
        Received {
            attempt: 2,
            ..first
        },
        "the same message (sender, sequence number, send time), on its second delivery"
    );
    assert_eq!(queued_seqs(&mut engine, b, q), [1, 2, 3]);
}

#[test]
fn a_returned_lease_goes_to_a_waiting_receiver_first() {
    let mut engine = Engine::default();
    let (owner, a, b, q) = setup(&mut engine, shared());
    send(&mut engine, owner, q, "only");
    let got = lease(&mut engine, a, q);
    let waiting = recv_blocked(&mut engine, b, &[on(q, Selector::Any)]);
    settle(
        &mut engine,
        a,
        q,
        &[LeaseId::from(&got)],
        Settlement::Return,
    );
    let (_, message) = received(only_completion(&mut engine, waiting));
    assert_eq!(message.seq, got.seq);
    assert_eq!(engine.stat(owner, q).unwrap().messages, 0);
}

#[test]
fn a_waiting_lease_gets_its_message_on_lease() {
    let mut engine = Engine::default();
    let (owner, a, b, q) = setup(&mut engine, shared());
    let ticket = match engine.lease(a, &[on(q, Selector::Any)], Wait::Block, at(1)) {
        Ok(RecvOutcome::Blocked(ticket)) => ticket,
        other => panic!("expected the lease to wait, got {other:?}"),
    };
    send(&mut engine, owner, q, "late");
    let (_, message) = received(only_completion(&mut engine, ticket));
    assert_eq!(engine.leased(q), 1);
    settle(
        &mut engine,
        a,
        q,
        &[LeaseId::from(&message)],
        Settlement::Return,
    );
    assert_eq!(take(&mut engine, b, on(q, Selector::Any)), b"late");
}

#[test]
fn nobody_settles_a_lease_they_do_not_hold() {
    let mut engine = Engine::default();
    let (owner, a, b, q) = setup(&mut engine, shared());
    send(&mut engine, owner, q, "x");
    let got = lease(&mut engine, a, q);
    assert_eq!(
        settle(&mut engine, b, q, &[LeaseId::from(&got)], Settlement::Ack),
        0
    );
    assert_eq!(
        settle(
            &mut engine,
            a,
            q,
            &[
                LeaseId::from(&got),
                LeaseId {
                    seq: 99,
                    attempt: 1
                }
            ],
            Settlement::Return
        ),
        1
    );
    // Leased again by b: a's late settlement must not touch b's lease.
    let again = lease(&mut engine, b, q);
    assert_eq!(again.seq, got.seq);
    assert_eq!(
        settle(&mut engine, a, q, &[LeaseId::from(&got)], Settlement::Ack),
        0
    );
    assert_eq!(engine.leased(q), 1);
}

#[test]
fn closing_the_mailbox_or_terminating_returns_every_lease_held() {
    let mut engine = Engine::default();
    let (owner, a, b, q) = setup(&mut engine, shared());
    for text in ["0", "1", "2"] {
        send(&mut engine, owner, q, text);
    }
    lease(&mut engine, a, q);
    lease(&mut engine, b, q);
    lease(&mut engine, a, q);
    engine.close(a, q, at(7));
    assert_eq!(engine.leased(q), 1, "b's lease stays");
    let waiting = recv_blocked(&mut engine, owner, &[on(q, Selector::Type(9))]);
    engine.terminate(b, at(8));
    assert_eq!(engine.leased(q), 0);
    assert!(
        completions(&mut engine).is_empty(),
        "{waiting:?} matches none of them"
    );
    assert_eq!(queued_seqs(&mut engine, owner, q), [0, 1, 2]);
}

#[test]
fn a_priority_mailbox_takes_a_return_back_at_its_priority() {
    let mut engine = Engine::default();
    let attrs = MailboxAttrs {
        order: Order::Priority,
        ..shared()
    };
    let (owner, a, b, q) = setup(&mut engine, attrs);
    send(&mut engine, owner, q, Message::new("high").with_priority(9));
    send(&mut engine, owner, q, Message::new("low").with_priority(1));
    let high = lease(&mut engine, a, q);
    send(
        &mut engine,
        owner,
        q,
        Message::new("high again").with_priority(9),
    );
    settle(
        &mut engine,
        a,
        q,
        &[LeaseId::from(&high)],
        Settlement::Return,
    );
    let order: Vec<Vec<u8>> =
        std::iter::from_fn(|| try_recv(&mut engine, b, on(q, Selector::Any)).ok())
            .map(|m| payload(&m))
            .collect();
    assert_eq!(order, [&b"high"[..], b"high again", b"low"]);
}

#[test]
fn a_rendezvous_is_taken_outright_even_on_lease() {
    let mut engine = Engine::default();
    let attrs = MailboxAttrs {
        capacity: Capacity::Zero,
        ..shared()
    };
    let (owner, a, _, q) = setup(&mut engine, attrs);
    let ticket = send_blocked(
        &mut engine,
        owner,
        q,
        "hand",
        postbox_core::Delivery::Queued,
    );
    let got = lease(&mut engine, a, q);
    assert!(matches!(
        only_completion(&mut engine, ticket),
        postbox_core::Completion::Sent { .. }
    ));
    assert_eq!(engine.leased(q), 0);
    assert_eq!(
        settle(
            &mut engine,
            a,
            q,
            &[LeaseId::from(&got)],
            Settlement::Return
        ),
        0
    );
    assert_eq!(
        settle(&mut engine, a, q, &[LeaseId::from(&got)], Settlement::Ack),
        1,
        "acknowledging a rendezvous is settled already"
    );

    // The receiver waiting first: the same, and its end gives nothing back to the mailbox.
    let waiting = match engine.lease(a, &[on(q, Selector::Any)], Wait::Block, at(7)) {
        Ok(RecvOutcome::Blocked(ticket)) => ticket,
        other => panic!("expected the lease to wait, got {other:?}"),
    };
    send(&mut engine, owner, q, "meet");
    let (_, got) = received(only_completion(&mut engine, waiting));
    assert_eq!((payload(&got), engine.leased(q)), (b"meet".to_vec(), 0));
    engine.terminate(a, at(8));
    assert_eq!(engine.stat(owner, q).unwrap().messages, 0);
}

#[test]
fn leased_bytes_count_against_the_quota_until_settled() {
    let mut engine = Engine::new(Limits {
        max_queued_bytes: 2 * MESSAGE_CHARGE + 10,
        ..Limits::default()
    });
    let attrs = MailboxAttrs {
        capacity: Capacity::Unbounded,
        size: MessageSize::Variable(16),
        ..shared()
    };
    let (owner, a, _, q) = setup(&mut engine, attrs);
    send(&mut engine, owner, q, "12345678");
    let got = lease(&mut engine, a, q);
    let usage = engine.usage();
    assert_eq!(usage.leased, 1);
    assert_eq!(
        (usage.quota_used, usage.held_charge),
        (MESSAGE_CHARGE + 8, MESSAGE_CHARGE + 8),
        "a leased message is charged as a queued one"
    );
    let refused = try_send(&mut engine, owner, q, "abc").unwrap_err();
    assert_eq!(refused.kind(), SendErrorKind::QuotaExceeded);
    settle(&mut engine, a, q, &[LeaseId::from(&got)], Settlement::Ack);
    try_send(&mut engine, owner, q, "abc").expect("the acknowledged bytes are free again");
}

#[test]
fn a_deleted_mailbox_takes_its_leases_with_it() {
    let mut engine = Engine::new(Limits {
        max_queued_bytes: MESSAGE_CHARGE + 10,
        ..Limits::default()
    });
    let (owner, a, _, q) = setup(&mut engine, shared());
    send(&mut engine, owner, q, "12345678");
    let got = lease(&mut engine, a, q);
    engine.delete(owner, q).unwrap();
    assert_eq!(
        engine.settle(
            a,
            Source::Mailbox(q),
            &[LeaseId::from(&got)],
            Settlement::Ack,
            at(9)
        ),
        Err(RecvError::Gone)
    );
    let r = create(&mut engine, owner, "r", MailboxAttrs::default());
    try_send(&mut engine, owner, r, "12345678").expect("the deleted lease's bytes are free");
    assert_eq!(engine.stats().queued_bytes, 8);
}

#[test]
fn a_mailbox_with_leases_out_is_not_delegated() {
    let mut engine = Engine::default();
    let (owner, a, _, q) = setup(&mut engine, shared());
    send(&mut engine, owner, q, "x");
    let got = lease(&mut engine, a, q);
    assert!(engine.delegate(q).is_none());
    settle(&mut engine, a, q, &[LeaseId::from(&got)], Settlement::Ack);
    assert!(engine.delegate(q).is_some());
}

#[test]
fn a_send_to_a_waiting_lease_is_charged_and_refused_past_the_quota() {
    let mut engine = Engine::new(Limits {
        max_queued_bytes: MESSAGE_CHARGE + 10,
        ..Limits::default()
    });
    let (owner, a, _, q) = setup(&mut engine, shared());
    for _ in 0..2 {
        match engine.lease(a, &[on(q, Selector::Any)], Wait::Block, at(1)) {
            Ok(RecvOutcome::Blocked(_)) => {}
            other => panic!("expected the lease to wait, got {other:?}"),
        }
    }
    send(&mut engine, owner, q, "first");
    let refused = try_send(&mut engine, owner, q, "second").unwrap_err();
    assert_eq!(
        refused.kind(),
        SendErrorKind::QuotaExceeded,
        "held on lease, the first message still fills the quota"
    );
}

#[test]
fn a_down_notification_is_taken_outright_even_on_lease() {
    let mut engine = Engine::default();
    let watcher = spawn(&mut engine);
    let doomed = spawn(&mut engine);
    engine.monitor(watcher, doomed, at(1)).unwrap();
    engine.terminate(doomed, at(2));
    let down = match engine.lease(watcher, &[inbox(Selector::Any)], Wait::Try, at(3)) {
        Ok(RecvOutcome::Received { message, .. }) => message,
        other => panic!("expected the down notification, got {other:?}"),
    };
    assert!(down.is_down());
    assert_eq!(engine.usage().leased, 0);
    let settled = engine.settle(
        watcher,
        Source::Inbox,
        &[LeaseId::from(&down)],
        Settlement::Return,
        at(4),
    );
    assert_eq!(settled, Ok(0));
}

#[test]
fn a_receipt_is_given_once_even_when_its_message_comes_back() {
    let mut engine = Engine::default();
    let (owner, a, b, q) = setup(&mut engine, shared());
    let ticket = send_blocked(
        &mut engine,
        owner,
        q,
        "signed",
        postbox_core::Delivery::Receipt,
    );
    let got = lease(&mut engine, a, q);
    assert!(matches!(
        only_completion(&mut engine, ticket),
        postbox_core::Completion::Sent { receiver: Some(r) } if r == a
    ));
    settle(
        &mut engine,
        a,
        q,
        &[LeaseId::from(&got)],
        Settlement::Return,
    );
    assert_eq!(take(&mut engine, b, on(q, Selector::Any)), b"signed");
    assert!(
        completions(&mut engine).is_empty(),
        "the receipt was given when the lease was taken"
    );
}

#[test]
fn a_leased_message_leaves_the_room_it_took_in_a_bounded_mailbox() {
    let mut engine = Engine::default();
    let attrs = MailboxAttrs {
        capacity: Capacity::bounded(2, 64),
        ..shared()
    };
    let (owner, a, _, q) = setup(&mut engine, attrs);
    send(&mut engine, owner, q, "1");
    send(&mut engine, owner, q, "2");
    assert_eq!(
        try_send(&mut engine, owner, q, "3").unwrap_err().kind(),
        SendErrorKind::Full
    );
    let got = lease(&mut engine, a, q);
    try_send(&mut engine, owner, q, "3").expect("the lease left the queue");
    // Returned, it goes back even past the capacity: it was there first.
    settle(
        &mut engine,
        a,
        q,
        &[LeaseId::from(&got)],
        Settlement::Return,
    );
    assert_eq!(engine.stat(owner, q).unwrap().messages, 3);
}

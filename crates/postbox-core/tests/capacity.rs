//! Capacity: zero (rendezvous), bounded by messages and by bytes, unbounded under the engine's
//! byte quota, drop-oldest overflow, and blocked senders waiting for room.

mod common;

use common::*;
use postbox_core::{
    Capacity, Completion, Delivery, Engine, Limits, MESSAGE_CHARGE, MailboxAttrs, MailboxId,
    Message, MessageSize, Order, Overflow, Pid, Selector, SendErrorKind, SendOutcome,
};

/// A quota that holds exactly `messages` messages of `payload` bytes in all: each message is
/// charged its payload plus `MESSAGE_CHARGE`.
fn quota(messages: usize, payload: usize) -> Limits {
    Limits {
        max_queued_bytes: messages * MESSAGE_CHARGE + payload,
        ..Limits::default()
    }
}

/// An engine with an owner (who receives) and a sender, both with `name` open.
fn setup(engine: &mut Engine, attrs: MailboxAttrs) -> (Pid, Pid, MailboxId) {
    let owner = spawn(engine);
    let sender = spawn(engine);
    let mailbox = create(engine, owner, "q", attrs);
    engine.open(sender, "q").unwrap();
    (owner, sender, mailbox)
}

fn with_capacity(capacity: Capacity) -> MailboxAttrs {
    MailboxAttrs {
        capacity,
        size: MessageSize::Variable(16),
        ..MailboxAttrs::process_owned()
    }
}

fn drop_oldest(capacity: Capacity, order: Order) -> MailboxAttrs {
    MailboxAttrs {
        overflow: Overflow::DropOldest,
        order,
        ..with_capacity(capacity)
    }
}

fn queued(engine: &Engine, pid: Pid, mailbox: MailboxId) -> usize {
    engine.stat(pid, mailbox).unwrap().messages
}

#[test]
fn smoke() {
    let mut engine = Engine::default();
    let (owner, sender, q) = setup(&mut engine, MailboxAttrs::default());
    send(&mut engine, sender, q, "hello");
    assert_eq!(take(&mut engine, owner, on(q, Selector::Any)), b"hello");
}

#[test]
fn zero_capacity_send_waits_until_a_receiver_takes_it_and_reports_that_receiver() {
    let mut engine = Engine::default();
    let (owner, sender, q) = setup(&mut engine, with_capacity(Capacity::Zero));
    let ticket = send_blocked(&mut engine, sender, q, "ping", Delivery::Queued);
    assert_eq!(
        queued(&engine, owner, q),
        0,
        "a rendezvous message is never queued"
    );
    assert!(completions(&mut engine).is_empty());

    assert_eq!(take(&mut engine, owner, on(q, Selector::Any)), b"ping");
    assert_eq!(
        only_completion(&mut engine, ticket),
        Completion::Sent {
            receiver: Some(owner)
        }
    );
}

#[test]
fn zero_capacity_send_to_a_waiting_receiver_completes_at_once_with_its_pid() {
    let mut engine = Engine::default();
    let (owner, sender, q) = setup(&mut engine, with_capacity(Capacity::Zero));
    let waiting = recv_blocked(&mut engine, owner, &[on(q, Selector::Any)]);
    let outcome = try_send(&mut engine, sender, q, "ping").unwrap();
    assert_eq!(
        outcome,
        SendOutcome::Sent {
            receiver: Some(owner)
        }
    );
    let (_, message) = received(only_completion(&mut engine, waiting));
    assert_eq!(payload(&message), b"ping");
}

#[test]
fn zero_capacity_try_send_without_a_waiting_receiver_is_full_and_hands_the_message_back() {
    let mut engine = Engine::default();
    let (owner, sender, q) = setup(&mut engine, with_capacity(Capacity::Zero));
    let error = try_send(&mut engine, sender, q, Message::new("ping").with_type(7)).unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::Full);
    assert_eq!(
        error.into_message(),
        Some(Message::new("ping").with_type(7))
    );
    assert_eq!(
        try_recv(&mut engine, owner, on(q, Selector::Any)),
        Err(postbox_core::RecvError::Empty),
        "a failed rendezvous leaves nothing behind"
    );
}

#[test]
fn bounded_mailbox_is_full_at_its_message_limit() {
    let mut engine = Engine::default();
    let (owner, sender, q) = setup(&mut engine, with_capacity(Capacity::bounded(2, 1024)));
    try_send(&mut engine, sender, q, "a").unwrap();
    try_send(&mut engine, sender, q, "b").unwrap();
    let error = try_send(&mut engine, sender, q, "c").unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::Full);
    assert_eq!(error.into_message(), Some(Message::new("c")));
    assert_eq!(queued(&engine, owner, q), 2);

    take(&mut engine, owner, on(q, Selector::Any));
    try_send(&mut engine, sender, q, "c").expect("a received message frees one slot");
}

#[test]
fn bounded_mailbox_is_full_when_the_payload_bytes_would_not_fit() {
    let mut engine = Engine::default();
    let (owner, sender, q) = setup(&mut engine, with_capacity(Capacity::bounded(100, 16)));
    try_send(&mut engine, sender, q, vec![0; 10]).unwrap();
    let error = try_send(&mut engine, sender, q, vec![1; 7]).unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::Full, "10 + 7 bytes pass 16");
    assert_eq!(error.into_message(), Some(Message::new(vec![1; 7])));
    try_send(&mut engine, sender, q, vec![2; 6]).expect("10 + 6 bytes fit exactly");
    assert_eq!(engine.stat(owner, q).unwrap().bytes, 16);
}

#[test]
fn unbounded_mailbox_takes_messages_until_the_engine_byte_quota() {
    let mut engine = Engine::new(quota(4, 40));
    let (owner, sender, q) = setup(&mut engine, with_capacity(Capacity::Unbounded));
    for _ in 0..4 {
        send(&mut engine, sender, q, vec![0; 10]);
    }
    // Even a blocking send fails: waiting would not make an unbounded mailbox any roomier.
    let error = engine
        .send(
            sender,
            q,
            Message::new("x"),
            Delivery::Queued,
            postbox_core::Wait::Block,
            at(1),
        )
        .unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::QuotaExceeded);
    assert_eq!(error.into_message(), Some(Message::new("x")));
    assert_eq!(engine.stats().queued_bytes, 40);

    take(&mut engine, owner, on(q, Selector::Any));
    send(&mut engine, sender, q, "x");
    assert_eq!(queued(&engine, owner, q), 4);
}

#[test]
fn empty_messages_are_charged_and_refused_at_the_quota() {
    // Room for exactly 4096 empty messages: each is charged MESSAGE_CHARGE bytes.
    let mut engine = Engine::new(quota(4096, 0));
    let (_, sender, q) = setup(&mut engine, with_capacity(Capacity::Unbounded));
    let mut sent = 0;
    let refused = loop {
        match try_send(&mut engine, sender, q, "") {
            Ok(_) => sent += 1,
            Err(error) => break error,
        }
        assert!(sent <= 4096, "the quota does not bound empty messages");
    };
    assert_eq!(refused.kind(), SendErrorKind::QuotaExceeded);
    assert_eq!(sent, 4096);
    let stats = engine.stats();
    assert_eq!((stats.queued_messages, stats.queued_bytes), (4096, 0));
}

#[test]
fn the_engine_quota_counts_bytes_queued_in_other_mailboxes_and_inboxes() {
    let mut engine = Engine::new(quota(2, 20));
    let (_, sender, q) = setup(&mut engine, with_capacity(Capacity::bounded(10, 16)));
    let bystander = spawn(&mut engine);
    send_to(&mut engine, sender, bystander, vec![0; 12]);
    let error = try_send(&mut engine, sender, q, vec![0; 9]).unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::QuotaExceeded);
    try_send(&mut engine, sender, q, vec![0; 8]).expect("12 + 8 bytes are within the quota");
}

#[test]
fn drop_oldest_discards_the_oldest_message_so_the_newest_fits() {
    let mut engine = Engine::default();
    let (owner, sender, q) = setup(
        &mut engine,
        drop_oldest(Capacity::bounded(2, 1024), Order::Fifo),
    );
    for payload in ["a", "b", "c"] {
        assert_eq!(
            try_send(&mut engine, sender, q, payload).unwrap(),
            SendOutcome::Sent { receiver: None },
            "a drop-oldest mailbox never reports Full"
        );
    }
    assert_eq!(engine.stat(owner, q).unwrap().dropped, 1);
    assert_eq!(engine.stats().total_dropped, 1);
    assert_eq!(take(&mut engine, owner, on(q, Selector::Any)), b"b");
    assert_eq!(take(&mut engine, owner, on(q, Selector::Any)), b"c");
}

#[test]
fn drop_oldest_drops_as_many_messages_as_the_byte_limit_needs() {
    let mut engine = Engine::default();
    let (owner, sender, q) = setup(
        &mut engine,
        drop_oldest(Capacity::bounded(10, 16), Order::Fifo),
    );
    send(&mut engine, sender, q, vec![1; 6]);
    send(&mut engine, sender, q, vec![2; 6]);
    send(&mut engine, sender, q, vec![3; 4]);
    send(&mut engine, sender, q, vec![4; 16]);
    let stats = engine.stat(owner, q).unwrap();
    assert_eq!((stats.messages, stats.bytes, stats.dropped), (1, 16, 3));
    assert_eq!(take(&mut engine, owner, on(q, Selector::Any)), vec![4; 16]);
}

#[test]
fn drop_oldest_in_a_priority_mailbox_discards_the_oldest_of_the_lowest_priority() {
    let mut engine = Engine::default();
    let (owner, sender, q) = setup(
        &mut engine,
        drop_oldest(Capacity::bounded(3, 1024), Order::Priority),
    );
    send(&mut engine, sender, q, Message::new("a").with_priority(5));
    send(&mut engine, sender, q, Message::new("b").with_priority(1));
    send(&mut engine, sender, q, Message::new("c").with_priority(1));
    // Full: "b" is the oldest of the lowest priority.
    send(&mut engine, sender, q, Message::new("d").with_priority(9));
    // Full again: now "c" is; the newest fits even though its priority is the lowest of all.
    send(&mut engine, sender, q, Message::new("e").with_priority(0));
    let order: Vec<Vec<u8>> = (0..3)
        .map(|_| take(&mut engine, owner, on(q, Selector::Any)))
        .collect();
    assert_eq!(order, [b"d", b"a", b"e"]);
    assert_eq!(engine.stat(owner, q).unwrap().dropped, 2);
}

#[test]
fn drop_oldest_fails_a_sender_awaiting_its_receipt_with_dropped_and_hands_the_message_back() {
    let mut engine = Engine::default();
    let (owner, sender, q) = setup(
        &mut engine,
        drop_oldest(Capacity::bounded(1, 1024), Order::Fifo),
    );
    let ticket = send_blocked(&mut engine, sender, q, "first", Delivery::Receipt);
    assert!(completions(&mut engine).is_empty());
    send(&mut engine, sender, q, "second");
    let error = send_failed(only_completion(&mut engine, ticket));
    assert_eq!(error.kind(), SendErrorKind::Dropped);
    assert_eq!(error.into_message(), Some(Message::new("first")));
    assert!(!engine.is_waiting(ticket));
    assert_eq!(take(&mut engine, owner, on(q, Selector::Any)), b"second");
}

#[test]
fn drop_oldest_at_the_engine_quota_still_fits_the_newest_when_the_drops_free_enough() {
    let mut engine = Engine::new(quota(2, 16));
    let (owner, sender, q) = setup(
        &mut engine,
        drop_oldest(Capacity::bounded(2, 16), Order::Fifo),
    );
    send(&mut engine, sender, q, vec![1; 8]);
    send(&mut engine, sender, q, vec![2; 8]);
    // The engine is at its quota, but dropping the oldest 8 bytes makes room for 8 new ones.
    try_send(&mut engine, sender, q, vec![3; 8]).expect("the newest always fits");
    assert_eq!(engine.stats().queued_bytes, 16);
    assert_eq!(take(&mut engine, owner, on(q, Selector::Any)), vec![2; 8]);
    assert_eq!(take(&mut engine, owner, on(q, Selector::Any)), vec![3; 8]);
}

#[test]
fn drop_oldest_at_the_engine_quota_counts_what_the_priority_drop_order_frees() {
    let mut engine = Engine::new(quota(3, 20));
    let (owner, sender, q) = setup(
        &mut engine,
        drop_oldest(Capacity::bounded(2, 16), Order::Priority),
    );
    let bystander = spawn(&mut engine);
    send_to(&mut engine, sender, bystander, vec![0; 8]);
    send(
        &mut engine,
        sender,
        q,
        Message::new(vec![1; 4]).with_priority(5),
    );
    send(
        &mut engine,
        sender,
        q,
        Message::new(vec![2; 8]).with_priority(1),
    );
    // At the quota; the drop takes the 8 low-priority bytes (not the 4 at the head), so 8 fit.
    try_send(
        &mut engine,
        sender,
        q,
        Message::new(vec![3; 8]).with_priority(9),
    )
    .expect("the newest always fits");
    assert_eq!(take(&mut engine, owner, on(q, Selector::Any)), vec![3; 8]);
    assert_eq!(take(&mut engine, owner, on(q, Selector::Any)), vec![1; 4]);
}

#[test]
fn drop_oldest_fails_with_quota_exceeded_and_drops_nothing_when_drops_cannot_free_enough() {
    let mut engine = Engine::new(quota(2, 20));
    let (owner, sender, q) = setup(
        &mut engine,
        drop_oldest(Capacity::bounded(1, 16), Order::Fifo),
    );
    let bystander = spawn(&mut engine);
    send_to(&mut engine, sender, bystander, vec![0; 12]);
    send(&mut engine, sender, q, vec![1; 4]);
    // Dropping the 4 queued bytes leaves 12 + 9 > 20.
    let error = try_send(&mut engine, sender, q, vec![2; 9]).unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::QuotaExceeded);
    assert_eq!(engine.stat(owner, q).unwrap().dropped, 0);
    assert_eq!(take(&mut engine, owner, on(q, Selector::Any)), vec![1; 4]);
}

#[test]
fn blocked_senders_are_admitted_in_fifo_order_as_room_frees() {
    let mut engine = Engine::default();
    let (owner, first, q) = setup(&mut engine, with_capacity(Capacity::bounded(1, 1024)));
    let second = spawn(&mut engine);
    engine.open(second, "q").unwrap();
    send(&mut engine, owner, q, "m0");
    let t1 = send_blocked(&mut engine, first, q, "m1", Delivery::Queued);
    let t2 = send_blocked(&mut engine, second, q, "m2", Delivery::Queued);
    assert_eq!(engine.stat(owner, q).unwrap().blocked_senders, 2);

    assert_eq!(take(&mut engine, owner, on(q, Selector::Any)), b"m0");
    assert_eq!(
        only_completion(&mut engine, t1),
        Completion::Sent { receiver: None }
    );
    assert!(engine.is_waiting(t2), "one slot freed, one sender admitted");

    assert_eq!(take(&mut engine, owner, on(q, Selector::Any)), b"m1");
    assert_eq!(
        only_completion(&mut engine, t2),
        Completion::Sent { receiver: None }
    );
    assert_eq!(take(&mut engine, owner, on(q, Selector::Any)), b"m2");
    assert_eq!(engine.stat(owner, q).unwrap().blocked_senders, 0);
}

#[test]
fn a_large_blocked_sender_is_not_overtaken_by_a_smaller_one_that_would_fit() {
    let mut engine = Engine::default();
    let (owner, big, q) = setup(&mut engine, with_capacity(Capacity::bounded(10, 16)));
    let small = spawn(&mut engine);
    engine.open(small, "q").unwrap();
    send(&mut engine, owner, q, vec![0; 10]);
    let t_big = send_blocked(&mut engine, big, q, vec![1; 10], Delivery::Queued);
    // One byte would fit, but a sender is already waiting: Full, and a blocking send queues up.
    let error = try_send(&mut engine, small, q, vec![2; 1]).unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::Full);
    let t_small = send_blocked(&mut engine, small, q, vec![2; 1], Delivery::Queued);

    take(&mut engine, owner, on(q, Selector::Any));
    let done: Vec<_> = completions(&mut engine)
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(done, [t_big, t_small], "both fit now, admitted in order");
    assert_eq!(take(&mut engine, owner, on(q, Selector::Any)), vec![1; 10]);
    assert_eq!(take(&mut engine, owner, on(q, Selector::Any)), vec![2; 1]);
}

#[test]
fn a_waiting_sender_is_charged_against_the_quota_while_it_waits() {
    let mut engine = Engine::new(quota(2, 24));
    let (owner, sender, q) = setup(&mut engine, with_capacity(Capacity::bounded(1, 16)));
    let bystander = spawn(&mut engine);
    send(&mut engine, owner, q, vec![0; 8]);
    let ticket = send_blocked(&mut engine, sender, q, vec![1; 16], Delivery::Queued);
    // The waiting message holds its share of the quota: nothing more fits, even empty.
    let error = engine
        .send_to(
            owner,
            bystander,
            Message::new(""),
            Delivery::Queued,
            postbox_core::Wait::Try,
            at(1),
        )
        .unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::QuotaExceeded);
    // A blocking send that could not even wait within the quota fails at once.
    let error = engine
        .send(
            sender,
            q,
            Message::new("x"),
            Delivery::Queued,
            postbox_core::Wait::Block,
            at(1),
        )
        .unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::QuotaExceeded);
    assert_eq!(error.into_message(), Some(Message::new("x")));

    // Admitted, it keeps its charge; the one taken frees room for another.
    take(&mut engine, owner, on(q, Selector::Any));
    assert_eq!(
        only_completion(&mut engine, ticket),
        Completion::Sent { receiver: None }
    );
    send_to(&mut engine, owner, bystander, vec![0; 8]);
    assert_eq!(engine.usage().quota_used, 2 * MESSAGE_CHARGE + 24);
}

#[test]
fn lowering_the_byte_limit_below_a_waiting_message_fails_it_with_too_large() {
    let mut engine = Engine::default();
    let attrs = MailboxAttrs {
        capacity: Capacity::bounded(8, 1024),
        size: MessageSize::Variable(1024),
        ..MailboxAttrs::process_owned()
    };
    let (owner, sender, q) = setup(&mut engine, attrs);
    send(&mut engine, owner, q, vec![0; 100]);
    let big = send_blocked(&mut engine, sender, q, vec![1; 1000], Delivery::Queued);
    let small = send_blocked(&mut engine, owner, q, vec![2; 10], Delivery::Queued);

    engine.set_max_bytes(owner, q, 500, at(1)).unwrap();
    // The big message can never fit any more: it fails as a new send of it would, and no
    // longer holds up the sender behind it.
    let mut done = completions(&mut engine).into_iter();
    let (ticket, failed) = done.next().unwrap();
    let error = send_failed(failed);
    assert_eq!((ticket, error.kind()), (big, SendErrorKind::TooLarge));
    assert_eq!(error.into_message(), Some(Message::new(vec![1; 1000])));
    assert_eq!(
        done.next(),
        Some((small, Completion::Sent { receiver: None })),
        "10 more bytes fit under the new limit"
    );
    assert_eq!(
        try_send(&mut engine, sender, q, vec![3; 1000])
            .unwrap_err()
            .kind(),
        SendErrorKind::TooLarge
    );
}

#[test]
fn cancelling_a_blocked_sender_hands_its_message_back_and_lets_the_next_one_in() {
    let mut engine = Engine::default();
    let (owner, first, q) = setup(&mut engine, with_capacity(Capacity::bounded(1, 16)));
    let second = spawn(&mut engine);
    engine.open(second, "q").unwrap();
    send(&mut engine, owner, q, vec![0; 4]);
    let t_big = send_blocked(&mut engine, first, q, vec![1; 16], Delivery::Queued);
    let t_next = send_blocked(&mut engine, second, q, vec![2; 2], Delivery::Queued);
    assert_eq!(
        engine.cancel(t_big, at(1)),
        Some(postbox_core::Cancelled::Send(Message::new(vec![1; 16])))
    );
    assert!(
        engine.is_waiting(t_next),
        "the mailbox is still full by count"
    );
    take(&mut engine, owner, on(q, Selector::Any));
    assert_eq!(
        only_completion(&mut engine, t_next),
        Completion::Sent { receiver: None }
    );
    assert_eq!(
        engine.cancel(t_big, at(2)),
        None,
        "a cancelled ticket is gone"
    );
}

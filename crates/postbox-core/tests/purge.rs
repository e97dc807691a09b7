//! Purging: every queued message dropped and counted, receipts failed, waiting senders let in.

mod common;

use common::*;
use postbox_core::{
    AdminError, Capacity, Completion, Credentials, Delivery, Engine, MailboxAttrs, Mode, Order,
    RecvOutcome, Selector, SendErrorKind, Settlement, Source, Timestamp, Wait,
};

fn bounded(messages: usize) -> MailboxAttrs {
    MailboxAttrs {
        capacity: Capacity::bounded(messages, 1024),
        mode: Mode::new(0o666),
        ..MailboxAttrs::system_owned()
    }
}

fn assert_accounts_balance(engine: &Engine) {
    let usage = engine.usage();
    assert_eq!(usage.quota_used, usage.held_charge + usage.reserved);
    assert_eq!(usage.queued_messages, engine.stats().queued_messages);
}

#[test]
fn smoke() {
    let mut engine = Engine::default();
    let a = spawn(&mut engine);
    let q = create(&mut engine, a, "q", MailboxAttrs::default());
    send(&mut engine, a, q, "one");
    send(&mut engine, a, q, "two");
    assert_eq!(engine.purge(a, q, at(1)), Ok(2));
    assert_eq!(try_recv(&mut engine, a, on(q, Selector::Any)).ok(), None);
    assert_eq!(engine.purge(a, q, at(2)), Ok(0));
}

#[test]
fn purged_messages_count_as_dropped_everywhere() {
    let mut engine = Engine::default();
    let a = spawn(&mut engine);
    let q = create(
        &mut engine,
        a,
        "q",
        MailboxAttrs {
            order: Order::Priority,
            ..bounded(8)
        },
    );
    for i in 0..3u8 {
        send(&mut engine, a, q, vec![i; 10]);
    }
    assert_eq!(take(&mut engine, a, on(q, Selector::Any)), [0; 10]);
    assert_eq!(engine.purge(a, q, at(1)), Ok(2));
    let stat = engine.stat(a, q).unwrap();
    assert_eq!(
        (
            stat.messages,
            stat.bytes,
            stat.total_sent,
            stat.total_received,
            stat.dropped
        ),
        (0, 0, 3, 1, 2)
    );
    let node = engine.stats();
    assert_eq!(
        (node.queued_messages, node.queued_bytes, node.total_dropped),
        (0, 0, 2)
    );
    assert_accounts_balance(&engine);
    // The mailbox works as before.
    send(&mut engine, a, q, "after");
    assert_eq!(take(&mut engine, a, on(q, Selector::Any)), b"after");
}

#[test]
fn a_sender_awaiting_a_receipt_gets_dropped_and_its_message_back() {
    let mut engine = Engine::default();
    let a = spawn(&mut engine);
    let q = create(&mut engine, a, "q", bounded(8));
    let ticket = send_blocked(&mut engine, a, q, "receipted", Delivery::Receipt);
    assert_eq!(engine.purge(a, q, at(1)), Ok(1));
    let error = send_failed(only_completion(&mut engine, ticket));
    assert_eq!(error.kind(), SendErrorKind::Dropped);
    assert_eq!(error.into_message().unwrap().payload.as_ref(), b"receipted");
    assert!(!engine.is_waiting(ticket));
    assert_accounts_balance(&engine);
}

#[test]
fn senders_waiting_for_room_are_let_in() {
    let mut engine = Engine::default();
    let a = spawn(&mut engine);
    let b = spawn(&mut engine);
    let q = create(&mut engine, a, "q", bounded(2));
    engine.open(b, "q").unwrap();
    send(&mut engine, a, q, "1");
    send(&mut engine, a, q, "2");
    let first = send_blocked(&mut engine, b, q, "3", Delivery::Queued);
    let second = send_blocked(&mut engine, b, q, "4", Delivery::Queued);
    let third = send_blocked(&mut engine, b, q, "5", Delivery::Queued);
    assert_eq!(engine.stat(a, q).unwrap().blocked_senders, 3);
    assert_eq!(engine.purge(a, q, at(1)), Ok(2));
    let done: Vec<_> = completions(&mut engine);
    assert_eq!(
        done,
        [
            (first, Completion::Sent { receiver: None }),
            (second, Completion::Sent { receiver: None })
        ]
    );
    assert!(engine.is_waiting(third));
    let stat = engine.stat(a, q).unwrap();
    assert_eq!(
        (stat.messages, stat.blocked_senders, stat.dropped),
        (2, 1, 2)
    );
    assert_eq!(take(&mut engine, a, on(q, Selector::Any)), b"3");
    assert_accounts_balance(&engine);
}

#[test]
fn leased_messages_stay_with_their_receiver() {
    let mut engine = Engine::default();
    let a = spawn(&mut engine);
    let q = create(&mut engine, a, "q", bounded(8));
    send(&mut engine, a, q, "leased");
    send(&mut engine, a, q, "queued");
    let leased = match engine.lease(a, &[on(q, Selector::Any)], Wait::Try, at(1)) {
        Ok(RecvOutcome::Received { message, .. }) => message,
        other => panic!("{other:?}"),
    };
    assert_eq!(engine.purge(a, q, at(2)), Ok(1));
    assert_eq!(engine.leased(q), 1);
    engine
        .settle(
            a,
            Source::Mailbox(q),
            &[postbox_core::LeaseId::from(&leased)],
            Settlement::Return,
            at(3),
        )
        .unwrap();
    assert_eq!(take(&mut engine, a, on(q, Selector::Any)), b"leased");
    assert_accounts_balance(&engine);
}

#[test]
fn only_the_owner_or_root_may_purge() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let same_uid = spawn(&mut engine);
    let other = engine.spawn(Credentials::new(2000, 2000), Timestamp::ZERO);
    let root = engine.spawn(Credentials::ROOT, Timestamp::ZERO);
    let denied = Err(AdminError::PermissionDenied);

    // Process-owned: the owning process (or root), not another process of its uid.
    let attrs = MailboxAttrs {
        mode: Mode::new(0o666),
        ..MailboxAttrs::process_owned()
    };
    let mine = create(&mut engine, owner, "mine", attrs);
    engine.open(same_uid, "mine").unwrap();
    send(&mut engine, same_uid, mine, "x");
    assert_eq!(engine.purge(same_uid, mine, at(1)), denied);
    assert_eq!(engine.purge(root, mine, at(1)), Ok(1));

    // System-owned: any process of the owning uid, or root; not another uid, even with rw.
    let ours = create(&mut engine, owner, "ours", bounded(4));
    engine.open(other, "ours").unwrap();
    send(&mut engine, other, ours, "y");
    assert_eq!(engine.purge(other, ours, at(1)), denied);
    assert_eq!(engine.purge(same_uid, ours, at(1)), Ok(1));
    send(&mut engine, other, ours, "z");
    assert_eq!(engine.purge(root, ours, at(1)), Ok(1));

    engine.delete(owner, ours).unwrap();
    assert_eq!(engine.purge(owner, ours, at(2)), Err(AdminError::Gone));
    engine.terminate(owner, at(3));
    assert_eq!(
        engine.purge(owner, mine, at(3)),
        Err(AdminError::Disconnected)
    );
}

//! Direct communication: `send_to`, `recv_from` and `recv_any` through each process's inbox,
//! inbox capacity, unknown and dead peers, registered names, and receipts from a process.

mod common;

use common::*;
use postbox_core::{
    AdminError, Completion, Delivery, Engine, Limits, Message, RecvError, Selector, SendErrorKind,
    SendOutcome, Timestamp, Wait,
};

#[test]
fn smoke() {
    let mut engine = Engine::default();
    let alice = spawn(&mut engine);
    let bob = spawn(&mut engine);
    send_to(&mut engine, alice, bob, "hi");
    assert_eq!(take(&mut engine, bob, inbox(Selector::Any)), b"hi");
}

#[test]
fn recv_any_returns_the_sender_with_each_message_in_arrival_order() {
    let mut engine = Engine::default();
    let alice = spawn(&mut engine);
    let carol = spawn(&mut engine);
    let bob = spawn(&mut engine);
    send_to(&mut engine, carol, bob, "from carol");
    send_to(&mut engine, alice, bob, "from alice");
    let first = try_recv(&mut engine, bob, inbox(Selector::Any)).unwrap();
    let second = try_recv(&mut engine, bob, inbox(Selector::Any)).unwrap();
    assert_eq!(
        (first.sender, payload(&first)),
        (carol, b"from carol".to_vec())
    );
    assert_eq!(
        (second.sender, payload(&second)),
        (alice, b"from alice".to_vec())
    );
    assert_eq!(
        try_recv(&mut engine, bob, inbox(Selector::Any)),
        Err(RecvError::Empty)
    );
}

#[test]
fn recv_from_takes_the_oldest_message_of_that_sender_and_leaves_the_others() {
    let mut engine = Engine::default();
    let alice = spawn(&mut engine);
    let carol = spawn(&mut engine);
    let bob = spawn(&mut engine);
    send_to(&mut engine, alice, bob, "a1");
    send_to(&mut engine, carol, bob, "c1");
    send_to(&mut engine, alice, bob, "a2");
    assert_eq!(take(&mut engine, bob, inbox(Selector::From(carol))), b"c1");
    assert_eq!(take(&mut engine, bob, inbox(Selector::From(alice))), b"a1");
    assert_eq!(
        try_recv(&mut engine, bob, inbox(Selector::From(carol))),
        Err(RecvError::Empty)
    );
    assert_eq!(take(&mut engine, bob, inbox(Selector::Any)), b"a2");
}

#[test]
fn a_receiver_waiting_on_recv_from_is_woken_only_by_that_sender() {
    let mut engine = Engine::default();
    let alice = spawn(&mut engine);
    let carol = spawn(&mut engine);
    let bob = spawn(&mut engine);
    let ticket = recv_blocked(&mut engine, bob, &[inbox(Selector::From(alice))]);
    send_to(&mut engine, carol, bob, "from carol");
    assert!(engine.is_waiting(ticket));
    send_to(&mut engine, alice, bob, "from alice");
    let (_, message) = received(only_completion(&mut engine, ticket));
    assert_eq!(
        (message.sender, payload(&message)),
        (alice, b"from alice".to_vec())
    );
    assert_eq!(take(&mut engine, bob, inbox(Selector::Any)), b"from carol");
}

#[test]
fn recv_from_a_pid_not_yet_spawned_waits_for_that_process() {
    let mut engine = Engine::default();
    let bob = spawn(&mut engine);
    // Pids are handed out in order, so the next one names a process that may still come.
    let next = postbox_core::Pid::from_raw(bob.as_raw() + 1);
    let ticket = recv_blocked(&mut engine, bob, &[inbox(Selector::From(next))]);
    let newcomer = spawn(&mut engine);
    assert_eq!(newcomer, next);
    send_to(&mut engine, newcomer, bob, "hello");
    let (_, message) = received(only_completion(&mut engine, ticket));
    assert_eq!(message.sender, newcomer);
}

#[test]
fn an_inbox_holds_as_many_messages_as_the_limits_say() {
    let mut engine = Engine::new(Limits {
        inbox_capacity: 2,
        ..Limits::default()
    });
    let alice = spawn(&mut engine);
    let bob = spawn(&mut engine);
    send_to(&mut engine, alice, bob, "1");
    send_to(&mut engine, alice, bob, "2");
    let full = engine
        .send_to(
            alice,
            bob,
            Message::new("3"),
            Delivery::Queued,
            Wait::Try,
            Timestamp::ZERO,
        )
        .unwrap_err();
    assert_eq!(full.kind(), SendErrorKind::Full);
    assert_eq!(full.into_message(), Some(Message::new("3")));

    let ticket = match engine.send_to(
        alice,
        bob,
        Message::new("3"),
        Delivery::Queued,
        Wait::Block,
        Timestamp::ZERO,
    ) {
        Ok(SendOutcome::Blocked(ticket)) => ticket,
        other => panic!("a blocking send to a full inbox waits: {other:?}"),
    };
    assert_eq!(take(&mut engine, bob, inbox(Selector::Any)), b"1");
    assert_eq!(
        only_completion(&mut engine, ticket),
        Completion::Sent { receiver: None }
    );
    let bob_info = engine
        .processes()
        .into_iter()
        .find(|p| p.pid == bob)
        .unwrap();
    assert_eq!(
        bob_info.inbox_messages, 2,
        "the admitted sender's message is queued"
    );
}

#[test]
fn send_to_a_pid_that_never_existed_is_not_found_and_hands_the_message_back() {
    let mut engine = Engine::default();
    let alice = spawn(&mut engine);
    let error = engine
        .send_to(
            alice,
            postbox_core::Pid::from_raw(999),
            Message::new("anyone?"),
            Delivery::Queued,
            Wait::Block,
            Timestamp::ZERO,
        )
        .unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::NotFound);
    assert_eq!(error.into_message(), Some(Message::new("anyone?")));
}

#[test]
fn send_to_a_terminated_process_is_peer_gone_and_hands_the_message_back() {
    let mut engine = Engine::default();
    let alice = spawn(&mut engine);
    let bob = spawn(&mut engine);
    engine.terminate(bob, Timestamp::ZERO);
    let error = engine
        .send_to(
            alice,
            bob,
            Message::new("too late"),
            Delivery::Queued,
            Wait::Block,
            Timestamp::ZERO,
        )
        .unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::PeerGone);
    assert_eq!(error.into_message(), Some(Message::new("too late")));
}

#[test]
fn a_terminated_process_can_no_longer_send_or_receive() {
    let mut engine = Engine::default();
    let alice = spawn(&mut engine);
    let bob = spawn(&mut engine);
    engine.terminate(alice, Timestamp::ZERO);
    let error = engine
        .send_to(
            alice,
            bob,
            Message::new("ghost"),
            Delivery::Queued,
            Wait::Block,
            Timestamp::ZERO,
        )
        .unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::Disconnected);
    assert_eq!(
        try_recv(&mut engine, alice, inbox(Selector::Any)),
        Err(RecvError::Disconnected)
    );
}

#[test]
fn register_makes_a_process_findable_by_name_once() {
    let mut engine = Engine::default();
    let alice = spawn(&mut engine);
    let bob = spawn(&mut engine);
    assert_eq!(engine.whereis("alice"), None);
    engine.register(alice, "alice").unwrap();
    assert_eq!(engine.whereis("alice"), Some(alice));
    assert_eq!(
        engine.register(bob, "alice"),
        Err(AdminError::AlreadyExists)
    );
    assert_eq!(
        engine.register(alice, "alice-again"),
        Err(AdminError::AlreadyExists),
        "one name per process"
    );
    assert_eq!(
        engine.register(bob, "no spaces"),
        Err(AdminError::InvalidName)
    );
    assert_eq!(engine.register(bob, ""), Err(AdminError::InvalidName));
    engine.register(bob, "bob").unwrap();
    assert_eq!(engine.whereis("bob"), Some(bob));

    let target = engine.whereis("alice").unwrap();
    send_to(&mut engine, bob, target, "found you");
    assert_eq!(take(&mut engine, alice, inbox(Selector::Any)), b"found you");
}

#[test]
fn a_receipt_send_to_a_process_completes_when_it_takes_the_message_naming_it() {
    let mut engine = Engine::default();
    let alice = spawn(&mut engine);
    let bob = spawn(&mut engine);
    let ticket = match engine.send_to(
        alice,
        bob,
        Message::new("sign here"),
        Delivery::Receipt,
        Wait::Block,
        Timestamp::ZERO,
    ) {
        Ok(SendOutcome::Blocked(ticket)) => ticket,
        other => panic!("a receipt waits for the receiver: {other:?}"),
    };
    assert!(completions(&mut engine).is_empty());
    assert_eq!(take(&mut engine, bob, inbox(Selector::Any)), b"sign here");
    assert_eq!(
        only_completion(&mut engine, ticket),
        Completion::Sent {
            receiver: Some(bob)
        }
    );
}

#[test]
fn a_receipt_send_to_a_waiting_process_completes_at_once() {
    let mut engine = Engine::default();
    let alice = spawn(&mut engine);
    let bob = spawn(&mut engine);
    let waiting = recv_blocked(&mut engine, bob, &[inbox(Selector::Any)]);
    let outcome = engine
        .send_to(
            alice,
            bob,
            Message::new("sign here"),
            Delivery::Receipt,
            Wait::Block,
            Timestamp::ZERO,
        )
        .unwrap();
    assert_eq!(
        outcome,
        SendOutcome::Sent {
            receiver: Some(bob)
        }
    );
    let (_, message) = received(only_completion(&mut engine, waiting));
    assert_eq!(message.sender, alice);
}

#[test]
fn cancelling_a_receipt_send_withdraws_the_message_from_the_inbox() {
    let mut engine = Engine::default();
    let alice = spawn(&mut engine);
    let bob = spawn(&mut engine);
    let ticket = match engine.send_to(
        alice,
        bob,
        Message::new("never mind"),
        Delivery::Receipt,
        Wait::Block,
        Timestamp::ZERO,
    ) {
        Ok(SendOutcome::Blocked(ticket)) => ticket,
        other => panic!("a receipt waits for the receiver: {other:?}"),
    };
    assert_eq!(
        engine.cancel(ticket, Timestamp::ZERO),
        Some(postbox_core::Cancelled::Send(Message::new("never mind")))
    );
    assert_eq!(
        try_recv(&mut engine, bob, inbox(Selector::Any)),
        Err(RecvError::Empty)
    );
}

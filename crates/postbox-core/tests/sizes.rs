//! Message size and type rules: fixed sizes, variable maxima, the engine's maximum, valid types,
//! and that a message breaking a rule is handed back and never queued.

mod common;

use common::*;
use postbox_core::{
    Capacity, Delivery, Engine, Limits, MailboxAttrs, MailboxId, Message, MessageSize, OpenError,
    Pid, Selector, SendErrorKind, Timestamp, Wait,
};

fn setup(engine: &mut Engine, size: MessageSize) -> (Pid, Pid, MailboxId) {
    let owner = spawn(engine);
    let sender = spawn(engine);
    let attrs = MailboxAttrs {
        size,
        ..MailboxAttrs::process_owned()
    };
    let mailbox = create(engine, owner, "sized", attrs);
    engine.open(sender, "sized").unwrap();
    (owner, sender, mailbox)
}

/// Asserts that sending `message` fails with `kind`, hands the message back intact, and queues
/// nothing.
fn assert_rejected(
    engine: &mut Engine,
    sender: Pid,
    mailbox: MailboxId,
    message: Message,
    kind: SendErrorKind,
) {
    let before = engine.stats();
    let error = engine
        .send(
            sender,
            mailbox,
            message.clone(),
            Delivery::Queued,
            Wait::Block,
            Timestamp::ZERO,
        )
        .unwrap_err();
    assert_eq!(error.kind(), kind);
    assert_eq!(error.into_message(), Some(message));
    let after = engine.stats();
    assert_eq!(after.queued_messages, before.queued_messages);
    assert_eq!(after.total_sent, before.total_sent);
}

#[test]
fn fixed_size_mailbox_accepts_exactly_its_size() {
    let mut engine = Engine::default();
    let (owner, sender, q) = setup(&mut engine, MessageSize::Fixed(4));
    send(&mut engine, sender, q, "four");
    assert_eq!(take(&mut engine, owner, on(q, Selector::Any)), b"four");
}

#[test]
fn fixed_size_mailbox_rejects_shorter_and_longer_payloads_with_wrong_size() {
    let mut engine = Engine::default();
    let (_, sender, q) = setup(&mut engine, MessageSize::Fixed(4));
    for payload in ["", "abc", "abcde"] {
        assert_rejected(
            &mut engine,
            sender,
            q,
            Message::new(payload),
            SendErrorKind::WrongSize,
        );
    }
}

#[test]
fn variable_size_mailbox_accepts_up_to_its_maximum_and_rejects_more_with_too_large() {
    let mut engine = Engine::default();
    let (owner, sender, q) = setup(&mut engine, MessageSize::Variable(8));
    send(&mut engine, sender, q, vec![7; 8]);
    send(&mut engine, sender, q, "");
    assert_rejected(
        &mut engine,
        sender,
        q,
        Message::new(vec![7; 9]),
        SendErrorKind::TooLarge,
    );
    assert_eq!(take(&mut engine, owner, on(q, Selector::Any)), vec![7; 8]);
    assert_eq!(take(&mut engine, owner, on(q, Selector::Any)), b"");
}

#[test]
fn mailbox_sizes_above_the_engine_maximum_are_refused_at_creation() {
    let mut engine = Engine::new(Limits {
        max_message_size: 16,
        ..Limits::default()
    });
    let owner = spawn(&mut engine);
    for size in [MessageSize::Variable(17), MessageSize::Fixed(17)] {
        let attrs = MailboxAttrs {
            size,
            ..MailboxAttrs::process_owned()
        };
        let error = engine.create(owner, "big", attrs, Timestamp::ZERO);
        assert!(
            matches!(error, Err(OpenError::InvalidAttributes(_))),
            "{size:?}: {error:?}"
        );
    }
    let at_limit = MailboxAttrs {
        size: MessageSize::Variable(16),
        capacity: Capacity::bounded(4, 64),
        ..MailboxAttrs::process_owned()
    };
    engine
        .create(owner, "big", at_limit, Timestamp::ZERO)
        .expect("exactly the maximum is allowed");
}

#[test]
fn direct_sends_above_the_engine_maximum_fail_with_too_large() {
    let mut engine = Engine::new(Limits {
        max_message_size: 16,
        ..Limits::default()
    });
    let sender = spawn(&mut engine);
    let receiver = spawn(&mut engine);
    let error = engine
        .send_to(
            sender,
            receiver,
            Message::new(vec![0; 17]),
            Delivery::Queued,
            Wait::Block,
            Timestamp::ZERO,
        )
        .unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::TooLarge);
    assert_eq!(error.into_message(), Some(Message::new(vec![0; 17])));
    send_to(&mut engine, sender, receiver, vec![0; 16]);
    assert_eq!(
        take(&mut engine, receiver, inbox(Selector::Any)),
        vec![0; 16]
    );
}

#[test]
fn message_types_below_one_fail_with_invalid_type() {
    let mut engine = Engine::default();
    let (owner, sender, q) = setup(&mut engine, MessageSize::Variable(64));
    for mtype in [0, -1, i64::MIN] {
        let message = Message::new("typed").with_type(mtype);
        assert_rejected(
            &mut engine,
            sender,
            q,
            message.clone(),
            SendErrorKind::InvalidType,
        );
        let error = engine
            .send_to(
                sender,
                owner,
                message.clone(),
                Delivery::Queued,
                Wait::Block,
                Timestamp::ZERO,
            )
            .unwrap_err();
        assert_eq!(error.kind(), SendErrorKind::InvalidType);
        assert_eq!(error.into_message(), Some(message));
    }
    send(&mut engine, sender, q, Message::new("typed").with_type(1));
    send(
        &mut engine,
        sender,
        q,
        Message::new("typed").with_type(i64::MAX),
    );
}

#[test]
fn the_size_rule_is_checked_before_fullness() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let attrs = MailboxAttrs {
        size: MessageSize::Fixed(2),
        capacity: Capacity::bounded(1, 2),
        ..MailboxAttrs::process_owned()
    };
    let q = create(&mut engine, owner, "tiny", attrs);
    send(&mut engine, owner, q, "ok");
    let error = try_send(&mut engine, owner, q, "bad").unwrap_err();
    assert_eq!(
        error.kind(),
        SendErrorKind::WrongSize,
        "a message that can never fit is not merely Full"
    );
}

#[test]
fn a_rejected_message_does_not_wake_a_waiting_receiver() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let attrs = MailboxAttrs {
        size: MessageSize::Variable(4),
        capacity: Capacity::Zero,
        ..MailboxAttrs::process_owned()
    };
    let q = create(&mut engine, owner, "rendezvous", attrs);
    let waiting = recv_blocked(&mut engine, owner, &[on(q, Selector::Any)]);
    assert_rejected(
        &mut engine,
        owner,
        q,
        Message::new("too long"),
        SendErrorKind::TooLarge,
    );
    assert!(engine.is_waiting(waiting));
    assert!(completions(&mut engine).is_empty());
}

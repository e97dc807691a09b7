//! Selective receive: `Any`, `Type`, `NotType`, `TypeAtMost` and `From`, on FIFO and priority
//! mailboxes, for queued messages, waiting receivers and rendezvous senders.

mod common;

use common::*;
use postbox_core::{
    Capacity, Completion, Delivery, Engine, MailboxAttrs, MailboxId, Message, Order, Pid,
    RecvError, Selector, SendErrorKind, SendOutcome,
};

/// An owner (who receives) and two senders, all with `q` open.
fn setup(engine: &mut Engine, attrs: MailboxAttrs) -> (Pid, [Pid; 2], MailboxId) {
    let owner = spawn(engine);
    let senders = [spawn(engine), spawn(engine)];
    let mailbox = create(engine, owner, "q", attrs);
    for sender in senders {
        engine.open(sender, "q").unwrap();
    }
    (owner, senders, mailbox)
}

fn ordered(order: Order) -> MailboxAttrs {
    MailboxAttrs {
        order,
        ..MailboxAttrs::process_owned()
    }
}

fn typed(payload: &'static str, mtype: i64) -> Message {
    Message::new(payload).with_type(mtype)
}

fn prioritised(payload: &'static str, mtype: i64, priority: u16) -> Message {
    typed(payload, mtype).with_priority(priority)
}

/// Receives with `selector` until `Empty`, returning the payloads in the order taken.
fn drain(engine: &mut Engine, owner: Pid, q: MailboxId, selector: Selector) -> Vec<String> {
    std::iter::from_fn(|| try_recv(engine, owner, on(q, selector)).ok())
        .map(|message| String::from_utf8(payload(&message)).unwrap())
        .collect()
}

/// Queues messages of types 5, 3, 7, 3, 1 (payloads a..e) in a FIFO mailbox.
fn fifo_with_types(engine: &mut Engine) -> (Pid, MailboxId) {
    let (owner, [sender, _], q) = setup(engine, ordered(Order::Fifo));
    for message in [
        typed("a", 5),
        typed("b", 3),
        typed("c", 7),
        typed("d", 3),
        typed("e", 1),
    ] {
        send(engine, sender, q, message);
    }
    (owner, q)
}

#[test]
fn any_takes_messages_in_arrival_order_in_a_fifo_mailbox() {
    let mut engine = Engine::default();
    let (owner, q) = fifo_with_types(&mut engine);
    assert_eq!(
        drain(&mut engine, owner, q, Selector::Any),
        ["a", "b", "c", "d", "e"]
    );
}

#[test]
fn type_takes_the_first_message_of_exactly_that_type() {
    let mut engine = Engine::default();
    let (owner, q) = fifo_with_types(&mut engine);
    assert_eq!(drain(&mut engine, owner, q, Selector::Type(3)), ["b", "d"]);
    assert_eq!(
        drain(&mut engine, owner, q, Selector::Type(4)),
        Vec::<String>::new()
    );
    assert_eq!(drain(&mut engine, owner, q, Selector::Any), ["a", "c", "e"]);
}

#[test]
fn not_type_takes_the_first_message_of_any_other_type() {
    let mut engine = Engine::default();
    let (owner, q) = fifo_with_types(&mut engine);
    assert_eq!(
        drain(&mut engine, owner, q, Selector::NotType(5)),
        ["b", "c", "d", "e"]
    );
    assert_eq!(drain(&mut engine, owner, q, Selector::Any), ["a"]);
}

#[test]
fn type_at_most_takes_the_lowest_type_first_and_the_oldest_among_equals() {
    let mut engine = Engine::default();
    let (owner, q) = fifo_with_types(&mut engine);
    assert_eq!(
        drain(&mut engine, owner, q, Selector::TypeAtMost(4)),
        ["e", "b", "d"]
    );
    assert_eq!(
        try_recv(&mut engine, owner, on(q, Selector::TypeAtMost(4))),
        Err(RecvError::Empty)
    );
    assert_eq!(
        drain(&mut engine, owner, q, Selector::TypeAtMost(7)),
        ["a", "c"]
    );
}

#[test]
fn from_takes_the_oldest_message_of_that_sender() {
    let mut engine = Engine::default();
    let (owner, [one, two], q) = setup(&mut engine, ordered(Order::Fifo));
    send(&mut engine, one, q, "one-1");
    send(&mut engine, two, q, "two-1");
    send(&mut engine, one, q, "one-2");
    send(&mut engine, two, q, "two-2");
    let from_two = try_recv(&mut engine, owner, on(q, Selector::From(two))).unwrap();
    assert_eq!(
        (payload(&from_two), from_two.sender),
        (b"two-1".to_vec(), two)
    );
    assert_eq!(
        drain(&mut engine, owner, q, Selector::From(one)),
        ["one-1", "one-2"]
    );
    assert_eq!(drain(&mut engine, owner, q, Selector::Any), ["two-2"]);
}

#[test]
fn a_priority_mailbox_gives_the_highest_priority_first_and_fifo_among_equals() {
    let mut engine = Engine::default();
    let (owner, [sender, _], q) = setup(&mut engine, ordered(Order::Priority));
    for message in [
        prioritised("low-1", 1, 1),
        prioritised("high", 1, 9),
        prioritised("low-2", 1, 1),
        prioritised("mid", 1, 5),
        prioritised("zero", 1, 0),
    ] {
        send(&mut engine, sender, q, message);
    }
    assert_eq!(
        drain(&mut engine, owner, q, Selector::Any),
        ["high", "mid", "low-1", "low-2", "zero"]
    );
}

#[test]
fn typed_selectors_in_a_priority_mailbox_scan_in_priority_order() {
    let mut engine = Engine::default();
    let (owner, [one, two], q) = setup(&mut engine, ordered(Order::Priority));
    send(&mut engine, one, q, prioritised("t2-low", 2, 1));
    send(&mut engine, two, q, prioritised("t3-high", 3, 8));
    send(&mut engine, one, q, prioritised("t2-high", 2, 7));
    send(&mut engine, two, q, prioritised("t1-low", 1, 0));
    send(&mut engine, one, q, prioritised("t5-top", 5, 9));
    // Type: the highest-priority message of that type.
    assert_eq!(
        payload(&try_recv(&mut engine, owner, on(q, Selector::Type(2))).unwrap()),
        b"t2-high"
    );
    // NotType: the highest-priority message of another type.
    assert_eq!(
        payload(&try_recv(&mut engine, owner, on(q, Selector::NotType(5))).unwrap()),
        b"t3-high"
    );
    // From: that sender's highest-priority message.
    assert_eq!(
        payload(&try_recv(&mut engine, owner, on(q, Selector::From(one))).unwrap()),
        b"t5-top"
    );
    // TypeAtMost: the lowest type wins over priority.
    assert_eq!(
        drain(&mut engine, owner, q, Selector::TypeAtMost(3)),
        ["t1-low", "t2-low"]
    );
}

#[test]
fn type_at_most_in_a_priority_mailbox_takes_the_highest_priority_among_equal_types() {
    let mut engine = Engine::default();
    let (owner, [sender, _], q) = setup(&mut engine, ordered(Order::Priority));
    send(&mut engine, sender, q, prioritised("t2-p1", 2, 1));
    send(&mut engine, sender, q, prioritised("t4-p9", 4, 9));
    send(&mut engine, sender, q, prioritised("t2-p5", 2, 5));
    assert_eq!(
        drain(&mut engine, owner, q, Selector::TypeAtMost(3)),
        ["t2-p5", "t2-p1"]
    );
}

#[test]
fn a_receiver_waiting_for_type_3_is_not_woken_by_type_2_and_is_woken_by_type_3() {
    let mut engine = Engine::default();
    let (owner, [sender, _], q) = setup(&mut engine, ordered(Order::Fifo));
    let ticket = recv_blocked(&mut engine, owner, &[on(q, Selector::Type(3))]);

    send(&mut engine, sender, q, typed("two", 2));
    assert!(engine.is_waiting(ticket));
    assert!(completions(&mut engine).is_empty());
    assert_eq!(
        engine.stat(owner, q).unwrap().messages,
        1,
        "type 2 is queued"
    );

    send(&mut engine, sender, q, typed("three", 3));
    let (branch, message) = received(only_completion(&mut engine, ticket));
    assert_eq!(
        (branch, payload(&message), message.mtype()),
        (0, b"three".to_vec(), 3)
    );
    assert_eq!(drain(&mut engine, owner, q, Selector::Any), ["two"]);
}

#[test]
fn waiting_receivers_are_woken_only_by_messages_their_selector_matches() {
    let mut engine = Engine::default();
    let (owner, [one, two], q) = setup(&mut engine, ordered(Order::Fifo));
    let cases = [
        (Selector::NotType(4), typed("skip", 4), typed("take", 6)),
        (Selector::TypeAtMost(2), typed("skip", 3), typed("take", 2)),
        (Selector::From(two), typed("skip", 1), typed("take", 1)),
    ];
    for (selector, skipped, taken) in cases {
        let ticket = recv_blocked(&mut engine, owner, &[on(q, selector)]);
        send(&mut engine, one, q, skipped);
        assert!(
            engine.is_waiting(ticket),
            "{selector:?} woken by a non-match"
        );
        let sender = if selector == Selector::From(two) {
            two
        } else {
            one
        };
        send(&mut engine, sender, q, taken);
        let (_, message) = received(only_completion(&mut engine, ticket));
        assert_eq!(payload(&message), b"take", "{selector:?}");
        assert_eq!(drain(&mut engine, owner, q, Selector::Any), ["skip"]);
    }
}

#[test]
fn rendezvous_receive_with_a_type_takes_the_matching_waiting_sender_only() {
    let mut engine = Engine::default();
    let attrs = MailboxAttrs {
        capacity: Capacity::Zero,
        ..MailboxAttrs::process_owned()
    };
    let (owner, [one, two], q) = setup(&mut engine, attrs);
    let t_two = send_blocked(&mut engine, one, q, typed("two", 2), Delivery::Queued);
    let t_three = send_blocked(&mut engine, two, q, typed("three", 3), Delivery::Queued);

    let message = try_recv(&mut engine, owner, on(q, Selector::Type(3))).unwrap();
    assert_eq!(
        (payload(&message), message.sender),
        (b"three".to_vec(), two)
    );
    assert_eq!(
        only_completion(&mut engine, t_three),
        Completion::Sent {
            receiver: Some(owner)
        }
    );
    assert!(engine.is_waiting(t_two));
    assert_eq!(
        try_recv(&mut engine, owner, on(q, Selector::Type(3))),
        Err(RecvError::Empty)
    );
}

#[test]
fn rendezvous_type_at_most_takes_the_waiting_sender_with_the_lowest_type() {
    let mut engine = Engine::default();
    let attrs = MailboxAttrs {
        capacity: Capacity::Zero,
        ..MailboxAttrs::process_owned()
    };
    let (owner, [one, two], q) = setup(&mut engine, attrs);
    send_blocked(&mut engine, one, q, typed("five", 5), Delivery::Queued);
    send_blocked(&mut engine, two, q, typed("two", 2), Delivery::Queued);
    send_blocked(&mut engine, one, q, typed("three", 3), Delivery::Queued);
    assert_eq!(
        drain(&mut engine, owner, q, Selector::TypeAtMost(4)),
        ["two", "three"]
    );
    assert_eq!(drain(&mut engine, owner, q, Selector::Any), ["five"]);
}

#[test]
fn rendezvous_send_completes_only_with_a_receiver_whose_selector_matches() {
    let mut engine = Engine::default();
    let attrs = MailboxAttrs {
        capacity: Capacity::Zero,
        ..MailboxAttrs::process_owned()
    };
    let (owner, [sender, _], q) = setup(&mut engine, attrs);
    let waiting = recv_blocked(&mut engine, owner, &[on(q, Selector::Type(3))]);
    let error = try_send(&mut engine, sender, q, typed("two", 2)).unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::Full);
    assert_eq!(
        try_send(&mut engine, sender, q, typed("three", 3)).unwrap(),
        SendOutcome::Sent {
            receiver: Some(owner)
        }
    );
    let (_, message) = received(only_completion(&mut engine, waiting));
    assert_eq!(payload(&message), b"three");
}

//! Blocking semantics with real threads: a blocked operation really waits, and resumes exactly
//! when the event it waits for happens — never because of some other event.
//!
//! "Blocked" is observed deterministically (through `stat()` and `list_processes()`), never
//! guessed from a sleep.

mod common;

use std::thread;

use common::{inbox_len, join_soon, stat, wait_blocked_receivers, wait_blocked_senders, waiting};
use postbox::{
    Capacity, Dispatch, InprocNode, Limits, Mailbox, Message, Process, Receivers, Selector,
};

/// A mailbox of `owner` that any process of this uid may open and receive from.
fn shared(owner: &Process, name: &str, capacity: Capacity) -> Mailbox {
    owner
        .mailbox(name)
        .capacity(capacity)
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .create()
        .expect("create")
}

#[test]
fn smoke() {
    let node = InprocNode::new();
    let a = node.process();
    let mailbox = a.mailbox("smoke").create().unwrap();
    mailbox.send("hello").unwrap();
    assert_eq!(mailbox.recv().unwrap().payload().as_ref(), b"hello");
}

#[test]
fn rendezvous_send_blocks_until_a_receiver_takes_it_and_names_that_receiver() {
    let node = InprocNode::new();
    let owner = node.process();
    let receiver = node.process();
    let meet = shared(&owner, "meet", Capacity::Zero);
    let theirs = receiver.mailbox("meet").open().unwrap();

    let sender = thread::spawn(move || {
        let sent = meet.send("hello").unwrap();
        (sent, meet)
    });
    let observer = node.process();
    let watch = observer.mailbox("meet").open().unwrap();
    wait_blocked_senders(&watch, 1);
    // Blocked: nothing is queued (zero capacity) and the send has not returned.
    assert_eq!(stat(&watch).messages, 0);
    assert!(!sender.is_finished());

    let got = theirs.recv().unwrap();
    assert_eq!(got.payload().as_ref(), b"hello");
    assert_eq!(got.sender, owner.pid());
    let (sent, _meet) = join_soon(sender);
    assert_eq!(sent.receiver, Some(receiver.pid()));
    assert_eq!(stat(&watch).blocked_senders, 0);
}

#[test]
fn rendezvous_receiver_blocks_until_a_sender_comes_and_the_send_names_it() {
    let node = InprocNode::new();
    let owner = node.process();
    let meet = shared(&owner, "meet", Capacity::Zero);
    let receiver = node.process();
    let receiver_pid = receiver.pid();
    let theirs = receiver.mailbox("meet").open().unwrap();

    let taker = thread::spawn(move || theirs.recv().map(|m| m.payload().clone()));
    wait_blocked_receivers(&meet, 1);
    // The receiver is already waiting, so even try_send completes — and names it.
    assert_eq!(meet.try_send("now").unwrap().receiver, Some(receiver_pid));
    assert_eq!(join_soon(taker).unwrap().as_ref(), b"now");
    drop(receiver);
}

#[test]
fn bounded_send_blocks_when_full_and_resumes_when_a_receiver_makes_room() {
    let node = InprocNode::new();
    let owner = node.process();
    let jobs = owner
        .mailbox("jobs")
        .capacity(Capacity::bounded(2, 1024))
        .create()
        .unwrap();
    jobs.send("1").unwrap();
    jobs.send("2").unwrap();

    let producer = node.process();
    let pid = producer.pid();
    let theirs = producer.mailbox("jobs").open().unwrap();
    let blocked = thread::spawn(move || theirs.send("3").map(|sent| (sent, theirs)));
    wait_blocked_senders(&jobs, 1);
    assert_eq!(
        stat(&jobs).messages,
        2,
        "the third message must wait outside"
    );
    assert!(!blocked.is_finished());

    // Making room admits the waiting sender, and only then does its send return.
    assert_eq!(jobs.recv().unwrap().payload().as_ref(), b"1");
    let (sent, _theirs) = join_soon(blocked).unwrap();
    assert_eq!(
        sent.receiver, None,
        "a buffered send does not know its receiver"
    );
    let after = stat(&jobs);
    assert_eq!((after.messages, after.blocked_senders), (2, 0));
    assert_eq!(jobs.recv().unwrap().payload().as_ref(), b"2");
    let third = jobs.recv().unwrap();
    assert_eq!((third.payload().as_ref(), third.sender), (&b"3"[..], pid));
}

#[test]
fn blocked_senders_on_a_full_mailbox_are_admitted_in_arrival_order() {
    let node = InprocNode::new();
    let owner = node.process();
    let jobs = owner
        .mailbox("jobs")
        .capacity(Capacity::bounded(1, 1024))
        .create()
        .unwrap();
    jobs.send("0").unwrap();
    let mut senders = Vec::new();
    for i in 1..=3 {
        let producer = node.process();
        let theirs = producer.mailbox("jobs").open().unwrap();
        senders.push(thread::spawn(move || {
            theirs.send(format!("{i}")).unwrap();
            (theirs, producer)
        }));
        // Each one is blocked before the next arrives: the arrival order is known.
        wait_blocked_senders(&jobs, i);
    }
    let order: Vec<_> = (0..4)
        .map(|_| String::from_utf8(jobs.recv().unwrap().payload().to_vec()).unwrap())
        .collect();
    assert_eq!(order, ["0", "1", "2", "3"]);
    for sender in senders {
        join_soon(sender);
    }
}

#[test]
fn receiver_blocked_on_type_3_is_not_woken_by_type_2_but_is_by_type_3() {
    let node = InprocNode::new();
    let owner = node.process();
    let typed = owner.mailbox("typed").create().unwrap();
    let receiver = node.process();
    typed.grant_receive(receiver.pid()).unwrap();
    let theirs = receiver.mailbox("typed").open().unwrap();
    let blocked = thread::spawn(move || theirs.recv_matching(Selector::Type(3)));
    wait_blocked_receivers(&typed, 1);

    typed.send(Message::new("two").with_type(2)).unwrap();
    // The send has returned: had it woken the receiver, the receiver would no longer be waiting
    // and the message would no longer be queued.
    let after = stat(&typed);
    assert_eq!((after.blocked_receivers, after.messages), (1, 1));
    assert!(!blocked.is_finished());

    typed.send(Message::new("three").with_type(3)).unwrap();
    let got = join_soon(blocked).unwrap();
    assert_eq!((got.mtype(), got.payload().as_ref()), (3, &b"three"[..]));
    let left = typed.try_recv().unwrap();
    assert_eq!((left.mtype(), left.payload().as_ref()), (2, &b"two"[..]));
    drop(receiver);
}

#[test]
fn receiver_blocked_on_not_type_ignores_that_type() {
    let node = InprocNode::new();
    let owner = node.process();
    let typed = shared(&owner, "typed", Capacity::Unbounded);
    let receiver = node.process();
    let theirs = receiver.mailbox("typed").open().unwrap();
    let blocked = thread::spawn(move || theirs.recv_matching(Selector::NotType(7)));
    wait_blocked_receivers(&typed, 1);

    typed.send(Message::new("seven").with_type(7)).unwrap();
    typed
        .send(Message::new("seven again").with_type(7))
        .unwrap();
    let after = stat(&typed);
    assert_eq!((after.blocked_receivers, after.messages), (1, 2));

    typed.send(Message::new("eight").with_type(8)).unwrap();
    assert_eq!(join_soon(blocked).unwrap().mtype(), 8);
    assert_eq!(stat(&typed).messages, 2);
}

#[test]
fn receiver_blocked_on_type_at_most_is_woken_only_by_a_low_enough_type() {
    let node = InprocNode::new();
    let owner = node.process();
    let typed = shared(&owner, "typed", Capacity::Unbounded);
    let receiver = node.process();
    let theirs = receiver.mailbox("typed").open().unwrap();
    let blocked = thread::spawn(move || theirs.recv_matching(Selector::TypeAtMost(3)));
    wait_blocked_receivers(&typed, 1);

    typed.send(Message::new("five").with_type(5)).unwrap();
    assert_eq!(stat(&typed).blocked_receivers, 1);

    typed.send(Message::new("three").with_type(3)).unwrap();
    assert_eq!(join_soon(blocked).unwrap().mtype(), 3);
    assert_eq!(typed.try_recv().unwrap().mtype(), 5);
}

#[test]
fn recv_from_waits_for_that_sender_and_leaves_others_queued() {
    let node = InprocNode::new();
    let receiver = node.process();
    let expected = node.process();
    let other = node.process();
    let observer = node.process();
    let (receiver_pid, expected_pid) = (receiver.pid(), expected.pid());

    let receiver = std::sync::Arc::new(receiver);
    let blocked = {
        let receiver = receiver.clone();
        thread::spawn(move || receiver.recv_from(expected_pid))
    };
    common::wait_waiting(&observer, receiver_pid, 1);

    other.send_to(receiver_pid, "not you").unwrap();
    // Queued, and the receiver still waits for `expected`.
    assert_eq!(inbox_len(&observer, receiver_pid), 1);
    assert_eq!(waiting(&observer, receiver_pid), 1);
    assert!(!blocked.is_finished());

    expected.send_to(receiver_pid, "you").unwrap();
    let got = join_soon(blocked).unwrap();
    assert_eq!(
        (got.sender, got.payload().as_ref()),
        (expected_pid, &b"you"[..])
    );
    let left = receiver.try_recv_any().unwrap();
    assert_eq!(
        (left.sender, left.payload().as_ref()),
        (other.pid(), &b"not you"[..])
    );
}

#[test]
fn recv_any_blocks_until_the_first_direct_message() {
    let node = InprocNode::new();
    let receiver = std::sync::Arc::new(node.process());
    let sender = node.process();
    let observer = node.process();
    let blocked = {
        let receiver = receiver.clone();
        thread::spawn(move || receiver.recv_any())
    };
    common::wait_waiting(&observer, receiver.pid(), 1);
    assert!(!blocked.is_finished());
    sender.send_to(receiver.pid(), "hi").unwrap();
    let got = join_soon(blocked).unwrap();
    assert_eq!(
        (got.sender, got.payload().as_ref()),
        (sender.pid(), &b"hi"[..])
    );
}

#[test]
fn send_to_blocks_on_a_full_inbox_until_its_owner_receives() {
    let node = InprocNode::with_limits(Limits {
        inbox_capacity: 1,
        ..Limits::default()
    });
    let receiver = node.process();
    let sender = std::sync::Arc::new(node.process());
    let receiver_pid = receiver.pid();
    sender.send_to(receiver_pid, "first").unwrap();

    let blocked = {
        let sender = sender.clone();
        thread::spawn(move || sender.send_to(receiver_pid, "second"))
    };
    common::wait_waiting(&receiver, sender.pid(), 1);
    assert_eq!(inbox_len(&receiver, receiver_pid), 1);
    assert!(!blocked.is_finished());

    assert_eq!(receiver.recv_any().unwrap().payload().as_ref(), b"first");
    join_soon(blocked).unwrap();
    assert_eq!(receiver.recv_any().unwrap().payload().as_ref(), b"second");
}

#[test]
fn send_to_with_receipt_blocks_until_the_target_takes_the_message() {
    let node = InprocNode::new();
    let receiver = node.process();
    let sender = std::sync::Arc::new(node.process());
    let receiver_pid = receiver.pid();
    let blocked = {
        let sender = sender.clone();
        thread::spawn(move || sender.send_to_with_receipt(receiver_pid, "sign here"))
    };
    common::wait_waiting(&receiver, sender.pid(), 1);
    // Queued in the inbox, yet the send has not returned.
    assert_eq!(inbox_len(&receiver, receiver_pid), 1);
    assert!(!blocked.is_finished());

    assert_eq!(
        receiver.recv_any().unwrap().payload().as_ref(),
        b"sign here"
    );
    join_soon(blocked).unwrap();
}

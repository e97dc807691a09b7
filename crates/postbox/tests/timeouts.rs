//! Timeouts and deadlines: a waiting operation gives up after (never before) its timeout, fails
//! with `Timeout`, hands a send's message back, and leaves nothing behind — no waiter, no queued
//! message, nothing a later receiver could get.
//!
//! Timing is asserted only as a loose lower bound (`elapsed >= timeout`).

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{join_soon, stat, wait_blocked_receivers, wait_blocked_senders};
use postbox::{
    Capacity, Dispatch, InprocNode, Limits, Mailbox, Message, Process, Receivers, RecvError,
    Selector, SendErrorKind,
};

const SHORT: Duration = Duration::from_millis(20);

fn shared(owner: &Process, name: &str, capacity: Capacity) -> Mailbox {
    owner
        .mailbox(name)
        .capacity(capacity)
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .create()
        .expect("create")
}

fn full_mailbox(owner: &Process) -> Mailbox {
    let mailbox = owner
        .mailbox("full")
        .capacity(Capacity::bounded(1, 1024))
        .create()
        .unwrap();
    mailbox.send("occupant").unwrap();
    mailbox
}

#[test]
fn recv_timeout_on_an_empty_mailbox_times_out_after_the_timeout() {
    let node = InprocNode::new();
    let p = node.process();
    let mailbox = p.mailbox("empty").create().unwrap();
    let start = Instant::now();
    assert_eq!(mailbox.recv_timeout(SHORT).unwrap_err(), RecvError::Timeout);
    assert!(start.elapsed() >= SHORT);
    assert_eq!(
        stat(&mailbox).blocked_receivers,
        0,
        "the waiter is withdrawn"
    );
}

#[test]
fn recv_deadline_on_an_empty_mailbox_times_out_at_the_deadline() {
    let node = InprocNode::new();
    let p = node.process();
    let mailbox = p.mailbox("empty").create().unwrap();
    let deadline = Instant::now() + SHORT;
    assert_eq!(
        mailbox.recv_deadline(deadline).unwrap_err(),
        RecvError::Timeout
    );
    assert!(Instant::now() >= deadline);
    assert_eq!(stat(&mailbox).blocked_receivers, 0);
}

#[test]
fn recv_deadline_in_the_past_still_takes_a_queued_message() {
    let node = InprocNode::new();
    let p = node.process();
    let mailbox = p.mailbox("ready").create().unwrap();
    mailbox.send("here").unwrap();
    let past = Instant::now();
    assert_eq!(
        mailbox.recv_deadline(past).unwrap().payload().as_ref(),
        b"here"
    );
    assert_eq!(mailbox.recv_deadline(past).unwrap_err(), RecvError::Timeout);
}

#[test]
fn recv_matching_timeout_is_not_satisfied_by_a_non_matching_message() {
    let node = InprocNode::new();
    let p = node.process();
    let mailbox = p.mailbox("typed").create().unwrap();
    mailbox.send(Message::new("two").with_type(2)).unwrap();
    let start = Instant::now();
    let error = mailbox
        .recv_matching_timeout(Selector::Type(3), SHORT)
        .unwrap_err();
    assert_eq!(error, RecvError::Timeout);
    assert!(start.elapsed() >= SHORT);
    assert_eq!(
        stat(&mailbox).messages,
        1,
        "the type-2 message stays queued"
    );
    let deadline = Instant::now() + SHORT;
    let error = mailbox
        .recv_matching_deadline(Selector::Type(3), deadline)
        .unwrap_err();
    assert_eq!(error, RecvError::Timeout);
    assert!(Instant::now() >= deadline);
}

#[test]
fn a_timed_out_receiver_does_not_take_a_later_message() {
    let node = InprocNode::new();
    let owner = node.process();
    let mailbox = shared(&owner, "later", Capacity::Unbounded);
    let first = node.process();
    let second = node.process();
    let first_handle = first.mailbox("later").open().unwrap();
    let second_handle = second.mailbox("later").open().unwrap();

    assert_eq!(
        first_handle.recv_timeout(SHORT).unwrap_err(),
        RecvError::Timeout
    );
    mailbox.send("for whoever asks next").unwrap();
    assert_eq!(
        stat(&mailbox).messages,
        1,
        "queued, not handed to the gone waiter"
    );
    let got = second_handle.try_recv().unwrap();
    assert_eq!(got.payload().as_ref(), b"for whoever asks next");
}

#[test]
fn recv_timeout_returns_a_message_that_arrives_in_time() {
    let node = InprocNode::new();
    let owner = node.process();
    let mailbox = shared(&owner, "soon", Capacity::Unbounded);
    let receiver = node.process();
    let theirs = receiver.mailbox("soon").open().unwrap();
    let waiting = thread::spawn(move || theirs.recv_timeout(common::PATIENCE));
    wait_blocked_receivers(&mailbox, 1);
    mailbox.send("in time").unwrap();
    assert_eq!(join_soon(waiting).unwrap().payload().as_ref(), b"in time");
}

#[test]
fn recv_timeout_beyond_the_clock_range_waits_like_recv() {
    let node = InprocNode::new();
    let owner = node.process();
    let mailbox = shared(&owner, "forever", Capacity::Unbounded);
    let receiver = node.process();
    let theirs = receiver.mailbox("forever").open().unwrap();
    let waiting = thread::spawn(move || theirs.recv_timeout(Duration::MAX));
    wait_blocked_receivers(&mailbox, 1);
    mailbox.send("eventually").unwrap();
    assert_eq!(
        join_soon(waiting).unwrap().payload().as_ref(),
        b"eventually"
    );
}

#[test]
fn send_timeout_on_a_full_mailbox_times_out_and_hands_the_message_back() {
    let node = InprocNode::new();
    let p = node.process();
    let mailbox = full_mailbox(&p);
    let start = Instant::now();
    let error = mailbox
        .send_timeout(Message::new("late").with_type(4), SHORT)
        .unwrap_err();
    assert!(start.elapsed() >= SHORT);
    assert_eq!(error.kind(), SendErrorKind::Timeout);
    let back = error.into_message().expect("the message comes back");
    assert_eq!((back.payload.as_ref(), back.mtype), (&b"late"[..], 4));
    let after = stat(&mailbox);
    assert_eq!((after.messages, after.blocked_senders), (1, 0));
    assert_eq!(mailbox.recv().unwrap().payload().as_ref(), b"occupant");
    assert_eq!(mailbox.try_recv().unwrap_err(), RecvError::Empty);
}

#[test]
fn send_deadline_on_a_full_mailbox_times_out_and_hands_the_message_back() {
    let node = InprocNode::new();
    let p = node.process();
    let mailbox = full_mailbox(&p);
    let deadline = Instant::now() + SHORT;
    let error = mailbox.send_deadline("late", deadline).unwrap_err();
    assert!(Instant::now() >= deadline);
    assert_eq!(error.kind(), SendErrorKind::Timeout);
    assert_eq!(error.message().unwrap().payload.as_ref(), b"late");
    assert_eq!(stat(&mailbox).blocked_senders, 0);
}

#[test]
fn send_timeout_succeeds_when_room_is_made_in_time() {
    let node = InprocNode::new();
    let owner = node.process();
    let mailbox = owner
        .mailbox("room")
        .capacity(Capacity::bounded(1, 1024))
        .create()
        .unwrap();
    mailbox.send("occupant").unwrap();
    let producer = node.process();
    let theirs = producer.mailbox("room").open().unwrap();
    let waiting = thread::spawn(move || theirs.send_timeout("next", common::PATIENCE));
    wait_blocked_senders(&mailbox, 1);
    mailbox.recv().unwrap();
    join_soon(waiting).unwrap();
    assert_eq!(mailbox.recv().unwrap().payload().as_ref(), b"next");
}

#[test]
fn a_timed_out_rendezvous_send_is_withdrawn_and_never_received() {
    let node = InprocNode::new();
    let owner = node.process();
    let meet = shared(&owner, "meet", Capacity::Zero);
    let receiver = node.process();
    let theirs = receiver.mailbox("meet").open().unwrap();

    let start = Instant::now();
    let error = meet.send_timeout("withdrawn", SHORT).unwrap_err();
    assert!(start.elapsed() >= SHORT);
    assert_eq!(error.kind(), SendErrorKind::Timeout);
    assert_eq!(error.into_message().unwrap().payload.as_ref(), b"withdrawn");
    assert_eq!(stat(&meet).blocked_senders, 0);
    assert_eq!(theirs.try_recv().unwrap_err(), RecvError::Empty);

    // The next receiver gets the next message, not the withdrawn one.
    let taker = thread::spawn(move || theirs.recv().map(|m| m.payload().clone()));
    wait_blocked_receivers(&meet, 1);
    assert_eq!(meet.send("kept").unwrap().receiver, Some(receiver.pid()));
    assert_eq!(join_soon(taker).unwrap().as_ref(), b"kept");
}

#[test]
fn a_rendezvous_send_deadline_that_passed_with_no_receiver_fails_with_timeout() {
    let node = InprocNode::new();
    let owner = node.process();
    let meet = shared(&owner, "meet", Capacity::Zero);
    let error = meet.send_deadline("nobody", Instant::now()).unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::Timeout);
    assert_eq!(error.into_message().unwrap().payload.as_ref(), b"nobody");
    assert_eq!(stat(&meet).blocked_senders, 0);
}

#[test]
fn a_timed_out_receipt_send_is_withdrawn_from_the_queue_and_handed_back() {
    let node = InprocNode::new();
    let owner = node.process();
    let mailbox = shared(&owner, "receipts", Capacity::Unbounded);
    mailbox.send("before").unwrap();
    let sent_before = stat(&mailbox).total_sent;

    let start = Instant::now();
    let error = mailbox
        .send_with_receipt_timeout("withdrawn", SHORT)
        .unwrap_err();
    assert!(start.elapsed() >= SHORT);
    assert_eq!(error.kind(), SendErrorKind::Timeout);
    assert_eq!(error.into_message().unwrap().payload.as_ref(), b"withdrawn");
    let after = stat(&mailbox);
    assert_eq!(after.messages, 1, "only the earlier message remains");
    assert_eq!(
        after.total_sent, sent_before,
        "a withdrawn message was never sent"
    );

    let receiver = node.process();
    let theirs = receiver.mailbox("receipts").open().unwrap();
    assert_eq!(theirs.try_recv().unwrap().payload().as_ref(), b"before");
    assert_eq!(theirs.try_recv().unwrap_err(), RecvError::Empty);
}

#[test]
fn a_timed_out_receipt_send_blocked_on_a_full_mailbox_is_withdrawn() {
    let node = InprocNode::new();
    let p = node.process();
    let mailbox = full_mailbox(&p);
    let error = mailbox
        .send_with_receipt_timeout("late", SHORT)
        .unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::Timeout);
    assert_eq!(error.into_message().unwrap().payload.as_ref(), b"late");
    assert_eq!(mailbox.recv().unwrap().payload().as_ref(), b"occupant");
    assert_eq!(mailbox.try_recv().unwrap_err(), RecvError::Empty);
}

#[test]
fn a_receipt_send_that_is_taken_in_time_names_the_receiver() {
    let node = InprocNode::new();
    let owner = node.process();
    let mailbox = shared(&owner, "receipts", Capacity::Unbounded);
    let receiver = node.process();
    let receiver_pid = receiver.pid();
    let theirs = receiver.mailbox("receipts").open().unwrap();
    let sender = thread::spawn(move || {
        let result = mailbox.send_with_receipt_timeout("sign", common::PATIENCE);
        (result, mailbox)
    });
    common::spin_until("the receipt message is queued", || {
        theirs.stat().unwrap().messages == 1
    });
    assert_eq!(theirs.recv().unwrap().payload().as_ref(), b"sign");
    let (result, _mailbox) = join_soon(sender);
    assert_eq!(result.unwrap(), receiver_pid);
}

#[test]
fn a_timed_out_send_to_with_receipt_is_withdrawn_from_the_inbox() {
    let node = InprocNode::new();
    let sender = node.process();
    let target = node.process();
    let start = Instant::now();
    let error = sender
        .send_to_with_receipt_timeout(target.pid(), "withdrawn", SHORT)
        .unwrap_err();
    assert!(start.elapsed() >= SHORT);
    assert_eq!(error.kind(), SendErrorKind::Timeout);
    assert_eq!(error.into_message().unwrap().payload.as_ref(), b"withdrawn");
    assert_eq!(target.try_recv_any().unwrap_err(), RecvError::Empty);
    assert_eq!(common::waiting(&target, sender.pid()), 0);
}

#[test]
fn send_to_timeout_on_a_full_inbox_times_out_and_hands_the_message_back() {
    let node = InprocNode::with_limits(Limits {
        inbox_capacity: 1,
        ..Limits::default()
    });
    let sender = node.process();
    let target = node.process();
    sender.send_to(target.pid(), "first").unwrap();
    let start = Instant::now();
    let error = sender
        .send_to_timeout(target.pid(), "second", SHORT)
        .unwrap_err();
    assert!(start.elapsed() >= SHORT);
    assert_eq!(error.kind(), SendErrorKind::Timeout);
    assert_eq!(error.into_message().unwrap().payload.as_ref(), b"second");
    let deadline = Instant::now() + SHORT;
    let error = sender
        .send_to_deadline(target.pid(), "third", deadline)
        .unwrap_err();
    assert!(Instant::now() >= deadline);
    assert_eq!(error.kind(), SendErrorKind::Timeout);
    assert_eq!(target.recv_any().unwrap().payload().as_ref(), b"first");
    assert_eq!(target.try_recv_any().unwrap_err(), RecvError::Empty);
}

#[test]
fn inbox_receive_timeouts_and_deadlines_time_out() {
    let node = InprocNode::new();
    let p = node.process();
    let other = node.process();
    let start = Instant::now();
    assert_eq!(p.recv_any_timeout(SHORT).unwrap_err(), RecvError::Timeout);
    assert!(start.elapsed() >= SHORT);
    let deadline = Instant::now() + SHORT;
    assert_eq!(
        p.recv_any_deadline(deadline).unwrap_err(),
        RecvError::Timeout
    );
    assert!(Instant::now() >= deadline);

    // A message from someone else does not satisfy recv_from.
    p.send_to(p.pid(), "from myself").unwrap();
    let start = Instant::now();
    let error = p.recv_from_timeout(other.pid(), SHORT).unwrap_err();
    assert_eq!(error, RecvError::Timeout);
    assert!(start.elapsed() >= SHORT);
    let deadline = Instant::now() + SHORT;
    let error = p.recv_from_deadline(other.pid(), deadline).unwrap_err();
    assert_eq!(error, RecvError::Timeout);
    assert!(Instant::now() >= deadline);
    let error = p
        .recv_matching_timeout(Selector::Type(9), SHORT)
        .unwrap_err();
    assert_eq!(error, RecvError::Timeout);
    let error = p
        .recv_matching_deadline(Selector::Type(9), Instant::now() + SHORT)
        .unwrap_err();
    assert_eq!(error, RecvError::Timeout);
    assert_eq!(p.try_recv_any().unwrap().payload().as_ref(), b"from myself");
    assert_eq!(
        common::waiting(&other, p.pid()),
        0,
        "no waiter is left behind"
    );
}

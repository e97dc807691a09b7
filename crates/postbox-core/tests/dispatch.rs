//! Dispatch among several waiting receivers of a shared mailbox: exactly one receiver per
//! message, round-robin or first-waiting, and receipts naming the receiver.

mod common;

use common::*;
use postbox_core::{
    Completion, Delivery, Dispatch, Engine, MailboxAttrs, MailboxId, Pid, Receivers, Selector,
    SendOutcome, Ticket,
};

/// A system-owned shared mailbox with `dispatch`, a sender and three receivers (pids ascending),
/// all with it open.
fn setup(engine: &mut Engine, dispatch: Dispatch) -> (Pid, [Pid; 3], MailboxId) {
    let sender = spawn(engine);
    let receivers = [spawn(engine), spawn(engine), spawn(engine)];
    let attrs = MailboxAttrs {
        receivers: Receivers::Shared(dispatch),
        ..MailboxAttrs::system_owned()
    };
    let q = create(engine, sender, "work", attrs);
    for receiver in receivers {
        engine.open(receiver, "work").unwrap();
    }
    (sender, receivers, q)
}

/// Sends one message and returns the pid whose waiting receive it completed, checking that it
/// completed exactly one.
fn served(engine: &mut Engine, sender: Pid, q: MailboxId, waiting: &[(Pid, Ticket)]) -> Pid {
    send(engine, sender, q, "job");
    let done = completions(engine);
    assert_eq!(done.len(), 1, "exactly one receiver per message: {done:?}");
    let (ticket, _) = &done[0];
    waiting
        .iter()
        .find(|(_, t)| t == ticket)
        .map(|(pid, _)| *pid)
        .expect("a waiting receiver was served")
}

#[test]
fn each_message_goes_to_exactly_one_of_several_waiting_receivers() {
    for dispatch in [Dispatch::FirstWaiting, Dispatch::RoundRobin] {
        let mut engine = Engine::default();
        let (sender, receivers, q) = setup(&mut engine, dispatch);
        let tickets: Vec<Ticket> = receivers
            .iter()
            .map(|&r| recv_blocked(&mut engine, r, &[on(q, Selector::Any)]))
            .collect();
        assert_eq!(engine.stat(sender, q).unwrap().blocked_receivers, 3);
        for round in 1..=3 {
            send(&mut engine, sender, q, "job");
            assert_eq!(
                completions(&mut engine).len(),
                1,
                "{dispatch:?} round {round}"
            );
        }
        assert!(tickets.iter().all(|&t| !engine.is_waiting(t)));
        let stats = engine.stat(sender, q).unwrap();
        assert_eq!((stats.messages, stats.total_received), (0, 3));
        send(&mut engine, sender, q, "nobody waits");
        assert!(completions(&mut engine).is_empty());
        assert_eq!(engine.stat(sender, q).unwrap().messages, 1);
    }
}

#[test]
fn first_waiting_serves_the_longest_waiting_receiver() {
    let mut engine = Engine::default();
    let (sender, [r1, r2, r3], q) = setup(&mut engine, Dispatch::FirstWaiting);
    let mut waiting: Vec<(Pid, Ticket)> = [r2, r3, r1]
        .into_iter()
        .map(|r| (r, recv_blocked(&mut engine, r, &[on(q, Selector::Any)])))
        .collect();
    let mut order = Vec::new();
    for _ in 0..4 {
        let pid = served(&mut engine, sender, q, &waiting);
        order.push(pid);
        // The served receiver waits again, at the back of the line.
        waiting.retain(|(p, _)| *p != pid);
        waiting.push((pid, recv_blocked(&mut engine, pid, &[on(q, Selector::Any)])));
    }
    assert_eq!(order, [r2, r3, r1, r2]);
}

#[test]
fn round_robin_rotates_in_pid_order_after_the_last_served() {
    let mut engine = Engine::default();
    let (sender, [r1, r2, r3], q) = setup(&mut engine, Dispatch::RoundRobin);
    let mut waiting: Vec<(Pid, Ticket)> = [r3, r2, r1]
        .into_iter()
        .map(|r| (r, recv_blocked(&mut engine, r, &[on(q, Selector::Any)])))
        .collect();
    let mut order = Vec::new();
    for _ in 0..5 {
        let pid = served(&mut engine, sender, q, &waiting);
        order.push(pid);
        waiting.retain(|(p, _)| *p != pid);
        waiting.push((pid, recv_blocked(&mut engine, pid, &[on(q, Selector::Any)])));
    }
    // Nobody served yet: the longest-waiting (r3); then on in pid order, wrapping around —
    // whatever order the receivers re-queued in.
    assert_eq!(order, [r3, r1, r2, r3, r1]);
}

#[test]
fn round_robin_skips_a_receiver_that_is_not_waiting() {
    let mut engine = Engine::default();
    let (sender, [r1, _, r3], q) = setup(&mut engine, Dispatch::RoundRobin);
    let waiting: Vec<(Pid, Ticket)> = [r1, r3]
        .into_iter()
        .map(|r| (r, recv_blocked(&mut engine, r, &[on(q, Selector::Any)])))
        .collect();
    assert_eq!(served(&mut engine, sender, q, &waiting), r1);
    assert_eq!(served(&mut engine, sender, q, &waiting), r3);
}

#[test]
fn round_robin_skips_receivers_whose_selector_does_not_match() {
    let mut engine = Engine::default();
    let (sender, [r1, r2, r3], q) = setup(&mut engine, Dispatch::RoundRobin);
    let t1 = recv_blocked(&mut engine, r1, &[on(q, Selector::Any)]);
    send(&mut engine, sender, q, "first");
    assert_eq!(completions(&mut engine)[0].0, t1);
    let t2 = recv_blocked(&mut engine, r2, &[on(q, Selector::Type(9))]);
    let t3 = recv_blocked(&mut engine, r3, &[on(q, Selector::Any)]);
    send(&mut engine, sender, q, "type 1");
    let done = completions(&mut engine);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, t3, "r2 is next in turn but waits for type 9");
    assert!(engine.is_waiting(t2));
}

#[test]
fn a_receipt_names_the_receiver_that_took_the_message() {
    let mut engine = Engine::default();
    let (sender, [r1, r2, _], q) = setup(&mut engine, Dispatch::FirstWaiting);
    // Queued first, taken later: the receipt completes with the taker.
    let ticket = send_blocked(&mut engine, sender, q, "queued", Delivery::Receipt);
    assert_eq!(take(&mut engine, r2, on(q, Selector::Any)), b"queued");
    assert_eq!(
        only_completion(&mut engine, ticket),
        Completion::Sent { receiver: Some(r2) }
    );
    // A receiver already waiting: the receipt is immediate.
    let waiting = recv_blocked(&mut engine, r1, &[on(q, Selector::Any)]);
    let outcome = engine
        .send(
            sender,
            q,
            "direct".into(),
            Delivery::Receipt,
            postbox_core::Wait::Block,
            at(1),
        )
        .unwrap();
    assert_eq!(outcome, SendOutcome::Sent { receiver: Some(r1) });
    let (_, message) = received(only_completion(&mut engine, waiting));
    assert_eq!(payload(&message), b"direct");
}

#[test]
fn a_plain_send_to_a_waiting_receiver_does_not_name_it() {
    let mut engine = Engine::default();
    let (sender, [r1, _, _], q) = setup(&mut engine, Dispatch::FirstWaiting);
    recv_blocked(&mut engine, r1, &[on(q, Selector::Any)]);
    assert_eq!(
        send(&mut engine, sender, q, "job"),
        SendOutcome::Sent { receiver: None },
        "only receipts and rendezvous report the receiver"
    );
}

//! Select: one receive over several sources (mailboxes and the inbox), each with its own
//! selector; exactly one message taken, the branch reported, and every other registration gone.

mod common;

use common::*;
use postbox_core::{
    Branch, Cancelled, Engine, MailboxAttrs, MailboxId, Message, Pid, RecvError, SelectError,
    Selector, Timestamp, Wait,
};

/// A receiver owning mailboxes `a` and `b`, and a sender with both open.
fn setup(engine: &mut Engine) -> (Pid, Pid, MailboxId, MailboxId) {
    let receiver = spawn(engine);
    let sender = spawn(engine);
    let a = create(engine, receiver, "a", MailboxAttrs::process_owned());
    let b = create(engine, receiver, "b", MailboxAttrs::process_owned());
    engine.open(sender, "a").unwrap();
    engine.open(sender, "b").unwrap();
    (receiver, sender, a, b)
}

fn branches(a: MailboxId, b: MailboxId) -> [Branch; 3] {
    [
        on(a, Selector::Any),
        on(b, Selector::Any),
        inbox(Selector::Any),
    ]
}

fn waiting_receivers(engine: &Engine, pid: Pid, mailbox: MailboxId) -> usize {
    engine.stat(pid, mailbox).unwrap().blocked_receivers
}

fn inbox_messages(engine: &Engine, pid: Pid) -> usize {
    let info = engine.processes().into_iter().find(|p| p.pid == pid);
    info.expect("live process").inbox_messages
}

#[test]
fn select_takes_from_the_ready_branch_and_reports_its_index() {
    let mut engine = Engine::default();
    let (receiver, sender, a, b) = setup(&mut engine);
    send(&mut engine, sender, b, "on b");
    let (branch, message) = try_recv_on(&mut engine, receiver, &branches(a, b)).unwrap();
    assert_eq!((branch, payload(&message)), (1, b"on b".to_vec()));

    send_to(&mut engine, sender, receiver, "direct");
    let (branch, message) = try_recv_on(&mut engine, receiver, &branches(a, b)).unwrap();
    assert_eq!((branch, payload(&message)), (2, b"direct".to_vec()));
}

#[test]
fn select_with_several_branches_ready_takes_exactly_one_message_from_the_first() {
    let mut engine = Engine::default();
    let (receiver, sender, a, b) = setup(&mut engine);
    send(&mut engine, sender, a, "on a");
    send(&mut engine, sender, b, "on b");
    send_to(&mut engine, sender, receiver, "direct");
    let (branch, message) = try_recv_on(&mut engine, receiver, &branches(a, b)).unwrap();
    assert_eq!((branch, payload(&message)), (0, b"on a".to_vec()));
    assert_eq!(engine.stat(receiver, a).unwrap().messages, 0);
    assert_eq!(engine.stat(receiver, b).unwrap().messages, 1);
    assert_eq!(inbox_messages(&engine, receiver), 1);
}

#[test]
fn a_waiting_select_completes_from_one_branch_and_leaves_no_registration_elsewhere() {
    let mut engine = Engine::default();
    let (receiver, sender, a, b) = setup(&mut engine);
    let ticket = recv_blocked(&mut engine, receiver, &branches(a, b));
    assert_eq!(waiting_receivers(&engine, receiver, a), 1);
    assert_eq!(waiting_receivers(&engine, receiver, b), 1);

    send(&mut engine, sender, b, "on b");
    let (branch, message) = received(only_completion(&mut engine, ticket));
    assert_eq!((branch, payload(&message)), (1, b"on b".to_vec()));
    assert!(!engine.is_waiting(ticket));
    assert_eq!(waiting_receivers(&engine, receiver, a), 0);
    assert_eq!(waiting_receivers(&engine, receiver, b), 0);

    // Later messages on the other branches are queued, not handed to the finished select.
    send(&mut engine, sender, a, "on a");
    send_to(&mut engine, sender, receiver, "direct");
    assert!(completions(&mut engine).is_empty());
    assert_eq!(engine.stat(receiver, a).unwrap().messages, 1);
    assert_eq!(inbox_messages(&engine, receiver), 1);
}

#[test]
fn a_waiting_select_is_completed_by_its_inbox_branch() {
    let mut engine = Engine::default();
    let (receiver, sender, a, b) = setup(&mut engine);
    let ticket = recv_blocked(&mut engine, receiver, &branches(a, b));
    send_to(&mut engine, sender, receiver, "direct");
    let (branch, message) = received(only_completion(&mut engine, ticket));
    assert_eq!((branch, message.sender), (2, sender));
    assert_eq!(waiting_receivers(&engine, receiver, a), 0);
    assert_eq!(waiting_receivers(&engine, receiver, b), 0);
}

#[test]
fn each_branch_keeps_its_own_selector() {
    let mut engine = Engine::default();
    let (receiver, sender, a, _) = setup(&mut engine);
    let other = spawn(&mut engine);
    let select = [on(a, Selector::Type(2)), inbox(Selector::From(other))];
    let ticket = recv_blocked(&mut engine, receiver, &select);
    send(&mut engine, sender, a, Message::new("type 1"));
    send_to(&mut engine, sender, receiver, "not from other");
    assert!(engine.is_waiting(ticket));
    send_to(&mut engine, other, receiver, "from other");
    let (branch, message) = received(only_completion(&mut engine, ticket));
    assert_eq!((branch, payload(&message)), (1, b"from other".to_vec()));
    assert_eq!(engine.stat(receiver, a).unwrap().messages, 1);
}

#[test]
fn select_with_nothing_ready_and_wait_try_is_empty() {
    let mut engine = Engine::default();
    let (receiver, _, a, b) = setup(&mut engine);
    assert_eq!(
        try_recv_on(&mut engine, receiver, &branches(a, b)),
        Err((0, RecvError::Empty))
    );
    assert_eq!(
        waiting_receivers(&engine, receiver, a),
        0,
        "Try never registers"
    );
}

#[test]
fn select_on_an_already_deleted_mailbox_fails_with_gone_naming_the_branch() {
    let mut engine = Engine::default();
    let (receiver, sender, a, b) = setup(&mut engine);
    send(&mut engine, sender, a, "on a");
    engine.delete(receiver, b).unwrap();
    let error = engine
        .recv(receiver, &branches(a, b), Wait::Block, Timestamp::ZERO)
        .unwrap_err();
    assert_eq!(
        error,
        SelectError {
            branch: 1,
            error: RecvError::Gone
        }
    );
    assert_eq!(
        engine.stat(receiver, a).unwrap().messages,
        1,
        "a failed select takes nothing"
    );
}

#[test]
fn deleting_a_branch_mailbox_fails_the_waiting_select_with_gone_and_clears_the_rest() {
    let mut engine = Engine::default();
    let (receiver, _, a, b) = setup(&mut engine);
    let ticket = recv_blocked(&mut engine, receiver, &branches(a, b));
    engine.delete(receiver, b).unwrap();
    assert_eq!(
        recv_failed(only_completion(&mut engine, ticket)),
        (1, RecvError::Gone)
    );
    assert_eq!(waiting_receivers(&engine, receiver, a), 0);
    assert!(!engine.is_waiting(ticket));
}

#[test]
fn cancelling_a_waiting_select_removes_it_from_every_branch() {
    let mut engine = Engine::default();
    let (receiver, sender, a, b) = setup(&mut engine);
    let ticket = recv_blocked(&mut engine, receiver, &branches(a, b));
    assert_eq!(
        engine.cancel(ticket, Timestamp::ZERO),
        Some(Cancelled::Recv)
    );
    assert_eq!(waiting_receivers(&engine, receiver, a), 0);
    assert_eq!(waiting_receivers(&engine, receiver, b), 0);
    send(&mut engine, sender, a, "on a");
    send_to(&mut engine, sender, receiver, "direct");
    assert!(completions(&mut engine).is_empty());
    assert_eq!(engine.cancel(ticket, Timestamp::ZERO), None);
}

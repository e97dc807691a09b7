//! Select over mailboxes and the inbox, with real threads: a waiting select wakes on whichever
//! branch gets a matching message first, takes exactly one message, withdraws from every other
//! branch, and gives up with `Timeout` when asked to.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{join_soon, stat, wait_blocked_receivers, wait_blocked_senders};
use postbox::{
    Capacity, Dispatch, InprocNode, Mailbox, Message, Process, Receivers, RecvError, Select,
    Selector,
};

const SHORT: Duration = Duration::from_millis(20);

/// A worker with two mailboxes ("a", "b") that a second process ("peer") may send to.
struct Setup {
    node: InprocNode,
    worker: Process,
    a: Mailbox,
    b: Mailbox,
    peer: Process,
    peer_a: Mailbox,
    peer_b: Mailbox,
}

fn setup() -> Setup {
    let node = InprocNode::new();
    let worker = node.process();
    let a = worker.mailbox("a").create().unwrap();
    let b = worker.mailbox("b").create().unwrap();
    let peer = node.process();
    let peer_a = peer.mailbox("a").open().unwrap();
    let peer_b = peer.mailbox("b").open().unwrap();
    Setup {
        node,
        worker,
        a,
        b,
        peer,
        peer_a,
        peer_b,
    }
}

/// A select over a, b and the worker's inbox (branches 0, 1, 2), all with `Any`.
fn select_all(s: &Setup) -> Select {
    let mut select = Select::new();
    assert_eq!(select.recv(&s.a, Selector::Any), 0);
    assert_eq!(select.recv(&s.b, Selector::Any), 1);
    assert_eq!(select.inbox(&s.worker, Selector::Any), 2);
    select
}

fn wait_select_blocked(s: &Setup) {
    wait_blocked_receivers(&s.a, 1);
    wait_blocked_receivers(&s.b, 1);
    common::wait_waiting(&s.peer, s.worker.pid(), 1);
}

fn assert_withdrawn(s: &Setup) {
    assert_eq!(stat(&s.a).blocked_receivers, 0);
    assert_eq!(stat(&s.b).blocked_receivers, 0);
    assert_eq!(common::waiting(&s.peer, s.worker.pid()), 0);
}

#[test]
fn wait_wakes_on_the_mailbox_branch_that_gets_a_message() {
    let s = setup();
    let select = select_all(&s);
    let waiting = thread::spawn(move || select.wait());
    wait_select_blocked(&s);
    assert!(!waiting.is_finished());

    s.peer_b.send("to b").unwrap();
    let selected = join_soon(waiting).unwrap();
    assert_eq!(selected.index, 1);
    assert_eq!(selected.message.payload().as_ref(), b"to b");
    assert_eq!(selected.message.sender, s.peer.pid());
    assert_withdrawn(&s);
}

#[test]
fn wait_wakes_on_the_inbox_branch() {
    let s = setup();
    let select = select_all(&s);
    let waiting = thread::spawn(move || select.wait());
    wait_select_blocked(&s);

    s.peer.send_to(s.worker.pid(), "direct").unwrap();
    let selected = join_soon(waiting).unwrap();
    assert_eq!(selected.index, 2);
    assert_eq!(selected.message.payload().as_ref(), b"direct");
    assert_withdrawn(&s);
    // The next message to a mailbox branch stays queued: the select is over.
    s.peer_a.send("later").unwrap();
    assert_eq!(stat(&s.a).messages, 1);
}

#[test]
fn exactly_one_message_is_taken_when_branches_race() {
    let s = setup();
    for round in 0..50 {
        let select = select_all(&s);
        let waiting = thread::spawn(move || select.wait());
        wait_select_blocked(&s);
        thread::scope(|scope| {
            scope.spawn(|| s.peer_a.send(format!("a{round}")).unwrap());
            scope.spawn(|| s.peer_b.send(format!("b{round}")).unwrap());
            scope.spawn(|| s.peer.send_to(s.worker.pid(), format!("i{round}")).unwrap());
        });
        let selected = join_soon(waiting).unwrap();
        assert_withdrawn(&s);
        // The other two are still there, one on each of the other branches.
        let mut left = Vec::new();
        for (index, taken) in [
            s.a.try_recv().map(|m| m.payload().clone()),
            s.b.try_recv().map(|m| m.payload().clone()),
            s.worker.try_recv_any().map(|m| m.payload().clone()),
        ]
        .into_iter()
        .enumerate()
        {
            match taken {
                Ok(payload) => left.push(payload),
                Err(error) => {
                    assert_eq!(error, RecvError::Empty);
                    assert_eq!(index, selected.index, "only the selected branch is empty");
                }
            }
        }
        assert_eq!(left.len(), 2, "round {round}: exactly one message taken");
        assert!(!left.contains(selected.message.payload()));
    }
}

#[test]
fn try_wait_takes_from_the_first_ready_branch_only() {
    let s = setup();
    let select = select_all(&s);
    assert_eq!(select.try_wait().unwrap_err().error, RecvError::Empty);
    s.peer.send_to(s.worker.pid(), "inbox").unwrap();
    s.peer_b.send("b").unwrap();
    let selected = select.try_wait().unwrap();
    assert_eq!(
        selected.index, 1,
        "branches are tried in the order they were added"
    );
    assert_eq!(stat(&s.b).messages, 0);
    assert_eq!(select.try_wait().unwrap().index, 2);
    assert_eq!(select.try_wait().unwrap_err().error, RecvError::Empty);
}

#[test]
fn wait_timeout_times_out_and_withdraws_from_every_branch() {
    let s = setup();
    let select = select_all(&s);
    let start = Instant::now();
    let error = select.wait_timeout(SHORT).unwrap_err();
    assert!(start.elapsed() >= SHORT);
    assert_eq!(error.error, RecvError::Timeout);
    assert_withdrawn(&s);
    s.peer_a.send("after").unwrap();
    assert_eq!(
        stat(&s.a).messages,
        1,
        "a timed-out select takes nothing later"
    );

    let deadline = Instant::now() + SHORT;
    let mut only_b = Select::new();
    only_b.recv(&s.b, Selector::Any);
    assert_eq!(
        only_b.wait_deadline(deadline).unwrap_err().error,
        RecvError::Timeout
    );
    assert!(Instant::now() >= deadline);
    assert_withdrawn(&s);
}

#[test]
fn wait_timeout_returns_a_message_that_arrives_in_time() {
    let s = setup();
    let select = select_all(&s);
    let waiting = thread::spawn(move || select.wait_timeout(common::PATIENCE));
    wait_select_blocked(&s);
    s.peer_a.send("in time").unwrap();
    let selected = join_soon(waiting).unwrap();
    assert_eq!(
        (selected.index, selected.message.payload().as_ref()),
        (0, &b"in time"[..])
    );
    assert_withdrawn(&s);
}

#[test]
fn a_select_branch_is_woken_only_by_a_matching_message() {
    let s = setup();
    let awaited = s.node.process();
    let mut select = Select::new();
    select.recv(&s.a, Selector::Type(3));
    select.inbox(&s.worker, Selector::From(awaited.pid()));
    let waiting = thread::spawn(move || select.wait());
    wait_blocked_receivers(&s.a, 1);
    common::wait_waiting(&s.peer, s.worker.pid(), 1);

    s.peer_a.send(Message::new("two").with_type(2)).unwrap();
    s.peer
        .send_to(s.worker.pid(), "not from the awaited sender")
        .unwrap();
    assert_eq!(stat(&s.a).blocked_receivers, 1);
    assert_eq!(stat(&s.a).messages, 1);
    assert!(!waiting.is_finished());

    s.peer_a.send(Message::new("three").with_type(3)).unwrap();
    let selected = join_soon(waiting).unwrap();
    assert_eq!((selected.index, selected.message.mtype()), (0, 3));
    assert_eq!(s.a.try_recv().unwrap().mtype(), 2);
    assert_eq!(s.worker.try_recv_any().unwrap().sender, s.peer.pid());
}

#[test]
fn a_select_takes_from_a_waiting_rendezvous_sender_and_the_sender_learns_who() {
    let node = InprocNode::new();
    let worker = node.process();
    let quiet = worker.mailbox("quiet").create().unwrap();
    let meet = worker
        .mailbox("meet")
        .capacity(Capacity::Zero)
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .create()
        .unwrap();
    let peer = node.process();
    let peer_meet = peer.mailbox("meet").open().unwrap();
    let sender = thread::spawn(move || (peer_meet.send("meet me"), peer_meet, peer));
    wait_blocked_senders(&meet, 1);

    let mut select = Select::new();
    select.recv(&quiet, Selector::Any);
    select.recv(&meet, Selector::Any);
    let selected = select.wait().unwrap();
    assert_eq!(
        (selected.index, selected.message.payload().as_ref()),
        (1, &b"meet me"[..])
    );
    let (sent, _, _) = join_soon(sender);
    assert_eq!(sent.unwrap().receiver, Some(worker.pid()));
}

#[test]
fn a_waiting_select_fails_with_gone_naming_the_deleted_branch() {
    let s = setup();
    let select = select_all(&s);
    let waiting = thread::spawn(move || select.wait());
    wait_select_blocked(&s);
    s.b.delete().unwrap();
    let error = join_soon(waiting).unwrap_err();
    assert_eq!((error.branch, error.error), (1, RecvError::Gone));
    assert_eq!(stat(&s.a).blocked_receivers, 0);
}

#[test]
fn an_empty_select_fails_with_empty_instead_of_waiting_forever() {
    let select = Select::new();
    assert_eq!(select.wait().unwrap_err().error, RecvError::Empty);
    assert_eq!(
        select.wait_timeout(SHORT).unwrap_err().error,
        RecvError::Empty
    );
}

#[test]
#[should_panic(expected = "same process")]
fn branches_of_different_processes_cannot_be_mixed() {
    let s = setup();
    let mut select = Select::new();
    select.recv(&s.a, Selector::Any);
    select.recv(&s.peer_b, Selector::Any);
}

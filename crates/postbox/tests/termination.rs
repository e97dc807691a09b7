//! Termination: dropping a `Process` handle terminates the process, and nobody waits forever on
//! it. Threads blocked on it — in `recv_from`, in a send to or receive from one of its mailboxes,
//! in a receipted send to it — wake at once with `PeerGone` or `Gone`; monitors get a down
//! notification; handles of the dropped process fail with `Disconnected`, including operations
//! already waiting on other threads.

mod common;

use std::sync::Arc;
use std::thread;

use common::{inbox_len, join_soon, stat, wait_blocked_receivers, wait_blocked_senders};
use postbox::{
    AdminError, Capacity, Dispatch, InprocNode, Limits, Message, MessageKind, Ownership, Process,
    Receivers, RecvError, Select, Selector, SendErrorKind,
};

/// Creates `name` owned by `owner` (dies with it) that other processes of this uid may open,
/// send to and receive from.
fn owned_shared(owner: &Process, name: &str, capacity: Capacity) -> postbox::Mailbox {
    owner
        .mailbox(name)
        .capacity(capacity)
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .create()
        .expect("create")
}

#[test]
fn a_thread_blocked_in_recv_from_gets_peer_gone_when_the_peer_is_dropped() {
    let node = InprocNode::new();
    let waiter = node.process();
    let doomed = node.process();
    let (waiter_pid, doomed_pid) = (waiter.pid(), doomed.pid());
    let blocked = thread::spawn(move || (waiter.recv_from(doomed_pid), waiter));
    common::wait_waiting(&doomed, waiter_pid, 1);

    drop(doomed);
    let (result, waiter) = join_soon(blocked);
    assert_eq!(result.unwrap_err(), RecvError::PeerGone);
    // And later: no waiting at all.
    assert_eq!(
        waiter.recv_from(doomed_pid).unwrap_err(),
        RecvError::PeerGone
    );
}

#[test]
fn recv_from_a_dropped_peer_still_delivers_what_it_sent_first() {
    let node = InprocNode::new();
    let waiter = node.process();
    let doomed = node.process();
    let doomed_pid = doomed.pid();
    doomed.send_to(waiter.pid(), "last words").unwrap();
    drop(doomed);
    let got = waiter.recv_from(doomed_pid).unwrap();
    assert_eq!(got.payload().as_ref(), b"last words");
    assert_eq!(
        waiter.recv_from(doomed_pid).unwrap_err(),
        RecvError::PeerGone
    );
    assert_eq!(
        waiter.try_recv_from(doomed_pid).unwrap_err(),
        RecvError::PeerGone
    );
}

#[test]
fn a_rendezvous_send_to_a_mailbox_of_the_dropped_process_gets_gone_and_the_message_back() {
    let node = InprocNode::new();
    let doomed = node.process();
    let meet = owned_shared(&doomed, "meet", Capacity::Zero);
    let sender = node.process();
    let theirs = sender.mailbox("meet").open().unwrap();
    let blocked = thread::spawn(move || (theirs.send("hello?"), theirs, sender));
    wait_blocked_senders(&meet, 1);

    drop(meet);
    drop(doomed);
    let (result, theirs, _sender) = join_soon(blocked);
    let error = result.unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::Gone);
    assert_eq!(error.into_message().unwrap().payload.as_ref(), b"hello?");
    // Later operations on the surviving sender's handle: Gone too.
    assert_eq!(
        theirs.try_send("again").unwrap_err().kind(),
        SendErrorKind::Gone
    );
    assert_eq!(theirs.stat().unwrap_err(), AdminError::Gone);
}

#[test]
fn a_send_blocked_on_a_full_mailbox_of_the_dropped_process_gets_gone() {
    let node = InprocNode::new();
    let doomed = node.process();
    let full = owned_shared(&doomed, "full", Capacity::bounded(1, 1024));
    full.send("occupant").unwrap();
    let sender = node.process();
    let theirs = sender.mailbox("full").open().unwrap();
    let blocked = thread::spawn(move || (theirs.send("waiting"), theirs, sender));
    wait_blocked_senders(&full, 1);

    drop(doomed);
    let (result, _theirs, _sender) = join_soon(blocked);
    let error = result.unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::Gone);
    assert_eq!(error.into_message().unwrap().payload.as_ref(), b"waiting");
    drop(full);
}

#[test]
fn a_thread_blocked_in_send_to_with_receipt_gets_peer_gone_and_the_message_back() {
    let node = InprocNode::new();
    let doomed = node.process();
    let doomed_pid = doomed.pid();
    let sender = node.process();
    let sender_pid = sender.pid();
    let blocked = thread::spawn(move || {
        (
            sender.send_to_with_receipt(doomed_pid, "sign, please"),
            sender,
        )
    });
    common::wait_waiting(&doomed, sender_pid, 1);
    assert_eq!(inbox_len(&doomed, doomed_pid), 1);

    drop(doomed);
    let (result, sender) = join_soon(blocked);
    let error = result.unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::PeerGone);
    assert_eq!(
        error.into_message().unwrap().payload.as_ref(),
        b"sign, please"
    );
    let later = sender.send_to(doomed_pid, "anyone?").unwrap_err();
    assert_eq!(later.kind(), SendErrorKind::PeerGone);
    assert_eq!(later.into_message().unwrap().payload.as_ref(), b"anyone?");
}

#[test]
fn a_thread_blocked_on_a_full_inbox_of_the_dropped_process_gets_peer_gone() {
    let node = InprocNode::with_limits(Limits {
        inbox_capacity: 1,
        ..Limits::default()
    });
    let doomed = node.process();
    let doomed_pid = doomed.pid();
    let sender = node.process();
    let sender_pid = sender.pid();
    sender.send_to(doomed_pid, "fills it").unwrap();
    let blocked = thread::spawn(move || (sender.send_to(doomed_pid, "waits"), sender));
    common::wait_waiting(&doomed, sender_pid, 1);

    drop(doomed);
    let (result, _sender) = join_soon(blocked);
    let error = result.unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::PeerGone);
    assert_eq!(error.into_message().unwrap().payload.as_ref(), b"waits");
}

#[test]
fn a_thread_blocked_in_recv_on_a_mailbox_of_the_dropped_process_gets_gone() {
    let node = InprocNode::new();
    let doomed = node.process();
    let jobs = doomed.mailbox("jobs").create().unwrap();
    let receiver = node.process();
    jobs.grant_receive(receiver.pid()).unwrap();
    let theirs = receiver.mailbox("jobs").open().unwrap();
    let blocked = thread::spawn(move || (theirs.recv(), theirs, receiver));
    wait_blocked_receivers(&jobs, 1);

    drop(doomed);
    let (result, theirs, _receiver) = join_soon(blocked);
    assert_eq!(result.unwrap_err(), RecvError::Gone);
    assert_eq!(theirs.try_recv().unwrap_err(), RecvError::Gone);
    drop(jobs);
}

#[test]
fn a_thread_blocked_in_select_on_a_mailbox_of_the_dropped_process_gets_gone_for_that_branch() {
    let node = InprocNode::new();
    let doomed = node.process();
    let _doomed_box = owned_shared(&doomed, "doomed-box", Capacity::Unbounded);
    let survivor = node.process();
    let survivor_pid = survivor.pid();
    let own = survivor.mailbox("own").create().unwrap();
    let theirs = survivor.mailbox("doomed-box").open().unwrap();
    let blocked = thread::spawn(move || {
        let mut select = Select::new();
        select.recv(&own, Selector::Any);
        select.recv(&theirs, Selector::Any);
        let result = select.wait();
        (result, own, theirs, survivor)
    });
    common::wait_waiting(&doomed, survivor_pid, 1);

    drop(doomed);
    let (result, own, _theirs, _survivor) = join_soon(blocked);
    let error = result.unwrap_err();
    assert_eq!((error.branch, error.error), (1, RecvError::Gone));
    assert_eq!(
        stat(&own).blocked_receivers,
        0,
        "withdrawn from every branch"
    );
}

#[test]
fn a_monitor_blocked_in_recv_any_gets_the_down_notification_after_the_last_message() {
    let node = InprocNode::new();
    let watcher = node.process();
    let doomed = node.process();
    let (watcher_pid, doomed_pid) = (watcher.pid(), doomed.pid());
    watcher.monitor(doomed_pid).unwrap();
    doomed.send_to(watcher_pid, "before I go").unwrap();
    let first = watcher.recv_any().unwrap();
    assert_eq!(first.kind, MessageKind::User);

    let blocked = thread::spawn(move || (watcher.recv_any(), watcher));
    common::wait_waiting(&doomed, watcher_pid, 1);
    drop(doomed);
    let (result, watcher) = join_soon(blocked);
    let down = result.unwrap();
    assert!(down.is_down());
    assert_eq!(down.sender, doomed_pid);
    assert_eq!(
        watcher.try_recv_any().unwrap_err(),
        RecvError::Empty,
        "exactly one down"
    );
}

#[test]
fn down_notification_comes_after_every_message_the_dead_process_sent() {
    let node = InprocNode::new();
    let watcher = node.process();
    let doomed = node.process();
    let doomed_pid = doomed.pid();
    watcher.monitor(doomed_pid).unwrap();
    for i in 0..3 {
        doomed.send_to(watcher.pid(), format!("{i}")).unwrap();
    }
    drop(doomed);
    let kinds: Vec<_> = (0..4)
        .map(|_| watcher.recv_from(doomed_pid).unwrap().kind)
        .collect();
    assert_eq!(
        kinds,
        [
            MessageKind::User,
            MessageKind::User,
            MessageKind::User,
            MessageKind::Down
        ]
    );
    assert_eq!(
        watcher.recv_from(doomed_pid).unwrap_err(),
        RecvError::PeerGone
    );
}

#[test]
fn several_threads_blocked_on_one_process_all_wake_when_it_is_dropped() {
    let node = InprocNode::new();
    let doomed = node.process();
    let doomed_pid = doomed.pid();
    let meet = owned_shared(&doomed, "meet", Capacity::Zero);
    let jobs = owned_shared(&doomed, "jobs", Capacity::Unbounded);
    let mut from_waiters = Vec::new();
    for _ in 0..3 {
        let waiter = node.process();
        from_waiters.push(thread::spawn(move || {
            (waiter.recv_from(doomed_pid), waiter)
        }));
    }
    let sender = node.process();
    let their_meet = sender.mailbox("meet").open().unwrap();
    let rendezvous = thread::spawn(move || (their_meet.send("x").map(|_| ()), sender));
    let receiver = node.process();
    let their_jobs = receiver.mailbox("jobs").open().unwrap();
    let recv = thread::spawn(move || (their_jobs.recv().map(|_| ()), receiver));
    wait_blocked_senders(&meet, 1);
    wait_blocked_receivers(&jobs, 1);
    common::spin_until("the recv_from waiters block", || {
        doomed
            .list_processes()
            .expect("list processes")
            .iter()
            .filter(|info| info.waiting == 1)
            .count()
            == 5
    });

    drop((meet, jobs, doomed));
    for waiter in from_waiters {
        assert_eq!(join_soon(waiter).0.unwrap_err(), RecvError::PeerGone);
    }
    assert_eq!(
        join_soon(rendezvous).0.unwrap_err().kind(),
        SendErrorKind::Gone
    );
    assert_eq!(join_soon(recv).0.unwrap_err(), RecvError::Gone);
}

#[test]
fn handles_of_a_dropped_process_fail_with_disconnected() {
    let node = InprocNode::new();
    let doomed = node.process();
    let owner = node.process();
    // A system-owned mailbox outlives the dropped process; only its handle goes dead.
    let lasting = owner
        .mailbox("lasting")
        .ownership(Ownership::System)
        .create()
        .unwrap();
    let handle = doomed.mailbox("lasting").open().unwrap();
    let own = doomed.mailbox("own").create().unwrap();
    drop(doomed);

    for mailbox in [&handle, &own] {
        let error = mailbox.send("into the void").unwrap_err();
        assert_eq!(error.kind(), SendErrorKind::Disconnected);
        assert_eq!(
            error.into_message().unwrap().payload.as_ref(),
            b"into the void"
        );
        assert_eq!(
            mailbox.try_send("x").unwrap_err().kind(),
            SendErrorKind::Disconnected
        );
        assert_eq!(mailbox.recv().unwrap_err(), RecvError::Disconnected);
        assert_eq!(mailbox.try_recv().unwrap_err(), RecvError::Disconnected);
        assert_eq!(mailbox.stat().unwrap_err(), AdminError::Disconnected);
        let error = pollster::block_on(mailbox.send_async("async")).unwrap_err();
        assert_eq!(error.kind(), SendErrorKind::Disconnected);
        let error = pollster::block_on(mailbox.recv_async()).unwrap_err();
        assert_eq!(error, RecvError::Disconnected);
    }
    // The system-owned mailbox itself lives on for everyone else.
    lasting.send(Message::new("still here")).unwrap();
    assert_eq!(lasting.recv().unwrap().payload().as_ref(), b"still here");
}

#[test]
fn a_recv_waiting_on_a_handle_of_the_dropped_process_wakes_with_disconnected() {
    let node = InprocNode::new();
    let owner = node.process();
    let lasting = owner
        .mailbox("lasting")
        .ownership(Ownership::System)
        .create()
        .unwrap();
    let doomed = node.process();
    let handle = doomed.mailbox("lasting").open().unwrap();
    let blocked = thread::spawn(move || handle.recv());
    wait_blocked_receivers(&lasting, 1);

    drop(doomed);
    assert_eq!(join_soon(blocked).unwrap_err(), RecvError::Disconnected);
    assert_eq!(stat(&lasting).blocked_receivers, 0);
    // The withdrawn receive took nothing.
    lasting.send("kept").unwrap();
    assert_eq!(lasting.try_recv().unwrap().payload().as_ref(), b"kept");
}

#[test]
fn a_send_waiting_on_a_handle_of_the_dropped_process_wakes_with_disconnected() {
    let node = InprocNode::new();
    let owner = node.process();
    let meet = owner
        .mailbox("meet")
        .capacity(Capacity::Zero)
        .ownership(Ownership::System)
        .create()
        .unwrap();
    let doomed = node.process();
    let handle = doomed.mailbox("meet").open().unwrap();
    let blocked = thread::spawn(move || handle.send("never taken").map(|_| ()));
    wait_blocked_senders(&meet, 1);

    drop(doomed);
    let error = join_soon(blocked).unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::Disconnected);
    assert_eq!(
        error.into_message().unwrap().payload.as_ref(),
        b"never taken"
    );
    assert_eq!(stat(&meet).blocked_senders, 0);
    assert_eq!(
        meet.try_recv().unwrap_err(),
        RecvError::Empty,
        "never delivered"
    );
}

#[test]
fn a_receipt_send_waiting_on_a_handle_of_the_dropped_process_is_withdrawn() {
    let node = InprocNode::new();
    let owner = node.process();
    let lasting = owner
        .mailbox("lasting")
        .capacity(Capacity::Unbounded)
        .ownership(Ownership::System)
        .create()
        .unwrap();
    let doomed = node.process();
    let handle = doomed.mailbox("lasting").open().unwrap();
    let blocked = thread::spawn(move || handle.send_with_receipt("unsigned"));
    common::spin_until("the receipt message is queued", || {
        stat(&lasting).messages == 1
    });

    drop(doomed);
    let error = join_soon(blocked).unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::Disconnected);
    assert_eq!(error.into_message().unwrap().payload.as_ref(), b"unsigned");
    assert_eq!(
        lasting.try_recv().unwrap_err(),
        RecvError::Empty,
        "withdrawn"
    );
}

#[test]
fn a_pending_async_send_on_a_handle_of_the_dropped_process_resolves_with_disconnected() {
    let node = InprocNode::new();
    let owner = node.process();
    let meet = owner
        .mailbox("meet")
        .capacity(Capacity::Zero)
        .ownership(Ownership::System)
        .create()
        .unwrap();
    let doomed = node.process();
    let handle = doomed.mailbox("meet").open().unwrap();
    let blocked = thread::spawn(move || pollster::block_on(handle.send_async("async")).map(|_| ()));
    wait_blocked_senders(&meet, 1);

    drop(doomed);
    let error = join_soon(blocked).unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::Disconnected);
    assert_eq!(error.into_message().unwrap().payload.as_ref(), b"async");
    assert_eq!(meet.try_recv().unwrap_err(), RecvError::Empty);
}

#[test]
fn a_timed_wait_on_a_handle_of_the_dropped_process_wakes_with_disconnected() {
    let node = InprocNode::new();
    let owner = node.process();
    let lasting = owner
        .mailbox("lasting")
        .ownership(Ownership::System)
        .create()
        .unwrap();
    let doomed = node.process();
    let handle = doomed.mailbox("lasting").open().unwrap();
    let blocked = thread::spawn(move || handle.recv_timeout(common::PATIENCE * 100));
    wait_blocked_receivers(&lasting, 1);
    drop(doomed);
    assert_eq!(join_soon(blocked).unwrap_err(), RecvError::Disconnected);
}

#[test]
fn a_select_on_the_inbox_of_the_dropped_process_wakes_with_disconnected() {
    let node = InprocNode::new();
    let doomed = node.process();
    let doomed_pid = doomed.pid();
    let observer = node.process();
    let mut select = Select::new();
    select.inbox(&doomed, Selector::Any);
    let blocked = thread::spawn(move || select.wait().map(|_| ()));
    common::wait_waiting(&observer, doomed_pid, 1);
    drop(doomed);
    let error = join_soon(blocked).unwrap_err();
    assert_eq!(error.error, RecvError::Disconnected);
}

#[test]
fn a_pending_async_recv_on_a_handle_of_the_dropped_process_resolves_with_disconnected() {
    let node = InprocNode::new();
    let owner = node.process();
    let lasting = owner
        .mailbox("lasting")
        .ownership(Ownership::System)
        .create()
        .unwrap();
    let doomed = node.process();
    let handle = Arc::new(doomed.mailbox("lasting").open().unwrap());
    let blocked = {
        let handle = handle.clone();
        thread::spawn(move || pollster::block_on(handle.recv_async()))
    };
    wait_blocked_receivers(&lasting, 1);
    drop(doomed);
    assert_eq!(join_soon(blocked).unwrap_err(), RecvError::Disconnected);
}

//! Termination: dropping a `Process` terminates it. Its process-owned mailboxes go (`Gone`),
//! whoever waits on it is told (`PeerGone`), monitors get a down notification, its own leftover
//! handles answer `Disconnected` — and nobody waits forever on a dead peer.

use std::time::Duration;

use postbox::{
    AdminError, Capacity, Dispatch, Message, OpenError, Ownership, Pid, Receivers, RecvError,
    Selector, SendErrorKind,
};

use crate::Transport;
use crate::support::{
    LONG, assert_handed_back, await_blocked_receivers, await_blocked_senders, await_waiting, texts,
    typed,
};

/// The owner's termination deletes its process-owned mailboxes: later operations get `Gone` and
/// the name is free.
pub fn the_owners_termination_deletes_its_mailboxes<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let _mine = owner.mailbox("ephemeral").create().expect("create");
    let theirs = peer.mailbox("ephemeral").open().expect("open");
    theirs.send("lost with it").expect("send");
    drop(owner);
    let error = theirs.try_send("late").unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::Gone);
    assert_eq!(error.into_message(), Some(Message::new("late")));
    assert_eq!(theirs.try_recv().unwrap_err(), RecvError::Gone);
    assert_eq!(theirs.stat().unwrap_err(), AdminError::Gone);
    assert_eq!(
        peer.mailbox("ephemeral").open().unwrap_err(),
        OpenError::NotFound
    );
    peer.mailbox("ephemeral")
        .create()
        .expect("the name is free");
}

/// The owner's termination wakes the waiters on its mailboxes with `Gone`, senders with their
/// message back.
pub fn the_owners_termination_wakes_waiters_with_gone<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let mine = owner
        .mailbox("ephemeral")
        .capacity(Capacity::bounded(1, 1024))
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .create()
        .expect("create");
    let theirs = peer.mailbox("ephemeral").open().expect("open");
    mine.send(typed("filler", 1)).expect("send");
    std::thread::scope(|s| {
        let receiver = s.spawn(|| theirs.recv_matching_timeout(Selector::Type(2), LONG));
        await_blocked_receivers(&mine, 1);
        let sender = s.spawn(|| theirs.send_timeout(typed("waits", 3), LONG));
        await_blocked_senders(&mine, 1);
        drop(owner);
        assert_eq!(
            receiver.join().expect("receiver").unwrap_err(),
            RecvError::Gone
        );
        let error = sender.join().expect("sender").unwrap_err();
        assert_eq!(error.kind(), SendErrorKind::Gone);
        assert_eq!(error.into_message(), Some(typed("waits", 3)));
    });
}

/// A system-owned mailbox outlives its creator, messages and all.
pub fn system_owned_mailboxes_outlive_their_creator<T: Transport>(t: &T) {
    let creator = t.process();
    let later = t.process();
    let mailbox = creator
        .mailbox("durable")
        .ownership(Ownership::System)
        .create()
        .expect("create");
    mailbox.send("still here").expect("send");
    drop(mailbox);
    drop(creator);
    let opened = later
        .mailbox("durable")
        .open()
        .expect("it outlives its creator");
    assert_eq!(
        opened.recv().expect("recv").payload().as_ref(),
        b"still here"
    );
}

/// A `recv_from(P)` waiting when P terminates gets `PeerGone` at once.
pub fn a_waiting_recv_from_gets_peer_gone<T: Transport>(t: &T) {
    let r = t.process();
    let doomed = t.process();
    let gone = doomed.pid();
    std::thread::scope(|s| {
        let receiver = s.spawn(|| r.recv_from_timeout(gone, LONG));
        await_waiting(&doomed, r.pid(), 1);
        drop(doomed);
        assert_eq!(
            receiver.join().expect("receiver").unwrap_err(),
            RecvError::PeerGone
        );
    });
}

/// A rendezvous with P (`send_to_with_receipt`) waiting when P terminates gets `PeerGone`, its
/// message back.
pub fn a_waiting_receipt_send_to_gets_peer_gone<T: Transport>(t: &T) {
    let s = t.process();
    let doomed = t.process();
    let gone = doomed.pid();
    std::thread::scope(|scope| {
        let sender = scope.spawn(|| s.send_to_with_receipt_timeout(gone, "unread", LONG));
        await_waiting(&doomed, s.pid(), 1);
        drop(doomed);
        let error = sender.join().expect("sender").unwrap_err();
        assert_eq!(error.kind(), SendErrorKind::PeerGone);
        assert_eq!(error.into_message(), Some(Message::new("unread")));
    });
}

/// A rendezvous send into P's zero-capacity mailbox, waiting when P terminates, gets `Gone`
/// (the mailbox went with P) and its message back.
pub fn a_waiting_rendezvous_into_a_dying_owners_mailbox_is_gone<T: Transport>(t: &T) {
    let owner = t.process();
    let s = t.process();
    let mine = owner
        .mailbox("meet")
        .capacity(Capacity::Zero)
        .create()
        .expect("create");
    let theirs = s.mailbox("meet").open().expect("open");
    std::thread::scope(|scope| {
        let sender = scope.spawn(|| theirs.send_timeout("unmet", LONG));
        await_blocked_senders(&mine, 1);
        drop(mine);
        drop(owner);
        let error = sender.join().expect("sender").unwrap_err();
        assert_eq!(error.kind(), SendErrorKind::Gone);
        assert_eq!(error.into_message(), Some(Message::new("unmet")));
    });
}

/// `monitor(P)`: when P terminates, a down notification naming P arrives in the inbox, after
/// every message P sent; then `recv_from(P)` fails with `PeerGone`.
pub fn monitors_get_a_down_notification_after_the_messages<T: Transport>(t: &T) {
    let watcher = t.process();
    let doomed = t.process();
    let gone = doomed.pid();
    watcher.monitor(gone).expect("monitor");
    doomed
        .send_to(watcher.pid(), "last words")
        .expect("send_to");
    drop(doomed);
    let first = watcher.recv_any().expect("recv");
    assert_eq!(
        (first.payload().as_ref(), first.is_down()),
        (&b"last words"[..], false)
    );
    let down = watcher.recv_any().expect("down");
    assert!(down.is_down());
    assert_eq!(down.kind, postbox::MessageKind::Down);
    assert_eq!(down.sender, gone);
    assert_eq!(watcher.recv_from(gone).unwrap_err(), RecvError::PeerGone);
}

/// A monitor waiting in `recv_from(P)` is woken by the down notification itself.
pub fn the_down_notification_wakes_a_waiting_recv_from<T: Transport>(t: &T) {
    let watcher = t.process();
    let doomed = t.process();
    let gone = doomed.pid();
    watcher.monitor(gone).expect("monitor");
    std::thread::scope(|s| {
        let receiver = s.spawn(|| watcher.recv_from_timeout(gone, LONG));
        await_waiting(&doomed, watcher.pid(), 1);
        drop(doomed);
        let down = receiver
            .join()
            .expect("receiver")
            .expect("the down notification");
        assert!(down.is_down());
        assert_eq!(down.sender, gone);
    });
}

/// Monitoring a process that has already terminated notifies at once; monitoring a pid that
/// never existed fails with `NotFound`; `demonitor` cancels the notification.
pub fn monitor_edge_cases<T: Transport>(t: &T) {
    let watcher = t.process();
    let early = t.process();
    let gone = early.pid();
    drop(early);
    watcher.monitor(gone).expect("monitor");
    let down = watcher.try_recv_any().expect("at once");
    assert!(down.is_down() && down.sender == gone);

    assert_eq!(
        watcher.monitor(Pid::from_raw(u64::MAX)).unwrap_err(),
        AdminError::NotFound
    );

    let quiet = t.process();
    watcher.monitor(quiet.pid()).expect("monitor");
    watcher.demonitor(quiet.pid()).expect("demonitor");
    drop(quiet);
    assert_eq!(watcher.try_recv_any().unwrap_err(), RecvError::Empty);
}

/// Every monitor of P gets its own down notification.
pub fn every_monitor_is_notified<T: Transport>(t: &T) {
    let watchers: Vec<_> = (0..3).map(|_| t.process()).collect();
    let doomed = t.process();
    let gone = doomed.pid();
    for w in &watchers {
        w.monitor(gone).expect("monitor");
    }
    drop(doomed);
    for w in &watchers {
        let down = w.try_recv_any().expect("down");
        assert!(down.is_down() && down.sender == gone);
    }
}

/// Handles that outlive their process answer `Disconnected`; a failed send hands the message
/// back where the transport can (see `assert_handed_back`).
pub fn handles_outliving_their_process_are_disconnected<T: Transport>(t: &T) {
    let p = t.process();
    let observer = t.process();
    let mailbox = p
        .mailbox("orphaned")
        .ownership(Ownership::System)
        .create()
        .expect("create");
    drop(p);
    let error = mailbox.try_send("nobody sends this").unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::Disconnected);
    assert_handed_back(error, &Message::new("nobody sends this"));
    assert_eq!(mailbox.try_recv().unwrap_err(), RecvError::Disconnected);
    assert_eq!(
        mailbox.recv().unwrap_err(),
        RecvError::Disconnected,
        "does not wait"
    );
    assert_eq!(mailbox.stat().unwrap_err(), AdminError::Disconnected);
    assert_eq!(mailbox.delete().unwrap_err(), AdminError::Disconnected);
    let alive = observer
        .mailbox("orphaned")
        .open()
        .expect("the mailbox itself lives on");
    assert_eq!(
        alive.stat().expect("stat").openers,
        1,
        "the dead process's handle is closed"
    );
}

/// Operations still waiting through a process's handles when the process is dropped (on other
/// threads) fail with `Disconnected` instead of waiting forever — even those with a timeout.
pub fn waiting_operations_of_a_terminated_process_are_disconnected<T: Transport>(t: &T) {
    let owner = t.process();
    let doomed = t.process();
    let full = owner
        .mailbox("full")
        .capacity(Capacity::bounded(1, 1024))
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .create()
        .expect("create");
    full.send(typed("filler", 1)).expect("send");
    let quiet = owner
        .mailbox("quiet")
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .create()
        .expect("create");
    let sending = doomed.mailbox("full").open().expect("open");
    let receiving = doomed.mailbox("quiet").open().expect("open");
    // Plain threads, not scoped ones: if the contract is broken they stay blocked, and the case
    // must fail rather than hang.
    let (send_done, send_result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let patient = Duration::from_secs(3600);
        let _ = send_done.send(sending.send_timeout(typed("stranded", 2), patient));
    });
    await_blocked_senders(&full, 1);
    let (recv_done, recv_result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = recv_done.send(receiving.recv());
    });
    await_blocked_receivers(&quiet, 1);
    drop(doomed);
    let patience = Duration::from_secs(20);
    let error = send_result
        .recv_timeout(patience)
        .expect("the send is woken")
        .unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::Disconnected);
    assert_handed_back(error, &typed("stranded", 2));
    let error = recv_result
        .recv_timeout(patience)
        .expect("the receive is woken")
        .unwrap_err();
    assert_eq!(error, RecvError::Disconnected);
    let stats = full.stat().expect("stat");
    assert_eq!(
        (stats.messages, stats.blocked_senders),
        (1, 0),
        "the send was not delivered"
    );
    assert_eq!(quiet.stat().expect("stat").blocked_receivers, 0);
}

/// The process list shows live processes only, with their uid, inbox and owned mailboxes.
pub fn the_process_list_tracks_live_processes<T: Transport>(t: &T) {
    let observer = t.process();
    let busy = t.process();
    let doomed = t.process();
    let _a = busy.mailbox("a").create().expect("create");
    let _b = busy.mailbox("b").create().expect("create");
    doomed.send_to(busy.pid(), "hi").expect("send_to");
    let processes = || crate::support::whole_stats(t, &observer).processes;
    let before = processes();
    let pids: Vec<Pid> = observer
        .list_processes()
        .expect("list processes")
        .iter()
        .map(|i| i.pid)
        .collect();
    assert!(pids.windows(2).all(|w| w[0] < w[1]), "listed by pid");
    assert!(
        [observer.pid(), busy.pid(), doomed.pid()]
            .iter()
            .all(|p| pids.contains(p))
    );
    let info = observer
        .list_processes()
        .expect("list processes")
        .into_iter()
        .find(|i| i.pid == busy.pid())
        .expect("listed");
    assert_eq!(
        (info.inbox_messages, info.owned_mailboxes, info.waiting),
        (1, 2, 0)
    );
    let gone = doomed.pid();
    drop(doomed);
    assert!(
        observer
            .list_processes()
            .expect("list processes")
            .iter()
            .all(|i| i.pid != gone)
    );
    assert_eq!(processes(), before - 1);
    assert_eq!(
        texts([busy.recv_any().expect("delivered after death")]),
        ["hi"]
    );
}

/// A down notification is never lost: it arrives even in a full inbox.
pub fn a_down_notification_is_never_lost<T: Transport>(t: &T) {
    let capacity = t.limits().inbox_capacity;
    if capacity > 100_000 {
        crate::support::skip(
            t,
            "termination::a_down_notification_is_never_lost",
            "the inbox capacity is too large to fill",
        );
        return;
    }
    let watcher = t.process();
    let doomed = t.process();
    let gone = doomed.pid();
    watcher.monitor(gone).expect("monitor");
    for _ in 0..capacity {
        doomed.try_send_to(watcher.pid(), "filler").expect("room");
    }
    assert_eq!(
        doomed
            .try_send_to(watcher.pid(), "over")
            .unwrap_err()
            .kind(),
        SendErrorKind::Full
    );
    drop(doomed);
    for _ in 0..capacity {
        assert!(!watcher.try_recv_any().expect("filler").is_down());
    }
    let down = watcher.try_recv_any().expect("the down notification");
    assert!(down.is_down() && down.sender == gone);
}

//! Direct messaging: `send_to(pid)`, `recv_any`, `recv_from(pid)` and typed receive on the
//! inbox; the inbox's bound; receipts; unknown and terminated pids; registered names.

use postbox::{AdminError, Message, Pid, RecvError, Selector, SendErrorKind};

use crate::Transport;
use crate::support::{SHORT, await_waiting, skip, texts, typed, wait_until};

/// Inbox capacities above this are not filled by the cases (they would only be slow).
const MAX_INBOX_TO_FILL: usize = 100_000;

/// `send_to` reaches the inbox; `recv_any` returns messages oldest first, naming each sender.
pub fn send_to_reaches_recv_any<T: Transport>(t: &T) {
    let x = t.process();
    let y = t.process();
    let r = t.process();
    x.send_to(r.pid(), "x1").expect("send_to");
    y.send_to(r.pid(), "y1").expect("send_to");
    x.send_to(r.pid(), "x2").expect("send_to");
    let got: Vec<_> = (0..3).map(|_| r.recv_any().expect("recv_any")).collect();
    let senders: Vec<Pid> = got.iter().map(|m| m.sender).collect();
    assert_eq!(senders, [x.pid(), y.pid(), x.pid()]);
    assert_eq!(texts(got), ["x1", "y1", "x2"]);
    assert_eq!(r.try_recv_any().unwrap_err(), RecvError::Empty);
    assert_eq!(r.recv_any_timeout(SHORT).unwrap_err(), RecvError::Timeout);
}

/// A process may send to itself.
pub fn a_process_may_send_to_itself<T: Transport>(t: &T) {
    let p = t.process();
    p.send_to(p.pid(), "note to self").expect("send_to");
    let got = p.recv_from(p.pid()).expect("recv_from");
    assert_eq!(
        (got.payload().as_ref(), got.sender),
        (&b"note to self"[..], p.pid())
    );
}

/// `recv_from(pid)` takes that sender's oldest message, however many others are queued before it.
pub fn recv_from_takes_only_that_senders_messages<T: Transport>(t: &T) {
    let x = t.process();
    let y = t.process();
    let r = t.process();
    for i in 0..50 {
        x.send_to(r.pid(), format!("x{i}")).expect("send_to");
    }
    y.send_to(r.pid(), "y1").expect("send_to");
    x.send_to(r.pid(), "x50").expect("send_to");
    y.send_to(r.pid(), "y2").expect("send_to");
    assert_eq!(
        r.recv_from(y.pid()).expect("recv_from").payload().as_ref(),
        b"y1"
    );
    assert_eq!(
        r.try_recv_from(y.pid())
            .expect("recv_from")
            .payload()
            .as_ref(),
        b"y2"
    );
    assert_eq!(r.try_recv_from(y.pid()).unwrap_err(), RecvError::Empty);
    assert_eq!(
        r.recv_from_timeout(y.pid(), SHORT).unwrap_err(),
        RecvError::Timeout
    );
    assert_eq!(r.recv_any().expect("recv_any").payload().as_ref(), b"x0");
}

/// Typed selective receive works on the inbox as on a mailbox.
pub fn inbox_supports_typed_receive<T: Transport>(t: &T) {
    let s = t.process();
    let r = t.process();
    for (text, mtype) in [("a", 4), ("b", 2), ("c", 1), ("d", 2)] {
        s.send_to(r.pid(), typed(text, mtype)).expect("send_to");
    }
    let take = |selector| {
        r.try_recv_matching(selector)
            .expect("match")
            .payload()
            .clone()
    };
    assert_eq!(take(Selector::Type(2)).as_ref(), b"b");
    assert_eq!(take(Selector::TypeAtMost(3)).as_ref(), b"c");
    assert_eq!(take(Selector::NotType(2)).as_ref(), b"a");
    assert_eq!(
        r.try_recv_matching(Selector::Type(9)).unwrap_err(),
        RecvError::Empty
    );
    assert_eq!(take(Selector::Any).as_ref(), b"d");
}

/// `send_to` a pid that never existed fails with `NotFound`; to a terminated one, `PeerGone`;
/// both hand the message back.
pub fn send_to_unknown_or_terminated_pids_fails<T: Transport>(t: &T) {
    let s = t.process();
    let error = s
        .send_to(Pid::from_raw(u64::MAX), typed("lost", 3))
        .unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::NotFound);
    assert_eq!(error.into_message(), Some(typed("lost", 3)));

    let doomed = t.process();
    let gone = doomed.pid();
    drop(doomed);
    for result in [
        s.send_to(gone, "late"),
        s.try_send_to(gone, "late"),
        s.send_to_timeout(gone, "late", SHORT),
        s.send_to_with_receipt(gone, "late"),
    ] {
        let error = result.unwrap_err();
        assert_eq!(error.kind(), SendErrorKind::PeerGone);
        assert_eq!(error.into_message(), Some(Message::new("late")));
    }
}

/// Messages a process sent before terminating are still delivered; after them `recv_from` that
/// process fails with `PeerGone` (the blocking form too), never waiting forever.
pub fn recv_from_a_terminated_peer_drains_then_is_peer_gone<T: Transport>(t: &T) {
    let r = t.process();
    let doomed = t.process();
    doomed.send_to(r.pid(), "one").expect("send_to");
    doomed.send_to(r.pid(), "two").expect("send_to");
    let gone = doomed.pid();
    drop(doomed);
    assert_eq!(
        r.recv_from(gone).expect("queued").payload().as_ref(),
        b"one"
    );
    assert_eq!(
        r.try_recv_from(gone).expect("queued").payload().as_ref(),
        b"two"
    );
    assert_eq!(r.try_recv_from(gone).unwrap_err(), RecvError::PeerGone);
    assert_eq!(r.recv_from(gone).unwrap_err(), RecvError::PeerGone);
    assert_eq!(
        r.recv_from_timeout(gone, SHORT).unwrap_err(),
        RecvError::PeerGone
    );
}

/// The inbox is bounded: once full, `try_send_to` fails with `Full` and `send_to_timeout` with
/// `Timeout`; a blocked `send_to` completes when the owner takes a message.
pub fn a_full_inbox_makes_senders_wait<T: Transport>(t: &T) {
    let capacity = t.limits().inbox_capacity;
    if capacity > MAX_INBOX_TO_FILL {
        skip(
            t,
            "direct::a_full_inbox_makes_senders_wait",
            "the inbox capacity is too large to fill",
        );
        return;
    }
    let s = t.process();
    let r = t.process();
    for i in 0..capacity {
        s.try_send_to(r.pid(), format!("{i}")).expect("room");
    }
    let error = s.try_send_to(r.pid(), "over").unwrap_err();
    assert_eq!(
        (error.kind(), error.message()),
        (SendErrorKind::Full, Some(&Message::new("over")))
    );
    let error = s.send_to_timeout(r.pid(), "over", SHORT).unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::Timeout);
    assert_eq!(error.into_message(), Some(Message::new("over")));
    std::thread::scope(|scope| {
        let sender = scope.spawn(|| s.send_to(r.pid(), "waited"));
        await_waiting(&r, s.pid(), 1);
        assert_eq!(r.recv_any().expect("recv").payload().as_ref(), b"0");
        sender.join().expect("sender").expect("send_to");
    });
    for i in 1..capacity {
        let got = r.try_recv_any().expect("recv");
        assert_eq!(got.payload().as_ref(), format!("{i}").as_bytes());
    }
    assert_eq!(
        r.try_recv_any().expect("recv").payload().as_ref(),
        b"waited"
    );
    assert_eq!(r.try_recv_any().unwrap_err(), RecvError::Empty);
}

/// `send_to_with_receipt` returns only once the receiver has taken the message.
pub fn receipt_send_to_waits_until_taken<T: Transport>(t: &T) {
    let s = t.process();
    let r = t.process();
    std::thread::scope(|scope| {
        let sender = scope.spawn(|| s.send_to_with_receipt(r.pid(), "signed"));
        await_waiting(&r, s.pid(), 1);
        wait_until("the message is in the inbox", || {
            r.list_processes()
                .expect("list processes")
                .iter()
                .any(|info| info.pid == r.pid() && info.inbox_messages == 1)
        });
        assert_eq!(r.recv_any().expect("recv").payload().as_ref(), b"signed");
        sender.join().expect("sender").expect("receipt");
    });
}

/// A receipted `send_to` that times out is withdrawn from the inbox and handed back.
pub fn receipt_send_to_timeout_withdraws_the_message<T: Transport>(t: &T) {
    let s = t.process();
    let r = t.process();
    let error = s
        .send_to_with_receipt_timeout(r.pid(), "withdrawn", SHORT)
        .unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::Timeout);
    assert_eq!(error.into_message(), Some(Message::new("withdrawn")));
    assert_eq!(r.try_recv_any().unwrap_err(), RecvError::Empty);
}

/// A process registers one unique name for its lifetime; `whereis` finds it; the name is free
/// again once the process terminates.
pub fn registered_names_find_live_processes<T: Transport>(t: &T) {
    let server = t.process();
    let other = t.process();
    assert_eq!(server.whereis("server").expect("whereis"), None);
    server.register("server").expect("register");
    assert_eq!(
        other.whereis("server").expect("whereis"),
        Some(server.pid())
    );
    assert_eq!(
        other.register("server").unwrap_err(),
        AdminError::AlreadyExists
    );
    assert_eq!(
        server.register("second").unwrap_err(),
        AdminError::AlreadyExists
    );
    assert_eq!(
        other.register("bad name").unwrap_err(),
        AdminError::InvalidName
    );
    assert_eq!(other.register("").unwrap_err(), AdminError::InvalidName);
    let listed = other.list_processes().expect("list processes");
    let info = listed
        .iter()
        .find(|i| i.pid == server.pid())
        .expect("listed");
    assert_eq!(info.name.as_deref(), Some("server"));
    drop(server);
    assert_eq!(other.whereis("server").expect("whereis"), None);
    other.register("server").expect("free again");
    assert_eq!(other.whereis("server").expect("whereis"), Some(other.pid()));
}

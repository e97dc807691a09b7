//! Broadcast mailboxes: every message to every member — each process that has received (or
//! tried to) from the mailbox and still has it open — with the bound applying per member.

use postbox::{
    CallErrorKind, Capacity, Mailbox, Overflow, Process, Receivers, RecvError, Selector,
    SendErrorKind, Sent,
};

use crate::Transport;
use crate::support::{LONG, await_blocked_senders, await_waiting, drain, texts, typed, waiting};

/// A broadcast mailbox "room" of `owner` with `capacity` and `overflow`.
fn room(owner: &Process, capacity: Capacity, overflow: Overflow) -> Mailbox {
    owner
        .mailbox("room")
        .receivers(Receivers::Broadcast)
        .capacity(capacity)
        .overflow(overflow)
        .create()
        .expect("create")
}

/// `process` opens "room" and joins it by trying to receive (nothing is there for it yet).
fn join(process: &Process) -> Mailbox {
    let handle = process.mailbox("room").open().expect("open");
    assert_eq!(handle.try_recv().unwrap_err(), RecvError::Empty);
    handle
}

fn text(message: postbox::Received) -> String {
    texts([message]).remove(0)
}

/// Three members each get every message, in order (by `recv` or `recv_many`).
pub fn three_members_each_get_every_message_in_order<T: Transport>(t: &T) {
    let publisher = t.process();
    let q = room(&publisher, Capacity::default(), Overflow::Block);
    let members = [t.process(), t.process(), t.process()];
    let handles: Vec<Mailbox> = members.iter().map(join).collect();
    for text in ["one", "two", "three"] {
        assert_eq!(q.send(text).expect("send"), Sent { receiver: None });
    }
    let batch = handles[0].try_recv_many(10).expect("recv_many");
    assert_eq!(
        texts(batch),
        ["one", "two", "three"],
        "recv_many takes this member's backlog"
    );
    for handle in &handles[1..] {
        assert_eq!(drain(handle), ["one", "two", "three"]);
    }
}

/// A process that joins sees only the messages sent after it joined; one that only sends is
/// no member.
pub fn a_broadcast_joiner_sees_only_later_messages<T: Transport>(t: &T) {
    let publisher = t.process();
    let q = room(&publisher, Capacity::bounded(1, 1024), Overflow::Block);
    let early = t.process();
    let early_handle = join(&early);
    q.send("before").expect("send");
    let late = t.process();
    let late_handle = join(&late);
    assert_eq!(drain(&early_handle), ["before"]);
    // The publisher never received, so its own backlog cannot fill: this does not wait.
    q.try_send("after").expect("try_send");
    assert_eq!(drain(&late_handle), ["after"]);
    assert_eq!(drain(&early_handle), ["after"]);
}

/// With no members a send succeeds; the message is dropped and counted.
pub fn a_broadcast_with_no_members_is_dropped_and_counted<T: Transport>(t: &T) {
    let publisher = t.process();
    let q = room(&publisher, Capacity::default(), Overflow::Block);
    q.try_send("nobody").expect("try_send");
    let stats = q.stat().expect("stat");
    assert_eq!((stats.messages, stats.total_sent, stats.dropped), (0, 1, 1));
}

/// A slow member's full backlog makes the sender wait (or `Full`) until it receives.
pub fn a_slow_member_blocks_the_broadcast_sender<T: Transport>(t: &T) {
    let publisher = t.process();
    let q = room(&publisher, Capacity::bounded(1, 1024), Overflow::Block);
    let (fast, slow) = (t.process(), t.process());
    let (fast_handle, slow_handle) = (join(&fast), join(&slow));
    q.send("a").expect("send");
    assert_eq!(drain(&fast_handle), ["a"]);
    assert_eq!(q.try_send("b").unwrap_err().kind(), SendErrorKind::Full);
    std::thread::scope(|s| {
        let sender = s.spawn(|| q.send("b"));
        await_blocked_senders(&slow_handle, 1);
        assert_eq!(text(slow_handle.recv_timeout(LONG).expect("recv")), "a");
        sender.join().expect("sender").expect("send");
    });
    assert_eq!(drain(&fast_handle), ["b"]);
    assert_eq!(drain(&slow_handle), ["b"]);
}

/// Drop-oldest overflow loses only the slow member's oldest messages.
pub fn broadcast_drop_oldest_loses_only_the_slow_members_oldest<T: Transport>(t: &T) {
    let publisher = t.process();
    let q = room(&publisher, Capacity::bounded(2, 1024), Overflow::DropOldest);
    let (fast, slow) = (t.process(), t.process());
    let (fast_handle, slow_handle) = (join(&fast), join(&slow));
    for text in ["1", "2", "3"] {
        q.send(text).expect("send");
        assert_eq!(drain(&fast_handle), [text]);
    }
    assert_eq!(drain(&slow_handle), ["2", "3"]);
    assert_eq!(q.stat().expect("stat").dropped, 1);
}

/// A member that dies releases a sender blocked only by its backlog.
pub fn a_members_death_releases_a_blocked_broadcast_sender<T: Transport>(t: &T) {
    let publisher = t.process();
    let q = room(&publisher, Capacity::bounded(1, 1024), Overflow::Block);
    let fast = t.process();
    let fast_handle = join(&fast);
    let slow = t.process();
    let slow_handle = join(&slow);
    q.send("a").expect("send");
    assert_eq!(drain(&fast_handle), ["a"]);
    std::thread::scope(|s| {
        let sender = s.spawn(|| q.send("b"));
        await_blocked_senders(&fast_handle, 1);
        drop(slow_handle);
        drop(slow);
        sender.join().expect("sender").expect("send");
    });
    assert_eq!(drain(&fast_handle), ["b"]);
}

/// On a zero-capacity broadcast mailbox a send completes only when every member took it.
pub fn a_broadcast_rendezvous_completes_when_every_member_took_it<T: Transport>(t: &T) {
    let publisher = t.process();
    let q = room(&publisher, Capacity::Zero, Overflow::Block);
    let members = [t.process(), t.process()];
    let handles: Vec<Mailbox> = members.iter().map(join).collect();
    let observer = t.process();
    assert_eq!(q.try_send("x").unwrap_err().kind(), SendErrorKind::Full);
    std::thread::scope(|s| {
        let sender = s.spawn(|| q.send("x"));
        await_waiting(&observer, publisher.pid(), 1);
        assert_eq!(text(handles[0].recv_timeout(LONG).expect("recv")), "x");
        assert_eq!(
            waiting(&observer, publisher.pid()),
            1,
            "one member still owes it"
        );
        assert_eq!(text(handles[1].recv_timeout(LONG).expect("recv")), "x");
        assert_eq!(sender.join().expect("sender"), Ok(Sent { receiver: None }));
    });
}

/// Typed receive picks from the member's own backlog, leaving the others' untouched.
pub fn typed_broadcast_receive_is_per_member<T: Transport>(t: &T) {
    let publisher = t.process();
    let q = room(&publisher, Capacity::default(), Overflow::Block);
    let (a, b) = (t.process(), t.process());
    let (a_handle, b_handle) = (join(&a), join(&b));
    q.send(typed("chat", 1)).expect("send");
    q.send(typed("alert", 2)).expect("send");
    let alert = a_handle
        .try_recv_matching(Selector::Type(2))
        .expect("typed");
    assert_eq!(text(alert), "alert");
    assert_eq!(drain(&a_handle), ["chat"]);
    assert_eq!(drain(&b_handle), ["chat", "alert"]);
}

/// `messages` and `bytes` count distinct messages still owed to a member; `total_received`
/// counts deliveries. A call to a broadcast mailbox is refused: a request has one server.
pub fn broadcast_stats_count_messages_once_and_deliveries_each<T: Transport>(t: &T) {
    let publisher = t.process();
    let q = room(&publisher, Capacity::default(), Overflow::Block);
    let (a, b) = (t.process(), t.process());
    let (a_handle, b_handle) = (join(&a), join(&b));
    q.send("four").expect("send");
    let stats = q.stat().expect("stat");
    assert_eq!((stats.messages, stats.bytes, stats.total_sent), (1, 4, 1));
    assert_eq!(drain(&a_handle), ["four"]);
    assert_eq!(q.stat().expect("stat").messages, 1, "b still owes it");
    assert_eq!(drain(&b_handle), ["four"]);
    let stats = q.stat().expect("stat");
    assert_eq!((stats.messages, stats.total_received), (0, 2));
    let refused = q.try_call("request").unwrap_err();
    assert_eq!(refused.kind(), CallErrorKind::PermissionDenied);
}

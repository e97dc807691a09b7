//! Buffering: zero capacity (rendezvous), bounded by messages and by bytes, unbounded; `Full`,
//! waiting for room, and drop-oldest overflow.

use postbox::{
    Capacity, Message, MessageSize, OpenError, Order, Overflow, RecvError, SendErrorKind, Sent,
};

use crate::Transport;
use crate::support::{
    LONG, SHORT, await_blocked_receivers, await_blocked_senders, await_queued, drain, typed,
};

/// With zero capacity and no receiver waiting, `try_send` fails with `Full`, hands the message
/// back and queues nothing.
pub fn zero_capacity_without_receiver_is_full<T: Transport>(t: &T) {
    let p = t.process();
    let meet = p
        .mailbox("meet")
        .capacity(Capacity::Zero)
        .create()
        .expect("create");
    let error = meet.try_send(typed("nobody", 2)).unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::Full);
    assert_eq!(error.into_message(), Some(typed("nobody", 2)));
    let error = meet.send_timeout("still nobody", SHORT).unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::Timeout);
    assert_eq!(error.into_message(), Some(Message::new("still nobody")));
    assert_eq!(meet.stat().expect("stat").messages, 0);
    assert_eq!(meet.try_recv().unwrap_err(), RecvError::Empty);
}

/// A zero-capacity send waits, queuing nothing, until a receiver takes the message; it then
/// names that receiver.
pub fn zero_capacity_send_waits_for_a_receiver<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let meet = owner
        .mailbox("meet")
        .capacity(Capacity::Zero)
        .create()
        .expect("create");
    let theirs = peer.mailbox("meet").open().expect("open");
    std::thread::scope(|s| {
        let sender = s.spawn(|| theirs.send("hello"));
        await_blocked_senders(&meet, 1);
        assert_eq!(
            meet.stat().expect("stat").messages,
            0,
            "a rendezvous queues nothing"
        );
        let got = meet.recv().expect("recv");
        assert_eq!(
            (got.payload().as_ref(), got.sender),
            (&b"hello"[..], peer.pid())
        );
        let sent = sender.join().expect("sender").expect("send");
        assert_eq!(
            sent,
            Sent {
                receiver: Some(owner.pid())
            }
        );
    });
    assert_eq!(meet.stat().expect("stat").blocked_senders, 0);
}

/// With zero capacity, `try_send` succeeds when a receiver is already waiting, and names it.
pub fn zero_capacity_try_send_meets_a_waiting_receiver<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let meet = owner
        .mailbox("meet")
        .capacity(Capacity::Zero)
        .create()
        .expect("create");
    let theirs = peer.mailbox("meet").open().expect("open");
    std::thread::scope(|s| {
        let receiver = s.spawn(|| meet.recv());
        await_blocked_receivers(&meet, 1);
        let sent = theirs.try_send("now").expect("a receiver waits");
        assert_eq!(sent.receiver, Some(owner.pid()));
        let got = receiver.join().expect("receiver").expect("recv");
        assert_eq!(got.payload().as_ref(), b"now");
    });
}

/// A bounded mailbox takes `messages` messages; then `try_send` fails with `Full` and
/// `send_timeout` with `Timeout`, both handing the message back; a receive makes room.
pub fn bounded_message_limit_fills_then_is_full<T: Transport>(t: &T) {
    let p = t.process();
    let jobs = p
        .mailbox("jobs")
        .capacity(Capacity::bounded(2, 1024))
        .create()
        .expect("create");
    assert_eq!(jobs.try_send("a").expect("room"), Sent { receiver: None });
    jobs.send("b").expect("room");
    let full = Message::new("c").with_type(3).with_priority(9);
    let error = jobs.try_send(full.clone()).unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::Full);
    assert_eq!(error.message(), Some(&full));
    let error = jobs.send_timeout(full.clone(), SHORT).unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::Timeout);
    assert_eq!(error.into_message(), Some(full.clone()));
    assert_eq!(jobs.recv().expect("recv").payload().as_ref(), b"a");
    jobs.try_send(full).expect("room again");
    assert_eq!(drain(&jobs), ["b", "c"]);
}

/// A bounded mailbox also limits queued payload bytes.
pub fn bounded_byte_limit_counts_payload_bytes<T: Transport>(t: &T) {
    let p = t.process();
    let jobs = p
        .mailbox("bytes")
        .capacity(Capacity::bounded(10, 8))
        .create()
        .expect("create");
    jobs.send("12345").expect("5 of 8 bytes");
    assert_eq!(
        jobs.try_send("1234").unwrap_err().kind(),
        SendErrorKind::Full
    );
    jobs.try_send("123").expect("exactly 8 bytes");
    let stats = jobs.stat().expect("stat");
    assert_eq!((stats.messages, stats.bytes), (2, 8));
    assert_eq!(jobs.try_send("x").unwrap_err().kind(), SendErrorKind::Full);
    jobs.try_send("").expect("an empty message takes no bytes");
    jobs.recv().expect("recv");
    jobs.try_send("1234").expect("3 + 0 + 4 bytes fit");
    assert_eq!(jobs.try_send("xy").unwrap_err().kind(), SendErrorKind::Full);
}

/// A sender blocked on a full mailbox enters, in order, when a receive makes room; meanwhile
/// newcomers do not overtake it.
pub fn blocked_sender_enters_when_room_frees<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let jobs = owner
        .mailbox("jobs")
        .capacity(Capacity::bounded(1, 1024))
        .create()
        .expect("create");
    let theirs = peer.mailbox("jobs").open().expect("open");
    jobs.send("first").expect("send");
    std::thread::scope(|s| {
        let sender = s.spawn(|| theirs.send("second"));
        await_blocked_senders(&jobs, 1);
        assert_eq!(
            jobs.try_send("third").unwrap_err().kind(),
            SendErrorKind::Full
        );
        assert_eq!(jobs.recv().expect("recv").payload().as_ref(), b"first");
        assert_eq!(sender.join().expect("sender").expect("send").receiver, None);
    });
    let stats = jobs.stat().expect("stat");
    assert_eq!((stats.messages, stats.blocked_senders), (1, 0));
    assert_eq!(drain(&jobs), ["second"]);
}

/// An unbounded mailbox takes far more than the default 64 messages, in order.
pub fn unbounded_takes_beyond_the_default_limit<T: Transport>(t: &T) {
    let p = t.process();
    let log = p
        .mailbox("log")
        .capacity(Capacity::Unbounded)
        .create()
        .expect("create");
    for i in 0..1000 {
        log.try_send(format!("{i}")).expect("unbounded never fills");
    }
    assert_eq!(log.stat().expect("stat").messages, 1000);
    let mut last_seq = None;
    for i in 0..1000 {
        let got = log.try_recv().expect("recv");
        assert_eq!(got.payload().as_ref(), format!("{i}").as_bytes());
        assert!(last_seq < Some(got.seq), "sequence numbers increase");
        last_seq = Some(got.seq);
    }
}

/// With drop-oldest overflow the newest message always fits: the oldest go, and are counted.
pub fn drop_oldest_keeps_the_newest<T: Transport>(t: &T) {
    let p = t.process();
    let recent = p
        .mailbox("recent")
        .capacity(Capacity::bounded(3, 1024))
        .overflow(Overflow::DropOldest)
        .create()
        .expect("create");
    for text in ["1", "2", "3", "4", "5"] {
        assert_eq!(recent.try_send(text).expect("never full").receiver, None);
    }
    let stats = recent.stat().expect("stat");
    assert_eq!((stats.messages, stats.dropped, stats.total_sent), (3, 2, 5));
    assert_eq!(drain(&recent), ["3", "4", "5"]);

    let by_bytes = p
        .mailbox("recent-bytes")
        .capacity(Capacity::bounded(10, 6))
        .overflow(Overflow::DropOldest)
        .create()
        .expect("create");
    by_bytes.send("aaaa").expect("send");
    by_bytes.send("bb").expect("send");
    by_bytes
        .send("cccc")
        .expect("drops as many as the bytes need");
    assert_eq!(by_bytes.stat().expect("stat").dropped, 1);
    assert_eq!(drain(&by_bytes), ["bb", "cccc"]);
}

/// In a priority mailbox, drop-oldest discards the oldest message of the lowest priority first.
pub fn drop_oldest_in_priority_order_drops_the_lowest_priority<T: Transport>(t: &T) {
    let p = t.process();
    let alerts = p
        .mailbox("alerts")
        .capacity(Capacity::bounded(2, 1024))
        .order(Order::Priority)
        .overflow(Overflow::DropOldest)
        .create()
        .expect("create");
    alerts
        .send(Message::new("high").with_priority(5))
        .expect("send");
    alerts
        .send(Message::new("low").with_priority(1))
        .expect("send");
    alerts
        .send(Message::new("new").with_priority(3))
        .expect("send");
    assert_eq!(drain(&alerts), ["high", "new"]);
}

/// A receipted send whose message drop-oldest discards fails with `Dropped`, message back.
pub fn drop_oldest_fails_a_receipt_with_dropped<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let latest = owner
        .mailbox("latest")
        .capacity(Capacity::bounded(1, 1024))
        .overflow(Overflow::DropOldest)
        .create()
        .expect("create");
    let theirs = peer.mailbox("latest").open().expect("open");
    std::thread::scope(|s| {
        let sender = s.spawn(|| theirs.send_with_receipt_timeout("victim", LONG));
        await_queued(&latest, 1);
        latest.send("newer").expect("send");
        let error = sender.join().expect("sender").unwrap_err();
        assert_eq!(error.kind(), SendErrorKind::Dropped);
        assert_eq!(error.into_message(), Some(Message::new("victim")));
    });
    assert_eq!(drain(&latest), ["newer"]);
}

/// Capacity settings that contradict each other fail `create` with `InvalidAttributes`.
pub fn contradictory_capacity_is_invalid_attributes<T: Transport>(t: &T) {
    let p = t.process();
    let invalid = |result: Result<postbox::Mailbox, OpenError>| matches!(result, Err(OpenError::InvalidAttributes(ref why)) if !why.is_empty());
    assert!(invalid(
        p.mailbox("x").capacity(Capacity::bounded(0, 10)).create()
    ));
    assert!(invalid(
        p.mailbox("x")
            .capacity(Capacity::Zero)
            .overflow(Overflow::DropOldest)
            .create()
    ));
    assert!(invalid(
        p.mailbox("x")
            .capacity(Capacity::Unbounded)
            .overflow(Overflow::DropOldest)
            .create()
    ));
    assert!(invalid(
        p.mailbox("x")
            .capacity(Capacity::bounded(4, 10))
            .size(MessageSize::Fixed(11))
            .create()
    ));
    assert_eq!(
        p.mailbox("x").open().unwrap_err(),
        OpenError::NotFound,
        "nothing was created"
    );
}

//! Purging: every queued message dropped and counted; waiting senders let in.

use postbox::{AdminError, Capacity, Credentials, Message, Mode, Ownership, SendErrorKind};

use crate::Transport;
use crate::support::{LONG, await_blocked_senders, await_queued, drain, ordinary, process_as};

/// Purge drops what is queued, says how many, and counts them as dropped.
pub fn purge_drops_every_queued_message_and_counts_them<T: Transport>(t: &T) {
    let p = t.process();
    let q = p.mailbox("q").create().expect("create");
    q.send_batch(["a", "b", "c"]).expect("send");
    assert_eq!(q.try_recv().expect("recv").payload().as_ref(), b"a");
    assert_eq!(q.purge().expect("purge"), 2);
    let stats = q.stat().expect("stat");
    assert_eq!(
        (
            stats.messages,
            stats.bytes,
            stats.total_sent,
            stats.total_received,
            stats.dropped
        ),
        (0, 0, 3, 1, 2)
    );
    assert_eq!(p.node_stats().expect("node stats").total_dropped, 2);
    assert_eq!(q.purge().expect("purge"), 0);
    q.send("after").expect("send");
    assert_eq!(drain(&q), ["after"]);
}

/// Senders waiting for room get it: they complete, in order, as far as the room goes.
pub fn purge_lets_waiting_senders_in<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let q = owner
        .mailbox("q")
        .capacity(Capacity::bounded(2, 1024))
        .mode(Mode::new(0o666))
        .create()
        .expect("create");
    let theirs = peer.mailbox("q").open().expect("open");
    q.send_batch(["1", "2"]).expect("send");
    std::thread::scope(|s| {
        let sender = s.spawn(|| theirs.send_timeout("3", LONG));
        await_blocked_senders(&q, 1);
        assert_eq!(q.purge().expect("purge"), 2);
        sender
            .join()
            .expect("sender")
            .expect("the waiting send completes");
    });
    assert_eq!(drain(&q), ["3"]);
}

/// A sender waiting for the receipt of a purged message gets `Dropped`, with its message.
pub fn purge_fails_waiting_receipts_with_dropped<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let q = owner
        .mailbox("q")
        .mode(Mode::new(0o666))
        .create()
        .expect("create");
    let theirs = peer.mailbox("q").open().expect("open");
    std::thread::scope(|s| {
        let sender = s.spawn(|| theirs.send_with_receipt_timeout("victim", LONG));
        await_queued(&q, 1);
        assert_eq!(q.purge().expect("purge"), 1);
        let error = sender.join().expect("sender").unwrap_err();
        assert_eq!(error.kind(), SendErrorKind::Dropped);
        assert_eq!(error.into_message(), Some(Message::new("victim")));
    });
}

/// Only the owner purges (the owning process; any process of a system-owned mailbox's uid),
/// or root.
pub fn only_the_owner_or_root_purges<T: Transport>(t: &T) {
    let Some([owner, other]) = ordinary(t, "purge::only_the_owner_or_root_purges") else {
        return;
    };
    let private = owner
        .mailbox("private")
        .mode(Mode::new(0o666))
        .create()
        .expect("create");
    private.send("x").expect("send");
    let theirs = other.mailbox("private").open().expect("open");
    assert_eq!(theirs.purge().unwrap_err(), AdminError::PermissionDenied);
    assert_eq!(private.stat().expect("stat").messages, 1);

    let system = owner
        .mailbox("system")
        .ownership(Ownership::System)
        .create()
        .expect("create");
    system.send("y").expect("send");
    let by_uid = other.mailbox("system").open().expect("open");
    assert_eq!(by_uid.purge().expect("any process of the owning uid"), 1);

    let case = "purge::only_the_owner_or_root_purges (root)";
    if let Some(root) = process_as(t, Credentials::ROOT, case) {
        let by_root = root.mailbox("private").open().expect("root opens anything");
        assert_eq!(by_root.purge().expect("root purges anything"), 1);
    }
    private.delete().expect("delete");
    assert_eq!(theirs.purge().unwrap_err(), AdminError::Gone);
}

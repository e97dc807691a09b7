//! Statistics (like System V's `msqid_ds`): per-mailbox `stat`, `list_mailboxes`, node-wide
//! `node_stats`; and the attributes `set_*` may change afterwards.

use postbox::{
    AdminError, Capacity, Dispatch, MailboxAttrs, Message, MessageSize, Mode, Order, Overflow,
    Owner, Ownership, Receivers, Redelivery,
};
use std::time::Duration;

use crate::Transport;
use crate::support::{LONG, await_blocked_senders, uid_of};

/// `stat` reports the attributes as created, the owner and the mode.
pub fn stat_reports_attributes_owner_and_mode<T: Transport>(t: &T) {
    let p = t.process();
    let attrs = MailboxAttrs {
        capacity: Capacity::bounded(5, 500),
        size: MessageSize::Variable(100),
        order: Order::Priority,
        overflow: Overflow::DropOldest,
        ownership: Ownership::System,
        receivers: Receivers::Shared(Dispatch::RoundRobin),
        mode: Mode::new(0o640),
        redelivery: Redelivery {
            lease_time: Some(Duration::from_secs(30)),
            max_deliveries: Some(5),
            dead_letter: None,
        },
        durability: postbox::Durability::Memory,
    };
    let system = p
        .mailbox("system")
        .capacity(attrs.capacity)
        .size(attrs.size)
        .order(attrs.order)
        .overflow(attrs.overflow)
        .ownership(attrs.ownership)
        .receivers(attrs.receivers)
        .mode(attrs.mode)
        .lease_time(Duration::from_secs(30))
        .max_deliveries(5)
        .create()
        .expect("create");
    let stats = system.stat().expect("stat");
    assert_eq!((stats.id, stats.name.as_str()), (system.id(), "system"));
    assert_eq!(stats.attrs, attrs);
    assert_eq!(stats.mode, Mode::new(0o640));
    assert_eq!(stats.uid, uid_of(&p));
    assert_eq!(
        stats.owner,
        Owner::System(postbox::Credentials::new(stats.uid, stats.gid))
    );
    assert!(stats.created.as_nanos() > 0 && stats.changed >= stats.created);

    let process = p.mailbox("process").create().expect("create");
    let stats = process.stat().expect("stat");
    assert_eq!(stats.owner, Owner::Process(p.pid()));
    assert_eq!(
        stats.attrs,
        MailboxAttrs::process_owned(),
        "the documented defaults"
    );
    let default_system = p
        .mailbox("default-system")
        .ownership(Ownership::System)
        .create();
    let stats = default_system.expect("create").stat().expect("stat");
    assert_eq!(
        stats.attrs,
        MailboxAttrs::system_owned(),
        "the documented defaults"
    );
}

/// `stat` counts queued messages and bytes, totals sent and received, and the last sender and
/// receiver.
pub fn stat_counts_messages_and_records_the_last_users<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let mine = owner.mailbox("counted").create().expect("create");
    let theirs = peer.mailbox("counted").open().expect("open");
    let fresh = mine.stat().expect("stat");
    assert_eq!(
        (
            fresh.messages,
            fresh.bytes,
            fresh.total_sent,
            fresh.total_received
        ),
        (0, 0, 0, 0)
    );
    assert_eq!(
        (fresh.last_send, fresh.last_recv, fresh.openers),
        (None, None, 2)
    );

    theirs.send("abc").expect("send");
    theirs.send("de").expect("send");
    mine.send("f").expect("send");
    mine.recv().expect("recv");
    let stats = theirs.stat().expect("anyone who may use it may stat it");
    assert_eq!((stats.messages, stats.bytes), (2, 3));
    assert_eq!(
        (stats.total_sent, stats.total_received, stats.dropped),
        (3, 1, 0)
    );
    let (last_sender, sent_at) = stats.last_send.expect("sent");
    let (last_receiver, received_at) = stats.last_recv.expect("received");
    assert_eq!((last_sender, last_receiver), (owner.pid(), owner.pid()));
    assert!(sent_at >= stats.created && received_at >= sent_at);
    assert_eq!((stats.blocked_senders, stats.blocked_receivers), (0, 0));
}

/// Failed and withdrawn sends are not counted as sent.
pub fn failed_and_withdrawn_sends_are_not_counted<T: Transport>(t: &T) {
    let p = t.process();
    let full = p
        .mailbox("full")
        .capacity(Capacity::bounded(1, 1024))
        .size(MessageSize::Variable(8))
        .create()
        .expect("create");
    full.send("kept").expect("send");
    full.try_send("full").unwrap_err();
    full.send("far too large").unwrap_err();
    full.send(Message::new("bad type").with_type(0))
        .unwrap_err();
    full.send_timeout("timeout", crate::support::SHORT)
        .unwrap_err();
    let stats = full.stat().expect("stat");
    assert_eq!((stats.messages, stats.total_sent), (1, 1));

    let receipts = p.mailbox("receipts").create().expect("create");
    let error = receipts.send_with_receipt_timeout("withdrawn", crate::support::SHORT);
    assert_eq!(
        error.unwrap_err().into_message(),
        Some(Message::new("withdrawn"))
    );
    let stats = receipts.stat().expect("stat");
    assert_eq!(
        (stats.messages, stats.total_sent),
        (0, 0),
        "withdrawn before anyone took it"
    );
}

/// `openers` counts processes with the mailbox open, not handles.
pub fn openers_counts_processes<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let mine = owner.mailbox("popular").create().expect("create");
    let again = owner.mailbox("popular").open().expect("open");
    assert_eq!(mine.stat().expect("stat").openers, 1);
    let theirs = peer.mailbox("popular").open().expect("open");
    assert_eq!(mine.stat().expect("stat").openers, 2);
    drop(theirs);
    drop(again);
    assert_eq!(mine.stat().expect("stat").openers, 1);
}

/// `set_mode` changes the mode, and the change time moves.
pub fn set_mode_changes_the_mode_and_change_time<T: Transport>(t: &T) {
    let p = t.process();
    let mailbox = p.mailbox("moded").create().expect("create");
    let before = mailbox.stat().expect("stat");
    mailbox.set_mode(Mode::new(0o644)).expect("set_mode");
    let after = mailbox.stat().expect("stat");
    assert_eq!((after.mode.bits(), after.attrs.mode.bits()), (0o644, 0o644));
    assert!(after.changed >= before.changed);
    assert_eq!(after.created, before.created);
    assert_eq!(Mode::new(0o644).to_string(), "0644");
}

/// `set_max_bytes` changes a bounded mailbox's byte limit; raising it lets waiting senders in.
/// It does not apply to other capacities, nor below a fixed message size (`InvalidArgument`).
pub fn set_max_bytes_changes_the_byte_limit<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let mine = owner
        .mailbox("elastic")
        .capacity(Capacity::bounded(10, 4))
        .create()
        .expect("create");
    let theirs = peer.mailbox("elastic").open().expect("open");
    mine.send("1234").expect("send");
    std::thread::scope(|s| {
        let sender = s.spawn(|| theirs.send("5678"));
        await_blocked_senders(&mine, 1);
        mine.set_max_bytes(8).expect("raise");
        sender.join().expect("sender").expect("admitted");
    });
    let stats = mine.stat().expect("stat");
    assert_eq!(
        (stats.attrs.capacity, stats.messages),
        (Capacity::bounded(10, 8), 2)
    );

    let unbounded = owner
        .mailbox("unbounded")
        .capacity(Capacity::Unbounded)
        .create();
    let result = unbounded.expect("create").set_max_bytes(10);
    assert!(
        matches!(result, Err(AdminError::InvalidArgument(_))),
        "{result:?}"
    );
    let fixed = owner
        .mailbox("fixed")
        .size(MessageSize::Fixed(16))
        .create()
        .expect("create");
    let result = fixed.set_max_bytes(15);
    assert!(
        matches!(result, Err(AdminError::InvalidArgument(_))),
        "{result:?}"
    );
    fixed.set_max_bytes(16).expect("one fixed message fits");
}

/// `list_mailboxes` lists every visible mailbox, sorted by name, with the same statistics as
/// `stat`.
pub fn list_mailboxes_is_sorted_by_name<T: Transport>(t: &T) {
    let p = t.process();
    let b = p.mailbox("b").create().expect("create");
    let _a = p.mailbox("a").create().expect("create");
    let _c = p.mailbox("c/nested").create().expect("create");
    b.send("x").expect("send");
    let listed = p.list_mailboxes().expect("list");
    let names: Vec<&str> = listed.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c/nested"]);
    assert_eq!(listed[1], b.stat().expect("stat"));
}

/// `node_stats` counts processes, mailboxes, queued messages and bytes, and totals.
pub fn node_stats_count_the_whole_node<T: Transport>(t: &T) {
    let p = t.process();
    let stats = || crate::support::whole_stats(t, &p);
    let before = stats();
    let peer = t.process();
    let mailbox = p.mailbox("counted").create().expect("create");
    mailbox.send("12345").expect("send");
    p.send_to(peer.pid(), "678").expect("send_to");
    let during = stats();
    assert_eq!(during.processes, before.processes + 1);
    assert_eq!(
        during.mailboxes,
        before.mailboxes + 1,
        "inboxes are not counted"
    );
    assert_eq!(
        during.queued_messages,
        before.queued_messages + 2,
        "inboxes are"
    );
    assert_eq!(during.queued_bytes, before.queued_bytes + 8);
    assert_eq!(during.total_sent, before.total_sent + 2);
    assert_eq!(during.max_queued_bytes, t.limits().max_queued_bytes);
    mailbox.recv().expect("recv");
    peer.recv_any().expect("recv");
    mailbox.delete().expect("delete");
    let after = stats();
    assert_eq!(after.total_received, before.total_received + 2);
    assert_eq!(
        (after.queued_messages, after.queued_bytes),
        (before.queued_messages, before.queued_bytes)
    );
    assert_eq!(after.mailboxes, before.mailboxes);
}

/// Lowering the byte limit below a waiting sender's message fails that send with `TooLarge`
/// (message back), as a new send of it would, instead of leaving it waiting for ever.
pub fn lowering_max_bytes_fails_senders_that_can_never_fit<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let mine = owner
        .mailbox("shrinking")
        .capacity(Capacity::bounded(1, 16))
        .create()
        .expect("create");
    let theirs = peer.mailbox("shrinking").open().expect("open");
    mine.send("1").expect("send");
    std::thread::scope(|s| {
        let big = s.spawn(|| theirs.send_timeout("0123456789", LONG));
        await_blocked_senders(&mine, 1);
        mine.set_max_bytes(4).expect("lower");
        let error = big.join().expect("sender").unwrap_err();
        assert_eq!(error.kind(), postbox::SendErrorKind::TooLarge);
        assert_eq!(error.into_message(), Some(Message::new("0123456789")));
    });
    let stats = mine.stat().expect("stat");
    assert_eq!((stats.messages, stats.blocked_senders), (1, 0));
}

/// The process list says what each waiting operation waits for, and since when.
pub fn the_process_list_says_what_each_process_waits_for<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let q = owner.mailbox("q").create().expect("create");
    let before = postbox::Timestamp::from_system_time(std::time::SystemTime::now());
    std::thread::scope(|s| {
        let receiver = s.spawn(|| q.recv_timeout(LONG));
        crate::support::await_waiting(&peer, owner.pid(), 1);
        let listed = peer.list_processes().expect("list processes");
        let info = listed
            .iter()
            .find(|info| info.pid == owner.pid())
            .expect("listed");
        assert_eq!(info.waits.len(), 1);
        let wait = &info.waits[0];
        assert_eq!(wait.kind, postbox::WaitKind::Recv);
        assert_eq!(wait.on, [postbox::WaitTarget::Mailbox("q".into())]);
        assert!(wait.since >= before, "{wait:?} began after {before:?}");
        assert!(info.started.as_nanos() > 0);
        let me = listed.iter().find(|info| info.pid == peer.pid()).unwrap();
        assert!(me.waits.is_empty());
        q.send("done").expect("send");
        receiver.join().expect("receiver").expect("recv");
    });
}

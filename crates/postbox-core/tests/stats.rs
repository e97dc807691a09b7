//! Statistics: what `MailboxStats`, `EngineStats` and `ProcessInfo` report, and how each field
//! moves as messages flow, operations wait, drops happen and attributes change.

mod common;

use common::*;
use postbox_core::{
    AdminError, Capacity, Credentials, Delivery, Engine, EngineStats, Limits, MailboxAttrs,
    MailboxId, Message, Mode, Order, Overflow, Owner, Pid, Selector, Timestamp, Wait,
};

fn send_at(engine: &mut Engine, from: Pid, q: MailboxId, payload: &'static str, now: u64) {
    engine
        .send(
            from,
            q,
            Message::new(payload),
            Delivery::Queued,
            Wait::Block,
            at(now),
        )
        .expect("send");
}

fn recv_at(engine: &mut Engine, pid: Pid, q: MailboxId, now: u64) {
    engine
        .recv(pid, &[on(q, Selector::Any)], Wait::Try, at(now))
        .expect("a message is ready");
}

#[test]
fn a_new_mailbox_reports_its_settings_and_creation_time() {
    let mut engine = Engine::default();
    let owner = engine.spawn(Credentials::new(1000, 50), Timestamp::ZERO);
    let attrs = MailboxAttrs {
        capacity: Capacity::bounded(8, 4096),
        order: Order::Priority,
        mode: Mode::new(0o640),
        ..MailboxAttrs::process_owned()
    };
    let q = engine.create(owner, "jobs", attrs, at(7)).unwrap();
    let stats = engine.stat(owner, q).unwrap();
    assert_eq!(stats.id, q);
    assert_eq!(stats.name, "jobs");
    assert_eq!(stats.attrs, attrs);
    assert_eq!(stats.owner, Owner::Process(owner));
    assert_eq!(
        (stats.uid, stats.gid, stats.mode),
        (1000, 50, Mode::new(0o640))
    );
    assert_eq!((stats.messages, stats.bytes), (0, 0));
    assert_eq!(
        (stats.total_sent, stats.total_received, stats.dropped),
        (0, 0, 0)
    );
    assert_eq!((stats.last_send, stats.last_recv), (None, None));
    assert_eq!((stats.created, stats.changed), (at(7), at(7)));
    assert_eq!((stats.blocked_senders, stats.blocked_receivers), (0, 0));
    assert_eq!(stats.openers, 1);
}

#[test]
fn sends_and_receives_move_counts_bytes_totals_and_last_sender_and_receiver() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let sender = spawn(&mut engine);
    let q = create(&mut engine, owner, "q", MailboxAttrs::process_owned());
    engine.open(sender, "q").unwrap();

    send_at(&mut engine, sender, q, "12345", 10);
    send_at(&mut engine, owner, q, "123", 20);
    let stats = engine.stat(owner, q).unwrap();
    assert_eq!((stats.messages, stats.bytes), (2, 8));
    assert_eq!((stats.total_sent, stats.total_received), (2, 0));
    assert_eq!(stats.last_send, Some((owner, at(20))));
    assert_eq!(stats.last_recv, None);

    recv_at(&mut engine, owner, q, 30);
    let stats = engine.stat(owner, q).unwrap();
    assert_eq!((stats.messages, stats.bytes), (1, 3));
    assert_eq!((stats.total_sent, stats.total_received), (2, 1));
    assert_eq!(stats.last_send, Some((owner, at(20))));
    assert_eq!(stats.last_recv, Some((owner, at(30))));
    assert_eq!(stats.changed, Timestamp::ZERO, "traffic is not a change");
}

#[test]
fn a_received_message_carries_its_send_time_and_increasing_sequence_numbers() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let q = create(&mut engine, owner, "q", MailboxAttrs::process_owned());
    send_at(&mut engine, owner, q, "a", 5);
    send_at(&mut engine, owner, q, "b", 6);
    let a = try_recv(&mut engine, owner, on(q, Selector::Any)).unwrap();
    let b = try_recv(&mut engine, owner, on(q, Selector::Any)).unwrap();
    assert_eq!((a.sent_at, b.sent_at), (at(5), at(6)));
    assert!(a.seq < b.seq);
    assert_eq!(a.sender, owner);
}

#[test]
fn a_direct_handover_counts_as_sent_and_received_but_never_queued() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let sender = spawn(&mut engine);
    let q = create(&mut engine, owner, "q", MailboxAttrs::process_owned());
    engine.open(sender, "q").unwrap();
    recv_blocked(&mut engine, owner, &[on(q, Selector::Any)]);
    send_at(&mut engine, sender, q, "handed over", 40);
    let stats = engine.stat(owner, q).unwrap();
    assert_eq!((stats.messages, stats.bytes), (0, 0));
    assert_eq!((stats.total_sent, stats.total_received), (1, 1));
    assert_eq!(stats.last_send, Some((sender, at(40))));
    assert_eq!(stats.last_recv, Some((owner, at(40))));
    assert_eq!(stats.blocked_receivers, 0);
}

#[test]
fn blocked_senders_and_receivers_are_counted_while_they_wait() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let sender = spawn(&mut engine);
    let attrs = MailboxAttrs {
        capacity: Capacity::bounded(1, 1024),
        ..MailboxAttrs::process_owned()
    };
    let q = create(&mut engine, owner, "q", attrs);
    engine.open(sender, "q").unwrap();

    let receiving = recv_blocked(&mut engine, owner, &[on(q, Selector::Type(2))]);
    assert_eq!(engine.stat(owner, q).unwrap().blocked_receivers, 1);
    send(&mut engine, sender, q, "type 1 fills it");
    let first = send_blocked(&mut engine, sender, q, "a", Delivery::Queued);
    send_blocked(&mut engine, sender, q, "b", Delivery::Queued);
    let stats = engine.stat(owner, q).unwrap();
    assert_eq!((stats.blocked_senders, stats.blocked_receivers), (2, 1));

    engine.cancel(first, Timestamp::ZERO).unwrap();
    engine.cancel(receiving, Timestamp::ZERO).unwrap();
    let stats = engine.stat(owner, q).unwrap();
    assert_eq!((stats.blocked_senders, stats.blocked_receivers), (1, 0));
    take(&mut engine, owner, on(q, Selector::Any));
    assert_eq!(engine.stat(owner, q).unwrap().blocked_senders, 0);
}

#[test]
fn a_select_waiting_twice_on_one_mailbox_is_one_blocked_receiver() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let q = create(&mut engine, owner, "q", MailboxAttrs::process_owned());
    recv_blocked(
        &mut engine,
        owner,
        &[on(q, Selector::Type(2)), on(q, Selector::Type(3))],
    );
    assert_eq!(engine.stat(owner, q).unwrap().blocked_receivers, 1);
}

#[test]
fn a_cancelled_receipt_send_no_longer_counts_as_sent() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let q = create(&mut engine, owner, "q", MailboxAttrs::process_owned());
    let ticket = send_blocked(&mut engine, owner, q, "withdrawn", Delivery::Receipt);
    assert_eq!(engine.stat(owner, q).unwrap().total_sent, 1);
    engine.cancel(ticket, Timestamp::ZERO).unwrap();
    let stats = engine.stat(owner, q).unwrap();
    assert_eq!((stats.messages, stats.total_sent), (0, 0));
    assert_eq!(engine.stats().total_sent, 0);
}

#[test]
fn drops_are_counted_per_mailbox_and_engine_wide() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let attrs = MailboxAttrs {
        capacity: Capacity::bounded(1, 1024),
        overflow: Overflow::DropOldest,
        ..MailboxAttrs::process_owned()
    };
    let a = create(&mut engine, owner, "a", attrs);
    let b = create(&mut engine, owner, "b", attrs);
    for payload in ["1", "2", "3"] {
        send(&mut engine, owner, a, payload);
    }
    send(&mut engine, owner, b, "1");
    send(&mut engine, owner, b, "2");
    assert_eq!(engine.stat(owner, a).unwrap().dropped, 2);
    assert_eq!(engine.stat(owner, b).unwrap().dropped, 1);
    let stats = engine.stats();
    assert_eq!(stats.total_dropped, 3);
    assert_eq!((stats.total_sent, stats.queued_messages), (5, 2));
}

#[test]
fn changed_moves_with_mode_owner_rights_and_byte_limit_changes_only() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let other = spawn(&mut engine);
    let q = engine
        .create(owner, "q", MailboxAttrs::process_owned(), at(1))
        .unwrap();
    engine.open(other, "q").unwrap();
    let changed = |engine: &Engine| engine.stat(owner, q).unwrap().changed;

    engine.set_mode(owner, q, Mode::new(0o660), at(2)).unwrap();
    assert_eq!(changed(&engine), at(2));
    assert_eq!(engine.stat(owner, q).unwrap().mode, Mode::new(0o660));
    engine.grant_receive(owner, q, other, at(3)).unwrap();
    assert_eq!(changed(&engine), at(3));
    engine.revoke_receive(owner, q, other, at(4)).unwrap();
    assert_eq!(changed(&engine), at(4));
    engine.set_max_bytes(owner, q, 1 << 16, at(5)).unwrap();
    assert_eq!(changed(&engine), at(5));
    assert_eq!(
        engine.stat(owner, q).unwrap().attrs.capacity,
        Capacity::bounded(64, 1 << 16)
    );
    send_at(&mut engine, owner, q, "traffic", 6);
    recv_at(&mut engine, owner, q, 7);
    assert_eq!(changed(&engine), at(5));
    engine
        .set_owner(owner, q, Owner::Process(other), at(8))
        .unwrap();
    let stats = engine.stat(other, q).unwrap();
    assert_eq!((stats.changed, stats.created), (at(8), at(1)));
}

#[test]
fn raising_the_byte_limit_admits_waiting_senders() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let attrs = MailboxAttrs {
        capacity: Capacity::bounded(8, 64 << 10),
        ..MailboxAttrs::process_owned()
    };
    let q = create(&mut engine, owner, "q", attrs);
    send(&mut engine, owner, q, vec![0; 64 << 10]);
    let waiting = send_blocked(&mut engine, owner, q, vec![1; 10], Delivery::Queued);
    let unbounded = create(
        &mut engine,
        owner,
        "unbounded",
        MailboxAttrs {
            capacity: Capacity::Unbounded,
            ..MailboxAttrs::process_owned()
        },
    );
    assert!(matches!(
        engine.set_max_bytes(owner, unbounded, 100, Timestamp::ZERO),
        Err(AdminError::InvalidArgument(_))
    ));
    engine
        .set_max_bytes(owner, q, (64 << 10) + 10, Timestamp::ZERO)
        .unwrap();
    assert!(!engine.is_waiting(waiting));
    let stats = engine.stat(owner, q).unwrap();
    assert_eq!((stats.messages, stats.blocked_senders), (2, 0));
}

#[test]
fn openers_counts_processes_with_the_mailbox_open() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let other = spawn(&mut engine);
    let q = create(&mut engine, owner, "q", MailboxAttrs::process_owned());
    engine.open(other, "q").unwrap();
    engine.open(other, "q").unwrap();
    assert_eq!(engine.stat(owner, q).unwrap().openers, 2);
    engine.close(other, q, Timestamp::ZERO);
    assert_eq!(engine.stat(owner, q).unwrap().openers, 2, "one handle left");
    engine.close(other, q, Timestamp::ZERO);
    assert_eq!(engine.stat(owner, q).unwrap().openers, 1);
    engine.terminate(other, Timestamp::ZERO);
    assert_eq!(engine.stat(owner, q).unwrap().openers, 1);
}

#[test]
fn stat_is_refused_to_a_process_that_may_neither_send_receive_nor_own() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let stranger = engine.spawn(Credentials::new(2000, 2000), Timestamp::ZERO);
    let q = create(&mut engine, owner, "private", MailboxAttrs::process_owned());
    create(
        &mut engine,
        owner,
        "public",
        MailboxAttrs {
            mode: Mode::new(0o622),
            ..MailboxAttrs::process_owned()
        },
    );
    assert_eq!(engine.stat(stranger, q), Err(AdminError::PermissionDenied));
    let names: Vec<String> = engine
        .list(stranger)
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["public"]);
    let names: Vec<String> = engine
        .list(owner)
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["private", "public"], "sorted by name");
}

#[test]
fn engine_stats_count_processes_mailboxes_and_everything_queued() {
    let mut engine = Engine::new(Limits {
        max_queued_bytes: 1 << 20,
        ..Limits::default()
    });
    assert_eq!(
        engine.stats(),
        EngineStats {
            max_queued_bytes: 1 << 20,
            ..EngineStats::default()
        }
    );
    let a = spawn(&mut engine);
    let b = spawn(&mut engine);
    let q = create(&mut engine, a, "q", MailboxAttrs::process_owned());
    create(&mut engine, b, "r", MailboxAttrs::system_owned());
    send(&mut engine, a, q, "1234");
    send_to(&mut engine, a, b, "123456");
    let stats = engine.stats();
    assert_eq!(
        (stats.processes, stats.mailboxes),
        (2, 2),
        "inboxes are not mailboxes"
    );
    assert_eq!((stats.queued_messages, stats.queued_bytes), (2, 10));
    assert_eq!((stats.total_sent, stats.total_received), (2, 0));

    take(&mut engine, b, inbox(Selector::Any));
    let stats = engine.stats();
    assert_eq!((stats.queued_messages, stats.queued_bytes), (1, 4));
    assert_eq!(stats.total_received, 1);

    engine.terminate(a, Timestamp::ZERO);
    let stats = engine.stats();
    assert_eq!((stats.processes, stats.mailboxes), (1, 1));
    assert_eq!(
        (stats.queued_messages, stats.queued_bytes),
        (0, 0),
        "q went with a"
    );
}

#[test]
fn process_info_reports_name_credentials_inbox_owned_mailboxes_and_waiting_operations() {
    let mut engine = Engine::default();
    let a = engine.spawn(Credentials::new(1000, 77), Timestamp::ZERO);
    let b = spawn(&mut engine);
    engine.register(a, "alpha").unwrap();
    let q = create(&mut engine, a, "q", MailboxAttrs::process_owned());
    create(&mut engine, a, "s", MailboxAttrs::system_owned());
    send_to(&mut engine, b, a, "hi");
    recv_blocked(&mut engine, a, &[on(q, Selector::Any)]);
    let info = engine.processes();
    assert_eq!(info.iter().map(|p| p.pid).collect::<Vec<_>>(), [a, b]);
    let alpha = &info[0];
    assert_eq!(alpha.name.as_deref(), Some("alpha"));
    assert_eq!((alpha.uid, alpha.gid), (1000, 77));
    assert_eq!(alpha.inbox_messages, 1);
    assert_eq!(
        alpha.owned_mailboxes, 1,
        "system-owned mailboxes belong to the uid"
    );
    assert_eq!(alpha.waiting, 1);
    assert_eq!(info[1].name, None);
}

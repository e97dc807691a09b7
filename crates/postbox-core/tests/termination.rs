//! Termination of a process: every effect the contract lists — its mailboxes deleted, waiters on
//! it failed at once, monitors told after its last messages, its names released — and what
//! survives it (the messages it sent).

mod common;

use common::*;
use postbox_core::{
    AdminError, Capacity, Delivery, Dispatch, Engine, Limits, MailboxAttrs, Message, MessageKind,
    Pid, Receivers, RecvError, Selector, SendErrorKind, Timestamp, Wait,
};

fn shared() -> MailboxAttrs {
    MailboxAttrs {
        receivers: Receivers::Shared(Dispatch::FirstWaiting),
        ..MailboxAttrs::system_owned()
    }
}

#[test]
fn its_process_owned_mailboxes_are_deleted_and_their_waiters_get_gone() {
    let mut engine = Engine::default();
    let dying = spawn(&mut engine);
    let helper = spawn(&mut engine);
    let sender = spawn(&mut engine);
    let attrs = MailboxAttrs {
        capacity: Capacity::bounded(1, 1024),
        ..MailboxAttrs::process_owned()
    };
    let q = create(&mut engine, dying, "owned", attrs);
    engine.open(helper, "owned").unwrap();
    engine.open(sender, "owned").unwrap();
    engine
        .grant_receive(dying, q, helper, Timestamp::ZERO)
        .unwrap();
    let receiving = recv_blocked(&mut engine, helper, &[on(q, Selector::Type(9))]);
    send(&mut engine, sender, q, "fills it");
    let sending = send_blocked(&mut engine, sender, q, "waits", Delivery::Queued);

    engine.terminate(dying, Timestamp::ZERO);
    let mut done = completions(&mut engine);
    done.sort_by_key(|(ticket, _)| *ticket);
    let (tickets, mut outcomes): (Vec<_>, Vec<_>) = done.into_iter().unzip();
    assert_eq!(tickets, [receiving, sending]);
    let error = send_failed(outcomes.pop().unwrap());
    assert_eq!(error.kind(), SendErrorKind::Gone);
    assert_eq!(error.into_message(), Some(Message::new("waits")));
    assert_eq!(recv_failed(outcomes.pop().unwrap()), (0, RecvError::Gone));

    let later = try_send(&mut engine, sender, q, "later").unwrap_err();
    assert_eq!(later.kind(), SendErrorKind::Gone);
    assert_eq!(
        try_recv(&mut engine, helper, on(q, Selector::Any)),
        Err(RecvError::Gone)
    );
    assert_eq!(engine.lookup("owned"), None);
    create(&mut engine, sender, "owned", MailboxAttrs::process_owned());
}

#[test]
fn its_system_owned_mailboxes_survive_it() {
    let mut engine = Engine::default();
    let creator = spawn(&mut engine);
    let user = spawn(&mut engine);
    let q = create(&mut engine, creator, "durable", shared());
    engine.open(user, "durable").unwrap();
    send(&mut engine, creator, q, "left behind");
    engine.terminate(creator, Timestamp::ZERO);
    assert_eq!(engine.lookup("durable"), Some(q));
    assert_eq!(
        take(&mut engine, user, on(q, Selector::Any)),
        b"left behind"
    );
}

#[test]
fn receivers_waiting_to_receive_from_it_get_peer_gone_at_once() {
    let mut engine = Engine::default();
    let dying = spawn(&mut engine);
    let in_inbox = spawn(&mut engine);
    let in_mailbox = spawn(&mut engine);
    let q = create(&mut engine, in_mailbox, "q", shared());
    let t_inbox = recv_blocked(&mut engine, in_inbox, &[inbox(Selector::From(dying))]);
    let t_mailbox = recv_blocked(
        &mut engine,
        in_mailbox,
        &[inbox(Selector::Any), on(q, Selector::From(dying))],
    );
    engine.terminate(dying, Timestamp::ZERO);
    let mut done = completions(&mut engine);
    done.sort_by_key(|(ticket, _)| *ticket);
    assert_eq!(done.len(), 2);
    assert_eq!(done[0].0, t_inbox);
    assert_eq!(recv_failed(done[0].1.clone()), (0, RecvError::PeerGone));
    assert_eq!(done[1].0, t_mailbox);
    assert_eq!(recv_failed(done[1].1.clone()), (1, RecvError::PeerGone));
    assert_eq!(engine.stat(in_mailbox, q).unwrap().blocked_receivers, 0);

    // Later, waiting on it fails at once instead of blocking forever.
    let later = engine
        .recv(
            in_inbox,
            &[inbox(Selector::From(dying))],
            Wait::Block,
            Timestamp::ZERO,
        )
        .unwrap_err();
    assert_eq!(later.error, RecvError::PeerGone);
}

#[test]
fn messages_it_sent_before_dying_are_still_delivered_then_recv_from_is_peer_gone() {
    let mut engine = Engine::default();
    let dying = spawn(&mut engine);
    let friend = spawn(&mut engine);
    let owner = spawn(&mut engine);
    let q = create(&mut engine, owner, "q", shared());
    engine.open(dying, "q").unwrap();
    send_to(&mut engine, dying, friend, "first");
    send_to(&mut engine, dying, friend, "second");
    send(&mut engine, dying, q, "to the mailbox");
    // A receipt it still awaited: the message stays, nobody is told.
    send_blocked(&mut engine, dying, q, "with receipt", Delivery::Receipt);

    engine.terminate(dying, Timestamp::ZERO);
    assert!(completions(&mut engine).is_empty());
    assert_eq!(
        take(&mut engine, friend, inbox(Selector::From(dying))),
        b"first"
    );
    assert_eq!(
        take(&mut engine, friend, inbox(Selector::From(dying))),
        b"second"
    );
    assert_eq!(
        try_recv(&mut engine, friend, inbox(Selector::From(dying))),
        Err(RecvError::PeerGone)
    );
    assert_eq!(
        take(&mut engine, owner, on(q, Selector::Any)),
        b"to the mailbox"
    );
    assert_eq!(
        take(&mut engine, owner, on(q, Selector::Any)),
        b"with receipt"
    );
    assert!(completions(&mut engine).is_empty());
}

#[test]
fn senders_waiting_on_its_inbox_get_peer_gone_with_their_messages_back() {
    let mut engine = Engine::new(Limits {
        inbox_capacity: 2,
        ..Limits::default()
    });
    let dying = spawn(&mut engine);
    let sender = spawn(&mut engine);
    let receipt = match engine.send_to(
        sender,
        dying,
        Message::new("rendezvous"),
        Delivery::Receipt,
        Wait::Block,
        Timestamp::ZERO,
    ) {
        Ok(postbox_core::SendOutcome::Blocked(ticket)) => ticket,
        other => panic!("a receipt waits: {other:?}"),
    };
    send_to(&mut engine, sender, dying, "fills the inbox");
    let blocked = match engine.send_to(
        sender,
        dying,
        Message::new("waits for room"),
        Delivery::Queued,
        Wait::Block,
        Timestamp::ZERO,
    ) {
        Ok(postbox_core::SendOutcome::Blocked(ticket)) => ticket,
        other => panic!("a full inbox makes the sender wait: {other:?}"),
    };

    engine.terminate(dying, Timestamp::ZERO);
    let mut done = completions(&mut engine);
    done.sort_by_key(|(ticket, _)| *ticket);
    let (tickets, outcomes): (Vec<_>, Vec<_>) = done.into_iter().unzip();
    assert_eq!(tickets, [receipt, blocked]);
    for (outcome, payload) in outcomes.into_iter().zip(["rendezvous", "waits for room"]) {
        let error = send_failed(outcome);
        assert_eq!(error.kind(), SendErrorKind::PeerGone);
        assert_eq!(error.into_message(), Some(Message::new(payload)));
    }
    let later = engine
        .send_to(
            sender,
            dying,
            Message::new("later"),
            Delivery::Queued,
            Wait::Block,
            Timestamp::ZERO,
        )
        .unwrap_err();
    assert_eq!(later.kind(), SendErrorKind::PeerGone);
    assert_eq!(engine.stats().queued_messages, 0, "its inbox is gone");
}

#[test]
fn a_rendezvous_sender_on_its_zero_capacity_mailbox_gets_gone() {
    let mut engine = Engine::default();
    let dying = spawn(&mut engine);
    let sender = spawn(&mut engine);
    let attrs = MailboxAttrs {
        capacity: Capacity::Zero,
        ..MailboxAttrs::process_owned()
    };
    let q = create(&mut engine, dying, "meet", attrs);
    engine.open(sender, "meet").unwrap();
    let ticket = send_blocked(&mut engine, sender, q, "meet me", Delivery::Queued);
    engine.terminate(dying, Timestamp::ZERO);
    let error = send_failed(only_completion(&mut engine, ticket));
    assert_eq!(error.kind(), SendErrorKind::Gone);
    assert_eq!(error.into_message(), Some(Message::new("meet me")));
}

#[test]
fn monitors_get_a_down_notification_after_its_earlier_messages() {
    let mut engine = Engine::default();
    let dying = spawn(&mut engine);
    let watcher = spawn(&mut engine);
    let other_watcher = spawn(&mut engine);
    engine.monitor(watcher, dying, at(1)).unwrap();
    engine.monitor(other_watcher, dying, at(1)).unwrap();
    send_to(&mut engine, dying, watcher, "one");
    send_to(&mut engine, dying, watcher, "two");
    engine.terminate(dying, at(5));

    let one = try_recv(&mut engine, watcher, inbox(Selector::Any)).unwrap();
    let two = try_recv(&mut engine, watcher, inbox(Selector::Any)).unwrap();
    let down = try_recv(&mut engine, watcher, inbox(Selector::Any)).unwrap();
    assert_eq!((payload(&one), one.is_down()), (b"one".to_vec(), false));
    assert_eq!((payload(&two), two.is_down()), (b"two".to_vec(), false));
    assert!(down.is_down());
    assert_eq!(down.kind, MessageKind::Down);
    assert_eq!((down.sender, down.sent_at), (dying, at(5)));
    assert!(one.seq < two.seq && two.seq < down.seq);
    assert_eq!(
        try_recv(&mut engine, watcher, inbox(Selector::Any)),
        Err(RecvError::Empty),
        "exactly one down notification"
    );

    let other = try_recv(&mut engine, other_watcher, inbox(Selector::Any)).unwrap();
    assert!(other.is_down());
    assert_eq!(other.sender, dying);
}

#[test]
fn a_waiting_monitor_is_woken_by_the_down_notification() {
    let mut engine = Engine::default();
    let dying = spawn(&mut engine);
    let watcher = spawn(&mut engine);
    engine.monitor(watcher, dying, Timestamp::ZERO).unwrap();
    let any = recv_blocked(&mut engine, watcher, &[inbox(Selector::Any)]);
    engine.terminate(dying, Timestamp::ZERO);
    let (_, message) = received(only_completion(&mut engine, any));
    assert!(message.is_down());
    assert_eq!(message.sender, dying);
}

#[test]
fn a_monitor_waiting_on_recv_from_it_gets_the_down_notification_instead_of_peer_gone() {
    let mut engine = Engine::default();
    let dying = spawn(&mut engine);
    let watcher = spawn(&mut engine);
    engine.monitor(watcher, dying, Timestamp::ZERO).unwrap();
    let from = recv_blocked(&mut engine, watcher, &[inbox(Selector::From(dying))]);
    engine.terminate(dying, Timestamp::ZERO);
    let (_, message) = received(only_completion(&mut engine, from));
    assert!(message.is_down());
    assert_eq!(
        try_recv(&mut engine, watcher, inbox(Selector::From(dying))),
        Err(RecvError::PeerGone)
    );
}

#[test]
fn monitoring_a_dead_process_delivers_down_at_once_and_an_unknown_one_is_not_found() {
    let mut engine = Engine::default();
    let dead = spawn(&mut engine);
    let watcher = spawn(&mut engine);
    engine.terminate(dead, at(1));
    engine.monitor(watcher, dead, at(2)).unwrap();
    let down = try_recv(&mut engine, watcher, inbox(Selector::Any)).unwrap();
    assert!(down.is_down());
    assert_eq!(down.sender, dead);
    assert_eq!(
        engine.monitor(watcher, Pid::from_raw(999), at(3)),
        Err(AdminError::NotFound)
    );
}

#[test]
fn monitoring_a_dead_process_again_and_again_leaves_one_notification() {
    let mut engine = Engine::default();
    let dead = spawn(&mut engine);
    let watcher = spawn(&mut engine);
    engine.terminate(dead, at(1));
    for _ in 0..50_000 {
        engine.monitor(watcher, dead, at(2)).unwrap();
    }
    assert_eq!(engine.usage().down_notifications, 1);
    let down = try_recv(&mut engine, watcher, inbox(Selector::Any)).unwrap();
    assert_eq!((down.is_down(), down.sender), (true, dead));
    assert_eq!(
        try_recv(&mut engine, watcher, inbox(Selector::Any)),
        Err(RecvError::Empty)
    );
    // Asked again once the first is taken, it is told again: at most one waits at a time.
    engine.monitor(watcher, dead, at(3)).unwrap();
    assert!(
        try_recv(&mut engine, watcher, inbox(Selector::Any))
            .unwrap()
            .is_down()
    );
}

#[test]
fn a_dead_process_monitored_into_a_full_inbox_is_answered_peer_gone() {
    let mut engine = Engine::new(Limits {
        inbox_capacity: 2,
        ..Limits::default()
    });
    let watcher = spawn(&mut engine);
    let dead: Vec<Pid> = (0..3).map(|_| spawn(&mut engine)).collect();
    for &pid in &dead {
        engine.terminate(pid, at(1));
    }
    engine.monitor(watcher, dead[0], at(2)).unwrap();
    engine.monitor(watcher, dead[1], at(2)).unwrap();
    // The inbox holds its capacity: no third notification is queued, the answer says it.
    assert_eq!(
        engine.monitor(watcher, dead[2], at(2)),
        Err(AdminError::PeerGone)
    );
    assert_eq!(engine.usage().down_notifications, 2);
    // One already queued is still answered as done: monitoring is idempotent.
    assert_eq!(engine.monitor(watcher, dead[0], at(2)), Ok(()));
}

#[test]
fn down_notifications_count_in_the_quota_and_the_inbox() {
    let mut engine = Engine::new(Limits {
        inbox_capacity: 2,
        ..Limits::default()
    });
    let watcher = spawn(&mut engine);
    let sender = spawn(&mut engine);
    let dying = spawn(&mut engine);
    engine.monitor(watcher, dying, at(1)).unwrap();
    send_to(&mut engine, sender, watcher, "one");
    engine.terminate(dying, at(2));
    let usage = engine.usage();
    assert_eq!((usage.queued_messages, usage.down_notifications), (2, 1));
    assert_eq!(usage.quota_used, 2 * postbox_core::MESSAGE_CHARGE + 3);
    // The notification took the inbox's last place: a sender now finds it full.
    let full = engine
        .send_to(
            sender,
            watcher,
            Message::new("two"),
            Delivery::Queued,
            Wait::Try,
            at(3),
        )
        .unwrap_err();
    assert_eq!(full.kind(), SendErrorKind::Full);
}

#[test]
fn demonitor_stops_the_down_notification() {
    let mut engine = Engine::default();
    let dying = spawn(&mut engine);
    let watcher = spawn(&mut engine);
    engine.monitor(watcher, dying, Timestamp::ZERO).unwrap();
    engine.demonitor(watcher, dying).unwrap();
    engine.terminate(dying, Timestamp::ZERO);
    assert_eq!(
        try_recv(&mut engine, watcher, inbox(Selector::Any)),
        Err(RecvError::Empty)
    );
}

#[test]
fn its_own_waiting_operations_vanish_and_the_next_sender_in_line_moves_up() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let dying = spawn(&mut engine);
    let next = spawn(&mut engine);
    let attrs = MailboxAttrs {
        capacity: Capacity::bounded(1, 1024),
        ..shared()
    };
    let q = create(&mut engine, owner, "q", attrs);
    let other = create(&mut engine, owner, "other", shared());
    engine.open(dying, "q").unwrap();
    engine.open(dying, "other").unwrap();
    engine.open(next, "q").unwrap();
    send(&mut engine, owner, q, "queued");
    let dying_send = send_blocked(&mut engine, dying, q, "never", Delivery::Queued);
    let next_send = send_blocked(&mut engine, next, q, "next", Delivery::Queued);
    let dying_recv = recv_blocked(&mut engine, dying, &[on(other, Selector::Any)]);

    engine.terminate(dying, Timestamp::ZERO);
    assert!(
        completions(&mut engine).is_empty(),
        "nobody is told about the dead"
    );
    assert!(!engine.is_waiting(dying_send) && !engine.is_waiting(dying_recv));
    assert_eq!(engine.stat(owner, q).unwrap().blocked_senders, 1);
    assert_eq!(engine.stat(owner, other).unwrap().blocked_receivers, 0);

    assert_eq!(take(&mut engine, owner, on(q, Selector::Any)), b"queued");
    assert_eq!(
        only_completion(&mut engine, next_send),
        postbox_core::Completion::Sent { receiver: None }
    );
    assert_eq!(take(&mut engine, owner, on(q, Selector::Any)), b"next");
    send(&mut engine, owner, other, "kept");
    assert_eq!(engine.stat(owner, other).unwrap().messages, 1);
}

#[test]
fn its_registered_name_and_mailbox_names_are_released() {
    let mut engine = Engine::default();
    let dying = spawn(&mut engine);
    let heir = spawn(&mut engine);
    engine.register(dying, "service").unwrap();
    create(
        &mut engine,
        dying,
        "service-box",
        MailboxAttrs::process_owned(),
    );
    engine.terminate(dying, Timestamp::ZERO);
    assert_eq!(engine.whereis("service"), None);
    engine.register(heir, "service").unwrap();
    assert_eq!(engine.whereis("service"), Some(heir));
    create(
        &mut engine,
        heir,
        "service-box",
        MailboxAttrs::process_owned(),
    );
}

#[test]
fn terminating_twice_or_an_unknown_pid_changes_nothing() {
    let mut engine = Engine::default();
    let dying = spawn(&mut engine);
    let survivor = spawn(&mut engine);
    engine.monitor(survivor, dying, Timestamp::ZERO).unwrap();
    engine.terminate(dying, Timestamp::ZERO);
    assert!(!engine.is_alive(dying));
    engine.terminate(dying, Timestamp::ZERO);
    engine.terminate(Pid::from_raw(999), Timestamp::ZERO);
    assert!(engine.is_alive(survivor));
    assert_eq!(engine.stats().processes, 1);
    assert_eq!(
        engine.processes()[0].inbox_messages,
        1,
        "one down notification"
    );
}

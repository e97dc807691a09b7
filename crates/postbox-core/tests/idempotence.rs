//! Idempotent sends: a send repeated under its producer and number is dropped and answered as
//! the first was; producers are remembered per mailbox, a bounded number of them, and for a
//! durable mailbox in the journal.

mod common;

use common::*;
use postbox_core::{
    Capacity, Change, Completion, Delivery, Durability, Engine, MAX_PRODUCERS_PER_MAILBOX,
    MailboxAttrs, MailboxId, Message, Mode, Pid, ProducerId, ProducerRecord, ProducerSeq, Selector,
    SendErrorKind, SendOutcome, Timestamp, Wait,
};

const P: ProducerId = ProducerId::from_raw(0xfeed);

fn shared() -> MailboxAttrs {
    MailboxAttrs {
        mode: Mode::new(0o666),
        ..MailboxAttrs::system_owned()
    }
}

fn durable() -> MailboxAttrs {
    MailboxAttrs {
        durability: Durability::Disk,
        ..shared()
    }
}

/// Send number `seq` of producer `producer` to `q`, without waiting.
fn send_once(
    engine: &mut Engine,
    from: Pid,
    q: MailboxId,
    producer: ProducerId,
    seq: u64,
    text: &str,
) -> Result<SendOutcome, SendErrorKind> {
    engine
        .send_idempotent(
            from,
            q,
            Message::new(text.to_owned()),
            Delivery::Queued,
            Wait::Try,
            Timestamp::ZERO,
            ProducerSeq::new(producer, seq),
        )
        .map_err(|e| e.kind())
}

/// Every payload queued in `q`, taken in order.
fn drain(engine: &mut Engine, reader: Pid, q: MailboxId) -> Vec<String> {
    std::iter::from_fn(|| try_recv(engine, reader, on(q, Selector::Any)).ok())
        .map(|m| String::from_utf8_lossy(m.payload()).into_owned())
        .collect()
}

fn stats_duplicates(engine: &Engine, owner: Pid, q: MailboxId) -> u64 {
    engine.stat(owner, q).expect("stat").duplicates_dropped
}

#[test]
fn a_repeated_send_is_dropped_and_answered_as_the_first() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let q = create(&mut engine, owner, "q", shared());
    let sent = Ok(SendOutcome::Sent { receiver: None });
    assert_eq!(send_once(&mut engine, owner, q, P, 1, "one"), sent);
    assert_eq!(send_once(&mut engine, owner, q, P, 1, "one again"), sent);
    assert_eq!(send_once(&mut engine, owner, q, P, 2, "two"), sent);
    assert_eq!(
        send_once(&mut engine, owner, q, P, 1, "late"),
        sent,
        "below the highest"
    );
    assert_eq!(stats_duplicates(&engine, owner, q), 2);
    let stats = engine.stat(owner, q).unwrap();
    assert_eq!(stats.total_sent, 2, "duplicates are not sent");
    assert_eq!(drain(&mut engine, owner, q), ["one", "two"]);
}

#[test]
fn a_gap_is_allowed_and_producers_are_independent() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let q = create(&mut engine, owner, "q", shared());
    let other = ProducerId::from_raw(7);
    send_once(&mut engine, owner, q, P, 1, "p1").unwrap();
    send_once(&mut engine, owner, q, P, 10, "p10").unwrap();
    send_once(&mut engine, owner, q, other, 1, "o1").unwrap();
    assert_eq!(drain(&mut engine, owner, q), ["p1", "p10", "o1"]);
    assert_eq!(stats_duplicates(&engine, owner, q), 0);
}

#[test]
fn a_send_that_failed_leaves_no_record_and_its_retry_is_delivered() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let small = MailboxAttrs {
        capacity: Capacity::Bounded {
            messages: 1,
            bytes: 1024,
        },
        ..shared()
    };
    let q = create(&mut engine, owner, "q", small);
    send_once(&mut engine, owner, q, P, 1, "first").unwrap();
    assert_eq!(
        send_once(&mut engine, owner, q, P, 2, "second"),
        Err(SendErrorKind::Full)
    );
    assert_eq!(drain(&mut engine, owner, q), ["first"]);
    send_once(&mut engine, owner, q, P, 2, "second").unwrap();
    assert_eq!(drain(&mut engine, owner, q), ["second"]);
}

#[test]
fn a_send_that_waited_is_recorded_when_accepted_and_not_before() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let small = MailboxAttrs {
        capacity: Capacity::Bounded {
            messages: 1,
            bytes: 1024,
        },
        ..shared()
    };
    let q = create(&mut engine, owner, "q", small);
    let sender = spawn(&mut engine);
    engine.open(sender, "q").unwrap();
    send(&mut engine, owner, q, "filler");
    let stamp = ProducerSeq::new(P, 1);
    let blocked = engine
        .send_idempotent(
            sender,
            q,
            Message::new("waits"),
            Delivery::Queued,
            Wait::Block,
            at(1),
            stamp,
        )
        .unwrap();
    let SendOutcome::Blocked(ticket) = blocked else {
        panic!("expected to wait, got {blocked:?}")
    };
    // Cancelled while waiting: never accepted, so a retry under the same number is no duplicate.
    assert!(engine.cancel(ticket, at(2)).is_some());
    assert_eq!(drain(&mut engine, owner, q), ["filler"]);
    send(&mut engine, owner, q, "filler 2");
    let blocked = engine
        .send_idempotent(
            sender,
            q,
            Message::new("waits"),
            Delivery::Queued,
            Wait::Block,
            at(3),
            stamp,
        )
        .unwrap();
    assert!(matches!(blocked, SendOutcome::Blocked(_)), "{blocked:?}");
    // Room: the waiting send is accepted, and only now is it a duplicate.
    assert_eq!(take(&mut engine, owner, on(q, Selector::Any)), b"filler 2");
    assert!(matches!(
        engine.poll_completion(),
        Some((_, Completion::Sent { receiver: None }))
    ));
    assert_eq!(
        send_once(&mut engine, sender, q, P, 1, "dup"),
        Ok(SendOutcome::Sent { receiver: None })
    );
    assert_eq!(drain(&mut engine, owner, q), ["waits"]);
    assert_eq!(stats_duplicates(&engine, owner, q), 1);
}

#[test]
fn a_duplicate_of_a_rendezvous_is_answered_with_the_receiver_it_reached() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let zero = MailboxAttrs {
        capacity: Capacity::Zero,
        ..shared()
    };
    let q = create(&mut engine, owner, "q", zero);
    let receiver = spawn(&mut engine);
    engine.open(receiver, "q").unwrap();
    let waiting = engine.recv(receiver, &[on(q, Selector::Any)], Wait::Block, at(1));
    assert!(waiting.is_ok());
    let first = send_once(&mut engine, owner, q, P, 4, "hello").unwrap();
    assert_eq!(
        first,
        SendOutcome::Sent {
            receiver: Some(receiver)
        }
    );
    assert_eq!(send_once(&mut engine, owner, q, P, 4, "hello"), Ok(first));
}

#[test]
fn the_least_recently_used_producer_is_forgotten_past_the_bound() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let unbounded = MailboxAttrs {
        capacity: Capacity::Unbounded,
        ..shared()
    };
    let q = create(&mut engine, owner, "q", unbounded);
    for id in 0..MAX_PRODUCERS_PER_MAILBOX as u64 {
        send_once(&mut engine, owner, q, ProducerId::from_raw(id), 1, "x").unwrap();
    }
    // Producer 0 repeats itself (a use), so producer 1 is the least recently used.
    send_once(&mut engine, owner, q, ProducerId::from_raw(0), 1, "x").unwrap();
    let fresh = ProducerId::from_raw(1 << 40);
    send_once(&mut engine, owner, q, fresh, 1, "x").unwrap();
    assert_eq!(stats_duplicates(&engine, owner, q), 1);
    // Producer 1 was forgotten: its repeat is accepted. Producers 0 and 2 are remembered.
    send_once(&mut engine, owner, q, ProducerId::from_raw(1), 1, "x").unwrap();
    assert_eq!(stats_duplicates(&engine, owner, q), 1);
    send_once(&mut engine, owner, q, ProducerId::from_raw(0), 1, "x").unwrap();
    send_once(&mut engine, owner, q, fresh, 1, "x").unwrap();
    assert_eq!(stats_duplicates(&engine, owner, q), 3);
    let sent = engine.stat(owner, q).unwrap().total_sent;
    assert_eq!(sent, MAX_PRODUCERS_PER_MAILBOX as u64 + 2);
}

#[test]
fn the_inbox_deduplicates_too() {
    let mut engine = Engine::default();
    let a = spawn(&mut engine);
    let b = spawn(&mut engine);
    for _ in 0..2 {
        let sent = engine.send_to_idempotent(
            a,
            b,
            Message::new("hi"),
            Delivery::Queued,
            Wait::Try,
            at(1),
            ProducerSeq::new(P, 1),
        );
        assert_eq!(sent, Ok(SendOutcome::Sent { receiver: None }));
    }
    assert_eq!(take(&mut engine, b, inbox(Selector::Any)), b"hi");
    assert!(try_recv(&mut engine, b, inbox(Selector::Any)).is_err());
}

/// The producer records a journal holds, as `(mailbox, producer) -> record`, forgotten ones
/// removed.
fn journaled_producers(
    changes: &[Change],
) -> std::collections::BTreeMap<(MailboxId, ProducerId), ProducerRecord> {
    let mut table = std::collections::BTreeMap::new();
    for change in changes {
        match change {
            Change::Producer {
                mailbox,
                producer,
                record,
            } => {
                table.insert((*mailbox, *producer), *record);
            }
            Change::ProducerForgotten { mailbox, producer } => {
                table.remove(&(*mailbox, *producer));
            }
            _ => {}
        }
    }
    table
}

#[test]
fn a_durable_mailbox_journals_producers_with_the_message_and_restores_them() {
    let mut first = Engine::default();
    first.enable_durability();
    let owner = spawn(&mut first);
    let q = create(&mut first, owner, "q", durable());
    first.drain_journal();
    send_once(&mut first, owner, q, P, 3, "kept").unwrap();
    let journal = first.drain_journal();
    assert!(
        matches!(
            journal.as_slice(),
            [Change::Stored { seq: 0, .. }, Change::Producer { producer, record, .. }]
                if *producer == P && record.seq == 3
        ),
        "the message and its producer in one drain: {journal:?}"
    );
    // A duplicate journals its use, so that its answer waits for the commit of the first.
    send_once(&mut first, owner, q, P, 3, "dup").unwrap();
    let dup = first.drain_journal();
    assert!(
        matches!(dup.as_slice(), [Change::Producer { .. }]),
        "{dup:?}"
    );

    let stats = first.stat(owner, q).unwrap();
    let record = postbox_core::DurableMailbox {
        id: q,
        name: "q".into(),
        attrs: stats.attrs,
        owner: USER,
        quota_uid: USER.uid,
        created: stats.created,
        changed: stats.changed,
    };
    let producers = journaled_producers(&[journal, dup].concat());
    let mut second = Engine::default();
    second.enable_durability();
    second.restore(record, Vec::new(), 1).unwrap();
    let restored = producers
        .into_iter()
        .map(|((_, producer), record)| (producer, record))
        .collect();
    second.restore_producers(q, restored).unwrap();
    let reader = spawn(&mut second);
    second.open(reader, "q").unwrap();
    assert_eq!(
        send_once(&mut second, reader, q, P, 3, "after restart"),
        Ok(SendOutcome::Sent { receiver: None })
    );
    assert_eq!(second.duplicates_dropped(q), Some(1));
    assert!(
        second
            .restore_producers(MailboxId::from_raw(999), Vec::new())
            .is_err(),
        "producers of a mailbox that is not stored"
    );
}

#[test]
fn a_durable_mailbox_journals_a_forgotten_producer() {
    let mut engine = Engine::default();
    engine.enable_durability();
    let owner = spawn(&mut engine);
    let unbounded = MailboxAttrs {
        capacity: Capacity::Unbounded,
        ..durable()
    };
    let q = create(&mut engine, owner, "q", unbounded);
    for id in 0..=MAX_PRODUCERS_PER_MAILBOX as u64 {
        send_once(&mut engine, owner, q, ProducerId::from_raw(id), 1, "x").unwrap();
    }
    let table = journaled_producers(&engine.drain_journal());
    assert_eq!(table.len(), MAX_PRODUCERS_PER_MAILBOX);
    assert!(!table.contains_key(&(q, ProducerId::from_raw(0))));
}

#[test]
fn a_retry_withdraws_its_first_attempt_still_waiting_so_only_one_is_accepted() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let small = MailboxAttrs {
        capacity: Capacity::Bounded {
            messages: 1,
            bytes: 1024,
        },
        ..shared()
    };
    let q = create(&mut engine, owner, "q", small);
    let (first, retry) = (spawn(&mut engine), spawn(&mut engine));
    for pid in [first, retry] {
        engine.open(pid, "q").unwrap();
    }
    send(&mut engine, owner, q, "filler");
    let stamp = ProducerSeq::new(P, 9);
    let attempt = |engine: &mut Engine, pid| {
        let sent = engine.send_idempotent(
            pid,
            q,
            Message::new("once"),
            Delivery::Queued,
            Wait::Block,
            at(1),
            stamp,
        );
        match sent {
            Ok(SendOutcome::Blocked(ticket)) => ticket,
            other => panic!("expected to wait, got {other:?}"),
        }
    };
    let old = attempt(&mut engine, first);
    let new = attempt(&mut engine, retry);
    let Some((ticket, Completion::SendFailed(error))) = engine.poll_completion() else {
        panic!("the first attempt is answered")
    };
    assert_eq!((ticket, error.kind()), (old, SendErrorKind::Disconnected));
    assert_eq!(engine.stat(owner, q).unwrap().blocked_senders, 1);
    // Room for one: the retry is accepted, once.
    assert_eq!(take(&mut engine, owner, on(q, Selector::Any)), b"filler");
    assert!(matches!(engine.poll_completion(), Some((t, Completion::Sent { .. })) if t == new));
    assert_eq!(drain(&mut engine, owner, q), ["once"]);
}

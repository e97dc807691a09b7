//! The journal of durable mailboxes: what the host must make durable, change by change.

mod common;

use common::*;
use postbox_core::{
    Capacity, Change, Durability, Engine, LeaseId, MailboxAttrs, MailboxId, Mode, OpenError,
    Ownership, Received, RecvOutcome, Selector, Settlement, Source, StoredMessage, Wait,
};

fn durable() -> MailboxAttrs {
    MailboxAttrs {
        durability: Durability::Disk,
        mode: Mode::new(0o666),
        ..MailboxAttrs::system_owned()
    }
}

/// An engine whose host keeps durable mailboxes.
fn engine() -> Engine {
    let mut engine = Engine::default();
    engine.enable_durability();
    engine
}

/// The journal as `(kind, seq)` pairs, records left out.
fn changes(engine: &mut Engine) -> Vec<(&'static str, u64)> {
    engine
        .drain_journal()
        .into_iter()
        .filter_map(|change| match change {
            Change::Stored { seq, .. } => Some(("stored", seq)),
            Change::Removed { seq, .. } => Some(("removed", seq)),
            Change::Deleted(_) => Some(("deleted", 0)),
            Change::Mailbox(_) | Change::Producer { .. } | Change::ProducerForgotten { .. } => None,
        })
        .collect()
}

fn lease(engine: &mut Engine, pid: postbox_core::Pid, q: MailboxId) -> Received {
    match engine.lease(pid, &[on(q, Selector::Any)], Wait::Try, at(5)) {
        Ok(RecvOutcome::Received { message, .. }) => message,
        other => panic!("expected a leased message, got {other:?}"),
    }
}

#[test]
fn creating_a_durable_mailbox_journals_its_record() {
    let mut engine = engine();
    let owner = spawn(&mut engine);
    let q = create(&mut engine, owner, "q", durable());
    let journal = engine.drain_journal();
    let [Change::Mailbox(record)] = journal.as_slice() else {
        panic!("expected the record alone, got {journal:?}");
    };
    assert_eq!((record.id, record.name.as_str()), (q, "q"));
    assert_eq!(record.owner, USER);
    engine.set_mode(owner, q, Mode::new(0o600), at(2)).unwrap();
    assert!(
        matches!(engine.drain_journal().as_slice(), [Change::Mailbox(r)] if r.attrs.mode == Mode::new(0o600))
    );
}

#[test]
fn a_message_is_stored_until_it_leaves_for_good() {
    let mut engine = engine();
    let owner = spawn(&mut engine);
    let q = create(&mut engine, owner, "q", durable());
    engine.drain_journal();
    send(&mut engine, owner, q, "one");
    send(&mut engine, owner, q, "two");
    assert_eq!(changes(&mut engine), [("stored", 0), ("stored", 1)]);
    take(&mut engine, owner, on(q, Selector::Any));
    assert_eq!(changes(&mut engine), [("removed", 0), ("removed", 0)]);

    // On lease it stays stored (with its delivery count) until acknowledged.
    let got = lease(&mut engine, owner, q);
    let journal = engine.drain_journal();
    assert!(
        matches!(
            journal.as_slice(),
            [
                Change::Removed { seq: 1, .. },
                Change::Stored {
                    seq: 1,
                    message: StoredMessage { deliveries: 1, .. },
                    ..
                }
            ]
        ),
        "{journal:?}"
    );
    engine
        .settle(
            owner,
            Source::Mailbox(q),
            &[LeaseId::from(&got)],
            Settlement::Ack,
            at(6),
        )
        .unwrap();
    assert_eq!(changes(&mut engine), [("removed", 1)]);
}

#[test]
fn a_returned_lease_stays_stored_and_a_delete_forgets_everything() {
    let mut engine = engine();
    let owner = spawn(&mut engine);
    let q = create(&mut engine, owner, "q", durable());
    send(&mut engine, owner, q, "one");
    let got = lease(&mut engine, owner, q);
    engine.drain_journal();
    engine
        .settle(
            owner,
            Source::Mailbox(q),
            &[LeaseId::from(&got)],
            Settlement::Return,
            at(6),
        )
        .unwrap();
    assert_eq!(changes(&mut engine), [], "back in the queue, still stored");
    engine.delete(owner, q).unwrap();
    assert_eq!(changes(&mut engine), [("deleted", 0)]);
}

#[test]
fn without_a_store_a_durable_mailbox_is_refused() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    assert!(matches!(
        engine.create(owner, "q", durable(), at(0)),
        Err(OpenError::InvalidAttributes(why)) if why.contains("state directory")
    ));
}

#[test]
fn memory_mailboxes_journal_nothing() {
    let mut engine = engine();
    let owner = spawn(&mut engine);
    let q = create(&mut engine, owner, "q", MailboxAttrs::system_owned());
    send(&mut engine, owner, q, "one");
    take(&mut engine, owner, on(q, Selector::Any));
    engine.delete(owner, q).unwrap();
    assert!(!engine.has_journal());
}

#[test]
fn a_durable_mailbox_is_system_owned_and_can_hold_messages() {
    let mut engine = engine();
    let owner = spawn(&mut engine);
    let process_owned = MailboxAttrs {
        ownership: Ownership::Process,
        ..durable()
    };
    assert!(matches!(
        engine.create(owner, "a", process_owned, at(0)),
        Err(OpenError::InvalidAttributes(why)) if why.contains("system-owned")
    ));
    let rendezvous = MailboxAttrs {
        capacity: Capacity::Zero,
        ..durable()
    };
    assert!(matches!(
        engine.create(owner, "b", rendezvous, at(0)),
        Err(OpenError::InvalidAttributes(why)) if why.contains("zero-capacity")
    ));
}

#[test]
fn restore_rebuilds_a_mailbox_with_its_id_sequence_numbers_and_messages() {
    let mut first = engine();
    let owner = spawn(&mut first);
    let q = create(&mut first, owner, "q", durable());
    for text in ["a", "b", "c"] {
        send(&mut first, owner, q, text);
    }
    take(&mut first, owner, on(q, Selector::Any));
    let mut record = None;
    let mut stored = std::collections::BTreeMap::new();
    for change in first.drain_journal() {
        match change {
            Change::Mailbox(r) => record = Some(r),
            Change::Stored { seq, message, .. } => {
                stored.insert(seq, message);
            }
            Change::Removed { seq, .. } => {
                stored.remove(&seq);
            }
            Change::Deleted(_) | Change::Producer { .. } | Change::ProducerForgotten { .. } => {
                unreachable!()
            }
        }
    }

    let mut second = engine();
    second
        .restore(record.expect("journaled"), stored.into_iter().collect(), 3)
        .unwrap();
    let reader = spawn(&mut second);
    let id = second.open(reader, "q").unwrap();
    assert_eq!(id, q, "the same id");
    assert_eq!(take(&mut second, reader, on(id, Selector::Any)), b"b");
    send(&mut second, reader, id, "d");
    let rest: Vec<u64> =
        std::iter::from_fn(|| try_recv(&mut second, reader, on(id, Selector::Any)).ok())
            .map(|m| m.seq)
            .collect();
    assert_eq!(rest, [2, 3], "numbering goes on where it stopped");
    let other = create(&mut second, reader, "other", MailboxAttrs::system_owned());
    assert!(
        other.as_raw() > q.as_raw(),
        "new ids never reuse a restored one"
    );
}

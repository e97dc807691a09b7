//! Durable mailboxes restored with a tail on disk: what the engine counts, asks for and answers
//! while most of a queue is on the host's disk.

mod common;

use std::collections::BTreeMap;

use common::*;
use postbox_core::{
    Capacity, Change, DiskTail, Durability, DurableMailbox, Engine, LeaseId, MailboxAttrs,
    MailboxId, Message, Mode, Need, Order, PageIn, Pid, RecvError, ResidentBudget, Selector,
    SendErrorKind, Settlement, Source, StoredMessage, Timestamp,
};

const ID: MailboxId = MailboxId::from_raw(7);

fn attrs(capacity: Capacity) -> MailboxAttrs {
    MailboxAttrs {
        durability: Durability::Disk,
        capacity,
        mode: Mode::new(0o666),
        ..MailboxAttrs::system_owned()
    }
}

fn record(attrs: MailboxAttrs) -> DurableMailbox {
    DurableMailbox {
        id: ID,
        name: "jobs".to_owned(),
        attrs,
        owner: USER,
        quota_uid: USER.uid,
        created: Timestamp::ZERO,
        changed: Timestamp::ZERO,
    }
}

/// Message `seq` as stored: its payload names it, its type is `seq % 3 + 1`.
fn stored(seq: u64) -> StoredMessage {
    StoredMessage {
        message: Message::new(format!("m{seq}")).with_type(seq as i64 % 3 + 1),
        sender: Pid::from_raw(900),
        sent_at: Timestamp::ZERO,
        deliveries: 0,
    }
}

/// What the host's store holds of the mailbox, kept up to date from the journal.
struct Disk {
    messages: BTreeMap<u64, StoredMessage>,
}

impl Disk {
    fn new(count: u64) -> Disk {
        Disk {
            messages: (0..count).map(|seq| (seq, stored(seq))).collect(),
        }
    }

    /// Applies the journal, as the host's store does.
    fn commit(&mut self, engine: &mut Engine) {
        for change in engine.drain_journal() {
            match change {
                Change::Stored { seq, message, .. } => {
                    self.messages.insert(seq, message);
                }
                Change::Removed { seq, .. } => {
                    self.messages.remove(&seq);
                }
                Change::Deleted(_) => self.messages.clear(),
                _ => {}
            }
        }
    }

    /// What a page-in reads.
    fn read(&self, page: PageIn) -> Vec<(u64, StoredMessage)> {
        let mut bytes = 0;
        let mut out = Vec::new();
        for (&seq, message) in self.messages.range(page.from_seq..) {
            let len = message.message.len();
            if out.len() == page.max_messages || (!out.is_empty() && bytes + len > page.max_bytes) {
                break;
            }
            bytes += len;
            out.push((seq, message.clone()));
        }
        out
    }

    /// Serves every page-in the engine asks for after an operation.
    fn pump(&mut self, engine: &mut Engine) {
        self.commit(engine);
        while let Some(page) = engine.next_page_in() {
            engine
                .page_in(page.mailbox, self.read(page), Timestamp::ZERO)
                .expect("page-in");
        }
    }

    /// Serves what an operation needs before it runs.
    fn before(&mut self, engine: &mut Engine, need: Need) {
        self.commit(engine);
        if let Some(page) = engine.page_in_before(ID, need) {
            engine
                .page_in(page.mailbox, self.read(page), Timestamp::ZERO)
                .expect("page-in");
        }
    }
}

/// An engine holding `count` stored messages of "jobs" with `resident` of them in memory and
/// the rest on disk, its budget `resident` messages; a process that has it open.
fn restored(count: u64, resident: u64, capacity: Capacity) -> (Engine, Disk, Pid) {
    let disk = Disk::new(count);
    let mut engine = Engine::default();
    engine.enable_durability();
    engine.set_resident_budget(ResidentBudget {
        messages: resident.max(1) as usize,
        bytes: 1 << 20,
    });
    let first: Vec<_> = disk
        .messages
        .range(..resident)
        .map(|(&seq, message)| (seq, message.clone()))
        .collect();
    let rest = disk.messages.range(resident..);
    let tail = DiskTail {
        first_seq: resident,
        messages: rest.clone().count(),
        bytes: rest.map(|(_, message)| message.message.len()).sum(),
    };
    engine
        .restore_with_tail(record(attrs(capacity)), first, Some(tail), count)
        .expect("restore");
    let pid = spawn(&mut engine);
    engine.open(pid, "jobs").expect("open");
    (engine, disk, pid)
}

fn queued(engine: &Engine, pid: Pid) -> (usize, usize) {
    let stats = engine.stat(pid, ID).expect("stat");
    (stats.messages, stats.bytes)
}

fn payload_of(seq: u64) -> Vec<u8> {
    format!("m{seq}").into_bytes()
}

#[test]
fn the_tail_counts_in_length_bytes_capacity_and_quota() {
    let capacity = Capacity::Bounded {
        messages: 20,
        bytes: 1 << 20,
    };
    let (mut engine, disk, pid) = restored(20, 4, capacity);
    let bytes: usize = disk.messages.values().map(|m| m.message.len()).sum();
    assert_eq!(queued(&engine, pid), (20, bytes));
    assert_eq!(
        engine.disk_tail(ID),
        Some(DiskTail {
            first_seq: 4,
            messages: 16,
            bytes: bytes - 8
        })
    );
    let usage = engine.usage();
    assert_eq!(usage.queued_messages, 20);
    assert_eq!(
        usage.held_charge, usage.quota_used,
        "the quota counts the tail"
    );
    assert_eq!(engine.stats().queued_messages, 20);
    let full = try_send(&mut engine, pid, ID, "one more").unwrap_err();
    assert_eq!(full.kind(), SendErrorKind::Full, "capacity counts the tail");
}

#[test]
fn receiving_everything_pages_in_in_order_and_sends_made_meanwhile_follow() {
    let (mut engine, mut disk, pid) = restored(40, 4, Capacity::Unbounded);
    let mut expected: Vec<u64> = (0..40).collect();
    let mut got = Vec::new();
    for round in 0..41u64 {
        if round % 10 == 0 {
            let seq = 40 + round / 10;
            send(&mut engine, pid, ID, format!("m{seq}"));
            expected.push(seq);
            assert!(
                engine.disk_tail(ID).is_some(),
                "a send behind the tail extends it"
            );
        }
        disk.before(&mut engine, Need::receive(Selector::Any, 1));
        let message = try_recv(&mut engine, pid, on(ID, Selector::Any)).expect("a message");
        assert_eq!(payload(&message), payload_of(message.seq));
        got.push(message.seq);
        disk.pump(&mut engine);
        let (messages, _) = queued(&engine, pid);
        let on_disk = engine.disk_tail(ID).map_or(0, |tail| tail.messages);
        assert!(
            messages - on_disk <= 4,
            "at most the budget in memory: {}",
            messages - on_disk
        );
    }
    while let Ok(message) = try_recv(&mut engine, pid, on(ID, Selector::Any)) {
        got.push(message.seq);
        disk.pump(&mut engine);
    }
    assert_eq!(got, expected, "every message once, in order");
    assert_eq!(engine.disk_tail(ID), None);
    assert!(
        disk.messages.is_empty(),
        "every message removed from the store"
    );
    assert_eq!(engine.usage().queued_messages, 0);
}

#[test]
fn a_receiver_waiting_while_every_message_is_on_disk_is_served_by_the_page_in() {
    let (mut engine, mut disk, pid) = restored(5, 0, Capacity::Unbounded);
    let ticket = recv_blocked(&mut engine, pid, &[on(ID, Selector::Any)]);
    // A send now must not overtake the five on disk.
    let sender = spawn(&mut engine);
    engine.open(sender, "jobs").unwrap();
    send(&mut engine, sender, ID, "m5");
    assert!(completions(&mut engine).is_empty(), "nothing in memory yet");
    assert_eq!(queued(&engine, pid).0, 6);
    disk.pump(&mut engine);
    let (_, message) = received(only_completion(&mut engine, ticket));
    assert_eq!(message.seq, 0, "the oldest, from disk");
    let rest: Vec<u64> = std::iter::from_fn(|| {
        let message = try_recv(&mut engine, pid, on(ID, Selector::Any)).ok();
        disk.pump(&mut engine);
        message.map(|m| m.seq)
    })
    .collect();
    assert_eq!(rest, [1, 2, 3, 4, 5]);
}

#[test]
fn a_typed_receive_over_a_tail_needs_the_whole_queue_and_finds_what_was_on_disk() {
    let (mut engine, mut disk, pid) = restored(30, 4, Capacity::Unbounded);
    assert_eq!(
        engine.page_in_before(ID, Need::receive(Selector::Any, 3)),
        None,
        "the first messages are in memory"
    );
    assert_eq!(
        engine.page_in_before(ID, Need::receive(Selector::Any, 6)),
        Some(PageIn {
            mailbox: ID,
            from_seq: 4,
            max_messages: 2,
            max_bytes: usize::MAX
        })
    );
    // Types cycle 1, 2, 3; none of type 4 is stored, so add one on disk behind the tail.
    send(&mut engine, pid, ID, Message::new("m30").with_type(4));
    disk.commit(&mut engine);
    assert_eq!(
        try_recv(&mut engine, pid, on(ID, Selector::Type(4))).unwrap_err(),
        RecvError::Empty,
        "in memory alone there is no such message: hence the page-in first"
    );
    let need = Need::receive(Selector::Type(4), 1);
    assert_eq!(need, Need::Whole);
    disk.before(&mut engine, need);
    assert_eq!(engine.disk_tail(ID), None, "everything is in memory now");
    let message = try_recv(&mut engine, pid, on(ID, Selector::Type(4))).expect("found");
    assert_eq!(message.seq, 30);
    let peeked = engine
        .peek(pid, Source::Mailbox(ID), Selector::TypeAtMost(1), 100)
        .unwrap();
    assert_eq!(peeked.len(), 10, "every type-1 message: 0, 3, ..., 27");
}

#[test]
fn a_page_in_that_is_not_the_tail_is_refused_and_changes_nothing() {
    let (mut engine, disk, pid) = restored(10, 2, Capacity::Unbounded);
    let before = (queued(&engine, pid), engine.disk_tail(ID));
    let now = Timestamp::ZERO;
    assert!(engine.page_in(ID, Vec::new(), now).is_err(), "nothing read");
    assert!(
        engine.page_in(ID, vec![(1, stored(1))], now).is_err(),
        "before the tail"
    );
    assert!(
        engine
            .page_in(ID, vec![(5, stored(5)), (4, stored(4))], now)
            .is_err(),
        "out of order"
    );
    let too_many: Vec<_> = (2..12).map(|seq| (seq, stored(seq))).collect();
    assert!(
        engine.page_in(ID, too_many, now).is_err(),
        "more than on disk"
    );
    assert_eq!((queued(&engine, pid), engine.disk_tail(ID)), before);
    assert_eq!(disk.messages.len(), 10);
}

#[test]
fn a_returned_lease_goes_back_before_the_tail() {
    let (mut engine, mut disk, pid) = restored(10, 2, Capacity::Unbounded);
    let first = match engine.lease(
        pid,
        &[on(ID, Selector::Any)],
        postbox_core::Wait::Try,
        at(1),
    ) {
        Ok(postbox_core::RecvOutcome::Received { message, .. }) => message,
        other => panic!("{other:?}"),
    };
    disk.pump(&mut engine);
    engine
        .settle(
            pid,
            Source::Mailbox(ID),
            &[LeaseId::from(&first)],
            Settlement::Return,
            at(2),
        )
        .unwrap();
    disk.pump(&mut engine);
    let again = try_recv(&mut engine, pid, on(ID, Selector::Any)).unwrap();
    assert_eq!((again.seq, again.attempt), (0, 2));
}

#[test]
fn deleting_a_mailbox_with_a_tail_releases_what_it_counted() {
    let (mut engine, mut disk, pid) = restored(10, 2, Capacity::Unbounded);
    engine.delete(pid, ID).unwrap();
    disk.commit(&mut engine);
    assert!(
        disk.messages.is_empty(),
        "the store drops them with the mailbox"
    );
    let usage = engine.usage();
    assert_eq!((usage.queued_messages, usage.quota_used), (0, 0));
    assert_eq!(engine.next_page_in(), None);
}

#[test]
fn only_fifo_mailboxes_that_block_may_keep_a_tail() {
    let mut engine = Engine::default();
    engine.enable_durability();
    let tail = DiskTail {
        first_seq: 0,
        messages: 1,
        bytes: 2,
    };
    let priority = MailboxAttrs {
        order: Order::Priority,
        ..attrs(Capacity::Unbounded)
    };
    assert!(
        engine
            .restore_with_tail(record(priority), Vec::new(), Some(tail), 1)
            .is_err()
    );
    let fifo = attrs(Capacity::Unbounded);
    assert!(
        engine
            .restore_with_tail(record(fifo), vec![(0, stored(0))], Some(tail), 1)
            .is_err(),
        "a tail must start after the messages in memory"
    );
    engine
        .restore_with_tail(record(fifo), Vec::new(), Some(tail), 1)
        .unwrap();
    assert_eq!(engine.disk_tail(ID), Some(tail));
}

/// One step of the equivalence property.
#[derive(Clone, Debug)]
enum Op {
    Send(i64),
    Recv(Selector),
    Lease,
    Settle(Settlement),
    Peek(Selector, usize),
    Purge,
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    let selector = prop_oneof![
        4 => Just(Selector::Any),
        1 => (1i64..=3).prop_map(Selector::Type),
        1 => (1i64..=3).prop_map(Selector::NotType),
        1 => (1i64..=3).prop_map(Selector::TypeAtMost),
    ];
    prop_oneof![
        4 => (1i64..=3).prop_map(Op::Send),
        6 => selector.clone().prop_map(Op::Recv),
        2 => Just(Op::Lease),
        1 => Just(Op::Settle(Settlement::Ack)),
        1 => Just(Op::Settle(Settlement::Return)),
        1 => (selector, 1usize..=12).prop_map(|(s, n)| Op::Peek(s, n)),
        1 => Just(Op::Purge),
    ]
}

/// What an operation answered, for comparing two engines.
type Answer = String;

/// Carries out `op` on `engine` for `pid`, tracking its leases; `disk` (when paging) serves
/// what the engine needs before and after, as the daemon does.
fn apply(
    engine: &mut Engine,
    pid: Pid,
    leases: &mut Vec<LeaseId>,
    disk: Option<&mut Disk>,
    op: &Op,
) -> Answer {
    let need = match op {
        Op::Recv(selector) => Some(Need::receive(*selector, 1)),
        Op::Lease => Some(Need::First(1)),
        Op::Peek(selector, max) => Some(Need::receive(*selector, *max)),
        Op::Purge => Some(Need::Whole),
        Op::Send(_) | Op::Settle(_) => None,
    };
    let mut disk = disk;
    if let (Some(disk), Some(need)) = (disk.as_deref_mut(), need) {
        disk.before(engine, need);
    }
    let now = at(1);
    let answer = match op {
        Op::Send(mtype) => format!(
            "{:?}",
            engine.send(
                pid,
                ID,
                Message::new(format!("t{mtype}")).with_type(*mtype),
                postbox_core::Delivery::Queued,
                postbox_core::Wait::Try,
                now,
            )
        ),
        Op::Recv(selector) => format!("{:?}", try_recv(engine, pid, on(ID, *selector))),
        Op::Lease => {
            let got = engine.lease(pid, &[on(ID, Selector::Any)], postbox_core::Wait::Try, now);
            if let Ok(postbox_core::RecvOutcome::Received { message, .. }) = &got {
                leases.push(LeaseId::from(message));
            }
            format!("{got:?}")
        }
        Op::Settle(settlement) => match leases.first().copied() {
            Some(lease) => {
                leases.remove(0);
                format!(
                    "{:?}",
                    engine.settle(pid, Source::Mailbox(ID), &[lease], *settlement, now)
                )
            }
            None => "no lease".to_owned(),
        },
        Op::Peek(selector, max) => {
            format!(
                "{:?}",
                engine.peek(pid, Source::Mailbox(ID), *selector, *max)
            )
        }
        Op::Purge => format!("{:?}", engine.purge(pid, ID, now)),
    };
    match disk {
        Some(disk) => disk.pump(engine),
        None => {
            engine.drain_journal();
        }
    }
    let stats = engine.stat(pid, ID).expect("stat");
    format!(
        "{answer} / {} messages, {} bytes",
        stats.messages, stats.bytes
    )
}

proptest::proptest! {
    /// A mailbox restored with most of its messages on disk answers every operation exactly as
    /// one restored with everything in memory.
    #[test]
    fn a_paged_mailbox_answers_as_one_wholly_in_memory(
        stored_count in 0u64..40,
        budget in 1u64..6,
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        let (mut paged, mut disk, pid) = restored(stored_count, budget.min(stored_count), Capacity::Unbounded);
        let mut whole = Engine::default();
        whole.enable_durability();
        let everything: Vec<_> = (0..stored_count).map(|seq| (seq, stored(seq))).collect();
        whole.restore(record(attrs(Capacity::Unbounded)), everything, stored_count).unwrap();
        let whole_pid = spawn(&mut whole);
        whole.open(whole_pid, "jobs").unwrap();
        proptest::prop_assert_eq!(whole_pid, pid);
        let (mut paged_leases, mut whole_leases) = (Vec::new(), Vec::new());
        for (step, op) in ops.iter().enumerate() {
            let expected = apply(&mut whole, pid, &mut whole_leases, None, op);
            let got = apply(&mut paged, pid, &mut paged_leases, Some(&mut disk), op);
            proptest::prop_assert_eq!(&got, &expected, "step {} {:?}", step, op);
            proptest::prop_assert_eq!(paged.usage().quota_used, whole.usage().quota_used);
        }
    }
}

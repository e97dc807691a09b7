//! Redelivery: lease times, attempts, the most deliveries of a message and dead-letter
//! mailboxes — what a mailbox does about receivers that never acknowledge.

mod common;

use std::time::Duration;

use common::*;
use postbox_core::{
    Capacity, Dispatch, Engine, LeaseId, MailboxAttrs, MailboxId, Mode, OpenError, Pid, Received,
    Receivers, RecvOutcome, Redelivery, Selector, Settlement, Source, Wait,
};

fn shared(redelivery: Redelivery) -> MailboxAttrs {
    MailboxAttrs {
        receivers: Receivers::Shared(Dispatch::FirstWaiting),
        mode: Mode::new(0o666),
        redelivery,
        ..MailboxAttrs::system_owned()
    }
}

fn lease_at(engine: &mut Engine, pid: Pid, q: MailboxId, now: u64) -> Received {
    match engine.lease(pid, &[on(q, Selector::Any)], Wait::Try, at(now)) {
        Ok(RecvOutcome::Received { message, .. }) => message,
        other => panic!("expected a leased message, got {other:?}"),
    }
}

fn settle(engine: &mut Engine, pid: Pid, q: MailboxId, lease: &Received, how: Settlement) -> usize {
    engine
        .settle(pid, Source::Mailbox(q), &[LeaseId::from(lease)], how, at(0))
        .expect("settle")
}

const SECOND: Duration = Duration::from_secs(1);
const NANOS_PER_SECOND: u64 = 1_000_000_000;

#[test]
fn a_lease_ends_by_itself_after_the_lease_time_and_the_message_comes_back() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let q = create(
        &mut engine,
        owner,
        "q",
        shared(Redelivery {
            lease_time: Some(SECOND),
            ..Redelivery::default()
        }),
    );
    send(&mut engine, owner, q, "work");
    assert_eq!(engine.next_lease_expiry(), None, "nothing leased yet");
    let first = lease_at(&mut engine, owner, q, 100);
    assert_eq!(first.attempt, 1);
    assert_eq!(engine.next_lease_expiry(), Some(at(100 + NANOS_PER_SECOND)));

    assert_eq!(
        engine.expire_leases(at(99 + NANOS_PER_SECOND)),
        0,
        "not yet"
    );
    assert_eq!(engine.leased(q), 1);
    assert_eq!(engine.expire_leases(at(100 + NANOS_PER_SECOND)), 1);
    assert_eq!((engine.leased(q), engine.next_lease_expiry()), (0, None));

    let again = try_recv(&mut engine, owner, on(q, Selector::Any)).unwrap();
    assert_eq!((again.seq, again.attempt), (first.seq, 2));
}

#[test]
fn an_expired_lease_goes_to_a_waiting_receiver_first() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let other = spawn(&mut engine);
    let redelivery = Redelivery {
        lease_time: Some(SECOND),
        ..Redelivery::default()
    };
    let q = create(&mut engine, owner, "q", shared(redelivery));
    engine.open(other, "q").unwrap();
    send(&mut engine, owner, q, "work");
    lease_at(&mut engine, owner, q, 0);
    let waiting = recv_blocked(&mut engine, other, &[on(q, Selector::Any)]);
    engine.expire_leases(at(NANOS_PER_SECOND));
    let (_, got) = received(only_completion(&mut engine, waiting));
    assert_eq!((payload(&got), got.attempt), (b"work".to_vec(), 2));
}

#[test]
fn a_late_settlement_of_an_expired_attempt_settles_nothing_not_even_for_the_same_holder() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let redelivery = Redelivery {
        lease_time: Some(SECOND),
        ..Redelivery::default()
    };
    let q = create(&mut engine, owner, "q", shared(redelivery));
    send(&mut engine, owner, q, "work");
    let first = lease_at(&mut engine, owner, q, 0);
    engine.expire_leases(at(NANOS_PER_SECOND));
    let second = lease_at(&mut engine, owner, q, NANOS_PER_SECOND);
    assert_eq!((second.seq, second.attempt), (first.seq, 2));

    assert_eq!(settle(&mut engine, owner, q, &first, Settlement::Ack), 0);
    assert_eq!(engine.leased(q), 1, "the second attempt is still on lease");
    assert_eq!(settle(&mut engine, owner, q, &second, Settlement::Ack), 1);
    assert_eq!(engine.leased(q), 0);
    assert_eq!(engine.expire_leases(at(10 * NANOS_PER_SECOND)), 0);
}

#[test]
fn a_settled_or_returned_lease_never_expires_later() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let redelivery = Redelivery {
        lease_time: Some(SECOND),
        ..Redelivery::default()
    };
    let q = create(&mut engine, owner, "q", shared(redelivery));
    send(&mut engine, owner, q, "one");
    send(&mut engine, owner, q, "two");
    let one = lease_at(&mut engine, owner, q, 0);
    let two = lease_at(&mut engine, owner, q, 0);
    settle(&mut engine, owner, q, &one, Settlement::Ack);
    settle(&mut engine, owner, q, &two, Settlement::Return);
    assert_eq!(engine.next_lease_expiry(), None);
    assert_eq!(engine.expire_leases(at(5 * NANOS_PER_SECOND)), 0);
    let left = try_recv(&mut engine, owner, on(q, Selector::Any)).unwrap();
    assert_eq!((payload(&left), left.attempt), (b"two".to_vec(), 2));
}

#[test]
fn without_a_lease_time_a_lease_lasts_until_settled() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let q = create(&mut engine, owner, "q", shared(Redelivery::default()));
    send(&mut engine, owner, q, "work");
    lease_at(&mut engine, owner, q, 0);
    assert_eq!(engine.next_lease_expiry(), None);
    assert_eq!(engine.expire_leases(at(u64::MAX)), 0);
    assert_eq!(engine.leased(q), 1);
}

#[test]
fn after_its_most_deliveries_a_message_moves_to_the_dead_letter_mailbox() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let dead = create(&mut engine, owner, "dead", shared(Redelivery::default()));
    let q = create(
        &mut engine,
        owner,
        "q",
        shared(Redelivery {
            max_deliveries: Some(2),
            dead_letter: Some(dead),
            ..Redelivery::default()
        }),
    );
    send(&mut engine, owner, q, "poison");
    let first = lease_at(&mut engine, owner, q, 0);
    settle(&mut engine, owner, q, &first, Settlement::Return);
    let second = lease_at(&mut engine, owner, q, 0);
    assert_eq!(second.attempt, 2);
    settle(&mut engine, owner, q, &second, Settlement::Return);

    let stat = engine.stat(owner, q).unwrap();
    assert_eq!(
        (stat.messages, stat.leased, stat.dead_lettered, stat.dropped),
        (0, 0, 1, 0)
    );
    let moved = try_recv(&mut engine, owner, on(dead, Selector::Any)).unwrap();
    assert_eq!(
        (payload(&moved), moved.sender, moved.attempt),
        (b"poison".to_vec(), owner, 1),
        "the same payload from the same sender, its deliveries counted afresh"
    );
    assert_eq!(engine.stats().total_dead_lettered, 1);
}

#[test]
fn after_its_most_deliveries_without_a_dead_letter_mailbox_a_message_is_dropped_and_counted() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let q = create(
        &mut engine,
        owner,
        "q",
        shared(Redelivery {
            max_deliveries: Some(1),
            ..Redelivery::default()
        }),
    );
    send(&mut engine, owner, q, "poison");
    let got = lease_at(&mut engine, owner, q, 0);
    settle(&mut engine, owner, q, &got, Settlement::Return);
    let stat = engine.stat(owner, q).unwrap();
    assert_eq!(
        (stat.messages, stat.dropped, stat.total_received),
        (0, 1, 0)
    );
    assert_eq!(engine.stats().total_dropped, 1);
}

#[test]
fn a_dead_letter_mailbox_that_cannot_take_the_message_leaves_it_where_it_is() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let dead = create(
        &mut engine,
        owner,
        "dead",
        MailboxAttrs {
            capacity: Capacity::bounded(1, 1024),
            ..shared(Redelivery::default())
        },
    );
    let q = create(
        &mut engine,
        owner,
        "q",
        shared(Redelivery {
            max_deliveries: Some(1),
            dead_letter: Some(dead),
            ..Redelivery::default()
        }),
    );
    send(&mut engine, owner, dead, "filler");
    send(&mut engine, owner, q, "poison");
    let got = lease_at(&mut engine, owner, q, 0);
    settle(&mut engine, owner, q, &got, Settlement::Return);
    let stat = engine.stat(owner, q).unwrap();
    assert_eq!(
        (stat.messages, stat.dead_lettered, stat.dropped),
        (1, 0, 0),
        "full: the message stays, nothing lost"
    );

    // Room again: the next return moves it.
    take(&mut engine, owner, on(dead, Selector::Any));
    let got = lease_at(&mut engine, owner, q, 0);
    assert_eq!(got.attempt, 2);
    settle(&mut engine, owner, q, &got, Settlement::Return);
    assert_eq!(engine.stat(owner, q).unwrap().dead_lettered, 1);
    assert_eq!(take(&mut engine, owner, on(dead, Selector::Any)), b"poison");
}

#[test]
fn a_dead_letter_mailbox_whose_mode_no_longer_lets_the_owner_send_keeps_nothing() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let stranger = engine.spawn(postbox_core::Credentials::new(2000, 2000), at(0));
    let dead = create(&mut engine, stranger, "dead", shared(Redelivery::default()));
    let q = create(
        &mut engine,
        owner,
        "q",
        shared(Redelivery {
            max_deliveries: Some(1),
            dead_letter: Some(dead),
            ..Redelivery::default()
        }),
    );
    engine
        .set_mode(stranger, dead, Mode::new(0o600), at(1))
        .unwrap();
    send(&mut engine, owner, q, "poison");
    let got = lease_at(&mut engine, owner, q, 0);
    settle(&mut engine, owner, q, &got, Settlement::Return);
    let stat = engine.stat(owner, q).unwrap();
    assert_eq!((stat.messages, stat.dead_lettered), (1, 0));
    assert_eq!(engine.stat(stranger, dead).unwrap().messages, 0);
}

#[test]
fn an_expired_last_delivery_is_dead_lettered_too() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let dead = create(&mut engine, owner, "dead", shared(Redelivery::default()));
    let q = create(
        &mut engine,
        owner,
        "q",
        shared(Redelivery {
            lease_time: Some(SECOND),
            max_deliveries: Some(1),
            dead_letter: Some(dead),
        }),
    );
    send(&mut engine, owner, q, "slow");
    lease_at(&mut engine, owner, q, 0);
    assert_eq!(engine.expire_leases(at(NANOS_PER_SECOND)), 1);
    assert_eq!(take(&mut engine, owner, on(dead, Selector::Any)), b"slow");
}

#[test]
fn a_dead_letter_mailbox_must_exist_be_named_and_let_the_creator_send() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let stranger = engine.spawn(postbox_core::Credentials::new(2000, 2000), at(0));
    let private = create(
        &mut engine,
        stranger,
        "private",
        MailboxAttrs {
            mode: Mode::new(0o600),
            ..shared(Redelivery::default())
        },
    );
    let with_dead_letter = |dead_letter| {
        shared(Redelivery {
            max_deliveries: Some(3),
            dead_letter: Some(dead_letter),
            ..Redelivery::default()
        })
    };
    let refused = |result: Result<MailboxId, OpenError>| match result {
        Err(OpenError::InvalidAttributes(why)) => why,
        other => panic!("expected InvalidAttributes, got {other:?}"),
    };
    let missing = MailboxId::from_raw(999);
    assert!(
        refused(engine.create(owner, "a", with_dead_letter(missing), at(0)))
            .contains("does not exist")
    );
    let inbox = MailboxId::from_raw(1);
    assert!(
        refused(engine.create(owner, "b", with_dead_letter(inbox), at(0)))
            .contains("does not exist")
    );
    assert!(
        refused(engine.create(owner, "c", with_dead_letter(private), at(0))).contains("send to it")
    );
    let no_max = shared(Redelivery {
        dead_letter: Some(private),
        ..Redelivery::default()
    });
    assert!(refused(engine.create(owner, "d", no_max, at(0))).contains("max deliveries"));
    let zero = shared(Redelivery {
        lease_time: Some(Duration::ZERO),
        ..Redelivery::default()
    });
    assert!(refused(engine.create(owner, "e", zero, at(0))).contains("lease time"));
}

#[test]
fn deleting_a_mailbox_forgets_its_lease_times() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let redelivery = Redelivery {
        lease_time: Some(SECOND),
        ..Redelivery::default()
    };
    let q = create(&mut engine, owner, "q", shared(redelivery));
    send(&mut engine, owner, q, "work");
    lease_at(&mut engine, owner, q, 0);
    engine.delete(owner, q).unwrap();
    assert_eq!(engine.next_lease_expiry(), None);
    assert_eq!(engine.expire_leases(at(u64::MAX)), 0);
}

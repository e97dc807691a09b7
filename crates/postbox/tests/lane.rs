//! The in-process fast lane, through the public API only.
//!
//! A plain mailbox (bounded, FIFO, blocking on overflow, owner or shared-first-waiting receivers)
//! is lent to a lane: plain `send` and `recv` run under the lane's own lock, and any other
//! request on the mailbox — `stat`, a typed receive, an async receive, a termination, node
//! statistics — takes the lane back into the engine first, and the lane is lent again once the
//! mailbox is idle. These tests prove that the hand-over loses nothing and changes nothing a
//! caller can see:
//!
//! - statistics and sequence numbers count what went through the lane, as if the engine had
//!   carried it out;
//! - a typed receive after plain sends sees every message, in order;
//! - operations waiting in the lane are moved into the engine and are still answered, time out,
//!   and are admitted in order;
//! - a send the lane refuses (`Full`, `Timeout`) hands its message back and counts nowhere;
//! - the lane's reservation against the queued-bytes quota never refuses a send the engine alone
//!   would take, and the quota is never passed: a sender waiting beside a lent lane is charged
//!   while it waits;
//! - an async receiver and a plain sender on the lane pass every message in order;
//! - termination wakes operations that waited in the lane, with the same errors as in the engine.
//!
//! A waiting thread is observed deterministically, never guessed from a sleep, in one of two
//! ways:
//!
//! - `stat` takes the lane back, moving its waiters into the engine, where `stat` counts them.
//!   Whether the thread had registered in the lane when `stat` first looked, or was still spinning
//!   before registering (and, finding the lane taken back, went to the engine), is not visible
//!   through the API; so the thread gets a head start and these scenarios run several rounds.
//! - For a sender: the mailbox holds an occupant that leaves room for an empty probe message but
//!   not for the sender's message. Probes are plain `try_send`s, carried out in the lane without
//!   taking it back; since waiting senders are admitted in order, a probe fails with `Full`
//!   exactly when the sender waits — in the lane, which is still lent.
//!
//! The termination tests drop the process after each kind of look, and also without looking, so
//! that the operation may be waiting in the lane, spinning before it waits, or not started yet;
//! every interleaving must give the same answer.

mod common;

use std::sync::{Arc, Barrier};
use std::thread::{self, Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

use common::{PATIENCE, spin_until, stat, wait_blocked_receivers, wait_blocked_senders};
use postbox::{
    AdminError, Bytes, Capacity, Dispatch, EngineStats, InprocNode, Limits, MESSAGE_CHARGE,
    Mailbox, MailboxStats, Message, Order, Received, Receivers, RecvError, Selector, SendError,
    SendErrorKind,
};

/// Rounds of a scenario whose most interesting interleaving (the thread already waiting in the
/// lane when it is taken back) is likely but not certain in any one round.
const ROUNDS: u64 = 20;

/// Deletes the mailbox if the test panics, so that threads still waiting on it wake (with
/// `Gone`) and the scope around them ends: a bug fails the test instead of hanging it — unless
/// the bug lost the waiter altogether, which nothing can wake.
struct UnblockOnPanic<'a>(&'a Mailbox);

impl Drop for UnblockOnPanic<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            // The mailbox may be gone already; nothing more to do then.
            let _ = self.0.delete();
        }
    }
}

/// Joins a scoped thread, failing the test if the thread does not finish within [`PATIENCE`].
fn join<T>(handle: ScopedJoinHandle<'_, T>) -> T {
    spin_until("the thread finishes", || handle.is_finished());
    handle.join().expect("the thread panicked")
}

/// Spawns `op` on a scoped thread that says when it is about to start it, and returns once it
/// has: the new thread runs on while this one is being woken, so `op` usually gets to wait in the
/// lane before the caller looks (which takes the lane back). A head start, not synchronisation:
/// every test passes whichever way that race goes.
fn spawn_started<'scope, T, F>(s: &'scope Scope<'scope, '_>, op: F) -> ScopedJoinHandle<'scope, T>
where
    F: FnOnce() -> T + Send + 'scope,
    T: Send + 'scope,
{
    // A barrier's waiter parks at once (a channel's spins first), so it is still being woken
    // when the new thread, the last to arrive, goes on.
    let barrier = Arc::new(Barrier::new(2));
    let started = barrier.clone();
    let handle = s.spawn(move || {
        started.wait();
        op()
    });
    barrier.wait();
    handle
}

/// The byte capacity of a mailbox where a waiting sender is probed for.
const ROOM: usize = 100;
/// The occupant of such a mailbox: it leaves room for an empty probe...
const OCCUPANT: usize = 60;
/// ... but not for the waiting sender's message.
const WAITER: usize = 50;
/// The type of probe messages.
const PROBE: i64 = 99;

/// A mailbox capacity for probing: [`ROOM`] bytes, and more message slots than probes can fill.
fn probed_capacity() -> Capacity {
    Capacity::Bounded {
        messages: 1 << 20,
        bytes: ROOM,
    }
}

/// Sends empty probes through `mailbox` (which holds an occupant) until one fails with `Full`,
/// because a sender on another thread waits for room; or until `gave_up()`. Returns how many
/// probes got in first, and whether a sender was seen waiting.
fn probe_for_a_waiting_sender(
    mailbox: &Mailbox,
    mut gave_up: impl FnMut() -> bool,
) -> (usize, bool) {
    let mut admitted = 0;
    let mut waits = false;
    spin_until(&format!("a sender waits on {}", mailbox.name()), || {
        match mailbox.try_send(Message::new(Bytes::new()).with_type(PROBE)) {
            Ok(_) => admitted += 1,
            Err(error) => {
                assert_eq!(error.kind(), SendErrorKind::Full, "a probe's failure");
                waits = true;
            }
        }
        waits || gave_up()
    });
    (admitted, waits)
}

/// Receives `count` probes from `mailbox`, which must come next.
fn drain_probes(mailbox: &Mailbox, count: usize) {
    for _ in 0..count {
        let probe = mailbox.try_recv().unwrap();
        assert_eq!((probe.mtype(), probe.payload().len()), (PROBE, 0));
    }
}

/// How a termination test lets the operation wait (or not) before the drop.
#[derive(Clone, Copy, Debug)]
enum Look {
    /// `stat` sees it waiting, and so moves it into the engine first.
    Stat,
    /// Probes see it waiting in the lane, which stays lent.
    Probe,
    /// Not at all: it may wait in the lane, spin before waiting, or not have started.
    Race,
}

/// Every kind of look, in turn.
const LOOKS: [Look; 3] = [Look::Stat, Look::Probe, Look::Race];
/// Rounds of a termination test: seven of each look.
const TERMINATION_ROUNDS: usize = 21;

/// The payload as text.
fn text(received: &Received) -> String {
    String::from_utf8(received.payload().to_vec()).expect("a text payload")
}

/// The pid half of a `last_send` / `last_recv` statistic.
fn who(last: Option<(postbox::Pid, postbox::Timestamp)>) -> Option<postbox::Pid> {
    last.map(|(pid, _)| pid)
}

#[test]
fn statistics_count_messages_that_went_through_the_lane() {
    let node = InprocNode::new();
    let owner = node.process();
    let sender = node.process();
    // Plain (bounded 64 messages, 1 MiB, FIFO, block, owner receives) and idle: lent at once.
    let jobs = owner.mailbox("jobs").create().unwrap();
    let theirs = sender.mailbox("jobs").open().unwrap();

    // Payload i is i bytes long: 1 + 2 + ... + 10 = 55 bytes sent, 1 + 2 + 3 + 4 = 10 received.
    for i in 1..=10_u8 {
        theirs.send(vec![i; usize::from(i)]).unwrap();
    }
    for i in 1..=4_u8 {
        let got = jobs.recv().unwrap();
        assert_eq!(got.payload().as_ref(), vec![i; usize::from(i)].as_slice());
        assert_eq!(got.sender, sender.pid());
    }
    let after = stat(&jobs);
    assert_eq!(traffic(&after), (10, 4, 6, 45));
    assert_eq!(who(after.last_send), Some(sender.pid()));
    assert_eq!(who(after.last_recv), Some(owner.pid()));
    let node_wide = owner.node_stats().unwrap();
    assert_eq!(node_traffic(&node_wide), (10, 4, 6, 45));

    // Drained, the mailbox is idle and lent again; granting the sender the receive right lends it
    // on new terms. This time node statistics are the first to take the lane back.
    for i in 5..=10_u8 {
        let got = jobs.recv_timeout(PATIENCE).unwrap();
        assert_eq!(got.payload().as_ref(), vec![i; usize::from(i)].as_slice());
    }
    jobs.grant_receive(sender.pid()).unwrap();
    jobs.send(vec![11; 11]).unwrap();
    theirs.send(vec![12; 12]).unwrap();
    assert_eq!(theirs.recv().unwrap().payload().as_ref(), &[11; 11]);
    let node_wide = owner.node_stats().unwrap();
    assert_eq!(node_traffic(&node_wide), (12, 11, 1, 12));
    let after = stat(&jobs);
    assert_eq!(traffic(&after), (12, 11, 1, 12));
    assert_eq!(who(after.last_send), Some(sender.pid()));
    assert_eq!(who(after.last_recv), Some(sender.pid()));
}

/// A mailbox's (messages sent, received, queued, bytes queued).
fn traffic(stats: &MailboxStats) -> (u64, u64, usize, usize) {
    (
        stats.total_sent,
        stats.total_received,
        stats.messages,
        stats.bytes,
    )
}

/// The node's (messages sent, received, queued, bytes queued), over every mailbox and inbox.
fn node_traffic(stats: &EngineStats) -> (u64, u64, usize, usize) {
    (
        stats.total_sent,
        stats.total_received,
        stats.queued_messages,
        stats.queued_bytes,
    )
}

/// Sends message number `next` as `m<next>`, and counts it.
fn send_next(mailbox: &Mailbox, next: &mut u64) {
    mailbox.send(format!("m{next}")).unwrap();
    *next += 1;
}

#[test]
fn sequence_numbers_continue_across_lane_and_engine() {
    let node = InprocNode::new();
    let owner = node.process();
    let jobs = owner.mailbox("jobs").create().unwrap();
    let mut next = 0;
    let mut got = Vec::new();
    for _ in 0..5 {
        // Lent: three sends through the lane.
        for _ in 0..3 {
            send_next(&jobs, &mut next);
        }
        // Taken back with three queued (not idle, so not lent again): the engine's send.
        assert_eq!(stat(&jobs).messages, 3);
        send_next(&jobs, &mut next);
        // A typed receive and plain receives on the engine; the last leaves the mailbox idle and
        // it is lent again.
        got.push(
            jobs.recv_matching_timeout(Selector::Type(1), PATIENCE)
                .unwrap(),
        );
        for _ in 0..3 {
            got.push(jobs.recv_timeout(PATIENCE).unwrap());
        }
        // Through the lane once more.
        send_next(&jobs, &mut next);
        got.push(jobs.recv_timeout(PATIENCE).unwrap());
    }
    let seqs: Vec<u64> = got.iter().map(|received| received.seq).collect();
    assert_eq!(seqs, (0..next).collect::<Vec<_>>(), "one by one from 0");
    let payloads: Vec<String> = got.iter().map(text).collect();
    let sent: Vec<String> = (0..next).map(|n| format!("m{n}")).collect();
    assert_eq!(payloads, sent, "in send order");
    let after = stat(&jobs);
    assert_eq!((after.total_sent, after.total_received), (next, next));
}

#[test]
fn a_typed_receive_after_plain_sends_sees_every_message_in_order() {
    let node = InprocNode::new();
    let owner = node.process();
    let jobs = owner.mailbox("jobs").create().unwrap();
    for (payload, mtype) in [("one", 1), ("two", 2), ("three", 3), ("two again", 2)] {
        jobs.send(Message::new(payload).with_type(mtype)).unwrap();
    }

    let first_two = jobs.try_recv_matching(Selector::Type(2)).unwrap();
    assert_eq!(
        (first_two.mtype(), text(&first_two), first_two.seq),
        (2, "two".to_owned(), 1)
    );
    let rest: Vec<(i64, String, u64)> = (0..3)
        .map(|_| {
            let got = jobs.try_recv().unwrap();
            (got.mtype(), text(&got), got.seq)
        })
        .collect();
    assert_eq!(
        rest,
        [
            (1, "one".to_owned(), 0),
            (3, "three".to_owned(), 2),
            (2, "two again".to_owned(), 3)
        ]
    );
    assert_eq!(jobs.try_recv().unwrap_err(), RecvError::Empty);
}

#[test]
fn a_receiver_waiting_in_the_lane_is_moved_into_the_engine_and_still_answered() {
    let node = InprocNode::new();
    let owner = node.process();
    let sender = node.process();
    let jobs = owner.mailbox("jobs").create().unwrap();
    let theirs = sender.mailbox("jobs").open().unwrap();
    for round in 0..ROUNDS {
        thread::scope(|s| {
            let _unblock = UnblockOnPanic(&jobs);
            let receiver = spawn_started(s, || jobs.recv());
            wait_blocked_receivers(&theirs, 1);
            assert!(!receiver.is_finished(), "nothing was sent yet");

            theirs.send(format!("round {round}")).unwrap();
            let got = join(receiver).unwrap();
            assert_eq!(text(&got), format!("round {round}"));
            assert_eq!(got.sender, sender.pid());
        });
        let after = stat(&theirs);
        assert_eq!(
            (
                after.blocked_receivers,
                after.messages,
                after.total_received
            ),
            (0, 0, round + 1)
        );
    }
}

#[test]
fn a_receiver_moved_into_the_engine_still_times_out() {
    let node = InprocNode::new();
    let owner = node.process();
    let observer = node.process();
    let jobs = owner.mailbox("jobs").create().unwrap();
    let watch = observer.mailbox("jobs").open().unwrap();
    let mut observed = 0;
    let give_up = Instant::now() + PATIENCE;
    // A round where the receive timed out before `stat` saw it waiting proves nothing: retry.
    while observed < 3 {
        assert!(
            Instant::now() < give_up,
            "never saw the timed receive waiting before it timed out"
        );
        thread::scope(|s| {
            let _unblock = UnblockOnPanic(&jobs);
            let receiver = spawn_started(s, || jobs.recv_timeout(Duration::from_millis(300)));
            let mut seen = false;
            spin_until("the timed receive waits or ends", || {
                seen = seen || stat(&watch).blocked_receivers == 1;
                seen || receiver.is_finished()
            });
            observed += u32::from(seen);
            // Nothing is sent: it times out, seen waiting or not.
            assert_eq!(join(receiver).unwrap_err(), RecvError::Timeout);
        });
        assert_eq!(stat(&watch).blocked_receivers, 0, "withdrawn");
    }

    // The withdrawn receives took nothing: a later message is there for the next receive.
    watch.send("after").unwrap();
    assert_eq!(text(&jobs.recv_timeout(PATIENCE).unwrap()), "after");
    let after = stat(&watch);
    assert_eq!(
        (
            after.blocked_receivers,
            after.messages,
            after.total_sent,
            after.total_received
        ),
        (0, 0, 1, 1)
    );
}

#[test]
fn a_sender_waiting_for_room_is_admitted_in_order_after_the_lane_is_taken_back() {
    let node = InprocNode::new();
    let owner = node.process();
    let sender = node.process();
    let jobs = owner
        .mailbox("jobs")
        .capacity(Capacity::Bounded {
            messages: 2,
            bytes: 1 << 20,
        })
        .create()
        .unwrap();
    let theirs = sender.mailbox("jobs").open().unwrap();
    for round in 0..ROUNDS {
        theirs.send(format!("{round}: 1")).unwrap();
        theirs.send(format!("{round}: 2")).unwrap();
        thread::scope(|s| {
            let _unblock = UnblockOnPanic(&jobs);
            let blocked = spawn_started(s, || theirs.send(format!("{round}: 3")));
            wait_blocked_senders(&jobs, 1);
            assert_eq!(stat(&jobs).messages, 2, "the third message waits outside");
            assert!(!blocked.is_finished());

            let order: Vec<String> = (0..3)
                .map(|_| text(&jobs.recv_timeout(PATIENCE).unwrap()))
                .collect();
            assert_eq!(
                order,
                [
                    format!("{round}: 1"),
                    format!("{round}: 2"),
                    format!("{round}: 3")
                ]
            );
            assert_eq!(join(blocked).unwrap().receiver, None);
        });
        let after = stat(&jobs);
        assert_eq!(
            (after.blocked_senders, after.messages, after.total_sent),
            (0, 0, 3 * (round + 1))
        );
    }
}

#[test]
fn a_sender_seen_waiting_in_the_lane_is_moved_into_the_engine_and_admitted_in_order() {
    let node = InprocNode::new();
    let owner = node.process();
    let sender = node.process();
    let jobs = owner
        .mailbox("jobs")
        .capacity(probed_capacity())
        .create()
        .unwrap();
    let theirs = sender.mailbox("jobs").open().unwrap();
    let mut next_seq = 0;
    for round in 0..ROUNDS {
        // Idle, so lent: the occupant goes through the lane.
        theirs.send(vec![b'o'; OCCUPANT]).unwrap();
        let waiting = Message::new(vec![b'w'; WAITER]).with_type(5);
        thread::scope(|s| {
            let _unblock = UnblockOnPanic(&jobs);
            let blocked = spawn_started(s, || theirs.send(waiting.clone()));
            let (probes, waits) = probe_for_a_waiting_sender(&jobs, || false);
            assert!(waits);
            // It waits in the lane; `stat` moves it into the engine and counts it at once.
            let seen = stat(&jobs);
            assert_eq!(
                (seen.blocked_senders, seen.messages, seen.bytes),
                (1, 1 + probes, OCCUPANT),
                "round {round}"
            );
            assert!(!blocked.is_finished());

            // Taking the occupant out admits it, behind the probes that got in first.
            let occupant = jobs.recv_timeout(PATIENCE).unwrap();
            assert_eq!(occupant.payload().as_ref(), [b'o'; OCCUPANT].as_slice());
            assert_eq!(join(blocked).unwrap().receiver, None);
            drain_probes(&jobs, probes);
            let admitted = jobs.try_recv().unwrap();
            assert_eq!(admitted.message, waiting);
            assert_eq!(admitted.sender, sender.pid());
            let probes = u64::try_from(probes).unwrap();
            assert_eq!(
                (occupant.seq, admitted.seq),
                (next_seq, next_seq + 1 + probes),
                "sequence numbers in order of acceptance"
            );
            next_seq += 2 + probes;
            assert_eq!(jobs.try_recv().unwrap_err(), RecvError::Empty);
        });
        let after = stat(&jobs);
        assert_eq!(
            (after.blocked_senders, after.messages, after.total_sent),
            (0, 0, next_seq)
        );
    }
}

/// What a lane lent a `bounded(messages, bytes)` mailbox reserves against the quota: its byte
/// capacity and the charge of as many messages.
fn reserve(messages: usize, bytes: usize) -> usize {
    bytes + messages * MESSAGE_CHARGE
}

/// The node's queued messages as the quota counts them: payload plus `MESSAGE_CHARGE` each.
fn charged(stats: &EngineStats) -> usize {
    stats.queued_bytes + stats.queued_messages * MESSAGE_CHARGE
}

#[test]
fn quota_reservations_never_refuse_a_call_the_engine_alone_would_take() {
    let quota = reserve(64, 4096);
    let node = InprocNode::with_limits(Limits {
        max_queued_bytes: quota,
        ..Limits::default()
    });
    let caller = node.process();
    let server = node.process();
    // Lent at once, reserving the whole quota.
    let _lent = caller
        .mailbox("lent")
        .capacity(Capacity::Bounded {
            messages: 64,
            bytes: 4096,
        })
        .create()
        .unwrap();
    std::thread::scope(|s| {
        let call = s.spawn(|| caller.try_call(server.pid(), vec![0; 100]));
        // The request is queued in the inbox (nobody was receiving): the quota had room.
        let queued = || {
            let all = server.list_processes().unwrap();
            all.iter()
                .any(|p| p.pid == server.pid() && p.inbox_messages == 1)
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !queued() {
            assert!(
                std::time::Instant::now() < deadline,
                "the request never queued"
            );
            std::thread::yield_now();
        }
        let request = server.recv_any().unwrap();
        server.reply(&request, "done").unwrap();
        let answer = call.join().unwrap().unwrap();
        assert_eq!(answer.payload.as_ref(), b"done");
    });
}

#[test]
fn quota_reservations_never_refuse_a_send_the_engine_alone_would_take() {
    let quota = reserve(64, 4096);
    let node = InprocNode::with_limits(Limits {
        max_queued_bytes: quota,
        ..Limits::default()
    });
    let owner = node.process();
    let other = node.process();
    // Plain and idle: lent at once, reserving what it can hold — the whole quota.
    let lent = owner
        .mailbox("lent")
        .capacity(Capacity::Bounded {
            messages: 64,
            bytes: 4096,
        })
        .create()
        .unwrap();
    let unbounded = owner
        .mailbox("unbounded")
        .capacity(Capacity::Unbounded)
        .create()
        .unwrap();

    // Nothing is queued anywhere: the engine alone takes 100 bytes, to a mailbox...
    unbounded.try_send(vec![0; 100]).unwrap();
    assert_eq!(stat(&unbounded).bytes, 100);
    assert_eq!(unbounded.try_recv().unwrap().payload().len(), 100);
    // ... and, with the lane lent again (idle, and the quota has room for it), to an inbox.
    assert_eq!(stat(&lent).messages, 0);
    owner.try_send_to(other.pid(), vec![1; 100]).unwrap();
    assert_eq!(other.try_recv_any().unwrap().payload().len(), 100);

    // And the quota is still exact: with one 100-byte message queued, one more of the rest
    // fits, and not one byte more.
    unbounded.try_send(vec![2; 100]).unwrap();
    let rest = quota - 2 * MESSAGE_CHARGE - 100;
    unbounded.try_send(vec![3; rest]).unwrap();
    for mailbox in [&lent, &unbounded] {
        let error = mailbox.try_send(vec![4; 1]).unwrap_err();
        assert_eq!(error.kind(), SendErrorKind::QuotaExceeded);
        assert_eq!(error.into_message(), Some(Message::new(vec![4; 1])));
    }
    let node_wide = owner.node_stats().unwrap();
    assert_eq!(
        (charged(&node_wide), node_wide.max_queued_bytes),
        (quota, quota)
    );
}

#[test]
fn a_sender_waiting_beside_a_lent_lane_is_charged_and_the_quota_is_never_passed() {
    let lent_reserve = reserve(64, 2048);
    // Room for the lane's reservation, a 10-byte message and a 3000-byte one, exactly.
    let quota = lent_reserve + 2 * MESSAGE_CHARGE + 3010;
    let node = InprocNode::with_limits(Limits {
        max_queued_bytes: quota,
        ..Limits::default()
    });
    let owner = node.process();
    let producer = node.process();
    let spare = owner
        .mailbox("spare")
        .capacity(Capacity::Unbounded)
        .create()
        .unwrap();
    // Priority order: never lent, always run by the engine.
    let engine_run = owner
        .mailbox("engine-run")
        .capacity(Capacity::bounded(1, 4096))
        .order(Order::Priority)
        .create()
        .unwrap();
    let theirs = producer.mailbox("engine-run").open().unwrap();
    engine_run.send(vec![0; 10]).unwrap();
    // The 10 bytes queued and the reservation fit the quota: lent at once.
    let lent = owner
        .mailbox("lent")
        .capacity(Capacity::bounded(64, 2048))
        .create()
        .unwrap();

    thread::scope(|s| {
        let _unblock = UnblockOnPanic(&engine_run);
        // The engine-run mailbox holds its one message: a 3000-byte send waits for room,
        // charged while it waits (it just fits beside the reservation).
        let blocked = s.spawn(|| theirs.send(vec![1; 3000]));
        wait_blocked_senders(&engine_run, 1);
        // Taking the 10 bytes out lets it in.
        let got = engine_run.recv_timeout(PATIENCE).unwrap();
        assert_eq!(got.payload().len(), 10);
        join(blocked).unwrap();
    });
    assert_eq!(stat(&engine_run).bytes, 3000);

    // Offer the lane more than its capacity: it takes what fits in it, within its reservation.
    let mut taken = 0;
    for _ in 0..3 {
        match lent.try_send(vec![2; 1024]) {
            Ok(_) => taken += 1024,
            Err(error) => {
                assert!(
                    matches!(
                        error.kind(),
                        SendErrorKind::Full | SendErrorKind::QuotaExceeded
                    ),
                    "{error:?}"
                );
                assert_eq!(error.into_message(), Some(Message::new(vec![2; 1024])));
            }
        }
    }
    let node_wide = owner.node_stats().unwrap();
    assert_eq!(node_wide.queued_bytes, 3000 + taken);
    assert!(
        charged(&node_wide) <= quota,
        "{} bytes charged pass the {quota}-byte quota",
        charged(&node_wide)
    );

    // Once the lent mailbox drains, the quota is exact: the rest fits, and not one byte more.
    for _ in 0..taken / 1024 {
        assert_eq!(lent.try_recv().unwrap().payload().len(), 1024);
    }
    assert_eq!(lent.try_recv().unwrap_err(), RecvError::Empty);
    let rest = quota - 2 * MESSAGE_CHARGE - 3000;
    spare.try_send(vec![3; rest]).unwrap();
    for mailbox in [&spare, &lent] {
        let error = mailbox.try_send(vec![4; 1]).unwrap_err();
        assert_eq!(error.kind(), SendErrorKind::QuotaExceeded);
        assert_eq!(error.into_message(), Some(Message::new(vec![4; 1])));
    }
    assert_eq!(charged(&owner.node_stats().unwrap()), quota);
}

#[test]
fn failed_sends_on_a_full_lane_hand_the_message_back_and_count_nowhere() {
    let node = InprocNode::new();
    let owner = node.process();
    let sender = node.process();
    let jobs = owner
        .mailbox("jobs")
        .capacity(Capacity::bounded(2, 1024))
        .create()
        .unwrap();
    let theirs = sender.mailbox("jobs").open().unwrap();
    theirs.send("first").unwrap();
    theirs.send("second").unwrap();

    let refused = Message::new("try").with_type(7);
    let error = theirs.try_send(refused.clone()).unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::Full);
    assert_eq!(error.into_message(), Some(refused));

    let late = Message::new("late").with_type(9).with_priority(3);
    let error = theirs
        .send_timeout(late.clone(), Duration::from_millis(50))
        .unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::Timeout);
    assert_eq!(error.into_message(), Some(late));

    let after = stat(&jobs);
    assert_eq!(
        (
            after.total_sent,
            after.messages,
            after.bytes,
            after.blocked_senders
        ),
        (2, 2, 11, 0)
    );
    assert_eq!(owner.node_stats().unwrap().total_sent, 2);
    assert_eq!(text(&jobs.try_recv().unwrap()), "first");
    assert_eq!(text(&jobs.try_recv().unwrap()), "second");
    assert_eq!(jobs.try_recv().unwrap_err(), RecvError::Empty);
}

#[test]
fn a_sender_moved_into_the_engine_still_times_out_with_its_message_back() {
    let node = InprocNode::new();
    let owner = node.process();
    let sender = node.process();
    let jobs = owner
        .mailbox("jobs")
        .capacity(probed_capacity())
        .create()
        .unwrap();
    let theirs = sender.mailbox("jobs").open().unwrap();
    let mut sent = 0;
    let mut observed = 0;
    let give_up = Instant::now() + PATIENCE;
    // A round where the send timed out before it was seen waiting proves nothing: retry.
    while observed < 3 {
        assert!(
            Instant::now() < give_up,
            "never saw the timed send waiting before it timed out"
        );
        // Idle, so lent: the occupant goes through the lane.
        theirs.send(vec![b'o'; OCCUPANT]).unwrap();
        let late = Message::new(vec![b'w'; WAITER]).with_type(7);
        let mut probes = 0;
        thread::scope(|s| {
            let _unblock = UnblockOnPanic(&jobs);
            let blocked = spawn_started(s, || {
                theirs.send_timeout(late.clone(), Duration::from_millis(300))
            });
            let (admitted, waits) = probe_for_a_waiting_sender(&jobs, || blocked.is_finished());
            probes = admitted;
            // Seen waiting in the lane; `stat` moves it into the engine and counts it there
            // (unless it timed out in between).
            if waits && stat(&jobs).blocked_senders == 1 {
                observed += 1;
            }
            let error = join(blocked).unwrap_err();
            assert_eq!(error.kind(), SendErrorKind::Timeout);
            assert_eq!(error.into_message(), Some(late.clone()));
        });
        sent += 1 + u64::try_from(probes).unwrap();
        let after = stat(&jobs);
        assert_eq!(
            (after.blocked_senders, after.messages, after.total_sent),
            (0, 1 + probes, sent)
        );
        // Never delivered; the next receives take what was queued, and leave the mailbox idle.
        assert_eq!(jobs.try_recv().unwrap().payload().len(), OCCUPANT);
        drain_probes(&jobs, probes);
        assert_eq!(jobs.try_recv().unwrap_err(), RecvError::Empty);
    }
    theirs.send("next").unwrap();
    assert_eq!(text(&jobs.try_recv().unwrap()), "next");
}

#[test]
fn an_async_receiver_and_a_plain_sender_pass_every_message_in_order() {
    const COUNT: u64 = 200;
    let node = InprocNode::new();
    let consumer = node.process();
    let producer = node.process();
    // Small, so that the sender also waits for room now and then.
    let jobs = consumer
        .mailbox("jobs")
        .capacity(Capacity::bounded(4, 1024))
        .create()
        .unwrap();
    let theirs = producer.mailbox("jobs").open().unwrap();

    thread::scope(|s| {
        let _unblock = UnblockOnPanic(&jobs);
        let sending = s.spawn(|| {
            for i in 0..COUNT {
                theirs.send(format!("{i}"))?;
            }
            Ok::<(), SendError>(())
        });
        let receiving = s.spawn(|| {
            (0..COUNT)
                .map(|_| pollster::block_on(jobs.recv_async()))
                .collect::<Result<Vec<Received>, RecvError>>()
        });
        join(sending).unwrap();
        let got = join(receiving).unwrap();
        let payloads: Vec<String> = got.iter().map(text).collect();
        let sent: Vec<String> = (0..COUNT).map(|i| format!("{i}")).collect();
        assert_eq!(payloads, sent);
        let seqs: Vec<u64> = got.iter().map(|received| received.seq).collect();
        assert_eq!(seqs, (0..COUNT).collect::<Vec<_>>());
    });
    let after = stat(&jobs);
    assert_eq!(
        (
            after.total_sent,
            after.total_received,
            after.messages,
            after.blocked_senders,
            after.blocked_receivers
        ),
        (COUNT, COUNT, 0, 0, 0)
    );
}

#[test]
fn a_sender_waiting_for_room_gets_gone_when_the_owner_is_dropped() {
    let node = InprocNode::new();
    let sender = node.process();
    for round in 0..TERMINATION_ROUNDS {
        let look = LOOKS[round % LOOKS.len()];
        let doomed = node.process();
        let name = format!("full-{round}");
        // Owner-receive: the doomed owner is the only receiver.
        let full = doomed
            .mailbox(&name)
            .capacity(probed_capacity())
            .create()
            .unwrap();
        let theirs = sender.mailbox(&name).open().unwrap();
        theirs.send(vec![b'o'; OCCUPANT]).unwrap();
        let waiting = Message::new(vec![b'w'; WAITER]);
        thread::scope(|s| {
            let _unblock = UnblockOnPanic(&full);
            let blocked = spawn_started(s, || theirs.send(waiting.clone()));
            match look {
                Look::Stat => wait_blocked_senders(&theirs, 1),
                Look::Probe => assert!(probe_for_a_waiting_sender(&full, || false).1),
                Look::Race => {}
            }
            drop(doomed);
            let error = join(blocked).unwrap_err();
            assert_eq!(error.kind(), SendErrorKind::Gone, "round {round}, {look:?}");
            assert_eq!(error.into_message(), Some(waiting.clone()));
        });
        assert_eq!(
            theirs.try_send("again").unwrap_err().kind(),
            SendErrorKind::Gone
        );
        assert_eq!(theirs.stat().unwrap_err(), AdminError::Gone);
    }
}

#[test]
fn a_send_waiting_on_a_handle_of_a_dropped_process_wakes_with_disconnected() {
    let node = InprocNode::new();
    let owner = node.process();
    let lasting = owner
        .mailbox("lasting")
        .capacity(probed_capacity())
        .create()
        .unwrap();
    let mut sent = 0;
    for round in 0..TERMINATION_ROUNDS {
        let look = LOOKS[round % LOOKS.len()];
        let doomed = node.process();
        let handle = doomed.mailbox("lasting").open().unwrap();
        // Idle, so lent (on terms that let the new opener send): through the lane.
        lasting.send(vec![b'o'; OCCUPANT]).unwrap();
        let never_taken = Message::new(vec![b'w'; WAITER]);
        let mut probes = 0;
        thread::scope(|s| {
            let _unblock = UnblockOnPanic(&lasting);
            let blocked = spawn_started(s, || handle.send(never_taken.clone()));
            match look {
                Look::Stat => wait_blocked_senders(&lasting, 1),
                Look::Probe => {
                    let (admitted, waits) = probe_for_a_waiting_sender(&lasting, || false);
                    assert!(waits);
                    probes = admitted;
                }
                Look::Race => {}
            }
            drop(doomed);
            let error = join(blocked).unwrap_err();
            assert_eq!(
                error.kind(),
                SendErrorKind::Disconnected,
                "round {round}, {look:?}"
            );
            assert_eq!(error.into_message(), Some(never_taken.clone()));
        });
        sent += 1 + u64::try_from(probes).unwrap();
        let after = stat(&lasting);
        assert_eq!(
            (after.blocked_senders, after.messages, after.total_sent),
            (0, 1 + probes, sent)
        );
        assert_eq!(lasting.try_recv().unwrap().payload().len(), OCCUPANT);
        drain_probes(&lasting, probes);
        assert_eq!(
            lasting.try_recv().unwrap_err(),
            RecvError::Empty,
            "never delivered"
        );
    }
}

#[test]
fn a_recv_waiting_on_a_handle_of_a_dropped_process_wakes_with_disconnected() {
    let node = InprocNode::new();
    let owner = node.process();
    let lasting = owner
        .mailbox("lasting")
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .create()
        .unwrap();
    // Round 0 sees the receive waiting first (which moves it into the engine); the others race
    // the drop against it (there is no probe for a waiting receiver).
    for round in 0..=ROUNDS {
        let doomed = node.process();
        let handle = doomed.mailbox("lasting").open().unwrap();
        thread::scope(|s| {
            let _unblock = UnblockOnPanic(&lasting);
            let blocked = spawn_started(s, || handle.recv());
            if round == 0 {
                wait_blocked_receivers(&lasting, 1);
            }
            drop(doomed);
            let error = join(blocked).unwrap_err();
            assert_eq!(error, RecvError::Disconnected, "round {round}");
        });
        assert_eq!(stat(&lasting).blocked_receivers, 0);
        // The withdrawn receive took nothing.
        lasting.send(format!("kept {round}")).unwrap();
        assert_eq!(text(&lasting.try_recv().unwrap()), format!("kept {round}"));
    }
}

//! Cancel safety: dropping a waiting `*_async` receive loses no message. A message that the
//! receive took before its withdrawal reached the node is handed back — to its old place at the
//! front of its mailbox, or (when it cannot go back: a rendezvous, a down notification, a select
//! of several branches) to the next receive of the same process that matches it — so that it is
//! received exactly once, and counted once.
//!
//! Each case races a dropped future against a send many times, in both orders (the send before
//! the drop, when the message usually reaches the future before its withdrawal, and after it), and
//! counts the messages that never arrive.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use postbox::{Capacity, Message, Received, RecvError, Select, Selector};

use crate::Transport;
use crate::support::await_blocked_receivers;

/// Rounds of each race.
const ROUNDS: usize = 200;

/// Rounds of the races that start a process or wait for a blocked receiver every round.
const SLOW_ROUNDS: usize = 40;

/// How long a message handed back may take to arrive before it counts as lost. Generous: it
/// bounds a failure, never a success.
const LOST_AFTER: Duration = Duration::from_secs(2);

/// Losses after which a race stops counting (each costs [`LOST_AFTER`]).
const GIVE_UP_AFTER: usize = 5;

/// Polls `future` once with a waker that does nothing.
fn poll_once<F: Future + ?Sized>(future: Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

/// Runs `rounds` rounds of: start the receive `start` makes and poll it once (it must wait),
/// send round `i`'s message with `send` — before the drop in even rounds, after it in odd ones —
/// drop the receive, and take the message back with `take` (which waits up to [`LOST_AFTER`]).
/// Returns how many messages were lost and how many rounds ran, stopping early after
/// [`GIVE_UP_AFTER`] losses.
fn race<'a, R>(
    rounds: usize,
    mut start: impl FnMut() -> Pin<Box<dyn Future<Output = R> + 'a>>,
    mut send: impl FnMut(usize),
    mut take: impl FnMut() -> Result<Received, RecvError>,
) -> (usize, usize) {
    let mut lost = 0;
    for round in 0..rounds {
        let mut receive = start();
        assert!(
            poll_once(receive.as_mut()).is_pending(),
            "nothing was there to receive"
        );
        let before = round % 2 == 0;
        if before {
            send(round);
        }
        drop(receive);
        if !before {
            send(round);
        }
        match take() {
            Ok(message) => assert_eq!(
                message.payload().as_ref(),
                round.to_string().as_bytes(),
                "round {round} received another round's message"
            ),
            Err(RecvError::Timeout) => {
                lost += 1;
                if lost == GIVE_UP_AFTER {
                    return (lost, round + 1);
                }
            }
            Err(error) => panic!("round {round}: {error}"),
        }
    }
    (lost, rounds)
}

fn assert_none_lost(t: &impl Transport, what: &str, (lost, rounds): (usize, usize)) {
    assert_eq!(
        lost,
        0,
        "{}: {what}: lost {lost} message(s) in {rounds} rounds",
        t.name()
    );
}

/// A `Mailbox::recv_async` dropped while a message arrives loses nothing: the message is received
/// once by the next receive, and counted once.
pub fn a_dropped_mailbox_receive_loses_nothing<T: Transport>(t: &T) {
    let owner = t.process();
    let sender = t.process();
    let jobs = owner.mailbox("jobs").create().expect("create");
    let to_jobs = sender.mailbox("jobs").open().expect("open");
    let result = race(
        ROUNDS,
        || Box::pin(jobs.recv_async()),
        |round| {
            to_jobs.send(round.to_string()).expect("send");
        },
        || jobs.recv_timeout(LOST_AFTER),
    );
    assert_none_lost(t, "recv_async", result);
    assert_eq!(jobs.try_recv().unwrap_err(), RecvError::Empty);
    let stats = jobs.stat().expect("stat");
    assert_eq!(stats.total_received, result.1 as u64 - result.0 as u64);
    assert_eq!((stats.messages, stats.leased), (0, 0));
}

/// The same for a typed receive (`recv_matching_async`), and for `recv_many_async`.
pub fn a_dropped_selective_or_many_receive_loses_nothing<T: Transport>(t: &T) {
    let owner = t.process();
    let jobs = owner.mailbox("jobs").create().expect("create");
    let typed = race(
        ROUNDS,
        || Box::pin(jobs.recv_matching_async(Selector::Type(7))),
        |round| {
            jobs.send(Message::new(round.to_string()).with_type(7))
                .expect("send");
        },
        || jobs.recv_matching_timeout(Selector::Type(7), LOST_AFTER),
    );
    assert_none_lost(t, "recv_matching_async", typed);
    let many = race(
        ROUNDS,
        || Box::pin(jobs.recv_many_async(4)),
        |round| {
            jobs.send(round.to_string()).expect("send");
        },
        || jobs.recv_timeout(LOST_AFTER),
    );
    assert_none_lost(t, "recv_many_async", many);
    assert_eq!(jobs.try_recv().unwrap_err(), RecvError::Empty);
    let stats = jobs.stat().expect("stat");
    assert_eq!(
        stats.total_received,
        (typed.1 + many.1 - typed.0 - many.0) as u64
    );
}

/// A `Process::recv_from_async` (the inbox) dropped while the peer sends loses nothing.
pub fn a_dropped_inbox_receive_loses_nothing<T: Transport>(t: &T) {
    let me = t.process();
    let peer = t.process();
    let result = race(
        ROUNDS,
        || Box::pin(me.recv_from_async(peer.pid())),
        |round| peer.send_to(me.pid(), round.to_string()).expect("send_to"),
        || me.recv_from_timeout(peer.pid(), LOST_AFTER),
    );
    assert_none_lost(t, "recv_from_async", result);
    assert_eq!(me.try_recv_any().unwrap_err(), RecvError::Empty);
}

/// A `Mailbox::lease_async` dropped while a message arrives leaves nothing on lease: the message
/// goes back for the next receiver.
pub fn a_dropped_lease_gives_the_message_back_at_once<T: Transport>(t: &T) {
    let owner = t.process();
    let jobs = owner.mailbox("jobs").create().expect("create");
    let result = race(
        ROUNDS,
        || Box::pin(jobs.lease_async()),
        |round| {
            jobs.send(round.to_string()).expect("send");
        },
        || jobs.recv_timeout(LOST_AFTER),
    );
    assert_none_lost(t, "lease_async", result);
    let stats = jobs.stat().expect("stat");
    assert_eq!((stats.messages, stats.leased), (0, 0));
}

/// A select of several branches dropped while a message arrives on one loses nothing: the next
/// receive of that process that matches it gets it.
pub fn a_dropped_select_loses_nothing<T: Transport>(t: &T) {
    let owner = t.process();
    let sender = t.process();
    let a = owner.mailbox("a").create().expect("create");
    let b = owner.mailbox("b").create().expect("create");
    let to_a = sender.mailbox("a").open().expect("open");
    let to_b = sender.mailbox("b").open().expect("open");
    let mut select = Select::new();
    select.recv(&a, Selector::Any);
    select.recv(&b, Selector::Any);
    select.inbox(&owner, Selector::Any);
    let result = race(
        ROUNDS,
        || Box::pin(select.wait_async()),
        |round| {
            let target = if round % 3 == 0 { &to_a } else { &to_b };
            target.send(round.to_string()).expect("send");
        },
        || {
            let selected = select.wait_timeout(LOST_AFTER).map_err(|e| e.error)?;
            let round: usize = std::str::from_utf8(selected.message.payload())
                .expect("utf-8")
                .parse()
                .expect("a round");
            assert_eq!(selected.index, usize::from(round % 3 != 0), "its branch");
            Ok(selected.message)
        },
    );
    assert_none_lost(t, "Select::wait_async", result);
    assert_eq!(select.try_wait().unwrap_err().error, RecvError::Empty);
    let received = a.stat().expect("stat").total_received + b.stat().expect("stat").total_received;
    assert_eq!(received, (result.1 - result.0) as u64, "counted once");
}

/// A receive from a zero-capacity mailbox dropped after a rendezvous sender met it loses nothing:
/// the sender was told this process took the message, and this process's next receive gets it.
pub fn a_dropped_rendezvous_receive_loses_nothing<T: Transport>(t: &T) {
    let owner = t.process();
    let sender = t.process();
    let meet = owner
        .mailbox("meet")
        .capacity(Capacity::Zero)
        .create()
        .expect("create");
    let to_meet = sender.mailbox("meet").open().expect("open");
    let mut lost = 0;
    for round in 0..SLOW_ROUNDS {
        let mut receive = Box::pin(meet.recv_async());
        assert!(poll_once(receive.as_mut()).is_pending());
        await_blocked_receivers(&meet, 1);
        let met = to_meet.try_send(round.to_string());
        let sent = met.expect("the waiting receiver takes it");
        assert_eq!(sent.receiver, Some(owner.pid()));
        drop(receive);
        match meet.recv_timeout(LOST_AFTER) {
            Ok(message) => assert_eq!(message.payload().as_ref(), round.to_string().as_bytes()),
            Err(RecvError::Timeout) => lost += 1,
            Err(error) => panic!("round {round}: {error}"),
        }
        if lost == GIVE_UP_AFTER {
            break;
        }
    }
    assert_eq!(lost, 0, "{}: lost {lost} rendezvous message(s)", t.name());
}

/// A receive of the inbox dropped while a down notification arrives loses nothing.
pub fn a_dropped_receive_of_a_down_notification_loses_nothing<T: Transport>(t: &T) {
    let me = t.process();
    let mut lost = 0;
    for round in 0..SLOW_ROUNDS {
        let watched = t.process();
        let pid = watched.pid();
        me.monitor(pid).expect("monitor");
        let mut receive = Box::pin(me.recv_from_async(pid));
        assert!(poll_once(receive.as_mut()).is_pending());
        if round % 2 == 0 {
            drop(watched);
            drop(receive);
        } else {
            drop(receive);
            drop(watched);
        }
        match me.recv_from_timeout(pid, LOST_AFTER) {
            Ok(down) => assert!(
                down.is_down() && down.sender == pid,
                "the down notification"
            ),
            // Without its down notification, nothing of the peer is left to receive.
            Err(RecvError::PeerGone | RecvError::Timeout) => lost += 1,
            Err(error) => panic!("round {round}: {error}"),
        }
        if lost == GIVE_UP_AFTER {
            break;
        }
    }
    assert_eq!(lost, 0, "{}: lost {lost} down notification(s)", t.name());
    assert_eq!(me.try_recv_any().unwrap_err(), RecvError::Empty);
}

//! Redelivery: a mailbox's lease time ends leases its receivers never settle, each delivery
//! carries its attempt number, a late acknowledgement is refused, and a message delivered the
//! mailbox's most times moves to its dead-letter mailbox.

use std::time::{Duration, Instant};

use postbox::{Dispatch, Mailbox, Process, Receivers, RecvError};

use crate::Transport;
use crate::support::LONG;

/// Short enough to keep the cases fast, long enough that a lease taken is still held when the
/// case looks at it on a loaded machine.
const LEASE_TIME: Duration = Duration::from_millis(300);

fn shared(owner: &Process, name: &str) -> postbox::MailboxBuilder {
    owner
        .mailbox(name)
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .mode(postbox::Mode::new(0o666))
}

fn text(message: &postbox::Received) -> String {
    String::from_utf8_lossy(message.payload()).into_owned()
}

fn with_lease_time(owner: &Process) -> Mailbox {
    let q = shared(owner, "jobs")
        .lease_time(LEASE_TIME)
        .create()
        .expect("create");
    q.send("job").expect("send");
    q
}

/// A lease its holder never settles ends after the lease time: the message is delivered again,
/// as attempt 2, to a receiver that was waiting for it.
pub fn an_unsettled_lease_ends_after_the_lease_time<T: Transport>(t: &T) {
    let owner = t.process();
    let q = with_lease_time(&owner);
    let worker = t.process();
    let handle = worker.mailbox("jobs").open().expect("open");
    let held = handle.lease_timeout(LONG).expect("lease");
    assert_eq!((text(&held), held.attempt), ("job".to_owned(), 1));

    let started = Instant::now();
    let again = q
        .recv_timeout(LONG)
        .expect("delivered again once the lease ended");
    assert!(
        started.elapsed() >= LEASE_TIME - Duration::from_millis(50),
        "not before the lease time: {:?}",
        started.elapsed()
    );
    assert_eq!(
        (text(&again), again.seq, again.attempt),
        ("job".to_owned(), held.seq, 2)
    );
    assert_eq!(held.ack(), Err(RecvError::LeaseEnded), "too late");
    assert_eq!(
        q.stat().expect("stat").total_received,
        1,
        "received once in the end"
    );
}

/// Settled in time, a lease never ends by itself, and a late nack is harmless.
pub fn a_lease_settled_in_time_stays_settled<T: Transport>(t: &T) {
    let owner = t.process();
    let q = with_lease_time(&owner);
    q.send("second").expect("send");
    let job = q.lease_timeout(LONG).expect("lease");
    job.ack().expect("ack in time");
    let second = q.lease_timeout(LONG).expect("lease");
    assert_eq!(text(&second), "second");
    second.nack().expect("nack");
    let again = q.lease_timeout(LONG).expect("lease");
    assert_eq!((text(&again), again.attempt), ("second".to_owned(), 2));
    again.ack().expect("ack");
    assert_eq!(
        q.recv_timeout(LEASE_TIME * 2)
            .expect_err("nothing comes back"),
        RecvError::Timeout
    );
}

/// After its most deliveries a message moves to the dead-letter mailbox, once.
pub fn a_message_delivered_its_most_times_moves_to_the_dead_letter_mailbox<T: Transport>(t: &T) {
    let owner = t.process();
    let dead = shared(&owner, "dead").create().expect("create");
    let q = shared(&owner, "jobs")
        .max_deliveries(2)
        .dead_letter(&dead)
        .create()
        .expect("create");
    q.send("poison").expect("send");
    for attempt in 1..=2 {
        let job = q.lease_timeout(LONG).expect("lease");
        assert_eq!(job.attempt, attempt);
        job.nack().expect("nack");
    }
    assert_eq!(q.try_recv().expect_err("moved"), RecvError::Empty);
    let stats = q.stat().expect("stat");
    assert_eq!((stats.dead_lettered, stats.dropped), (1, 0));
    let moved = dead.try_recv().expect("in the dead-letter mailbox");
    assert_eq!(
        (text(&moved), moved.sender, moved.attempt),
        ("poison".to_owned(), owner.pid(), 1)
    );
}

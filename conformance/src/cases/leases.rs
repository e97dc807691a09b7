//! Acknowledged receive: a message taken on lease stays with its mailbox until it is
//! acknowledged; given back (or dropped, or its receiver gone) it returns to its old place.

use postbox::{Dispatch, Mailbox, Process, Receivers, RecvError};

use crate::Transport;
use crate::support::{LONG, SHORT, wait_until};

/// A shared mailbox "jobs" of `owner` holding `j0`, `j1`, … `j{n-1}`.
fn jobs(owner: &Process, n: usize) -> Mailbox {
    let q = owner
        .mailbox("jobs")
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .create()
        .expect("create");
    if n > 0 {
        let all: Vec<String> = (0..n).map(|i| format!("j{i}")).collect();
        q.send_batch(all).expect("send");
    }
    q
}

fn text(message: &postbox::Received) -> String {
    String::from_utf8_lossy(message.payload()).into_owned()
}

/// An acknowledged message is gone, counted once as received.
pub fn an_acknowledged_lease_is_received_once<T: Transport>(t: &T) {
    let owner = t.process();
    let q = jobs(&owner, 2);
    let job = q.lease_timeout(LONG).expect("lease");
    assert_eq!(text(&job), "j0");
    let stats = q.stat().expect("stat");
    assert_eq!((stats.messages, stats.total_received), (1, 1));
    job.ack().expect("ack");
    assert_eq!(text(&q.try_recv().expect("recv")), "j1");
    assert_eq!(q.stat().expect("stat").total_received, 2);
}

/// Given back, a message returns to the front with its sequence number, no longer received.
pub fn a_nacked_lease_goes_back_to_the_front<T: Transport>(t: &T) {
    let owner = t.process();
    let q = jobs(&owner, 2);
    let job = q.lease_timeout(LONG).expect("lease");
    let seq = job.seq;
    job.nack().expect("nack");
    assert_eq!(q.stat().expect("stat").total_received, 0);
    let again = q.try_recv().expect("recv");
    assert_eq!((text(&again), again.seq), ("j0".to_owned(), seq));
}

/// A lease dropped unsettled gives its message back, as does its receiver's end.
pub fn a_dropped_lease_or_a_dead_receiver_gives_the_message_back<T: Transport>(t: &T) {
    let owner = t.process();
    let q = jobs(&owner, 2);
    drop(q.lease_timeout(LONG).expect("lease"));
    assert_eq!(q.stat().expect("stat").messages, 2);

    let worker = t.process();
    let handle = worker.mailbox("jobs").open().expect("open");
    let held = handle.lease_timeout(LONG).expect("lease");
    assert_eq!(text(&held), "j0");
    drop(worker);
    wait_until("the dead receiver's lease is back", || {
        q.stat().expect("stat").messages == 2
    });
    assert_eq!(text(&q.try_recv().expect("recv")), "j0");
    drop(held);
}

/// Every flavour: nothing there is `Empty` or `Timeout`; a future waits for a later message.
pub fn lease_flavours_wait_as_receives_do<T: Transport>(t: &T) {
    let owner = t.process();
    let q = jobs(&owner, 0);
    assert_eq!(q.try_lease().unwrap_err(), RecvError::Empty);
    assert_eq!(q.lease_timeout(SHORT).unwrap_err(), RecvError::Timeout);
    std::thread::scope(|s| {
        let waiting = s.spawn(|| {
            let job = pollster::block_on(q.lease_async()).expect("lease_async");
            let got = text(&job);
            job.ack().expect("ack");
            got
        });
        wait_until("the lease waits", || {
            q.stat().expect("stat").blocked_receivers == 1
        });
        q.send("late").expect("send");
        assert_eq!(waiting.join().expect("leaser"), "late");
    });
    assert_eq!(q.stat().expect("stat").messages, 0);
}

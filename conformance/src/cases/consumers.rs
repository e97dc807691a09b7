//! Consumers: a window of messages taken ahead on lease, and nothing lost at the edges — what a
//! consumer took but never handed out goes back to the front of the queue when it stops, is
//! dropped or dies; competing consumers each get exactly their share.

use std::collections::BTreeSet;
use std::future::Future;

use postbox::{Consumer, Dispatch, Mailbox, Process, Receivers, RecvError};

use crate::Transport;
use crate::support::{LONG, SHORT, wait_until};

/// A mailbox every process may open and receive from, first waiting served first.
fn shared_mailbox(owner: &Process, name: &str) -> Mailbox {
    owner
        .mailbox(name)
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .create()
        .expect("create")
}

fn texts(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("m{i}")).collect()
}

fn text(message: &postbox::Received) -> String {
    String::from_utf8_lossy(message.payload()).into_owned()
}

/// A shared mailbox "work" of a new process, holding `m0`, `m1`, … up to `queued` messages,
/// and a consumer of it with `window` in another process. The processes are returned so that
/// each case decides when they end.
fn consumer_of<T: Transport>(t: &T, queued: usize, window: usize) -> Consuming {
    let owner = t.process();
    let q = shared_mailbox(&owner, "work");
    if queued > 0 {
        q.send_batch(texts(0..queued)).expect("send");
    }
    let worker = t.process();
    let consumer = worker
        .mailbox("work")
        .open()
        .expect("open")
        .into_consumer(window);
    Consuming {
        _owner: owner,
        worker,
        q,
        consumer,
    }
}

/// What [`consumer_of`] sets up. Bind every field (`..` would end the processes at once), the
/// processes first, so that the handles go before them.
struct Consuming {
    _owner: Process,
    worker: Process,
    q: Mailbox,
    consumer: Consumer,
}

/// The messages queued in `q` now (waiting for the first), as text.
fn queued_texts(q: &Mailbox) -> Vec<String> {
    q.recv_many_timeout(10, LONG)
        .expect("recv_many")
        .iter()
        .map(text)
        .collect()
}

fn next_text(consumer: &mut Consumer) -> String {
    text(&consumer.recv_timeout(LONG).expect("recv"))
}

/// A consumer hands out every message in order, and what it handed out counts as received once.
pub fn a_consumer_receives_in_order<T: Transport>(t: &T) {
    let Consuming {
        _owner,
        worker: _worker,
        q,
        mut consumer,
    } = consumer_of(t, 10, 4);
    let got: Vec<String> = (0..10).map(|_| next_text(&mut consumer)).collect();
    assert_eq!(got, texts(0..10));
    assert_eq!(consumer.try_recv().unwrap_err(), RecvError::Empty);
    assert_eq!(
        consumer.stop().expect("stop"),
        0,
        "nothing left to give back"
    );
    let stats = q.stat().expect("stat");
    assert_eq!((stats.messages, stats.total_received), (0, 10));
}

/// Stopping gives back, in order and ahead of later messages, every message that arrived but was
/// not handed out: the same messages (sequence numbers), no longer counted as received.
pub fn stopping_returns_what_was_not_handed_out<T: Transport>(t: &T) {
    let Consuming {
        _owner,
        worker: _worker,
        q,
        mut consumer,
    } = consumer_of(t, 6, 8);
    assert_eq!(
        [next_text(&mut consumer), next_text(&mut consumer)],
        ["m0", "m1"]
    );
    assert_eq!(consumer.stop().expect("stop"), 4);
    q.send("later").expect("send");
    let stats = q.stat().expect("stat");
    assert_eq!((stats.messages, stats.total_received), (5, 2));
    let rest = q.recv_many_timeout(10, LONG).expect("recv_many");
    let seqs: Vec<u64> = rest.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [2, 3, 4, 5, 6]);
    assert_eq!(
        rest.iter().map(text).collect::<Vec<_>>(),
        ["m2", "m3", "m4", "m5", "later"]
    );
}

/// Dropping a consumer gives back what it did not hand out, as stopping does.
pub fn dropping_a_consumer_returns_too<T: Transport>(t: &T) {
    let Consuming {
        _owner,
        worker: _worker,
        q,
        mut consumer,
    } = consumer_of(t, 3, 4);
    assert_eq!(next_text(&mut consumer), "m0");
    drop(consumer);
    assert_eq!(queued_texts(&q), ["m1", "m2"]);
}

/// A consumer whose process ends gives back everything it still held on lease — including the
/// message it was handed last and never acknowledged, which is delivered again (at least once,
/// never lost).
pub fn a_dead_consumers_messages_go_back<T: Transport>(t: &T) {
    let Consuming {
        _owner,
        worker,
        q,
        mut consumer,
    } = consumer_of(t, 4, 8);
    assert_eq!(next_text(&mut consumer), "m0");
    drop(worker);
    assert_eq!(queued_texts(&q), texts(0..4));
}

/// What a consumer handed out is acknowledged once it has to wait for more: a crash after that
/// gives nothing back but what it never handed out.
pub fn what_was_handed_out_is_acknowledged_when_the_consumer_waits<T: Transport>(t: &T) {
    let Consuming {
        _owner,
        worker,
        q,
        mut consumer,
    } = consumer_of(t, 2, 8);
    assert_eq!(
        [next_text(&mut consumer), next_text(&mut consumer)],
        ["m0", "m1"]
    );
    assert_eq!(
        consumer.recv_timeout(SHORT).unwrap_err(),
        RecvError::Timeout
    );
    q.send("after").expect("send");
    drop(worker);
    assert_eq!(
        queued_texts(&q),
        ["after"],
        "m0 and m1 were acknowledged before the consumer waited"
    );
    assert_eq!(q.stat().expect("stat").total_received, 3);
}

/// A consumer's receive as a future: it waits for a message sent later, on any executor, and a
/// future dropped while it waits loses nothing.
pub fn a_consumer_receives_asynchronously<T: Transport>(t: &T) {
    let Consuming {
        _owner,
        worker: _worker,
        q,
        mut consumer,
    } = consumer_of(t, 0, 4);
    {
        let mut abandoned = std::pin::pin!(consumer.recv_async());
        let waker = std::task::Waker::noop();
        let polled = abandoned
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker));
        assert!(polled.is_pending(), "nothing was sent yet");
    }
    std::thread::scope(|s| {
        let waiting = s.spawn(|| pollster::block_on(consumer.recv_async()));
        wait_until("the consumer waits", || {
            q.stat().expect("stat").blocked_receivers > 0
        });
        q.send_batch(["late", "later"]).expect("send");
        let got = waiting.join().expect("consumer").expect("recv_async");
        assert_eq!(text(&got), "late");
    });
    assert_eq!(
        text(&pollster::block_on(consumer.recv_async()).expect("recv_async")),
        "later"
    );
    assert_eq!(consumer.stop().expect("stop"), 0);
}

/// Competing consumers that each stop at their end marker: every message reaches exactly one of
/// them, and every end marker reaches a consumer that stops for it — whatever each took ahead.
pub fn competing_consumers_lose_nothing_at_the_end<T: Transport>(t: &T) {
    const CONSUMERS: usize = 3;
    const ITEMS: usize = 200;
    let owner = t.process();
    let q = shared_mailbox(&owner, "work");
    let workers: Vec<Process> = (0..CONSUMERS).map(|_| t.process()).collect();
    let handles: Vec<Mailbox> = workers
        .iter()
        .map(|w| w.mailbox("work").open().expect("open"))
        .collect();
    let results: Vec<Vec<String>> = std::thread::scope(|s| {
        let running: Vec<_> = handles
            .into_iter()
            .map(|handle| {
                s.spawn(move || {
                    let mut consumer = handle.into_consumer(16);
                    let mut got = Vec::new();
                    loop {
                        let message = text(&consumer.recv_timeout(LONG).expect("recv"));
                        if message == "end" {
                            break;
                        }
                        got.push(message);
                    }
                    consumer.stop().expect("stop");
                    got
                })
            })
            .collect();
        for chunk in texts(0..ITEMS).chunks(32) {
            q.send_batch(chunk.to_vec()).expect("send");
        }
        q.send_batch(vec!["end"; CONSUMERS])
            .expect("send the end markers");
        running
            .into_iter()
            .map(|r| r.join().expect("consumer"))
            .collect()
    });
    let all: Vec<&String> = results.iter().flatten().collect();
    let distinct: BTreeSet<&String> = all.iter().copied().collect();
    assert_eq!(all.len(), ITEMS, "each message once: {results:?}");
    assert_eq!(distinct.len(), ITEMS);
    for got in &results {
        let mut sorted = got.clone();
        sorted.sort_by_key(|m| m[1..].parse::<usize>().expect("numbered"));
        assert_eq!(&sorted, got, "each consumer sees its share in order");
    }
    let stats = q.stat().expect("stat");
    assert_eq!(stats.messages, 0);
    assert_eq!(stats.total_received, (ITEMS + CONSUMERS) as u64);
}

/// A consumer waiting on a mailbox that is deleted gets `Gone`, as a receive would.
pub fn a_consumer_of_a_deleted_mailbox_gets_gone<T: Transport>(t: &T) {
    let owner = t.process();
    let q = shared_mailbox(&owner, "work");
    let worker = t.process();
    let handle = worker.mailbox("work").open().expect("open");
    std::thread::scope(|s| {
        let waiting = s.spawn(move || {
            let mut consumer = handle.into_consumer(2);
            consumer.recv_timeout(LONG)
        });
        wait_until("the consumer waits", || {
            q.stat().expect("stat").blocked_receivers > 0
        });
        q.delete().expect("delete");
        assert_eq!(
            waiting.join().expect("consumer").unwrap_err(),
            RecvError::Gone
        );
    });
}

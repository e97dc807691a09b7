//! Batches: `send_batch` is that many sends, `recv_many` that many receives, in one request each
//! through a daemon — with every rule of the single operations, and nothing lost at the edges
//! (a full mailbox, a failing message, a timeout, an answer larger than one frame).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use postbox::{Capacity, Message, MessageSize, RecvError, SendErrorKind};

use crate::Transport;
use crate::support::{SHORT, await_blocked_receivers};

fn payloads(messages: &[postbox::Received]) -> Vec<Vec<u8>> {
    messages.iter().map(|m| m.payload().to_vec()).collect()
}

/// A batch arrives as that many sends would: in order, each counted, numbered and attributed.
pub fn a_batch_is_that_many_sends_in_order<T: Transport>(t: &T) {
    let p = t.process();
    let q = p.mailbox("batch").create().expect("create");
    let sender = t.process();
    let to_q = sender.mailbox("batch").open().expect("open");
    to_q.send("single").expect("send");
    to_q.send_batch(["1", "2", "3", "4"]).expect("send_batch");
    let got = q.recv_many(10).expect("recv_many");
    assert_eq!(
        payloads(&got),
        [&b"single"[..], b"1", b"2", b"3", b"4"].map(<[u8]>::to_vec)
    );
    for pair in got.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq + 1, "numbered as single sends");
    }
    assert!(got.iter().all(|m| m.sender == sender.pid()));
    let stats = q.stat().expect("stat");
    assert_eq!((stats.total_sent, stats.total_received), (5, 5));
}

/// A batch that may not wait stops at the first message that finds the mailbox full; what was
/// not sent comes back, in order.
pub fn try_send_batch_stops_at_full_and_hands_back_the_rest<T: Transport>(t: &T) {
    let p = t.process();
    let q = p
        .mailbox("full")
        .capacity(Capacity::bounded(3, 1024))
        .create()
        .expect("create");
    let stopped = q.try_send_batch(["a", "b", "c", "d", "e"]).unwrap_err();
    assert_eq!((stopped.sent, stopped.kind()), (3, SendErrorKind::Full));
    assert_eq!(
        stopped.into_messages(),
        [Message::new("d"), Message::new("e")]
    );
    assert_eq!(q.stat().expect("stat").messages, 3);
}

/// A message that breaks a rule stops the batch there, as it would fail alone: the ones before
/// it are sent, it comes back with its error, the rest come back unsent.
pub fn a_failing_message_stops_the_batch_where_it_fails<T: Transport>(t: &T) {
    let p = t.process();
    let q = p
        .mailbox("fixed")
        .size(MessageSize::Fixed(4))
        .create()
        .expect("create");
    let stopped = q.send_batch(["abcd", "too long", "efgh"]).unwrap_err();
    assert_eq!(
        (stopped.sent, stopped.kind()),
        (1, SendErrorKind::WrongSize)
    );
    assert_eq!(stopped.unsent, [Message::new("efgh")]);
    assert_eq!(stopped.error.into_message(), Some(Message::new("too long")));
    assert_eq!(
        payloads(&q.recv_many(10).expect("recv_many")),
        [b"abcd".to_vec()]
    );
}

/// A blocking batch waits for room message by message, as that many blocking sends would.
pub fn a_blocking_batch_waits_for_room_message_by_message<T: Transport>(t: &T) {
    let p = t.process();
    let q = p
        .mailbox("narrow")
        .capacity(Capacity::bounded(2, 1024))
        .create()
        .expect("create");
    let producer = t.process();
    let to_q = producer.mailbox("narrow").open().expect("open");
    let batch: Vec<String> = (0..9).map(|n| format!("m{n}")).collect();
    std::thread::scope(|s| {
        s.spawn(|| to_q.send_batch(batch.clone()).expect("send_batch"));
        let mut got = Vec::new();
        while got.len() < batch.len() {
            got.extend(payloads(&q.recv_many(4).expect("recv_many")));
        }
        let expected: Vec<Vec<u8>> = batch.iter().map(|m| m.as_bytes().to_vec()).collect();
        assert_eq!(got, expected);
    });
}

/// A batch that runs out of time hands back every message it did not send.
pub fn a_timed_out_batch_hands_back_what_it_did_not_send<T: Transport>(t: &T) {
    let p = t.process();
    let q = p
        .mailbox("stuck")
        .capacity(Capacity::bounded(1, 1024))
        .create()
        .expect("create");
    let stopped = q.send_batch_timeout(["x", "y", "z"], SHORT).unwrap_err();
    assert_eq!((stopped.sent, stopped.kind()), (1, SendErrorKind::Timeout));
    assert_eq!(
        stopped.into_messages(),
        [Message::new("y"), Message::new("z")]
    );
    assert_eq!(q.stat().expect("stat").messages, 1);
}

/// `recv_many` takes what is ready, up to its maximum, in queue order; with nothing ready the
/// non-waiting and timed forms fail as `try_recv` and `recv_timeout` do.
pub fn recv_many_takes_what_is_ready_up_to_its_maximum<T: Transport>(t: &T) {
    let p = t.process();
    let q = p.mailbox("ready").create().expect("create");
    q.send_batch(["1", "2", "3", "4", "5"]).expect("send_batch");
    assert_eq!(payloads(&q.recv_many(3).expect("recv_many")).len(), 3);
    assert_eq!(
        payloads(&q.try_recv_many(10).expect("try_recv_many")),
        [b"4".to_vec(), b"5".to_vec()]
    );
    assert_eq!(q.try_recv_many(10).unwrap_err(), RecvError::Empty);
    assert_eq!(
        q.recv_many_timeout(10, SHORT).unwrap_err(),
        RecvError::Timeout
    );
    assert_eq!(q.stat().expect("stat").blocked_receivers, 0);
}

/// `recv_many` with nothing ready waits for the first message, like `recv`.
pub fn recv_many_waits_for_the_first_message<T: Transport>(t: &T) {
    let p = t.process();
    let q = p.mailbox("later").create().expect("create");
    let sender = t.process();
    let to_q = sender.mailbox("later").open().expect("open");
    std::thread::scope(|s| {
        let waiting = s.spawn(|| q.recv_many(8).expect("recv_many"));
        await_blocked_receivers(&to_q, 1);
        to_q.send("wake").expect("send");
        let got = waiting.join().expect("receiver");
        assert_eq!(payloads(&got), [b"wake".to_vec()]);
    });
}

/// Large messages that do not fit in one answer together are taken over several, all of them,
/// in order.
pub fn recv_many_of_large_messages_loses_none<T: Transport>(t: &T) {
    const SIZE: usize = 1 << 20;
    const COUNT: usize = 12;
    let p = t.process();
    let q = p
        .mailbox("large")
        .capacity(Capacity::bounded(COUNT, COUNT * SIZE))
        .size(MessageSize::Variable(SIZE))
        .create()
        .expect("create");
    let batch: Vec<Vec<u8>> = (0..COUNT).map(|n| vec![n as u8; SIZE]).collect();
    q.send_batch(batch.clone()).expect("send_batch");
    let mut got = Vec::new();
    while got.len() < COUNT {
        let some = q.try_recv_many(COUNT).expect("try_recv_many");
        assert!(!some.is_empty());
        got.extend(payloads(&some));
    }
    assert_eq!(got, batch);
}

/// The async forms do what the blocking ones do.
pub fn batch_futures_send_and_receive_in_order<T: Transport>(t: &T) {
    let p = t.process();
    let q = p.mailbox("futures").create().expect("create");
    pollster::block_on(q.send_batch_async(["a", "b", "c"])).expect("send_batch_async");
    let got = pollster::block_on(q.recv_many_async(2)).expect("recv_many_async");
    assert_eq!(payloads(&got), [b"a".to_vec(), b"b".to_vec()]);

    // A waiting receive of many is woken by a send.
    let mut waiting = pin!(q.recv_many_async(5));
    let first = waiting
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()));
    let got = match first {
        Poll::Ready(got) => got.expect("recv_many_async"),
        Poll::Pending => pollster::block_on(waiting).expect("recv_many_async"),
    };
    assert_eq!(payloads(&got), [b"c".to_vec()]);
}

/// Batches started one after another keep their order, even when they must wait for room: the
/// messages of a later batch wait behind the earlier one's, as single sends would.
pub fn pipelined_batches_keep_their_order_while_they_wait<T: Transport>(t: &T) {
    let p = t.process();
    let q = p
        .mailbox("pipelined")
        .capacity(Capacity::bounded(3, 1024))
        .create()
        .expect("create");
    let producer = t.process();
    let to_q = producer.mailbox("pipelined").open().expect("open");
    let batches: Vec<Vec<String>> = (0..3)
        .map(|b| (0..5).map(|n| format!("{b}.{n}")).collect())
        .collect();
    let mut futures: Vec<_> = batches
        .iter()
        .map(|batch| Box::pin(to_q.send_batch_async(batch.clone())))
        .collect();
    let mut done = Vec::new();
    for future in &mut futures {
        // The first poll sends the batch; what does not fit waits in the mailbox, in order.
        if let Poll::Ready(result) = future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            done.push(result);
        }
    }
    let expected: Vec<Vec<u8>> = batches
        .concat()
        .iter()
        .map(|m| m.as_bytes().to_vec())
        .collect();
    let mut got = Vec::new();
    while got.len() < expected.len() {
        got.extend(payloads(&q.recv_many(4).expect("recv_many")));
    }
    assert_eq!(got, expected);
    for future in futures {
        pollster::block_on(future).expect("send_batch_async");
    }
    assert!(done.into_iter().all(|result| result.is_ok()));
}

/// A batch waiting for room when its mailbox is deleted fails `Gone` at the message that
/// waited, and hands that one and every one after it back.
pub fn a_waiting_batch_whose_mailbox_is_deleted_hands_everything_back<T: Transport>(t: &T) {
    let p = t.process();
    let q = p
        .mailbox("doomed")
        .capacity(Capacity::bounded(2, 1024))
        .create()
        .expect("create");
    let producer = t.process();
    let to_q = producer.mailbox("doomed").open().expect("open");
    std::thread::scope(|s| {
        let waiting = s.spawn(|| to_q.send_batch(["1", "2", "3", "4", "5"]).unwrap_err());
        // Each message that must wait waits as a single send would: three of them.
        crate::support::await_blocked_senders(&q, 3);
        q.delete().expect("delete");
        let stopped = waiting.join().expect("producer");
        assert_eq!((stopped.sent, stopped.kind()), (2, SendErrorKind::Gone));
        assert_eq!(stopped.into_messages(), ["3", "4", "5"].map(Message::new));
    });
}

//! Selective receive on a mailbox: `Any`, `Type`, `NotType`, `TypeAtMost` (System V `msgrcv`)
//! and `From`; FIFO and priority order; a blocked receiver woken only by a match.

use postbox::{Dispatch, Message, Order, Receivers, RecvError, Selector};

use crate::Transport;
use crate::support::{await_blocked_receivers, drain, texts, typed};

/// Sends `(text, type)` pairs in order.
fn send_all(mailbox: &postbox::Mailbox, messages: &[(&'static str, i64)]) {
    for &(text, mtype) in messages {
        mailbox.send(typed(text, mtype)).expect("send");
    }
}

/// Takes messages with `selector` until none match.
fn take_all(mailbox: &postbox::Mailbox, selector: Selector) -> Vec<String> {
    texts(std::iter::from_fn(|| {
        mailbox.try_recv_matching(selector).ok()
    }))
}

/// `Any` takes messages in the order they were sent, whatever their type, with increasing
/// sequence numbers.
pub fn any_takes_messages_in_fifo_order<T: Transport>(t: &T) {
    let p = t.process();
    let queue = p.mailbox("fifo").create().expect("create");
    send_all(&queue, &[("a", 3), ("b", 1), ("c", 2)]);
    let got: Vec<_> = (0..3)
        .map(|_| queue.try_recv_matching(Selector::Any).expect("recv"))
        .collect();
    assert!(
        got.windows(2).all(|w| w[0].seq < w[1].seq),
        "sequence numbers increase"
    );
    assert!(
        got.iter()
            .all(|r| r.sender == p.pid() && r.sent_at.as_nanos() > 0)
    );
    assert_eq!(texts(got), ["a", "b", "c"]);
    assert_eq!(
        queue.try_recv_matching(Selector::Any).unwrap_err(),
        RecvError::Empty
    );
}

/// `Type(t)` takes the first message of exactly type `t`, leaving the others in order.
pub fn type_takes_the_first_of_exactly_that_type<T: Transport>(t: &T) {
    let p = t.process();
    let queue = p.mailbox("typed").create().expect("create");
    send_all(&queue, &[("a", 1), ("b", 2), ("c", 2), ("d", 1)]);
    assert_eq!(take_all(&queue, Selector::Type(2)), ["b", "c"]);
    assert_eq!(
        queue.try_recv_matching(Selector::Type(2)).unwrap_err(),
        RecvError::Empty
    );
    assert_eq!(
        queue.try_recv_matching(Selector::Type(9)).unwrap_err(),
        RecvError::Empty
    );
    assert_eq!(drain(&queue), ["a", "d"]);
}

/// `NotType(t)` takes the first message of any other type.
pub fn not_type_takes_the_first_of_another_type<T: Transport>(t: &T) {
    let p = t.process();
    let queue = p.mailbox("except").create().expect("create");
    send_all(&queue, &[("a", 1), ("b", 2), ("c", 1), ("d", 3)]);
    assert_eq!(take_all(&queue, Selector::NotType(1)), ["b", "d"]);
    assert_eq!(drain(&queue), ["a", "c"]);
}

/// `TypeAtMost(t)` takes the message with the lowest type `<= t`, the first among equals.
pub fn type_at_most_takes_the_lowest_type_first<T: Transport>(t: &T) {
    let p = t.process();
    let queue = p.mailbox("lowest").create().expect("create");
    send_all(
        &queue,
        &[("a", 5), ("b", 3), ("c", 1), ("d", 3), ("e", 1), ("f", 4)],
    );
    assert_eq!(
        take_all(&queue, Selector::TypeAtMost(3)),
        ["c", "e", "b", "d"]
    );
    assert_eq!(drain(&queue), ["a", "f"]);
}

/// `From(pid)` takes that sender's messages in order, skipping everyone else's.
pub fn from_takes_one_senders_messages<T: Transport>(t: &T) {
    let owner = t.process();
    let x = t.process();
    let y = t.process();
    let queue = owner.mailbox("from").create().expect("create");
    let (from_x, from_y) = (
        x.mailbox("from").open().expect("open"),
        y.mailbox("from").open().expect("open"),
    );
    from_x.send("x1").expect("send");
    from_y.send("y1").expect("send");
    from_x.send("x2").expect("send");
    from_y.send("y2").expect("send");
    assert_eq!(take_all(&queue, Selector::From(y.pid())), ["y1", "y2"]);
    assert_eq!(
        take_all(&queue, Selector::From(owner.pid())),
        Vec::<String>::new()
    );
    assert_eq!(drain(&queue), ["x1", "x2"]);
}

/// `From(pid)` on a mailbox: once that sender has terminated and none of its messages remain,
/// the receive fails with `PeerGone` rather than waiting forever.
pub fn from_a_terminated_sender_drains_then_is_peer_gone<T: Transport>(t: &T) {
    let owner = t.process();
    let sender = t.process();
    let queue = owner.mailbox("last-words").create().expect("create");
    let theirs = sender.mailbox("last-words").open().expect("open");
    theirs.send("last").expect("send");
    let gone = sender.pid();
    drop(theirs);
    drop(sender);
    let got = queue
        .recv_matching(Selector::From(gone))
        .expect("its message stays");
    assert_eq!(got.payload().as_ref(), b"last");
    assert_eq!(
        queue.try_recv_matching(Selector::From(gone)).unwrap_err(),
        RecvError::PeerGone
    );
    assert_eq!(
        queue.recv_matching(Selector::From(gone)).unwrap_err(),
        RecvError::PeerGone
    );
}

/// A priority mailbox serves the highest priority first, FIFO among equals.
pub fn priority_order_serves_highest_first<T: Transport>(t: &T) {
    let p = t.process();
    let queue = p
        .mailbox("prio")
        .order(Order::Priority)
        .create()
        .expect("create");
    for (text, priority) in [("a", 1), ("b", 5), ("c", 1), ("d", 5), ("e", 3), ("f", 0)] {
        queue
            .send(Message::new(text).with_priority(priority))
            .expect("send");
    }
    assert_eq!(drain(&queue), ["b", "d", "e", "a", "c", "f"]);
}

/// A FIFO mailbox ignores priorities.
pub fn fifo_order_ignores_priority<T: Transport>(t: &T) {
    let p = t.process();
    let queue = p.mailbox("fifo").create().expect("create");
    for (text, priority) in [("a", 1), ("b", 9), ("c", 5)] {
        queue
            .send(Message::new(text).with_priority(priority))
            .expect("send");
    }
    assert_eq!(drain(&queue), ["a", "b", "c"]);
}

/// Typed selectors scan a priority mailbox in its order: the highest-priority match first.
pub fn selectors_scan_in_priority_order<T: Transport>(t: &T) {
    let p = t.process();
    let queue = p
        .mailbox("prio")
        .order(Order::Priority)
        .create()
        .expect("create");
    let send = |text: &'static str, mtype, priority| {
        queue
            .send(typed(text, mtype).with_priority(priority))
            .expect("send");
    };
    send("low-2", 2, 1);
    send("high-1", 1, 9);
    send("high-2", 2, 9);
    send("mid-3", 3, 5);
    assert_eq!(take_all(&queue, Selector::Type(2)), ["high-2", "low-2"]);
    assert_eq!(take_all(&queue, Selector::NotType(1)), ["mid-3"]);
    assert_eq!(drain(&queue), ["high-1"]);
}

/// A receiver blocked with a selector is woken only by a matching message; non-matching ones
/// queue up meanwhile.
pub fn a_blocked_selector_wakes_only_for_a_match<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let queue = owner.mailbox("picky").create().expect("create");
    let theirs = peer.mailbox("picky").open().expect("open");
    std::thread::scope(|s| {
        let receiver = s.spawn(|| queue.recv_matching(Selector::Type(2)));
        await_blocked_receivers(&queue, 1);
        theirs.send(typed("not yet", 1)).expect("send");
        let stats = queue.stat().expect("stat");
        assert_eq!(
            (stats.messages, stats.blocked_receivers),
            (1, 1),
            "still waiting"
        );
        theirs.send(typed("match", 2)).expect("send");
        let got = receiver.join().expect("receiver").expect("recv");
        assert_eq!((got.payload().as_ref(), got.mtype()), (&b"match"[..], 2));
    });
    assert_eq!(drain(&queue), ["not yet"]);
}

/// Among receivers with different selectors, each message goes to a receiver it matches.
pub fn messages_go_to_the_receiver_they_match<T: Transport>(t: &T) {
    let owner = t.process();
    let ones = t.process();
    let twos = t.process();
    let queue = owner
        .mailbox("sorted")
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .create()
        .expect("create");
    let (for_ones, for_twos) = (
        ones.mailbox("sorted").open().expect("open"),
        twos.mailbox("sorted").open().expect("open"),
    );
    std::thread::scope(|s| {
        let one = s.spawn(|| for_ones.recv_matching(Selector::Type(1)));
        await_blocked_receivers(&queue, 1);
        let two = s.spawn(|| for_twos.recv_matching(Selector::Type(2)));
        await_blocked_receivers(&queue, 2);
        queue.send(typed("for twos", 2)).expect("send");
        queue.send(typed("for ones", 1)).expect("send");
        let (one, two) = (one.join().expect("ones"), two.join().expect("twos"));
        assert_eq!(one.expect("recv").payload().as_ref(), b"for ones");
        assert_eq!(two.expect("recv").payload().as_ref(), b"for twos");
    });
}

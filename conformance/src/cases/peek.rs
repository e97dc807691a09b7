//! Peeking: copies of queued messages, in receive order, with nothing taken or changed.

use postbox::{
    AdminError, Dispatch, Mailbox, Message, MessageSize, Mode, Order, Ownership, Receivers,
    Selector,
};

use crate::Transport;
use crate::support::{LONG, await_blocked_receivers, drain, texts, typed};

/// A shared, priority-ordered mailbox holding messages of several types and priorities.
fn mixed(owner: &postbox::Process) -> Mailbox {
    let q = owner
        .mailbox("mixed")
        .order(Order::Priority)
        .ownership(Ownership::System)
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .create()
        .expect("create");
    for (text, mtype, priority) in [
        ("a", 3, 0),
        ("b", 1, 5),
        ("c", 2, 0),
        ("d", 1, 9),
        ("e", 3, 5),
    ] {
        q.send(Message::new(text).with_type(mtype).with_priority(priority))
            .expect("send");
    }
    q
}

/// A peek shows what receives would take, in their order, and leaves all of it there.
pub fn peek_shows_the_queue_in_receive_order_and_takes_nothing<T: Transport>(t: &T) {
    let p = t.process();
    let q = mixed(&p);
    let before = q.stat().expect("stat");
    let seen = q.peek(100, Selector::Any).expect("peek");
    assert_eq!(texts(seen.clone()), ["d", "b", "e", "a", "c"]);
    assert_eq!(seen[0].mtype(), 1);
    assert_eq!(seen[0].priority(), 9);
    assert_eq!(q.stat().expect("stat"), before, "nothing changed");
    assert_eq!(texts(q.peek(2, Selector::Any).expect("peek")), ["d", "b"]);
    assert!(q.peek(0, Selector::Any).expect("peek").is_empty());
    let taken: Vec<_> = std::iter::from_fn(|| q.try_recv().ok()).collect();
    assert_eq!(
        taken.iter().map(|m| m.seq).collect::<Vec<_>>(),
        seen.iter().map(|m| m.seq).collect::<Vec<_>>()
    );
    assert!(q.peek(10, Selector::Any).expect("peek").is_empty());
}

/// With a selector, a peek shows what receives with that selector would take.
pub fn peek_with_a_selector_shows_what_that_receive_would_take<T: Transport>(t: &T) {
    let p = t.process();
    let q = mixed(&p);
    let peek = |selector| texts(q.peek(10, selector).expect("peek"));
    assert_eq!(peek(Selector::Type(3)), ["e", "a"]);
    assert_eq!(peek(Selector::NotType(1)), ["e", "a", "c"]);
    // Lowest type first, receive order among equals.
    assert_eq!(peek(Selector::TypeAtMost(2)), ["d", "b", "c"]);
    assert_eq!(peek(Selector::From(p.pid())).len(), 5);
    assert!(peek(Selector::Type(7)).is_empty());
    let taken: Vec<_> =
        std::iter::from_fn(|| q.try_recv_matching(Selector::TypeAtMost(2)).ok()).collect();
    assert_eq!(texts(taken), ["d", "b", "c"]);
}

/// A receiver waiting for what is not queued keeps waiting, and still gets the next match.
pub fn peek_leaves_waiting_receivers_waiting<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let q = owner
        .mailbox("q")
        .ownership(Ownership::System)
        .receivers(Receivers::Exclusive)
        .create()
        .expect("create");
    let theirs = peer.mailbox("q").open().expect("open");
    q.send(typed("one", 1)).expect("send");
    std::thread::scope(|s| {
        let receiver = s.spawn(|| theirs.recv_matching_timeout(Selector::Type(2), LONG));
        await_blocked_receivers(&q, 1);
        // The owner peeks although the peer holds the exclusive right: peeking takes nothing.
        assert_eq!(texts(q.peek(10, Selector::Any).expect("peek")), ["one"]);
        assert_eq!(q.stat().expect("stat").blocked_receivers, 1);
        q.send(typed("two", 2)).expect("send");
        let got = receiver.join().expect("receiver").expect("recv");
        assert_eq!(got.payload().as_ref(), b"two");
    });
    assert_eq!(drain(&q).len(), 0, "the exclusive right is the peer's");
}

/// Who may receive may peek; others get `PermissionDenied`.
pub fn peek_needs_the_right_to_receive<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let q = owner
        .mailbox("private")
        .mode(Mode::new(0o666))
        .create()
        .expect("create");
    q.send("secret").expect("send");
    let theirs = peer.mailbox("private").open().expect("open");
    assert_eq!(
        theirs.peek(1, Selector::Any).unwrap_err(),
        AdminError::PermissionDenied,
        "owner-only receive: no peeking either"
    );
    q.grant_receive(peer.pid()).expect("grant");
    assert_eq!(
        texts(theirs.peek(1, Selector::Any).expect("peek")),
        ["secret"]
    );
    q.delete().expect("delete");
    assert_eq!(theirs.peek(1, Selector::Any).unwrap_err(), AdminError::Gone);
}

/// One peek shows at most what one answer carries: the first message always, in order.
pub fn a_peek_of_large_messages_is_bounded_by_one_answer<T: Transport>(t: &T) {
    let p = t.process();
    let size = 64 << 10;
    let q = p
        .mailbox("large")
        .size(MessageSize::Variable(size))
        .capacity(postbox::Capacity::bounded(16, 16 * size))
        .create()
        .expect("create");
    for i in 0..10u8 {
        q.send(vec![i; size]).expect("send");
    }
    let seen = q.peek(10, Selector::Any).expect("peek");
    assert!(
        (1..10).contains(&seen.len()),
        "{} messages of 64 KiB in one answer",
        seen.len()
    );
    for (i, message) in seen.iter().enumerate() {
        assert_eq!(message.payload().as_ref(), vec![i as u8; size].as_slice());
    }
    assert_eq!(q.stat().expect("stat").messages, 10);
}

//! Message size and type rules: fixed sizes (`WrongSize`), variable sizes and byte capacities
//! (`TooLarge`), the node's maximum message size, and types below 1 (`InvalidType`). A message
//! that breaks a rule is handed back and never queued.

use postbox::{Bytes, Capacity, Message, MessageSize, OpenError, RecvError, SendErrorKind};

use crate::Transport;
use crate::support::drain;

/// A fixed-size mailbox takes payloads of exactly its size; others fail with `WrongSize`.
pub fn fixed_size_takes_exactly_its_size<T: Transport>(t: &T) {
    let p = t.process();
    let fixed = p
        .mailbox("fixed")
        .size(MessageSize::Fixed(4))
        .create()
        .expect("create");
    fixed.send("abcd").expect("exactly 4 bytes");
    for wrong in ["abc", "abcde", ""] {
        let message = Message::new(wrong).with_type(2);
        let error = fixed.try_send(message.clone()).unwrap_err();
        assert_eq!(error.kind(), SendErrorKind::WrongSize, "{wrong:?}");
        assert_eq!(error.into_message(), Some(message));
        assert_eq!(
            fixed.send(wrong).unwrap_err().kind(),
            SendErrorKind::WrongSize
        );
    }
    let stats = fixed.stat().expect("stat");
    assert_eq!(
        (stats.messages, stats.total_sent),
        (1, 1),
        "failed sends are not counted"
    );
    assert_eq!(drain(&fixed), ["abcd"]);
}

/// A variable-size mailbox takes payloads up to its maximum, the empty one included; larger ones
/// fail with `TooLarge`.
pub fn variable_size_takes_up_to_its_maximum<T: Transport>(t: &T) {
    let p = t.process();
    let small = p
        .mailbox("small")
        .size(MessageSize::Variable(8))
        .create()
        .expect("create");
    small.send("").expect("empty payload");
    small.send("12345678").expect("at the maximum");
    let error = small.send("123456789").unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::TooLarge);
    assert_eq!(error.into_message(), Some(Message::new("123456789")));
    assert_eq!(drain(&small), ["", "12345678"]);
}

/// A payload larger than a bounded mailbox's byte capacity can never fit: even a blocking send
/// fails at once with `TooLarge` instead of waiting forever.
pub fn byte_capacity_caps_the_message_size<T: Transport>(t: &T) {
    let p = t.process();
    let tiny = p
        .mailbox("tiny")
        .capacity(Capacity::bounded(4, 10))
        .create()
        .expect("create");
    let error = tiny.send("01234567890").unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::TooLarge);
    assert_eq!(error.into_message(), Some(Message::new("01234567890")));
    tiny.send("0123456789").expect("exactly the byte capacity");
}

/// Fixed size 0 and sizes above the node's maximum message size fail `create` with
/// `InvalidAttributes`.
pub fn impossible_sizes_are_invalid_attributes<T: Transport>(t: &T) {
    let p = t.process();
    let max = t.limits().max_message_size;
    for size in [
        MessageSize::Fixed(0),
        MessageSize::Fixed(max + 1),
        MessageSize::Variable(max + 1),
    ] {
        let result = p
            .mailbox("x")
            .capacity(Capacity::Unbounded)
            .size(size)
            .create();
        assert!(
            matches!(result, Err(OpenError::InvalidAttributes(_))),
            "{size:?}: {result:?}"
        );
    }
    p.mailbox("x")
        .capacity(Capacity::Unbounded)
        .size(MessageSize::Variable(max))
        .create()
        .expect("the maximum itself is allowed");
}

/// Direct sends are bounded by the node's maximum message size too.
pub fn direct_sends_above_the_maximum_are_too_large<T: Transport>(t: &T) {
    let from = t.process();
    let to = t.process();
    let max = t.limits().max_message_size;
    let error = from
        .try_send_to(to.pid(), Bytes::from(vec![7u8; max + 1]))
        .unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::TooLarge);
    assert_eq!(error.into_message().map(|m| m.len()), Some(max + 1));
    from.try_send_to(to.pid(), Bytes::from(vec![7u8; max]))
        .expect("the maximum fits");
    assert_eq!(to.recv_any().expect("recv").payload().len(), max);
}

/// A message type below 1 fails with `InvalidType`, to mailboxes and inboxes alike.
pub fn types_below_one_are_invalid_type<T: Transport>(t: &T) {
    let p = t.process();
    let peer = t.process();
    let jobs = p.mailbox("jobs").create().expect("create");
    for mtype in [0, -1, i64::MIN] {
        let message = Message::new("typed").with_type(mtype);
        let error = jobs.try_send(message.clone()).unwrap_err();
        assert_eq!(error.kind(), SendErrorKind::InvalidType, "type {mtype}");
        assert_eq!(error.into_message(), Some(message.clone()));
        let error = p.send_to(peer.pid(), message.clone()).unwrap_err();
        assert_eq!(error.kind(), SendErrorKind::InvalidType, "type {mtype}");
        assert_eq!(error.into_message(), Some(message));
    }
    jobs.send(Message::new("max").with_type(i64::MAX))
        .expect("any type >= 1");
    assert_eq!(jobs.stat().expect("stat").messages, 1);
    assert_eq!(
        peer.try_recv_any().unwrap_err(),
        RecvError::Empty,
        "nothing reached the inbox"
    );
}

/// Payload bytes, type and priority arrive exactly as sent, whatever the bytes.
pub fn payloads_types_and_priorities_arrive_intact<T: Transport>(t: &T) {
    let p = t.process();
    let jobs = p.mailbox("binary").create().expect("create");
    let payload: Vec<u8> = (0..=255).collect();
    let message = Message::new(payload.clone())
        .with_type(42)
        .with_priority(u16::MAX);
    jobs.send(message.clone()).expect("send");
    let got = jobs.recv().expect("recv");
    assert_eq!(got.message, message);
    assert_eq!(got.payload().as_ref(), payload.as_slice());
}

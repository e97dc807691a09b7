//! A producer in process: its numbering, definite failures handed back and not retried, and a
//! resumed producer whose old numbers are duplicates. (An answer lost on the wire, and a resume
//! across a daemon's `kill -9`, are tested through a daemon: postbox-chaos's `producer.rs` and
//! postbox-cli's `durable.rs`.)

use postbox::{Capacity, Producer, ProducerError, ProducerId, SendErrorKind};

fn payloads(mailbox: &postbox::Mailbox) -> Vec<String> {
    std::iter::from_fn(|| mailbox.try_recv().ok())
        .map(|m| String::from_utf8_lossy(m.payload()).into_owned())
        .collect()
}

#[test]
fn smoke() {
    let url = "inproc://producer-smoke";
    let owner = postbox::connect(url).unwrap();
    let jobs = owner.mailbox("jobs").create().unwrap();
    let mut producer = Producer::connect(url, "jobs").unwrap();
    assert_eq!(producer.next_seq(), 1);
    for text in ["a", "b", "c"] {
        producer.send(text).unwrap();
    }
    assert_eq!(producer.next_seq(), 4);
    assert_eq!(producer.resent(), 0);
    assert_eq!(payloads(&jobs), ["a", "b", "c"]);
    let other = Producer::connect(url, "jobs").unwrap();
    assert_ne!(other.id(), producer.id(), "ids are random");
}

#[test]
fn a_definite_failure_hands_the_message_back_and_is_not_retried() {
    let url = "inproc://producer-full";
    let owner = postbox::connect(url).unwrap();
    let jobs = owner
        .mailbox("jobs")
        .capacity(Capacity::bounded(1, 1024))
        .create()
        .unwrap();
    let mut producer = Producer::connect(url, "jobs").unwrap();
    producer.try_send("first").unwrap();
    let full = producer.try_send("second").unwrap_err();
    assert_eq!(full.kind(), SendErrorKind::Full);
    assert_eq!(full.into_message().unwrap().payload.as_ref(), b"second");
    assert_eq!(producer.resent(), 0);
    // Its number stays unused: a gap, which the mailbox allows.
    assert_eq!(payloads(&jobs), ["first"]);
    producer.try_send("third").unwrap();
    assert_eq!(payloads(&jobs), ["third"]);
}

#[test]
fn a_resumed_producer_continues_its_numbers_and_a_reused_number_is_a_duplicate() {
    let url = "inproc://producer-resume";
    let owner = postbox::connect(url).unwrap();
    let jobs = owner.mailbox("jobs").create().unwrap();
    let mut first = Producer::connect(url, "jobs").unwrap();
    first.send("one").unwrap();
    first.send("two").unwrap();
    let (id, next_seq) = (first.id(), first.next_seq());
    drop(first);

    let mut resumed = Producer::builder(url, "jobs")
        .resume(id, next_seq)
        .connect()
        .unwrap();
    // The last send again, as a program that never saw its answer does: dropped, answered Ok.
    resumed.resend("two").unwrap();
    resumed.send("three").unwrap();
    assert_eq!(payloads(&jobs), ["one", "two", "three"]);
    assert_eq!(jobs.stat().unwrap().duplicates_dropped, 1);

    // Resuming with numbers used before is the documented mistake: the new message is dropped.
    let mut careless = Producer::builder(url, "jobs")
        .resume(id, 1)
        .connect()
        .unwrap();
    careless.send("lost").unwrap();
    assert_eq!(payloads(&jobs), Vec::<String>::new());
    assert_eq!(jobs.stat().unwrap().duplicates_dropped, 2);

    // Another producer's numbers are its own.
    let mut stranger = Producer::builder(url, "jobs")
        .resume(ProducerId::from_raw(id.as_raw() ^ 1), 1)
        .connect()
        .unwrap();
    stranger.send("kept").unwrap();
    assert_eq!(payloads(&jobs), ["kept"]);
}

#[test]
fn a_producer_to_a_missing_mailbox_says_which() {
    let url = "inproc://producer-missing";
    let _node = postbox::connect(url).unwrap();
    let error = Producer::connect(url, "nowhere").unwrap_err();
    assert!(matches!(error, ProducerError::Open { .. }), "{error:?}");
    assert!(error.to_string().contains("\"nowhere\""), "{error}");
}

#[test]
fn a_deleted_mailbox_fails_the_send_with_gone() {
    let url = "inproc://producer-gone";
    let owner = postbox::connect(url).unwrap();
    let jobs = owner.mailbox("jobs").create().unwrap();
    let mut producer = Producer::connect(url, "jobs").unwrap();
    jobs.delete().unwrap();
    let gone = producer.send("late").unwrap_err();
    assert_eq!(gone.kind(), SendErrorKind::Gone);
    assert!(gone.into_message().is_some(), "the message comes back");
}

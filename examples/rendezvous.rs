//! Rendezvous: a zero-capacity mailbox, where a send completes only when a receiver takes the
//! message, and tells the sender who that was.
//!
//! Run: `cargo run --example rendezvous`

use std::time::Duration;

use postbox::{Capacity, Dispatch, InprocNode, Receivers, SendErrorKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let node = InprocNode::new();
    let sender = node.process();
    let meet = sender
        .mailbox("meeting-point")
        .capacity(Capacity::Zero)
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .create()?;

    // Nobody is waiting: a rendezvous cannot happen now.
    let refused = meet.try_send("anyone there?").unwrap_err();
    println!("try_send with no receiver waiting: {refused}");
    assert_eq!(refused.kind(), SendErrorKind::Full);
    let timed_out = meet
        .send_timeout("anyone?", Duration::from_millis(50))
        .unwrap_err();
    println!(
        "send_timeout with no receiver: {timed_out} (message handed back: {:?})",
        timed_out.message().is_some()
    );

    let receiver = node.process();
    let receiver_pid = receiver.pid();
    std::thread::scope(|s| {
        s.spawn(move || {
            let meet = receiver.mailbox("meeting-point").open().expect("open");
            let got = meet.recv().expect("recv");
            println!(
                "receiver {} took {:?} from {}",
                receiver.pid(),
                got.payload(),
                got.sender
            );
        });
        let sent = meet.send("hello").expect("send");
        println!(
            "sender {} returned from send: taken by {:?}",
            sender.pid(),
            sent.receiver
        );
        assert_eq!(sent.receiver, Some(receiver_pid));
    });
    Ok(())
}

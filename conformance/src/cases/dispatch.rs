//! Dispatch among several receivers of a shared mailbox (first-waiting, round-robin), receipts
//! that name the receiver, and rendezvous receivers choosing among waiting senders.

use std::collections::BTreeSet;

use postbox::{
    Capacity, Dispatch, Mailbox, Message, Order, Process, Receivers, Selector, SendErrorKind,
};

use crate::Transport;
use crate::support::{LONG, await_blocked_receivers, await_blocked_senders, await_queued, typed};

/// The owner and two receivers `first` and `second` (started in that order) of a shared mailbox
/// with `dispatch`, where `first` was the last process served.
fn served_first(
    t: &impl Transport,
    dispatch: Dispatch,
) -> (Process, Mailbox, [(Process, Mailbox); 2]) {
    let owner = t.process();
    let mailbox = owner
        .mailbox("shared")
        .receivers(Receivers::Shared(dispatch))
        .create()
        .expect("create");
    let first = t.process();
    let second = t.process();
    let first_handle = first.mailbox("shared").open().expect("open");
    let second_handle = second.mailbox("shared").open().expect("open");
    mailbox.send("prime").expect("send");
    first_handle.recv().expect("first is served");
    (
        owner,
        mailbox,
        [(first, first_handle), (second, second_handle)],
    )
}

/// Blocks `first` then `second` in `recv`, sends two receipted messages, and returns who got
/// each, checking that every receiver got the message its receipt names.
fn dispatch_two(mailbox: &Mailbox, receivers: &[(Process, Mailbox); 2]) -> [postbox::Pid; 2] {
    std::thread::scope(|s| {
        let [(first, first_handle), (second, second_handle)] = receivers;
        let first_waits = s.spawn(|| first_handle.recv());
        await_blocked_receivers(mailbox, 1);
        let second_waits = s.spawn(|| second_handle.recv());
        await_blocked_receivers(mailbox, 2);
        let took_one = mailbox.send_with_receipt("one").expect("a receiver waits");
        let took_two = mailbox.send_with_receipt("two").expect("a receiver waits");
        assert_ne!(took_one, took_two, "each waiting receiver gets one message");
        for (pid, waiting) in [(first.pid(), first_waits), (second.pid(), second_waits)] {
            let got = waiting.join().expect("receiver").expect("recv");
            let expected: &[u8] = if pid == took_one { b"one" } else { b"two" };
            assert_eq!(
                got.payload().as_ref(),
                expected,
                "the receipt names the receiver"
            );
        }
        [took_one, took_two]
    })
}

/// First-waiting dispatch serves the receiver that has waited longest.
pub fn first_waiting_serves_the_longest_waiting<T: Transport>(t: &T) {
    let (_owner, mailbox, receivers) = served_first(t, Dispatch::FirstWaiting);
    let order = dispatch_two(&mailbox, &receivers);
    assert_eq!(order, [receivers[0].0.pid(), receivers[1].0.pid()]);
}

/// Round-robin dispatch rotates: the process served last waits its turn, even when it has waited
/// longest.
pub fn round_robin_rotates_among_the_waiting<T: Transport>(t: &T) {
    let (_owner, mailbox, receivers) = served_first(t, Dispatch::RoundRobin);
    let order = dispatch_two(&mailbox, &receivers);
    assert_eq!(order, [receivers[1].0.pid(), receivers[0].0.pid()]);
}

/// With several receivers waiting, each message goes to exactly one of them.
pub fn each_message_goes_to_exactly_one_receiver<T: Transport>(t: &T) {
    const RECEIVERS: usize = 4;
    let owner = t.process();
    let mailbox = owner
        .mailbox("fanout")
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .create()
        .expect("create");
    let processes: Vec<Process> = (0..RECEIVERS).map(|_| t.process()).collect();
    let handles: Vec<Mailbox> = processes
        .iter()
        .map(|p| p.mailbox("fanout").open().expect("open"))
        .collect();
    let got: BTreeSet<String> = std::thread::scope(|s| {
        let waiting: Vec<_> = handles.iter().map(|h| s.spawn(move || h.recv())).collect();
        await_blocked_receivers(&mailbox, RECEIVERS);
        for i in 0..RECEIVERS {
            mailbox.send(format!("m{i}")).expect("send");
        }
        waiting
            .into_iter()
            .map(|w| {
                let message = w.join().expect("receiver").expect("recv");
                String::from_utf8_lossy(message.payload()).into_owned()
            })
            .collect()
    });
    assert_eq!(got.len(), RECEIVERS, "no message twice, none lost");
    let stats = mailbox.stat().expect("stat");
    assert_eq!(
        (stats.messages, stats.total_received),
        (0, RECEIVERS as u64)
    );
}

/// A receipted send with nobody waiting queues the message and returns once a receiver takes
/// it, naming that receiver.
pub fn a_receipt_names_whoever_takes_the_message<T: Transport>(t: &T) {
    let owner = t.process();
    let taker = t.process();
    let mailbox = owner
        .mailbox("signed")
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .create()
        .expect("create");
    let theirs = taker.mailbox("signed").open().expect("open");
    std::thread::scope(|s| {
        let sender = s.spawn(|| mailbox.send_with_receipt("signed for"));
        await_queued(&mailbox, 1);
        assert_eq!(
            theirs.recv().expect("recv").payload().as_ref(),
            b"signed for"
        );
        assert_eq!(
            sender.join().expect("sender").expect("receipt"),
            taker.pid()
        );
    });
}

/// A receipted send still waiting when its mailbox is deleted fails with `Gone`, message back.
pub fn a_waiting_receipt_fails_gone_on_delete<T: Transport>(t: &T) {
    let owner = t.process();
    let sender = t.process();
    let mailbox = owner.mailbox("signed").create().expect("create");
    let theirs = sender.mailbox("signed").open().expect("open");
    std::thread::scope(|s| {
        let waiting = s.spawn(|| theirs.send_with_receipt_timeout(typed("unsigned", 4), LONG));
        await_queued(&mailbox, 1);
        mailbox.delete().expect("delete");
        let error = waiting.join().expect("sender").unwrap_err();
        assert_eq!(error.kind(), SendErrorKind::Gone);
        assert_eq!(error.into_message(), Some(typed("unsigned", 4)));
    });
}

/// With zero capacity, a receiver takes among waiting senders by queue order: the highest
/// priority first in a priority mailbox, and each sender learns who took its message.
pub fn a_rendezvous_receiver_takes_waiting_senders_in_priority_order<T: Transport>(t: &T) {
    let owner = t.process();
    let sender = t.process();
    let meet = owner
        .mailbox("meet")
        .capacity(Capacity::Zero)
        .order(Order::Priority)
        .create()
        .expect("create");
    let theirs = sender.mailbox("meet").open().expect("open");
    std::thread::scope(|s| {
        let low = s.spawn(|| theirs.send(Message::new("low").with_priority(1)));
        await_blocked_senders(&meet, 1);
        let high = s.spawn(|| theirs.send(Message::new("high").with_priority(9)));
        await_blocked_senders(&meet, 2);
        assert_eq!(meet.recv().expect("recv").payload().as_ref(), b"high");
        assert_eq!(
            high.join().expect("sender").expect("send").receiver,
            Some(owner.pid())
        );
        assert_eq!(meet.recv().expect("recv").payload().as_ref(), b"low");
        assert_eq!(
            low.join().expect("sender").expect("send").receiver,
            Some(owner.pid())
        );
    });
}

/// With zero capacity, a typed receive takes a matching waiting sender, leaving the others
/// waiting.
pub fn a_rendezvous_receiver_selects_among_waiting_senders<T: Transport>(t: &T) {
    let owner = t.process();
    let sender = t.process();
    let meet = owner
        .mailbox("meet")
        .capacity(Capacity::Zero)
        .create()
        .expect("create");
    let theirs = sender.mailbox("meet").open().expect("open");
    std::thread::scope(|s| {
        let three = s.spawn(|| theirs.send(typed("three", 3)));
        await_blocked_senders(&meet, 1);
        let two = s.spawn(|| theirs.send(typed("two", 2)));
        await_blocked_senders(&meet, 2);
        let got = meet.recv_matching(Selector::TypeAtMost(3)).expect("recv");
        assert_eq!(got.payload().as_ref(), b"two", "the lowest type first");
        two.join().expect("sender").expect("send");
        assert_eq!(
            meet.stat().expect("stat").blocked_senders,
            1,
            "the other still waits"
        );
        assert_eq!(
            meet.recv_matching(Selector::Type(3))
                .expect("recv")
                .payload()
                .as_ref(),
            b"three"
        );
        three.join().expect("sender").expect("send");
    });
}

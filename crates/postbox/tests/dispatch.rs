//! Dispatch among several receivers of a shared mailbox, with real threads: every message is
//! received exactly once (none lost, none duplicated) under both round-robin and first-waiting
//! dispatch; round-robin rotates in pid order, first-waiting serves the longest-waiting; and a
//! receipted send names the process that actually received the message.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::thread;

use common::{join_soon, stat, wait_blocked_receivers};
use postbox::{Capacity, Dispatch, InprocNode, Mailbox, Pid, Process, Receivers, RecvError};

const STOP: &[u8] = b"stop";

fn shared(owner: &Process, name: &str, capacity: Capacity, dispatch: Dispatch) -> Mailbox {
    owner
        .mailbox(name)
        .capacity(capacity)
        .receivers(Receivers::Shared(dispatch))
        .create()
        .expect("create")
}

/// A receiver thread: receives until `STOP`, returning (its pid, the payloads it got).
fn receiver(node: &InprocNode, name: &str) -> (Pid, thread::JoinHandle<(Pid, Vec<String>)>) {
    let process = node.process();
    let pid = process.pid();
    let handle = process.mailbox(name).open().unwrap();
    let thread = thread::spawn(move || {
        let mut got = Vec::new();
        loop {
            let message = handle.recv().unwrap();
            if message.payload().as_ref() == STOP {
                drop(handle);
                drop(process);
                return (pid, got);
            }
            got.push(String::from_utf8(message.payload().to_vec()).unwrap());
        }
    });
    (pid, thread)
}

fn every_message_exactly_once(dispatch: Dispatch, capacity: Capacity) {
    const RECEIVERS: usize = 4;
    const MESSAGES: usize = 500;
    let node = InprocNode::new();
    let owner = node.process();
    let mailbox = shared(&owner, "work", capacity, dispatch);
    let receivers: Vec<_> = (0..RECEIVERS).map(|_| receiver(&node, "work").1).collect();
    for i in 0..MESSAGES {
        mailbox.send(format!("{i}")).unwrap();
    }
    for _ in 0..RECEIVERS {
        mailbox.send(STOP).unwrap();
    }
    let mut all = Vec::new();
    for thread in receivers {
        all.extend(join_soon(thread).1);
    }
    assert_eq!(all.len(), MESSAGES, "nothing lost, nothing duplicated");
    let distinct: BTreeSet<usize> = all.iter().map(|s| s.parse().unwrap()).collect();
    assert_eq!(distinct, (0..MESSAGES).collect());
    assert_eq!(stat(&mailbox).messages, 0);
}

#[test]
fn round_robin_delivers_every_message_exactly_once() {
    every_message_exactly_once(Dispatch::RoundRobin, Capacity::bounded(4, 4096));
}

#[test]
fn first_waiting_delivers_every_message_exactly_once() {
    every_message_exactly_once(Dispatch::FirstWaiting, Capacity::bounded(4, 4096));
}

#[test]
fn round_robin_rendezvous_delivers_every_message_exactly_once() {
    every_message_exactly_once(Dispatch::RoundRobin, Capacity::Zero);
}

#[test]
fn first_waiting_unbounded_delivers_every_message_exactly_once() {
    every_message_exactly_once(Dispatch::FirstWaiting, Capacity::Unbounded);
}

/// Starts three receivers that block in `block_order` (indices in pid order), one at a time,
/// then sends one receipted message per receiver; returns the pids and who got each message.
fn serve_blocked_receivers(dispatch: Dispatch, block_order: [usize; 3]) -> (Vec<Pid>, Vec<Pid>) {
    let node = InprocNode::new();
    let owner = node.process();
    let mailbox = shared(&owner, "work", Capacity::Unbounded, dispatch);
    let processes: Vec<Process> = (0..3).map(|_| node.process()).collect();
    let pids: Vec<Pid> = processes.iter().map(Process::pid).collect();
    let mut handles: Vec<Option<(Process, Mailbox)>> = processes
        .into_iter()
        .map(|p| {
            let handle = p.mailbox("work").open().unwrap();
            Some((p, handle))
        })
        .collect();
    let mut threads = Vec::new();
    for (waiting, &index) in block_order.iter().enumerate() {
        let (process, handle) = handles[index].take().unwrap();
        threads.push(thread::spawn(move || {
            // One message, then stop.
            let first = handle.recv().unwrap();
            assert_ne!(first.payload().as_ref(), STOP);
            assert_eq!(handle.recv().unwrap().payload().as_ref(), STOP);
            drop(process);
        }));
        wait_blocked_receivers(&mailbox, waiting + 1);
    }
    // Every receiver is waiting: each receipted send completes at once and names its receiver.
    let served: Vec<Pid> = (0..3)
        .map(|i| mailbox.send_with_receipt(format!("{i}")).unwrap())
        .collect();
    for _ in 0..3 {
        mailbox.send(STOP).unwrap();
    }
    for thread in threads {
        join_soon(thread);
    }
    (pids, served)
}

#[test]
fn first_waiting_serves_the_longest_waiting_receiver_first() {
    let (pids, served) = serve_blocked_receivers(Dispatch::FirstWaiting, [1, 0, 2]);
    assert_eq!(served, [pids[1], pids[0], pids[2]]);
}

#[test]
fn round_robin_rotates_in_pid_order_after_the_last_served() {
    // Blocked in the order 1, 0, 2: the first message goes to the longest-waiting (1), then the
    // rotation continues in pid order: 2, then wraps to 0.
    let (pids, served) = serve_blocked_receivers(Dispatch::RoundRobin, [1, 0, 2]);
    assert_eq!(served, [pids[1], pids[2], pids[0]]);
}

#[test]
fn round_robin_spreads_messages_evenly_over_waiting_receivers() {
    const RECEIVERS: usize = 3;
    const ROUNDS: usize = 20;
    let node = InprocNode::new();
    let owner = node.process();
    let mailbox = shared(&owner, "work", Capacity::Unbounded, Dispatch::RoundRobin);
    let receivers: Vec<_> = (0..RECEIVERS).map(|_| receiver(&node, "work")).collect();
    let mut counts: BTreeMap<Pid, usize> = BTreeMap::new();
    for round in 0..ROUNDS {
        // Every receiver waits at the start of a round; those served during the round may come
        // back at any time, yet the rotation reaches each of the others before any of them.
        wait_blocked_receivers(&mailbox, RECEIVERS);
        let mut this_round = BTreeSet::new();
        for i in 0..RECEIVERS {
            let pid = mailbox.send_with_receipt(format!("{round}.{i}")).unwrap();
            this_round.insert(pid);
            *counts.entry(pid).or_default() += 1;
        }
        assert_eq!(
            this_round.len(),
            RECEIVERS,
            "round {round} served everyone once"
        );
    }
    for _ in 0..RECEIVERS {
        mailbox.send(STOP).unwrap();
    }
    for (pid, thread) in receivers {
        let (_, got) = join_soon(thread);
        assert_eq!(got.len(), ROUNDS);
        assert_eq!(counts[&pid], ROUNDS, "the receipt named the real receiver");
    }
}

#[test]
fn send_with_receipt_names_the_receiver_of_each_message() {
    const RECEIVERS: usize = 3;
    const SENDERS: usize = 3;
    const EACH: usize = 100;
    let node = InprocNode::new();
    let owner = node.process();
    let mailbox = shared(
        &owner,
        "work",
        Capacity::bounded(2, 4096),
        Dispatch::FirstWaiting,
    );
    let receivers: Vec<_> = (0..RECEIVERS).map(|_| receiver(&node, "work").1).collect();
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let process = node.process();
            let handle = process.mailbox("work").open().unwrap();
            thread::spawn(move || {
                let mut receipts = Vec::new();
                for i in 0..EACH {
                    let payload = format!("{s}:{i}");
                    let by = handle.send_with_receipt(payload.clone()).unwrap();
                    receipts.push((payload, by));
                }
                drop(handle);
                drop(process);
                receipts
            })
        })
        .collect();
    let mut claimed: BTreeMap<String, Pid> = BTreeMap::new();
    for sender in senders {
        claimed.extend(join_soon(sender));
    }
    for _ in 0..RECEIVERS {
        mailbox.send(STOP).unwrap();
    }
    let mut actual: BTreeMap<String, Pid> = BTreeMap::new();
    for thread in receivers {
        let (pid, got) = join_soon(thread);
        for payload in got {
            assert!(actual.insert(payload, pid).is_none(), "received twice");
        }
    }
    assert_eq!(claimed.len(), SENDERS * EACH);
    assert_eq!(claimed, actual);
}

#[test]
fn send_with_receipt_waits_while_the_message_is_only_queued() {
    let node = InprocNode::new();
    let owner = node.process();
    let mailbox = shared(&owner, "work", Capacity::Unbounded, Dispatch::FirstWaiting);
    let receiver = node.process();
    let receiver_pid = receiver.pid();
    let theirs = receiver.mailbox("work").open().unwrap();
    let sender = thread::spawn(move || (mailbox.send_with_receipt("sign"), mailbox));
    common::spin_until("the message is queued", || {
        theirs.stat().unwrap().messages == 1
    });
    assert!(!sender.is_finished(), "queued is not received");
    assert_eq!(theirs.recv().unwrap().payload().as_ref(), b"sign");
    let (by, _mailbox) = join_soon(sender);
    assert_eq!(by.unwrap(), receiver_pid);
    assert_eq!(theirs.try_recv().unwrap_err(), RecvError::Empty);
}

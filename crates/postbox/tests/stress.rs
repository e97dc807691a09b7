//! Stress: several producer and consumer threads over bounded, zero-capacity and unbounded
//! mailboxes, inboxes and selects, mixing blocking, timed and async operations. Every message
//! must arrive exactly once, and each consumer must see each sender's messages in the order they
//! were sent. Sized to run well under two seconds in a debug build.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread;

use common::{PATIENCE, join_soon};
use postbox::{
    Capacity, Dispatch, InprocNode, Mailbox, Message, Pid, Process, Received, Receivers, Select,
    Selector,
};

const PRODUCERS: u32 = 4;
const CONSUMERS: usize = 3;
const EACH: u32 = 1000;
const STOP: &[u8] = b"stop";

/// The payload of producer `producer`'s `seq`th message.
fn payload(producer: u32, seq: u32) -> Vec<u8> {
    let mut bytes = producer.to_le_bytes().to_vec();
    bytes.extend_from_slice(&seq.to_le_bytes());
    bytes
}

/// What one consumer got: (sender pid, producer index, sequence number), in arrival order.
type Log = Vec<(Pid, u32, u32)>;

fn record(log: &mut Log, message: &Received) {
    let bytes = message.payload().as_ref();
    assert_eq!(bytes.len(), 8, "not a producer's message: {bytes:?}");
    let producer = u32::from_le_bytes(bytes[..4].try_into().unwrap());
    let seq = u32::from_le_bytes(bytes[4..].try_into().unwrap());
    log.push((message.sender, producer, seq));
}

/// Checks the consumers' logs: every (producer, seq) exactly once, from the producer's pid, and
/// within each log each producer's messages in increasing order.
fn check(logs: &[Log], producers: &[Pid], each: u32) {
    let mut seen: BTreeMap<(u32, u32), usize> = BTreeMap::new();
    for (consumer, log) in logs.iter().enumerate() {
        let mut last: BTreeMap<u32, u32> = BTreeMap::new();
        for &(sender, producer, seq) in log {
            assert_eq!(
                sender, producers[producer as usize],
                "wrong sender recorded"
            );
            if let Some(&before) = last.get(&producer) {
                assert!(
                    seq > before,
                    "consumer {consumer} got {producer}:{seq} after {producer}:{before}"
                );
            }
            last.insert(producer, seq);
            *seen.entry((producer, seq)).or_default() += 1;
        }
    }
    let total = producers.len() * each as usize;
    assert_eq!(seen.len(), total, "messages lost");
    assert!(seen.values().all(|&n| n == 1), "messages duplicated");
}

/// Sends with a rotating choice of blocking, timed and async sends.
fn send_somehow(mailbox: &Mailbox, message: Vec<u8>, i: u32) {
    match i % 3 {
        0 => mailbox.send(message).map(|_| ()),
        1 => mailbox.send_timeout(message, PATIENCE).map(|_| ()),
        _ => pollster::block_on(mailbox.send_async(message)).map(|_| ()),
    }
    .expect("send");
}

/// Receives with a rotating choice of blocking, timed and async receives.
fn recv_somehow(mailbox: &Mailbox, i: usize) -> Received {
    match i % 3 {
        0 => mailbox.recv(),
        1 => mailbox.recv_timeout(PATIENCE),
        _ => pollster::block_on(mailbox.recv_async()),
    }
    .expect("recv")
}

fn many_to_many(capacity: Capacity, dispatch: Dispatch) {
    let node = InprocNode::new();
    let owner = node.process();
    let mailbox = owner
        .mailbox("stress")
        .capacity(capacity)
        .receivers(Receivers::Shared(dispatch))
        .create()
        .unwrap();
    let mut producer_pids = Vec::new();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let process = node.process();
            producer_pids.push(process.pid());
            let handle = process.mailbox("stress").open().unwrap();
            thread::spawn(move || {
                for i in 0..EACH {
                    send_somehow(&handle, payload(p, i), i);
                }
                drop(handle);
                drop(process);
            })
        })
        .collect();
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let process = node.process();
            let handle = process.mailbox("stress").open().unwrap();
            thread::spawn(move || {
                let mut log = Log::new();
                for i in 0.. {
                    let message = recv_somehow(&handle, i);
                    if message.payload().as_ref() == STOP {
                        break;
                    }
                    record(&mut log, &message);
                }
                drop(handle);
                drop(process);
                log
            })
        })
        .collect();
    for producer in producers {
        join_soon(producer);
    }
    // Every data message is in (or through) the mailbox before the first stop.
    for _ in 0..CONSUMERS {
        mailbox.send(STOP).unwrap();
    }
    let logs: Vec<Log> = consumers.into_iter().map(join_soon).collect();
    check(&logs, &producer_pids, EACH);
    let stats = owner.node_stats().expect("node stats");
    assert_eq!(stats.queued_messages, 0);
    assert_eq!(stats.total_sent, stats.total_received);
}

#[test]
fn bounded_first_waiting_many_to_many() {
    many_to_many(Capacity::bounded(4, 1 << 10), Dispatch::FirstWaiting);
}

#[test]
fn bounded_round_robin_many_to_many() {
    many_to_many(Capacity::bounded(1, 1 << 10), Dispatch::RoundRobin);
}

#[test]
fn rendezvous_many_to_many() {
    many_to_many(Capacity::Zero, Dispatch::FirstWaiting);
}

#[test]
fn unbounded_many_to_many() {
    many_to_many(Capacity::Unbounded, Dispatch::RoundRobin);
}

#[test]
fn inbox_many_senders_many_receiving_threads() {
    let node = InprocNode::new();
    let consumer = Arc::new(node.process());
    let consumer_pid = consumer.pid();
    let mut producer_pids = Vec::new();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let process = node.process();
            producer_pids.push(process.pid());
            thread::spawn(move || {
                for i in 0..EACH {
                    let message = payload(p, i);
                    match i % 3 {
                        0 => process.send_to(consumer_pid, message),
                        1 => process.send_to_timeout(consumer_pid, message, PATIENCE),
                        _ => pollster::block_on(process.send_to_async(consumer_pid, message)),
                    }
                    .expect("send_to");
                }
            })
        })
        .collect();
    // Several threads receive from the one inbox of one process.
    let receivers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let consumer = consumer.clone();
            thread::spawn(move || {
                let mut log = Log::new();
                for i in 0.. {
                    let message = match i % 3 {
                        0 => consumer.recv_any(),
                        1 => consumer.recv_any_timeout(PATIENCE),
                        _ => pollster::block_on(consumer.recv_any_async()),
                    }
                    .expect("recv_any");
                    if message.payload().as_ref() == STOP {
                        break;
                    }
                    record(&mut log, &message);
                }
                log
            })
        })
        .collect();
    for producer in producers {
        join_soon(producer);
    }
    let stopper = node.process();
    for _ in 0..CONSUMERS {
        stopper.send_to(consumer_pid, STOP).unwrap();
    }
    let logs: Vec<Log> = receivers.into_iter().map(join_soon).collect();
    check(&logs, &producer_pids, EACH);
}

#[test]
fn inbox_recv_from_each_sender_in_order() {
    let node = InprocNode::with_limits(postbox::Limits {
        inbox_capacity: 8,
        ..postbox::Limits::default()
    });
    let consumer = Arc::new(node.process());
    let consumer_pid = consumer.pid();
    let producers: Vec<Process> = (0..PRODUCERS).map(|_| node.process()).collect();
    let producer_pids: Vec<Pid> = producers.iter().map(Process::pid).collect();
    let senders: Vec<_> = producers
        .into_iter()
        .enumerate()
        .map(|(p, process)| {
            thread::spawn(move || {
                for i in 0..EACH {
                    process.send_to(consumer_pid, payload(p as u32, i)).unwrap();
                }
                process
            })
        })
        .collect();
    // One thread per sender, each receiving only from its sender, through a small inbox.
    let receivers: Vec<_> = producer_pids
        .iter()
        .map(|&from| {
            let consumer = consumer.clone();
            thread::spawn(move || {
                let mut log = Log::new();
                for _ in 0..EACH {
                    record(&mut log, &consumer.recv_from(from).unwrap());
                }
                log
            })
        })
        .collect();
    let logs: Vec<Log> = receivers.into_iter().map(join_soon).collect();
    for (p, log) in logs.iter().enumerate() {
        assert!(log.iter().all(|&(sender, ..)| sender == producer_pids[p]));
    }
    check(&logs, &producer_pids, EACH);
    for sender in senders {
        join_soon(sender);
    }
}

#[test]
fn select_consumers_over_mailboxes_and_inboxes() {
    let node = InprocNode::new();
    let owner = node.process();
    let shared = |name: &str, capacity| {
        owner
            .mailbox(name)
            .capacity(capacity)
            .receivers(Receivers::Shared(Dispatch::FirstWaiting))
            .create()
            .unwrap()
    };
    let _bounded = shared("bounded", Capacity::bounded(2, 1 << 10));
    let _zero = shared("zero", Capacity::Zero);
    let consumers: Vec<Process> = (0..CONSUMERS).map(|_| node.process()).collect();
    let consumer_pids: Vec<Pid> = consumers.iter().map(Process::pid).collect();
    let mut producer_pids = Vec::new();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let process = node.process();
            producer_pids.push(process.pid());
            let bounded = process.mailbox("bounded").open().unwrap();
            let zero = process.mailbox("zero").open().unwrap();
            let consumer_pids = consumer_pids.clone();
            thread::spawn(move || {
                for i in 0..EACH {
                    let message = Message::new(payload(p, i));
                    match i % 3 {
                        0 => bounded.send(message).map(|_| ()),
                        1 => zero.send(message).map(|_| ()),
                        _ => {
                            let to = consumer_pids[(i as usize / 3) % consumer_pids.len()];
                            process.send_to(to, message)
                        }
                    }
                    .expect("send");
                }
            })
        })
        .collect();
    let receivers: Vec<_> = consumers
        .into_iter()
        .map(|process| {
            let bounded = process.mailbox("bounded").open().unwrap();
            let zero = process.mailbox("zero").open().unwrap();
            thread::spawn(move || {
                let mut select = Select::new();
                select.recv(&bounded, Selector::Any);
                select.recv(&zero, Selector::Any);
                select.inbox(&process, Selector::Any);
                // One log per branch: order is per mailbox, not across mailboxes.
                let mut logs = vec![Log::new(), Log::new(), Log::new()];
                loop {
                    let selected = select.wait().unwrap();
                    if selected.message.payload().as_ref() == STOP {
                        break;
                    }
                    record(&mut logs[selected.index], &selected.message);
                }
                // Producers are done: take whatever the shared mailboxes still hold.
                while let Ok(selected) = select.try_wait() {
                    assert_ne!(selected.message.payload().as_ref(), STOP);
                    record(&mut logs[selected.index], &selected.message);
                }
                logs
            })
        })
        .collect();
    for producer in producers {
        join_soon(producer);
    }
    for &pid in &consumer_pids {
        owner.send_to(pid, STOP).unwrap();
    }
    let logs: Vec<Log> = receivers.into_iter().flat_map(join_soon).collect();
    check(&logs, &producer_pids, EACH);
}

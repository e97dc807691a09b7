//! Jepsen-style proof of durable mailboxes: producers and consumers (acknowledged receive) work
//! on a durable mailbox while the daemon is killed with SIGKILL and restarted, again and again;
//! then a checker classifies every message:
//!
//! - **lost**: its send was acknowledged, and no consumer ever received it;
//! - **duplicated**: received and acknowledged twice;
//! - **unexpected**: received, but never sent;
//! - **indeterminate**: its send got no answer, even retried (it may or may not be there).
//!
//! The producers are [`Producer`]s: a send whose answer a crash took is sent again, under the
//! same number, once the daemon is back — so those retries must not be duplicated either, and
//! sends are rarely left indeterminate.
//!
//! Lost, duplicated and unexpected must be 0. The cycles are `POSTBOX_CRASH_CYCLES` (5 by
//! default, the short form `cargo test` runs; the long form is in the README). Run with
//! `--nocapture` to see the counts.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use postbox::{Process, Producer, RecvError, Retry};
use support::Daemon;

const PRODUCERS: u64 = 2;
const CONSUMERS: usize = 2;
/// Acknowledged sends between two crashes, at least: the workload makes progress each cycle.
const PROGRESS: usize = 20;

#[derive(Default, Debug)]
struct Ledger {
    /// Sends answered `Ok`.
    sent: BTreeSet<u64>,
    /// Sends with no answer before the daemon went away.
    indeterminate: BTreeSet<u64>,
    /// Receives acknowledged `Ok`, with how many times.
    acked: BTreeMap<u64, u32>,
    /// Received, and the acknowledgement had no answer (the daemon went away).
    unconfirmed: BTreeSet<u64>,
    /// Sends the producers sent again after a crash took their answer.
    resent: u64,
}

impl Ledger {
    fn counts(&self) -> (usize, usize, usize, usize) {
        (
            self.sent.len(),
            self.indeterminate.len(),
            self.acked.len(),
            self.unconfirmed.len(),
        )
    }
}

/// Connects, retrying while the daemon restarts.
fn connect(url: &str, stop: &AtomicBool) -> Option<Process> {
    while !stop.load(Ordering::Relaxed) {
        if let Ok(process) = postbox::connect(url) {
            return Some(process);
        }
        thread::sleep(Duration::from_millis(5));
    }
    None
}

fn produce(url: String, first: u64, ledger: Arc<Mutex<Ledger>>, stop: Arc<AtomicBool>) {
    // Patient enough to ride out every restart.
    let retry = Retry {
        attempts: 10_000,
        within: Duration::from_secs(60),
        max_pause: Duration::from_millis(20),
        ..Retry::default()
    };
    let mut producer = loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        match Producer::builder(&url, "jobs").retry(retry).connect() {
            Ok(producer) => break producer,
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    };
    let mut next = first;
    while !stop.load(Ordering::Relaxed) {
        let id = next;
        next += 1;
        let sent = producer.send_timeout(id.to_string(), Duration::from_secs(60));
        let mut ledger = ledger.lock().unwrap();
        match sent {
            Ok(_) => ledger.sent.insert(id),
            Err(_) => ledger.indeterminate.insert(id),
        };
    }
    ledger.lock().unwrap().resent += producer.resent();
}

fn consume(url: String, ledger: Arc<Mutex<Ledger>>, stop: Arc<AtomicBool>) {
    while let Some(process) = connect(&url, &stop) {
        let Ok(jobs) = process.mailbox("jobs").open() else {
            continue;
        };
        while !stop.load(Ordering::Relaxed) {
            match jobs.lease_timeout(Duration::from_millis(50)) {
                Ok(job) => {
                    let id: u64 = String::from_utf8_lossy(job.payload())
                        .parse()
                        .unwrap_or(u64::MAX);
                    match job.ack() {
                        Ok(()) => *ledger.lock().unwrap().acked.entry(id).or_default() += 1,
                        Err(_) => {
                            ledger.lock().unwrap().unconfirmed.insert(id);
                            break;
                        }
                    }
                }
                Err(RecvError::Timeout) => {}
                Err(_) => break,
            }
        }
    }
}

/// Waits, observing, until `done` holds; false after a minute.
fn wait_for(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
    true
}

/// Waits, observing, until `done` holds.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn acknowledged_messages_survive_kill_9_of_the_daemon() {
    let cycles: usize = std::env::var("POSTBOX_CRASH_CYCLES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5);
    // A small resident budget, so that a restart with a backlog leaves most of it on disk and
    // the consumers' receives page it in.
    let mut daemon = Daemon::start_with(&["--resident-messages", "8"]);
    daemon
        .run(&["create", "jobs", "--durable", "--capacity", "unbounded"])
        .code(0);
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop_producing = Arc::new(AtomicBool::new(false));
    let stop_consuming = Arc::new(AtomicBool::new(false));
    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        let (url, ledger, stop) = (daemon.url(), ledger.clone(), stop_producing.clone());
        producers.push(thread::spawn(move || produce(url, p << 40, ledger, stop)));
    }
    let mut consumers = Vec::new();
    for _ in 0..CONSUMERS {
        let (url, ledger, stop) = (daemon.url(), ledger.clone(), stop_consuming.clone());
        consumers.push(thread::spawn(move || consume(url, ledger, stop)));
    }

    for _ in 0..cycles {
        let before = ledger.lock().unwrap().sent.len();
        eventually("sends are acknowledged", || {
            ledger.lock().unwrap().sent.len() >= before + PROGRESS
        });
        daemon.crash_and_restart();
    }
    stop_producing.store(true, Ordering::Relaxed);
    for producer in producers {
        producer.join().unwrap();
    }
    // Let the consumers take everything that is left.
    let mut last = serde_json::Value::Null;
    let drained = wait_for(|| {
        last = daemon.stat("jobs");
        last["messages"] == 0 && last["leased"] == 0
    });
    assert!(
        drained,
        "the mailbox was not drained: {last}\n{:?}",
        ledger.lock().unwrap().counts()
    );
    stop_consuming.store(true, Ordering::Relaxed);
    for consumer in consumers {
        consumer.join().unwrap();
    }

    let ledger = ledger.lock().unwrap();
    let received: BTreeSet<u64> = ledger
        .acked
        .keys()
        .chain(&ledger.unconfirmed)
        .copied()
        .collect();
    let lost: Vec<u64> = ledger.sent.difference(&received).copied().collect();
    let duplicated: Vec<u64> = ledger
        .acked
        .iter()
        .filter(|&(_, &n)| n > 1)
        .map(|(&id, _)| id)
        .collect();
    let unexpected: Vec<u64> = received
        .iter()
        .filter(|id| !ledger.sent.contains(id) && !ledger.indeterminate.contains(id))
        .copied()
        .collect();
    eprintln!(
        "durable crash test: {cycles} kill -9 cycles; sent and acknowledged {}, received {}, \
         lost {}, duplicated {}, unexpected {}, indeterminate {} (of which received {}); \
         sends retried after a crash took their answer {}",
        ledger.sent.len(),
        received.len(),
        lost.len(),
        duplicated.len(),
        unexpected.len(),
        ledger.indeterminate.len(),
        ledger
            .indeterminate
            .iter()
            .filter(|id| received.contains(id))
            .count(),
        ledger.resent,
    );
    assert!(lost.is_empty(), "lost: {lost:?}");
    assert!(duplicated.is_empty(), "duplicated: {duplicated:?}");
    assert!(unexpected.is_empty(), "unexpected: {unexpected:?}");
}

//! `kill -9` of a consumer process while competing consumers hold windows on lease: no message is
//! lost, and the only repeats are messages the killed consumer had been handed since its last
//! acknowledgement (at least once, as docs/semantics.md promises), at most half a window.
//!
//! The consumers are real processes: this test binary started again, running only
//! [`consumer_child`], with the daemon's URL in [`CHILD_URL`]. Each prints every message it is
//! handed, as it is handed, so that the parent knows exactly what the killed one saw.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postbox::{Dispatch, Receivers};
use postbox_conformance::{Transport, UnixTransport};

/// Set in a child: the daemon to consume from.
const CHILD_URL: &str = "POSTBOX_TEST_CONSUMER_URL";

/// The consumers' window: what one may hold on lease.
const WINDOW: usize = 16;

/// How long anything here may take before the test fails rather than hangs.
const PATIENCE: Duration = Duration::from_secs(30);

/// A consumer process: prints `got N` for every message `mN` it is handed, until `end`.
#[test]
fn consumer_child() {
    let Ok(url) = std::env::var(CHILD_URL) else {
        return; // Not started as a child: nothing to do.
    };
    let process = postbox::connect(&url).expect("connect");
    let mailbox = process.mailbox("work").open().expect("open");
    let mut consumer = mailbox.into_consumer(WINDOW);
    let mut out = std::io::stdout().lock();
    loop {
        let message = consumer.recv_timeout(PATIENCE).expect("recv");
        let text = String::from_utf8_lossy(message.payload()).into_owned();
        if text == "end" {
            break;
        }
        writeln!(out, "got {}", &text[1..]).expect("stdout");
        out.flush().expect("stdout");
    }
    consumer.stop().expect("stop");
}

/// A started consumer and what it has printed so far.
struct Consumer {
    child: Child,
    got: Arc<Mutex<Vec<u64>>>,
    /// Reads its output until the end: joined before its lines are counted as final.
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Consumer {
    fn start(url: &str) -> Consumer {
        let mut child = Command::new(std::env::current_exe().expect("this test binary"))
            .args([
                "--exact",
                "consumer_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_URL, url)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start a consumer");
        let got = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("piped");
        let lines = got.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // The harness may print "test consumer_child ... " first, on the same line.
                if let Some(n) = line.split_once("got ").and_then(|(_, n)| n.parse().ok()) {
                    lines.lock().expect("lines").push(n);
                }
            }
        });
        Consumer {
            child,
            got,
            reader: Some(reader),
        }
    }

    fn count(&self) -> usize {
        self.got.lock().expect("lines").len()
    }

    /// Everything it printed, once it has exited and its output is read to the end.
    fn all_it_got(&mut self) -> Vec<u64> {
        if let Some(reader) = self.reader.take() {
            reader.join().expect("the output reader");
        }
        self.got.lock().expect("lines").clone()
    }

    /// Waits for the child to exit successfully, killing it after `PATIENCE`.
    fn finish(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "a consumer failed: {status}");
                return;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("a consumer did not finish in {PATIENCE:?}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "gave up waiting until {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn kill_9_of_a_consumer_loses_nothing_and_repeats_only_what_it_was_handed() {
    if std::env::var_os(CHILD_URL).is_some() {
        return; // A child runs only `consumer_child`.
    }
    const FIRST: u64 = 1000;
    const ALL: u64 = 3000;
    let t = UnixTransport::start();
    let owner = t.process();
    let q = owner
        .mailbox("work")
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .capacity(postbox::Capacity::Unbounded)
        .create()
        .expect("create");
    let send = |range: std::ops::Range<u64>| {
        let all: Vec<String> = range.map(|i| format!("m{i}")).collect();
        for chunk in all.chunks(64) {
            q.send_batch(chunk.to_vec()).expect("send");
        }
    };
    send(0..FIRST);
    let mut victim = Consumer::start(t.url());
    let mut survivors = [Consumer::start(t.url()), Consumer::start(t.url())];

    // Killed while it holds a window: the queue still has hundreds of messages.
    wait_until("the victim has been handed 100 messages", || {
        victim.count() >= 100
    });
    victim.child.kill().expect("kill -9");
    victim.child.wait().expect("reaped");
    send(FIRST..ALL);
    q.send_batch(vec!["end"; survivors.len()])
        .expect("end markers");
    for survivor in &mut survivors {
        survivor.finish();
    }

    // The checker: every message by who got it.
    let killed = victim.all_it_got();
    let survived: Vec<Vec<u64>> = survivors.iter_mut().map(Consumer::all_it_got).collect();
    let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
    for &n in killed.iter().chain(survived.iter().flatten()) {
        *seen.entry(n).or_default() += 1;
    }
    let lost: Vec<u64> = (0..ALL).filter(|n| !seen.contains_key(n)).collect();
    let repeated: Vec<u64> = seen
        .iter()
        .filter(|&(_, &times)| times > 1)
        .map(|(&n, _)| n)
        .collect();
    let unexpected = seen.keys().filter(|&&n| n >= ALL).count();
    eprintln!(
        "kill -9 of a consumer: {} messages, the killed one was handed {}, lost {}, repeated {}, unexpected {}",
        ALL,
        killed.len(),
        lost.len(),
        repeated.len(),
        unexpected
    );
    assert!(lost.is_empty(), "lost: {lost:?}");
    assert_eq!(unexpected, 0);
    assert!(
        repeated.iter().all(|n| killed.contains(n)),
        "a repeat the killed consumer never saw: {repeated:?}"
    );
    assert!(
        repeated.len() <= WINDOW / 2,
        "more repeats ({}) than half a window: {repeated:?}",
        repeated.len()
    );
    for got in &survived {
        let mut distinct = got.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            got.len(),
            "a survivor was handed a message twice"
        );
    }
    let stats = q.stat().expect("stat");
    assert_eq!(stats.messages, 0, "everything was taken");
}

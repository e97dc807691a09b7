//! postbox's in-process transport beside crossbeam-channel and flume, in one run.
//!
//! Three scenarios, each measured for all three mechanisms with the same payload type (a 64-byte
//! [`Bytes`], cloned per send: one atomic reference-count increment for every mechanism) and the
//! same bound (64 messages):
//!
//! - `spsc`: one producer thread, one consumer thread; throughput in messages per second.
//! - `mpmc`: two producer threads, two consumer threads; throughput in messages per second.
//! - `pingpong`: two threads bouncing one message; the time per round trip. Besides criterion's
//!   estimates, every round trip is timed on its own and the p50/p99/p99.9 of all of them (warm-up
//!   included) are printed and written to `<criterion dir>/pingpong/<mechanism>/round_trips.json`.
//!
//! postbox runs on one [`InprocNode`]: SPSC receives through the owner of a process-owned mailbox
//! and sends through another process that opened it; MPMC gives each of the four threads its own
//! process on one shared (first-waiting) mailbox; ping-pong uses one owner-receive mailbox per
//! direction (`pingpong/postbox`) and, separately, direct `send_to` / `recv_any` between the two
//! processes' inboxes (`pingpong/postbox-direct`).
//!
//! Run with `cargo bench -p postbox-benches` (under three minutes on 2 vCPUs); `docs/performance.md`
//! has the method, the figures and how to read them.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use postbox::{Capacity, Dispatch, InprocNode, Mailbox, Mode, Process, Receivers};

/// Payload bytes per message.
const PAYLOAD_LEN: usize = 64;
/// The bound of every queue, in messages.
const BOUND: usize = 64;
/// The byte bound of postbox mailboxes: exactly `BOUND` payloads, so the message count binds.
const BOUND_BYTES: usize = BOUND * PAYLOAD_LEN;

/// The payload every mechanism sends (cloned per message).
fn payload() -> Bytes {
    Bytes::from(vec![0xa5_u8; PAYLOAD_LEN])
}

/// The end-of-stream marker in MPMC runs: an empty payload.
fn sentinel() -> Bytes {
    Bytes::new()
}

/// One sending end of a queue, for the generic scenarios.
trait Tx: Sync {
    fn put(&self, payload: Bytes);
}

/// One receiving end of a queue, for the generic scenarios; returns the payload.
trait Rx: Sync {
    fn take(&self) -> Bytes;
}

impl Tx for crossbeam_channel::Sender<Bytes> {
    fn put(&self, payload: Bytes) {
        self.send(payload).expect("crossbeam receiver alive");
    }
}

impl Rx for crossbeam_channel::Receiver<Bytes> {
    fn take(&self) -> Bytes {
        self.recv().expect("crossbeam sender alive")
    }
}

impl Tx for flume::Sender<Bytes> {
    fn put(&self, payload: Bytes) {
        self.send(payload).expect("flume receiver alive");
    }
}

impl Rx for flume::Receiver<Bytes> {
    fn take(&self) -> Bytes {
        self.recv().expect("flume sender alive")
    }
}

impl Tx for Mailbox {
    fn put(&self, payload: Bytes) {
        self.send(payload).expect("postbox send");
    }
}

impl Rx for Mailbox {
    fn take(&self) -> Bytes {
        self.recv().expect("postbox recv").message.payload
    }
}

/// Direct messaging: a process and the pid it sends to.
struct Direct<'a> {
    me: &'a Process,
    peer: postbox::Pid,
}

impl Tx for Direct<'_> {
    fn put(&self, payload: Bytes) {
        self.me
            .send_to(self.peer, payload)
            .expect("postbox send_to");
    }
}

impl Rx for Direct<'_> {
    fn take(&self) -> Bytes {
        self.me
            .recv_any()
            .expect("postbox recv_any")
            .message
            .payload
    }
}

/// Sends `count` messages from one thread and receives them on another; returns the time from
/// the first send to the last receive.
fn spsc_run(tx: &impl Tx, rx: &impl Rx, count: u64) -> Duration {
    let start_line = Barrier::new(2);
    let payload = payload();
    thread::scope(|s| {
        let producer = s.spawn(|| {
            start_line.wait();
            let started = Instant::now();
            for _ in 0..count {
                tx.put(payload.clone());
            }
            started
        });
        let consumer = s.spawn(|| {
            start_line.wait();
            for _ in 0..count {
                black_box(rx.take().len());
            }
            Instant::now()
        });
        let started = producer.join().expect("producer");
        let finished = consumer.join().expect("consumer");
        finished.duration_since(started)
    })
}

/// Two producers send `count` messages between them, then one sentinel each; two consumers
/// receive until each has seen one sentinel (FIFO order guarantees every message came before the
/// last sentinel). Returns the time from the first send to the last receive.
fn mpmc_run<T: Tx, R: Rx>(txs: [&T; 2], rxs: [&R; 2], count: u64) -> Duration {
    let start_line = Barrier::new(4);
    let payload = payload();
    let shares = [count / 2, count - count / 2];
    thread::scope(|s| {
        let producers = [0, 1].map(|i| {
            let (tx, share, payload, start_line) =
                (txs[i], shares[i], payload.clone(), &start_line);
            s.spawn(move || {
                start_line.wait();
                let started = Instant::now();
                for _ in 0..share {
                    tx.put(payload.clone());
                }
                tx.put(sentinel());
                started
            })
        });
        let consumers = [0, 1].map(|i| {
            let (rx, start_line) = (rxs[i], &start_line);
            s.spawn(move || {
                start_line.wait();
                let mut got = 0_u64;
                while !rx.take().is_empty() {
                    got += 1;
                }
                (got, Instant::now())
            })
        });
        let started = producers
            .map(|p| p.join().expect("producer"))
            .into_iter()
            .min()
            .expect("two producers");
        let (got, finished) = consumers
            .map(|c| c.join().expect("consumer"))
            .into_iter()
            .fold((0, started), |(n, last), (got, at)| (n + got, last.max(at)));
        assert_eq!(got, count, "every message received exactly once");
        finished.duration_since(started)
    })
}

/// Every round trip of the ping-pong runs of one mechanism, in nanoseconds.
static ROUND_TRIPS: Mutex<Vec<u64>> = Mutex::new(Vec::new());

/// `count` round trips: this thread sends on `ping` and waits on `pong`; an echo thread receives
/// on its end of `ping` and answers on `pong`. Each round trip is timed into [`ROUND_TRIPS`].
fn pingpong_run(ping: (&impl Tx, &impl Rx), pong: (&impl Tx, &impl Rx), count: u64) -> Duration {
    let payload = payload();
    let mut times = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    let total = thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..count {
                pong.0.put(ping.1.take());
            }
        });
        let started = Instant::now();
        for _ in 0..count {
            let sent = Instant::now();
            ping.0.put(payload.clone());
            black_box(pong.1.take());
            times.push(u64::try_from(sent.elapsed().as_nanos()).unwrap_or(u64::MAX));
        }
        started.elapsed()
    });
    ROUND_TRIPS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend(times);
    total
}

/// A postbox node with a sending and a receiving process on one bounded, owner-receive mailbox.
struct PostboxSpsc {
    _node: InprocNode,
    /// The owner's handle: receives.
    rx: Mailbox,
    /// The other process's handle: sends.
    tx: Mailbox,
    _owner: Process,
    _sender: Process,
}

impl PostboxSpsc {
    fn new(name: &str) -> PostboxSpsc {
        let node = InprocNode::new();
        let owner = node.process();
        let sender = node.process();
        let rx = owner
            .mailbox(name)
            .capacity(Capacity::bounded(BOUND, BOUND_BYTES))
            .mode(Mode::new(0o666))
            .create()
            .expect("create");
        let tx = sender.mailbox(name).open().expect("open");
        PostboxSpsc {
            _node: node,
            rx,
            tx,
            _owner: owner,
            _sender: sender,
        }
    }
}

/// Applies the short-run settings every group shares.
fn configure(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
}

fn spsc(c: &mut Criterion) {
    let mut group = c.benchmark_group("spsc");
    configure(&mut group);
    group.throughput(Throughput::Elements(1));

    let postbox = PostboxSpsc::new("spsc");
    group.bench_function("postbox", |b| {
        b.iter_custom(|n| spsc_run(&postbox.tx, &postbox.rx, n));
    });
    drop(postbox);

    let (tx, rx) = crossbeam_channel::bounded::<Bytes>(BOUND);
    group.bench_function("crossbeam", |b| b.iter_custom(|n| spsc_run(&tx, &rx, n)));

    let (tx, rx) = flume::bounded::<Bytes>(BOUND);
    group.bench_function("flume", |b| b.iter_custom(|n| spsc_run(&tx, &rx, n)));
    group.finish();
}

fn mpmc(c: &mut Criterion) {
    let mut group = c.benchmark_group("mpmc");
    configure(&mut group);
    group.throughput(Throughput::Elements(1));

    {
        let node = InprocNode::new();
        let owner = node.process();
        let _created = owner
            .mailbox("mpmc")
            .capacity(Capacity::bounded(BOUND, BOUND_BYTES))
            .receivers(Receivers::Shared(Dispatch::FirstWaiting))
            .mode(Mode::new(0o666))
            .create()
            .expect("create");
        let procs: Vec<Process> = (0..4).map(|_| node.process()).collect();
        let boxes: Vec<Mailbox> = procs
            .iter()
            .map(|p| p.mailbox("mpmc").open().expect("open"))
            .collect();
        group.bench_function("postbox", |b| {
            b.iter_custom(|n| mpmc_run([&boxes[0], &boxes[1]], [&boxes[2], &boxes[3]], n));
        });
    }

    let (tx, rx) = crossbeam_channel::bounded::<Bytes>(BOUND);
    let tx2 = tx.clone();
    let rx2 = rx.clone();
    group.bench_function("crossbeam", |b| {
        b.iter_custom(|n| mpmc_run([&tx, &tx2], [&rx, &rx2], n));
    });

    let (tx, rx) = flume::bounded::<Bytes>(BOUND);
    let tx2 = tx.clone();
    let rx2 = rx.clone();
    group.bench_function("flume", |b| {
        b.iter_custom(|n| mpmc_run([&tx, &tx2], [&rx, &rx2], n));
    });
    group.finish();
}

/// Where criterion writes its reports: `CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`, else
/// the workspace's `target/criterion` (benches run in the package directory).
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(target) => PathBuf::from(target).join("criterion"),
        None => PathBuf::from("../target/criterion"),
    }
}

/// Takes the round trips recorded since the last call, and prints and stores their percentiles.
fn report_round_trips(mechanism: &str) {
    let mut times = std::mem::take(&mut *ROUND_TRIPS.lock().unwrap_or_else(|p| p.into_inner()));
    if times.is_empty() {
        return; // filtered out
    }
    times.sort_unstable();
    let at = |q: f64| {
        // Nearest-rank percentile.
        let rank = ((q * times.len() as f64).ceil() as usize).clamp(1, times.len());
        times[rank - 1]
    };
    let (p50, p99, p999) = (at(0.50), at(0.99), at(0.999));
    println!(
        "pingpong/{mechanism}: {} round trips, p50 {:.2} us, p99 {:.2} us, p99.9 {:.2} us",
        times.len(),
        micros(p50),
        micros(p99),
        micros(p999)
    );
    let dir = criterion_dir().join("pingpong").join(mechanism);
    let json = format!(
        "{{\"round_trips\":{},\"p50_ns\":{p50},\"p99_ns\":{p99},\"p999_ns\":{p999}}}\n",
        times.len()
    );
    if let Err(e) = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join("round_trips.json"), json))
    {
        eprintln!(
            "could not write round-trip percentiles to {}: {e}",
            dir.display()
        );
    }
}

/// Nanoseconds as microseconds, for printing.
fn micros(nanos: u64) -> f64 {
    nanos as f64 / 1_000.0
}

fn pingpong(c: &mut Criterion) {
    let mut group = c.benchmark_group("pingpong");
    configure(&mut group);

    {
        let node = InprocNode::new();
        let (a, b) = (node.process(), node.process());
        let owned = |p: &Process, name: &str| {
            p.mailbox(name)
                .capacity(Capacity::bounded(BOUND, BOUND_BYTES))
                .mode(Mode::new(0o666))
                .create()
                .expect("create")
        };
        // `ping` is received by b, `pong` by a; each is sent to by the other process.
        let ping_rx = owned(&b, "ping");
        let pong_rx = owned(&a, "pong");
        let ping_tx = a.mailbox("ping").open().expect("open");
        let pong_tx = b.mailbox("pong").open().expect("open");
        group.bench_function("postbox", |bench| {
            bench.iter_custom(|n| pingpong_run((&ping_tx, &ping_rx), (&pong_tx, &pong_rx), n));
        });
        report_round_trips("postbox");

        let a_side = Direct {
            me: &a,
            peer: b.pid(),
        };
        let b_side = Direct {
            me: &b,
            peer: a.pid(),
        };
        group.bench_function("postbox-direct", |bench| {
            bench.iter_custom(|n| pingpong_run((&a_side, &b_side), (&b_side, &a_side), n));
        });
        report_round_trips("postbox-direct");
    }

    let (ping_tx, ping_rx) = crossbeam_channel::bounded::<Bytes>(BOUND);
    let (pong_tx, pong_rx) = crossbeam_channel::bounded::<Bytes>(BOUND);
    group.bench_function("crossbeam", |bench| {
        bench.iter_custom(|n| pingpong_run((&ping_tx, &ping_rx), (&pong_tx, &pong_rx), n));
    });
    report_round_trips("crossbeam");

    let (ping_tx, ping_rx) = flume::bounded::<Bytes>(BOUND);
    let (pong_tx, pong_rx) = flume::bounded::<Bytes>(BOUND);
    group.bench_function("flume", |bench| {
        bench.iter_custom(|n| pingpong_run((&ping_tx, &ping_rx), (&pong_tx, &pong_rx), n));
    });
    report_round_trips("flume");
    group.finish();
}

criterion_group!(benches, spsc, mpmc, pingpong);
criterion_main!(benches);

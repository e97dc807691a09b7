//! `shm_ring`: the shared-memory ring of `postbox-shm` between two processes — one-way 64 B
//! throughput and round-trip latency — beside the same ring between two threads and crossbeam's
//! `ArrayQueue` (the same algorithm, busy-polled) between two threads, in one run.
//!
//! The two sides are pinned to different CPUs (the first two this process may use). The ring is
//! measured twice: with its blocking `push`/`pop` (which spin for tens of microseconds before
//! sleeping in the futex, so under a steady stream they mostly poll) and busy-polling
//! `try_push`/`try_pop`, the way `ArrayQueue`, which has no blocking form, is used here.
//!
//! Exit status: 0 when every case ran, 1 when one failed, 2 for a usage error.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use crossbeam_queue::ArrayQueue;
use postbox_benchmarks::cpu::{allowed_cpus, pin_thread};
use postbox_benchmarks::stats::LatencySummary;
use postbox_shm::{
    Geometry, HeapMemory, Memory, Meta, Ring, Segment, SegmentKind, TryPopError, TryPushError,
    recv_fd, send_fd,
};

/// Measures the shared-memory ring between processes beside in-process queues.
#[derive(Debug, Parser)]
#[command(name = "shm_ring")]
struct Cli {
    #[command(subcommand)]
    child: Option<ChildRole>,
    /// Messages in each one-way throughput run.
    #[arg(long, default_value_t = 2_000_000)]
    messages: u64,
    /// Timed round trips in each latency run (after 10% more as warm-up).
    #[arg(long, default_value_t = 200_000)]
    round_trips: u64,
    /// Payload bytes.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Ring slots (a power of two).
    #[arg(long, default_value_t = 1024)]
    capacity: usize,
}

/// The other process of a ring run (started by this binary).
#[derive(Debug, Subcommand)]
enum ChildRole {
    /// Pops `count` messages from the ring passed on `socket`, then says so.
    #[command(hide = true)]
    Drain {
        socket: PathBuf,
        count: u64,
        cpu: usize,
        waiting: Waiting,
    },
    /// Echoes `count` messages from the first ring passed on `socket` into the second.
    #[command(hide = true)]
    Echo {
        socket: PathBuf,
        count: u64,
        cpu: usize,
        waiting: Waiting,
    },
}

/// How a ring side waits for a message or for room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Waiting {
    /// `push`/`pop`: spin briefly, then sleep in the futex.
    Blocking,
    /// `try_push`/`try_pop` in a `spin_loop`, as `ArrayQueue` is used here.
    BusyPoll,
}

/// Kills the child process when a run ends, however it ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const META: Meta = Meta {
    sender: 1,
    mtype: 1,
    priority: 0,
    sent_at: 0,
};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match &cli.child {
        Some(ChildRole::Drain {
            socket,
            count,
            cpu,
            waiting,
        }) => drain_child(socket, *count, *cpu, *waiting),
        Some(ChildRole::Echo {
            socket,
            count,
            cpu,
            waiting,
        }) => echo_child(socket, *count, *cpu, *waiting),
        None => run(&cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("shm_ring: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<()> {
    let cpus = allowed_cpus().context("reading this process's CPUs")?;
    let [a, b, ..] = cpus[..] else {
        bail!("needs two CPUs to measure across CPUs; this process may use {cpus:?}");
    };
    let geometry = Geometry::new(cli.capacity, cli.size).context("ring geometry")?;
    let payload = vec![0xa5u8; cli.size];
    pin_thread(a).context("pinning the main thread")?;

    println!(
        "| {} B, CPUs {a} → {b} | one-way msg/s | round trip p50 | p99 |\n|---|---|---|---|",
        cli.size
    );
    for waiting in [Waiting::Blocking, Waiting::BusyPoll] {
        let how = match waiting {
            Waiting::Blocking => "push/pop",
            Waiting::BusyPoll => "try_push/try_pop busy-poll",
        };
        let (rate, rtt) = (
            ring_processes_one_way(cli, geometry, &payload, b, waiting)?,
            ring_processes_round_trip(cli, geometry, &payload, b, waiting)?,
        );
        row(
            &format!("postbox-shm ring {how}, two processes"),
            rate,
            &rtt,
        );
        let (rate, rtt) = (
            ring_threads_one_way(cli, geometry, &payload, b, waiting)?,
            ring_threads_round_trip(cli, geometry, &payload, b, waiting)?,
        );
        row(&format!("postbox-shm ring {how}, two threads"), rate, &rtt);
    }
    let (rate, rtt) = (
        array_queue_one_way(cli, b)?,
        array_queue_round_trip(cli, b)?,
    );
    row(
        "crossbeam ArrayQueue (busy-poll, always 64 B), two threads",
        rate,
        &rtt,
    );
    Ok(())
}

fn row(name: &str, rate: f64, rtt: &LatencySummary) {
    println!(
        "| {name} | {:.2} M | {:.2} µs | {:.2} µs |",
        rate / 1e6,
        rtt.p50_ns as f64 / 1e3,
        rtt.p99_ns as f64 / 1e3
    );
}

fn new_ring(geometry: Geometry) -> Result<Ring<Segment>> {
    let segment = Segment::create("shm-bench", SegmentKind::Ring, geometry.bytes())?;
    Ok(Ring::create(segment, geometry)?)
}

/// Starts this binary as `role` on `cpu`, passes it `rings`, and returns it with the connection.
fn spawn(
    role: &str,
    count: u64,
    cpu: usize,
    waiting: Waiting,
    rings: &[&Ring<Segment>],
) -> Result<(Reaped, UnixStream, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let socket = dir.path().join("bench.sock");
    let listener = UnixListener::bind(&socket)?;
    let child = Command::new(std::env::current_exe()?)
        .arg(role)
        .arg(&socket)
        .arg(count.to_string())
        .arg(cpu.to_string())
        .arg(match waiting {
            Waiting::Blocking => "blocking",
            Waiting::BusyPoll => "busy-poll",
        })
        .spawn()
        .context("starting the child process")?;
    let child = Reaped(child);
    let (stream, _) = listener.accept()?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    for ring in rings {
        send_fd(&stream, ring.memory().fd())?;
    }
    Ok((child, stream, dir))
}

fn wait_byte(mut stream: &UnixStream) -> Result<()> {
    let mut byte = [0u8; 1];
    stream
        .read_exact(&mut byte)
        .context("waiting for the child")?;
    Ok(())
}

fn attach(stream: &UnixStream) -> Result<Ring<Segment>> {
    Ok(Ring::attach(Segment::attach(recv_fd(stream)?)?)?)
}

fn drain_child(socket: &PathBuf, count: u64, cpu: usize, waiting: Waiting) -> Result<()> {
    pin_thread(cpu)?;
    let mut stream = UnixStream::connect(socket)?;
    let ring = attach(&stream)?;
    stream.write_all(b"r")?;
    let mut buf = Vec::new();
    for _ in 0..count {
        take(&ring, &mut buf, waiting)?;
    }
    stream.write_all(b"d")?;
    Ok(())
}

/// Takes one message into `buf`, waiting as `waiting` says.
fn take<M: Memory>(ring: &Ring<M>, buf: &mut Vec<u8>, waiting: Waiting) -> Result<Meta> {
    let mut spins = 0u64;
    loop {
        match ring.try_pop_into(buf) {
            Ok(Some(taken)) => return Ok(taken.meta),
            Ok(None) | Err(TryPopError::Incomplete) if waiting == Waiting::BusyPoll => {
                spins += 1;
                if spins > (1 << 28) {
                    bail!("no message after {spins} polls");
                }
                std::hint::spin_loop();
            }
            Ok(None) | Err(TryPopError::Incomplete) => {
                return Ok(ring.pop_into(buf, Some(deadline()))?.meta);
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// Queues one message, waiting as `waiting` says.
fn put<M: Memory>(ring: &Ring<M>, payload: &[u8], meta: Meta, waiting: Waiting) -> Result<()> {
    if waiting == Waiting::Blocking {
        return Ok(ring.push(payload, meta, Some(deadline()))?);
    }
    let mut spins = 0u64;
    loop {
        match ring.try_push(payload, meta) {
            Ok(()) => return Ok(()),
            Err(TryPushError::Full) => {
                spins += 1;
                if spins > (1 << 28) {
                    bail!("no room after {spins} polls");
                }
                std::hint::spin_loop();
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// How long any single wait may take before the run counts as failed.
fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

fn echo_child(socket: &PathBuf, count: u64, cpu: usize, waiting: Waiting) -> Result<()> {
    pin_thread(cpu)?;
    let mut stream = UnixStream::connect(socket)?;
    let ping = attach(&stream)?;
    let pong = attach(&stream)?;
    stream.write_all(b"r")?;
    let mut buf = Vec::new();
    for _ in 0..count {
        let meta = take(&ping, &mut buf, waiting)?;
        put(&pong, &buf, meta, waiting)?;
    }
    Ok(())
}

fn ring_processes_one_way(
    cli: &Cli,
    geometry: Geometry,
    payload: &[u8],
    cpu: usize,
    waiting: Waiting,
) -> Result<f64> {
    let ring = new_ring(geometry)?;
    let (_child, stream, _dir) = spawn("drain", cli.messages, cpu, waiting, &[&ring])?;
    wait_byte(&stream)?;
    let start = Instant::now();
    for _ in 0..cli.messages {
        put(&ring, payload, META, waiting)?;
    }
    wait_byte(&stream)?;
    Ok(cli.messages as f64 / start.elapsed().as_secs_f64())
}

fn ring_processes_round_trip(
    cli: &Cli,
    geometry: Geometry,
    payload: &[u8],
    cpu: usize,
    waiting: Waiting,
) -> Result<LatencySummary> {
    let (ping, pong) = (new_ring(geometry)?, new_ring(geometry)?);
    let total = cli.round_trips + cli.round_trips / 10;
    let (_child, stream, _dir) = spawn("echo", total, cpu, waiting, &[&ping, &pong])?;
    wait_byte(&stream)?;
    let mut buf = Vec::new();
    round_trips(cli, || {
        put(&ping, payload, META, waiting)?;
        take(&pong, &mut buf, waiting)?;
        Ok(())
    })
}

/// Times `total` round trips, keeping the last `cli.round_trips`.
fn round_trips(cli: &Cli, mut once: impl FnMut() -> Result<()>) -> Result<LatencySummary> {
    let warm_up = cli.round_trips / 10;
    let mut samples = Vec::with_capacity(cli.round_trips as usize);
    for i in 0..warm_up + cli.round_trips {
        let start = Instant::now();
        once()?;
        if i >= warm_up {
            samples.push(start.elapsed().as_nanos() as u64);
        }
    }
    LatencySummary::from_samples(samples).context("no round trips")
}

fn heap_ring(geometry: Geometry) -> Arc<Ring<HeapMemory>> {
    Arc::new(Ring::create(HeapMemory::new(geometry.bytes()), geometry).expect("memory fits"))
}

fn ring_threads_one_way(
    cli: &Cli,
    geometry: Geometry,
    payload: &[u8],
    cpu: usize,
    waiting: Waiting,
) -> Result<f64> {
    let ring = heap_ring(geometry);
    let count = cli.messages;
    let consumer = {
        let ring = ring.clone();
        thread::spawn(move || -> Result<()> {
            pin_thread(cpu)?;
            let mut buf = Vec::new();
            for _ in 0..count {
                take(&ring, &mut buf, waiting)?;
            }
            Ok(())
        })
    };
    let start = Instant::now();
    for _ in 0..count {
        put(&ring, payload, META, waiting)?;
    }
    consumer.join().expect("consumer thread")?;
    Ok(count as f64 / start.elapsed().as_secs_f64())
}

fn ring_threads_round_trip(
    cli: &Cli,
    geometry: Geometry,
    payload: &[u8],
    cpu: usize,
    waiting: Waiting,
) -> Result<LatencySummary> {
    let (ping, pong) = (heap_ring(geometry), heap_ring(geometry));
    let total = cli.round_trips + cli.round_trips / 10;
    let echo = {
        let (ping, pong) = (ping.clone(), pong.clone());
        thread::spawn(move || -> Result<()> {
            pin_thread(cpu)?;
            let mut buf = Vec::new();
            for _ in 0..total {
                let meta = take(&ping, &mut buf, waiting)?;
                put(&pong, &buf, meta, waiting)?;
            }
            Ok(())
        })
    };
    let mut buf = Vec::new();
    let summary = round_trips(cli, || {
        put(&ping, payload, META, waiting)?;
        take(&pong, &mut buf, waiting)?;
        Ok(())
    })?;
    echo.join().expect("echo thread")?;
    Ok(summary)
}

type Payload = [u8; 64];

fn spin_push(queue: &ArrayQueue<Payload>, mut value: Payload) {
    while let Err(back) = queue.push(value) {
        value = back;
        std::hint::spin_loop();
    }
}

fn spin_pop(queue: &ArrayQueue<Payload>) -> Payload {
    loop {
        if let Some(value) = queue.pop() {
            return value;
        }
        std::hint::spin_loop();
    }
}

fn array_queue_one_way(cli: &Cli, cpu: usize) -> Result<f64> {
    let queue = Arc::new(ArrayQueue::<Payload>::new(cli.capacity));
    let count = cli.messages;
    let consumer = {
        let queue = queue.clone();
        thread::spawn(move || -> Result<()> {
            pin_thread(cpu)?;
            for _ in 0..count {
                std::hint::black_box(spin_pop(&queue));
            }
            Ok(())
        })
    };
    let start = Instant::now();
    for _ in 0..count {
        spin_push(&queue, [0xa5; 64]);
    }
    consumer.join().expect("consumer thread")?;
    Ok(count as f64 / start.elapsed().as_secs_f64())
}

fn array_queue_round_trip(cli: &Cli, cpu: usize) -> Result<LatencySummary> {
    let ping = Arc::new(ArrayQueue::<Payload>::new(cli.capacity));
    let pong = Arc::new(ArrayQueue::<Payload>::new(cli.capacity));
    let total = cli.round_trips + cli.round_trips / 10;
    let echo = {
        let (ping, pong) = (ping.clone(), pong.clone());
        thread::spawn(move || -> Result<()> {
            pin_thread(cpu)?;
            for _ in 0..total {
                spin_push(&pong, spin_pop(&ping));
            }
            Ok(())
        })
    };
    let summary = round_trips(cli, || {
        spin_push(&ping, [0xa5; 64]);
        spin_pop(&pong);
        Ok(())
    })?;
    echo.join().expect("echo thread")?;
    Ok(summary)
}

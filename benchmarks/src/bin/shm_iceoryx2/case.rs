//! One measured case: a mechanism, a way of waiting, a workload and a size, between this process
//! and a child process of the same executable, each pinned to its CPU.
//!
//! The parent opens its side first, starts the child, passes it what it needs over a Unix
//! socket (the ring's descriptors), and waits for its "ready" byte; the child opens its side
//! and says so. Every message carries a sequence number in its first 8 bytes, checked by the
//! receiver (and, in a round trip, by the pinger on the echo): a message lost, duplicated or
//! reordered fails the run.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use postbox_benchmarks::child_process::{PARENT_ENV, die_with_parent};
use postbox_benchmarks::cpu::pin_thread;
use postbox_benchmarks::stats::LatencySummary;
use postbox_shm::{Memory, Segment, SegmentKind};

use crate::endpoint::{Endpoint, Waiting};
use crate::futex;
use crate::iceoryx2::IoxEndpoint;
use crate::ring::{self, RingEndpoint};

/// What carries the messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Mechanism {
    /// postbox's shared-memory ring.
    Ring,
    /// iceoryx2 publish-subscribe.
    Iceoryx2,
    /// Bare futex hand-overs on one shared word (round trips only): the floor.
    Futex,
}

/// What is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Workload {
    /// The parent sends, the child echoes: each round trip timed.
    RoundTrip,
    /// The parent sends `count` messages, the child takes them: messages per second.
    OneWay,
}

/// Everything the two sides agree on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Case {
    pub(crate) mechanism: Mechanism,
    pub(crate) waiting: Waiting,
    pub(crate) workload: Workload,
    /// Payload bytes (at least 8: the sequence number).
    pub(crate) size: usize,
    /// Timed round trips, or messages sent one way.
    pub(crate) count: u64,
    /// The parent's CPU and the child's.
    pub(crate) cpus: (usize, usize),
}

/// What a case measured.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Outcome {
    /// Round-trip times.
    Latency(LatencySummary),
    /// Messages per second.
    Rate(f64),
}

impl Case {
    /// Round trips made before the timed ones.
    fn warm_up(&self) -> u64 {
        (self.count / 10).max(10)
    }

    /// Messages the child handles.
    fn child_count(&self) -> u64 {
        match self.workload {
            Workload::RoundTrip => self.warm_up() + self.count,
            Workload::OneWay => self.count,
        }
    }
}

/// Kills (and reaps) the child however the case ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `case` with a child started from `exe`.
pub(crate) fn run(case: Case, exe: &Path) -> Result<Outcome> {
    let dir = tempfile::tempdir().context("creating a directory for the control socket")?;
    let socket = dir.path().join("control.sock");
    let listener = UnixListener::bind(&socket).context("binding the control socket")?;
    let address = format!("shm-iox-{}-{}", std::process::id(), next_case());

    // The parent's side first, so whatever the child opens finds it.
    let mut rings = Vec::new();
    let mut futex_segment = None;
    let mut endpoint: Option<Box<dyn Endpoint>> = match case.mechanism {
        Mechanism::Ring => {
            rings.push(ring::create(case.size)?);
            if case.workload == Workload::RoundTrip {
                rings.push(ring::create(case.size)?);
            }
            None // built once the rings are passed on
        }
        Mechanism::Iceoryx2 => {
            let (send_on, recv_on) = match case.workload {
                Workload::RoundTrip => ("ping", Some("pong")),
                Workload::OneWay => ("data", None),
            };
            Some(Box::new(IoxEndpoint::open(
                &address,
                Some(send_on),
                recv_on,
                case.size,
                case.waiting,
            )?))
        }
        Mechanism::Futex => {
            futex_segment = Some(
                Segment::create("shm-iceoryx2-futex", SegmentKind::Ring, 64)
                    .context("creating the futex word's segment")?,
            );
            None
        }
    };

    let mut command = Command::new(exe);
    command
        .arg("child")
        .arg(&socket)
        .arg(&address)
        .args(["--cpu", &case.cpus.1.to_string()])
        .args(["--mechanism", &value_name(case.mechanism)])
        .args(["--waiting", &value_name(case.waiting)])
        .args(["--workload", &value_name(case.workload)])
        .args(["--size", &case.size.to_string()])
        .args(["--count", &case.child_count().to_string()])
        .env(PARENT_ENV, std::process::id().to_string());
    let mut child = Reaped(command.spawn().context("starting the child process")?);
    let mut stream = accept(&listener, &mut child)?;
    for ring in &rings {
        ring::pass(&stream, &[ring])?;
    }
    if let Some(segment) = &futex_segment {
        postbox_shm::send_fd(&stream, segment.fd()).context("passing the futex word")?;
    }
    expect_byte(&mut stream, b'r')?;

    let outcome = if let Some(segment) = &futex_segment {
        let word = &segment.words()[0];
        Outcome::Latency(time_round_trips(&case, |k| futex::ping(word, k))?)
    } else {
        let mut endpoint = match endpoint.take() {
            Some(endpoint) => endpoint,
            None => {
                let mut rings = rings.into_iter();
                Box::new(RingEndpoint {
                    tx: rings.next(),
                    rx: rings.next(),
                    waiting: case.waiting,
                })
            }
        };
        match case.workload {
            Workload::RoundTrip => {
                let mut message = vec![0xa5u8; case.size];
                let mut back = Vec::with_capacity(case.size);
                Outcome::Latency(time_round_trips(&case, |k| {
                    stamp(&mut message, k);
                    endpoint.send(&message)?;
                    endpoint.recv(&mut back)?;
                    check(&back, k, case.size)
                })?)
            }
            Workload::OneWay => {
                let mut message = vec![0xa5u8; case.size];
                let start = Instant::now();
                for k in 0..case.count {
                    stamp(&mut message, k);
                    endpoint.send(&message)?;
                }
                expect_byte(&mut stream, b'd')?;
                Outcome::Rate(case.count as f64 / start.elapsed().as_secs_f64())
            }
        }
    };
    // The child keeps its ports until the control socket closes.
    drop(stream);
    let status = child.0.wait().context("waiting for the child")?;
    if !status.success() {
        bail!("the child process failed ({status})");
    }
    Ok(outcome)
}

/// A number for each case this process runs, so service names never repeat.
fn next_case() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The command-line spelling of a value.
fn value_name(value: impl clap::ValueEnum) -> String {
    value
        .to_possible_value()
        .map(|possible| possible.get_name().to_owned())
        .unwrap_or_default()
}

/// Accepts the child's connection, or fails if it exits or takes longer than 30 s.
fn accept(listener: &UnixListener, child: &mut Reaped) -> Result<UnixStream> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false)?;
                stream.set_read_timeout(Some(Duration::from_secs(300)))?;
                return Ok(stream);
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                if let Some(status) = child.0.try_wait()? {
                    bail!("the child process exited ({status}) before connecting");
                }
                if Instant::now() > deadline {
                    bail!("the child process did not connect within 30 s");
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(error) => return Err(error).context("accepting the child's connection"),
        }
    }
}

fn expect_byte(stream: &mut UnixStream, expected: u8) -> Result<()> {
    let mut byte = [0u8];
    stream
        .read_exact(&mut byte)
        .context("waiting for the other process (it failed, or took over 5 minutes)")?;
    if byte[0] != expected {
        bail!("the other process said {:?}, not {:?}", byte[0], expected);
    }
    Ok(())
}

/// Writes sequence number `k` into the message's first 8 bytes.
fn stamp(message: &mut [u8], k: u64) {
    message[..8].copy_from_slice(&k.to_le_bytes());
}

/// Checks that `message` is number `k`, of `size` bytes.
fn check(message: &[u8], k: u64, size: usize) -> Result<()> {
    if message.len() != size {
        bail!(
            "message {k}: {} bytes arrived, {size} were sent",
            message.len()
        );
    }
    let got = u64::from_le_bytes(message[..8].try_into().expect("8 bytes"));
    if got != k {
        bail!("message {k} expected, message {got} arrived (lost, duplicated or reordered)");
    }
    Ok(())
}

/// Makes the warm-up round trips, then times `case.count` more, each on its own.
fn time_round_trips(
    case: &Case,
    mut once: impl FnMut(u64) -> Result<()>,
) -> Result<LatencySummary> {
    let warm_up = case.warm_up();
    let mut samples = Vec::with_capacity(case.count as usize);
    for k in 0..warm_up + case.count {
        let start = Instant::now();
        once(k)?;
        if k >= warm_up {
            samples.push(start.elapsed().as_nanos() as u64);
        }
    }
    LatencySummary::from_samples(samples).context("no round trips were timed")
}

/// The child's side of a case: started by [`run`] with the case on its command line.
pub(crate) fn child(socket: &Path, address: &str, case: Case) -> Result<()> {
    die_with_parent().context("tying this process to the benchmark")?;
    if case.size < 8 {
        bail!(
            "--size {} is too small for the sequence number (8 bytes)",
            case.size
        );
    }
    pin_thread(case.cpus.1).with_context(|| format!("pinning to CPU {}", case.cpus.1))?;
    let mut stream = UnixStream::connect(socket).context("connecting to the benchmark")?;
    let count = case.count;
    if case.mechanism == Mechanism::Futex {
        let segment = Segment::attach(postbox_shm::recv_fd(&stream)?)?;
        stream.write_all(b"r")?;
        let word = &segment.words()[0];
        for k in 0..count {
            futex::pong(word, k)?;
        }
        return Ok(());
    }
    let mut endpoint: Box<dyn Endpoint> = match (case.mechanism, case.workload) {
        (Mechanism::Ring, Workload::RoundTrip) => {
            let ping = ring::receive(&stream)?;
            let pong = ring::receive(&stream)?;
            Box::new(RingEndpoint {
                tx: Some(pong),
                rx: Some(ping),
                waiting: case.waiting,
            })
        }
        (Mechanism::Ring, Workload::OneWay) => Box::new(RingEndpoint {
            tx: None,
            rx: Some(ring::receive(&stream)?),
            waiting: case.waiting,
        }),
        (Mechanism::Iceoryx2, Workload::RoundTrip) => Box::new(IoxEndpoint::open(
            address,
            Some("pong"),
            Some("ping"),
            case.size,
            case.waiting,
        )?),
        (Mechanism::Iceoryx2, Workload::OneWay) => Box::new(IoxEndpoint::open(
            address,
            None,
            Some("data"),
            case.size,
            case.waiting,
        )?),
        (Mechanism::Futex, _) => bail!("the futex floor has no message endpoint"),
    };
    stream.write_all(b"r")?;
    let mut buf = Vec::with_capacity(case.size);
    for k in 0..count {
        endpoint.recv(&mut buf)?;
        check(&buf, k, case.size)?;
        if case.workload == Workload::RoundTrip {
            endpoint.send(&buf)?;
        }
    }
    if case.workload == Workload::OneWay {
        stream.write_all(b"d")?;
    }
    // Wait until the parent has the last message before the ports go (an iceoryx2 subscriber
    // leaving may take an unread sample with it).
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_out_of_order_or_of_the_wrong_size_fails_the_check() {
        let mut message = vec![0u8; 64];
        stamp(&mut message, 7);
        check(&message, 7, 64).unwrap();
        assert!(check(&message, 8, 64).is_err());
        assert!(check(&message[..32], 7, 64).is_err());
    }

    #[test]
    fn enum_values_spell_as_the_command_line_takes_them() {
        assert_eq!(value_name(Mechanism::Iceoryx2), "iceoryx2");
        assert_eq!(value_name(Waiting::BusyPoll), "busy-poll");
        assert_eq!(value_name(Workload::RoundTrip), "round-trip");
    }
}

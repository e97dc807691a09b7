//! What each role does once the harness says `go`: the timed loops, with every message checked.

use std::io;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::check::{CompetingCheck, FanInCheck, StreamCheck};
use crate::check_error::CheckError;
use crate::clock::monotonic_ns;
use crate::mechanism::{Case, Endpoint, Role, Workload};
use crate::message::Header;
use crate::plan::RunCounts;
use crate::stats::LatencySummary;

use super::protocol::RoleResult;

/// Why a role failed.
#[derive(Debug, Error)]
pub enum RoleError {
    /// The mechanism failed to send or receive.
    #[error("{operation} failed at message {seq}: {source}")]
    Io {
        /// `send` or `recv`.
        operation: &'static str,
        /// The sequence number concerned.
        seq: u64,
        /// The mechanism's error.
        source: io::Error,
    },
    /// A message was not the one expected.
    #[error("check failed: {0}")]
    Check(#[from] CheckError),
    /// The role does not exist in the workload (a harness bug, reported rather than run).
    #[error("role {role:?} has no part in {workload:?}")]
    NoSuchRole {
        /// The role.
        role: Role,
        /// The workload.
        workload: Workload,
    },
}

fn io_error(operation: &'static str, seq: u64) -> impl FnOnce(io::Error) -> RoleError {
    move |source| RoleError::Io {
        operation,
        seq,
        source,
    }
}

/// Plays `role` of `case` over `endpoint`, moving `counts`' messages and checking each one.
///
/// # Errors
///
/// [`RoleError`]: the mechanism failed, or a message was lost, duplicated, reordered or of the
/// wrong size.
pub fn play(
    role: Role,
    case: &Case,
    counts: RunCounts,
    endpoint: &mut dyn Endpoint,
) -> Result<RoleResult, RoleError> {
    let size = case.size;
    match (role, case.workload) {
        (Role::Pinger, Workload::PingPong) => ping(size, counts, endpoint),
        (Role::Ponger, Workload::PingPong) => pong(size, counts, endpoint),
        (Role::Producer { index }, Workload::FanIn { producers }) if index < producers => {
            produce(index, size, counts, 1, endpoint)
        }
        (Role::Producer { index: 0 }, Workload::Throughput) => {
            produce(0, size, counts, 1, endpoint)
        }
        (Role::Producer { index: 0 }, Workload::Competing { consumers }) => {
            produce(0, size, counts, consumers, endpoint)
        }
        (Role::Consumer { index: 0 }, Workload::Throughput) => consume_stream(size, endpoint),
        (Role::Consumer { index: 0 }, Workload::FanIn { producers }) => {
            consume_fan_in(size, producers, endpoint)
        }
        (Role::Consumer { index }, Workload::Competing { consumers }) if index < consumers => {
            consume_competing(index, size, endpoint)
        }
        (role, workload) => Err(RoleError::NoSuchRole { role, workload }),
    }
}

/// Sends `warmup + count` pings, each answered before the next, and times the last `count`.
fn ping(
    size: usize,
    counts: RunCounts,
    endpoint: &mut dyn Endpoint,
) -> Result<RoleResult, RoleError> {
    let mut message = vec![0u8; size];
    let mut answer = Vec::with_capacity(size);
    let mut samples = Vec::with_capacity(usize::try_from(counts.count).unwrap_or(0));
    for seq in 0..counts.warmup + counts.count {
        Header { producer: 0, seq }.write(&mut message);
        let start = Instant::now();
        endpoint.send(&message).map_err(io_error("send", seq))?;
        endpoint.recv(&mut answer).map_err(io_error("recv", seq))?;
        let elapsed = start.elapsed();
        let header = Header::read(&answer, size)?;
        if header != (Header { producer: 0, seq }) {
            return Err(CheckError::WrongAnswer {
                sent: seq,
                got: header.seq,
            }
            .into());
        }
        if seq >= counts.warmup {
            samples.push(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX));
        }
    }
    let latency = LatencySummary::from_samples(samples).ok_or(CheckError::Totals {
        what: "timed round trips",
        got: 0,
        expected: counts.count.into(),
    })?;
    Ok(RoleResult::Pinger { latency })
}

/// Answers `warmup + count` pings, each with itself, checking their sequence numbers.
fn pong(
    size: usize,
    counts: RunCounts,
    endpoint: &mut dyn Endpoint,
) -> Result<RoleResult, RoleError> {
    let mut buf = Vec::with_capacity(size);
    let mut check = StreamCheck::new(0);
    for seq in 0..counts.warmup + counts.count {
        endpoint.recv(&mut buf).map_err(io_error("recv", seq))?;
        check.accept(Header::read(&buf, size)?)?;
        endpoint.send(&buf).map_err(io_error("send", seq))?;
    }
    Ok(RoleResult::Ponger {
        answered: check.received(),
    })
}

/// How many sends go by between two looks at the clock.
const CLOCK_EVERY: u64 = 16;

/// Sends messages numbered from 0 for `counts.window_ms` (at least `counts.min`, at most
/// `counts.count` of them), then `end_markers` end markers.
fn produce(
    index: usize,
    size: usize,
    counts: RunCounts,
    end_markers: usize,
    endpoint: &mut dyn Endpoint,
) -> Result<RoleResult, RoleError> {
    let mut message = vec![0u8; size];
    let producer = index as u64;
    let window = Duration::from_millis(counts.window_ms);
    let started = Instant::now();
    let started_ns = monotonic_ns();
    let mut sent = 0;
    while sent < counts.count {
        if sent >= counts.min && sent.is_multiple_of(CLOCK_EVERY) && started.elapsed() >= window {
            break;
        }
        Header {
            producer,
            seq: sent,
        }
        .write(&mut message);
        endpoint.send(&message).map_err(io_error("send", sent))?;
        sent += 1;
    }
    let finished_ns = monotonic_ns();
    Header::END.write(&mut message);
    for _ in 0..end_markers {
        endpoint
            .send(&message)
            .map_err(io_error("send", crate::message::SENTINEL))?;
    }
    endpoint
        .flush()
        .map_err(io_error("flush", crate::message::SENTINEL))?;
    Ok(RoleResult::Producer {
        index,
        sent,
        started_ns,
        finished_ns,
    })
}

/// Receives producer 0's messages, in order, until its end marker.
fn consume_stream(size: usize, endpoint: &mut dyn Endpoint) -> Result<RoleResult, RoleError> {
    let mut buf = Vec::with_capacity(size);
    let mut check = StreamCheck::new(0);
    loop {
        endpoint
            .recv(&mut buf)
            .map_err(io_error("recv", check.received()))?;
        let header = Header::read(&buf, size)?;
        if header.is_end() {
            break;
        }
        check.accept(header)?;
    }
    Ok(RoleResult::Consumer {
        index: 0,
        per_producer: vec![check.received()],
        seq_sum: to_u64(check.sum())?,
        finished_ns: monotonic_ns(),
    })
}

/// Receives the messages of `producers` producers, each in order, until every one's end marker.
fn consume_fan_in(
    size: usize,
    producers: usize,
    endpoint: &mut dyn Endpoint,
) -> Result<RoleResult, RoleError> {
    let mut buf = Vec::with_capacity(size);
    let mut check = FanInCheck::new(producers);
    let mut ended = 0;
    while ended < producers {
        endpoint
            .recv(&mut buf)
            .map_err(io_error("recv", check.received()))?;
        let header = Header::read(&buf, size)?;
        if header.is_end() {
            ended += 1;
        } else {
            check.accept(header)?;
        }
    }
    Ok(RoleResult::Consumer {
        index: 0,
        per_producer: check.per_producer().to_vec(),
        seq_sum: to_u64(check.sum())?,
        finished_ns: monotonic_ns(),
    })
}

/// Receives its share of the stream until an end marker: sequence numbers strictly increasing.
fn consume_competing(
    index: usize,
    size: usize,
    endpoint: &mut dyn Endpoint,
) -> Result<RoleResult, RoleError> {
    let mut buf = Vec::with_capacity(size);
    let mut check = CompetingCheck::new();
    loop {
        endpoint
            .recv(&mut buf)
            .map_err(io_error("recv", check.received()))?;
        let header = Header::read(&buf, size)?;
        if header.is_end() {
            break;
        }
        check.accept(header)?;
    }
    let finished_ns = monotonic_ns();
    endpoint
        .stop_receiving()
        .map_err(io_error("stop receiving", check.received()))?;
    Ok(RoleResult::Consumer {
        index,
        per_producer: vec![check.received()],
        seq_sum: to_u64(check.sum())?,
        finished_ns,
    })
}

/// A sum of sequence numbers as reported (runs are far too short to reach 2^64).
fn to_u64(sum: u128) -> Result<u64, RoleError> {
    u64::try_from(sum).map_err(|_| {
        RoleError::Check(CheckError::Totals {
            what: "sum of sequence numbers (beyond 64 bits)",
            got: sum,
            expected: u128::from(u64::MAX),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A loopback: what is sent is received, in order (or altered by `tamper`).
    #[derive(Default)]
    struct Loop {
        queue: VecDeque<Vec<u8>>,
        tamper: Option<fn(&mut VecDeque<Vec<u8>>)>,
    }

    impl Endpoint for Loop {
        fn send(&mut self, message: &[u8]) -> io::Result<()> {
            self.queue.push_back(message.to_vec());
            if let Some(tamper) = self.tamper {
                tamper(&mut self.queue);
            }
            Ok(())
        }
        fn recv(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
            *buf = self
                .queue
                .pop_front()
                .ok_or_else(|| io::Error::other("empty"))?;
            Ok(())
        }
    }

    fn case(workload: Workload) -> Case {
        Case { workload, size: 32 }
    }

    /// Exactly `n` messages per producer, whatever the time.
    fn exactly(n: u64) -> RunCounts {
        RunCounts {
            count: n,
            warmup: 0,
            min: n,
            window_ms: 0,
        }
    }

    #[test]
    fn a_ping_through_a_loopback_answers_itself_and_is_timed() {
        let counts = RunCounts {
            count: 50,
            warmup: 5,
            min: 0,
            window_ms: 0,
        };
        let result = play(
            Role::Pinger,
            &case(Workload::PingPong),
            counts,
            &mut Loop::default(),
        );
        let Ok(RoleResult::Pinger { latency }) = result else {
            panic!("{result:?}")
        };
        assert_eq!(latency.round_trips, 50);
    }

    #[test]
    fn a_consumer_sees_what_a_producer_sent_up_to_the_end_marker() {
        let case = case(Workload::Throughput);
        let mut wire = Loop::default();
        let sent = play(Role::Producer { index: 0 }, &case, exactly(20), &mut wire).unwrap();
        assert!(matches!(sent, RoleResult::Producer { sent: 20, .. }));
        assert_eq!(wire.queue.len(), 21, "and one end marker");
        let got = play(Role::Consumer { index: 0 }, &case, exactly(20), &mut wire).unwrap();
        let RoleResult::Consumer {
            per_producer,
            seq_sum,
            ..
        } = got
        else {
            panic!("{got:?}")
        };
        assert_eq!((per_producer, seq_sum), (vec![20], 190));
    }

    #[test]
    fn a_producer_stops_at_the_end_of_its_window_once_it_sent_the_minimum() {
        let case = case(Workload::Throughput);
        let counts = RunCounts {
            count: 1_000,
            warmup: 0,
            min: 10,
            window_ms: 0,
        };
        let mut wire = Loop::default();
        let sent = play(Role::Producer { index: 0 }, &case, counts, &mut wire).unwrap();
        // The clock is read every 16 sends: the first look after the minimum stops it.
        assert!(
            matches!(sent, RoleResult::Producer { sent: 16, .. }),
            "{sent:?}"
        );
    }

    #[test]
    fn fan_in_waits_for_every_producers_end_marker() {
        let case = case(Workload::FanIn { producers: 2 });
        let mut wire = Loop::default();
        play(Role::Producer { index: 1 }, &case, exactly(3), &mut wire).unwrap();
        play(Role::Producer { index: 0 }, &case, exactly(2), &mut wire).unwrap();
        let got = play(Role::Consumer { index: 0 }, &case, exactly(0), &mut wire).unwrap();
        let RoleResult::Consumer {
            per_producer,
            seq_sum,
            ..
        } = got
        else {
            panic!("{got:?}")
        };
        assert_eq!((per_producer, seq_sum), (vec![2, 3], 1 + 3));
        assert!(wire.queue.is_empty());
    }

    #[test]
    fn a_lost_message_fails_the_consumer_with_a_check_error() {
        let case = case(Workload::Throughput);
        let mut wire = Loop {
            // Loses message 2.
            tamper: Some(|queue| {
                if queue.back().is_some_and(|m| m[8] == 2) {
                    queue.pop_back();
                }
            }),
            ..Loop::default()
        };
        play(Role::Producer { index: 0 }, &case, exactly(5), &mut wire).unwrap();
        let error = play(Role::Consumer { index: 0 }, &case, exactly(5), &mut wire).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("message 3 arrived when 2 was expected"),
            "{error}"
        );
    }

    #[test]
    fn a_competing_consumer_stops_at_the_end_marker() {
        let case = case(Workload::Competing { consumers: 2 });
        let mut wire = Loop::default();
        play(Role::Producer { index: 0 }, &case, exactly(4), &mut wire).unwrap();
        assert_eq!(wire.queue.len(), 6, "4 messages and 2 end markers");
        let got = play(Role::Consumer { index: 1 }, &case, exactly(4), &mut wire).unwrap();
        let RoleResult::Consumer {
            index,
            per_producer,
            seq_sum,
            ..
        } = got
        else {
            panic!("{got:?}")
        };
        assert_eq!((index, per_producer, seq_sum), (1, vec![4], 6));
        assert_eq!(wire.queue.len(), 1, "the other consumer's end marker");
    }

    #[test]
    fn a_truncated_message_and_a_stray_role_are_errors() {
        let case = case(Workload::Throughput);
        let mut wire = Loop::default();
        wire.queue.push_back(vec![0; 31]);
        let error = play(Role::Consumer { index: 0 }, &case, exactly(1), &mut wire).unwrap_err();
        assert!(error.to_string().contains("31 bytes"), "{error}");
        assert!(matches!(
            play(Role::Pinger, &case, exactly(1), &mut wire),
            Err(RoleError::NoSuchRole { .. })
        ));
        assert!(matches!(
            play(
                Role::Producer { index: 2 },
                &self::case(Workload::FanIn { producers: 2 }),
                exactly(1),
                &mut wire
            ),
            Err(RoleError::NoSuchRole { .. })
        ));
    }
}

//! One run's figure, made from its roles' reports after the harness's own checks.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::check::check_totals;
use crate::check_error::CheckError;
use crate::mechanism::{Case, Workload};
use crate::plan::RunCounts;
use crate::stats::LatencySummary;

use super::protocol::RoleResult;

/// What one run measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Measurement {
    /// Ping-pong: round-trip times.
    Latency(LatencySummary),
    /// Throughput, fan-in, competing consumers: messages moved per second.
    Throughput(Throughput),
}

/// How fast a run moved its messages: from the first producer's start to the last consumer's
/// last message, as the shared monotonic clock says.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// Messages received in all.
    pub messages: u64,
    /// Their payload bytes.
    pub bytes: u64,
    /// The time they took.
    pub seconds: f64,
    /// Messages per second.
    pub messages_per_s: f64,
    /// Payload megabytes (10^6 bytes) per second.
    pub megabytes_per_s: f64,
}

/// Why the roles' reports do not add up to a measurement.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum MeasureError {
    /// Messages were lost or duplicated across roles.
    #[error("check failed: {0}")]
    Check(#[from] CheckError),
    /// The reports are not those of the workload's roles (a harness bug).
    #[error("the roles' reports do not match the workload: {0}")]
    Roles(String),
}

/// Checks the roles' reports of a run of `case` with `counts` against each other, and computes
/// the run's figure.
///
/// # Errors
///
/// [`MeasureError`]: a total that is off, or reports missing.
pub fn measure(
    case: &Case,
    counts: RunCounts,
    results: &[RoleResult],
) -> Result<Measurement, MeasureError> {
    let (want_producers, want_consumers) = match case.workload {
        Workload::PingPong => return measure_latency(counts, results),
        Workload::Throughput => (1, 1),
        Workload::FanIn { producers } => (producers, 1),
        Workload::Competing { consumers } => (1, consumers),
    };
    let mut sent: Vec<Option<u64>> = vec![None; want_producers];
    let mut producers = Vec::new();
    let mut consumers = Vec::new();
    for result in results {
        match result {
            RoleResult::Producer {
                index,
                sent: n,
                started_ns,
                ..
            } => {
                let slot = sent
                    .get_mut(*index)
                    .filter(|slot| slot.is_none())
                    .ok_or_else(|| MeasureError::Roles(format!("a stray report {result:?}")))?;
                if *n < counts.min.min(counts.count) || *n > counts.count {
                    return Err(MeasureError::Roles(format!(
                        "producer {index} sent {n} messages, outside {}..={}",
                        counts.min, counts.count
                    )));
                }
                *slot = Some(*n);
                producers.push(*started_ns);
            }
            RoleResult::Consumer {
                per_producer,
                seq_sum,
                finished_ns,
                ..
            } => consumers.push((per_producer.as_slice(), *seq_sum, *finished_ns)),
            _ => return Err(MeasureError::Roles(format!("unexpected {result:?}"))),
        }
    }
    let sent: Vec<u64> = sent.into_iter().flatten().collect();
    if sent.len() != want_producers || consumers.len() != want_consumers {
        return Err(MeasureError::Roles(format!(
            "{} producer and {} consumer reports, expected {want_producers} and {want_consumers}",
            sent.len(),
            consumers.len()
        )));
    }
    check_totals(
        &sent,
        consumers
            .iter()
            .map(|&(per_producer, sum, _)| (per_producer, u128::from(sum))),
    )?;
    let total: u64 = sent.iter().sum();
    let start = producers.iter().copied().min().unwrap_or(0);
    let end = consumers.iter().map(|c| c.2).max().unwrap_or(0);
    if end <= start {
        return Err(MeasureError::Roles(format!(
            "the last message arrived ({end} ns) before the first was sent ({start} ns)"
        )));
    }
    let seconds = (end - start) as f64 / 1e9;
    let bytes = total * case.size as u64;
    Ok(Measurement::Throughput(Throughput {
        messages: total,
        bytes,
        seconds,
        messages_per_s: total as f64 / seconds,
        megabytes_per_s: bytes as f64 / seconds / 1e6,
    }))
}

fn measure_latency(counts: RunCounts, results: &[RoleResult]) -> Result<Measurement, MeasureError> {
    let mut latency = None;
    let mut answered = None;
    for result in results {
        match result {
            RoleResult::Pinger { latency: l } if latency.is_none() => latency = Some(*l),
            RoleResult::Ponger { answered: a } if answered.is_none() => answered = Some(*a),
            _ => return Err(MeasureError::Roles(format!("unexpected {result:?}"))),
        }
    }
    let (Some(latency), Some(answered)) = (latency, answered) else {
        return Err(MeasureError::Roles(
            "a pinger and a ponger report are needed".to_owned(),
        ));
    };
    let pings = counts.warmup + counts.count;
    if answered != pings {
        return Err(CheckError::Totals {
            what: "pings answered",
            got: answered.into(),
            expected: pings.into(),
        }
        .into());
    }
    if latency.round_trips != counts.count {
        return Err(CheckError::Totals {
            what: "round trips timed",
            got: latency.round_trips.into(),
            expected: counts.count.into(),
        }
        .into());
    }
    Ok(Measurement::Latency(latency))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn producer(index: usize, sent: u64, started_ns: u64) -> RoleResult {
        RoleResult::Producer {
            index,
            sent,
            started_ns,
            finished_ns: started_ns + 1,
        }
    }

    fn consumer(index: usize, per_producer: &[u64], seq_sum: u64, finished_ns: u64) -> RoleResult {
        RoleResult::Consumer {
            index,
            per_producer: per_producer.to_vec(),
            seq_sum,
            finished_ns,
        }
    }

    const COUNTS: RunCounts = RunCounts {
        count: 10,
        warmup: 0,
        min: 2,
        window_ms: 100,
    };

    #[test]
    fn competing_consumers_that_shared_every_message_once_give_a_rate() {
        let case = Case {
            workload: Workload::Competing { consumers: 2 },
            size: 1000,
        };
        let results = [
            producer(0, 4, 1_000_000_000),
            consumer(0, &[2], 3, 1_500_000_000),
            consumer(1, &[2], 1 + 2, 3_000_000_000),
        ];
        let Ok(Measurement::Throughput(t)) = measure(&case, COUNTS, &results) else {
            panic!()
        };
        assert_eq!((t.messages, t.bytes, t.seconds), (4, 4000, 2.0));
        assert_eq!((t.messages_per_s, t.megabytes_per_s), (2.0, 0.002));
    }

    #[test]
    fn a_message_received_twice_instead_of_once_is_caught_by_the_parent() {
        let case = Case {
            workload: Workload::Competing { consumers: 2 },
            size: 64,
        };
        // 3 went to both consumers and 2 to none: counts add up, sums do not.
        let results = [
            producer(0, 4, 1),
            consumer(0, &[2], 3, 5),
            consumer(1, &[2], 1 + 3, 6),
        ];
        assert!(matches!(
            measure(&case, COUNTS, &results),
            Err(MeasureError::Check(CheckError::Totals { .. }))
        ));
    }

    #[test]
    fn fan_in_counts_every_producer_and_refuses_a_short_one_or_a_missing_report() {
        let case = Case {
            workload: Workload::FanIn { producers: 2 },
            size: 64,
        };
        let good = [
            producer(1, 3, 5),
            producer(0, 4, 10),
            consumer(0, &[4, 3], 6 + 3, 1_000_000_005),
        ];
        let Ok(Measurement::Throughput(t)) = measure(&case, COUNTS, &good) else {
            panic!()
        };
        assert_eq!(
            (t.messages, t.seconds),
            (7, 1.0),
            "timed from the first start"
        );
        let short = [
            producer(0, 4, 10),
            producer(1, 3, 5),
            consumer(0, &[4, 2], 6 + 1, 20),
        ];
        assert!(matches!(
            measure(&case, COUNTS, &short),
            Err(MeasureError::Check(CheckError::Received {
                producer: 1,
                ..
            }))
        ));
        let missing = [producer(0, 4, 10), consumer(0, &[4, 0], 6, 20)];
        assert!(matches!(
            measure(&case, COUNTS, &missing),
            Err(MeasureError::Roles(_))
        ));
        let twice = [
            producer(0, 4, 10),
            producer(0, 4, 10),
            consumer(0, &[8, 0], 12, 20),
        ];
        assert!(matches!(
            measure(&case, COUNTS, &twice),
            Err(MeasureError::Roles(_))
        ));
    }

    #[test]
    fn a_producer_outside_its_bounds_is_a_harness_error() {
        let case = Case {
            workload: Workload::Throughput,
            size: 64,
        };
        let over = [producer(0, 11, 1), consumer(0, &[11], 55, 2)];
        assert!(matches!(
            measure(&case, COUNTS, &over),
            Err(MeasureError::Roles(_))
        ));
    }

    #[test]
    fn ping_pong_needs_every_ping_answered() {
        let case = Case {
            workload: Workload::PingPong,
            size: 64,
        };
        let counts = RunCounts {
            count: 4,
            warmup: 1,
            min: 0,
            window_ms: 0,
        };
        let latency = LatencySummary::from_samples(vec![1, 2, 3, 4]).unwrap();
        let pinger = RoleResult::Pinger { latency };
        let good = [pinger.clone(), RoleResult::Ponger { answered: 5 }];
        assert_eq!(
            measure(&case, counts, &good),
            Ok(Measurement::Latency(latency))
        );
        let short = [pinger, RoleResult::Ponger { answered: 4 }];
        assert!(measure(&case, counts, &short).is_err());
    }
}

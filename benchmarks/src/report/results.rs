//! Everything a comparison produced, as `results.json` holds it: each case's raw repetitions, its
//! summary, or why it did not run.

use serde::{Deserialize, Serialize};

use crate::harness::Measurement;
use crate::plan::{Counts, CpuPair, Series, WorkloadKind};
use crate::stats::Spread;

use super::machine::Machine;
use super::verdict::Verdict;

/// A whole comparison.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    /// Where it ran.
    pub machine: Machine,
    /// How it ran.
    pub settings: Settings,
    /// Every case, in the order of the tables.
    pub cases: Vec<CaseRecord>,
    /// The project's performance targets, judged on these results.
    #[serde(default)]
    pub targets: Vec<Verdict>,
}

/// How the comparison was run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    /// A smoke run (tiny counts: checks the machinery, not the speed).
    pub smoke: bool,
    /// Repetitions of each case.
    pub repetitions: usize,
    /// How many messages each run moves.
    pub counts: Counts,
    /// The mechanisms compared, in table order.
    pub mechanisms: Vec<String>,
    /// The series run.
    pub series: Vec<Series>,
    /// The workloads run.
    pub workloads: Vec<WorkloadKind>,
    /// The message sizes, in bytes.
    pub sizes: Vec<usize>,
    /// The CPUs roles were pinned to.
    pub cpus: CpuPair,
    /// Why a series was left out, if one was.
    pub note: Option<String>,
    /// Where helper processes (the postbox daemon) run in each series.
    pub helper_placement: String,
    /// How big bounded queues are.
    pub buffering: String,
}

/// One case (mechanism, workload, series, size) and what became of it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CaseRecord {
    /// The mechanism's name.
    pub mechanism: String,
    /// The workload.
    pub workload: WorkloadKind,
    /// The series.
    pub series: Series,
    /// The message size in bytes.
    pub size: usize,
    /// What happened.
    pub outcome: Outcome,
}

/// What became of a case.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Outcome {
    /// The mechanism cannot run it here; it says why.
    Unsupported {
        /// The mechanism's reason.
        reason: String,
    },
    /// Every repetition so far measured cleanly.
    Measured {
        /// Each repetition's figure, in the order run.
        repetitions: Vec<Measurement>,
        /// Their median and spread.
        summary: Option<Summary>,
    },
    /// A repetition failed (a check, a crash, a timeout): no figure is reported.
    Failed {
        /// What went wrong.
        error: String,
        /// The repetitions that had measured cleanly before.
        repetitions: Vec<Measurement>,
    },
}

impl Outcome {
    /// Nothing measured yet.
    pub fn pending() -> Outcome {
        Outcome::Measured {
            repetitions: Vec::new(),
            summary: None,
        }
    }

    /// Records one more repetition (ignored once the case failed or if unsupported).
    pub fn push(&mut self, measurement: Measurement) {
        if let Outcome::Measured {
            repetitions,
            summary,
        } = self
        {
            repetitions.push(measurement);
            *summary = Summary::of(repetitions);
        }
    }

    /// Marks the case failed with `error`, keeping what was measured for the record.
    pub fn fail(&mut self, error: String) {
        let repetitions = match std::mem::replace(self, Outcome::pending()) {
            Outcome::Measured { repetitions, .. } | Outcome::Failed { repetitions, .. } => {
                repetitions
            }
            Outcome::Unsupported { .. } => Vec::new(),
        };
        *self = Outcome::Failed { error, repetitions };
    }

    /// Whether more repetitions should run.
    pub fn runnable(&self) -> bool {
        matches!(self, Outcome::Measured { .. })
    }

    /// The summary, when the case measured cleanly.
    pub fn summary(&self) -> Option<&Summary> {
        match self {
            Outcome::Measured { summary, .. } => summary.as_ref(),
            _ => None,
        }
    }
}

/// The median and spread (min–max) over a case's repetitions.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Summary {
    /// Round-trip times, in microseconds.
    Latency {
        /// The median round trip.
        p50_us: Spread,
        /// The 99th percentile.
        p99_us: Spread,
        /// The 99.9th percentile.
        p999_us: Spread,
        /// The mean.
        mean_us: Spread,
    },
    /// Rates.
    Throughput {
        /// Messages per second.
        messages_per_s: Spread,
        /// Payload megabytes (10^6 bytes) per second.
        megabytes_per_s: Spread,
    },
}

impl Summary {
    /// The summary of `repetitions`, all of one kind; `None` if empty or mixed.
    pub fn of(repetitions: &[Measurement]) -> Option<Summary> {
        let latencies: Vec<_> = repetitions
            .iter()
            .filter_map(|m| match m {
                Measurement::Latency(l) => Some(l),
                Measurement::Throughput(_) => None,
            })
            .collect();
        let rates: Vec<_> = repetitions
            .iter()
            .filter_map(|m| match m {
                Measurement::Throughput(t) => Some(t),
                Measurement::Latency(_) => None,
            })
            .collect();
        let us = |ns: f64| ns / 1e3;
        match (latencies.len(), rates.len()) {
            (n, 0) if n > 0 => Some(Summary::Latency {
                p50_us: Spread::of(latencies.iter().map(|l| us(l.p50_ns as f64)))?,
                p99_us: Spread::of(latencies.iter().map(|l| us(l.p99_ns as f64)))?,
                p999_us: Spread::of(latencies.iter().map(|l| us(l.p999_ns as f64)))?,
                mean_us: Spread::of(latencies.iter().map(|l| us(l.mean_ns)))?,
            }),
            (0, n) if n > 0 => Some(Summary::Throughput {
                messages_per_s: Spread::of(rates.iter().map(|t| t.messages_per_s))?,
                megabytes_per_s: Spread::of(rates.iter().map(|t| t.megabytes_per_s))?,
            }),
            _ => None,
        }
    }

    /// The figure the charts and targets use: p50 in µs, or messages per second.
    pub fn headline(&self) -> Spread {
        match *self {
            Summary::Latency { p50_us, .. } => p50_us,
            Summary::Throughput { messages_per_s, .. } => messages_per_s,
        }
    }
}

impl Results {
    /// The record of one case, if it was planned.
    pub fn find(
        &self,
        mechanism: &str,
        workload: WorkloadKind,
        series: Series,
        size: usize,
    ) -> Option<&CaseRecord> {
        self.cases.iter().find(|c| {
            c.mechanism == mechanism
                && c.workload == workload
                && c.series == series
                && c.size == size
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::Throughput;
    use crate::stats::LatencySummary;

    fn rate(messages_per_s: f64) -> Measurement {
        Measurement::Throughput(Throughput {
            messages: 10,
            bytes: 640,
            seconds: 1.0,
            messages_per_s,
            megabytes_per_s: messages_per_s * 64.0 / 1e6,
        })
    }

    #[test]
    fn an_outcome_summarises_its_repetitions_until_it_fails() {
        let mut outcome = Outcome::pending();
        assert!(outcome.runnable() && outcome.summary().is_none());
        for r in [3.0, 1.0, 2.0] {
            outcome.push(rate(r));
        }
        let Some(Summary::Throughput { messages_per_s, .. }) = outcome.summary() else {
            panic!()
        };
        assert_eq!(
            (
                messages_per_s.median,
                messages_per_s.min,
                messages_per_s.max
            ),
            (2.0, 1.0, 3.0)
        );
        outcome.fail("boom".into());
        assert!(!outcome.runnable() && outcome.summary().is_none());
        outcome.push(rate(9.0));
        let Outcome::Failed { repetitions, error } = &outcome else {
            panic!()
        };
        assert_eq!((repetitions.len(), error.as_str()), (3, "boom"));
    }

    #[test]
    fn latency_summaries_are_in_microseconds_and_kinds_do_not_mix() {
        let latency = LatencySummary::from_samples(vec![1_000, 2_000, 3_000]).unwrap();
        let summary = Summary::of(&[Measurement::Latency(latency)]).unwrap();
        assert_eq!(summary.headline().median, 2.0);
        assert_eq!(
            Summary::of(&[Measurement::Latency(latency), rate(1.0)]),
            None
        );
        assert_eq!(Summary::of(&[]), None);
    }

    #[test]
    fn results_round_trip_through_json() {
        let mut outcome = Outcome::pending();
        outcome.push(rate(5.0));
        let record = CaseRecord {
            mechanism: "pipe".into(),
            workload: WorkloadKind::FanIn,
            series: Series::SameCpu,
            size: 64,
            outcome,
        };
        let json = serde_json::to_string(&record).unwrap();
        assert!(json.contains(r#""series":"same-CPU""#), "{json}");
        assert!(json.contains(r#""workload":"fan-in""#), "{json}");
        assert!(json.contains(r#""status":"measured""#), "{json}");
        let back: CaseRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back.outcome.summary(), record.outcome.summary());
    }
}

//! The project's performance targets, each a ratio of postbox to the peer it must stay close to,
//! judged on a comparison's medians.

use serde::{Deserialize, Serialize};

use crate::plan::{Series, WorkloadKind};

use super::results::{Outcome, Results};
use super::verdict::Verdict;

/// Which side of the bound a ratio must fall.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bound {
    /// Met when the ratio is at most this (latency: postbox may be this much slower).
    AtMost(f64),
    /// Met when the ratio is at least this (throughput: postbox keeps this share).
    AtLeast(f64),
}

impl Bound {
    fn met(self, value: f64) -> bool {
        match self {
            Bound::AtMost(limit) => value <= limit,
            Bound::AtLeast(limit) => value >= limit,
        }
    }

    fn describe(self) -> String {
        match self {
            Bound::AtMost(limit) => format!("≤ {limit}×"),
            Bound::AtLeast(limit) => format!("≥ {limit}×"),
        }
    }
}

/// One target: `subject / baseline` on `workload`'s headline figure (p50 round trip for
/// ping-pong, messages per second otherwise), at `sizes` (every size when `None`).
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// The workload compared.
    pub workload: WorkloadKind,
    /// postbox's mechanism.
    pub subject: &'static str,
    /// The peer.
    pub baseline: &'static str,
    /// The sizes it applies to; `None` for all.
    pub sizes: Option<&'static [usize]>,
    /// The series it applies to; `None` for both.
    pub series: Option<Series>,
    /// The bound on the ratio.
    pub bound: Bound,
}

impl Target {
    /// What it says, for a table: `RTT p50: postbox unix:// ÷ unix stream ≤ 2.5×`.
    pub fn describe(&self) -> String {
        let figure = match self.workload {
            WorkloadKind::PingPong => "RTT p50".to_owned(),
            WorkloadKind::Throughput => "throughput".to_owned(),
            other => format!("{other} throughput"),
        };
        format!(
            "{figure}: {} ÷ {} {}",
            self.subject,
            self.baseline,
            self.bound.describe()
        )
    }

    /// Whether it applies at `size`.
    pub fn applies_to(&self, size: usize) -> bool {
        self.sizes.is_none_or(|sizes| sizes.contains(&size))
    }

    /// Whether it applies in `series`.
    pub fn applies_in(&self, series: Series) -> bool {
        self.series.is_none_or(|only| only == series)
    }
}

/// The project's targets (the transport-core issue's table).
pub const TARGETS: [Target; 16] = [
    Target {
        workload: WorkloadKind::Throughput,
        subject: "postbox unix://",
        baseline: "unix stream",
        sizes: Some(&[64, 1 << 20]),
        series: None,
        bound: Bound::AtLeast(0.75),
    },
    Target {
        workload: WorkloadKind::PingPong,
        subject: "postbox unix://",
        baseline: "unix stream",
        sizes: Some(&[64, 4 << 10, 64 << 10]),
        series: Some(Series::CrossCpu),
        bound: Bound::AtMost(2.2),
    },
    Target {
        workload: WorkloadKind::PingPong,
        subject: "postbox unix://",
        baseline: "unix stream",
        sizes: Some(&[64, 4 << 10, 64 << 10]),
        series: Some(Series::SameCpu),
        bound: Bound::AtMost(3.0),
    },
    Target {
        workload: WorkloadKind::Competing,
        subject: "postbox unix://",
        baseline: "posix mq",
        sizes: Some(&[64]),
        series: None,
        bound: Bound::AtLeast(0.5),
    },
    Target {
        workload: WorkloadKind::Throughput,
        subject: "postbox tcp://",
        baseline: "tcp loopback",
        sizes: None,
        series: None,
        bound: Bound::AtLeast(0.75),
    },
    Target {
        workload: WorkloadKind::Throughput,
        subject: "postbox inproc://",
        baseline: "crossbeam",
        sizes: Some(&[64]),
        series: None,
        bound: Bound::AtLeast(0.75),
    },
    Target {
        workload: WorkloadKind::FanIn,
        subject: "postbox inproc://",
        baseline: "crossbeam",
        sizes: Some(&[64]),
        series: None,
        bound: Bound::AtLeast(0.75),
    },
    Target {
        workload: WorkloadKind::Competing,
        subject: "postbox inproc://",
        baseline: "crossbeam",
        sizes: Some(&[64]),
        series: None,
        bound: Bound::AtLeast(0.75),
    },
    // The call/reply issue: a call's round trip against a send and a receive on the same
    // transport.
    Target {
        workload: WorkloadKind::PingPong,
        subject: "postbox unix:// call",
        baseline: "postbox unix://",
        sizes: None,
        series: None,
        bound: Bound::AtMost(1.1),
    },
    // The shared-memory issue: plain mailboxes lent to rings, against iceoryx2 busy-polling and
    // POSIX queues at 64 B; large messages by reference against inline through the daemon.
    Target {
        workload: WorkloadKind::PingPong,
        subject: "postbox shm",
        baseline: "iceoryx2 (busy-poll)",
        sizes: Some(&[64]),
        series: Some(Series::CrossCpu),
        bound: Bound::AtMost(1.0),
    },
    Target {
        workload: WorkloadKind::Throughput,
        subject: "postbox shm",
        baseline: "iceoryx2 (busy-poll)",
        sizes: Some(&[64]),
        series: Some(Series::CrossCpu),
        bound: Bound::AtLeast(2.0),
    },
    Target {
        workload: WorkloadKind::FanIn,
        subject: "postbox shm",
        baseline: "posix mq",
        sizes: Some(&[64]),
        series: None,
        bound: Bound::AtLeast(2.0),
    },
    Target {
        workload: WorkloadKind::Competing,
        subject: "postbox shm",
        baseline: "posix mq",
        sizes: Some(&[64]),
        series: None,
        bound: Bound::AtLeast(2.0),
    },
    Target {
        workload: WorkloadKind::Throughput,
        subject: "postbox shm",
        baseline: "postbox unix://",
        sizes: Some(&[1 << 20]),
        series: None,
        bound: Bound::AtLeast(10.0),
    },
    // The node-forwarding issue: the same tcp:// clients through two linked daemons against
    // one daemon.
    Target {
        workload: WorkloadKind::Throughput,
        subject: "postbox node link",
        baseline: "postbox tcp://",
        sizes: Some(&[64, 4 << 10]),
        series: None,
        bound: Bound::AtLeast(0.5),
    },
    Target {
        workload: WorkloadKind::PingPong,
        subject: "postbox node link",
        baseline: "postbox tcp://",
        sizes: Some(&[64]),
        series: None,
        bound: Bound::AtMost(2.5),
    },
];

/// The median headline figure of a case, or why there is none.
fn median(
    results: &Results,
    mechanism: &str,
    workload: WorkloadKind,
    series: Series,
    size: usize,
) -> Result<f64, String> {
    let record = results
        .find(mechanism, workload, series, size)
        .ok_or_else(|| format!("{mechanism} not run"))?;
    match &record.outcome {
        Outcome::Unsupported { .. } => Err(format!("{mechanism} n/a")),
        Outcome::Failed { .. } => Err(format!("{mechanism} failed")),
        Outcome::Measured { summary, .. } => summary
            .map(|s| s.headline().median)
            .ok_or_else(|| format!("{mechanism} not measured")),
    }
}

/// Judges every target at every series and size of `results` it applies to.
pub fn judge(results: &Results) -> Vec<Verdict> {
    let mut verdicts = Vec::new();
    for target in TARGETS {
        if !results.settings.workloads.contains(&target.workload) {
            continue;
        }
        for &series in &results.settings.series {
            if !target.applies_in(series) {
                continue;
            }
            for &size in &results.settings.sizes {
                if !target.applies_to(size) {
                    continue;
                }
                let subject = median(results, target.subject, target.workload, series, size);
                let baseline = median(results, target.baseline, target.workload, series, size);
                let (ratio, missing) = match (subject, baseline) {
                    (Ok(s), Ok(b)) if b > 0.0 => (Some(s / b), None),
                    (Ok(_), Ok(_)) => (None, Some(format!("{} is zero", target.baseline))),
                    (Err(e), _) | (_, Err(e)) => (None, Some(e)),
                };
                verdicts.push(Verdict {
                    target: target.describe(),
                    series,
                    size,
                    ratio,
                    met: ratio.map(|r| target.bound.met(r)),
                    missing,
                });
            }
        }
    }
    verdicts
}

/// A short account: `5 of 8 targets met (2 without data)`.
pub fn tally(verdicts: &[Verdict]) -> String {
    let judged = verdicts.iter().filter(|v| v.met.is_some()).count();
    let met = verdicts.iter().filter(|v| v.met == Some(true)).count();
    let missing = verdicts.len() - judged;
    let mut text = format!("{met} of {judged} judged targets met");
    if missing > 0 {
        text.push_str(&format!(" ({missing} without data)"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_descriptions() {
        assert!(Bound::AtMost(2.5).met(2.5) && !Bound::AtMost(2.5).met(2.6));
        assert!(Bound::AtLeast(0.5).met(0.5) && !Bound::AtLeast(0.5).met(0.49));
        assert_eq!(
            TARGETS[1].describe(),
            "RTT p50: postbox unix:// ÷ unix stream ≤ 2.2×"
        );
        assert_eq!(
            TARGETS[6].describe(),
            "fan-in throughput: postbox inproc:// ÷ crossbeam ≥ 0.75×"
        );
        assert!(TARGETS[1].applies_to(64 << 10) && !TARGETS[1].applies_to(1 << 20));
        assert!(TARGETS[4].applies_to(12345));
        assert_eq!(
            TARGETS[9].describe(),
            "RTT p50: postbox shm ÷ iceoryx2 (busy-poll) ≤ 1×"
        );
        assert!(TARGETS[9].applies_in(Series::CrossCpu) && !TARGETS[9].applies_in(Series::SameCpu));
        assert_eq!(
            TARGETS[14].describe(),
            "throughput: postbox node link ÷ postbox tcp:// ≥ 0.5×"
        );
        assert_eq!(
            TARGETS[15].describe(),
            "RTT p50: postbox node link ÷ postbox tcp:// ≤ 2.5×"
        );
        assert!(TARGETS[15].applies_to(64) && !TARGETS[15].applies_to(4 << 10));
        assert!(TARGETS[1].applies_in(Series::CrossCpu) && !TARGETS[1].applies_in(Series::SameCpu));
    }

    #[test]
    fn cells_say_met_missed_or_why_not() {
        let mut verdict = Verdict {
            target: "t".into(),
            series: Series::CrossCpu,
            size: 64,
            ratio: Some(2.1),
            met: Some(true),
            missing: None,
        };
        assert_eq!(verdict.cell(), "2.10× met");
        verdict.met = Some(false);
        assert_eq!(verdict.cell(), "2.10× **missed**");
        verdict.ratio = None;
        verdict.met = None;
        verdict.missing = Some("crossbeam failed".into());
        assert_eq!(verdict.cell(), "no data (crossbeam failed)");
        assert_eq!(
            tally(&[verdict]),
            "0 of 0 judged targets met (1 without data)"
        );
    }
}

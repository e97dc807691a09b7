//! The tables: medians over the runs, and each row's ratio postbox ring / iceoryx2 as the median
//! of the per-run ratios (both sides of a ratio come from the same run, back to back).

use std::fmt::Write as _;

use postbox_benchmarks::report::Machine;
use postbox_benchmarks::stats::{LatencySummary, Spread};

use crate::case::Workload;
use crate::endpoint::Waiting;
use crate::idle::IdleCost;

/// Where the two sides run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Series {
    /// On two different CPUs.
    CrossCpu,
    /// Both on one CPU.
    SameCpu,
}

impl Series {
    /// The name the tables use.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Series::CrossCpu => "cross-CPU",
            Series::SameCpu => "same-CPU",
        }
    }
}

/// One row of a comparison: which case, and what each run measured.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) series: Series,
    pub(crate) waiting: Waiting,
    pub(crate) workload: Workload,
    pub(crate) size: usize,
    /// Per run: the ring's figure and iceoryx2's, from the same run.
    pub(crate) runs: Vec<(Figure, Figure)>,
}

/// What one case measured, reduced to what the tables show.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Figure {
    /// Round trip p50 and p99, µs.
    Latency { p50: f64, p99: f64 },
    /// Messages per second.
    Rate(f64),
}

impl Figure {
    pub(crate) fn latency(summary: &LatencySummary) -> Figure {
        Figure::Latency {
            p50: summary.p50_ns as f64 / 1e3,
            p99: summary.p99_ns as f64 / 1e3,
        }
    }

    /// The figure a ratio is taken of: p50, or the rate.
    fn main(self) -> f64 {
        match self {
            Figure::Latency { p50, .. } => p50,
            Figure::Rate(rate) => rate,
        }
    }

    fn p99(self) -> f64 {
        match self {
            Figure::Latency { p99, .. } => p99,
            Figure::Rate(_) => f64::NAN,
        }
    }
}

/// The futex floor of one series, per run, beside the ring's round trips of the same run.
#[derive(Debug)]
pub(crate) struct Floor {
    pub(crate) series: Series,
    /// Per run: the floor's (p50, p99), the ring's event p50, the ring's busy-poll p50 (µs).
    pub(crate) runs: Vec<FloorRun>,
}

/// One run's floor and the ring's round trips beside it (µs).
#[derive(Clone, Copy, Debug)]
pub(crate) struct FloorRun {
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) ring_event: f64,
    pub(crate) ring_busy_poll: f64,
    pub(crate) iceoryx2_event: f64,
}

/// Everything measured.
#[derive(Debug, Default)]
pub(crate) struct Results {
    pub(crate) rows: Vec<Row>,
    pub(crate) floors: Vec<Floor>,
    /// Per run: the ring receiver's idle cost, and iceoryx2's.
    pub(crate) idle: Vec<(IdleCost, IdleCost)>,
}

fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    Spread::of(values).map_or(f64::NAN, |s| s.median)
}

fn spread(values: impl IntoIterator<Item = f64>) -> String {
    match Spread::of(values) {
        Some(s) if s.min != s.max => format!("**{:.2}×** ({:.2}–{:.2})", s.median, s.min, s.max),
        Some(s) => format!("**{:.2}×**", s.median),
        None => "n/a".to_owned(),
    }
}

fn rate(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2} M", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.1} k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}

fn size(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} B")
    }
}

impl Results {
    fn row(
        &self,
        series: Series,
        waiting: Waiting,
        workload: Workload,
        size: usize,
    ) -> Option<&Row> {
        self.rows.iter().find(|r| {
            r.series == series && r.waiting == waiting && r.workload == workload && r.size == size
        })
    }

    fn ratios(row: &Row) -> impl Iterator<Item = f64> + '_ {
        row.runs.iter().map(|(ring, iox)| ring.main() / iox.main())
    }

    /// The report, in Markdown; `judge` adds the targets' verdicts.
    pub(crate) fn markdown(&self, machine: &Machine, command: &str, judge: bool) -> String {
        let mut out = String::new();
        let runs = self.idle.len();
        let _ = writeln!(
            out,
            "## postbox-shm ring beside iceoryx2 0.10.0\n\n`{command}`: {runs} run(s); figures are \
             medians over the runs, ratios the median of the per-run ratios (min–max).\n\n\
             Machine: {} ({} CPUs, allowed {:?}), Linux {}, {}, {}{}; load average {} at the \
             start, {} at the end.\n",
            machine.cpu_model,
            machine.cpus_online,
            machine.cpus_allowed,
            machine.kernel,
            machine.rustc,
            machine.date,
            machine
                .commit
                .as_deref()
                .map(|c| format!(", commit {c}"))
                .unwrap_or_default(),
            machine.load_at_start.as_deref().unwrap_or("?"),
            machine.load_at_end.as_deref().unwrap_or("?"),
        );

        out.push_str(
            "### Round trip (µs; lower is better)\n\n\
             | series | waiting | size | ring p50 | ring p99 | iceoryx2 p50 | iceoryx2 p99 | ring / iceoryx2 (p50) |\n\
             |---|---|---|---:|---:|---:|---:|---|\n",
        );
        for row in self
            .rows
            .iter()
            .filter(|r| r.workload == Workload::RoundTrip)
        {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
                row.series.label(),
                row.waiting.label(),
                size(row.size),
                median(row.runs.iter().map(|r| r.0.main())),
                median(row.runs.iter().map(|r| r.0.p99())),
                median(row.runs.iter().map(|r| r.1.main())),
                median(row.runs.iter().map(|r| r.1.p99())),
                spread(Self::ratios(row)),
            );
        }

        out.push_str(
            "\n### One-way throughput (messages/s; higher is better)\n\n\
             | series | waiting | size | ring | iceoryx2 | ring / iceoryx2 |\n\
             |---|---|---|---:|---:|---|\n",
        );
        for row in self.rows.iter().filter(|r| r.workload == Workload::OneWay) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                row.series.label(),
                row.waiting.label(),
                size(row.size),
                rate(median(row.runs.iter().map(|r| r.0.main()))),
                rate(median(row.runs.iter().map(|r| r.1.main()))),
                spread(Self::ratios(row)),
            );
        }

        out.push_str(
            "\n### The futex floor: bare FUTEX_WAIT/FUTEX_WAKE hand-overs between two processes \
             (round trip, µs)\n\n\
             | series | floor p50 | floor p99 | ring event ÷ floor | ring busy-poll ÷ floor | iceoryx2 event ÷ floor |\n\
             |---|---:|---:|---|---|---|\n",
        );
        for floor in &self.floors {
            let _ = writeln!(
                out,
                "| {} | {:.2} | {:.2} | {} | {} | {} |",
                floor.series.label(),
                median(floor.runs.iter().map(|r| r.p50)),
                median(floor.runs.iter().map(|r| r.p99)),
                spread(floor.runs.iter().map(|r| r.ring_event / r.p50)),
                spread(floor.runs.iter().map(|r| r.ring_busy_poll / r.p50)),
                spread(floor.runs.iter().map(|r| r.iceoryx2_event / r.p50)),
            );
        }

        if let Some((ring, _)) = self.idle.first() {
            let _ = writeln!(
                out,
                "\n### An idle receiver ({:.1} s blocked with nothing to receive)\n\n\
                 | receiver | CPU time over the wait | after the spin budget (share of one CPU) |\n\
                 |---|---:|---:|",
                ring.wall.as_secs_f64()
            );
            for (name, pick) in [
                ("ring `pop`", 0usize),
                ("iceoryx2 listener `timed_wait`", 1),
            ] {
                let costs = self.idle.iter().map(|c| if pick == 0 { c.0 } else { c.1 });
                let cpu = median(costs.clone().map(|c| c.cpu.as_secs_f64() * 1e3));
                let after = median(costs.map(|c| c.after_budget * 100.0));
                let _ = writeln!(out, "| {name} | {cpu:.3} ms | {after:.4} % |");
            }
        }

        if judge {
            out.push_str(&self.verdicts());
        }
        out
    }

    fn verdicts(&self) -> String {
        let mut out = String::from(
            "\n### Targets (64 B, ratios within a run, median over the runs)\n\n\
             | target | measured | |\n|---|---|---|\n",
        );
        let mut verdict = |target: &str, met: bool, shown: String| {
            let _ = writeln!(
                out,
                "| {target} | {shown} | {} |",
                if met { "met" } else { "**missed**" }
            );
        };
        if let Some(row) = self.row(Series::CrossCpu, Waiting::BusyPoll, Workload::RoundTrip, 64) {
            let ratio = median(Self::ratios(row));
            verdict(
                "round trip p50, cross-CPU: ring ≤ iceoryx2 busy-poll",
                ratio <= 1.0,
                format!("{ratio:.2}× (busy-poll ring)"),
            );
        }
        if let Some(row) = self.row(Series::CrossCpu, Waiting::BusyPoll, Workload::OneWay, 64) {
            let ratio = median(Self::ratios(row));
            verdict(
                "one-way, cross-CPU: ring ≥ 2× iceoryx2 busy-poll",
                ratio >= 2.0,
                format!("{ratio:.2}× (busy-poll ring)"),
            );
        }
        if !self.idle.is_empty() {
            let after = median(self.idle.iter().map(|c| c.0.after_budget * 100.0));
            verdict(
                "an idle receiver uses 0% CPU after its spin budget",
                after < 0.1,
                format!("{after:.4} % of one CPU"),
            );
        }
        if let Some(floor) = self.floors.iter().find(|f| f.series == Series::SameCpu) {
            let ratio = median(floor.runs.iter().map(|r| r.ring_event / r.p50));
            verdict(
                "same-CPU round trip ≤ the futex floor",
                ratio <= 1.0,
                format!("{ratio:.2}× (ring event p50 ÷ floor p50)"),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn latency(p50: f64) -> Figure {
        Figure::Latency {
            p50,
            p99: 2.0 * p50,
        }
    }

    fn idle(after_budget: f64) -> IdleCost {
        IdleCost {
            cpu: Duration::from_millis(1),
            wall: Duration::from_secs(3),
            after_budget,
        }
    }

    fn results() -> Results {
        let row = |series, waiting, workload, runs| Row {
            series,
            waiting,
            workload,
            size: 64,
            runs,
        };
        Results {
            rows: vec![
                row(
                    Series::CrossCpu,
                    Waiting::BusyPoll,
                    Workload::RoundTrip,
                    vec![
                        (latency(1.0), latency(2.0)),
                        (latency(3.0), latency(2.0)),
                        (latency(0.8), latency(2.0)),
                    ],
                ),
                row(
                    Series::CrossCpu,
                    Waiting::BusyPoll,
                    Workload::OneWay,
                    vec![
                        (Figure::Rate(3e6), Figure::Rate(2e6)),
                        (Figure::Rate(3e6), Figure::Rate(1e6)),
                        (Figure::Rate(1e6), Figure::Rate(1e6)),
                    ],
                ),
            ],
            floors: vec![Floor {
                series: Series::SameCpu,
                runs: vec![FloorRun {
                    p50: 2.0,
                    p99: 4.0,
                    ring_event: 1.0,
                    ring_busy_poll: 4.0,
                    iceoryx2_event: 8.0,
                }],
            }],
            idle: vec![(idle(0.0001), idle(0.0)), (idle(0.01), idle(0.0))],
        }
    }

    #[test]
    fn a_ratio_is_the_median_of_the_per_run_ratios_with_its_spread() {
        let report = results().markdown(&Machine::detect(vec![0, 1]), "shm_iceoryx2", false);
        // Round trip: 0.5, 1.5, 0.4 → median 0.5; one way: 1.5, 3.0, 1.0 → median 1.5.
        assert!(report.contains("| **0.50×** (0.40–1.50) |"), "{report}");
        assert!(
            report.contains("| 3.00 M | 1.00 M | **1.50×** (1.00–3.00) |"),
            "{report}"
        );
        assert!(
            report.contains("| **0.50×** | **2.00×** | **4.00×** |"),
            "{report}"
        );
        assert!(!report.contains("### Targets"), "{report}");
    }

    #[test]
    fn each_target_is_judged_met_or_missed() {
        let report = results().markdown(&Machine::detect(vec![0, 1]), "shm_iceoryx2", true);
        let verdict = |target: &str| {
            report
                .lines()
                .find(|line| line.starts_with(&format!("| {target}")))
                .unwrap_or_else(|| panic!("no {target:?} in {report}"))
                .to_owned()
        };
        assert!(verdict("round trip p50").ends_with("| met |"));
        assert!(verdict("one-way").ends_with("| **missed** |"), "{report}");
        // 0.01% and 1%: the median, 0.505%, misses.
        assert!(verdict("an idle receiver").ends_with("| **missed** |"));
        assert!(verdict("same-CPU round trip").ends_with("| met |"));
    }
}

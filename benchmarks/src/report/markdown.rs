//! `results.md`: the targets, the side-by-side ratios of paired mechanisms, then one table per
//! workload and series (mechanism × size), with medians and spreads, then what failed.

use std::fmt::Write;

use crate::plan::{Series, WorkloadKind, format_size};
use crate::stats::Spread;

use super::format::{rate, sig3, table};
use super::pair::PAIRS;
use super::results::{Outcome, Results, Summary};
use super::targets::{TARGETS, tally};

/// `median (min–max)`, each formatted by `f`; just the median when there is no spread (one
/// repetition).
fn spread(s: &Spread, f: fn(f64) -> String) -> String {
    if s.min == s.max {
        return f(s.median);
    }
    format!("{} ({}–{})", f(s.median), f(s.min), f(s.max))
}

/// What a case's cell shows in a table of `column` (0: headline, 1: the tail percentiles).
fn cell(outcome: Option<&Outcome>, column: usize) -> String {
    match outcome {
        None => "–".to_owned(),
        Some(Outcome::Unsupported { reason }) => format!("n/a: {reason}"),
        Some(Outcome::Failed { .. }) => "**FAILED**".to_owned(),
        Some(Outcome::Measured { summary: None, .. }) => "–".to_owned(),
        Some(Outcome::Measured {
            summary: Some(summary),
            ..
        }) => match (summary, column) {
            (Summary::Latency { p50_us, .. }, 0) => spread(p50_us, sig3),
            (
                Summary::Latency {
                    p99_us, p999_us, ..
                },
                _,
            ) => format!("{} / {}", sig3(p99_us.median), sig3(p999_us.median)),
            (
                Summary::Throughput {
                    messages_per_s,
                    megabytes_per_s,
                },
                _,
            ) => format!(
                "{} · {} MB/s",
                spread(messages_per_s, rate),
                sig3(megabytes_per_s.median)
            ),
        },
    }
}

/// The table of `workload` in `series`: one row per mechanism, one column per size.
fn workload_table(
    results: &Results,
    workload: WorkloadKind,
    series: Series,
    column: usize,
) -> String {
    let sizes = &results.settings.sizes;
    let mut header = vec!["mechanism".to_owned()];
    header.extend(sizes.iter().map(|&s| format_size(s)));
    let rows: Vec<Vec<String>> = results
        .settings
        .mechanisms
        .iter()
        .map(|mechanism| {
            let mut row = vec![mechanism.clone()];
            row.extend(sizes.iter().map(|&size| {
                cell(
                    results
                        .find(mechanism, workload, series, size)
                        .map(|r| &r.outcome),
                    column,
                )
            }));
            row
        })
        .collect();
    table(&header, 1, &rows)
}

/// The targets table: one row per target and series, one column per size.
fn targets_table(results: &Results) -> String {
    let sizes = &results.settings.sizes;
    let mut header = vec!["target".to_owned(), "series".to_owned()];
    header.extend(sizes.iter().map(|&s| format_size(s)));
    let mut rows = Vec::new();
    for target in TARGETS {
        let description = target.describe();
        for &series in &results.settings.series {
            let verdicts: Vec<_> = results
                .targets
                .iter()
                .filter(|v| v.target == description && v.series == series)
                .collect();
            if verdicts.is_empty() {
                continue;
            }
            let mut row = vec![description.clone(), series.label().to_owned()];
            row.extend(sizes.iter().map(|&size| {
                verdicts
                    .iter()
                    .find(|v| v.size == size)
                    .map_or_else(|| "–".to_owned(), |v| v.cell())
            }));
            rows.push(row);
        }
    }
    table(&header, 2, &rows)
}

/// The whole of `results.md`.
pub fn render(results: &Results) -> String {
    let mut out = String::new();
    let m = &results.machine;
    let s = &results.settings;
    let _ = writeln!(out, "# postbox beside its peers, between processes\n");
    if s.smoke {
        let _ = writeln!(
            out,
            "> **Smoke run**: tiny message counts and one repetition. These numbers check the \
             machinery, not the speed; do not quote them.\n"
        );
    }
    let _ = writeln!(
        out,
        "Run {} on {} ({} CPUs online, this run allowed {:?}), Linux {}, {}{}. Load average {} \
         at the start, {} at the end.\n",
        m.date,
        m.cpu_model,
        m.cpus_online,
        m.cpus_allowed,
        m.kernel,
        m.rustc,
        m.commit
            .as_ref()
            .map_or_else(String::new, |c| format!(", commit {c}")),
        m.load_at_start.as_deref().unwrap_or("?"),
        m.load_at_end.as_deref().unwrap_or("?"),
    );
    if let Some(note) = &s.note {
        let _ = writeln!(out, "> **Note**: {note}\n");
    }
    let _ = writeln!(
        out,
        "**How to read.** Each cell is the median of {} repetition(s), with the spread \
         (min–max) in brackets. Round trips in µs (lower is better); throughput in messages per \
         second (higher is better), then the median payload rate in MB/s (10^6 bytes). \
         *cross-CPU*: pingers and producers pinned to CPU {}, pongers and consumers to CPU {}; \
         *same-CPU*: every role on CPU {}. Helper processes: {}. Buffering: {}. Each ping-pong \
         run times {} round trips after {} warm-up ones. In a throughput run each producer \
         sends for {} ms (at least {} messages; at most {} messages and {} MiB in all), then an \
         end marker, and the rate runs from the first producer's start to the last consumer's \
         last message. `n/a: …` is the mechanism's own reason it cannot run that case.\n",
        s.repetitions,
        s.cpus.first,
        s.cpus.second,
        s.cpus.first,
        s.helper_placement,
        s.buffering,
        s.counts.round_trips,
        s.counts.warmup,
        s.counts.window_ms,
        s.counts.min_messages,
        s.counts.max_messages,
        s.counts.max_bytes >> 20,
    );
    if !results.targets.is_empty() {
        let _ = writeln!(out, "## Targets\n");
        let _ = writeln!(
            out,
            "Ratios of medians: postbox's figure divided by the peer's (round-trip time for \
             RTT, messages per second for throughput). {}.\n",
            tally(&results.targets)
        );
        out.push_str(&targets_table(results));
        out.push('\n');
    }
    for pair in PAIRS {
        if let Some(ratios) = pair.table(results) {
            let _ = writeln!(out, "## {}\n", pair.title());
            let _ = writeln!(
                out,
                "Every figure of {} divided by the same figure of {}, both measured in this run.\n",
                pair.subject, pair.baseline
            );
            out.push_str(&ratios);
            out.push('\n');
        }
    }
    for &workload in &s.workloads {
        let _ = writeln!(out, "## {}\n", workload.title());
        for &series in &s.series {
            if workload == WorkloadKind::PingPong {
                let _ = writeln!(out, "### {series}: p50 round trip, µs\n");
                out.push_str(&workload_table(results, workload, series, 0));
                let _ = writeln!(
                    out,
                    "\n### {series}: p99 / p99.9 round trip, µs (medians)\n"
                );
                out.push_str(&workload_table(results, workload, series, 1));
            } else {
                let _ = writeln!(out, "### {series}: messages/s (spread) · MB/s\n");
                out.push_str(&workload_table(results, workload, series, 0));
            }
            out.push('\n');
        }
    }
    let failures: Vec<_> = results
        .cases
        .iter()
        .filter_map(|c| match &c.outcome {
            Outcome::Failed { error, .. } => Some((c, error)),
            _ => None,
        })
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "## Failures\n");
        for (case, error) in failures {
            let _ = writeln!(
                out,
                "- {} · {} · {} · {}: {}",
                case.mechanism,
                case.workload,
                case.series,
                format_size(case.size),
                error.replace('\n', " ")
            );
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::{Measurement, Throughput};
    use crate::plan::{Counts, CpuPair};
    use crate::report::machine::Machine;
    use crate::report::results::{CaseRecord, Settings};
    use crate::report::targets::judge;
    use crate::stats::LatencySummary;

    #[test]
    fn tables_escape_pipes_and_right_align_numbers() {
        let text = table(
            &["mechanism".into(), "64 B".into()],
            1,
            &[vec!["a|b".into(), "1.0".into()]],
        );
        assert_eq!(text, "| mechanism | 64 B |\n|---|---:|\n| a\\|b | 1.0 |\n");
    }

    fn record(
        mechanism: &str,
        workload: WorkloadKind,
        size: usize,
        outcome: Outcome,
    ) -> CaseRecord {
        CaseRecord {
            mechanism: mechanism.into(),
            workload,
            series: Series::CrossCpu,
            size,
            outcome,
        }
    }

    fn latency(p50_ns: u64) -> Outcome {
        let mut outcome = Outcome::pending();
        for extra in [0, 100, 50] {
            let mut l = LatencySummary::from_samples(vec![p50_ns + extra]).unwrap();
            l.p99_ns = 2 * p50_ns;
            l.p999_ns = 3 * p50_ns;
            outcome.push(Measurement::Latency(l));
        }
        outcome
    }

    fn results() -> Results {
        let mut failed = Outcome::pending();
        failed.fail("consumer 0: check failed: a lost message".into());
        let mut rate = Outcome::pending();
        rate.push(Measurement::Throughput(Throughput {
            messages: 1,
            bytes: 64,
            seconds: 1.0,
            messages_per_s: 1_234_567.0,
            megabytes_per_s: 79.0,
        }));
        let mut results = Results {
            machine: Machine::detect(vec![0, 1]),
            settings: Settings {
                smoke: false,
                repetitions: 3,
                counts: Counts::FULL,
                mechanisms: vec!["postbox unix://".into(), "unix stream".into()],
                series: vec![Series::CrossCpu],
                workloads: vec![WorkloadKind::PingPong, WorkloadKind::FanIn],
                sizes: vec![64, 1 << 20],
                cpus: CpuPair {
                    first: 0,
                    second: 1,
                },
                note: None,
                helper_placement: "unpinned".into(),
                buffering: "256 KiB".into(),
            },
            cases: vec![
                record(
                    "postbox unix://",
                    WorkloadKind::PingPong,
                    64,
                    latency(100_000),
                ),
                record("unix stream", WorkloadKind::PingPong, 64, latency(50_000)),
                record("postbox unix://", WorkloadKind::PingPong, 1 << 20, failed),
                record("postbox unix://", WorkloadKind::FanIn, 64, rate),
                record(
                    "unix stream",
                    WorkloadKind::FanIn,
                    64,
                    Outcome::Unsupported {
                        reason: "no shared queue".into(),
                    },
                ),
            ],
            targets: Vec::new(),
        };
        results.targets = judge(&results);
        results
    }

    #[test]
    fn the_report_shows_medians_spreads_reasons_failures_and_targets() {
        let text = render(&results());
        // p50 median 100.05 µs over 100.0–100.1; the tail table shows p99 / p99.9 medians.
        assert!(
            text.contains("| postbox unix:// | 100 (100–100) | **FAILED** |"),
            "{text}"
        );
        assert!(
            text.contains("| unix stream | 50.0 (50.0–50.1) | – |"),
            "{text}"
        );
        assert!(
            text.contains("| postbox unix:// | 200 / 300 | **FAILED** |"),
            "{text}"
        );
        assert!(
            text.contains("| postbox unix:// | 1.23 M · 79.0 MB/s | – |"),
            "{text}"
        );
        assert!(
            text.contains("| unix stream | n/a: no shared queue | – |"),
            "{text}"
        );
        assert!(
            text.contains(
                "| RTT p50: postbox unix:// ÷ unix stream ≤ 2.2× | cross-CPU | 2.00× met | – |"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "- postbox unix:// · ping-pong · cross-CPU · 1 MiB: consumer 0: check failed"
            ),
            "{text}"
        );
        assert!(text.contains("## Fan-in (8 → 1)"), "{text}");
        assert!(!text.contains("Smoke run"));
    }

    fn throughput(messages_per_s: f64) -> Outcome {
        let mut outcome = Outcome::pending();
        outcome.push(Measurement::Throughput(Throughput {
            messages: 1,
            bytes: 64,
            seconds: 1.0,
            messages_per_s,
            megabytes_per_s: 1.0,
        }));
        outcome
    }

    #[test]
    fn the_node_link_is_shown_against_tcp_figure_by_figure() {
        let mut results = results();
        // No section until both sides have a measured case.
        assert!(!render(&results).contains("## postbox node link ÷"));
        results.cases.extend([
            record(
                "postbox tcp://",
                WorkloadKind::PingPong,
                64,
                latency(40_000),
            ),
            record(
                "postbox node link",
                WorkloadKind::PingPong,
                64,
                latency(100_000),
            ),
            record(
                "postbox tcp://",
                WorkloadKind::Throughput,
                64,
                throughput(400_000.0),
            ),
            record(
                "postbox node link",
                WorkloadKind::Throughput,
                64,
                throughput(100_000.0),
            ),
            // No baseline at this size: no row.
            record(
                "postbox node link",
                WorkloadKind::Throughput,
                1 << 20,
                throughput(1.0),
            ),
        ]);
        let text = render(&results);
        assert!(
            text.contains("## postbox node link ÷ postbox tcp://"),
            "{text}"
        );
        // p50 100.05 ÷ 40.05 µs; p99 and p99.9 are 2× and 3× the first sample's p50.
        assert!(
            text.contains(
                "| ping-pong | cross-CPU | 64 B | RTT p50 2.50× · p99 2.50× · p99.9 2.50× |"
            ),
            "{text}"
        );
        assert!(
            text.contains("| throughput | cross-CPU | 64 B | messages/s 0.25× |"),
            "{text}"
        );
        assert!(
            !text.contains("| throughput | cross-CPU | 1 MiB |"),
            "{text}"
        );
        // The round-trip target judges the same medians: 2.498× is within 2.5×.
        let judged = judge(&results);
        let rtt = judged
            .iter()
            .find(|v| v.target == "RTT p50: postbox node link ÷ postbox tcp:// ≤ 2.5×")
            .expect("the node link's round trip is judged");
        assert_eq!((rtt.size, rtt.met), (64, Some(true)), "{rtt:?}");
    }
}

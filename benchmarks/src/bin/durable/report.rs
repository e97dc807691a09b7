//! `durable.md` and `durable.json`: the fsync, the targets, then one table per message size and
//! producer count with each system's figures and postbox's ratios to the others.

use std::fmt::Write;
use std::path::Path;

use anyhow::{Context, Result};
use postbox_benchmarks::plan::format_size;
use postbox_benchmarks::report::{Machine, rate, ratio, sig3, table};
use postbox_benchmarks::stats::LatencySummary;
use serde::Serialize;

use crate::load::Run;

/// The systems compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub(crate) enum System {
    /// A durable mailbox in a postbox daemon.
    Postbox,
    /// A file-storage stream in nats-server, `sync_interval: always`.
    JetStream,
    /// SQLite, WAL, `synchronous=FULL`.
    Sqlite,
    /// Not durable, for reference: a memory mailbox in the same postbox daemon, so that the
    /// difference is what durability costs.
    PostboxMemory,
}

impl System {
    /// Every system, in report order.
    pub(crate) const ALL: [System; 4] = [
        System::Postbox,
        System::JetStream,
        System::Sqlite,
        System::PostboxMemory,
    ];

    /// Its name in the report.
    pub(crate) fn label(self) -> &'static str {
        match self {
            System::Postbox => "postbox",
            System::JetStream => "NATS JetStream",
            System::Sqlite => "SQLite",
            System::PostboxMemory => "postbox, memory (reference)",
        }
    }
}

/// One system with one producer count and message size, over the repetitions.
#[derive(Debug, Serialize)]
pub(crate) struct Case {
    pub(crate) system: System,
    pub(crate) producers: usize,
    pub(crate) size: usize,
    /// Each repetition that measured.
    pub(crate) runs: Vec<Run>,
    /// The first failure, if a repetition failed.
    pub(crate) error: Option<String>,
}

/// The median of `values` (the mean of the middle two for an even count).
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// A case's medians over its repetitions.
#[derive(Clone, Copy, Debug, Serialize)]
pub(crate) struct Medians {
    pub(crate) messages_per_s: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    /// The fsync p50 measured beside the runs.
    pub(crate) fsync_p50_ms: f64,
    /// The send p50 over the fsync p50 beside it, run by run.
    pub(crate) p50_per_fsync: f64,
    /// The most producers starved (no acknowledgement in the window) in any repetition.
    pub(crate) starved_producers: usize,
}

impl Case {
    /// The medians, when at least one repetition measured.
    pub(crate) fn medians(&self) -> Option<Medians> {
        let of = |f: fn(&Run) -> f64| median(self.runs.iter().map(f).collect());
        Some(Medians {
            messages_per_s: of(|r| r.messages_per_s)?,
            p50_ms: of(|r| r.latency.p50_ns as f64 / 1e6)?,
            p99_ms: of(|r| r.latency.p99_ns as f64 / 1e6)?,
            fsync_p50_ms: of(|r| r.fsync_p50_ns as f64 / 1e6)?,
            p50_per_fsync: of(|r| r.latency.p50_ns as f64 / r.fsync_p50_ns.max(1) as f64)?,
            starved_producers: self.runs.iter().map(|r| r.starved_producers).max()?,
        })
    }
}

/// Whether a target was met.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub(crate) enum Verdict {
    Met,
    Missed,
    NotMeasured,
}

/// One of the targets, judged.
#[derive(Debug, Serialize)]
pub(crate) struct Target {
    pub(crate) target: String,
    pub(crate) measured: String,
    pub(crate) verdict: Verdict,
}

/// Everything one run of the benchmark found.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) machine: Machine,
    pub(crate) smoke: bool,
    pub(crate) repetitions: usize,
    pub(crate) warmup_ms: u64,
    pub(crate) window_ms: u64,
    pub(crate) producers: Vec<usize>,
    pub(crate) sizes: Vec<usize>,
    /// Where every system wrote (one disk for all), and its file system.
    pub(crate) scratch: String,
    pub(crate) filesystem: String,
    pub(crate) nats_server: Option<String>,
    /// Why JetStream was not measured, when it was not.
    pub(crate) jetstream_skipped: Option<String>,
    /// `sync_data` after a 64-byte overwrite, on that disk: every probe's samples together.
    pub(crate) fsync: LatencySummary,
    /// The 10th percentile of those samples: this shared virtual disk's fsync is bimodal (about
    /// 0.1 ms or about 4 ms, changing from moment to moment), and this is its fast mode.
    pub(crate) fsync_p10_ns: u64,
    /// fsyncs timed just before each run.
    pub(crate) fsync_samples_per_run: usize,
    pub(crate) cases: Vec<Case>,
    pub(crate) targets: Vec<Target>,
    pub(crate) seconds: f64,
}

impl Report {
    /// The medians of one case, if it measured.
    pub(crate) fn medians(&self, system: System, producers: usize, size: usize) -> Option<Medians> {
        self.cases
            .iter()
            .find(|c| c.system == system && c.producers == producers && c.size == size)?
            .medians()
    }

    /// Judges the two performance targets, for every size measured.
    pub(crate) fn judge(&mut self) {
        let mut targets = Vec::new();
        // Against every probe together: on a disk whose fsync is bimodal, the 100 samples
        // beside one run may all fall in one mode.
        let fsync_ms = self.fsync.p50_ns as f64 / 1e6;
        for &size in &self.sizes {
            let size_label = format_size(size);
            let postbox = self.medians(System::Postbox, 64, size);
            let nats = self.medians(System::JetStream, 64, size);
            targets.push(match (postbox, nats) {
                (Some(p), Some(n)) => Target {
                    target: format!("{size_label}: throughput with 64 producers ≥ JetStream's"),
                    measured: format!(
                        "{} vs {} msg/s = {}",
                        rate(p.messages_per_s),
                        rate(n.messages_per_s),
                        ratio(p.messages_per_s / n.messages_per_s)
                    ),
                    verdict: verdict(p.messages_per_s >= n.messages_per_s),
                },
                _ => Target {
                    target: format!("{size_label}: throughput with 64 producers ≥ JetStream's"),
                    measured: "not measured (needs 64 producers and JetStream)".to_owned(),
                    verdict: Verdict::NotMeasured,
                },
            });
            let one = self.medians(System::Postbox, 1, size);
            targets.push(Target {
                target: format!(
                    "{size_label}: 1-producer latency (p50) ≤ 1.5× one fsync (p50 of every probe)"
                ),
                measured: match one {
                    Some(p) => format!(
                        "{} ms vs {} ms: {} (vs the probes beside its runs, p50 {} ms: {}; vs \
                         the fsync's fast mode, p10 {} ms: {})",
                        sig3(p.p50_ms),
                        sig3(fsync_ms),
                        ratio(p.p50_ms / fsync_ms),
                        sig3(p.fsync_p50_ms),
                        ratio(p.p50_per_fsync),
                        sig3(self.fsync_p10_ns as f64 / 1e6),
                        ratio(p.p50_ms / (self.fsync_p10_ns.max(1) as f64 / 1e6)),
                    ),
                    None => "not measured".to_owned(),
                },
                verdict: one.map_or(Verdict::NotMeasured, |p| {
                    verdict(p.p50_ms <= 1.5 * fsync_ms)
                }),
            });
        }
        self.targets = targets;
    }

    /// `durable.md`.
    pub(crate) fn markdown(&self) -> String {
        let m = &self.machine;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# Durable sends: postbox beside NATS JetStream and SQLite\n"
        );
        let _ = writeln!(
            out,
            "{}{} · {} ({} CPUs online) · Linux {} · {} · commit {}\n",
            m.date,
            if self.smoke {
                " · **smoke run: tiny counts, not for comparison**"
            } else {
                ""
            },
            m.cpu_model,
            m.cpus_online,
            m.kernel,
            m.rustc,
            m.commit.as_deref().unwrap_or("unknown"),
        );
        let _ = writeln!(
            out,
            "Each producer sends one message and waits for its acknowledgement (a durable \
             acknowledgement: on stable storage) before the next. {} repetition(s), each a \
             {} ms warm-up then a {} ms window; medians over the repetitions. Every system \
             writes to `{}` ({}). Load average {} at the start, {} at the end.\n",
            self.repetitions,
            self.warmup_ms,
            self.window_ms,
            self.scratch,
            self.filesystem,
            m.load_at_start.as_deref().unwrap_or("?"),
            m.load_at_end.as_deref().unwrap_or("?"),
        );
        if let Some(reason) = &self.jetstream_skipped {
            let _ = writeln!(out, "**NATS JetStream was skipped**: {reason}\n");
        } else if let Some(nats) = &self.nats_server {
            let _ = writeln!(out, "nats-server: {nats}\n");
        }
        let _ = writeln!(
            out,
            "**fsync** of this disk (`sync_data` after a 64-byte overwrite, measured just \
             before every run; all {} samples together): p10 {} ms, p50 {} ms, p99 {} ms, \
             mean {} ms. Each table's `fsync p50` row is the median of those measured beside \
             its runs. Throughput counts the sends begun and acknowledged in the window; the \
             latencies, every send in progress during it; a starved producer had no send \
             acknowledged in it.\n",
            self.fsync.round_trips,
            sig3(self.fsync_p10_ns as f64 / 1e6),
            sig3(self.fsync.p50_ns as f64 / 1e6),
            sig3(self.fsync.p99_ns as f64 / 1e6),
            sig3(self.fsync.mean_ns / 1e6),
        );
        let _ = writeln!(out, "## Targets (issue 14)\n");
        let rows: Vec<Vec<String>> = self
            .targets
            .iter()
            .map(|t| {
                let verdict = match t.verdict {
                    Verdict::Met => "met",
                    Verdict::Missed => "**missed**",
                    Verdict::NotMeasured => "not measured",
                };
                vec![t.target.clone(), t.measured.clone(), verdict.to_owned()]
            })
            .collect();
        let header = ["target", "measured", "verdict"].map(String::from);
        let _ = writeln!(out, "{}", table(&header, 3, &rows));
        for &size in &self.sizes {
            for &producers in &self.producers {
                let _ = writeln!(
                    out,
                    "## {} messages, {producers} producer{}\n",
                    format_size(size),
                    if producers == 1 { "" } else { "s" }
                );
                let _ = writeln!(out, "{}", self.case_table(producers, size));
            }
        }
        let failed: Vec<&Case> = self.cases.iter().filter(|c| c.error.is_some()).collect();
        if !failed.is_empty() {
            let _ = writeln!(out, "## Failures\n");
            for case in failed {
                let _ = writeln!(
                    out,
                    "- {} · {} producers · {}: {}",
                    case.system.label(),
                    case.producers,
                    format_size(case.size),
                    case.error.as_deref().unwrap_or_default()
                );
            }
        }
        out
    }

    /// The table of one producer count and size: a column per system, then postbox's ratios.
    fn case_table(&self, producers: usize, size: usize) -> String {
        let get = |s| self.medians(s, producers, size);
        let cells = |f: fn(&Medians) -> String| -> Vec<String> {
            System::ALL
                .iter()
                .map(|&s| get(s).map_or_else(|| "—".to_owned(), |m| f(&m)))
                .collect()
        };
        let ratios = |f: fn(&Medians) -> f64| -> Vec<String> {
            let postbox = get(System::Postbox);
            [System::JetStream, System::Sqlite]
                .iter()
                .map(|&s| match (postbox, get(s)) {
                    (Some(p), Some(o)) => ratio(f(&p) / f(&o)),
                    _ => "—".to_owned(),
                })
                .collect()
        };
        let mut header = vec![String::new()];
        header.extend(System::ALL.iter().map(|s| s.label().to_owned()));
        header.push("postbox ÷ JetStream".to_owned());
        header.push("postbox ÷ SQLite".to_owned());
        let row = |label: &str, values: Vec<String>, r: Vec<String>| {
            let mut row = vec![label.to_owned()];
            row.extend(values);
            row.extend(r);
            row
        };
        let rows = vec![
            row(
                "throughput (msg/s)",
                cells(|m| rate(m.messages_per_s)),
                ratios(|m| m.messages_per_s),
            ),
            row(
                "latency p50 (ms)",
                cells(|m| sig3(m.p50_ms)),
                ratios(|m| m.p50_ms),
            ),
            row(
                "latency p99 (ms)",
                cells(|m| sig3(m.p99_ms)),
                ratios(|m| m.p99_ms),
            ),
            row(
                "producers starved (most in a run)",
                cells(|m| m.starved_producers.to_string()),
                vec![String::new(), String::new()],
            ),
            row(
                "fsync p50 beside (ms)",
                cells(|m| sig3(m.fsync_p50_ms)),
                vec![String::new(), String::new()],
            ),
            row(
                "latency p50 ÷ fsync p50",
                cells(|m| ratio(m.p50_per_fsync)),
                vec![String::new(), String::new()],
            ),
        ];
        let mut text = table(&header, 1, &rows);
        if producers == 1
            && let Some(p) = get(System::Postbox)
        {
            let _ = writeln!(
                text,
                "\npostbox's 1-producer p50 is {} the p50 of every fsync probe ({} ms; target \
                 ≤ 1.50×), {} the probes' beside its runs.",
                ratio(p.p50_ms / (self.fsync.p50_ns as f64 / 1e6)),
                sig3(self.fsync.p50_ns as f64 / 1e6),
                ratio(p.p50_per_fsync),
            );
        }
        text
    }

    /// The tables, for the terminal.
    pub(crate) fn summary(&self) -> String {
        let mut out = String::new();
        for &size in &self.sizes {
            for &producers in &self.producers {
                let _ = writeln!(
                    out,
                    "\n{} messages, {producers} producer(s):",
                    format_size(size)
                );
                out.push_str(&self.case_table(producers, size));
            }
        }
        let _ = writeln!(out);
        for t in &self.targets {
            let _ = writeln!(
                out,
                "target: {} — {} — {:?}",
                t.target, t.measured, t.verdict
            );
        }
        out
    }

    /// Writes `durable.md` and `durable.json` into `dir`.
    ///
    /// # Errors
    ///
    /// When a file cannot be written.
    pub(crate) fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let md = dir.join("durable.md");
        std::fs::write(&md, self.markdown())
            .with_context(|| format!("writing {}", md.display()))?;
        let json = dir.join("durable.json");
        let text = serde_json::to_string_pretty(self).context("encoding the report")?;
        std::fs::write(&json, text + "\n")
            .with_context(|| format!("writing {}", json.display()))?;
        Ok(())
    }
}

fn verdict(met: bool) -> Verdict {
    if met { Verdict::Met } else { Verdict::Missed }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }
}

//! Side-by-side ratios of two postbox mechanisms run in one comparison, for every figure rather
//! than the headline alone: the node link against one daemon shows what the hop between daemons
//! costs in the tail as well as at the median.

use super::format::{ratio, table};
use super::results::{CaseRecord, Outcome, Results, Summary};
use crate::plan::format_size;

/// Two mechanisms compared figure by figure: `subject ÷ baseline`.
#[derive(Clone, Copy, Debug)]
pub struct Pair {
    /// The mechanism measured against the other.
    pub subject: &'static str,
    /// The mechanism it is measured against.
    pub baseline: &'static str,
}

/// The pairs `results.md` shows when both sides ran.
pub const PAIRS: [Pair; 1] = [Pair {
    subject: "postbox node link",
    baseline: "postbox tcp://",
}];

/// The measured summary of a case, if it has one.
fn summary<'a>(results: &'a Results, mechanism: &str, record: &CaseRecord) -> Option<&'a Summary> {
    match &results
        .find(mechanism, record.workload, record.series, record.size)?
        .outcome
    {
        Outcome::Measured { summary, .. } => summary.as_ref(),
        _ => None,
    }
}

impl Pair {
    /// Its title: `postbox node link ÷ postbox tcp://`.
    pub fn title(&self) -> String {
        format!("{} ÷ {}", self.subject, self.baseline)
    }

    /// One row per case both sides measured (workload, series, size): the ratios of the medians
    /// of p50, p99 and p99.9 round trips, or of messages per second. `None` when no case has
    /// both.
    pub fn table(&self, results: &Results) -> Option<String> {
        let mut rows = Vec::new();
        for record in results.cases.iter().filter(|c| c.mechanism == self.subject) {
            let (Some(subject), Some(baseline)) = (
                summary(results, self.subject, record),
                summary(results, self.baseline, record),
            ) else {
                continue;
            };
            let figures = match (subject, baseline) {
                (
                    Summary::Latency {
                        p50_us: s50,
                        p99_us: s99,
                        p999_us: s999,
                        ..
                    },
                    Summary::Latency {
                        p50_us: b50,
                        p99_us: b99,
                        p999_us: b999,
                        ..
                    },
                ) => format!(
                    "RTT p50 {} · p99 {} · p99.9 {}",
                    ratio(s50.median / b50.median),
                    ratio(s99.median / b99.median),
                    ratio(s999.median / b999.median)
                ),
                (
                    Summary::Throughput {
                        messages_per_s: s, ..
                    },
                    Summary::Throughput {
                        messages_per_s: b, ..
                    },
                ) => format!("messages/s {}", ratio(s.median / b.median)),
                _ => continue,
            };
            rows.push(vec![
                record.workload.to_string(),
                record.series.to_string(),
                format_size(record.size),
                figures,
            ]);
        }
        if rows.is_empty() {
            return None;
        }
        let header = ["workload", "series", "size", "ratios of medians"].map(str::to_owned);
        Some(table(&header, 3, &rows))
    }
}

//! What a comparison runs: the series (CPU placements), the workloads, the sizes, how many
//! messages each run moves, and where each role runs.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::mechanism::{Case, Role, Workload};
use crate::message::HEADER_LEN;

/// How many producers the fan-in workload has.
pub const FAN_IN_PRODUCERS: usize = 8;

/// How many consumers the competing-consumers workload has.
pub const COMPETING_CONSUMERS: usize = 4;

/// The message sizes of a full run: 64 B, 4 KiB, 64 KiB and 1 MiB.
pub const FULL_SIZES: [usize; 4] = [64, 4 << 10, 64 << 10, 1 << 20];

/// The message sizes of a smoke run.
pub const SMOKE_SIZES: [usize; 2] = [64, 64 << 10];

/// Where the roles of a run are placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Series {
    /// Senders on the first CPU, receivers on the second: every message crosses CPUs.
    #[serde(rename = "cross-CPU")]
    CrossCpu,
    /// Every role on the first CPU: the cost when both ends share one.
    #[serde(rename = "same-CPU")]
    SameCpu,
}

impl Series {
    /// Both series, cross-CPU first.
    pub const ALL: [Series; 2] = [Series::CrossCpu, Series::SameCpu];

    /// Its name in tables and on the command line.
    pub fn label(self) -> &'static str {
        match self {
            Series::CrossCpu => "cross-CPU",
            Series::SameCpu => "same-CPU",
        }
    }

    /// The CPUs a run's helper processes (a daemon) inherit while the run is prepared: every
    /// allowed CPU in the cross-CPU series (unpinned, as a daemon normally runs), the first CPU in
    /// the same-CPU series (so that the whole run shares one CPU).
    pub fn helper_cpus(self, cpus: CpuPair, allowed: &[usize]) -> Vec<usize> {
        match self {
            Series::CrossCpu => allowed.to_vec(),
            Series::SameCpu => vec![cpus.first],
        }
    }
}

impl fmt::Display for Series {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A workload, named without its parameters (which are fixed for the comparison).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadKind {
    /// Round-trip latency between a pinger and a ponger.
    PingPong,
    /// One producer to one consumer.
    Throughput,
    /// [`FAN_IN_PRODUCERS`] producers to one consumer.
    FanIn,
    /// One producer to [`COMPETING_CONSUMERS`] competing consumers.
    Competing,
}

impl WorkloadKind {
    /// Every workload, in report order.
    pub const ALL: [WorkloadKind; 4] = [
        WorkloadKind::PingPong,
        WorkloadKind::Throughput,
        WorkloadKind::FanIn,
        WorkloadKind::Competing,
    ];

    /// The workload with its parameters.
    pub fn workload(self) -> Workload {
        match self {
            WorkloadKind::PingPong => Workload::PingPong,
            WorkloadKind::Throughput => Workload::Throughput,
            WorkloadKind::FanIn => Workload::FanIn {
                producers: FAN_IN_PRODUCERS,
            },
            WorkloadKind::Competing => Workload::Competing {
                consumers: COMPETING_CONSUMERS,
            },
        }
    }

    /// The kind of `workload`.
    pub fn of(workload: Workload) -> WorkloadKind {
        match workload {
            Workload::PingPong => WorkloadKind::PingPong,
            Workload::Throughput => WorkloadKind::Throughput,
            Workload::FanIn { .. } => WorkloadKind::FanIn,
            Workload::Competing { .. } => WorkloadKind::Competing,
        }
    }

    /// Its name on the command line and in JSON.
    pub fn key(self) -> &'static str {
        match self {
            WorkloadKind::PingPong => "ping-pong",
            WorkloadKind::Throughput => "throughput",
            WorkloadKind::FanIn => "fan-in",
            WorkloadKind::Competing => "competing",
        }
    }

    /// Its title in the report.
    pub fn title(self) -> String {
        match self {
            WorkloadKind::PingPong => "Ping-pong round trip".to_owned(),
            WorkloadKind::Throughput => "One-way throughput (1 → 1)".to_owned(),
            WorkloadKind::FanIn => format!("Fan-in ({FAN_IN_PRODUCERS} → 1)"),
            WorkloadKind::Competing => {
                format!("Competing consumers (1 → {COMPETING_CONSUMERS})")
            }
        }
    }

    /// Parses [`WorkloadKind::key`].
    pub fn parse(text: &str) -> Option<WorkloadKind> {
        WorkloadKind::ALL
            .into_iter()
            .find(|kind| kind.key() == text)
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// The two CPUs a comparison uses: senders go on `first`, receivers on `second` (cross-CPU).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuPair {
    /// Where pingers and producers run (and everything, in the same-CPU series).
    pub first: usize,
    /// Where pongers and consumers run in the cross-CPU series.
    pub second: usize,
}

/// One role of a run and the CPU it is pinned to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// The role.
    pub role: Role,
    /// Its CPU.
    pub cpu: usize,
}

/// The roles of `workload` and their CPUs in `series`, listening roles first.
pub fn assignments(workload: Workload, series: Series, cpus: CpuPair) -> Vec<Assignment> {
    let receiver_cpu = match series {
        Series::CrossCpu => cpus.second,
        Series::SameCpu => cpus.first,
    };
    let (senders, receivers): (Vec<Role>, Vec<Role>) = match workload {
        Workload::PingPong => (vec![Role::Pinger], vec![Role::Ponger]),
        Workload::Throughput => (
            vec![Role::Producer { index: 0 }],
            vec![Role::Consumer { index: 0 }],
        ),
        Workload::FanIn { producers } => (
            (0..producers)
                .map(|index| Role::Producer { index })
                .collect(),
            vec![Role::Consumer { index: 0 }],
        ),
        Workload::Competing { consumers } => (
            vec![Role::Producer { index: 0 }],
            (0..consumers)
                .map(|index| Role::Consumer { index })
                .collect(),
        ),
    };
    let receivers = receivers.into_iter().map(|role| Assignment {
        role,
        cpu: receiver_cpu,
    });
    let senders = senders.into_iter().map(|role| Assignment {
        role,
        cpu: cpus.first,
    });
    receivers.chain(senders).collect()
}

/// How much a run moves, as every role is told.
///
/// - ping-pong: `count` timed round trips after `warmup` untimed ones;
/// - throughput, fan-in, competing consumers: each producer sends for `window_ms`
///   milliseconds, but at least `min` and at most `count` messages, then end markers; the
///   consumers stop at the end markers, so the harness learns the totals from the producers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCounts {
    /// See the type's documentation.
    pub count: u64,
    /// Untimed round trips before the timed ones (ping-pong only; 0 otherwise).
    pub warmup: u64,
    /// The fewest messages each producer sends, however long they take (0 for ping-pong).
    pub min: u64,
    /// How long each producer sends, once it has sent `min` (0 for ping-pong).
    pub window_ms: u64,
}

/// The rule that picks [`RunCounts`] for each case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Timed round trips per ping-pong run, at every size.
    pub round_trips: u64,
    /// Untimed round trips before them.
    pub warmup: u64,
    /// How long each producer of a throughput-like run sends, in milliseconds: the same window
    /// for every mechanism, whatever its speed …
    pub window_ms: u64,
    /// … but at least this many messages per producer …
    pub min_messages: u64,
    /// … and at most this many messages in all …
    pub max_messages: u64,
    /// … and this many payload bytes in all.
    pub max_bytes: u64,
}

impl Counts {
    /// The full run: 20,000 round trips after 1,000 warm-up ones; producers send for 300 ms
    /// (at least 100 messages each, at most 5 million messages and 4 GiB in all).
    pub const FULL: Counts = Counts {
        round_trips: 20_000,
        warmup: 1_000,
        window_ms: 300,
        min_messages: 100,
        max_messages: 5_000_000,
        max_bytes: 4 << 30,
    };

    /// The smoke run (CI): a few hundred round trips and 20 ms of sending, enough to exercise
    /// every check and no more.
    pub const SMOKE: Counts = Counts {
        round_trips: 300,
        warmup: 30,
        window_ms: 20,
        min_messages: 16,
        max_messages: 20_000,
        max_bytes: 64 << 20,
    };

    /// The counts for `case`.
    pub fn for_case(&self, case: &Case) -> RunCounts {
        let producers = match case.workload {
            Workload::PingPong => {
                return RunCounts {
                    count: self.round_trips,
                    warmup: self.warmup,
                    min: 0,
                    window_ms: 0,
                };
            }
            Workload::FanIn { producers } => producers.max(1) as u64,
            Workload::Throughput | Workload::Competing { .. } => 1,
        };
        let in_all = self
            .max_messages
            .min(self.max_bytes / case.size.max(1) as u64);
        let min = self.min_messages;
        RunCounts {
            count: (in_all / producers).max(min),
            warmup: 0,
            min,
            window_ms: self.window_ms,
        }
    }
}

/// A size for people: `64 B`, `4 KiB`, `1 MiB`, `1536 B`.
pub fn format_size(size: usize) -> String {
    const UNITS: [(usize, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (unit, name) in UNITS {
        if size >= unit && size.is_multiple_of(unit) {
            return format!("{} {name}", size / unit);
        }
    }
    format!("{size} B")
}

/// Parses a message size: a number of bytes, optionally followed by `B`, `K`/`KiB` or
/// `M`/`MiB` (binary units, any case), such as `64`, `4K`, `64KiB`, `1M`. At least
/// [`HEADER_LEN`] bytes and at most 64 MiB.
///
/// # Errors
///
/// A message saying what is wrong.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: usize = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size (try 64, 4K, 64KiB or 1M)"))?;
    let multiplier = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" | "kb" => 1 << 10,
        "m" | "mib" | "mb" => 1 << 20,
        other => return Err(format!("unknown size unit {other:?} in {text:?}")),
    };
    let size = number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("{text:?} is too large"))?;
    if size < HEADER_LEN {
        return Err(format!(
            "{text:?} is below the {HEADER_LEN}-byte minimum (the header)"
        ));
    }
    if size > 64 << 20 {
        return Err(format!("{text:?} is above the 64 MiB maximum"));
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_print_and_parse() {
        assert_eq!(format_size(64), "64 B");
        assert_eq!(format_size(4096), "4 KiB");
        assert_eq!(format_size(1 << 20), "1 MiB");
        assert_eq!(format_size(1536), "1536 B");
        assert_eq!(parse_size("64"), Ok(64));
        assert_eq!(parse_size("4K"), Ok(4096));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("1m"), Ok(1 << 20));
        assert_eq!(parse_size("16B"), Ok(16));
        assert!(parse_size("8").unwrap_err().contains("minimum"));
        assert!(parse_size("1G").unwrap_err().contains("unit"));
        assert!(parse_size("K").is_err());
        assert!(parse_size("128M").unwrap_err().contains("maximum"));
    }

    #[test]
    fn cross_cpu_splits_senders_and_receivers_and_listeners_come_first() {
        let cpus = CpuPair {
            first: 0,
            second: 1,
        };
        let roles = assignments(Workload::Competing { consumers: 2 }, Series::CrossCpu, cpus);
        assert_eq!(
            roles,
            vec![
                Assignment {
                    role: Role::Consumer { index: 0 },
                    cpu: 1
                },
                Assignment {
                    role: Role::Consumer { index: 1 },
                    cpu: 1
                },
                Assignment {
                    role: Role::Producer { index: 0 },
                    cpu: 0
                },
            ]
        );
        let same = assignments(Workload::PingPong, Series::SameCpu, cpus);
        assert!(same.iter().all(|a| a.cpu == 0));
        assert!(same[0].role.listens() && !same[1].role.listens());
        assert_eq!(
            assignments(Workload::FanIn { producers: 8 }, Series::CrossCpu, cpus).len(),
            9
        );
    }

    #[test]
    fn round_trips_never_shrink_and_message_caps_follow_size_and_producers() {
        let full = Counts::FULL;
        let ping = Case {
            workload: Workload::PingPong,
            size: 1 << 20,
        };
        assert_eq!(
            full.for_case(&ping),
            RunCounts {
                count: 20_000,
                warmup: 1_000,
                min: 0,
                window_ms: 0,
            }
        );
        let small = Case {
            workload: Workload::Throughput,
            size: 64,
        };
        assert_eq!(full.for_case(&small).count, 5_000_000, "the message cap");
        let large = Case {
            workload: Workload::Competing { consumers: 4 },
            size: 1 << 20,
        };
        assert_eq!(full.for_case(&large).count, 4096, "the byte cap");
        let fan_in = Case {
            workload: Workload::FanIn { producers: 8 },
            size: 1 << 20,
        };
        let counts = full.for_case(&fan_in);
        assert_eq!(
            (counts.count, counts.min, counts.window_ms),
            (512, 100, 300)
        );
        let huge = Case {
            workload: Workload::FanIn { producers: 8 },
            size: 64 << 20,
        };
        assert_eq!(full.for_case(&huge).count, 100, "never below the minimum");
    }

    #[test]
    fn helpers_follow_the_series() {
        let cpus = CpuPair {
            first: 2,
            second: 5,
        };
        assert_eq!(Series::SameCpu.helper_cpus(cpus, &[2, 5, 7]), vec![2]);
        assert_eq!(
            Series::CrossCpu.helper_cpus(cpus, &[2, 5, 7]),
            vec![2, 5, 7]
        );
        assert_eq!(WorkloadKind::parse("fan-in"), Some(WorkloadKind::FanIn));
        assert_eq!(WorkloadKind::parse("fanin"), None);
    }
}

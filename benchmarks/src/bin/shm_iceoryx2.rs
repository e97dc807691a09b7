//! `shm_iceoryx2`: postbox's shared-memory ring (`postbox-shm`) beside iceoryx2, between two
//! processes, in one run: round trips (p50, p99) and one-way throughput, across CPUs and on one
//! CPU, busy-polling and blocking; the futex floor (two processes handing a word back and forth
//! with nothing but futex calls); and what an idle receiver costs.
//!
//! ```sh
//! cargo run --release -p postbox-benchmarks --bin shm_iceoryx2                # 3 runs, medians
//! cargo run --release -p postbox-benchmarks --bin shm_iceoryx2 -- --smoke     # seconds, for CI
//! ```
//!
//! Every case is measured for the ring and for iceoryx2 back to back, so both see the same
//! machine; each row's ratio ring / iceoryx2 is taken within a run, and the report gives the
//! median over the runs with its spread. The parent process and its child are pinned: CPUs 0
//! and 1 (the first two this process may use) across CPUs, the first on one CPU.
//!
//! - **Busy-poll**: non-blocking calls in a loop (spin hint, `yield_now` every 64 polls, for
//!   both alike). **Event**: the ring's `push`/`pop` (a short spin, then the futex), iceoryx2's
//!   subscriber with a listener that the publisher's notifier wakes after every sample.
//! - Buffering alike: iceoryx2's subscriber buffer and the ring's slots hold 256 KiB worth of
//!   messages (4 to 256). Both sides copy the payload in and out.
//! - Every message is numbered; a lost, duplicated or reordered one fails the run.
//!
//! The report goes to stdout and to `shm_iceoryx2.md` in `--out` (default
//! `benchmarks/results/`). `--smoke` makes few messages, one run, and judges no target.
//!
//! Exit status: 0 when every case ran, 1 when one failed, 2 for a usage error.

#[path = "shm_iceoryx2/case.rs"]
mod case;
#[path = "shm_iceoryx2/endpoint.rs"]
mod endpoint;
#[path = "shm_iceoryx2/futex.rs"]
mod futex;
#[path = "shm_iceoryx2/iceoryx2.rs"]
mod iceoryx2;
#[path = "shm_iceoryx2/idle.rs"]
mod idle;
#[path = "shm_iceoryx2/report.rs"]
mod report;
#[path = "shm_iceoryx2/ring.rs"]
mod ring;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use postbox_benchmarks::cpu::{allowed_cpus, pin_thread};
use postbox_benchmarks::report::{Machine, load_average};

use crate::case::{Case, Mechanism, Outcome, Workload};
use crate::endpoint::Waiting;
use crate::report::{Figure, Floor, FloorRun, Results, Row, Series};

/// postbox's shared-memory ring beside iceoryx2, between two pinned processes.
#[derive(Debug, Parser)]
#[command(name = "shm_iceoryx2")]
struct Cli {
    #[command(subcommand)]
    child: Option<ChildCommand>,
    /// Repetitions of the whole comparison.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Timed round trips per case (after a tenth more as warm-up).
    #[arg(long, default_value_t = 20_000)]
    round_trips: u64,
    /// Messages per one-way case at 64 B.
    #[arg(long, default_value_t = 1_000_000)]
    messages: u64,
    /// Messages per one-way case at 1 MiB.
    #[arg(long, default_value_t = 2_000)]
    large_messages: u64,
    /// Seconds an idle receiver waits.
    #[arg(long, default_value_t = 3.0)]
    idle_secs: f64,
    /// A quick check that every case works: few messages, one run, no target judged.
    #[arg(long)]
    smoke: bool,
    /// Where `shm_iceoryx2.md` goes.
    #[arg(long, default_value = "benchmarks/results")]
    out: PathBuf,
}

/// The other process of a case (started by this program).
#[derive(Debug, Subcommand)]
enum ChildCommand {
    #[command(hide = true)]
    Child {
        socket: PathBuf,
        address: String,
        #[arg(long)]
        cpu: usize,
        #[arg(long)]
        mechanism: Mechanism,
        #[arg(long)]
        waiting: Waiting,
        #[arg(long)]
        workload: Workload,
        #[arg(long)]
        size: usize,
        #[arg(long)]
        count: u64,
    },
}

/// The small and the large message.
const SMALL: usize = 64;
const LARGE: usize = 1 << 20;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match &cli.child {
        Some(ChildCommand::Child {
            socket,
            address,
            cpu,
            mechanism,
            waiting,
            workload,
            size,
            count,
        }) => case::child(
            socket,
            address,
            Case {
                mechanism: *mechanism,
                waiting: *waiting,
                workload: *workload,
                size: *size,
                count: *count,
                cpus: (*cpu, *cpu),
            },
        ),
        None => run(&cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("shm_iceoryx2: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The counts a run uses: the command line's, or the smoke run's.
struct Counts {
    runs: usize,
    round_trips: u64,
    messages: u64,
    large_messages: u64,
    idle: Duration,
}

impl Counts {
    fn of(cli: &Cli) -> Result<Counts> {
        if cli.smoke {
            return Ok(Counts {
                runs: 1,
                round_trips: 2_000,
                messages: 5_000,
                large_messages: 20,
                idle: Duration::from_millis(500),
            });
        }
        if cli.runs == 0 || cli.round_trips == 0 || cli.messages == 0 || cli.large_messages == 0 {
            bail!("--runs, --round-trips, --messages and --large-messages must be at least 1");
        }
        if !(0.3..=600.0).contains(&cli.idle_secs) {
            bail!(
                "--idle-secs must be between 0.3 and 600 (it is {})",
                cli.idle_secs
            );
        }
        Ok(Counts {
            runs: cli.runs,
            round_trips: cli.round_trips,
            messages: cli.messages,
            large_messages: cli.large_messages,
            idle: Duration::from_secs_f64(cli.idle_secs),
        })
    }
}

fn run(cli: &Cli) -> Result<()> {
    let counts = Counts::of(cli)?;
    let cpus = allowed_cpus().context("reading this process's CPUs")?;
    let [a, b, ..] = cpus[..] else {
        bail!("needs two CPUs to measure across CPUs; this process may use {cpus:?}");
    };
    let mut machine = Machine::detect(cpus.clone());
    pin_thread(a).context("pinning the benchmark's main thread")?;
    let exe = std::env::current_exe().context("finding this executable")?;
    // Cleans up after iceoryx2 nodes of an earlier run that died, and of this run's children.
    let _cleaner = iceoryx2::CleanDeadNodes(iceoryx2::node()?);

    let mut results = Results::default();
    for run in 0..counts.runs {
        eprintln!("shm_iceoryx2: run {} of {}", run + 1, counts.runs);
        for (series, child_cpu) in [(Series::CrossCpu, b), (Series::SameCpu, a)] {
            let mut rings = [0.0; 2];
            let mut iceoryx2_event = 0.0;
            for waiting in [Waiting::BusyPoll, Waiting::Event] {
                let cases = [
                    (Workload::RoundTrip, SMALL, counts.round_trips),
                    (Workload::OneWay, SMALL, counts.messages),
                    (Workload::OneWay, LARGE, counts.large_messages),
                ];
                for (workload, size, count) in cases {
                    let measure = |mechanism| -> Result<Figure> {
                        let case = Case {
                            mechanism,
                            waiting,
                            workload,
                            size,
                            count,
                            cpus: (a, child_cpu),
                        };
                        let outcome = case::run(case, &exe).with_context(|| {
                            format!(
                                "{mechanism:?} {} {} {size} B {workload:?}",
                                series.label(),
                                waiting.label()
                            )
                        })?;
                        Ok(match outcome {
                            Outcome::Latency(summary) => Figure::latency(&summary),
                            Outcome::Rate(rate) => Figure::Rate(rate),
                        })
                    };
                    let pair = (measure(Mechanism::Ring)?, measure(Mechanism::Iceoryx2)?);
                    if workload == Workload::RoundTrip {
                        if let Figure::Latency { p50, .. } = pair.0 {
                            rings[(waiting == Waiting::BusyPoll) as usize] = p50;
                        }
                        if let (Waiting::Event, Figure::Latency { p50, .. }) = (waiting, pair.1) {
                            iceoryx2_event = p50;
                        }
                    }
                    record(&mut results, series, waiting, workload, size, pair);
                }
            }
            let floor = case::run(
                Case {
                    mechanism: Mechanism::Futex,
                    waiting: Waiting::Event,
                    workload: Workload::RoundTrip,
                    size: SMALL,
                    count: counts.round_trips,
                    cpus: (a, child_cpu),
                },
                &exe,
            )
            .with_context(|| format!("the futex floor {}", series.label()))?;
            let Outcome::Latency(floor) = floor else {
                bail!("the futex floor measured no round trips");
            };
            let run = FloorRun {
                p50: floor.p50_ns as f64 / 1e3,
                p99: floor.p99_ns as f64 / 1e3,
                ring_event: rings[0],
                ring_busy_poll: rings[1],
                iceoryx2_event,
            };
            match results.floors.iter_mut().find(|f| f.series == series) {
                Some(existing) => existing.runs.push(run),
                None => results.floors.push(Floor {
                    series,
                    runs: vec![run],
                }),
            }
        }
        let ring_idle = idle::ring_receiver(counts.idle).context("the idle ring receiver")?;
        let address = format!("shm-iox-{}-idle-{run}", std::process::id());
        let iox_idle =
            idle::iceoryx2_receiver(counts.idle, &address).context("the idle iceoryx2 receiver")?;
        results.idle.push((ring_idle, iox_idle));
    }

    machine.load_at_end = load_average();
    let command = command_line();
    let report = results.markdown(&machine, &command, !cli.smoke);
    println!("{report}");
    write_report(&cli.out, &report)
}

fn record(
    results: &mut Results,
    series: Series,
    waiting: Waiting,
    workload: Workload,
    size: usize,
    pair: (Figure, Figure),
) {
    let found = results.rows.iter_mut().find(|r| {
        r.series == series && r.waiting == waiting && r.workload == workload && r.size == size
    });
    match found {
        Some(row) => row.runs.push(pair),
        None => results.rows.push(Row {
            series,
            waiting,
            workload,
            size,
            runs: vec![pair],
        }),
    }
}

/// How this run was started, for the report.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        "shm_iceoryx2".to_owned()
    } else {
        format!("shm_iceoryx2 {}", args.join(" "))
    }
}

fn write_report(dir: &Path, report: &str) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("shm_iceoryx2.md");
    std::fs::write(&path, report).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("shm_iceoryx2: wrote {}", path.display());
    Ok(())
}

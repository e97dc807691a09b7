//! `compare`: runs postbox and its peers through the same workloads between pinned processes, and
//! writes `results.md`, `results.json`, `latency.svg` and `throughput.svg`.
//!
//! Exit status: 0 when every case that ran measured cleanly, 1 when a case failed (its results
//! are still written, the failure named in them) or the comparison could not run, 2 for a usage
//! error.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

use postbox_benchmarks::cpu::allowed_cpus;
use postbox_benchmarks::harness::{Measurement, ROLE_SUBCOMMAND, RoleArgs, Runner, run_child};
use postbox_benchmarks::mechanism::{Case, Mechanism};
use postbox_benchmarks::peers::postbox::{
    DaemonArgs, EXEC_DAEMON_SUBCOMMAND, exec_daemon, serve_daemon,
};
use postbox_benchmarks::peers::{self, buffering::QUEUE_BYTES, postbox::DAEMON_SUBCOMMAND};
use postbox_benchmarks::plan::{
    Counts, CpuPair, FULL_SIZES, SMOKE_SIZES, Series, WorkloadKind, format_size, parse_size,
};
use postbox_benchmarks::report::{self, CaseRecord, Machine, Outcome, Results, Settings};

/// Compares postbox with pipes, sockets, crossbeam (and whatever else is registered) between
/// real processes pinned to CPUs.
#[derive(Debug, Parser)]
#[command(name = "compare", args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    helper: Option<Helper>,
    #[command(flatten)]
    run: RunArgs,
}

/// The processes the comparison starts of itself.
#[derive(Debug, Subcommand)]
enum Helper {
    /// Plays roles of one run (started by the harness).
    #[command(name = ROLE_SUBCOMMAND, hide = true)]
    Role(RoleArgs),
    /// Runs a postbox daemon (started by the postbox mechanisms).
    #[command(name = DAEMON_SUBCOMMAND, hide = true)]
    Daemon(DaemonArgs),
    /// Becomes a `postbox daemon` that dies with the harness (started by `postbox node link`).
    #[command(name = EXEC_DAEMON_SUBCOMMAND, hide = true)]
    ExecDaemon {
        /// The daemon and its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<OsString>,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Only these mechanisms: comma-separated names, or parts of names (`postbox` picks every
    /// postbox mechanism: the three transports, `postbox unix:// call` and `postbox node link`).
    /// See --list.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Message sizes, comma-separated: 64, 4K, 64K, 1M … [default: 64,4K,64K,1M; smoke: 64,64K]
    #[arg(long, value_delimiter = ',', value_parser = parse_size)]
    sizes: Vec<usize>,
    /// Workloads, comma-separated: ping-pong, throughput, fan-in, competing [default: all]
    #[arg(long, value_delimiter = ',', value_parser = parse_workload)]
    workloads: Vec<WorkloadKind>,
    /// Series, comma-separated: cross-CPU, same-CPU [default: both]
    #[arg(long, value_delimiter = ',', value_parser = parse_series)]
    series: Vec<Series>,
    /// Repetitions of each case [default: 3; smoke: 1]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    repetitions: Option<u64>,
    /// Tiny counts, one repetition, sizes 64 B and 64 KiB: checks everything works (CI).
    #[arg(long)]
    smoke: bool,
    /// Timed round trips per ping-pong run [default: 20000; smoke: 300]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    round_trips: Option<u64>,
    /// Untimed warm-up round trips before them [default: 1000; smoke: 30]
    #[arg(long)]
    warmup: Option<u64>,
    /// Milliseconds each producer of a throughput run sends for [default: 300; smoke: 20]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    window_ms: Option<u64>,
    /// Where to write the results [default: benchmarks/results]
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seconds one run may take after its roles are ready before it counts as hung.
    #[arg(long, default_value_t = 300)]
    run_timeout: u64,
    /// List the mechanisms and exit.
    #[arg(long)]
    list: bool,
}

fn parse_workload(text: &str) -> Result<WorkloadKind, String> {
    WorkloadKind::parse(text).ok_or_else(|| {
        format!("unknown workload {text:?}: expected ping-pong, throughput, fan-in or competing")
    })
}

fn parse_series(text: &str) -> Result<Series, String> {
    Series::ALL
        .into_iter()
        .find(|s| s.label().eq_ignore_ascii_case(text))
        .ok_or_else(|| format!("unknown series {text:?}: expected cross-CPU or same-CPU"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.helper {
        Some(Helper::Role(args)) => run_child(&args, &peers::all()),
        Some(Helper::ExecDaemon { command }) => exec_daemon(&command),
        Some(Helper::Daemon(args)) => match serve_daemon(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("compare daemon: error: {e:#}");
                ExitCode::FAILURE
            }
        },
        None => match compare(&cli.run) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("compare: error: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// The mechanisms `only` names (all when empty), in registry order.
fn select(all: Vec<Box<dyn Mechanism>>, only: &[String]) -> Result<Vec<Box<dyn Mechanism>>> {
    if only.is_empty() {
        return Ok(all);
    }
    let names: Vec<String> = all.iter().map(|m| m.name()).collect();
    let mut wanted = vec![false; all.len()];
    for pattern in only {
        let pattern = pattern.trim().to_ascii_lowercase();
        let exact: Vec<usize> = (0..names.len())
            .filter(|&i| names[i].to_ascii_lowercase() == pattern)
            .collect();
        let matches = if exact.is_empty() {
            (0..names.len())
                .filter(|&i| names[i].to_ascii_lowercase().contains(&pattern))
                .collect()
        } else {
            exact
        };
        if matches.is_empty() {
            bail!(
                "no mechanism matches {pattern:?}; there are: {}",
                names.join(", ")
            );
        }
        for i in matches {
            wanted[i] = true;
        }
    }
    Ok(all
        .into_iter()
        .zip(wanted)
        .filter_map(|(m, keep)| keep.then_some(m))
        .collect())
}

/// One line about a measurement, for the progress log.
fn describe(measurement: &Measurement) -> String {
    match measurement {
        Measurement::Latency(l) => format!(
            "p50 {} µs, p99 {} µs, p99.9 {} µs",
            report::sig3(l.p50_ns as f64 / 1e3),
            report::sig3(l.p99_ns as f64 / 1e3),
            report::sig3(l.p999_ns as f64 / 1e3)
        ),
        Measurement::Throughput(t) => format!(
            "{} msg/s, {} MB/s ({} messages in {} s)",
            report::rate(t.messages_per_s),
            report::sig3(t.megabytes_per_s),
            t.messages,
            report::sig3(t.seconds)
        ),
    }
}

/// Runs the comparison; `Ok(false)` when a case failed.
fn compare(args: &RunArgs) -> Result<bool> {
    let mechanisms = select(peers::all(), &args.only)?;
    if args.list {
        for mechanism in &mechanisms {
            println!("{}", mechanism.name());
        }
        return Ok(true);
    }
    let mut counts = if args.smoke {
        Counts::SMOKE
    } else {
        Counts::FULL
    };
    if let Some(n) = args.round_trips {
        counts.round_trips = n;
    }
    if let Some(n) = args.warmup {
        counts.warmup = n;
    }
    if let Some(ms) = args.window_ms {
        counts.window_ms = ms;
    }
    let repetitions = match args.repetitions {
        Some(n) => usize::try_from(n).context("too many repetitions")?,
        None if args.smoke => 1,
        None => 3,
    };
    let sizes: Vec<usize> = match (&args.sizes[..], args.smoke) {
        ([], true) => SMOKE_SIZES.to_vec(),
        ([], false) => FULL_SIZES.to_vec(),
        (sizes, _) => sizes.to_vec(),
    };
    let workloads = if args.workloads.is_empty() {
        WorkloadKind::ALL.to_vec()
    } else {
        args.workloads.clone()
    };
    let mut series = if args.series.is_empty() {
        Series::ALL.to_vec()
    } else {
        args.series.clone()
    };

    let allowed = allowed_cpus().context("cannot read this process's CPU affinity")?;
    let Some(&first) = allowed.first() else {
        bail!("this process may run on no CPU at all");
    };
    let mut note = None;
    let second = match allowed.get(1) {
        Some(&second) => second,
        None => {
            series.retain(|&s| s == Series::SameCpu);
            if series.is_empty() {
                series.push(Series::SameCpu);
            }
            let text =
                format!("only one CPU ({first}) is available, so only the same-CPU series was run");
            eprintln!("compare: {text}");
            note = Some(text);
            first
        }
    };
    let cpus = CpuPair { first, second };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("results"));
    let runner = Runner {
        exe: std::env::current_exe().context("cannot find this program's own executable")?,
        cpus,
        allowed: allowed.clone(),
        ready_timeout: Duration::from_secs(30),
        run_timeout: Duration::from_secs(args.run_timeout),
    };
    let scratch = tempfile::Builder::new()
        .prefix("pbc-")
        .tempdir()
        .context("cannot create a scratch directory")?;

    let mut results = Results {
        machine: Machine::detect(allowed),
        settings: Settings {
            smoke: args.smoke,
            repetitions,
            counts,
            mechanisms: mechanisms.iter().map(|m| m.name()).collect(),
            series: series.clone(),
            workloads: workloads.clone(),
            sizes: sizes.clone(),
            cpus,
            note,
            helper_placement: format!(
                "the postbox daemon runs unpinned in the cross-CPU series (where the kernel \
                 puts it, as in production) and on CPU {first} with every role in the same-CPU \
                 series"
            ),
            buffering: format!(
                "crossbeam channels and postbox mailboxes hold {} KiB worth of messages (at \
                 least 4, at most 256); pipes and sockets keep the kernel's default buffers, \
                 except that seqpacket's send buffer is raised to fit 4 messages where the \
                 kernel allows",
                QUEUE_BYTES >> 10
            ),
        },
        cases: Vec::new(),
        targets: Vec::new(),
    };
    // Every case, with the mechanism's own verdict on whether it can run.
    let mut plan: Vec<(usize, Case, Series)> = Vec::new();
    for &s in &series {
        for &workload in &workloads {
            for &size in &sizes {
                for (index, mechanism) in mechanisms.iter().enumerate() {
                    let case = Case {
                        workload: workload.workload(),
                        size,
                    };
                    let outcome = match mechanism.unsupported(&case) {
                        Some(reason) => Outcome::Unsupported { reason },
                        None => Outcome::pending(),
                    };
                    results.cases.push(CaseRecord {
                        mechanism: mechanism.name(),
                        workload,
                        series: s,
                        size,
                        outcome,
                    });
                    plan.push((index, case, s));
                }
            }
        }
    }
    let runnable = results
        .cases
        .iter()
        .filter(|c| c.outcome.runnable())
        .count();
    let total = runnable * repetitions;
    eprintln!(
        "compare: {} mechanism(s), {runnable} case(s) × {repetitions} repetition(s) = {total} runs; \
         roles on CPUs {first} and {second}; results into {}",
        mechanisms.len(),
        out.display()
    );

    let started = Instant::now();
    let mut done = 0;
    for repetition in 1..=repetitions {
        let repetition_started = Instant::now();
        // Repetitions are interleaved (every case once, then again), so that a change in the
        // machine's load affects every mechanism alike rather than one mechanism's cases.
        for (slot, (index, case, s)) in plan.iter().enumerate() {
            if !results.cases[slot].outcome.runnable() {
                continue;
            }
            done += 1;
            let mechanism = mechanisms[*index].as_ref();
            let label = format!(
                "{} · {} · {s} · {}",
                mechanism.name(),
                WorkloadKind::of(case.workload),
                format_size(case.size)
            );
            let dir = scratch.path().join(format!("run-{done}"));
            std::fs::create_dir(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let measured = runner.run(mechanism, case, *s, counts.for_case(case), &dir);
            let _ = std::fs::remove_dir_all(&dir);
            let outcome = &mut results.cases[slot].outcome;
            match measured {
                Ok(measurement) => {
                    eprintln!(
                        "[{done:>4}/{total}] rep {repetition} · {label}: {}",
                        describe(&measurement)
                    );
                    outcome.push(measurement);
                }
                Err(e) => {
                    let error = format!("{e:#}");
                    eprintln!("[{done:>4}/{total}] rep {repetition} · {label}: FAILED: {error}");
                    outcome.fail(error);
                }
            }
        }
        results.machine.load_at_end = report::load_average();
        report::write(&mut results, &out).map_err(anyhow::Error::msg)?;
        if repetition < repetitions {
            let took = repetition_started.elapsed().as_secs();
            let left = took * (repetitions - repetition) as u64;
            eprintln!(
                "compare: repetition {repetition} of {repetitions} took {}m{:02}s; about \
                 {}m{:02}s to go (results so far are written)",
                took / 60,
                took % 60,
                left / 60,
                left % 60
            );
        }
    }

    let failures: Vec<&CaseRecord> = results
        .cases
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Failed { .. }))
        .collect();
    eprintln!(
        "compare: {total} runs in {:.1} s; {}; results in {}",
        started.elapsed().as_secs_f64(),
        report::tally(&results.targets),
        out.display()
    );
    for name in [
        "results.md",
        "results.json",
        "latency.svg",
        "throughput.svg",
    ] {
        let path = out.join(name);
        if path.exists() {
            println!("{}", path.display());
        }
    }
    if !failures.is_empty() {
        eprintln!("compare: {} case(s) FAILED:", failures.len());
        for case in &failures {
            if let Outcome::Failed { error, .. } = &case.outcome {
                eprintln!(
                    "  {} · {} · {} · {}: {error}",
                    case.mechanism,
                    case.workload,
                    case.series,
                    format_size(case.size)
                );
            }
        }
    }
    Ok(failures.is_empty())
}

//! The daemon scale benchmark: how much memory the postbox daemon needs to hold many idle clients
//! and many empty mailboxes. The target: 10,000 idle clients and 100,000 empty mailboxes in at
//! most 1 GiB.
//!
//! ```sh
//! cargo run --release -p postbox-benchmarks --bin scale                 # 10,000 clients, 100,000 mailboxes
//! cargo run --release -p postbox-benchmarks --bin scale -- --smoke      # 200 and 2,000, for CI
//! cargo run --release -p postbox-benchmarks --bin scale -- --clients 5000 --mailboxes 0 --out /tmp/r
//! ```
//!
//! The run:
//!
//! 1. raises the open-file limit (soft to hard, and the hard limit too when allowed), scaling
//!    the clients down — and saying so — if it stays too low;
//! 2. starts the daemon as a child process of this same executable (a hidden subcommand running
//!    `postbox_daemon` on a socket in a private temporary directory, its limits raised), which
//!    is killed on every exit path;
//! 3. measures the idle daemon, then connects idle clients in two steps (a tenth, then all) —
//!    each completes the real handshake and then sends nothing — then creates empty mailboxes
//!    in two steps on one more connection, measuring the daemon's `VmRSS` and `VmHWM` after
//!    each step;
//! 4. checks that the daemon still works: it counts every process and mailbox, every idle client
//!    answers a request, a new connection sends and receives a message, and `SIGTERM` with every
//!    client connected ends it with status 0. A failed check fails the run;
//! 5. writes `scale.md` and `scale.json` to `--out` (default `benchmarks/results/`) and prints a
//!    summary.

#[path = "scale/client.rs"]
mod client;
#[path = "scale/daemon.rs"]
mod daemon;
#[path = "scale/nofile.rs"]
mod nofile;
#[path = "scale/procfs.rs"]
mod procfs;
#[path = "scale/report.rs"]
mod report;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, ensure};
use clap::{Parser, Subcommand};
use postbox_core::MailboxAttrs;

use crate::client::{Conn, mailbox_name};
use crate::daemon::DaemonProcess;
use crate::procfs::Machine;
use crate::report::{Derived, Report, Step, StepKind, Target, Verification};

/// Idle clients in a full run.
const DEFAULT_CLIENTS: usize = 10_000;
/// Empty mailboxes in a full run.
const DEFAULT_MAILBOXES: usize = 100_000;
/// Idle clients in a `--smoke` run.
const SMOKE_CLIENTS: usize = 200;
/// Empty mailboxes in a `--smoke` run.
const SMOKE_MAILBOXES: usize = 2_000;
/// Connections and mailboxes the daemon allows beyond the benchmark's own: the control and
/// checking connections, the checking mailbox.
const SPARE: usize = 16;

/// Measures the postbox daemon's memory with many idle clients and empty mailboxes.
#[derive(Parser, Debug)]
#[command(name = "scale", args_conflicts_with_subcommands = true)]
struct Cli {
    /// The daemon under test (started by the benchmark itself).
    #[command(subcommand)]
    command: Option<Command>,
    /// Idle clients to connect [default: 10000, or 200 with --smoke].
    #[arg(long)]
    clients: Option<usize>,
    /// Empty mailboxes to create [default: 100000, or 2000 with --smoke].
    #[arg(long)]
    mailboxes: Option<usize>,
    /// Where to write scale.md and scale.json [default: benchmarks/results/].
    #[arg(long)]
    out: Option<PathBuf>,
    /// A quick run for CI: 200 clients and 2,000 mailboxes unless told otherwise.
    #[arg(long)]
    smoke: bool,
}

/// The hidden subcommand.
#[derive(Subcommand, Debug)]
enum Command {
    /// Runs the daemon under test.
    #[command(name = daemon::CHILD_COMMAND, hide = true)]
    DaemonChild(daemon::ChildArgs),
}

/// A run's settings.
#[derive(Debug)]
struct Options {
    clients: usize,
    mailboxes: usize,
    out: PathBuf,
    smoke: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::DaemonChild(args)) => daemon::serve_child(args),
        None => {
            let (clients, mailboxes) = if cli.smoke {
                (SMOKE_CLIENTS, SMOKE_MAILBOXES)
            } else {
                (DEFAULT_CLIENTS, DEFAULT_MAILBOXES)
            };
            bench(&Options {
                clients: cli.clients.unwrap_or(clients),
                mailboxes: cli.mailboxes.unwrap_or(mailboxes),
                out: cli
                    .out
                    .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results")),
                smoke: cli.smoke,
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("scale: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the benchmark and writes its report.
fn bench(options: &Options) -> Result<()> {
    let report = measure(options)?;
    let out = &options.out;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let md = out.join("scale.md");
    std::fs::write(&md, report.markdown()).with_context(|| format!("writing {}", md.display()))?;
    let json = out.join("scale.json");
    let text = serde_json::to_string_pretty(&report).context("encoding the report")?;
    std::fs::write(&json, text + "\n").with_context(|| format!("writing {}", json.display()))?;
    print!("{}", report.summary());
    println!(
        "wrote {} and {} (the run took {})",
        md.display(),
        json.display(),
        report::millis(report.total_s * 1e3)
    );
    Ok(())
}

/// The counts a series of steps reaches: a tenth of `total`, then `total` (fewer when small).
fn plan(total: usize) -> Vec<usize> {
    let tenth = total / 10;
    let mut steps = Vec::with_capacity(2);
    if tenth > 0 && tenth < total {
        steps.push(tenth);
    }
    if total > 0 {
        steps.push(total);
    }
    steps
}

/// Runs the daemon, measures it step by step, and checks it still works.
fn measure(options: &Options) -> Result<Report> {
    let started = Instant::now();
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let wanted = u64::try_from(options.clients)
        .unwrap_or(u64::MAX)
        .saturating_add(nofile::RESERVED_FDS);
    let nofile = nofile::raise(wanted)?;
    // The daemon needs room for the benchmark's own connections too.
    let room = usize::try_from(nofile.client_room())
        .unwrap_or(usize::MAX)
        .saturating_sub(SPARE);
    let clients = options.clients.min(room);
    if clients < options.clients {
        eprintln!(
            "scale: the open-file limit is {} (hard {}) and cannot be raised: scaling down from \
             {} to {clients} clients",
            nofile.soft, nofile.hard, options.clients
        );
    }
    let mailboxes = options.mailboxes;
    let max_connections = clients + SPARE;
    let max_mailboxes = mailboxes + SPARE;

    let mut daemon = DaemonProcess::start(max_connections, max_mailboxes)?;
    let daemon_nofile = daemon.nofile()?;
    let mut steps = Vec::new();
    let mut record = |kind, clients, mailboxes, took: Instant, daemon: &mut DaemonProcess| {
        let took_ms = took.elapsed().as_secs_f64() * 1e3;
        let memory = daemon.memory().context("measuring the daemon")?;
        eprintln!(
            "scale: {clients:>6} clients {mailboxes:>7} mailboxes  VmRSS {:>7.1} MiB  VmHWM {:>7.1} MiB  ({took_ms:.0} ms)",
            memory.vm_rss_kib as f64 / 1024.0,
            memory.vm_hwm_kib as f64 / 1024.0,
        );
        steps.push(Step {
            kind,
            clients,
            mailboxes,
            memory,
            took_ms,
        });
        anyhow::Ok(())
    };
    record(StepKind::Idle, 0, 0, Instant::now(), &mut daemon)?;

    let mut conns = Vec::with_capacity(clients);
    for target in plan(clients) {
        let start = Instant::now();
        client::open_many(daemon.socket(), target - conns.len(), &mut conns)
            .with_context(|| format!("connecting {target} idle clients"))?;
        record(StepKind::Clients, target, 0, start, &mut daemon)?;
    }

    let mut control = Conn::open(daemon.socket()).context("opening the control connection")?;
    let mut made = 0;
    for target in plan(mailboxes) {
        let start = Instant::now();
        control
            .create_mailboxes(made..target, MailboxAttrs::system_owned())
            .with_context(|| format!("creating mailboxes {made} to {target}"))?;
        made = target;
        record(StepKind::Mailboxes, clients, target, start, &mut daemon)?;
    }

    // Is it still working?
    let stats = control
        .node_stats()
        .context("asking for the daemon's counts")?;
    ensure!(
        stats.processes == clients + 1 && stats.mailboxes == mailboxes,
        "the daemon counts {} processes and {} mailboxes, not {} and {mailboxes}",
        stats.processes,
        stats.mailboxes,
        clients + 1
    );
    let start = Instant::now();
    client::ping_all(&mut conns).context("asking every idle client's connection a question")?;
    let clients_answered_ms = start.elapsed().as_secs_f64() * 1e3;
    record(StepKind::Touched, clients, mailboxes, start, &mut daemon)?;

    let mut checker = Conn::open(daemon.socket()).context("opening a checking connection")?;
    let payload = b"scale: still answering";
    let back = checker
        .round_trip("scale/check", payload)
        .context("sending and receiving a message")?;
    ensure!(
        back == payload,
        "a message came back as {:?}",
        String::from_utf8_lossy(&back)
    );
    if let Some(last) = mailboxes.checked_sub(1) {
        let name = mailbox_name(last);
        let id = checker
            .open_mailbox(&name)
            .with_context(|| format!("opening {name}"))?;
        let queued = checker
            .queued(id)
            .with_context(|| format!("stat of {name}"))?;
        ensure!(queued == 0, "{name} has {queued} messages, not 0");
    }
    let stopped = daemon.stop()?;
    ensure!(
        stopped.exit_code == Some(0),
        "the daemon ended with {:?} after SIGTERM, not status 0",
        stopped.exit_code
    );
    drop((conns, control, checker));

    let derived = Derived::from_steps(&steps);
    let target = Target::judge(&steps, &derived);
    Ok(Report {
        clients_requested: options.clients,
        clients,
        mailboxes,
        smoke: options.smoke,
        started_unix,
        machine: Machine::probe(),
        nofile,
        daemon_nofile,
        max_connections,
        max_mailboxes,
        steps,
        derived,
        target,
        verification: Verification {
            processes: stats.processes,
            mailboxes: stats.mailboxes,
            clients_answered: clients,
            clients_answered_ms,
            round_trip: true,
            last_mailbox_empty: true,
            stopped,
        },
        total_s: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_go_to_a_tenth_then_all() {
        assert_eq!(plan(10_000), [1_000, 10_000]);
        assert_eq!(plan(100_000), [10_000, 100_000]);
        assert_eq!(plan(200), [20, 200]);
        assert_eq!(plan(5), [5]);
        assert!(plan(0).is_empty());
    }

    #[test]
    fn the_command_line_parses_with_and_without_the_hidden_subcommand() {
        let cli = Cli::try_parse_from(["scale", "--smoke", "--clients", "7"]).unwrap();
        assert!(cli.smoke && cli.command.is_none());
        assert_eq!((cli.clients, cli.mailboxes), (Some(7), None));
        let child = Cli::try_parse_from([
            "scale",
            daemon::CHILD_COMMAND,
            "--socket",
            "/tmp/x.sock",
            "--max-connections",
            "10",
            "--max-mailboxes",
            "20",
            "--parent",
            "1",
        ])
        .unwrap();
        assert!(matches!(child.command, Some(Command::DaemonChild(_))));
    }
}

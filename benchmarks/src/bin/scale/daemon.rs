//! The daemon under test, in a child process of its own: the hidden subcommand that runs it, and
//! the handle through which the benchmark starts, measures and stops it.
//!
//! The child is this same executable, run as `scale daemon-child ...`: it raises its open-file
//! limit, binds the socket, prints [`READY`] on its standard output and serves — exactly what
//! `postbox_daemon::run` does (same runtime, same signal handling), plus the readiness line, so
//! the benchmark waits for a line rather than polling for the socket.

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use postbox_daemon::{Daemon, DaemonConfig, termination_signal};
use serde::Serialize;
use tempfile::TempDir;

use crate::nofile::{self, RESERVED_FDS};
use crate::procfs::{self, MemSample};

/// The hidden subcommand that runs the daemon.
pub(crate) const CHILD_COMMAND: &str = "daemon-child";

/// What the child prints once its socket accepts connections.
const READY: &str = "postbox-scale-daemon-ready";

/// How long the daemon has to bind its socket.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the daemon has to exit after `SIGTERM` (it gives its connections at most 1 s to
/// flush and 3 s to close).
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a stopping daemon is checked on while waiting for it to exit.
const STOP_POLL: Duration = Duration::from_millis(5);

/// The arguments of the hidden subcommand.
#[derive(clap::Args, Debug)]
pub(crate) struct ChildArgs {
    /// The socket to listen on.
    #[arg(long)]
    socket: PathBuf,
    /// The connection limit.
    #[arg(long)]
    max_connections: usize,
    /// The mailbox limit (per uid; the benchmark creates them all as one user).
    #[arg(long)]
    max_mailboxes: usize,
    /// The benchmark's process id: the child exits if that process is gone.
    #[arg(long)]
    parent: i32,
}

/// Runs the daemon until `SIGTERM` or `SIGINT` (the hidden subcommand).
pub(crate) fn serve_child(args: ChildArgs) -> Result<()> {
    // Dies with the benchmark, even if the benchmark is killed and cannot clean up.
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).context("setting the parent-death signal")?;
    if nix::unistd::getppid().as_raw() != args.parent {
        bail!("the benchmark that started this daemon is gone");
    }
    let wanted = u64::try_from(args.max_connections)
        .unwrap_or(u64::MAX)
        .saturating_add(RESERVED_FDS);
    let limit = nofile::raise(wanted)?;
    if limit.soft < wanted {
        eprintln!(
            "scale daemon: open-file limit {} is below the {wanted} needed for {} connections",
            limit.soft, args.max_connections
        );
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let mut config = DaemonConfig::new().with_socket_path(&args.socket);
    config.max_connections = args.max_connections;
    config.limits.max_mailboxes_per_uid = args.max_mailboxes;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("postbox-daemon")
        .build()
        .context("building the daemon's runtime")?;
    runtime.block_on(async {
        let shutdown = termination_signal().context("installing the signal handlers")?;
        let daemon = Daemon::bind(config).context("binding the daemon's socket")?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{READY}")
            .and_then(|()| stdout.flush())
            .context("telling the benchmark the daemon is ready")?;
        drop(stdout);
        daemon.serve(shutdown).await.context("serving")
    })
}

/// How the daemon ended when asked to stop.
#[derive(Clone, Copy, PartialEq, Debug, Serialize)]
pub(crate) struct Stopped {
    /// From `SIGTERM` to its exit, in milliseconds.
    pub(crate) took_ms: f64,
    /// Its exit status (`None` if a signal ended it).
    pub(crate) exit_code: Option<i32>,
}

/// The daemon's child process. Dropping it kills the child (on every exit path, errors and
/// panics included) and removes its socket's directory.
#[derive(Debug)]
pub(crate) struct DaemonProcess {
    child: Child,
    socket: PathBuf,
    // Dropped after `drop` has killed the child.
    _dir: TempDir,
}

impl DaemonProcess {
    /// Starts a daemon allowing `max_connections` connections and `max_mailboxes` mailboxes, on a
    /// socket in a new private temporary directory, and waits until it accepts connections.
    pub(crate) fn start(max_connections: usize, max_mailboxes: usize) -> Result<DaemonProcess> {
        let dir = tempfile::Builder::new()
            .prefix("postbox-scale-")
            .tempdir()
            .context("creating the daemon's socket directory")?;
        let socket = dir.path().join("pb.sock");
        let exe = std::env::current_exe().context("finding the benchmark's own executable")?;
        let mut child = Command::new(&exe)
            .arg(CHILD_COMMAND)
            .arg("--socket")
            .arg(&socket)
            .arg("--max-connections")
            .arg(max_connections.to_string())
            .arg("--max-mailboxes")
            .arg(max_mailboxes.to_string())
            .arg("--parent")
            .arg(std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting the daemon ({})", exe.display()))?;
        let stdout = child.stdout.take();
        // From here on the guard kills the child whatever happens.
        let mut daemon = DaemonProcess {
            child,
            socket,
            _dir: dir,
        };
        let stdout = stdout.context("the daemon's standard output was not captured")?;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("scale-daemon-ready".to_owned())
            .spawn(move || {
                let mut line = String::new();
                let read = BufReader::new(stdout).read_line(&mut line).map(|_| line);
                let _ = tx.send(read);
            })
            .context("starting the thread that waits for the daemon")?;
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(line)) if line.trim_end() == READY => Ok(daemon),
            Ok(Ok(line)) if line.is_empty() => {
                // Its standard output closed: it is exiting, so waiting for it is short.
                let status = daemon.child.wait().context("waiting for the daemon")?;
                bail!("the daemon exited before it was ready: {status}")
            }
            Ok(Ok(line)) => bail!("the daemon said {line:?} instead of that it was ready"),
            Ok(Err(error)) => Err(error).context("reading the daemon's readiness line"),
            Err(_) => bail!(
                "the daemon was not ready within {} s",
                START_TIMEOUT.as_secs()
            ),
        }
    }

    /// The daemon's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The socket it listens on.
    pub(crate) fn socket(&self) -> &Path {
        &self.socket
    }

    /// Its memory now.
    ///
    /// # Errors
    ///
    /// If it has exited (crashed), or `/proc` cannot be read.
    pub(crate) fn memory(&mut self) -> Result<MemSample> {
        if let Some(status) = self.child.try_wait().context("checking on the daemon")? {
            bail!("the daemon exited: {status}");
        }
        procfs::read_mem(self.pid())
    }

    /// Its open-file limit, as the kernel reports it: `(soft, hard)`, `None` for unlimited.
    pub(crate) fn nofile(&self) -> Result<(Option<u64>, Option<u64>)> {
        procfs::read_nofile(self.pid())
    }

    /// Sends it `SIGTERM` and waits (at most [`STOP_TIMEOUT`]) for it to exit.
    pub(crate) fn stop(&mut self) -> Result<Stopped> {
        let pid = i32::try_from(self.pid()).context("the daemon's pid is out of range")?;
        let start = Instant::now();
        kill(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM)
            .context("sending SIGTERM to the daemon")?;
        let status: ExitStatus = loop {
            if let Some(status) = self.child.try_wait().context("waiting for the daemon")? {
                break status;
            }
            if start.elapsed() > STOP_TIMEOUT {
                bail!(
                    "the daemon did not exit within {} s of SIGTERM",
                    STOP_TIMEOUT.as_secs()
                );
            }
            std::thread::sleep(STOP_POLL);
        };
        Ok(Stopped {
            took_ms: start.elapsed().as_secs_f64() * 1e3,
            exit_code: status.code(),
        })
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SIGKILL: whatever state it is in, it goes. Errors mean it is already gone.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

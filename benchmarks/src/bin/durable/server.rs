//! The servers a run starts (the postbox daemon, nats-server): each a child process with its
//! output in a log file, killed and reaped when its handle drops, and killed by the kernel if
//! the benchmark itself dies (even by `kill -9`).
//!
//! That last part works through a hidden subcommand of this executable, [`EXEC_SUBCOMMAND`]:
//! it asks for the parent-death signal ([`die_with_parent`]) and then `exec`s the server, which
//! keeps the signal (it is cleared on fork, not on exec of an ordinary binary). Servers must be
//! started from the main thread: the signal follows the thread that forked.

use std::ffi::OsString;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};

use anyhow::{Context, Result};
use postbox_benchmarks::child_process::{PARENT_ENV, die_with_parent};

/// The hidden subcommand that becomes a server.
pub(crate) const EXEC_SUBCOMMAND: &str = "exec-server";

/// A running server, killed when dropped.
#[derive(Debug)]
pub(crate) struct Server {
    label: String,
    child: Child,
    log: PathBuf,
}

impl Server {
    /// Starts `program args…` with stdout and stderr in `log`.
    ///
    /// # Errors
    ///
    /// When the log cannot be created or the program cannot be started.
    pub(crate) fn start(
        label: &str,
        program: &Path,
        args: &[OsString],
        log: &Path,
    ) -> Result<Server> {
        let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out
            .try_clone()
            .context("duplicating the log's descriptor")?;
        let exe = std::env::current_exe().context("cannot find this program's own executable")?;
        let child = Command::new(exe)
            .arg(EXEC_SUBCOMMAND)
            .arg("--")
            .arg(program)
            .args(args)
            .env(PARENT_ENV, std::process::id().to_string())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("cannot start {label} ({})", program.display()))?;
        Ok(Server {
            label: label.to_owned(),
            child,
            log: log.to_owned(),
        })
    }

    /// Its pid (the server's own: `exec` keeps it).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails, with the end of its log, if it has exited.
    ///
    /// # Errors
    ///
    /// When it has exited.
    pub(crate) fn check_running(&mut self) -> Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(self.failure(&format!("{} exited ({status})", self.label))),
            Err(e) => Err(self.failure(&format!("cannot wait for {}: {e}", self.label))),
        }
    }

    /// An error saying `what`, with the last lines of the server's log.
    pub(crate) fn failure(&self, what: &str) -> anyhow::Error {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n");
        anyhow::anyhow!("{what}; its log ({}) ends:\n{tail}", self.log.display())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The hidden subcommand: arranges to die with the benchmark, then becomes `command`.
pub(crate) fn exec_server(command: &[OsString]) -> ExitCode {
    let Some((program, args)) = command.split_first() else {
        eprintln!("durable {EXEC_SUBCOMMAND}: no program given");
        return ExitCode::from(2);
    };
    if let Err(e) = die_with_parent() {
        eprintln!("durable {EXEC_SUBCOMMAND}: {e}");
        return ExitCode::FAILURE;
    }
    let error = Command::new(program).args(args).exec();
    eprintln!(
        "durable {EXEC_SUBCOMMAND}: cannot run {}: {error}",
        Path::new(program).display()
    );
    ExitCode::FAILURE
}

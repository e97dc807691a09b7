//! A child `postbox` process of the demo: its output read line by line as it comes, bounded waits
//! for it, and SIGKILL when its handle drops, so that nothing outlives the demo.

use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// How often bounded waits look again.
pub(crate) const POLL: Duration = Duration::from_millis(1);

/// A running child process.
#[derive(Debug)]
pub(crate) struct Running {
    /// What it is, for messages: `recv jobs -n 5`.
    label: String,
    /// The process.
    child: Child,
    /// Its stdout, a line at a time.
    stdout: Receiver<String>,
    /// Its stderr, a line at a time.
    stderr: Receiver<String>,
}

/// Sends each line `from` produces on a channel, from a thread of its own, until it closes (at
/// once for no stream at all).
fn lines(from: Option<impl Read + Send + 'static>) -> Receiver<String> {
    let (send, receive) = mpsc::channel();
    let Some(from) = from else {
        return receive;
    };
    thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

impl Running {
    /// Starts `program` with `args`, writing `input` to its stdin (then closing it).
    ///
    /// # Errors
    ///
    /// When it cannot be started or fed.
    pub(crate) fn spawn(
        program: &Path,
        args: &[&str],
        input: Option<&str>,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Running> {
        let label = args.join(" ");
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {label}"))?;
        let stdin = child.stdin.take();
        let (stdout, stderr) = (lines(child.stdout.take()), lines(child.stderr.take()));
        // Built before anything else can fail, so that a failure kills the child (on drop).
        let running = Running {
            label,
            child,
            stdout,
            stderr,
        };
        if let (Some(text), Some(mut stdin)) = (input, stdin) {
            stdin
                .write_all(text.as_bytes())
                .with_context(|| format!("cannot feed {}", running.label))?;
            // Dropping stdin here closes it: the child sees the end of its input.
        }
        Ok(running)
    }

    /// The OS pid.
    pub(crate) fn os_pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line on its stderr, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// When none comes in time, or it closed its stderr first.
    pub(crate) fn stderr_line(&self, timeout: Duration) -> anyhow::Result<String> {
        self.stderr
            .recv_timeout(timeout)
            .with_context(|| format!("{} printed nothing on stderr", self.label))
    }

    /// The postbox pid it announces on stderr (`postbox: pid N, ...`).
    ///
    /// # Errors
    ///
    /// When no such line comes within `timeout`.
    pub(crate) fn announced_pid(&self, timeout: Duration) -> anyhow::Result<u64> {
        let line = self.stderr_line(timeout)?;
        line.strip_prefix("postbox: pid ")
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|digits| digits.parse().ok())
            .with_context(|| format!("{} announced no pid: {line:?}", self.label))
    }

    /// Whether it has exited.
    pub(crate) fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits at most `timeout` for it to exit; returns its status, stdout and stderr.
    ///
    /// # Errors
    ///
    /// When it is still running at the deadline (it is then killed).
    pub(crate) fn finish(mut self, timeout: Duration) -> anyhow::Result<Finished> {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if Instant::now() >= deadline {
                bail!("{} did not finish within {timeout:?}", self.label);
            }
            thread::sleep(POLL);
        };
        // The pipes close when it exits; the reader threads then end their channels.
        let drain = |lines: &Receiver<String>| -> Vec<String> {
            let mut all = Vec::new();
            while let Ok(line) = lines.recv_timeout(Duration::from_secs(5)) {
                all.push(line);
            }
            all
        };
        Ok(Finished {
            status,
            stdout: drain(&self.stdout),
            stderr: drain(&self.stderr),
        })
    }

    /// Kills it with SIGKILL, now.
    ///
    /// # Errors
    ///
    /// When the signal cannot be sent.
    pub(crate) fn kill(&mut self) -> anyhow::Result<()> {
        self.child
            .kill()
            .with_context(|| format!("cannot kill {}", self.label))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Already gone is fine: all that matters is that nothing outlives the demo.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child that has exited.
#[derive(Debug)]
pub(crate) struct Finished {
    /// How it exited.
    pub(crate) status: ExitStatus,
    /// What it printed on stdout, by line.
    pub(crate) stdout: Vec<String>,
    /// What it printed on stderr, by line.
    pub(crate) stderr: Vec<String>,
}

impl Finished {
    /// Its exit code (-1 when a signal ended it).
    pub(crate) fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }
}

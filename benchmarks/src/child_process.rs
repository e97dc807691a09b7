//! Helper processes that never outlive the harness: spawned with a line protocol on their stdin
//! and stdout, killed when their handle drops, and killed by the kernel if the harness dies.
//!
//! The harness side is [`ChildProcess`]: it spawns a command with piped stdin and stdout (stderr
//! is the harness's own, so a child's diagnostics reach the terminal), forwards each line the
//! child prints to a channel, and on drop kills the child and reaps it. The child side is
//! [`die_with_parent`], which every hidden subcommand calls first: the kernel then kills the child
//! when the harness exits, however it exits (even `kill -9`), so nothing is left running.
//!
//! Children must be spawned from the harness's main thread: the kernel's parent-death signal
//! follows the *thread* that forked the child.

use std::io::{self, BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};

use nix::sys::prctl::set_pdeathsig;
use nix::sys::signal::Signal;
use nix::unistd::getppid;

/// The environment variable that gives a child its parent's pid, so that it can tell whether the
/// parent already died before [`die_with_parent`] took effect.
pub const PARENT_ENV: &str = "POSTBOX_BENCH_PARENT";

/// What a child said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChildEvent {
    /// One line of its stdout, without the line ending.
    Line(String),
    /// Its stdout ended: it exited, or closed it.
    Closed,
}

/// A running child, killed (and reaped) when this handle drops.
#[derive(Debug)]
pub struct ChildProcess {
    label: String,
    child: Child,
    stdin: Option<ChildStdin>,
}

impl ChildProcess {
    /// Spawns `command` with piped stdin and stdout. Each line it prints is sent to `events`
    /// tagged with `id`, followed by [`ChildEvent::Closed`] when its stdout ends.
    ///
    /// # Errors
    ///
    /// When the command cannot be started, or the reader thread cannot be.
    pub fn spawn(
        mut command: Command,
        label: impl Into<String>,
        id: usize,
        events: Sender<(usize, ChildEvent)>,
    ) -> io::Result<ChildProcess> {
        let label = label.into();
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .env(PARENT_ENV, std::process::id().to_string());
        let mut child = command
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot start {label}: {e}")))?;
        let stdin = child.stdin.take();
        let mut process = ChildProcess {
            label,
            child,
            stdin,
        };
        let Some(stdout) = process.child.stdout.take() else {
            return Err(io::Error::other("the child's stdout was not piped"));
        };
        std::thread::Builder::new()
            .name(format!("child-{id}-stdout"))
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if events.send((id, ChildEvent::Line(line))).is_err() {
                        return;
                    }
                }
                let _ = events.send((id, ChildEvent::Closed));
            })?;
        Ok(process)
    }

    /// Spawns `command` alone, with a channel of its own (id 0).
    ///
    /// # Errors
    ///
    /// As [`ChildProcess::spawn`].
    pub fn spawn_alone(
        command: Command,
        label: impl Into<String>,
    ) -> io::Result<(ChildProcess, Receiver<(usize, ChildEvent)>)> {
        let (sender, receiver) = channel();
        Ok((ChildProcess::spawn(command, label, 0, sender)?, receiver))
    }

    /// What the harness calls it in messages ("consumer 2", "postbox daemon" …).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Its operating-system pid.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Writes one line to its stdin.
    ///
    /// # Errors
    ///
    /// When the child has exited (broken pipe) or its stdin was closed.
    pub fn send_line(&mut self, line: &str) -> io::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::other(format!("{}'s stdin is closed", self.label)))?;
        stdin.write_all(line.as_bytes())?;
        stdin.write_all(b"\n")?;
        stdin.flush()
    }

    /// Waits for it to exit, for a child known to be exiting (its stdout closed), and says how it
    /// ended.
    ///
    /// # Errors
    ///
    /// When it cannot be waited for.
    pub fn wait(&mut self) -> io::Result<std::process::ExitStatus> {
        self.child.wait()
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        // Already exited is fine; the aim is only that it is gone and reaped.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Called first by every helper process: asks the kernel to kill this process when the harness
/// that spawned it dies, and checks that it has not died already.
///
/// # Errors
///
/// When the signal cannot be set up, or the parent named by [`PARENT_ENV`] is already gone.
pub fn die_with_parent() -> io::Result<()> {
    set_pdeathsig(Signal::SIGKILL).map_err(io::Error::from)?;
    let expected = std::env::var(PARENT_ENV)
        .ok()
        .and_then(|v| v.parse::<i32>().ok());
    if expected.is_some_and(|pid| getppid().as_raw() != pid) {
        return Err(io::Error::other(
            "the benchmark harness exited before this helper started",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn lines_are_forwarded_then_the_end() {
        let mut command = Command::new("sh");
        command.args(["-c", "read x; echo got $x; echo bye"]);
        let (mut child, events) = ChildProcess::spawn_alone(command, "sh").unwrap();
        child.send_line("hello").unwrap();
        let next = || events.recv_timeout(Duration::from_secs(10)).unwrap().1;
        assert_eq!(next(), ChildEvent::Line("got hello".into()));
        assert_eq!(next(), ChildEvent::Line("bye".into()));
        assert_eq!(next(), ChildEvent::Closed);
    }

    #[test]
    fn dropping_the_handle_kills_the_child() {
        let mut command = Command::new("sleep");
        command.arg("1000");
        let (child, events) = ChildProcess::spawn_alone(command, "sleep").unwrap();
        let pid = child.id();
        drop(child);
        assert_eq!(
            events.recv_timeout(Duration::from_secs(10)).unwrap().1,
            ChildEvent::Closed
        );
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "killed and reaped"
        );
    }
}

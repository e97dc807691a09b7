//! `postbox demo`: a throwaway daemon, and the classic message-passing scenarios played out by
//! real processes, with a transcript.
//!
//! The demo starts `postbox daemon` (this very executable) on a socket in a fresh temporary
//! directory, waits until it accepts, and then runs each scenario with child `postbox` commands —
//! the same commands a user would type, shown as `$ postbox ...` — while this process watches the
//! daemon through the library (mailbox statistics, the process list) to know when a child is
//! really blocked. Every scenario checks its outcome, so a broken build fails the demo (exit 1)
//! instead of printing a plausible story. The daemon and every child are killed, and the directory
//! removed, when the demo ends, also on error.

mod child;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use postbox::{MailboxStats, Process};

use child::{Finished, POLL, Running};

/// How long any one step of the demo may take before the demo gives up on it.
const STEP: Duration = Duration::from_secs(10);

/// `postbox demo`.
///
/// # Errors
///
/// When the daemon does not start, or a scenario does not turn out as it must.
pub(crate) fn run() -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the postbox executable")?;
    let dir = tempfile::Builder::new()
        .prefix("postbox-demo-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let socket = dir.path().join("postbox.sock");
    let mut out = io::stdout().lock();
    let daemon = start_daemon(&exe, &socket)?;
    let url = format!("unix://{}", socket.display());
    writeln!(
        out,
        "postbox demo: a daemon of our own on {} (os pid {}).\n\
         Every command below runs as its own process, with --url {url}.",
        socket.display(),
        daemon.os_pid()
    )?;
    let observer = postbox::connect(&url).context("cannot connect to the demo daemon")?;
    let mut demo = Demo {
        exe,
        url,
        observer,
        out: &mut out,
    };
    demo.producer_consumer()?;
    demo.rendezvous()?;
    demo.typed_receive()?;
    demo.round_robin()?;
    demo.peer_death()?;
    drop(demo);
    drop(daemon);
    let shown = dir.path().display().to_string();
    dir.close()
        .with_context(|| format!("cannot remove {shown}"))?;
    writeln!(out, "\nDone: the daemon is stopped and {shown} is removed.")?;
    Ok(out.flush()?)
}

/// Starts `postbox daemon --socket SOCKET` and waits until it accepts connections.
///
/// # Errors
///
/// When it exits, or does not accept within [`STEP`]; with what it printed.
fn start_daemon(exe: &Path, socket: &Path) -> anyhow::Result<Running> {
    let path = socket.to_string_lossy();
    // Its own state directory too: the demo never touches the user's durable mailboxes.
    let state = socket.with_file_name("state");
    let state = state.to_string_lossy();
    let mut daemon = Running::spawn(
        exe,
        &["daemon", "--socket", &path, "--state-dir", &state],
        None,
        &[("RUST_LOG", "warn")],
    )?;
    let url = format!("unix://{path}");
    let deadline = Instant::now() + STEP;
    loop {
        if postbox::connect(&url).is_ok() {
            return Ok(daemon);
        }
        if daemon.has_exited() || Instant::now() >= deadline {
            let finished = daemon.finish(Duration::ZERO)?;
            bail!(
                "the demo daemon did not start (exit {}): {}",
                finished.code(),
                finished.stderr.join("\n")
            );
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// `arg` as a shell would need it typed: as it is when it is plain, else in single quotes.
fn shell_quote(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=,".contains(c);
    if !arg.is_empty() && arg.chars().all(plain) {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Polls `check` until it holds, for at most [`STEP`].
///
/// # Errors
///
/// When it does not hold in time, naming `what` was awaited; `check`'s own errors.
fn eventually(what: &str, mut check: impl FnMut() -> anyhow::Result<bool>) -> anyhow::Result<()> {
    let deadline = Instant::now() + STEP;
    while !check()? {
        if Instant::now() >= deadline {
            bail!("timed out waiting until {what}");
        }
        thread::sleep(POLL);
    }
    Ok(())
}

/// The demo's state: where the daemon is, and the transcript.
struct Demo<'a> {
    /// This executable, which every child runs.
    exe: PathBuf,
    /// The daemon's URL.
    url: String,
    /// This process's own connection, to watch the daemon.
    observer: Process,
    /// The transcript.
    out: &'a mut dyn Write,
}

impl Demo<'_> {
    /// Prints a line of the transcript.
    fn say(&mut self, line: &str) -> anyhow::Result<()> {
        writeln!(self.out, "{line}")?;
        Ok(self.out.flush()?)
    }

    /// Starts `postbox ARGS` against the demo daemon, showing the command (with `note` after it).
    fn start(&mut self, args: &[&str], input: Option<&str>, note: &str) -> anyhow::Result<Running> {
        let shown: Vec<String> = args.iter().map(|arg| shell_quote(arg)).collect();
        let shown = shown.join(" ");
        let line = match input {
            Some(text) => format!("   $ printf {text:?} | postbox {shown}"),
            None => format!("   $ postbox {shown}"),
        };
        self.say(&format!("{line}{note}"))?;
        let mut full = vec!["--url", &self.url];
        full.extend_from_slice(args);
        Running::spawn(&self.exe, &full, input, &[])
    }

    /// Runs `postbox ARGS` to completion, shows its output, and checks it exited `expected`.
    fn run(&mut self, args: &[&str], expected: i32) -> anyhow::Result<Finished> {
        let child = self.start(args, None, "")?;
        let finished = child.finish(STEP)?;
        self.show(&finished)?;
        ensure!(
            finished.code() == expected,
            "`postbox {}` exited {} instead of {expected}: {}",
            args.join(" "),
            finished.code(),
            finished.stderr.join("\n")
        );
        Ok(finished)
    }

    /// Shows a finished child's output, indented.
    fn show(&mut self, finished: &Finished) -> anyhow::Result<()> {
        for line in &finished.stdout {
            self.say(&format!("     {line}"))?;
        }
        Ok(())
    }

    /// The statistics of mailbox `name`, as the observer sees them.
    fn stats(&self, name: &str) -> anyhow::Result<MailboxStats> {
        self.observer
            .list_mailboxes()?
            .into_iter()
            .find(|stats| stats.name == name)
            .with_context(|| format!("mailbox {name} is missing"))
    }

    /// How many processes are waiting in some operation now.
    fn waiting_processes(&self) -> anyhow::Result<usize> {
        let processes = self.observer.list_processes()?;
        Ok(processes
            .iter()
            .filter(|process| process.waiting > 0)
            .count())
    }

    /// A bounded mailbox: the producer runs ahead until it is full, then waits for the consumer.
    fn producer_consumer(&mut self) -> anyhow::Result<()> {
        self.say("\n1. Producer and consumer on a bounded mailbox")?;
        self.say("   A full mailbox makes the producer wait: back-pressure, not lost messages.")?;
        self.run(&["create", "jobs", "--capacity", "2"], 0)?;
        let jobs = "job 1\njob 2\njob 3\njob 4\njob 5\n";
        let producer = self.start(
            &["send", "jobs", "--lines"],
            Some(jobs),
            "   (in the background)",
        )?;
        eventually("the producer blocks on the full mailbox", || {
            let stats = self.stats("jobs")?;
            Ok(stats.messages == 2 && stats.blocked_senders == 1)
        })?;
        self.say("   ... jobs holds 2 of 2 messages and the producer is blocked sending job 3")?;
        let consumer = self.run(&["recv", "jobs", "-n", "5"], 0)?;
        ensure!(
            consumer.stdout == ["job 1", "job 2", "job 3", "job 4", "job 5"],
            "jobs out of order"
        );
        let producer = producer.finish(STEP)?;
        ensure!(
            producer.code() == 0,
            "the producer failed: {:?}",
            producer.stderr
        );
        self.say("   The consumer got every job in order; the producer finished as room freed up.")
    }

    /// A zero-capacity mailbox: the send completes only when a receiver takes the message.
    fn rendezvous(&mut self) -> anyhow::Result<()> {
        self.say("\n2. Rendezvous")?;
        self.say("   With zero capacity nothing is buffered: sender and receiver meet.")?;
        self.run(&["create", "meet", "--capacity", "zero"], 0)?;
        let sender = self.start(
            &["send", "meet", "hello", "--receipt"],
            None,
            "   (in the background)",
        )?;
        eventually("the sender waits for a receiver", || {
            Ok(self.stats("meet")?.blocked_senders == 1)
        })?;
        self.say("   ... the sender is blocked: nobody is receiving yet")?;
        let receiver = self.run(&["recv", "meet"], 0)?;
        ensure!(
            receiver.stdout == ["hello"],
            "the rendezvous lost its message"
        );
        let sender = sender.finish(STEP)?;
        ensure!(sender.code() == 0, "the sender failed: {:?}", sender.stderr);
        let by = sender.stdout.first().map_or("?", String::as_str);
        self.say(&format!(
            "   The sender returned only then, naming its receiver: pid {by}."
        ))
    }

    /// System V typed selective receive: take messages by type, not by arrival.
    fn typed_receive(&mut self) -> anyhow::Result<()> {
        self.say("\n3. Typed selective receive")?;
        self.say("   Each message has a type; a receiver chooses which types it takes.")?;
        self.run(&["create", "tasks"], 0)?;
        self.run(&["send", "tasks", "cleanup (type 3)", "--type", "3"], 0)?;
        self.run(&["send", "tasks", "urgent (type 1)", "--type", "1"], 0)?;
        self.run(&["send", "tasks", "normal (type 2)", "--type", "2"], 0)?;
        let picks = [
            (["recv", "tasks", "--max-type", "2"], "urgent (type 1)"),
            (["recv", "tasks", "--type", "3"], "cleanup (type 3)"),
            (["recv", "tasks", "--not-type", "3"], "normal (type 2)"),
        ];
        for (args, expected) in picks {
            let got = self.run(&args, 0)?;
            ensure!(
                got.stdout == [expected],
                "selective receive took {:?}",
                got.stdout
            );
        }
        self.say(
            "   --max-type takes the lowest type up to T, --type exactly T, --not-type the rest.",
        )?;
        let empty = self.run(&["recv", "tasks", "--nowait"], 3)?;
        let reason = empty.stderr.join(" ");
        self.say(&format!("     (exit 3: {reason})"))
    }

    /// Several receivers on one mailbox, served in turn, and receipts naming who got what.
    fn round_robin(&mut self) -> anyhow::Result<()> {
        self.say("\n4. Round-robin dispatch among receivers, with receipts")?;
        self.say("   Each message goes to exactly one receiver; waiting receivers take turns.")?;
        self.run(
            &[
                "create",
                "work",
                "--capacity",
                "zero",
                "--receivers",
                "round-robin",
            ],
            0,
        )?;
        let mut workers = Vec::new();
        for name in ["worker-a", "worker-b", "worker-c"] {
            let worker = self.start(
                &["recv", "work", "-n", "2", "--as", name],
                None,
                "   (in the background)",
            )?;
            let pid = worker.announced_pid(STEP)?;
            workers.push((name, pid, worker));
        }
        eventually("three receivers wait on work", || {
            Ok(self.stats("work")?.blocked_receivers == 3)
        })?;
        let shown: Vec<String> = workers
            .iter()
            .map(|(name, pid, _)| format!("{name} = pid {pid}"))
            .collect();
        self.say(&format!(
            "   ... three receivers wait: {}",
            shown.join(", ")
        ))?;
        let input = "job 1\njob 2\njob 3\njob 4\njob 5\njob 6\n";
        let sender = self.start(&["send", "work", "--lines", "--receipt"], Some(input), "")?;
        let sent = sender.finish(STEP)?;
        ensure!(sent.code() == 0, "the sender failed: {:?}", sent.stderr);
        for (job, receiver) in sent.stdout.iter().enumerate() {
            let name = workers
                .iter()
                .find(|(_, pid, _)| pid.to_string() == *receiver)
                .map_or("?", |(name, _, _)| *name);
            self.say(&format!("     job {} -> pid {receiver} ({name})", job + 1))?;
        }
        ensure!(
            sent.stdout.len() == 6,
            "expected six receipts, got {:?}",
            sent.stdout
        );
        for (name, _, worker) in workers {
            let finished = worker.finish(STEP)?;
            ensure!(finished.code() == 0, "{name} failed: {:?}", finished.stderr);
            self.say(&format!(
                "   {name} received: {}",
                finished.stdout.join(", ")
            ))?;
        }
        Ok(())
    }

    /// A process killed with SIGKILL while others wait on it: they are told at once.
    fn peer_death(&mut self) -> anyhow::Result<()> {
        self.say("\n5. A process killed while others wait on it")?;
        self.say("   Nobody waits forever on a dead peer: its death wakes whoever waits on it.")?;
        let mut victim = self.start(
            &["recv", "--inbox", "--as", "victim"],
            None,
            "   (in the background)",
        )?;
        let victim_pid = victim.announced_pid(STEP)?;
        let waiter = self.start(
            &["recv", "--inbox", "--from", "victim"],
            None,
            "   (in the background: waits for a message from victim)",
        )?;
        waiter.announced_pid(STEP)?;
        let monitor = self.start(&["monitor", "victim"], None, "   (in the background)")?;
        eventually("victim, the waiter and the monitor all wait", || {
            Ok(self.waiting_processes()? >= 3)
        })?;
        self.say(&format!(
            "   $ kill -9 {}   (victim, postbox pid {victim_pid})",
            victim.os_pid()
        ))?;
        let killed = Instant::now();
        victim.kill()?;
        let waiter = waiter.finish(STEP)?;
        let after = killed.elapsed();
        let reason = waiter.stderr.last().cloned().unwrap_or_default();
        self.say(&format!(
            "   the waiter exited {} after {:.1} ms: {reason}",
            waiter.code(),
            after.as_secs_f64() * 1000.0
        ))?;
        ensure!(
            waiter.code() == 7,
            "the waiter should exit 7 (gone): {:?}",
            waiter.stderr
        );
        let monitor = monitor.finish(STEP)?;
        ensure!(
            monitor.code() == 0,
            "the monitor failed: {:?}",
            monitor.stderr
        );
        let said = monitor.stdout.join(" ");
        self.say(&format!("   the monitor printed \"{said}\" and exited 0"))
    }
}

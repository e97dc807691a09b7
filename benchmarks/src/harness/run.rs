//! The harness's side of one run: prepare, start the role processes in order, say `go`,
//! collect and check the reports, and leave nothing running.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::child_process::{ChildEvent, ChildProcess};
use crate::cpu::set_thread_cpus;
use crate::mechanism::{Case, Mechanism};
use crate::plan::{Assignment, CpuPair, RunCounts, Series, assignments};

use super::child::RoleArgs;
use super::measurement::{Measurement, measure};
use super::protocol::{ChildLine, RoleResult, role_label};

/// The name of the hidden subcommand that plays roles.
pub const ROLE_SUBCOMMAND: &str = "role";

/// Runs cases, each in fresh processes of this program.
#[derive(Clone, Debug)]
pub struct Runner {
    /// The program to start for each role (this one, with [`ROLE_SUBCOMMAND`]).
    pub exe: PathBuf,
    /// The CPUs senders and receivers are pinned to.
    pub cpus: CpuPair,
    /// Every CPU the harness may use (restored after each `prepare`).
    pub allowed: Vec<usize>,
    /// How long every role may take to open.
    pub ready_timeout: Duration,
    /// How long a run may take after `go`.
    pub run_timeout: Duration,
}

/// One role process and what it still owes.
struct Child {
    process: ChildProcess,
    ready: bool,
    results: Option<Vec<RoleResult>>,
}

impl Runner {
    /// Runs `case` once over `mechanism` in `series`, moving `counts`' messages, with the run's
    /// resources under `scratch`.
    ///
    /// # Errors
    ///
    /// When preparing, starting or opening fails, a role reports an error or a failed check, a
    /// process dies or the run times out; the message names the role concerned. Every process
    /// of the run is killed before this returns.
    pub fn run(
        &self,
        mechanism: &dyn Mechanism,
        case: &Case,
        series: Series,
        counts: RunCounts,
        scratch: &Path,
    ) -> Result<Measurement> {
        let roles = assignments(case.workload, series, self.cpus);

        // Helpers that `prepare` starts (a daemon) inherit the series' placement.
        set_thread_cpus(&series.helper_cpus(self.cpus, &self.allowed))
            .context("cannot place the run's helper processes")?;
        let prepared = mechanism.prepare(case, scratch);
        set_thread_cpus(&self.allowed).context("cannot restore the harness's CPU affinity")?;
        let prepared = prepared.context("prepare failed")?;

        let groups: Vec<Vec<Assignment>> = if mechanism.threads() {
            vec![roles]
        } else {
            roles.into_iter().map(|a| vec![a]).collect()
        };
        let (events_tx, events) = channel();
        let mut children: Vec<Child> = Vec::new();
        // Listening roles first, each ready before any other role starts. (A threads mechanism
        // has one group, which orders its roles itself.)
        let listening = groups
            .iter()
            .take_while(|group| group.first().is_some_and(|a| a.role.listens()))
            .count();
        let deadline = Instant::now() + self.ready_timeout;
        for phase in [&groups[..listening], &groups[listening..]] {
            for group in phase {
                let args = RoleArgs::new(mechanism, case, &prepared.address, counts, group);
                let mut command = Command::new(&self.exe);
                command.arg(ROLE_SUBCOMMAND).args(args.to_args());
                let label = group
                    .iter()
                    .map(|a| role_label(a.role))
                    .collect::<Vec<_>>()
                    .join(", ");
                let process =
                    ChildProcess::spawn(command, label, children.len(), events_tx.clone())?;
                children.push(Child {
                    process,
                    ready: false,
                    results: None,
                });
            }
            wait_for(&events, &mut children, deadline, "open", |c| c.ready)?;
        }
        for child in &mut children {
            child
                .process
                .send_line("go")
                .with_context(|| format!("cannot tell {} to go", child.process.label()))?;
        }
        let deadline = Instant::now() + self.run_timeout;
        wait_for(&events, &mut children, deadline, "finish", |c| {
            c.results.is_some()
        })?;
        let results: Vec<RoleResult> = children
            .iter_mut()
            .flat_map(|c| c.results.take().unwrap_or_default())
            .collect();
        // Every role reported: end the processes, then the shared resources.
        drop(children);
        drop(prepared);
        Ok(measure(case, counts, &results)?)
    }
}

/// Handles the children's lines until `done` holds for every child.
fn wait_for(
    events: &Receiver<(usize, ChildEvent)>,
    children: &mut [Child],
    deadline: Instant,
    what: &str,
    done: impl Fn(&Child) -> bool,
) -> Result<()> {
    while !children.iter().all(&done) {
        let timeout = deadline.saturating_duration_since(Instant::now());
        let (id, event) = match events.recv_timeout(timeout) {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => {
                let late: Vec<&str> = children
                    .iter()
                    .filter(|c| !done(c))
                    .map(|c| c.process.label())
                    .collect();
                bail!("timed out waiting for {} to {what}", late.join(", "));
            }
            Err(RecvTimeoutError::Disconnected) => bail!("lost every role process's output"),
        };
        let child = children
            .get_mut(id)
            .ok_or_else(|| anyhow!("a line from unknown child {id}"))?;
        let label = child.process.label().to_owned();
        match event {
            ChildEvent::Line(line) => match ChildLine::parse(&line) {
                Some(Ok(ChildLine::Ready)) => child.ready = true,
                Some(Ok(ChildLine::Result(results))) => child.results = Some(results),
                Some(Ok(ChildLine::Error(message))) => bail!("{message}"),
                Some(Err(message)) => bail!("{label}: {message}"),
                None => eprintln!("  [{label}] {line}"),
            },
            ChildEvent::Closed if child.results.is_some() => {}
            ChildEvent::Closed => {
                // Its stdout is closed because it is exiting: its status follows at once.
                let status = child
                    .process
                    .wait()
                    .map_or_else(|e| format!("status unknown: {e}"), |s| s.to_string());
                bail!("{label} ended without reporting ({status})");
            }
        }
    }
    Ok(())
}

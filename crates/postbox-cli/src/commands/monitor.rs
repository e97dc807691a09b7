//! `postbox monitor`: wait for a process to terminate.

use std::io::{self, Write as _};
use std::time::Instant;

use anyhow::Context as _;
use postbox::RecvError;

use crate::args::MonitorArgs;
use crate::node::{Node, resolve};
use crate::values::ProcessRef;

/// `postbox monitor PID|NAME [--timeout DUR]`: prints a line when the process terminates (at once
/// if it already has), then succeeds.
///
/// # Errors
///
/// Connecting; `NotFound` (no such pid ever, or no live process has the name); `Timeout`.
pub(crate) fn run(node: &Node, args: &MonitorArgs) -> anyhow::Result<()> {
    let process = node.connect()?;
    let pid = resolve(&process, &args.target)?;
    let what = match &args.target {
        ProcessRef::Pid(_) => format!("process {pid}"),
        ProcessRef::Name(name) => format!("process {pid} ({name})"),
    };
    process
        .monitor(pid)
        .with_context(|| format!("cannot monitor {what}"))?;
    let deadline = args.timeout.map(|timeout| Instant::now() + timeout);
    loop {
        let got = match deadline {
            None => process.recv_from(pid),
            Some(deadline) => process.recv_from_deadline(pid, deadline),
        };
        match got {
            Ok(message) if message.is_down() => break,
            // A message the process sent this one: not what we wait for.
            Ok(_) => {}
            // Gone without a notification reaching us first still means it terminated.
            Err(RecvError::PeerGone) => break,
            Err(error) => {
                return Err(error).with_context(|| format!("cannot monitor {what}"));
            }
        }
    }
    let mut out = io::stdout().lock();
    writeln!(out, "{what} terminated")?;
    Ok(out.flush()?)
}

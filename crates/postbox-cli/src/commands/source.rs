//! Running an event source as a command: until it ends by itself, fails, or the user stops the
//! command with a signal.

use anyhow::Context as _;
use postbox::Process;
use postbox::events::{EventSource, Signal, Signals, StartError};

use crate::node::Node;
use crate::output;

/// The signals that stop a source command, unless the command forwards them: Ctrl-C, `kill`,
/// a closed terminal, Ctrl-\.
const STOPPING: [Signal; 4] = [Signal::INT, Signal::TERM, Signal::HUP, Signal::QUIT];

/// Starts a source with `start` (given its own process on `node`), announces it on stderr with
/// `what`, and waits until it ends by itself (exit 0), fails (its error), or one of
/// [`STOPPING`] not in `forwarded` arrives (the source is stopped, exit 0).
///
/// The announcement, `postbox: pid N, WHAT; SIGINT, ... stop`, comes once every handler is
/// installed: from then on no signal is lost, and N is the pid the source's messages come from.
///
/// # Errors
///
/// Connecting; starting the source (its mailbox missing: exit 5); the [`SourceError`] that ended
/// it (its mailbox deleted: exit 7).
///
/// [`SourceError`]: postbox::events::SourceError
pub(crate) fn run(
    node: &Node,
    forwarded: &[Signal],
    what: &str,
    start: impl FnOnce(Process) -> Result<EventSource, StartError>,
) -> anyhow::Result<()> {
    let control = node.connect()?;
    let stopping: Vec<Signal> = STOPPING
        .into_iter()
        .filter(|signal| !forwarded.contains(signal))
        .collect();
    let stopper = match stopping.is_empty() {
        true => None,
        false => Some(
            Signals::new(stopping.iter().copied())
                .start(node.connect()?, control.pid())
                .context("cannot watch the signals that stop this command")?,
        ),
    };
    let source = start(node.connect()?)?;
    control
        .monitor(source.pid())
        .context("cannot watch the event source")?;
    let names: Vec<&str> = stopping.iter().map(|signal| signal.name()).collect();
    let stop = match names.is_empty() {
        true => "only SIGKILL stops it".to_owned(),
        false => format!("{} stop", names.join(", ")),
    };
    output::note(&format!("pid {}, {what}; {stop}", source.pid()));
    loop {
        let message = control
            .recv_any()
            .context("cannot wait for the event source")?;
        if stopper.as_ref().is_some_and(|s| s.pid() == message.sender) {
            return Ok(source.stop()?);
        }
        if message.sender == source.pid() && message.is_down() {
            return Ok(source.join()?);
        }
    }
}

//! `postbox call`: send one request to a mailbox or a process and print the answer.

use std::ffi::OsString;
use std::io::{self, IsTerminal as _, Read as _, Write as _};

use anyhow::Context as _;
use postbox::{CallError, CallErrorKind, Message};

use crate::args::{CallArgs, Patience, usage_error};
use crate::node::{Node, about_node, resolve};
use crate::{output, values};

/// `postbox call`.
///
/// The request is REQUEST, else all of standard input. The answer's payload is written to
/// stdout as it came (no newline added: it is usually a command's output, with its own).
///
/// # Errors
///
/// Usage (no destination; NAME and REQUEST with `--to`); connecting; opening the mailbox or
/// finding the process; the call's failure: its [`CallErrorKind`] in the chain picks the exit
/// code, and a failed request (`Failed`) carries the server's text.
pub(crate) fn run(node: &Node, args: CallArgs) -> anyhow::Result<()> {
    let (mailbox, data) = match (&args.to, args.name, args.data) {
        (Some(_), Some(_), Some(_)) => {
            return Err(usage_error(
                "with --to, give the request as the only argument",
            ));
        }
        (Some(_), request, data) => (None, request.map(OsString::from).or(data)),
        (None, None, _) => return Err(usage_error("give a mailbox NAME, or --to PID|NAME")),
        (None, Some(name), data) => (Some(values::mailbox(&name).map_err(usage_error)?), data),
    };
    let process = node.connect()?;
    let request = match data {
        Some(data) => data.into_encoded_bytes(),
        None => {
            if io::stdin().is_terminal() {
                output::note("reading the request from stdin, Ctrl-D to end");
            }
            let mut request = Vec::new();
            io::stdin()
                .lock()
                .read_to_end(&mut request)
                .context("cannot read standard input")?;
            request
        }
    };
    let request = Message::new(request).with_type(args.mtype);
    let patience = args.patience.patience();
    let (answer, label) = match (&args.to, mailbox) {
        (Some(to), _) => {
            let pid = resolve(&process, to)?;
            let answer = match patience {
                Patience::Forever => process.call(pid, request),
                Patience::NoWait => process.try_call(pid, request),
                Patience::Timeout(timeout) => process.call_timeout(pid, request, timeout),
            };
            (answer, format!("process {to}"))
        }
        (None, Some(name)) => {
            let label = format!("mailbox {name}");
            let mailbox = process
                .mailbox(&name)
                .open()
                .map_err(|error| about_node(&process, &name, error))
                .with_context(|| format!("cannot call {label}"))?;
            let answer = match patience {
                Patience::Forever => mailbox.call(request),
                Patience::NoWait => mailbox.try_call(request),
                Patience::Timeout(timeout) => mailbox.call_timeout(request, timeout),
            };
            (answer, label)
        }
        (None, None) => return Err(usage_error("give a mailbox NAME, or --to PID|NAME")),
    };
    let answer = answer.map_err(|error| failure(error, &label))?;
    let mut out = io::stdout().lock();
    out.write_all(&answer.payload)?;
    out.flush()?;
    Ok(())
}

/// The error a failed call reports: its kind (for the exit code), what the server said when it
/// failed the request, and what was being called.
fn failure(error: CallError, label: &str) -> anyhow::Error {
    let kind = error.kind();
    let said = match (kind, error.failure()) {
        (CallErrorKind::Failed, Some(text)) => {
            let text = String::from_utf8_lossy(text);
            format!(": {}", text.trim_end())
        }
        _ => String::new(),
    };
    anyhow::Error::new(kind).context(format!("call to {label} failed{said}"))
}

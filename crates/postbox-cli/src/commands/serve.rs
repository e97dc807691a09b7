//! `postbox serve`: answer requests by running a command for each.

use std::ffi::OsString;
use std::io::Write as _;
use std::process::{Command, Stdio};

use anyhow::Context as _;
use postbox::{Process, Received, ReplyError};

use crate::args::ServeArgs;
use crate::node::{Node, about_node};
use crate::output;

/// `postbox serve`.
///
/// Receives requests from NAME (or, without it, from its own inbox, its pid printed on stderr
/// first) and answers each by running CMD with the request on its standard input: exit status 0
/// answers with what it wrote to stdout, any other fails the request with what it wrote to
/// stderr. A message that is not a request has no one to answer: it is reported on stderr and
/// skipped. An answer the caller no longer waits for (it timed out) is dropped by the node and
/// reported. Serves `--count` requests, or until interrupted.
///
/// # Errors
///
/// Connecting; registering `--as`; opening the mailbox; a receive's failure (`Gone` when the
/// mailbox is deleted, ...); CMD that cannot be started (the request it was for is failed
/// first, so its caller is not left waiting); an answer refused for another reason than a
/// caller that stopped waiting.
pub(crate) fn run(node: &Node, args: &ServeArgs) -> anyhow::Result<()> {
    let process = node.connect()?;
    if let Some(name) = &args.register {
        process
            .register(name)
            .with_context(|| format!("cannot register this process as {name:?}"))?;
    }
    let mailbox = match &args.name {
        Some(name) => Some(
            process
                .mailbox(name)
                .open()
                .map_err(|error| about_node(&process, name, error))
                .with_context(|| format!("cannot serve mailbox {name}"))?,
        ),
        None => None,
    };
    let source = match &args.name {
        Some(name) => format!("mailbox {name}"),
        None => "inbox".to_owned(),
    };
    if mailbox.is_none() || args.register.is_some() {
        let name = args
            .register
            .as_ref()
            .map(|name| format!(", registered as {name}"))
            .unwrap_or_default();
        output::note(&format!(
            "pid {}{name}, serving requests from {source}",
            process.pid()
        ));
    }
    let mut served = 0;
    while args.count.is_none_or(|count| served < count) {
        let request = match &mailbox {
            Some(mailbox) => mailbox.recv(),
            None => process.recv_any(),
        }
        .with_context(|| format!("cannot receive from {source}"))?;
        if request.call().is_none() {
            let what = if request.is_down() {
                "a down notification"
            } else {
                "a message that is not a request"
            };
            output::note(&format!("skipped {what} from process {}", request.sender));
            continue;
        }
        answer(&process, &request, &args.command)?;
        served += 1;
    }
    Ok(())
}

/// Runs `command` for `request` and answers it with the outcome.
fn answer(process: &Process, request: &Received, command: &[OsString]) -> anyhow::Result<()> {
    let Some((program, arguments)) = command.split_first() else {
        anyhow::bail!("no command to run");
    };
    let shown = program.to_string_lossy();
    let ran = run_one(program, arguments, request.payload());
    let (answered, outcome) = match ran {
        Ok(output) if output.status.success() => {
            (process.reply(request, output.stdout), "answered".to_owned())
        }
        Ok(output) => (
            process.fail(request, output.stderr),
            format!("failed ({})", output.status),
        ),
        Err(error) => {
            let why = format!("cannot run {shown}: {error}");
            // The caller hears why rather than waiting; the command stops here.
            let _ = process.fail(request, why.clone());
            return Err(error).with_context(|| format!("cannot run {shown}"));
        }
    };
    let from = request.sender;
    match answered {
        Ok(()) => Ok(()),
        Err(ReplyError::Revoked) => {
            output::note(&format!(
                "the request from process {from} was {outcome} too late: its caller stopped \
                 waiting"
            ));
            Ok(())
        }
        Err(ReplyError::TooLarge) => {
            let _ = process.fail(request, format!("the answer of {shown} is too large"));
            output::note(&format!(
                "the answer to process {from} was too large; the request was failed"
            ));
            Ok(())
        }
        Err(error) => {
            Err(error).with_context(|| format!("cannot answer the request from process {from}"))
        }
    }
}

/// Runs `program` with `arguments`, `input` on its standard input, collecting its output.
fn run_one(
    program: &OsString,
    arguments: &[OsString],
    input: &[u8],
) -> std::io::Result<std::process::Output> {
    let mut child = Command::new(program)
        .args(arguments)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_vec();
    // Written beside the reading of its output, so that neither side fills a pipe and waits.
    let writer = std::thread::spawn(move || {
        // A command that exits without reading its input is not an error.
        let _ = stdin.write_all(&input);
    });
    let output = child.wait_with_output();
    let _ = writer.join();
    output
}

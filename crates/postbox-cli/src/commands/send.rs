//! `postbox send`: one message, or one per line of input, to a mailbox or a process's inbox.

use std::ffi::OsString;
use std::io::{self, BufRead as _, IsTerminal as _, Read as _, Write as _};

use anyhow::Context as _;
use postbox::{Capacity, Mailbox, Message, MessageSize, Pid, Process, SendError, SendErrorKind};

use crate::args::{Patience, SendArgs, usage_error};
use crate::node::{Node, about_node, raise_max_message_size, resolve};
use crate::values::ProcessRef;
use crate::{output, values};

/// Where the messages go.
enum Destination {
    /// A named mailbox.
    Mailbox(Mailbox),
    /// A process's inbox.
    Process(Pid),
}

/// One destination and how to send there: the process sending, the patience and whether to wait
/// for a receipt.
struct Sender<'a> {
    /// The sending process.
    process: &'a Process,
    /// Where to.
    destination: Destination,
    /// How long each send may wait.
    patience: Patience,
    /// Whether to wait until a receiver took each message.
    receipt: bool,
}

impl Sender<'_> {
    /// Sends `message`; returns the receiver's pid when it is known (rendezvous, receipts).
    fn send(&self, message: Message) -> Result<Option<Pid>, SendErrorKind> {
        let kind = |error: SendError| error.kind();
        match (&self.destination, self.patience, self.receipt) {
            (Destination::Mailbox(mailbox), patience, false) => match patience {
                Patience::Forever => mailbox.send(message),
                Patience::NoWait => mailbox.try_send(message),
                Patience::Timeout(timeout) => mailbox.send_timeout(message, timeout),
            }
            .map(|sent| sent.receiver)
            .map_err(kind),
            (Destination::Mailbox(mailbox), patience, true) => match patience {
                // clap refuses --receipt with --nowait; a receipt needs a wait.
                Patience::Forever | Patience::NoWait => mailbox.send_with_receipt(message),
                Patience::Timeout(timeout) => mailbox.send_with_receipt_timeout(message, timeout),
            }
            .map(Some)
            .map_err(kind),
            (&Destination::Process(to), patience, false) => match patience {
                Patience::Forever => self.process.send_to(to, message),
                Patience::NoWait => self.process.try_send_to(to, message),
                Patience::Timeout(timeout) => self.process.send_to_timeout(to, message, timeout),
            }
            .map(|()| None)
            .map_err(kind),
            (&Destination::Process(to), patience, true) => match patience {
                Patience::Forever | Patience::NoWait => {
                    self.process.send_to_with_receipt(to, message)
                }
                Patience::Timeout(timeout) => self
                    .process
                    .send_to_with_receipt_timeout(to, message, timeout),
            }
            .map(|()| Some(to))
            .map_err(kind),
        }
    }
}

impl Sender<'_> {
    /// Why a message of `len` bytes is too large, and what raises the limit it broke: the
    /// mailbox's size rule or byte capacity when it is below `len`, else the daemon's largest
    /// message.
    fn too_large(&self, len: usize) -> String {
        let daemon = format!(
            "the message is {len} bytes, over the daemon's largest message ({})",
            raise_max_message_size()
        );
        let Destination::Mailbox(mailbox) = &self.destination else {
            return daemon;
        };
        let Ok(stats) = mailbox.stat() else {
            return daemon;
        };
        let name = mailbox.name();
        if let MessageSize::Variable(max) = stats.attrs.size
            && len > max
        {
            return format!(
                "the message is {len} bytes, over mailbox {name}'s largest message of {max} \
                 bytes (fixed when it was created: `postbox create NAME --size max:BYTES`)"
            );
        }
        if let Capacity::Bounded { bytes, .. } = stats.attrs.capacity
            && len > bytes
        {
            return format!(
                "the message is {len} bytes, over mailbox {name}'s byte capacity of {bytes} \
                 (`postbox set {name} --max-bytes BYTES` raises it)"
            );
        }
        daemon
    }
}

/// What `send` says on stderr before reading its messages from standard input, when that is a
/// terminal: a person typing would otherwise face a command that waits in silence. Nothing when
/// the input is a pipe or a file, which a script gave on purpose.
fn stdin_prompt(lines: bool, stdin_is_terminal: bool) -> Option<&'static str> {
    match (stdin_is_terminal, lines) {
        (false, _) => None,
        (true, false) => Some("reading the message from stdin, Ctrl-D to end"),
        (true, true) => Some("reading messages from stdin, one per line, Ctrl-D to end"),
    }
}

/// `postbox send`.
///
/// The payload is DATA, else standard input: all of it as one message, or with `--lines` one
/// message per line (without its newline), sent as each line arrives so that the command can sit
/// in a pipeline. With `--receipt`, each receiver's pid is printed on stdout.
///
/// # Errors
///
/// Usage (no destination; DATA and a payload argument with `--to`); connecting; opening the
/// mailbox or finding the process; each send's failure (`Full`, `Timeout`, `Gone`, `PeerGone`,
/// ...), naming the line it stopped at.
pub(crate) fn run(node: &Node, args: SendArgs) -> anyhow::Result<()> {
    let (mailbox, data) = match (&args.to, args.name, args.data) {
        (Some(_), Some(_), Some(_)) => {
            return Err(usage_error(
                "with --to, give the payload as the only argument",
            ));
        }
        (Some(_), payload, data) => (None, payload.map(OsString::from).or(data)),
        (None, None, _) => return Err(usage_error("give a mailbox NAME, or --to PID|NAME")),
        (None, Some(name), data) => (Some(values::mailbox(&name).map_err(usage_error)?), data),
    };
    let process = node.connect()?;
    if let Some(name) = &args.register {
        process
            .register(name)
            .with_context(|| format!("cannot register this process as {name:?}"))?;
    }
    // The NAME@NODE sent to, to explain a lost node by.
    let node_name = match (&args.to, &mailbox) {
        (Some(ProcessRef::Name(name)), _) | (None, Some(name)) => Some(name.clone()),
        _ => None,
    };
    let (destination, label) = match (&args.to, mailbox) {
        (Some(to), _) => (Destination::Process(resolve(&process, to)?), to.to_string()),
        (None, Some(name)) => {
            let label = format!("mailbox {name}");
            let mailbox = process
                .mailbox(&name)
                .open()
                .map_err(|error| about_node(&process, &name, error))
                .with_context(|| format!("cannot send to {label}"))?;
            (Destination::Mailbox(mailbox), label)
        }
        (None, None) => return Err(usage_error("give a mailbox NAME, or --to PID|NAME")),
    };
    let sender = Sender {
        process: &process,
        destination,
        patience: args.patience.patience(),
        receipt: args.receipt,
    };
    let message = |payload: Vec<u8>| {
        Message::new(payload)
            .with_type(args.mtype)
            .with_priority(args.priority)
    };
    let mut out = io::stdout().lock();
    let mut deliver = |payload: Vec<u8>, line: Option<usize>| -> anyhow::Result<()> {
        let len = payload.len();
        let sent = sender.send(message(payload));
        let why = match sent {
            Err(SendErrorKind::TooLarge) => format!(": {}", sender.too_large(len)),
            _ => String::new(),
        };
        let receiver = sent.map_err(|error| match (error, &node_name) {
            (SendErrorKind::Disconnected, Some(name)) => about_node(&process, name, error),
            (error, _) => error.into(),
        });
        let receiver = receiver.with_context(|| match line {
            Some(line) => format!("cannot send line {line} to {label}{why}"),
            None => format!("cannot send to {label}{why}"),
        })?;
        if let (true, Some(pid)) = (args.receipt, receiver) {
            writeln!(out, "{pid}")?;
            out.flush()?;
        }
        Ok(())
    };
    let data = data.map(OsString::into_encoded_bytes);
    if data.is_none()
        && let Some(prompt) = stdin_prompt(args.lines, io::stdin().is_terminal())
    {
        output::note(prompt);
    }
    match (args.lines, data) {
        (false, Some(payload)) => deliver(payload, None),
        (false, None) => {
            let mut payload = Vec::new();
            io::stdin()
                .lock()
                .read_to_end(&mut payload)
                .context("cannot read standard input")?;
            deliver(payload, None)
        }
        (true, Some(text)) => {
            let mut lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
            if lines.last().is_some_and(|last| last.is_empty()) {
                lines.pop();
            }
            for (index, line) in lines.into_iter().enumerate() {
                deliver(line.to_vec(), Some(index + 1))?;
            }
            Ok(())
        }
        (true, None) => {
            let mut input = io::stdin().lock();
            let mut line = Vec::new();
            for number in 1.. {
                line.clear();
                let read = input
                    .read_until(b'\n', &mut line)
                    .context("cannot read standard input")?;
                if read == 0 {
                    break;
                }
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                deliver(line.clone(), Some(number))?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_terminal_on_stdin_is_told_how_to_end_the_message() {
        assert_eq!(stdin_prompt(false, false), None);
        assert_eq!(stdin_prompt(true, false), None);
        assert!(stdin_prompt(false, true).is_some_and(|p| p.contains("Ctrl-D")));
        assert!(stdin_prompt(true, true).is_some_and(|p| p.contains("one per line")));
    }
}

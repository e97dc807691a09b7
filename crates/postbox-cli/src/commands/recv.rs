//! `postbox recv`: take messages from mailboxes or the inbox and print their payloads.

use std::io;

use anyhow::Context as _;
use postbox::{
    Leased, Mailbox, Ownership, Process, Receivers, RecvError, Select, Selected, Selector,
};

use crate::args::{Patience, RecvArgs};
use crate::node::{Node, about_node, selector};
use crate::output;

/// Opens (or, with `--create-owned`, creates as this process's own) every named mailbox.
///
/// # Errors
///
/// The first open or create that fails.
fn mailboxes(process: &Process, args: &RecvArgs) -> anyhow::Result<Vec<Mailbox>> {
    args.names
        .iter()
        .map(|name| {
            let builder = process.mailbox(name);
            if args.create_owned {
                builder
                    .ownership(Ownership::Process)
                    .create()
                    .map_err(|error| about_node(process, name, error))
                    .with_context(|| format!("cannot create mailbox {name}"))
            } else {
                builder
                    .open()
                    .map_err(|error| about_node(process, name, error))
                    .with_context(|| format!("cannot receive from mailbox {name}"))
            }
        })
        .collect()
}

/// The next message `selector` picks from `mailbox`, on lease.
fn lease(
    mailbox: &Mailbox,
    selector: Selector,
    patience: Patience,
) -> Result<Leased<'_>, RecvError> {
    match patience {
        Patience::Forever => mailbox.lease_matching(selector),
        Patience::NoWait => mailbox.try_lease_matching(selector),
        Patience::Timeout(timeout) => mailbox.lease_matching_timeout(selector, timeout),
    }
}

/// `postbox recv`.
///
/// From one mailbox, each message is received on lease and acknowledged only once it is written
/// to stdout: a message that cannot be written (the reader went away: `recv --follow | head -3`)
/// goes back to the mailbox, and so does one held when the command is killed. A broadcast
/// mailbox has no leases (a member's copy has nowhere to go back to): its messages are taken
/// outright, as from several sources.
///
/// Receives from every named mailbox and, with `--inbox`, this command's own inbox — whichever
/// has a matching message first — `COUNT` messages (default 1), or with `--follow` until
/// interrupted or a receive fails. With `--inbox`, `--create-owned` or `--as`, the command's pid
/// is printed on stderr once it is ready (`postbox: pid N, ...`), so that peers can address it
/// or wait for it.
///
/// # Errors
///
/// Connecting; registering `--as`; opening or creating a mailbox; a receive's failure (`Empty`,
/// `Timeout`, `Gone`, `PeerGone`, `PermissionDenied`, `Busy`, ...), naming where; writing to
/// stdout.
pub(crate) fn run(node: &Node, args: &RecvArgs) -> anyhow::Result<()> {
    let process = node.connect()?;
    if let Some(name) = &args.register {
        process
            .register(name)
            .with_context(|| format!("cannot register this process as {name:?}"))?;
    }
    let selector = selector(&process, &args.selector)?;
    let mailboxes = mailboxes(&process, args)?;
    let mut select = Select::new();
    let mut sources = Vec::new();
    for mailbox in &mailboxes {
        select.recv(mailbox, selector);
        sources.push(format!("mailbox {}", mailbox.name()));
    }
    if args.inbox {
        select.inbox(&process, selector);
        sources.push("inbox".to_owned());
    }
    if args.inbox || args.create_owned || args.register.is_some() {
        let name = args
            .register
            .as_ref()
            .map(|name| format!(", registered as {name}"))
            .unwrap_or_default();
        output::note(&format!(
            "pid {}{name}, receiving from {}",
            process.pid(),
            sources.join(", ")
        ));
    }
    let patience = args.patience.patience();
    let mut out = io::stdout().lock();
    let mut received = 0;
    // Nothing arriving in time is about all the sources, not the one an error names.
    // A lost link is explained by the mailbox's node (the inbox, after the names, has none).
    let failed = |error: RecvError, branch: usize| {
        let source = match error {
            RecvError::Empty | RecvError::Timeout => sources.join(", "),
            _ => sources.get(branch).cloned().unwrap_or_default(),
        };
        let error = match (error, args.names.get(branch)) {
            (RecvError::Disconnected, Some(name)) => about_node(&process, name, error),
            (error, _) => anyhow::Error::new(error),
        };
        error.context(format!("cannot receive from {source}"))
    };
    let broadcast = |mailbox: &Mailbox| {
        mailbox
            .stat()
            .is_ok_and(|stats| stats.attrs.receivers == Receivers::Broadcast)
    };
    if let ([only], false) = (mailboxes.as_slice(), args.inbox)
        && !broadcast(only)
    {
        while args.follow || received < args.count {
            let leased = lease(only, selector, patience).map_err(|error| failed(error, 0))?;
            // Written first, then acknowledged: if writing fails, dropping the lease gives the
            // message back.
            output::received(&mut out, &sources[0], &leased, args.json)?;
            leased.ack().map_err(|error| failed(error, 0))?;
            received += 1;
        }
        return Ok(());
    }
    while args.follow || received < args.count {
        let waited = match patience {
            Patience::Forever => select.wait(),
            Patience::NoWait => select.try_wait(),
            Patience::Timeout(timeout) => select.wait_timeout(timeout),
        };
        let Selected { index, message } = waited.map_err(|e| failed(e.error, e.branch))?;
        let source = sources.get(index).map_or("", String::as_str);
        if message.is_down() {
            output::note(&format!("process {} terminated", message.sender));
            continue;
        }
        output::received(&mut out, source, &message, args.json)?;
        received += 1;
    }
    Ok(())
}

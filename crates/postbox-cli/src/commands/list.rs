//! `ls`, `stat` and `ps`: what the node holds, as tables or JSON.

use std::io::{self, Write as _};

use anyhow::Context as _;

use crate::args::{LsArgs, PsArgs, StatArgs};
use crate::node::{Node, about_node};
use crate::output;

/// `postbox ls [--node NODE] [--json]`: every mailbox this user may see, by name.
///
/// # Errors
///
/// Connecting; listing; writing to stdout.
pub(crate) fn ls(node: &Node, args: &LsArgs) -> anyhow::Result<()> {
    let process = node.connect()?;
    let mut mailboxes = match &args.at {
        Some(at) => process
            .list_mailboxes_at(at)
            .with_context(|| format!("cannot list the mailboxes of node {at}"))?,
        None => process.list_mailboxes().context("cannot list mailboxes")?,
    };
    mailboxes.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = io::stdout().lock();
    if args.json {
        output::json(&mut out, &mailboxes)?;
    } else {
        output::mailbox_table(&mut out, &mailboxes)?;
    }
    Ok(out.flush()?)
}

/// `postbox stat [NAME] [--json]`: a mailbox's statistics, or the node's.
///
/// A mailbox is looked up in the listing rather than opened, so that looking does not change
/// what is seen (an open handle counts among its openers). One this user may not see is opened,
/// for the precise reason (not found, permission denied).
///
/// # Errors
///
/// Connecting; `NotFound`, `PermissionDenied`; writing to stdout.
pub(crate) fn stat(node: &Node, args: &StatArgs) -> anyhow::Result<()> {
    let process = node.connect()?;
    let mut out = io::stdout().lock();
    let Some(name) = &args.name else {
        let stats = match &args.at {
            Some(at) => process
                .node_stats_at(at)
                .with_context(|| format!("cannot read the statistics of node {at}"))?,
            None => process
                .node_stats()
                .context("cannot read node statistics")?,
        };
        if args.json {
            output::json(&mut out, &stats)?;
        } else {
            output::node_stats(&mut out, &stats)?;
        }
        return Ok(out.flush()?);
    };
    let context = || format!("cannot stat mailbox {name}");
    let listed = process.list_mailboxes().with_context(context)?;
    let stats = match listed.iter().find(|stats| &stats.name == name) {
        Some(stats) => stats.clone(),
        None => {
            let mailbox = process
                .mailbox(name)
                .open()
                .map_err(|error| about_node(&process, name, error))
                .with_context(context)?;
            mailbox.stat().with_context(context)?
        }
    };
    if args.json {
        output::json(&mut out, &stats)?;
    } else {
        let dead_letter = stats.attrs.redelivery.dead_letter.and_then(|id| {
            listed
                .iter()
                .find(|other| other.id == id)
                .map(|other| other.name.as_str())
        });
        output::mailbox_stats(&mut out, &stats, dead_letter)?;
    }
    Ok(out.flush()?)
}

/// `postbox ps [--node NODE] [--json]`: every live process, this one included.
///
/// # Errors
///
/// Connecting; listing; writing to stdout.
pub(crate) fn ps(node: &Node, args: &PsArgs) -> anyhow::Result<()> {
    let process = node.connect()?;
    let mut processes = match &args.at {
        Some(at) => process
            .list_processes_at(at)
            .with_context(|| format!("cannot list the processes of node {at}"))?,
        None => process.list_processes().context("cannot list processes")?,
    };
    processes.sort_by_key(|info| info.pid);
    let mut out = io::stdout().lock();
    if args.json {
        output::json(&mut out, &processes)?;
    } else {
        output::process_table(&mut out, &processes)?;
    }
    Ok(out.flush()?)
}

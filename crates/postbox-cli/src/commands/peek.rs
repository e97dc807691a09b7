//! `postbox peek`: show queued messages without taking them.

use std::io::{self, Write as _};

use anyhow::Context as _;

use crate::args::PeekArgs;
use crate::node::{Node, about_node, selector};
use crate::output;

/// `postbox peek NAME [-n COUNT] [selector] [--json]`: up to `COUNT` queued messages that the
/// selector matches, printed as `recv` prints them, in the order receives would take them. The
/// mailbox is left exactly as it was; nothing queued (or nothing matching) prints nothing.
///
/// # Errors
///
/// Connecting; `--from NAME` naming no process; opening (`NotFound`, `PermissionDenied`); the
/// peek (`PermissionDenied` without the right to receive, `Gone`); writing to stdout.
pub(crate) fn run(node: &Node, args: &PeekArgs) -> anyhow::Result<()> {
    let process = node.connect()?;
    let selector = selector(&process, &args.selector)?;
    let context = || format!("cannot peek into mailbox {}", args.name);
    let mailbox = process
        .mailbox(&args.name)
        .open()
        .map_err(|error| about_node(&process, &args.name, error))
        .with_context(context)?;
    let max = usize::try_from(args.count).unwrap_or(usize::MAX);
    let messages = mailbox.peek(max, selector).with_context(context)?;
    let source = format!("mailbox {}", args.name);
    let mut out = io::stdout().lock();
    for message in &messages {
        output::received(&mut out, &source, message, args.json)?;
    }
    Ok(out.flush()?)
}

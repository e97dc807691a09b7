//! `postbox purge`: drop everything queued in a mailbox.

use std::io::{self, Write as _};

use anyhow::Context as _;
use serde_json::json;

use crate::args::PurgeArgs;
use crate::node::{Node, about_node};
use crate::output;

/// `postbox purge NAME [--json]`: drops every queued message and prints how many, as
/// `purged N message(s) from NAME` or `{"name": NAME, "purged": N}`.
///
/// # Errors
///
/// Connecting; opening (`NotFound`, `PermissionDenied`); the purge (`PermissionDenied` for anyone
/// but the owner or root, `Gone`); writing to stdout.
pub(crate) fn run(node: &Node, args: &PurgeArgs) -> anyhow::Result<()> {
    let process = node.connect()?;
    let context = || format!("cannot purge mailbox {}", args.name);
    let mailbox = process
        .mailbox(&args.name)
        .open()
        .map_err(|error| about_node(&process, &args.name, error))
        .with_context(context)?;
    let purged = mailbox.purge().with_context(context)?;
    let mut out = io::stdout().lock();
    if args.json {
        output::json(&mut out, &json!({ "name": args.name, "purged": purged }))?;
    } else {
        let noun = if purged == 1 { "message" } else { "messages" };
        writeln!(out, "purged {purged} {noun} from {}", args.name)?;
    }
    Ok(out.flush()?)
}

//! `create`, `open`, `rm` and `set`: a mailbox's lifecycle and its changeable attributes.

use anyhow::Context as _;
use postbox::{Capacity, Durability, Mailbox, MailboxBuilder, Owner, Ownership, Process};

use crate::args::{CreateArgs, MailboxSpec, OpenArgs, RmArgs, SetArgs, usage_error};
use crate::node::{Node, about_node};
use crate::values::CapacityArg;

/// The capacity `--capacity` and `--max-bytes` ask for together.
///
/// # Errors
///
/// A usage error for `--max-bytes` with a capacity that has no byte limit.
fn capacity(spec: &MailboxSpec) -> anyhow::Result<Capacity> {
    // The default of docs/semantics.md (64 messages, 1 MiB), as the library defines it.
    let (default_messages, default_bytes) = match Capacity::default() {
        Capacity::Bounded { messages, bytes } => (messages, bytes),
        Capacity::Zero | Capacity::Unbounded => (64, 1 << 20),
    };
    Ok(match (spec.capacity, spec.max_bytes) {
        (None, bytes) => Capacity::bounded(default_messages, bytes.unwrap_or(default_bytes)),
        (Some(CapacityArg::Messages(messages)), bytes) => {
            Capacity::bounded(messages, bytes.unwrap_or(default_bytes))
        }
        (Some(CapacityArg::Zero | CapacityArg::Unbounded), Some(_)) => {
            return Err(usage_error(
                "--max-bytes applies only to a bounded --capacity (a number of messages)",
            ));
        }
        (Some(CapacityArg::Zero), None) => Capacity::Zero,
        (Some(CapacityArg::Unbounded), None) => Capacity::Unbounded,
    })
}

/// A builder for a system-owned mailbox called `name` with the attributes of `spec` and
/// `capacity` (checked before connecting, see [`capacity`]), and `dead_letter` opened by
/// [`dead_letter`].
fn builder(
    process: &Process,
    name: &str,
    spec: &MailboxSpec,
    capacity: Capacity,
    dead_letter: Option<&Mailbox>,
) -> MailboxBuilder {
    let mut builder = process
        .mailbox(name)
        .ownership(Ownership::System)
        .capacity(capacity)
        .order(spec.order.into())
        .overflow(spec.overflow.into())
        .receivers(spec.receivers.into())
        .mode(spec.mode);
    if let Some(size) = spec.size {
        builder = builder.size(size);
    }
    if spec.durable {
        builder = builder.durability(Durability::Disk);
    }
    if let Some(time) = spec.lease_time {
        builder = builder.lease_time(time);
    }
    if let Some(deliveries) = spec.max_deliveries {
        builder = builder.max_deliveries(deliveries);
    }
    match dead_letter {
        Some(mailbox) => builder.dead_letter(mailbox),
        None => builder,
    }
}

/// The `--dead-letter` mailbox of mailbox `mailbox`, opened.
///
/// A dead-letter mailbox lives on the node of the mailbox that names it (a node moves
/// messages between its own mailboxes only): a plain name given for `jobs@b` means `dl@b`, as a
/// plain name in a request to node b means b's; a name of another node is refused.
///
/// # Errors
///
/// A usage error for a dead-letter mailbox of another node; when it cannot be opened (it must
/// exist before the mailbox that names it).
fn dead_letter(
    process: &Process,
    mailbox: &str,
    spec: &MailboxSpec,
) -> anyhow::Result<Option<Mailbox>> {
    let Some(name) = &spec.dead_letter else {
        return Ok(None);
    };
    let name = dead_letter_name(mailbox, name)?;
    let mailbox = process
        .mailbox(&name)
        .open()
        .with_context(|| format!("cannot open the dead-letter mailbox {name} (create it first)"))?;
    Ok(Some(mailbox))
}

/// The name to open the dead-letter mailbox `name` of mailbox `mailbox` by: on `mailbox`'s
/// node (see [`dead_letter`]).
///
/// # Errors
///
/// A usage error when both name different nodes.
fn dead_letter_name(mailbox: &str, name: &str) -> anyhow::Result<String> {
    let node = |name: &str| name.rsplit_once('@').map(|(_, node)| node.to_owned());
    match (node(mailbox), node(name)) {
        (Some(home), None) => Ok(format!("{name}@{home}")),
        (Some(home), Some(other)) if home != other => Err(usage_error(format!(
            "the dead-letter mailbox {name} is on node {other}, but {mailbox} is on node \
             {home}: a dead-letter mailbox lives on the node of its mailbox (give \
             --dead-letter a plain name, meaning node {home}'s)"
        ))),
        _ => Ok(name.to_owned()),
    }
}

/// `postbox create NAME [attributes]`: a system-owned mailbox, living until `rm`.
///
/// # Errors
///
/// Connecting; `AlreadyExists`, `InvalidAttributes`, `QuotaExceeded` and the rest of
/// [`postbox::OpenError`].
pub(crate) fn create(node: &Node, args: &CreateArgs) -> anyhow::Result<()> {
    let capacity = capacity(&args.spec)?;
    // The process must outlive the request: dropping it terminates it.
    let process = node.connect()?;
    let dead_letter = dead_letter(&process, &args.name, &args.spec)?;
    builder(
        &process,
        &args.name,
        &args.spec,
        capacity,
        dead_letter.as_ref(),
    )
    .create()
    .map_err(|error| about_node(&process, &args.name, error))
    .with_context(|| format!("cannot create mailbox {}", args.name))?;
    Ok(())
}

/// `postbox open NAME [--or-create [attributes]]`: succeeds when the mailbox exists and this user
/// may send to or receive from it.
///
/// # Errors
///
/// Connecting; `NotFound`, `PermissionDenied` and the rest of [`postbox::OpenError`].
pub(crate) fn open(node: &Node, args: &OpenArgs) -> anyhow::Result<()> {
    let capacity = capacity(&args.spec)?;
    let process = node.connect()?;
    let opened = if args.or_create {
        let dead_letter = dead_letter(&process, &args.name, &args.spec)?;
        builder(
            &process,
            &args.name,
            &args.spec,
            capacity,
            dead_letter.as_ref(),
        )
        .open_or_create()
    } else {
        process.mailbox(&args.name).open()
    };
    opened
        .map_err(|error| about_node(&process, &args.name, error))
        .with_context(|| format!("cannot open mailbox {}", args.name))?;
    Ok(())
}

/// `postbox rm NAME`: deletes the mailbox; whoever waits on it gets "gone".
///
/// # Errors
///
/// Connecting; `NotFound` (open), `PermissionDenied` (owner or root only), `Gone` (deleted
/// meanwhile).
pub(crate) fn rm(node: &Node, args: &RmArgs) -> anyhow::Result<()> {
    let process = node.connect()?;
    let context = || format!("cannot delete mailbox {}", args.name);
    let mailbox = process
        .mailbox(&args.name)
        .open()
        .map_err(|error| about_node(&process, &args.name, error))
        .with_context(context)?;
    mailbox.delete().with_context(context)
}

/// `postbox set NAME [--max-bytes B] [--mode M] [--owner UID[:GID]]`, applied in that order (the
/// owner last: after it, this user may no longer own the mailbox).
///
/// # Errors
///
/// Connecting; opening; `PermissionDenied` (owner or root only), `InvalidArgument` (a byte limit
/// on a mailbox that is not bounded), `Gone`.
pub(crate) fn set(node: &Node, args: &SetArgs) -> anyhow::Result<()> {
    let process = node.connect()?;
    let context = || format!("cannot change mailbox {}", args.name);
    let mailbox = process
        .mailbox(&args.name)
        .open()
        .map_err(|error| about_node(&process, &args.name, error))
        .with_context(context)?;
    if let Some(bytes) = args.max_bytes {
        mailbox.set_max_bytes(bytes).with_context(context)?;
    }
    if let Some(mode) = args.mode {
        mailbox.set_mode(mode).with_context(context)?;
    }
    if let Some(owner) = args.owner {
        let gid = match owner.gid {
            Some(gid) => gid,
            None => mailbox.stat().with_context(context)?.gid,
        };
        let credentials = owner.credentials(gid);
        mailbox
            .set_owner(Owner::System(credentials))
            .with_context(context)?;
    }
    Ok(())
}

//! The state of one process inside the engine.

use std::collections::BTreeSet;

use crate::{Credentials, MailboxId, Name, Pid};

/// Ordered sets, so that termination visits mailboxes and monitors in a fixed order (by id): the
/// engine stays deterministic, e.g. in which branch of a select over two of a dying process's
/// mailboxes reports `Gone`.
#[derive(Debug)]
pub(crate) struct Process {
    pub(crate) creds: Credentials,
    pub(crate) name: Option<Name>,
    pub(crate) inbox: MailboxId,
    /// Mailboxes this process has open (counted per mailbox in the mailbox itself).
    pub(crate) opened: BTreeSet<MailboxId>,
    /// Process-owned mailboxes this process owns; deleted when it terminates.
    pub(crate) owned: BTreeSet<MailboxId>,
    /// Processes that get a down notification when this one terminates.
    pub(crate) monitored_by: BTreeSet<Pid>,
    /// Processes this one monitors.
    pub(crate) monitoring: BTreeSet<Pid>,
    /// Dead processes whose down notification waits in this one's inbox: at most one each.
    pub(crate) downs_queued: BTreeSet<Pid>,
}

impl Process {
    pub(crate) fn new(creds: Credentials, inbox: MailboxId) -> Process {
        Process {
            creds,
            name: None,
            inbox,
            opened: BTreeSet::new(),
            owned: BTreeSet::new(),
            monitored_by: BTreeSet::new(),
            monitoring: BTreeSet::new(),
            downs_queued: BTreeSet::new(),
        }
    }
}

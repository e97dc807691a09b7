//! The state of one process inside the engine.

use std::collections::BTreeSet;

use crate::{CallId, Credentials, MailboxId, Name, OsProcess, Pid, Timestamp};

/// Ordered sets, so that termination visits mailboxes and monitors in a fixed order (by id): the
/// engine stays deterministic, e.g. in which branch of a select over two of a dying process's
/// mailboxes reports `Gone`.
#[derive(Debug)]
pub(crate) struct Process {
    pub(crate) creds: Credentials,
    /// The OS process it is, as its transport reported it.
    pub(crate) os: OsProcess,
    /// When it was spawned.
    pub(crate) started: Timestamp,
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
    /// Calls whose request this process received and has not answered: it holds their reply
    /// rights.
    pub(crate) holding: BTreeSet<CallId>,
}

impl Process {
    pub(crate) fn new(
        creds: Credentials,
        os: OsProcess,
        inbox: MailboxId,
        started: Timestamp,
    ) -> Process {
        Process {
            creds,
            os,
            started,
            name: None,
            inbox,
            opened: BTreeSet::new(),
            owned: BTreeSet::new(),
            monitored_by: BTreeSet::new(),
            monitoring: BTreeSet::new(),
            downs_queued: BTreeSet::new(),
            holding: BTreeSet::new(),
        }
    }
}

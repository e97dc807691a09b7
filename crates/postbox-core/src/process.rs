//! The state of one process inside the engine.

use std::collections::HashSet;

use crate::{Credentials, MailboxId, Name, Pid};

#[derive(Debug)]
pub(crate) struct Process {
    pub(crate) creds: Credentials,
    pub(crate) name: Option<Name>,
    pub(crate) inbox: MailboxId,
    /// Mailboxes this process has open (counted per mailbox in the mailbox itself).
    pub(crate) opened: HashSet<MailboxId>,
    /// Process-owned mailboxes this process owns; deleted when it terminates.
    pub(crate) owned: HashSet<MailboxId>,
    /// Processes that get a down notification when this one terminates.
    pub(crate) monitored_by: HashSet<Pid>,
    /// Processes this one monitors.
    pub(crate) monitoring: HashSet<Pid>,
}

impl Process {
    pub(crate) fn new(creds: Credentials, inbox: MailboxId) -> Process {
        Process {
            creds,
            name: None,
            inbox,
            opened: HashSet::new(),
            owned: HashSet::new(),
            monitored_by: HashSet::new(),
            monitoring: HashSet::new(),
        }
    }
}

//! The mailbox handle C holds, and the table behind it: shared by every module that takes a
//! mailbox (sending, receiving, options naming a dead-letter mailbox, select, leases).

use postbox_lib::Mailbox;

use crate::registry::Registry;

/// An open mailbox, as the process that opened it sees it. 0 is the null handle.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PostboxMailbox {
    /// Opaque; 0 is never a live mailbox.
    pub id: u64,
}

/// An open mailbox and the process handle it was opened from (a select's branches must all
/// belong to one process).
#[derive(Debug)]
pub(crate) struct MailboxEntry {
    pub(crate) mailbox: Mailbox,
    pub(crate) process: u64,
}

pub(crate) static MAILBOXES: Registry<MailboxEntry> = Registry::new("postbox_mailbox");

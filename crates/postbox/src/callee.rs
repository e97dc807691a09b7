//! Who a call goes to: a process, or a mailbox the caller has open.

use postbox_core::{MailboxId, Pid};
use postbox_wire::Target;

use crate::mailbox::Mailbox;

/// Where [`Process::call`](crate::Process::call) sends its request: a process's inbox (its pid)
/// or a mailbox (a handle the calling process opened), so that one method calls either.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Callee {
    /// The inbox of this process: it answers.
    Process(Pid),
    /// This mailbox: whichever process receives the request answers.
    Mailbox(MailboxId),
}

impl From<Pid> for Callee {
    fn from(pid: Pid) -> Callee {
        Callee::Process(pid)
    }
}

impl From<&Mailbox> for Callee {
    fn from(mailbox: &Mailbox) -> Callee {
        Callee::Mailbox(mailbox.id())
    }
}

impl From<Callee> for Target {
    fn from(callee: Callee) -> Target {
        match callee {
            Callee::Process(pid) => Target::Process(pid),
            Callee::Mailbox(id) => Target::Mailbox(id),
        }
    }
}

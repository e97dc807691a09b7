//! Where a source posts its events.

use postbox_core::Pid;

/// Where an event source posts: a mailbox, by name, or a process's inbox.
///
/// The source's own process opens the mailbox, so it must exist and the source's process must be
/// allowed to send to it (`w`); a process-owned mailbox accepts sends from any process of its
/// owner's node unless its mode says otherwise.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Destination {
    /// The mailbox called this.
    Mailbox(String),
    /// This process's inbox.
    Inbox(Pid),
}

impl From<&str> for Destination {
    fn from(name: &str) -> Destination {
        Destination::Mailbox(name.to_owned())
    }
}

impl From<String> for Destination {
    fn from(name: String) -> Destination {
        Destination::Mailbox(name)
    }
}

impl From<Pid> for Destination {
    fn from(pid: Pid) -> Destination {
        Destination::Inbox(pid)
    }
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Mailbox(name) => write!(f, "mailbox {name}"),
            Destination::Inbox(pid) => write!(f, "the inbox of process {pid}"),
        }
    }
}

//! What each waiting operation waits for, described for `ps`.

use super::{Engine, Waiter};
use crate::mailbox::{Kind, Taking};
use crate::{MailboxId, Selector, Ticket, WaitInfo, WaitKind, WaitTarget};

impl Engine {
    /// What the operation waiting under `ticket` waits for.
    pub(super) fn describe_wait(&self, ticket: Ticket, waiter: &Waiter) -> WaitInfo {
        match waiter {
            Waiter::Recv {
                mailboxes, since, ..
            } => {
                // Each branch is registered in its mailbox, with its selector and index.
                let mut branches: Vec<(usize, WaitTarget, Taking)> = Vec::new();
                for id in mailboxes {
                    let Some(mb) = self.mailboxes.get(id) else {
                        continue;
                    };
                    for receiver in mb.receivers.iter().filter(|r| r.ticket == ticket) {
                        let target = match (&mb.kind, receiver.selector) {
                            (Kind::Inbox(_), Selector::From(sender)) => WaitTarget::Process(sender),
                            (Kind::Inbox(_), _) => WaitTarget::Inbox,
                            (Kind::Named(name), _) => WaitTarget::Mailbox(name.to_string()),
                        };
                        branches.push((receiver.branch, target, receiver.taking));
                    }
                }
                branches.sort_by_key(|(branch, ..)| *branch);
                let leased = branches
                    .iter()
                    .any(|(_, _, taking)| *taking == Taking::Leased);
                WaitInfo {
                    kind: if leased {
                        WaitKind::Lease
                    } else {
                        WaitKind::Recv
                    },
                    on: branches.into_iter().map(|(_, target, _)| target).collect(),
                    since: *since,
                }
            }
            Waiter::Send { mailbox, since, .. } => WaitInfo {
                kind: WaitKind::Send,
                on: self.send_target(*mailbox).into_iter().collect(),
                since: *since,
            },
            Waiter::Receipt { mailbox, since, .. } => WaitInfo {
                kind: WaitKind::Receipt,
                on: self.send_target(*mailbox).into_iter().collect(),
                since: *since,
            },
            Waiter::Call { mailbox, since, .. } => WaitInfo {
                kind: WaitKind::Call,
                on: self.send_target(*mailbox).into_iter().collect(),
                since: *since,
            },
        }
    }

    /// Where a send into `mailbox` goes: the mailbox by name, or the process whose inbox it is.
    fn send_target(&self, mailbox: MailboxId) -> Option<WaitTarget> {
        Some(match &self.mailboxes.get(&mailbox)?.kind {
            Kind::Inbox(owner) => WaitTarget::Process(*owner),
            Kind::Named(name) => WaitTarget::Mailbox(name.to_string()),
        })
    }
}

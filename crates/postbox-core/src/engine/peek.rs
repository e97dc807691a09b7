//! Peeking: looking at queued messages without taking them (System V's `MSG_COPY`).
//!
//! A peek is read-only: the queue, the mailbox's statistics (nothing counts as received), its
//! waiting receivers and senders, and any exclusive or pair right are exactly as before. It sees
//! what is *queued*: messages on lease are with their receivers (they come back only if
//! returned), and messages that waiting senders still hold — for room, or for a rendezvous in a
//! zero-capacity mailbox — are not queued yet.

use super::Engine;
use crate::mailbox::{Kind, Mailbox};
use crate::{AdminError, Credentials, Mode, Pid, Received, Receivers, Selector, Source};

impl Engine {
    /// Copies of up to `max` messages queued in `source` that `selector` matches, in the order
    /// successive receives with that selector would take them: queue order (in a priority
    /// mailbox, highest priority first, FIFO among equals), and for
    /// [`Selector::TypeAtMost`] the lowest type first, queue order among equals. Nothing changes.
    ///
    /// Who may peek is who may receive: a process's inbox only by that process; a mailbox by a
    /// process that has it open and whose credentials the mode gives `r`, and, under the `Owner`
    /// receivers policy, only by the owner or a process granted the right. A peek takes nothing,
    /// so it neither needs nor claims an exclusive or pair receive right.
    ///
    /// # Errors
    ///
    /// `Disconnected` (the caller is not a live process), `Gone` (the mailbox was deleted),
    /// `PermissionDenied` (see above).
    pub fn peek(
        &self,
        pid: Pid,
        source: Source,
        selector: Selector,
        max: usize,
    ) -> Result<Vec<Received>, AdminError> {
        let process = self.processes.get(&pid).ok_or(AdminError::Disconnected)?;
        let mailbox = match source {
            Source::Inbox => process.inbox,
            Source::Mailbox(id) => id,
        };
        let mb = self.mailboxes.get(&mailbox).ok_or(AdminError::Gone)?;
        if !may_peek(mb, pid, process.creds) {
            return Err(AdminError::PermissionDenied);
        }
        // A broadcast member sees its own backlog; a process that is no member has none.
        let empty;
        let queue = if mb.is_broadcast() {
            match mb.members.backlog(pid) {
                Some(backlog) => backlog,
                None => {
                    empty = crate::queue::Queue::new(mb.attrs.order);
                    &empty
                }
            }
        } else {
            &mb.queue
        };
        let matching = queue
            .iter()
            .map(|(_, entry)| entry)
            .filter(|entry| selector.matches(entry.message.mtype, entry.sender));
        let copy = |entry: &crate::queue::Entry| Received {
            message: entry.message.clone(),
            sender: entry.sender,
            seq: entry.seq,
            sent_at: entry.sent_at,
            kind: entry.kind,
            // The delivery a receive would make now.
            attempt: entry.deliveries.saturating_add(1),
        };
        Ok(match selector {
            // Each receive takes the lowest type left; a stable sort keeps queue order among
            // equals. The whole queue is looked at, as a receive looks at it.
            Selector::TypeAtMost(_) => {
                let mut all: Vec<_> = matching.collect();
                all.sort_by_key(|entry| entry.message.mtype);
                all.into_iter().take(max).map(copy).collect()
            }
            _ => matching.take(max).map(copy).collect(),
        })
    }
}

/// Whether `pid`, running as `creds`, may look at what `mb` holds: whether it may receive from
/// it, leaving aside the exclusive and pair rights that only taking claims.
fn may_peek(mb: &Mailbox, pid: Pid, creds: Credentials) -> bool {
    if let Kind::Inbox(owner) = mb.kind {
        return owner == pid;
    }
    if !mb.opens.contains_key(&pid) || !mb.attrs.mode.allows(creds, mb.owner_creds, Mode::READ) {
        return false;
    }
    match mb.attrs.receivers {
        Receivers::Owner => mb.owns_or_granted(pid, creds),
        Receivers::Exclusive | Receivers::Shared(_) | Receivers::Pair | Receivers::Broadcast => {
            true
        }
    }
}

//! Purging: dropping everything queued in a mailbox at once.

use super::{Engine, live};
use crate::{AdminError, MailboxId, Pid, SendErrorKind, Timestamp};

impl Engine {
    /// Drops every message queued in `mailbox` and returns how many it dropped. They count as
    /// dropped in the mailbox's and the engine's statistics, as drop-oldest overflow's do, and a
    /// sender awaiting the receipt of one gets `Dropped` with its message back, and so does a caller
    /// whose request it was. Senders waiting
    /// for room are let in at once, in order, as far as the room allows (so the queue may not be
    /// empty afterwards); their messages are not dropped.
    ///
    /// Only what is queued goes: messages on lease stay with their receivers (one returned later
    /// comes back to the queue), and a zero-capacity mailbox, whose messages wait with their
    /// senders, has nothing to purge.
    ///
    /// Only the owner may purge, as only the owner may delete: the owning process of a
    /// process-owned mailbox, any process of the owning uid of a system-owned one, or uid 0.
    ///
    /// # Errors
    ///
    /// `Disconnected` (the caller is not a live process), `Gone` (the mailbox was deleted),
    /// `PermissionDenied` (not the owner or uid 0; an inbox is never purged).
    pub fn purge(
        &mut self,
        pid: Pid,
        mailbox: MailboxId,
        now: Timestamp,
    ) -> Result<usize, AdminError> {
        self.check_owner(pid, mailbox)?;
        if self.mailboxes[&mailbox].is_broadcast() {
            let count = self.clear_broadcast(mailbox, SendErrorKind::Dropped);
            let mb = live(&mut self.mailboxes, mailbox);
            mb.counters.dropped += count as u64;
            self.total_dropped += count as u64;
            self.admit_waiting_senders(mailbox, now);
            return Ok(count);
        }
        let mb = live(&mut self.mailboxes, mailbox);
        let dropped = mb.queue.drain();
        let count = dropped.len();
        mb.counters.dropped += count as u64;
        self.total_dropped += count as u64;
        for entry in dropped {
            self.journal_removed(mailbox, entry.seq);
            self.queued_messages -= 1;
            self.queued_bytes -= entry.message.len();
            if let Some(ticket) = entry.receipt {
                self.fail_sender(ticket, SendErrorKind::Dropped, entry.message);
            }
        }
        self.admit_waiting_senders(mailbox, now);
        Ok(count)
    }
}

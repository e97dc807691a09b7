//! Leased receives: a message handed to a receiver that its mailbox keeps until the receiver
//! settles it — acknowledged (gone for good) or returned (back in the queue at its old place,
//! ahead of everything accepted after it, and offered to waiting receivers first).
//!
//! This is what lets a consumer keep a window of receives in flight: when it stops, whatever it
//! took and never used goes back for the others. A process that closes its last handle on the
//! mailbox, or terminates, returns every lease it still holds there.
//!
//! Accounting: a leased message counts as received (and stops counting when it is returned),
//! is no longer queued, and is still charged against the quota, as a queued message is, until it
//! is settled.

use super::Engine;
use crate::limits::message_charge;
use crate::mailbox::{Lease, Taking};
use crate::queue::Entry;
use crate::{Branch, MailboxId, Pid, RecvError, RecvOutcome, SelectError, Source, Timestamp, Wait};

/// What to do with leased messages.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Settlement {
    /// The receiver is done with them: they leave the mailbox.
    Ack,
    /// The receiver gives them back: they return to the queue at their old place.
    Return,
}

impl Engine {
    /// Receives one message like [`Engine::recv`], on lease: the mailbox keeps it until `pid`
    /// settles it with [`Engine::settle`] by its sequence number, and takes it back when `pid`
    /// closes the mailbox or terminates first. From a zero-capacity mailbox the message is taken
    /// outright (the rendezvous completed when the receiver got it; there is no place to return
    /// it to), and so is a down notification (a fact, not work to hand back).
    ///
    /// # Errors
    ///
    /// As [`Engine::recv`].
    pub fn lease(
        &mut self,
        pid: Pid,
        branches: &[Branch],
        wait: Wait,
        now: Timestamp,
    ) -> Result<RecvOutcome, SelectError> {
        self.receive(pid, branches, wait, now, Taking::Leased)
    }

    /// Settles the messages `pid` holds on lease from `source` with these sequence numbers.
    /// Sequence numbers `pid` does not hold there (never leased, already settled, or returned
    /// and leased since by another) are skipped: settling is idempotent, and a late settlement
    /// cannot touch someone else's lease. Returns how many were settled.
    ///
    /// # Errors
    ///
    /// `Disconnected` (the caller is not a live process), `Gone` (the mailbox was deleted: its
    /// leases went with it).
    pub fn settle(
        &mut self,
        pid: Pid,
        source: Source,
        seqs: &[u64],
        settlement: Settlement,
        now: Timestamp,
    ) -> Result<usize, RecvError> {
        let process = self.processes.get(&pid).ok_or(RecvError::Disconnected)?;
        let mailbox = match source {
            Source::Inbox => process.inbox,
            Source::Mailbox(id) => id,
        };
        let mb = self.mailboxes.get_mut(&mailbox).ok_or(RecvError::Gone)?;
        let mut settled = Vec::new();
        for seq in seqs {
            if mb.leases.get(seq).is_some_and(|lease| lease.holder == pid) {
                settled.extend(mb.leases.remove(seq).map(|lease| lease.entry));
            }
        }
        let count = settled.len();
        match settlement {
            Settlement::Ack => {
                for entry in settled {
                    self.leased_charge -= message_charge(entry.message.len());
                }
            }
            Settlement::Return => self.put_back(mailbox, settled, now),
        }
        Ok(count)
    }

    /// How many messages `mailbox` has on lease.
    pub fn leased(&self, mailbox: MailboxId) -> usize {
        self.mailboxes.get(&mailbox).map_or(0, |mb| mb.leases.len())
    }

    /// Keeps a message just handed to `holder` on lease.
    pub(super) fn keep_leased(&mut self, mailbox: MailboxId, holder: Pid, entry: Entry) {
        self.leased_charge += message_charge(entry.message.len());
        let mb = self
            .mailboxes
            .get_mut(&mailbox)
            .expect("leasing from a live mailbox");
        mb.leases.insert(entry.seq, Lease { holder, entry });
    }

    /// Returns every lease `pid` holds on `mailbox` (it closed the mailbox or terminated).
    pub(super) fn return_leases(&mut self, pid: Pid, mailbox: MailboxId, now: Timestamp) {
        let Some(mb) = self.mailboxes.get_mut(&mailbox) else {
            return;
        };
        if mb.leases.is_empty() {
            return;
        }
        let held: Vec<u64> = mb
            .leases
            .iter()
            .filter(|(_, lease)| lease.holder == pid)
            .map(|(&seq, _)| seq)
            .collect();
        let entries = held
            .iter()
            .filter_map(|seq| mb.leases.remove(seq))
            .map(|lease| lease.entry)
            .collect();
        self.put_back(mailbox, entries, now);
    }

    /// Puts returned messages back: each, in sequence order, goes first to a waiting receiver
    /// that matches it (none can match anything already queued), the rest into the queue at
    /// their old places. They no longer count as received.
    fn put_back(&mut self, mailbox: MailboxId, mut entries: Vec<Entry>, now: Timestamp) {
        if entries.is_empty() {
            return;
        }
        entries.sort_by_key(|entry| entry.seq);
        let returned = entries.len() as u64;
        let mb = self.mailboxes.get_mut(&mailbox).expect("live mailbox");
        mb.counters.received -= returned;
        self.total_received -= returned;
        let mut unclaimed = Vec::new();
        for entry in entries {
            self.leased_charge -= message_charge(entry.message.len());
            if let Err(entry) = self.offer(mailbox, entry, now) {
                unclaimed.push(entry);
            }
        }
        self.queued_messages += unclaimed.len();
        self.queued_bytes += unclaimed.iter().map(|e| e.message.len()).sum::<usize>();
        let mb = self.mailboxes.get_mut(&mailbox).expect("live mailbox");
        mb.queue.restore(unclaimed);
    }
}

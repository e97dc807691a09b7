//! Leased receives: a message handed to a receiver that its mailbox keeps until the receiver
//! settles it — acknowledged (gone for good) or returned (back in the queue at its old place,
//! ahead of everything accepted after it, and offered to waiting receivers first).
//!
//! This is what lets a consumer keep a window of receives in flight: when it stops, whatever it
//! took and never used goes back for the others. A process that closes its last handle on the
//! mailbox, or terminates, returns every lease it still holds there; with a lease time (see
//! [`Redelivery`](crate::Redelivery)) a lease also ends by itself, for receivers that live on
//! but never answer.
//!
//! Each hand-out is one *attempt*, numbered per message; a lease is named by sequence number
//! and attempt ([`LeaseId`]), so a settlement that arrives after its lease ended (expired and
//! handed out again, perhaps to the same process) settles nothing.
//!
//! Accounting: a leased message counts as received (and stops counting when it is returned),
//! is no longer queued, and is still charged against the quota, as a queued message is, until it
//! is settled.

use super::{Engine, live};
use crate::attrs::Capacity;
use crate::engine::send::broken_rule;
use crate::limits::message_charge;
use crate::mailbox::{Kind, Lease, Taking};
use crate::queue::Entry;
use crate::{
    Branch, Credentials, MailboxId, MessageKind, Mode, Pid, Received, RecvError, RecvOutcome,
    SelectError, Source, Timestamp, Wait,
};

/// What to do with leased messages.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Settlement {
    /// The receiver is done with them: they leave the mailbox.
    Ack,
    /// The receiver gives them back: they return to the queue at their old place.
    Return,
}

/// One lease: which message (its sequence number in the mailbox) and which delivery of it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LeaseId {
    /// [`Received::seq`].
    pub seq: u64,
    /// [`Received::attempt`].
    pub attempt: u32,
}

impl From<&Received> for LeaseId {
    fn from(received: &Received) -> LeaseId {
        LeaseId {
            seq: received.seq,
            attempt: received.attempt,
        }
    }
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

    /// Settles these leases of `pid` on `source`. Leases `pid` does not hold there (never
    /// leased, already settled, expired, or returned — whether or not the message was handed out
    /// again since, to another process or to `pid` itself) are skipped: settling is idempotent,
    /// and a late settlement cannot touch a later lease. Returns how many were settled.
    ///
    /// In a zero-capacity mailbox a lease request takes its message outright (the rendezvous
    /// completed): acknowledging any message the mailbox ever accepted there counts as settled,
    /// so that a receiver can always tell "acknowledged" from "too late".
    ///
    /// # Errors
    ///
    /// `Disconnected` (the caller is not a live process), `Gone` (the mailbox was deleted: its
    /// leases went with it).
    pub fn settle(
        &mut self,
        pid: Pid,
        source: Source,
        leases: &[LeaseId],
        settlement: Settlement,
        now: Timestamp,
    ) -> Result<usize, RecvError> {
        let process = self.processes.get(&pid).ok_or(RecvError::Disconnected)?;
        let mailbox = match source {
            Source::Inbox => process.inbox,
            Source::Mailbox(id) => id,
        };
        let mb = self.mailboxes.get_mut(&mailbox).ok_or(RecvError::Gone)?;
        if mb.attrs.capacity == Capacity::Zero {
            let accepted = |id: &&LeaseId| id.seq < mb.next_seq && id.attempt == 1;
            return Ok(match settlement {
                Settlement::Ack => leases.iter().filter(accepted).count(),
                Settlement::Return => 0,
            });
        }
        let mut settled = Vec::new();
        for id in leases {
            let held = mb
                .leases
                .get(&id.seq)
                .is_some_and(|lease| lease.holder == pid && lease.entry.deliveries == id.attempt);
            if let Some(lease) = held.then(|| mb.leases.remove(&id.seq)).flatten() {
                if let Some(at) = lease.expires {
                    self.lease_expiries.remove(&(at, mailbox, id.seq));
                }
                settled.push(lease.entry);
            }
        }
        let count = settled.len();
        match settlement {
            Settlement::Ack => {
                for entry in settled {
                    self.leased_charge -= message_charge(entry.message.len());
                    self.journal_removed(mailbox, entry.seq);
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

    /// When the next lease ends by itself, if any lease has a lease time: the driver calls
    /// [`Engine::expire_leases`] then (and again whenever this moves earlier, after a lease).
    pub fn next_lease_expiry(&self) -> Option<Timestamp> {
        self.lease_expiries.first().map(|&(at, ..)| at)
    }

    /// Ends every lease whose time is up at `now`: each message goes back as if returned by
    /// its holder (waiting receivers first, then its old place in the queue), or — delivered
    /// the mailbox's most times — on to its dead-letter mailbox. Returns how many expired.
    pub fn expire_leases(&mut self, now: Timestamp) -> usize {
        let mut expired: Vec<(MailboxId, Entry)> = Vec::new();
        while let Some(&(at, mailbox, seq)) = self.lease_expiries.first() {
            if at > now {
                break;
            }
            self.lease_expiries.pop_first();
            let Some(mb) = self.mailboxes.get_mut(&mailbox) else {
                continue;
            };
            if mb.leases.get(&seq).is_some_and(|l| l.expires == Some(at)) {
                expired.extend(mb.leases.remove(&seq).map(|l| (mailbox, l.entry)));
            }
        }
        let count = expired.len();
        expired.sort_by_key(|(mailbox, _)| *mailbox);
        while let Some(&(mailbox, _)) = expired.first() {
            let split = expired.partition_point(|(m, _)| *m == mailbox);
            let entries = expired.drain(..split).map(|(_, entry)| entry).collect();
            self.put_back(mailbox, entries, now);
        }
        count
    }

    /// Keeps a message just handed to `holder` on lease, until the mailbox's lease time.
    pub(super) fn keep_leased(
        &mut self,
        mailbox: MailboxId,
        holder: Pid,
        entry: Entry,
        now: Timestamp,
    ) {
        self.leased_charge += message_charge(entry.message.len());
        let mb = live(&mut self.mailboxes, mailbox);
        let expires = mb
            .attrs
            .redelivery
            .lease_time
            .map(|t| now.saturating_add(t));
        if let Some(at) = expires {
            self.lease_expiries.insert((at, mailbox, entry.seq));
        }
        let lease = Lease {
            holder,
            entry,
            expires,
        };
        mb.leases.insert(lease.entry.seq, lease);
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
        let mut entries = Vec::with_capacity(held.len());
        for lease in held.iter().filter_map(|seq| mb.leases.remove(seq)) {
            if let Some(at) = lease.expires {
                self.lease_expiries.remove(&(at, mailbox, lease.entry.seq));
            }
            entries.push(lease.entry);
        }
        self.put_back(mailbox, entries, now);
    }

    /// Puts returned messages back: each, in sequence order, goes first to a waiting receiver
    /// that matches it (none can match anything already queued), the rest into the queue at
    /// their old places. They no longer count as received. A message delivered the mailbox's
    /// most times leaves instead, by [`Engine::retire`].
    fn put_back(&mut self, mailbox: MailboxId, mut entries: Vec<Entry>, now: Timestamp) {
        if entries.is_empty() {
            return;
        }
        entries.sort_by_key(|entry| entry.seq);
        let returned = entries.len() as u64;
        let mb = live(&mut self.mailboxes, mailbox);
        mb.counters.received -= returned;
        self.total_received -= returned;
        let max_deliveries = mb.attrs.redelivery.max_deliveries;
        let mut unclaimed = Vec::new();
        for entry in entries {
            self.leased_charge -= message_charge(entry.message.len());
            let spent = max_deliveries.is_some_and(|max| entry.deliveries >= max);
            let Some(entry) = (if spent {
                self.retire(mailbox, entry, now)
            } else {
                Some(entry)
            }) else {
                continue;
            };
            if let Err(entry) = self.offer(mailbox, entry, now) {
                unclaimed.push(entry);
            }
        }
        self.queued_messages += unclaimed.len();
        self.queued_bytes += unclaimed.iter().map(|e| e.message.len()).sum::<usize>();
        let mb = live(&mut self.mailboxes, mailbox);
        mb.queue.restore(unclaimed);
    }

    /// A message delivered `max_deliveries` times came back: it moves to the mailbox's
    /// dead-letter mailbox, or without one is dropped; both are counted. When the dead-letter
    /// mailbox cannot take it now (gone, full, lent to a transport, its rules or permissions
    /// refuse it) the message is handed back to stay where it is, to be tried again at its next
    /// return: nothing is lost for want of room.
    fn retire(&mut self, mailbox: MailboxId, entry: Entry, now: Timestamp) -> Option<Entry> {
        let mb = &self.mailboxes[&mailbox];
        let (target, creds) = (mb.attrs.redelivery.dead_letter, mb.owner_creds);
        let seq = entry.seq;
        let moved = match target {
            None => {
                self.journal_removed(mailbox, seq);
                let mb = live(&mut self.mailboxes, mailbox);
                mb.counters.dropped += 1;
                self.total_dropped += 1;
                return None;
            }
            Some(target) if target == mailbox => Err(entry),
            Some(target) => self.dead_letter(target, creds, entry, now),
        };
        match moved {
            Ok(()) => {
                self.journal_removed(mailbox, seq);
                let mb = live(&mut self.mailboxes, mailbox);
                mb.counters.dead_lettered += 1;
                self.total_dead_lettered += 1;
                None
            }
            Err(entry) => Some(entry),
        }
    }

    /// Sends `entry`'s message into `target` without waiting, on behalf of the mailbox whose
    /// owner has `creds`: as a new message there from the same sender, its deliveries counted
    /// afresh. Hands the entry back when `target` cannot take it now.
    fn dead_letter(
        &mut self,
        target: MailboxId,
        creds: Credentials,
        entry: Entry,
        now: Timestamp,
    ) -> Result<(), Entry> {
        let Some(mb) = self.mailboxes.get(&target) else {
            return Err(entry);
        };
        let len = entry.message.len();
        let refused = !matches!(mb.kind, Kind::Named(_))
            || self.delegated.contains_key(&target)
            || !mb.attrs.mode.allows(creds, mb.owner_creds, Mode::WRITE)
            || broken_rule(
                &entry.message,
                mb.attrs.size,
                mb.attrs.capacity,
                self.limits.max_message_size,
            )
            .is_some();
        if refused {
            return Err(entry);
        }
        // Behind a tail on disk the message queues: older messages go first.
        let waiter = match mb.queue.tail() {
            None => mb.choose_receiver(entry.message.mtype, entry.sender),
            Some(_) => None,
        };
        if let Some(waiter) = waiter {
            if waiter.taking == Taking::Leased && !self.quota_fits(message_charge(len), 0) {
                return Err(entry);
            }
            let fresh = self.accept(
                target,
                entry.sender,
                entry.message,
                now,
                None,
                MessageKind::User,
            );
            self.deliver(target, waiter, fresh, now);
            return Ok(());
        }
        let has_room = mb.attrs.capacity != Capacity::Zero
            && mb.blocked_senders.is_empty()
            && mb.has_room_for(len);
        if !has_room || !self.quota_fits(message_charge(len), 0) {
            return Err(entry);
        }
        let fresh = self.accept(
            target,
            entry.sender,
            entry.message,
            now,
            None,
            MessageKind::User,
        );
        self.push_entry(target, fresh);
        Ok(())
    }
}

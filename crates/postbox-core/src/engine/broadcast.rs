//! Broadcast mailboxes: every message to every member, each member with its own backlog.
//!
//! Members are the processes that have received (or tried to) from the mailbox and still have it
//! open: a process that only sends never becomes one, so a publisher cannot fill a backlog of its
//! own. A message is accepted once and fanned out to the members of that moment: a member waiting
//! with a matching receive takes it at once, the others find a copy in their backlog. The bound
//! applies to each backlog: a full one makes senders wait (or fail with `Full`), or with
//! drop-oldest loses its own oldest copy. A sender awaiting a receipt — and every rendezvous
//! sender — waits until no member owes the message any more.

use super::{Engine, Waiter, live};
use crate::limits::message_charge;
use crate::mailbox::{BlockedSend, WaitingReceiver};
use crate::members::{Owed, room};
use crate::queue::{Entry, Queue};
use crate::{
    Capacity, Completion, Delivery, MailboxId, Message, MessageKind, Overflow, Pid, Received,
    SendError, SendErrorKind, SendOutcome, Ticket, Timestamp, Wait,
};

impl Engine {
    /// Sends a checked user message to the broadcast mailbox `mailbox` (see the module docs).
    /// With no members the send succeeds and the message is dropped and counted, as a PUB socket
    /// with no subscribers does.
    pub(super) fn send_broadcast(
        &mut self,
        from: Pid,
        mailbox: MailboxId,
        message: Message,
        delivery: Delivery,
        wait: Wait,
        now: Timestamp,
    ) -> Result<SendOutcome, SendError> {
        let mb = &self.mailboxes[&mailbox];
        let len = message.len();
        let rendezvous = mb.attrs.capacity == Capacity::Zero;
        let wants_receipt = rendezvous || delivery == Delivery::Receipt;
        if rendezvous {
            let all_waiting = mb
                .members
                .pids()
                .into_iter()
                .all(|pid| waiting_member(&mb.receivers, pid, message.mtype, from).is_some());
            if wait == Wait::Try && !all_waiting {
                return Err(SendError::new(SendErrorKind::Full, message));
            }
        } else {
            let has_room = mb.blocked_senders.is_empty() && mb.has_room_for(len);
            if !has_room && mb.attrs.overflow == Overflow::Block {
                return match wait {
                    Wait::Try => Err(SendError::new(SendErrorKind::Full, message)),
                    Wait::Block => self.block_broadcast(from, mailbox, message, wants_receipt, now),
                };
            }
        }
        // Every member may need a copy; what drop-oldest frees is not counted (conservative).
        let charge = message_charge(len).saturating_mul(mb.members.len());
        if !self.quota_fits(charge, 0) {
            return Err(SendError::new(SendErrorKind::QuotaExceeded, message));
        }
        if !rendezvous {
            self.drop_oldest_per_member(mailbox, len);
        }
        let entry = self.accept(mailbox, from, message, now, None, MessageKind::User);
        Ok(self.fan_out(mailbox, entry, wants_receipt, None, now))
    }

    /// Makes a broadcast send wait for room in every backlog, holding its message.
    fn block_broadcast(
        &mut self,
        sender: Pid,
        mailbox: MailboxId,
        message: Message,
        wants_receipt: bool,
        now: Timestamp,
    ) -> Result<SendOutcome, SendError> {
        let charge = message_charge(message.len());
        if !self.quota_fits(charge, 0) {
            return Err(SendError::new(SendErrorKind::QuotaExceeded, message));
        }
        self.waiting_charge += charge;
        let ticket = self.new_ticket();
        let mb = live(&mut self.mailboxes, mailbox);
        mb.blocked_senders.push_back(BlockedSend {
            ticket,
            sender,
            message,
            sent_at: now,
            wants_receipt,
            kind: MessageKind::User,
            stamp: None,
        });
        let waiter = Waiter::Send {
            pid: sender,
            mailbox,
            since: now,
        };
        self.waiters.insert(ticket, waiter);
        Ok(SendOutcome::Blocked(ticket))
    }

    /// A waiting broadcast sender whose message now fits every backlog: accepted and fanned out;
    /// its send completes, or awaits its receipt under its own ticket.
    pub(super) fn admit_broadcast(
        &mut self,
        mailbox: MailboxId,
        blocked: BlockedSend,
        now: Timestamp,
    ) {
        self.release_waiting(&blocked.message);
        let entry = self.accept(
            mailbox,
            blocked.sender,
            blocked.message,
            blocked.sent_at,
            None,
            MessageKind::User,
        );
        if let Some(stamp) = blocked.stamp {
            self.record_producer(mailbox, stamp, None);
        }
        self.waiters.remove(&blocked.ticket);
        let outcome = self.fan_out(
            mailbox,
            entry,
            blocked.wants_receipt,
            Some(blocked.ticket),
            now,
        );
        if let SendOutcome::Sent { receiver } = outcome {
            self.complete(blocked.ticket, Completion::Sent { receiver });
        }
    }

    /// Gives `entry` to every member: a waiting matching receive takes it at once, the other
    /// members get a copy in their backlog. With `wants_receipt`, the sender waits (under
    /// `ticket`, or a new one) until no backlog holds it.
    fn fan_out(
        &mut self,
        mailbox: MailboxId,
        entry: Entry,
        wants_receipt: bool,
        ticket: Option<Ticket>,
        now: Timestamp,
    ) -> SendOutcome {
        let members = self.mailboxes[&mailbox].members.pids();
        let (seq, len) = (entry.seq, entry.message.len());
        let sender = entry.sender;
        let mut copies = 0;
        for &pid in &members {
            let copy = copy_of(&entry);
            let mb = &self.mailboxes[&mailbox];
            match waiting_member(&mb.receivers, pid, copy.message.mtype, sender) {
                Some(waiter) => self.deliver(mailbox, waiter, copy, now),
                None => {
                    self.queued_messages += 1;
                    self.queued_bytes += len;
                    let mb = live(&mut self.mailboxes, mailbox);
                    mb.members
                        .backlog_mut(pid)
                        .expect("a member has a backlog")
                        .push(copy);
                    copies += 1;
                }
            }
        }
        let mb = live(&mut self.mailboxes, mailbox);
        if members.is_empty() {
            mb.counters.dropped += 1;
            self.total_dropped += 1;
        }
        mb.members.owe(seq, len, copies);
        if !wants_receipt || copies == 0 {
            return SendOutcome::Sent { receiver: None };
        }
        let ticket = ticket.unwrap_or_else(|| self.new_ticket());
        let mb = live(&mut self.mailboxes, mailbox);
        let owed = mb.members.owed_mut(seq).expect("owed just now");
        owed.receipt = Some((ticket, entry.message));
        let waiter = Waiter::Receipt {
            pid: sender,
            mailbox,
            since: now,
        };
        self.waiters.insert(ticket, waiter);
        SendOutcome::Blocked(ticket)
    }

    /// In every backlog without room for `len` more bytes, drops the oldest copies until it has.
    fn drop_oldest_per_member(&mut self, mailbox: MailboxId, len: usize) {
        let capacity = self.mailboxes[&mailbox].attrs.capacity;
        for pid in self.mailboxes[&mailbox].members.pids() {
            loop {
                let mb = live(&mut self.mailboxes, mailbox);
                let backlog = mb.members.backlog_mut(pid).expect("a member has a backlog");
                if room(backlog, capacity, len) {
                    break;
                }
                let Some(slot) = backlog.oldest_to_drop() else {
                    break;
                };
                let entry = backlog.remove(slot);
                mb.counters.dropped += 1;
                self.total_dropped += 1;
                self.release_copy(mailbox, &entry, true);
            }
        }
    }

    /// Member `pid` takes the copy `selector` picks from its backlog now, if there is one.
    pub(super) fn take_broadcast(
        &mut self,
        pid: Pid,
        mailbox: MailboxId,
        selector: crate::Selector,
        now: Timestamp,
    ) -> Option<Received> {
        let mb = live(&mut self.mailboxes, mailbox);
        let backlog = mb.members.backlog_mut(pid)?;
        let slot = backlog.find(selector)?;
        let entry = backlog.remove(slot);
        self.release_copy(mailbox, &entry, false);
        let message = self.hand_over(mailbox, pid, entry, now, crate::mailbox::Taking::Outright);
        self.admit_waiting_senders(mailbox, now);
        Some(message)
    }

    /// A copy left a backlog (taken, dropped, or released by a leaving member): the quota gets
    /// its charge back, and once no backlog holds the message, a sender awaiting it is told —
    /// `Dropped` if some member lost its copy, else sent.
    fn release_copy(&mut self, mailbox: MailboxId, entry: &Entry, dropped: bool) {
        self.queued_messages -= 1;
        self.queued_bytes -= entry.message.len();
        let mb = live(&mut self.mailboxes, mailbox);
        let Some(owed) = mb.members.settle_copy(entry.seq, dropped) else {
            return;
        };
        self.settle_owed(owed);
    }

    fn settle_owed(&mut self, owed: Owed) {
        let Some((ticket, message)) = owed.receipt else {
            return;
        };
        if owed.dropped {
            self.fail_sender(ticket, SendErrorKind::Dropped, message);
        } else {
            self.waiters.remove(&ticket);
            self.complete(ticket, Completion::Sent { receiver: None });
        }
    }

    /// Member `pid` left (closed its last handle or terminated): its backlog is released, as if
    /// taken, so that senders waiting only on it go on.
    pub(super) fn leave_broadcast(&mut self, pid: Pid, mailbox: MailboxId) {
        let mb = live(&mut self.mailboxes, mailbox);
        let Some(mut backlog) = mb.members.leave(pid) else {
            return;
        };
        for entry in backlog.drain() {
            self.release_copy(mailbox, &entry, false);
        }
    }

    /// Withdraws the broadcast message whose sender awaits it under `ticket` from every backlog
    /// still holding it, handing it back. Members that took it already keep it.
    pub(super) fn withdraw_broadcast(
        &mut self,
        mailbox: MailboxId,
        ticket: Ticket,
    ) -> Option<Message> {
        let mb = self.mailboxes.get_mut(&mailbox)?;
        let seq = mb.members.seq_of_receipt(ticket)?;
        let owed = mb.members.forget(seq)?;
        let mut removed = 0;
        for pid in mb.members.pids() {
            let backlog = mb.members.backlog_mut(pid).expect("a member has a backlog");
            if let Some(slot) = slot_of(backlog, seq) {
                backlog.remove(slot);
                removed += 1;
            }
        }
        self.queued_messages -= removed;
        self.queued_bytes -= removed * owed.len;
        owed.receipt.map(|(_, message)| message)
    }

    /// Empties every backlog of `mailbox` (a purge or a delete): returns how many copies went;
    /// senders awaiting them fail with `kind`, their message handed back.
    pub(super) fn clear_broadcast(&mut self, mailbox: MailboxId, kind: SendErrorKind) -> usize {
        let Some(mb) = self.mailboxes.get_mut(&mailbox) else {
            return 0;
        };
        let copies = mb.members.drain();
        let owed = mb.members.take_owed();
        for entry in &copies {
            self.queued_messages -= 1;
            self.queued_bytes -= entry.message.len();
        }
        for owed in owed {
            if let Some((ticket, message)) = owed.receipt {
                self.fail_sender(ticket, kind, message);
            }
        }
        copies.len()
    }
}

/// The longest-waiting receive of `pid` among `receivers` that takes a message of `mtype` from
/// `sender`.
fn waiting_member(
    receivers: &[WaitingReceiver],
    pid: Pid,
    mtype: i64,
    sender: Pid,
) -> Option<WaitingReceiver> {
    receivers
        .iter()
        .find(|w| w.pid == pid && w.selector.matches(mtype, sender))
        .copied()
}

/// One member's copy of an accepted message (the payload is shared).
fn copy_of(entry: &Entry) -> Entry {
    Entry {
        message: entry.message.clone(),
        sender: entry.sender,
        seq: entry.seq,
        sent_at: entry.sent_at,
        receipt: None,
        kind: entry.kind,
        deliveries: 0,
    }
}

/// Where message `seq` sits in `backlog`, if it does.
fn slot_of(backlog: &Queue, seq: u64) -> Option<usize> {
    backlog
        .iter()
        .find(|(_, entry)| entry.seq == seq)
        .map(|(slot, _)| slot)
}

//! Paging: a durable mailbox whose oldest messages are in memory and the rest on its host's disk.
//!
//! A daemon restarted with a million stored messages need not hold them all to answer. It
//! restores each durable mailbox with its oldest messages up to a [`ResidentBudget`] and a
//! [`DiskTail`] for the rest ([`Engine::restore_with_tail`]). The engine stays pure: it never
//! reads the disk, it says what it needs ([`PageIn`]) and the host reads it and hands it over
//! ([`Engine::page_in`]).
//!
//! The queue's length and bytes count the tail, so capacity checks, statistics and the quota are
//! exactly those of a mailbox holding everything. While a tail is on disk, a new message (a
//! send, a dead-letter move) extends it rather than going to memory or to a waiting receiver:
//! older messages are on disk, and order is kept. A message returned from a lease is older than
//! the tail and goes back into memory.
//!
//! The host asks twice:
//! - **before an operation**, what it needs to answer exactly as if everything were in memory
//!   ([`Engine::page_in_before`] with a [`Need`]): a receive or peek with [`Selector::Any`]
//!   needs only the first messages; a receive or peek with any other selector, a purge, and a
//!   send that waits for its message to be taken (a receipt, a call) need the whole queue;
//! - **after an operation**, whether some mailbox ran low ([`Engine::next_page_in`]): fewer
//!   than half its budget of messages and of bytes in memory. A receiver that waits on a mailbox
//!   whose messages are all on disk is served by the page-in.
//!
//! Only FIFO mailboxes that block when full keep a tail ([`keeps_tail_on_disk`]): in priority
//! order the oldest messages are not the first taken, and drop-oldest mailboxes are bounded by
//! their capacity anyway.

use super::{Engine, live};
use crate::queue::{DiskTail, Entry};
use crate::{
    Capacity, Durability, MailboxAttrs, MailboxId, MessageKind, Order, Overflow, Receivers,
    Selector, StoredMessage, Timestamp,
};

/// How much of a mailbox with a tail on disk the engine keeps in memory: at most this many
/// messages and bytes are paged in at a time, and a page-in is due when fewer than half of
/// both remain.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ResidentBudget {
    /// Messages (at least 1).
    pub messages: usize,
    /// Payload bytes (a message larger than this is still paged in, alone).
    pub bytes: usize,
}

impl ResidentBudget {
    /// 4,096 messages, 4 MiB: a page-in every 2,048 messages received, reading a few
    /// milliseconds' worth of the store.
    pub const DEFAULT: ResidentBudget = ResidentBudget {
        messages: 4096,
        bytes: 4 << 20,
    };
}

impl Default for ResidentBudget {
    fn default() -> ResidentBudget {
        ResidentBudget::DEFAULT
    }
}

/// A read the host owes the engine: the messages of `mailbox` stored with a sequence number of
/// `from_seq` or more, in sequence order, as many as `max_messages` and, beyond the first,
/// `max_bytes` of payload allow. Hand them to [`Engine::page_in`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PageIn {
    /// Whose messages.
    pub mailbox: MailboxId,
    /// The first sequence number to read from.
    pub from_seq: u64,
    /// The most messages to read (`usize::MAX`: all).
    pub max_messages: usize,
    /// The most payload bytes to read beyond the first message (`usize::MAX`: no limit).
    pub max_bytes: usize,
}

/// What an operation is about to need of a mailbox's queue.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Need {
    /// Its first messages in queue order, this many: a receive or peek with [`Selector::Any`].
    First(usize),
    /// Every message: any other receive or peek, a purge, a send whose sender waits for its
    /// message to be taken.
    Whole,
}

impl Need {
    /// What a receive (or a peek) of up to `messages` messages with `selector` needs.
    pub fn receive(selector: Selector, messages: usize) -> Need {
        match selector {
            Selector::Any => Need::First(messages.max(1)),
            _ => Need::Whole,
        }
    }
}

/// Whether a mailbox with these attributes may keep a tail on disk: a durable FIFO mailbox
/// that blocks when full, with a queue (not zero capacity, not broadcast).
pub fn keeps_tail_on_disk(attrs: &MailboxAttrs) -> bool {
    attrs.durability == Durability::Disk
        && attrs.order == Order::Fifo
        && attrs.overflow == Overflow::Block
        && attrs.capacity != Capacity::Zero
        && attrs.receivers != Receivers::Broadcast
}

impl Engine {
    /// Sets how much of a mailbox with a tail on disk is kept in memory (see
    /// [`ResidentBudget`]); a budget of 0 messages counts as 1.
    pub fn set_resident_budget(&mut self, budget: ResidentBudget) {
        self.resident_budget = ResidentBudget {
            messages: budget.messages.max(1),
            bytes: budget.bytes,
        };
    }

    /// The budget [`Engine::set_resident_budget`] set.
    pub fn resident_budget(&self) -> ResidentBudget {
        self.resident_budget
    }

    /// What of `mailbox`'s queue is on disk, if anything.
    pub fn disk_tail(&self, mailbox: MailboxId) -> Option<DiskTail> {
        self.mailboxes.get(&mailbox)?.queue.tail()
    }

    /// What the host must read before an operation that needs `need` of `mailbox`'s queue, so
    /// that it answers exactly as if the whole queue were in memory; `None` when nothing.
    pub fn page_in_before(&self, mailbox: MailboxId, need: Need) -> Option<PageIn> {
        let queue = &self.mailboxes.get(&mailbox)?.queue;
        let tail = queue.tail()?;
        let max_messages = match need {
            Need::First(wanted) if queue.resident_len() >= wanted => return None,
            Need::First(wanted) => wanted - queue.resident_len(),
            Need::Whole => usize::MAX,
        };
        Some(PageIn {
            mailbox,
            from_seq: tail.first_seq,
            max_messages,
            max_bytes: usize::MAX,
        })
    }

    /// A page-in that is due: a mailbox with a tail on disk has fewer than half its
    /// [`ResidentBudget`] of messages and of bytes in memory. The host reads it and calls
    /// [`Engine::page_in`], and asks again until this is `None`.
    pub fn next_page_in(&self) -> Option<PageIn> {
        let budget = self.resident_budget;
        self.tailed.iter().find_map(|&mailbox| {
            let queue = &self.mailboxes.get(&mailbox)?.queue;
            let tail = queue.tail()?;
            let (len, bytes) = (queue.resident_len(), queue.resident_bytes());
            let low = len == 0 || (len < budget.messages.div_ceil(2) && bytes < budget.bytes / 2);
            low.then(|| PageIn {
                mailbox,
                from_seq: tail.first_seq,
                max_messages: budget.messages.saturating_sub(len).max(1),
                max_bytes: budget.bytes.saturating_sub(bytes),
            })
        })
    }

    /// Moves `messages` (what the host read for a [`PageIn`] of `mailbox`, in sequence order)
    /// from the tail on disk into memory, and hands them to receivers waiting for them; senders
    /// waiting for room are then let in as the room allows.
    ///
    /// # Errors
    ///
    /// When `mailbox` has no tail (it was deleted meanwhile, say), or `messages` are not the
    /// next of its tail: none read, out of order, or more than the tail holds. Nothing changes.
    pub fn page_in(
        &mut self,
        mailbox: MailboxId,
        messages: Vec<(u64, StoredMessage)>,
        now: Timestamp,
    ) -> Result<(), String> {
        let Some(mb) = self.mailboxes.get_mut(&mailbox) else {
            return Err(format!("mailbox {} no longer exists", mailbox.as_raw()));
        };
        let entries = messages
            .into_iter()
            .map(|(seq, stored)| stored_entry(seq, stored));
        let left = mb
            .queue
            .page_in(entries.collect())
            .map_err(|why| format!("paging in mailbox {}: {why}", mailbox.as_raw()))?;
        if left.is_none() {
            self.tailed.remove(&mailbox);
        }
        self.serve_waiting_receivers(mailbox, now);
        self.admit_waiting_senders(mailbox, now);
        Ok(())
    }

    /// Gives queued messages to the receivers waiting on `mailbox` that match them, in queue
    /// order: what a send does for each message, for messages that arrived from disk.
    fn serve_waiting_receivers(&mut self, mailbox: MailboxId, now: Timestamp) {
        loop {
            let mb = &self.mailboxes[&mailbox];
            if mb.receivers.is_empty() {
                return;
            }
            let found = mb.queue.iter().find_map(|(slot, entry)| {
                mb.choose_receiver(entry.message.mtype, entry.sender)
                    .map(|waiter| (slot, waiter))
            });
            let Some((slot, waiter)) = found else {
                return;
            };
            let entry = self.remove_entry(mailbox, slot);
            self.deliver(mailbox, waiter, entry, now);
        }
    }

    /// Declares `tail` to follow the messages of `mailbox` in memory, counting it in the
    /// engine's totals (a restore).
    pub(super) fn attach_tail(&mut self, mailbox: MailboxId, tail: DiskTail) {
        let mb = live(&mut self.mailboxes, mailbox);
        mb.queue.set_tail(Some(tail));
        if mb.queue.tail().is_some() {
            self.queued_messages += tail.messages;
            self.queued_bytes += tail.bytes;
            self.tailed.insert(mailbox);
        }
    }
}

/// A stored message as the queue holds it.
pub(super) fn stored_entry(seq: u64, stored: StoredMessage) -> Entry {
    Entry {
        message: stored.message,
        sender: stored.sender,
        seq,
        sent_at: stored.sent_at,
        receipt: None,
        kind: MessageKind::User,
        deliveries: stored.deliveries,
    }
}

//! The journal of durable mailboxes: every change to what a mailbox with
//! [`Durability::Disk`](crate::Durability::Disk) holds, in order, for its host to make durable
//! before it answers the requests that caused them.
//!
//! The engine stays pure: it never writes a file. It records what changed — a message stored
//! (accepted, or handed out on lease with its new delivery count), a message removed for good, a
//! mailbox's record created or changed, a mailbox deleted, a producer's record of idempotent
//! sends changed or forgotten — and the driver drains the journal
//! after each call ([`Engine::drain_journal`]), commits it, and only then releases the answers.
//! A message is stored from the moment it is accepted until it leaves for good: taken outright,
//! acknowledged, dropped, withdrawn or moved on; a message on lease stays stored, so a crash
//! gives it back. Changes of one key may repeat within a drain; the last one wins.
//!
//! [`Engine::restore`] rebuilds a durable mailbox from what was stored;
//! [`Engine::restore_with_tail`] from its oldest messages, leaving the rest on disk.

use super::Engine;
use super::paging::stored_entry;
use crate::mailbox::{Kind, Mailbox};
use crate::queue::{DiskTail, Entry};
use crate::{
    Credentials, Durability, MailboxAttrs, MailboxId, Message, MessageKind, Name, Owner, Pid,
    ProducerId, ProducerRecord, Timestamp, keeps_tail_on_disk,
};

/// A change to a durable mailbox.
///
/// With the `serde` feature it is serializable as a whole, so that a host can log a drained
/// journal as it is before applying it; a variant added later must be added last, so that what
/// an earlier build logged still decodes.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Change {
    /// A durable mailbox was created, or its record changed (mode, byte limit, owner).
    Mailbox(DurableMailbox),
    /// A durable mailbox was deleted, with every message it held.
    Deleted(MailboxId),
    /// A message entered the mailbox, or was handed out on lease (its delivery count changed).
    Stored {
        /// Where.
        mailbox: MailboxId,
        /// Its sequence number there.
        seq: u64,
        /// The message and what the engine records about it.
        message: StoredMessage,
    },
    /// A message left the mailbox for good.
    Removed {
        /// Where from.
        mailbox: MailboxId,
        /// Its sequence number there.
        seq: u64,
    },
    /// A producer's record changed: an idempotent send was accepted, or a duplicate of one
    /// dropped (which counts as a use).
    Producer {
        /// Where.
        mailbox: MailboxId,
        /// The producer.
        producer: ProducerId,
        /// What the mailbox remembers of it now.
        record: ProducerRecord,
    },
    /// A producer was forgotten to make room for another
    /// ([`MAX_PRODUCERS_PER_MAILBOX`](crate::MAX_PRODUCERS_PER_MAILBOX)).
    ProducerForgotten {
        /// Where.
        mailbox: MailboxId,
        /// The producer.
        producer: ProducerId,
    },
}

/// What a durable mailbox is, apart from its messages.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DurableMailbox {
    /// Its id (kept across restarts, so that dead-letter references stay valid).
    pub id: MailboxId,
    /// Its name.
    pub name: String,
    /// Its attributes as they are now (mode and byte limit included).
    pub attrs: MailboxAttrs,
    /// The user and group that own it.
    pub owner: Credentials,
    /// The uid whose mailbox quota it counts against.
    pub quota_uid: u32,
    /// When it was created.
    pub created: Timestamp,
    /// When its attributes or owner last changed.
    pub changed: Timestamp,
}

/// A stored message.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StoredMessage {
    /// The message as sent.
    pub message: Message,
    /// Who sent it (a pid of the daemon run that accepted it).
    pub sender: Pid,
    /// When it was sent.
    pub sent_at: Timestamp,
    /// How many times it was handed out on lease without being acknowledged.
    pub deliveries: u32,
}

impl Engine {
    /// Declares that the host makes the journal durable, so that durable mailboxes may be
    /// created (without it, creating one fails `InvalidAttributes`: nothing would keep it).
    pub fn enable_durability(&mut self) {
        self.durable_store = true;
    }

    /// Whether durable mailboxes may be created here.
    pub fn durability_enabled(&self) -> bool {
        self.durable_store
    }

    /// Takes every change to durable mailboxes since the last call, oldest first.
    pub fn drain_journal(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.journal)
    }

    /// Whether changes wait in the journal.
    pub fn has_journal(&self) -> bool {
        !self.journal.is_empty()
    }

    /// Rebuilds a durable mailbox from its stored record and messages (in sequence order), as
    /// the daemon does when it starts. The mailbox is system-owned by `record.owner`, opened by
    /// nobody, and keeps its id and sequence numbers: the next message gets `next_seq` (or one
    /// past the last stored, if higher).
    ///
    /// # Errors
    ///
    /// When the record is not a durable system-owned mailbox's, its attributes are invalid, or
    /// its name or id is taken: the store is not what this engine wrote.
    pub fn restore(
        &mut self,
        record: DurableMailbox,
        messages: Vec<(u64, StoredMessage)>,
        next_seq: u64,
    ) -> Result<(), String> {
        self.restore_with_tail(record, messages, None, next_seq)
    }

    /// As [`Engine::restore`], with only the oldest stored messages in `messages` and the rest
    /// left on disk as `tail` (see [`ResidentBudget`](crate::ResidentBudget)): the host pages
    /// them in when the engine asks. `next_seq` must be past the tail's last message.
    ///
    /// # Errors
    ///
    /// As [`Engine::restore`]; also when there is a tail but the mailbox may not keep one
    /// ([`keeps_tail_on_disk`](crate::keeps_tail_on_disk)), or it does not start after
    /// `messages`.
    pub fn restore_with_tail(
        &mut self,
        record: DurableMailbox,
        messages: Vec<(u64, StoredMessage)>,
        tail: Option<DiskTail>,
        next_seq: u64,
    ) -> Result<(), String> {
        let attrs = record.attrs;
        if attrs.durability != Durability::Disk {
            return Err(format!("mailbox {} is not durable", record.name));
        }
        attrs
            .validate(self.limits.max_message_size)
            .map_err(|why| format!("mailbox {}: {why}", record.name))?;
        let name = Name::new(&record.name)
            .map_err(|_| format!("invalid mailbox name {:?}", record.name))?;
        if self.mailbox_names.contains_key(&name) || self.mailboxes.contains_key(&record.id) {
            return Err(format!("mailbox {} is stored twice", record.name));
        }
        let last = messages.last().map_or(0, |(seq, _)| seq.saturating_add(1));
        if let Some(tail) = tail.filter(|tail| tail.messages > 0) {
            if !keeps_tail_on_disk(&attrs) {
                return Err(format!(
                    "mailbox {} cannot leave messages on disk (it is not a FIFO mailbox that \
                     blocks when full)",
                    record.name
                ));
            }
            if tail.first_seq < last || next_seq <= tail.first_seq {
                return Err(format!(
                    "mailbox {}: its messages on disk from {} do not follow those in memory \
                     (up to {last}) and precede its next number {next_seq}",
                    record.name, tail.first_seq
                ));
            }
        }
        let mut mailbox = Mailbox::new(
            record.id,
            Kind::Named(name.clone()),
            attrs,
            Owner::System(record.owner),
            record.owner,
            record.created,
        );
        mailbox.quota_uid = record.quota_uid;
        mailbox.counters.changed = record.changed;
        mailbox.next_seq = next_seq.max(last);
        self.next_mailbox = self.next_mailbox.max(record.id.as_raw().saturating_add(1));
        *self.mailboxes_per_uid.entry(record.quota_uid).or_default() += 1;
        if let Some(target) = attrs.redelivery.dead_letter {
            *self.dead_letter_targets.entry(target).or_default() += 1;
        }
        self.mailboxes.insert(record.id, mailbox);
        self.mailbox_names.insert(name, record.id);
        for (seq, stored) in messages {
            self.push_entry(record.id, stored_entry(seq, stored));
        }
        if let Some(tail) = tail {
            self.attach_tail(record.id, tail);
        }
        Ok(())
    }

    /// Journals the record of `mailbox`, when it is durable.
    pub(super) fn journal_mailbox(&mut self, mailbox: MailboxId) {
        let Some(mb) = self.mailboxes.get(&mailbox) else {
            return;
        };
        let Kind::Named(name) = &mb.kind else {
            return;
        };
        if mb.attrs.durability != Durability::Disk {
            return;
        }
        let record = DurableMailbox {
            id: mailbox,
            name: name.to_string(),
            attrs: mb.attrs,
            owner: mb.owner_creds,
            quota_uid: mb.quota_uid,
            created: mb.counters.created,
            changed: mb.counters.changed,
        };
        self.journal.push(Change::Mailbox(record));
    }

    /// Journals that `entry` is in `mailbox` now (accepted, or on lease with a new count).
    pub(super) fn journal_stored(&mut self, mailbox: MailboxId, entry: &Entry) {
        if !self.is_durable(mailbox) || entry.kind != MessageKind::User {
            return;
        }
        self.journal.push(Change::Stored {
            mailbox,
            seq: entry.seq,
            message: StoredMessage {
                message: entry.message.clone(),
                sender: entry.sender,
                sent_at: entry.sent_at,
                deliveries: entry.deliveries,
            },
        });
    }

    /// Journals that message `seq` left `mailbox` for good.
    pub(super) fn journal_removed(&mut self, mailbox: MailboxId, seq: u64) {
        if self.is_durable(mailbox) {
            self.journal.push(Change::Removed { mailbox, seq });
        }
    }

    /// Journals the deletion of `mailbox`, when it was durable (call before it is removed).
    pub(super) fn journal_deleted(&mut self, mailbox: MailboxId) {
        if self.is_durable(mailbox) {
            self.journal.push(Change::Deleted(mailbox));
        }
    }

    pub(super) fn is_durable(&self, mailbox: MailboxId) -> bool {
        self.mailboxes
            .get(&mailbox)
            .is_some_and(|mb| mb.attrs.durability == Durability::Disk)
    }
}

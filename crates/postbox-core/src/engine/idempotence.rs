//! Idempotent sends: a send that carries its producer and number is dropped, and answered as
//! the first one was, when the mailbox accepted that number already (see [`crate::ProducerSeq`]
//! and the rules in `producers.rs`).
//!
//! A number is recorded when its message is *accepted* — queued, or handed to a receiver — not
//! when the send is asked: a send that waits for room and is then cancelled, or fails, leaves
//! no record, so retrying it under the same number delivers it. A retry that finds its first
//! attempt still waiting (the first sender's connection broke, unnoticed yet) withdraws that
//! attempt, so that only one of them can ever be accepted. For a durable mailbox the
//! record is journaled with the message, in the same commit, and a duplicate's answer is held
//! behind a journal change of its own: it is never released before the commit of the send it
//! repeats.

use super::{Engine, live};
use crate::{
    Cancelled, Change, Completion, Delivery, MailboxId, Message, Pid, ProducerId, ProducerRecord,
    ProducerSeq, SendError, SendErrorKind, SendOutcome, Timestamp, Wait,
};

impl Engine {
    /// Sends `message` to the open mailbox `mailbox` as [`Engine::send`] does, unless `stamp`
    /// repeats a send the mailbox accepted already: then nothing is queued, the mailbox counts
    /// a duplicate dropped, and the answer is the one the accepted send got, `Sent` with the
    /// receiver it named (the receiver is known when the message went straight to a waiting
    /// receiver of a zero-capacity mailbox or with [`Delivery::Receipt`]; a duplicate of a
    /// receipt send whose message was queued is answered at once, without the receiver).
    ///
    /// # Errors
    ///
    /// As [`Engine::send`]; a duplicate is never an error.
    #[allow(clippy::too_many_arguments)]
    pub fn send_idempotent(
        &mut self,
        from: Pid,
        mailbox: MailboxId,
        message: Message,
        delivery: Delivery,
        wait: Wait,
        now: Timestamp,
        stamp: ProducerSeq,
    ) -> Result<SendOutcome, SendError> {
        if let Err(kind) = self.admit_sender(from, mailbox) {
            return Err(SendError::new(kind, message));
        }
        self.send_stamped(from, mailbox, message, delivery, wait, now, stamp)
    }

    /// Sends `message` to the inbox of process `to` as [`Engine::send_to`] does, dropping a
    /// duplicate of `stamp` as [`Engine::send_idempotent`] does.
    ///
    /// # Errors
    ///
    /// As [`Engine::send_to`]; a duplicate is never an error.
    #[allow(clippy::too_many_arguments)]
    pub fn send_to_idempotent(
        &mut self,
        from: Pid,
        to: Pid,
        message: Message,
        delivery: Delivery,
        wait: Wait,
        now: Timestamp,
        stamp: ProducerSeq,
    ) -> Result<SendOutcome, SendError> {
        match self.inbox_for(from, to) {
            Ok(inbox) => self.send_stamped(from, inbox, message, delivery, wait, now, stamp),
            Err(kind) => Err(SendError::new(kind, message)),
        }
    }

    /// How many idempotent sends `mailbox` has dropped as duplicates, if it exists.
    pub fn duplicates_dropped(&self, mailbox: MailboxId) -> Option<u64> {
        let mb = self.mailboxes.get(&mailbox)?;
        Some(mb.counters.duplicates_dropped)
    }

    /// Puts the stored producer records of the restored durable mailbox `mailbox` back (after
    /// [`Engine::restore`]), so that a send retried across a restart is still a duplicate.
    ///
    /// # Errors
    ///
    /// When `mailbox` was not restored: the store is not what this engine wrote.
    pub fn restore_producers(
        &mut self,
        mailbox: MailboxId,
        records: Vec<(ProducerId, ProducerRecord)>,
    ) -> Result<(), String> {
        let Some(mb) = self.mailboxes.get_mut(&mailbox) else {
            return Err(format!(
                "producers of mailbox {mailbox}, which is not stored"
            ));
        };
        for (producer, record) in records {
            mb.producers.restore(producer, record);
        }
        Ok(())
    }

    /// A checked sender's send with `stamp`: dropped when it is a duplicate, else sent, and its
    /// number recorded once the message is accepted.
    #[allow(clippy::too_many_arguments)]
    fn send_stamped(
        &mut self,
        from: Pid,
        mailbox: MailboxId,
        message: Message,
        delivery: Delivery,
        wait: Wait,
        now: Timestamp,
        stamp: ProducerSeq,
    ) -> Result<SendOutcome, SendError> {
        self.supersede_waiting(mailbox, stamp, now);
        let mb = live(&mut self.mailboxes, mailbox);
        if let Some(record) = mb.producers.duplicate(stamp) {
            mb.counters.duplicates_dropped += 1;
            self.journal_producer(mailbox, stamp.producer, record, None);
            return Ok(SendOutcome::Sent {
                receiver: record.receiver,
            });
        }
        let outcome = self.send_checked(from, mailbox, message, delivery, wait, now, None)?;
        match outcome {
            SendOutcome::Sent { receiver } => self.record_producer(mailbox, stamp, receiver),
            SendOutcome::Blocked(ticket) => {
                let mb = live(&mut self.mailboxes, mailbox);
                match mb.blocked_senders.iter_mut().rfind(|b| b.ticket == ticket) {
                    // Waiting for room or a receiver: recorded when it is accepted.
                    Some(blocked) => blocked.stamp = Some(stamp),
                    // Queued, waiting for its receipt: accepted now.
                    None => self.record_producer(mailbox, stamp, None),
                }
            }
        }
        Ok(outcome)
    }

    /// Withdraws a send of `stamp` still waiting in `mailbox` for room or a receiver, answering
    /// it `Disconnected` with its message: a retry came while the first attempt still waits —
    /// its sender's connection broke and the host has not noticed yet. Without this both could
    /// be accepted; with it, exactly the retry is.
    fn supersede_waiting(&mut self, mailbox: MailboxId, stamp: ProducerSeq, now: Timestamp) {
        let mb = live(&mut self.mailboxes, mailbox);
        let Some(ticket) = mb
            .blocked_senders
            .iter()
            .find(|blocked| blocked.stamp == Some(stamp))
            .map(|blocked| blocked.ticket)
        else {
            return;
        };
        if let Some(Cancelled::Send(message)) = self.cancel(ticket, now) {
            let error = SendError::new(SendErrorKind::Disconnected, message);
            self.complete(ticket, Completion::SendFailed(error));
        }
    }

    /// Records that the send `stamp` was accepted by `mailbox`, answered with `receiver`.
    pub(super) fn record_producer(
        &mut self,
        mailbox: MailboxId,
        stamp: ProducerSeq,
        receiver: Option<Pid>,
    ) {
        let Some(mb) = self.mailboxes.get_mut(&mailbox) else {
            return;
        };
        let recorded = mb.producers.accepted(stamp, receiver);
        self.journal_producer(mailbox, stamp.producer, recorded.record, recorded.forgotten);
    }

    fn journal_producer(
        &mut self,
        mailbox: MailboxId,
        producer: ProducerId,
        record: ProducerRecord,
        forgotten: Option<ProducerId>,
    ) {
        if !self.is_durable(mailbox) {
            return;
        }
        if let Some(forgotten) = forgotten {
            self.journal.push(Change::ProducerForgotten {
                mailbox,
                producer: forgotten,
            });
        }
        self.journal.push(Change::Producer {
            mailbox,
            producer,
            record,
        });
    }
}

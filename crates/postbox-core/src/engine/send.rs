//! Sending: to a mailbox, or directly to a process's inbox.

use super::{Engine, Waiter, live};
use crate::limits::message_charge;
use crate::mailbox::{BlockedSend, End, Taking};
use crate::{
    CallId, Capacity, Credentials, Delivery, MailboxId, Message, MessageKind, MessageSize, Mode,
    Overflow, Pid, Receivers, SendError, SendErrorKind, SendOutcome, Ticket, Timestamp, Wait,
};

impl Engine {
    /// Sends `message` from `from` to the open mailbox `mailbox`.
    ///
    /// With [`Wait::Block`] a send that cannot complete now returns a ticket: it waits for room
    /// (bounded, `Overflow::Block`), for a receiver (zero capacity) or, with
    /// [`Delivery::Receipt`], for a receiver to take the queued message.
    ///
    /// # Errors
    ///
    /// Every failure hands the message back: `Disconnected` (the caller is not a live process),
    /// `Gone`, `PermissionDenied` (mode, or mailbox not open), `Busy` / `PeerGone` (pair links),
    /// `InvalidType`, `TooLarge`, `WrongSize`, `Full` ([`Wait::Try`] only), `QuotaExceeded` (the
    /// message, queued or waiting, would pass [`Limits::max_queued_bytes`](crate::Limits)).
    pub fn send(
        &mut self,
        from: Pid,
        mailbox: MailboxId,
        message: Message,
        delivery: Delivery,
        wait: Wait,
        now: Timestamp,
    ) -> Result<SendOutcome, SendError> {
        if let Err(kind) = self.admit_sender(from, mailbox) {
            return Err(SendError::new(kind, message));
        }
        self.send_checked(from, mailbox, message, delivery, wait, now, None)
    }

    /// What [`Engine::send`] checks before the message itself: `from` is a live process, the
    /// mailbox exists, and `from` may send to it (claiming the sending end of a pair).
    pub(super) fn admit_sender(
        &mut self,
        from: Pid,
        mailbox: MailboxId,
    ) -> Result<(), SendErrorKind> {
        let Some(creds) = self.creds(from) else {
            return Err(SendErrorKind::Disconnected);
        };
        if !self.mailboxes.contains_key(&mailbox) {
            return Err(SendErrorKind::Gone);
        }
        self.may_send(from, creds, mailbox)
    }

    /// Sends `message` from `from` to the inbox of process `to`.
    ///
    /// Inboxes are bounded (`Limits::inbox_capacity` messages): a full inbox makes the sender
    /// wait or fail with `Full`. [`Delivery::Receipt`] waits until `to` has taken the message — a
    /// rendezvous with that process.
    ///
    /// # Errors
    ///
    /// As [`Engine::send`], plus `NotFound` (no such process ever existed) and `PeerGone` (it has
    /// terminated, before or while the send waited).
    pub fn send_to(
        &mut self,
        from: Pid,
        to: Pid,
        message: Message,
        delivery: Delivery,
        wait: Wait,
        now: Timestamp,
    ) -> Result<SendOutcome, SendError> {
        match self.inbox_for(from, to) {
            Ok(inbox) => self.send_checked(from, inbox, message, delivery, wait, now, None),
            Err(kind) => Err(SendError::new(kind, message)),
        }
    }

    /// The inbox [`Engine::send_to`] sends to: `to`'s, if `from` is a live process and `to` is
    /// one; else why not (`Disconnected`, `PeerGone` for a process that has terminated,
    /// `NotFound` for one that never was).
    pub(super) fn inbox_for(&self, from: Pid, to: Pid) -> Result<MailboxId, SendErrorKind> {
        if !self.processes.contains_key(&from) {
            return Err(SendErrorKind::Disconnected);
        }
        match self.processes.get(&to) {
            Some(target) => Ok(target.inbox),
            None if self.has_terminated(to) => Err(SendErrorKind::PeerGone),
            None => Err(SendErrorKind::NotFound),
        }
    }

    /// Checks `from`'s right to send to `mailbox`, claiming the sending end of a pair.
    pub(super) fn may_send(
        &mut self,
        from: Pid,
        creds: Credentials,
        mailbox: MailboxId,
    ) -> Result<(), SendErrorKind> {
        let mb = live(&mut self.mailboxes, mailbox);
        if mb.is_inbox() {
            return Ok(());
        }
        if !mb.opens.contains_key(&from)
            || !mb.attrs.mode.allows(creds, mb.owner_creds, Mode::WRITE)
        {
            return Err(SendErrorKind::PermissionDenied);
        }
        if mb.attrs.receivers == Receivers::Pair {
            match mb.pair_sender {
                End::Vacant => mb.pair_sender = End::Held(from),
                End::Held(pid) if pid == from => {}
                End::Held(_) | End::Departed => return Err(SendErrorKind::Busy),
            }
            if mb.pair_receiver == End::Departed {
                return Err(SendErrorKind::PeerGone);
            }
        }
        Ok(())
    }

    /// Sends a checked sender's message: a user message, or with `call` (the call's waiting
    /// ticket, registered already, and its id) the request of that call, which waits for a
    /// receiver to take it as a receipt does.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn send_checked(
        &mut self,
        from: Pid,
        mailbox: MailboxId,
        message: Message,
        delivery: Delivery,
        wait: Wait,
        now: Timestamp,
        call: Option<(Ticket, CallId)>,
    ) -> Result<SendOutcome, SendError> {
        let kind = call.map_or(MessageKind::User, |(_, id)| MessageKind::Request(id));
        let call_ticket = call.map(|(ticket, _)| ticket);
        let mb = &self.mailboxes[&mailbox];
        let len = message.len();
        let rule = broken_rule(
            &message,
            mb.attrs.size,
            mb.attrs.capacity,
            self.limits.max_message_size,
        );
        if let Some(kind) = rule {
            return Err(SendError::new(kind, message));
        }
        let capacity = mb.attrs.capacity;
        let overflow = mb.attrs.overflow;
        if mb.is_broadcast() && call.is_none() {
            return self.send_broadcast(from, mailbox, message, delivery, wait, now);
        }

        // A waiting receiver takes the message directly: by the engine's invariant nothing
        // queued matches it, so this keeps every receiver's order. Behind a tail on disk it
        // queues: older messages go first.
        let waiter = match mb.queue.tail() {
            None => mb.choose_receiver(message.mtype, from),
            Some(_) => None,
        };
        if let Some(waiter) = waiter {
            // Taken on lease, the message is still held, and charged as if it were queued.
            if waiter.taking == Taking::Leased && !self.quota_fits(message_charge(len), 0) {
                return Err(SendError::new(SendErrorKind::QuotaExceeded, message));
            }
            let entry = self.accept(mailbox, from, message, now, call_ticket, kind);
            self.deliver(mailbox, waiter, entry, now);
            let known = delivery == Delivery::Receipt || capacity == Capacity::Zero;
            return Ok(SendOutcome::Sent {
                receiver: known.then_some(waiter.pid),
            });
        }

        if capacity == Capacity::Zero {
            return match wait {
                Wait::Try => Err(SendError::new(SendErrorKind::Full, message)),
                Wait::Block => self.block_sender(from, mailbox, message, true, now, call),
            };
        }

        let mb = &self.mailboxes[&mailbox];
        let has_room = mb.blocked_senders.is_empty() && mb.has_room_for(len);
        if !has_room && overflow == Overflow::Block {
            return match wait {
                Wait::Try => Err(SendError::new(SendErrorKind::Full, message)),
                Wait::Block => {
                    let wants_receipt = delivery == Delivery::Receipt;
                    self.block_sender(from, mailbox, message, wants_receipt, now, call)
                }
            };
        }
        // Drop-oldest frees what it drops, so the newest fits whenever that is enough.
        let freed = if has_room {
            0
        } else {
            self.mailboxes[&mailbox].charge_dropped_for(len)
        };
        if !self.quota_fits(message_charge(len), freed) {
            return Err(SendError::new(SendErrorKind::QuotaExceeded, message));
        }
        if !has_room {
            self.drop_oldest_until_room(mailbox, len);
        }
        if let Some(ticket) = call_ticket {
            let entry = self.accept(mailbox, from, message, now, Some(ticket), kind);
            self.push_entry(mailbox, entry);
            return Ok(SendOutcome::Blocked(ticket));
        }
        let receipt = (delivery == Delivery::Receipt).then(|| self.new_ticket());
        let entry = self.accept(mailbox, from, message, now, receipt, kind);
        self.push_entry(mailbox, entry);
        Ok(match receipt {
            Some(ticket) => {
                let waiter = Waiter::Receipt {
                    pid: from,
                    mailbox,
                    since: now,
                };
                self.waiters.insert(ticket, waiter);
                SendOutcome::Blocked(ticket)
            }
            None => SendOutcome::Sent { receiver: None },
        })
    }

    /// Makes the send wait in `mailbox`, holding its message — charged against the quota like a
    /// queued one, so that waiting senders cannot hold unbounded memory either. A call's request
    /// waits under the call's ticket, whose waiter is the call's.
    fn block_sender(
        &mut self,
        sender: Pid,
        mailbox: MailboxId,
        message: Message,
        wants_receipt: bool,
        now: Timestamp,
        call: Option<(Ticket, CallId)>,
    ) -> Result<SendOutcome, SendError> {
        let charge = message_charge(message.len());
        if !self.quota_fits(charge, 0) {
            return Err(SendError::new(SendErrorKind::QuotaExceeded, message));
        }
        self.waiting_charge += charge;
        if let Some((ticket, id)) = call {
            let mb = live(&mut self.mailboxes, mailbox);
            mb.blocked_senders.push_back(BlockedSend {
                ticket,
                sender,
                message,
                sent_at: now,
                wants_receipt: true,
                kind: MessageKind::Request(id),
                stamp: None,
            });
            return Ok(SendOutcome::Blocked(ticket));
        }
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
        self.waiters.insert(
            ticket,
            Waiter::Send {
                pid: sender,
                mailbox,
                since: now,
            },
        );
        Ok(SendOutcome::Blocked(ticket))
    }

    /// Discards the oldest messages until `len` more bytes fit; senders awaiting a receipt for
    /// them get `Dropped` with their message back.
    fn drop_oldest_until_room(&mut self, mailbox: MailboxId, len: usize) {
        while !self.mailboxes[&mailbox].has_room_for(len) {
            let Some(slot) = self.mailboxes[&mailbox].queue.oldest_to_drop() else {
                return;
            };
            let entry = self.remove_entry(mailbox, slot);
            let mb = live(&mut self.mailboxes, mailbox);
            mb.counters.dropped += 1;
            self.total_dropped += 1;
            if let Some(ticket) = entry.receipt {
                self.fail_sender(ticket, SendErrorKind::Dropped, entry.message);
            }
        }
    }
}

/// The rule `message` breaks by its type or size in a mailbox of this size rule and capacity, if
/// any: the checks every send passes before anything else happens to it.
pub(crate) fn broken_rule(
    message: &Message,
    size: MessageSize,
    capacity: Capacity,
    max_message_size: usize,
) -> Option<SendErrorKind> {
    let len = message.len();
    if message.mtype < 1 {
        return Some(SendErrorKind::InvalidType);
    }
    match size {
        MessageSize::Fixed(size) if len != size => Some(SendErrorKind::WrongSize),
        MessageSize::Variable(max) if len > max => Some(SendErrorKind::TooLarge),
        _ if len > max_message_size => Some(SendErrorKind::TooLarge),
        _ => match capacity {
            Capacity::Bounded { bytes, .. } if len > bytes => Some(SendErrorKind::TooLarge),
            _ => None,
        },
    }
}

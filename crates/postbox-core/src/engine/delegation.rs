//! Delegation: lending a plain mailbox's queue to the transport, and taking it back.
//!
//! Every operation on the engine runs under one lock in a transport, so two threads passing
//! messages through one mailbox serialise on it even when nothing else happens. For the commonest
//! mailbox — bounded, FIFO, blocking on overflow, any message taken by any permitted receiver —
//! the rules are simple enough for a transport to carry out under a lock of that mailbox alone.
//! [`Engine::delegate`] hands such a mailbox's queue over, with everything the transport needs to
//! keep the rules exactly: the bounds, the size rule, who may send and who may receive, and the
//! next sequence number. [`Engine::reclaim`] takes it back with what happened meanwhile — the
//! messages still queued and the statistics — before any other operation touches the mailbox.
//!
//! While delegated, what the mailbox can hold is reserved against the queued-bytes quota — its
//! byte capacity plus the charge of as many messages as it holds (see [`Limits`](crate::Limits))
//! — so that the messages the transport holds are always within it.

use super::Engine;
use super::send::broken_rule;
use crate::limits::MESSAGE_CHARGE;
use crate::mailbox::{Kind, Mailbox};
use crate::queue::Entry;
use crate::{
    Capacity, Dispatch, MailboxId, Message, MessageKind, MessageSize, Mode, Order, Overflow, Pid,
    Received, Receivers, Timestamp,
};

/// The terms of a delegated mailbox: what the transport must enforce while it holds the queue.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Delegation {
    /// At most this many messages queued.
    pub messages: usize,
    /// At most this many payload bytes queued.
    pub bytes: usize,
    /// The payload size rule.
    pub size: MessageSize,
    /// The engine-wide payload limit.
    pub max_message_size: usize,
    /// Processes that may send now (they have it open, and the mode lets them write).
    pub senders: Vec<Pid>,
    /// Processes that may receive now, any of them any message; waiting receivers are served
    /// longest-waiting first.
    pub receivers: Vec<Pid>,
    /// The sequence number of the next message accepted.
    pub next_seq: u64,
}

/// What happened to a delegated mailbox while the transport held it.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Handback {
    /// The messages still queued, oldest first, with the sequence numbers and send times the
    /// transport gave them.
    pub queued: Vec<Received>,
    /// Messages accepted meanwhile.
    pub sent: u64,
    /// Messages received meanwhile.
    pub received: u64,
    /// The last send meanwhile, if any.
    pub last_send: Option<(Pid, Timestamp)>,
    /// The last receive meanwhile, if any.
    pub last_recv: Option<(Pid, Timestamp)>,
    /// The sequence number of the next message accepted.
    pub next_seq: u64,
}

impl Delegation {
    /// Whether the engine would take `message` into the mailbox by its type and size (the
    /// transport lets the engine answer a message it would not, with the exact error).
    pub fn admits(&self, message: &Message) -> bool {
        let capacity = Capacity::Bounded {
            messages: self.messages,
            bytes: self.bytes,
        };
        broken_rule(message, self.size, capacity, self.max_message_size).is_none()
    }
}

impl Engine {
    /// Lends `mailbox`'s queue to the transport, if its rules allow it and nothing is queued or
    /// waiting on it now; `None` otherwise (the transport keeps using the engine).
    ///
    /// A mailbox that another names as its dead-letter mailbox is never lent (returns may move
    /// messages into it at any time).
    ///
    /// Until [`Engine::reclaim`], the transport must not pass any operation on `mailbox` to the
    /// engine, nor any operation that could affect it (terminating a process that has it open,
    /// creating a mailbox that names it as dead-letter mailbox, statistics that count it).
    pub fn delegate(&mut self, mailbox: MailboxId) -> Option<Delegation> {
        let mb = self.mailboxes.get(&mailbox)?;
        let Capacity::Bounded { messages, bytes } = mb.attrs.capacity else {
            return None;
        };
        let plain = messages > 0
            && matches!(mb.kind, Kind::Named(_))
            && mb.attrs.durability == crate::Durability::Memory
            && mb.attrs.order == Order::Fifo
            && mb.attrs.overflow == Overflow::Block
            && matches!(
                mb.attrs.receivers,
                Receivers::Owner | Receivers::Shared(Dispatch::FirstWaiting)
            );
        let idle = mb.queue.len() == 0
            && mb.blocked_senders.is_empty()
            && mb.receivers.is_empty()
            && mb.leases.is_empty();
        let reserve = bytes.saturating_add(messages.saturating_mul(MESSAGE_CHARGE));
        let headroom = self.quota_fits(reserve, 0);
        let dead_letter_target = self.dead_letter_targets.contains_key(&mailbox);
        if !plain
            || !idle
            || !headroom
            || dead_letter_target
            || self.delegated.contains_key(&mailbox)
        {
            return None;
        }
        let (senders, receivers) = self.rights(mb);
        let next_seq = mb.next_seq;
        self.delegated.insert(mailbox, reserve);
        self.reserved_bytes += reserve;
        Some(Delegation {
            messages,
            bytes,
            size: mb.attrs.size,
            max_message_size: self.limits.max_message_size,
            senders,
            receivers,
            next_seq,
        })
    }

    /// Takes back a delegated mailbox with what happened to it meanwhile: its queue, its
    /// statistics and its next sequence number. Does nothing for a mailbox not delegated.
    pub fn reclaim(&mut self, mailbox: MailboxId, handback: Handback) {
        let Some(reserved) = self.delegated.remove(&mailbox) else {
            return;
        };
        self.reserved_bytes -= reserved;
        let Some(mb) = self.mailboxes.get_mut(&mailbox) else {
            return;
        };
        let counters = &mut mb.counters;
        counters.sent += handback.sent;
        counters.received += handback.received;
        counters.last_send = handback.last_send.or(counters.last_send);
        counters.last_recv = handback.last_recv.or(counters.last_recv);
        if handback.received > 0 {
            if let Some((pid, _)) = handback.last_recv {
                mb.last_served = Some(pid);
            }
        }
        mb.next_seq = handback.next_seq;
        self.total_sent += handback.sent;
        self.total_received += handback.received;
        for received in handback.queued {
            let entry = Entry {
                message: received.message,
                sender: received.sender,
                seq: received.seq,
                sent_at: received.sent_at,
                receipt: None,
                kind: MessageKind::User,
                deliveries: received.attempt.saturating_sub(1),
            };
            self.push_entry(mailbox, entry);
        }
    }

    /// Whether `mailbox` is delegated now.
    pub fn is_delegated(&self, mailbox: MailboxId) -> bool {
        self.delegated.contains_key(&mailbox)
    }

    /// The bytes delegated mailboxes reserve against the queued-bytes quota now.
    pub fn delegated_bytes(&self) -> usize {
        self.reserved_bytes
    }

    /// Whether a mailbox with this id exists now.
    pub fn has_mailbox(&self, mailbox: MailboxId) -> bool {
        self.mailboxes.contains_key(&mailbox)
    }

    /// Who may send to and receive from `mb` now, by the same rules `send` and `recv` check.
    fn rights(&self, mb: &Mailbox) -> (Vec<Pid>, Vec<Pid>) {
        let mut senders = Vec::new();
        let mut receivers = Vec::new();
        let mut openers: Vec<Pid> = mb.opens.keys().copied().collect();
        openers.sort_unstable();
        for pid in openers {
            let Some(creds) = self.creds(pid) else {
                continue;
            };
            if mb.attrs.mode.allows(creds, mb.owner_creds, Mode::WRITE) {
                senders.push(pid);
            }
            if !mb.attrs.mode.allows(creds, mb.owner_creds, Mode::READ) {
                continue;
            }
            let may_receive = match mb.attrs.receivers {
                Receivers::Owner => mb.owns_or_granted(pid, creds),
                _ => true,
            };
            if may_receive {
                receivers.push(pid);
            }
        }
        (senders, receivers)
    }
}

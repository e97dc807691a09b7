//! The state of one mailbox (or inbox) inside the engine.

use std::collections::{BTreeMap, VecDeque};

use rustc_hash::{FxHashMap, FxHashSet};

use crate::limits::message_charge;
use crate::members::Members;
use crate::producers::Producers;
use crate::queue::{Entry, Queue};
use crate::{
    Capacity, Credentials, MailboxAttrs, MailboxId, Message, MessageKind, Name, Owner, Pid,
    ProducerSeq, Selector, Ticket, Timestamp,
};

/// What a mailbox is to the engine.
#[derive(Debug)]
pub(crate) enum Kind {
    /// A process's inbox: anyone sends, only the owner receives; deleted with its owner.
    Inbox(Pid),
    /// A named mailbox.
    Named(Name),
}

/// A sender waiting for room, or (zero capacity) for a receiver.
#[derive(Debug)]
pub(crate) struct BlockedSend {
    pub(crate) ticket: Ticket,
    pub(crate) sender: Pid,
    pub(crate) message: Message,
    pub(crate) sent_at: Timestamp,
    pub(crate) wants_receipt: bool,
    /// A user message, or a call's request (whose waiter is the call's).
    pub(crate) kind: MessageKind,
    /// An idempotent send's producer and number, recorded when the message is accepted.
    pub(crate) stamp: Option<ProducerSeq>,
}

/// A receiver waiting for a matching message (one branch of its receive or select).
#[derive(Debug, Clone, Copy)]
pub(crate) struct WaitingReceiver {
    pub(crate) ticket: Ticket,
    pub(crate) pid: Pid,
    pub(crate) selector: Selector,
    pub(crate) branch: usize,
    /// Whether the message it gets is leased rather than taken outright.
    pub(crate) taking: Taking,
}

/// How a receive takes its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Taking {
    /// For good: the message leaves the mailbox.
    Outright,
    /// On lease: the mailbox keeps it until the receiver acknowledges or returns it.
    Leased,
}

/// A message on lease to `holder`, kept so that it can go back to the queue.
#[derive(Debug)]
pub(crate) struct Lease {
    pub(crate) holder: Pid,
    pub(crate) entry: Entry,
    /// When it ends by itself (the mailbox's lease time after it was handed out), if ever.
    pub(crate) expires: Option<Timestamp>,
}

/// One end of a pair link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// Nobody has used this end yet.
    Vacant,
    /// The process holding this end.
    Held(Pid),
    /// The holder closed the mailbox or terminated; the link is broken for good.
    Departed,
}

/// Running counters for statistics.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) sent: u64,
    pub(crate) received: u64,
    pub(crate) dropped: u64,
    /// Moved to the dead-letter mailbox after their last delivery.
    pub(crate) dead_lettered: u64,
    /// Idempotent sends dropped as duplicates.
    pub(crate) duplicates_dropped: u64,
    pub(crate) last_send: Option<(Pid, Timestamp)>,
    pub(crate) last_recv: Option<(Pid, Timestamp)>,
    pub(crate) created: Timestamp,
    pub(crate) changed: Timestamp,
}

#[derive(Debug)]
pub(crate) struct Mailbox {
    pub(crate) id: MailboxId,
    pub(crate) kind: Kind,
    pub(crate) attrs: MailboxAttrs,
    pub(crate) owner: Owner,
    /// The credentials permission checks treat as the owner's.
    pub(crate) owner_creds: Credentials,
    /// The uid whose mailbox quota this mailbox counts against.
    pub(crate) quota_uid: u32,
    pub(crate) queue: Queue,
    /// Messages on lease, by sequence number.
    pub(crate) leases: BTreeMap<u64, Lease>,
    pub(crate) blocked_senders: VecDeque<BlockedSend>,
    /// Waiting receivers, longest-waiting first.
    pub(crate) receivers: Vec<WaitingReceiver>,
    pub(crate) grants: FxHashSet<Pid>,
    /// Open handles per process.
    pub(crate) opens: FxHashMap<Pid, usize>,
    pub(crate) exclusive: Option<Pid>,
    pub(crate) pair_sender: End,
    pub(crate) pair_receiver: End,
    pub(crate) next_seq: u64,
    /// Round-robin dispatch: the last process served.
    pub(crate) last_served: Option<Pid>,
    /// A broadcast mailbox's members and their backlogs (its `queue` stays empty); empty
    /// otherwise.
    pub(crate) members: Members,
    /// The producers whose sends it deduplicates.
    pub(crate) producers: Producers,
    pub(crate) counters: Counters,
}

impl Mailbox {
    pub(crate) fn new(
        id: MailboxId,
        kind: Kind,
        attrs: MailboxAttrs,
        owner: Owner,
        owner_creds: Credentials,
        now: Timestamp,
    ) -> Mailbox {
        Mailbox {
            id,
            kind,
            attrs,
            owner,
            owner_creds,
            quota_uid: owner_creds.uid,
            queue: Queue::new(attrs.order),
            leases: BTreeMap::new(),
            blocked_senders: VecDeque::new(),
            receivers: Vec::new(),
            grants: FxHashSet::default(),
            opens: FxHashMap::default(),
            exclusive: None,
            pair_sender: End::Vacant,
            pair_receiver: End::Vacant,
            next_seq: 0,
            last_served: None,
            members: Members::default(),
            producers: Producers::default(),
            counters: Counters {
                created: now,
                changed: now,
                ..Counters::default()
            },
        }
    }

    pub(crate) fn is_inbox(&self) -> bool {
        matches!(self.kind, Kind::Inbox(_))
    }

    pub(crate) fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Whether this is a broadcast mailbox.
    pub(crate) fn is_broadcast(&self) -> bool {
        self.attrs.receivers == crate::Receivers::Broadcast
    }

    /// Whether a message of `len` bytes fits now, ignoring waiting senders: in a broadcast
    /// mailbox, in every member's backlog.
    pub(crate) fn has_room_for(&self, len: usize) -> bool {
        if self.is_broadcast() {
            return self.members.have_room_for(self.attrs.capacity, len);
        }
        match self.attrs.capacity {
            Capacity::Zero => false,
            Capacity::Unbounded => true,
            Capacity::Bounded { messages, bytes } => {
                self.queue.len() < messages && self.queue.bytes() + len <= bytes
            }
        }
    }

    /// The quota charge (payload plus [`MESSAGE_CHARGE`](crate::MESSAGE_CHARGE) each) of what drop-oldest overflow
    /// discards to make room for `len` more bytes: the oldest entries first (in a priority
    /// mailbox, of the lowest priority first), as `Queue::oldest_to_drop` picks them.
    pub(crate) fn charge_dropped_for(&self, len: usize) -> usize {
        let Capacity::Bounded { messages, bytes } = self.attrs.capacity else {
            return 0;
        };
        let mut sizes: Vec<(u16, usize)> = self
            .queue
            .iter()
            .map(|(_, entry)| (entry.message.priority, entry.message.len()))
            .collect();
        if self.attrs.order == crate::Order::Priority {
            // Queue order is highest priority first, oldest first within a level; a stable sort
            // keeps the age order within each level.
            sizes.sort_by_key(|&(priority, _)| priority);
        }
        let (mut count, mut queued, mut freed) = (self.queue.len(), self.queue.bytes(), 0);
        for (_, size) in sizes {
            if count < messages && queued + len <= bytes {
                break;
            }
            count -= 1;
            queued -= size;
            freed += message_charge(size);
        }
        freed
    }

    /// Whether `pid`, running as `creds`, holds the receive right of an owner-receive mailbox:
    /// it owns it (a system-owned mailbox: runs as its uid, or as root) or was granted it.
    pub(crate) fn owns_or_granted(&self, pid: Pid, creds: Credentials) -> bool {
        let is_owner = match self.owner {
            Owner::Process(owner) => owner == pid,
            Owner::System(owner) => owner.uid == creds.uid || creds.is_root(),
        };
        is_owner || self.grants.contains(&pid)
    }

    /// Removes the waiting-receiver entries of `ticket`.
    pub(crate) fn forget_receiver(&mut self, ticket: Ticket) {
        self.receivers.retain(|w| w.ticket != ticket);
    }

    /// The waiting receiver that should get a message of `mtype` from `sender`, by the
    /// dispatch policy: round-robin takes the next pid after the last one served, everything else
    /// the longest-waiting match.
    pub(crate) fn choose_receiver(&self, mtype: i64, sender: Pid) -> Option<WaitingReceiver> {
        let mut matching = self
            .receivers
            .iter()
            .filter(|w| w.selector.matches(mtype, sender));
        let round_robin = matches!(
            self.attrs.receivers,
            crate::Receivers::Shared(crate::Dispatch::RoundRobin)
        );
        match (round_robin, self.last_served) {
            (true, Some(last)) => {
                let candidates: Vec<&WaitingReceiver> = matching.collect();
                let after = candidates
                    .iter()
                    .filter(|w| w.pid > last)
                    .min_by_key(|w| w.pid);
                let pick = after.or_else(|| candidates.iter().min_by_key(|w| w.pid));
                // Among waiters of the chosen pid, the longest-waiting one (first in the list).
                pick.and_then(|chosen| candidates.iter().find(|w| w.pid == chosen.pid))
                    .map(|w| **w)
            }
            _ => matching.next().copied(),
        }
    }
}

//! The members of a broadcast mailbox: each one's own backlog, and which messages are still owed.
//!
//! A broadcast message is accepted once (one sequence number) and copied into the backlog of
//! every member that did not take it at once; the payload is shared ([`bytes::Bytes`]), only the
//! bookkeeping is per member. A message is *owed* while at least one backlog still holds it: that
//! is what the mailbox's `messages` and `bytes` statistics count, and what a sender awaiting a
//! receipt (or a rendezvous) waits for.

use std::collections::BTreeMap;

use crate::queue::{Entry, Queue};
use crate::{Capacity, Message, Order, Pid, Ticket};

/// A message still in at least one member's backlog.
#[derive(Debug)]
pub(crate) struct Owed {
    /// Its payload length.
    pub(crate) len: usize,
    /// How many backlogs still hold it.
    pub(crate) copies: usize,
    /// Whether a member lost its copy to drop-oldest overflow or a purge.
    pub(crate) dropped: bool,
    /// The sender waiting until no member owes it any more, with the message to hand back if the
    /// send is withdrawn or fails.
    pub(crate) receipt: Option<(Ticket, Message)>,
}

/// The members of one broadcast mailbox. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Members {
    backlogs: BTreeMap<Pid, Queue>,
    owed: BTreeMap<u64, Owed>,
    owed_bytes: usize,
}

impl Members {
    /// Makes `pid` a member with an empty backlog, if it is not one already.
    pub(crate) fn join(&mut self, pid: Pid, order: Order) {
        self.backlogs
            .entry(pid)
            .or_insert_with(|| Queue::new(order));
    }

    /// `pid` leaves: its backlog, to be released by the caller.
    pub(crate) fn leave(&mut self, pid: Pid) -> Option<Queue> {
        self.backlogs.remove(&pid)
    }

    /// The members, in pid order.
    pub(crate) fn pids(&self) -> Vec<Pid> {
        self.backlogs.keys().copied().collect()
    }

    /// How many members there are.
    pub(crate) fn len(&self) -> usize {
        self.backlogs.len()
    }

    /// The backlog of `pid`, if it is a member.
    pub(crate) fn backlog(&self, pid: Pid) -> Option<&Queue> {
        self.backlogs.get(&pid)
    }

    /// The backlog of `pid`, if it is a member.
    pub(crate) fn backlog_mut(&mut self, pid: Pid) -> Option<&mut Queue> {
        self.backlogs.get_mut(&pid)
    }

    /// Every backlog, emptied.
    pub(crate) fn drain(&mut self) -> Vec<Entry> {
        self.backlogs.values_mut().flat_map(Queue::drain).collect()
    }

    /// Whether one more message of `len` bytes fits in every member's backlog under `capacity`.
    pub(crate) fn have_room_for(&self, capacity: Capacity, len: usize) -> bool {
        self.backlogs.values().all(|q| room(q, capacity, len))
    }

    /// Records that `copies` backlogs now hold message `seq` of `len` bytes.
    pub(crate) fn owe(&mut self, seq: u64, len: usize, copies: usize) {
        if copies > 0 {
            self.owed_bytes += len;
            let owed = Owed {
                len,
                copies,
                dropped: false,
                receipt: None,
            };
            self.owed.insert(seq, owed);
        }
    }

    /// What is owed of message `seq`, if any backlog still holds it.
    pub(crate) fn owed_mut(&mut self, seq: u64) -> Option<&mut Owed> {
        self.owed.get_mut(&seq)
    }

    /// One backlog's copy of `seq` is gone (`dropped`: lost rather than taken or released).
    /// Returns the message's record once no backlog holds it any more.
    pub(crate) fn settle_copy(&mut self, seq: u64, dropped: bool) -> Option<Owed> {
        let owed = self.owed.get_mut(&seq)?;
        owed.copies -= 1;
        owed.dropped |= dropped;
        if owed.copies > 0 {
            return None;
        }
        let owed = self.owed.remove(&seq)?;
        self.owed_bytes -= owed.len;
        Some(owed)
    }

    /// Forgets message `seq` entirely (its send was withdrawn), returning its record.
    pub(crate) fn forget(&mut self, seq: u64) -> Option<Owed> {
        let owed = self.owed.remove(&seq)?;
        self.owed_bytes -= owed.len;
        Some(owed)
    }

    /// The sequence number of the message whose sender waits under `ticket`.
    pub(crate) fn seq_of_receipt(&self, ticket: Ticket) -> Option<u64> {
        self.owed
            .iter()
            .find(|(_, owed)| owed.receipt.as_ref().is_some_and(|(t, _)| *t == ticket))
            .map(|(&seq, _)| seq)
    }

    /// Every owed message's record, emptied.
    pub(crate) fn take_owed(&mut self) -> Vec<Owed> {
        self.owed_bytes = 0;
        std::mem::take(&mut self.owed).into_values().collect()
    }

    /// Distinct messages still owed to at least one member.
    pub(crate) fn messages(&self) -> usize {
        self.owed.len()
    }

    /// Their payload bytes, each message counted once.
    pub(crate) fn bytes(&self) -> usize {
        self.owed_bytes
    }
}

/// Whether one more message of `len` bytes fits in `queue` under `capacity`.
pub(crate) fn room(queue: &Queue, capacity: Capacity, len: usize) -> bool {
    match capacity {
        Capacity::Zero => false,
        Capacity::Unbounded => true,
        Capacity::Bounded { messages, bytes } => {
            queue.len() < messages && queue.bytes() + len <= bytes
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_owed_until_its_last_copy_goes() {
        let mut members = Members::default();
        members.owe(7, 10, 2);
        assert_eq!((members.messages(), members.bytes()), (1, 10));
        assert!(members.settle_copy(7, true).is_none());
        let owed = members.settle_copy(7, false).expect("last copy");
        assert!(owed.dropped, "a lost copy is remembered");
        assert_eq!((members.messages(), members.bytes()), (0, 0));
        members.owe(8, 3, 0);
        assert_eq!(
            members.messages(),
            0,
            "nobody owes a message with no copies"
        );
    }

    #[test]
    fn room_is_per_backlog() {
        let mut members = Members::default();
        members.join(Pid::from_raw(1), Order::Fifo);
        members.join(Pid::from_raw(2), Order::Fifo);
        assert!(members.have_room_for(Capacity::bounded(1, 4), 4));
        assert!(!members.have_room_for(Capacity::bounded(1, 4), 5));
        assert!(!members.have_room_for(Capacity::Zero, 0));
        assert!(Members::default().have_room_for(Capacity::Zero, 0));
    }
}

//! The message queue of one mailbox: queue order plus a per-sender index.
//!
//! Entries live in a slab and are linked twice: once in queue order (FIFO, or priority then FIFO)
//! and once per sender in arrival order. That makes the common operations cheap whatever else is
//! queued: taking the head, taking the oldest message of one sender (`recv_from`), removing any
//! entry (cancelled receipts, drop-oldest), and inserting by priority (O(log levels)).
//! Typed selectors scan in queue order, as System V `msgrcv` does.
//!
//! A durable FIFO mailbox restored from its host's store may keep only its oldest messages here
//! and the rest on disk: the [`DiskTail`]. The queue's length and bytes count both parts, so
//! capacity checks, statistics and the quota see the whole queue; while a tail is on disk every
//! new message extends it (its message is in the host's journal, not here), so the part in memory
//! is always the oldest messages, in order. The host pages the tail in, oldest first.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::{Message, MessageKind, Order, Pid, Selector, Ticket, Timestamp};

/// A queued message and what the engine recorded about it.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) message: Message,
    pub(crate) sender: Pid,
    pub(crate) seq: u64,
    pub(crate) sent_at: Timestamp,
    /// The sender waits for this message's receipt under this ticket.
    pub(crate) receipt: Option<Ticket>,
    pub(crate) kind: MessageKind,
    /// How many times it was handed out on lease and came back.
    pub(crate) deliveries: u32,
}

type Slot = usize;

#[derive(Debug)]
struct Node {
    entry: Entry,
    prev: Option<Slot>,
    next: Option<Slot>,
    sender_prev: Option<Slot>,
    sender_next: Option<Slot>,
}

#[derive(Debug, Clone, Copy)]
struct Ends {
    head: Slot,
    tail: Slot,
}

/// The messages of a queue that are on its host's disk and not in memory: every stored message
/// from `first_seq` on, after everything in memory.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DiskTail {
    /// The sequence number the tail starts at: no message in it has a lower one.
    pub first_seq: u64,
    /// How many messages it holds.
    pub messages: usize,
    /// Their payload bytes.
    pub bytes: usize,
}

/// The queue. See the module docs.
#[derive(Debug)]
pub(crate) struct Queue {
    order: Order,
    nodes: Vec<Option<Node>>,
    free: Vec<Slot>,
    ends: Option<Ends>,
    by_sender: FxHashMap<Pid, Ends>,
    /// Priority order only: the last entry of each priority level present.
    level_tails: BTreeMap<u16, Slot>,
    len: usize,
    bytes: usize,
    /// What is on disk rather than here; `None` when nothing is.
    tail: Option<DiskTail>,
}

impl Queue {
    pub(crate) fn new(order: Order) -> Queue {
        Queue {
            order,
            nodes: Vec::new(),
            free: Vec::new(),
            ends: None,
            by_sender: FxHashMap::default(),
            level_tails: BTreeMap::new(),
            len: 0,
            bytes: 0,
            tail: None,
        }
    }

    /// How many messages are queued: in memory and on disk.
    pub(crate) fn len(&self) -> usize {
        self.len + self.tail.map_or(0, |tail| tail.messages)
    }

    /// The payload bytes queued: in memory and on disk.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes + self.tail.map_or(0, |tail| tail.bytes)
    }

    /// How many messages are in memory.
    pub(crate) fn resident_len(&self) -> usize {
        self.len
    }

    /// The payload bytes in memory.
    pub(crate) fn resident_bytes(&self) -> usize {
        self.bytes
    }

    /// What is on disk, if anything.
    pub(crate) fn tail(&self) -> Option<DiskTail> {
        self.tail
    }

    /// Whether a message with sequence number `seq` belongs behind the tail on disk: there is a
    /// tail and the message is not older than it (a new message, not one returned from a lease).
    pub(crate) fn is_behind_tail(&self, seq: u64) -> bool {
        self.tail.is_some_and(|tail| seq >= tail.first_seq)
    }

    /// Declares that `tail` follows what is in memory (a restore), or that nothing does.
    pub(crate) fn set_tail(&mut self, tail: Option<DiskTail>) {
        self.tail = tail.filter(|tail| tail.messages > 0);
    }

    /// Moves the oldest messages of the tail into memory: `entries`, in sequence order, each
    /// at or after the tail's start. Returns what remains on disk.
    ///
    /// # Errors
    ///
    /// When there is no tail, `entries` are not in sequence order from its start, or are more
    /// (or more bytes) than it holds: what was read is not this queue's tail.
    pub(crate) fn page_in(&mut self, entries: Vec<Entry>) -> Result<Option<DiskTail>, String> {
        let Some(mut tail) = self.tail else {
            return Err("the queue has no messages on disk".to_owned());
        };
        let bytes: usize = entries.iter().map(|entry| entry.message.len()).sum();
        let mut next = tail.first_seq;
        for entry in &entries {
            if entry.seq < next {
                return Err(format!(
                    "message {} is out of order (the next on disk is {next} or later)",
                    entry.seq
                ));
            }
            next = entry.seq.saturating_add(1);
        }
        if entries.len() > tail.messages || bytes > tail.bytes {
            return Err(format!(
                "{} messages of {bytes} bytes read, but {} messages of {} bytes are on disk",
                entries.len(),
                tail.messages,
                tail.bytes
            ));
        }
        if entries.is_empty() {
            return Err(format!(
                "no message read, but {} are on disk from {}",
                tail.messages, tail.first_seq
            ));
        }
        tail.messages -= entries.len();
        tail.bytes -= bytes;
        tail.first_seq = next;
        if tail.messages == 0 && tail.bytes != 0 {
            return Err(format!(
                "every message read, but {} bytes are still counted on disk",
                tail.bytes
            ));
        }
        for entry in entries {
            self.push_resident(entry);
        }
        self.set_tail(Some(tail));
        Ok(self.tail)
    }

    fn node(&self, slot: Slot) -> &Node {
        self.nodes[slot]
            .as_ref()
            .expect("queue links point at live nodes")
    }

    fn node_mut(&mut self, slot: Slot) -> &mut Node {
        self.nodes[slot]
            .as_mut()
            .expect("queue links point at live nodes")
    }

    /// Adds `entry` at its place in queue order; behind a tail on disk, it extends the tail
    /// (the entry itself is dropped: its host has the message from the journal).
    pub(crate) fn push(&mut self, entry: Entry) {
        if let Some(tail) = self.tail.as_mut() {
            tail.messages += 1;
            tail.bytes += entry.message.len();
            return;
        }
        self.push_resident(entry);
    }

    /// Adds `entry` to what is in memory, at its place in queue order.
    fn push_resident(&mut self, entry: Entry) {
        let priority = entry.message.priority;
        let sender = entry.sender;
        self.len += 1;
        self.bytes += entry.message.len();
        let node = Node {
            entry,
            prev: None,
            next: None,
            sender_prev: None,
            sender_next: None,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.nodes[slot] = Some(node);
                slot
            }
            None => {
                self.nodes.push(Some(node));
                self.nodes.len() - 1
            }
        };
        let after = match self.order {
            Order::Fifo => self.ends.map(|ends| ends.tail),
            // Behind the last entry whose priority is at least ours; at the head if none.
            Order::Priority => self
                .level_tails
                .range(priority..)
                .next()
                .map(|(_, &tail)| tail),
        };
        self.link_after(slot, after);
        if self.order == Order::Priority {
            self.level_tails.insert(priority, slot);
        }
        match self.by_sender.get_mut(&sender) {
            Some(ends) => {
                let old_tail = ends.tail;
                ends.tail = slot;
                self.node_mut(old_tail).sender_next = Some(slot);
                self.node_mut(slot).sender_prev = Some(old_tail);
            }
            None => {
                self.by_sender.insert(
                    sender,
                    Ends {
                        head: slot,
                        tail: slot,
                    },
                );
            }
        }
    }

    fn link_after(&mut self, slot: Slot, after: Option<Slot>) {
        let next = match after {
            Some(prev) => self.node(prev).next,
            None => self.ends.map(|ends| ends.head),
        };
        {
            let node = self.node_mut(slot);
            node.prev = after;
            node.next = next;
        }
        if let Some(prev) = after {
            self.node_mut(prev).next = Some(slot);
        }
        if let Some(next) = next {
            self.node_mut(next).prev = Some(slot);
        }
        let ends = match self.ends {
            None => Ends {
                head: slot,
                tail: slot,
            },
            Some(ends) => Ends {
                head: if after.is_none() { slot } else { ends.head },
                tail: if next.is_none() { slot } else { ends.tail },
            },
        };
        self.ends = Some(ends);
    }

    /// Removes the entry in `slot` and returns it.
    pub(crate) fn remove(&mut self, slot: Slot) -> Entry {
        let node = self.nodes[slot].take().expect("removing a live node");
        self.free.push(slot);
        self.len -= 1;
        self.bytes -= node.entry.message.len();
        if let Some(prev) = node.prev {
            self.node_mut(prev).next = node.next;
        }
        if let Some(next) = node.next {
            self.node_mut(next).prev = node.prev;
        }
        self.ends = match (node.prev, node.next, self.ends) {
            (None, None, _) | (_, _, None) => None,
            (prev, next, Some(ends)) => Some(Ends {
                head: if prev.is_none() {
                    next.unwrap_or(ends.head)
                } else {
                    ends.head
                },
                tail: if next.is_none() {
                    prev.unwrap_or(ends.tail)
                } else {
                    ends.tail
                },
            }),
        };
        let priority = node.entry.message.priority;
        if self.order == Order::Priority && self.level_tails.get(&priority) == Some(&slot) {
            let same_level_prev = node
                .prev
                .filter(|&prev| self.node(prev).entry.message.priority == priority);
            match same_level_prev {
                Some(prev) => {
                    self.level_tails.insert(priority, prev);
                }
                None => {
                    self.level_tails.remove(&priority);
                }
            }
        }
        let sender = node.entry.sender;
        if let Some(prev) = node.sender_prev {
            self.node_mut(prev).sender_next = node.sender_next;
        }
        if let Some(next) = node.sender_next {
            self.node_mut(next).sender_prev = node.sender_prev;
        }
        match (node.sender_prev, node.sender_next) {
            (None, None) => {
                self.by_sender.remove(&sender);
            }
            (prev, next) => {
                let ends = self.by_sender.get_mut(&sender).expect("sender has entries");
                if prev.is_none() {
                    ends.head = next.expect("a successor exists");
                }
                if next.is_none() {
                    ends.tail = prev.expect("a predecessor exists");
                }
            }
        }
        node.entry
    }

    /// Entries in queue order, with their slots.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Slot, &Entry)> + '_ {
        let mut cursor = self.ends.map(|ends| ends.head);
        std::iter::from_fn(move || {
            let slot = cursor?;
            let node = self.node(slot);
            cursor = node.next;
            Some((slot, &node.entry))
        })
    }

    /// The slot of the entry `selector` takes, if any.
    pub(crate) fn find(&self, selector: Selector) -> Option<Slot> {
        match selector {
            Selector::Any => self.ends.map(|ends| ends.head),
            // In FIFO order a sender's oldest entry is also its first in queue order.
            Selector::From(pid) if self.order == Order::Fifo => {
                self.by_sender.get(&pid).map(|ends| ends.head)
            }
            Selector::TypeAtMost(limit) => {
                let mut best: Option<(i64, Slot)> = None;
                for (slot, entry) in self.iter() {
                    let mtype = entry.message.mtype;
                    if mtype <= limit && best.is_none_or(|(lowest, _)| mtype < lowest) {
                        best = Some((mtype, slot));
                    }
                }
                best.map(|(_, slot)| slot)
            }
            _ => self
                .iter()
                .find(|(_, entry)| selector.matches(entry.message.mtype, entry.sender))
                .map(|(slot, _)| slot),
        }
    }

    /// The entry drop-oldest discards first: the head in FIFO order; in priority order the oldest
    /// entry of the lowest priority present.
    pub(crate) fn oldest_to_drop(&self) -> Option<Slot> {
        match self.order {
            Order::Fifo => self.ends.map(|ends| ends.head),
            Order::Priority => {
                let (&lowest, _) = self.level_tails.iter().next()?;
                let above = lowest
                    .checked_add(1)
                    .and_then(|p| self.level_tails.range(p..).next());
                match above {
                    Some((_, &tail_above)) => self.node(tail_above).next,
                    None => self.ends.map(|ends| ends.head),
                }
            }
        }
    }

    /// The slot holding the entry whose receipt `ticket` awaits.
    pub(crate) fn find_receipt(&self, ticket: Ticket) -> Option<Slot> {
        self.iter()
            .find(|(_, entry)| entry.receipt == Some(ticket))
            .map(|(slot, _)| slot)
    }

    /// The entry in `slot`.
    pub(crate) fn entry(&self, slot: Slot) -> &Entry {
        &self.node(slot).entry
    }

    /// Mutable access to the entry in `slot`.
    pub(crate) fn entry_mut(&mut self, slot: Slot) -> &mut Entry {
        &mut self.node_mut(slot).entry
    }

    /// Puts messages that left the queue back where they were: in queue order by their sequence
    /// numbers, ahead of everything accepted after them. Rebuilds the queue, which costs its
    /// length; returns are rare (a consumer stopping or dying), receives are not.
    pub(crate) fn restore(&mut self, returned: Vec<Entry>) {
        let mut all = self.drain();
        all.extend(returned);
        match self.order {
            Order::Fifo => all.sort_by_key(|entry| entry.seq),
            Order::Priority => {
                all.sort_by_key(|entry| (std::cmp::Reverse(entry.message.priority), entry.seq));
            }
        }
        for entry in all {
            self.push_resident(entry);
        }
    }

    /// Removes every entry in memory, in queue order (the tail on disk, if any, stays).
    pub(crate) fn drain(&mut self) -> Vec<Entry> {
        let mut out = Vec::with_capacity(self.len);
        while let Some(ends) = self.ends {
            out.push(self.remove(ends.head));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(sender: u64, seq: u64, mtype: i64, priority: u16) -> Entry {
        Entry {
            message: Message::new(vec![0; seq as usize % 3])
                .with_type(mtype)
                .with_priority(priority),
            sender: Pid::from_raw(sender),
            seq,
            sent_at: Timestamp::ZERO,
            receipt: None,
            kind: MessageKind::User,
            deliveries: 0,
        }
    }

    fn seqs(queue: &Queue) -> Vec<u64> {
        queue.iter().map(|(_, e)| e.seq).collect()
    }

    #[test]
    fn fifo_keeps_arrival_order_and_indexes_senders() {
        let mut q = Queue::new(Order::Fifo);
        for seq in 0..6 {
            q.push(entry(seq % 2, seq, 1, 0));
        }
        assert_eq!(seqs(&q), [0, 1, 2, 3, 4, 5]);
        let slot = q.find(Selector::From(Pid::from_raw(1))).unwrap();
        assert_eq!(q.remove(slot).seq, 1);
        let slot = q.find(Selector::From(Pid::from_raw(1))).unwrap();
        assert_eq!(q.remove(slot).seq, 3);
        assert_eq!(seqs(&q), [0, 2, 4, 5]);
        assert_eq!(q.len(), 4);
    }

    #[test]
    fn priority_orders_high_first_fifo_among_equals() {
        let mut q = Queue::new(Order::Priority);
        for (seq, prio) in [(0, 1), (1, 5), (2, 1), (3, 9), (4, 5), (5, 0)] {
            q.push(entry(1, seq, 1, prio));
        }
        assert_eq!(seqs(&q), [3, 1, 4, 0, 2, 5]);
        assert_eq!(q.entry_mut(q.oldest_to_drop().unwrap()).seq, 5);
        let slot = q.find(Selector::Any).unwrap();
        q.remove(slot);
        q.remove(q.oldest_to_drop().unwrap());
        assert_eq!(q.entry_mut(q.oldest_to_drop().unwrap()).seq, 0);
        q.push(entry(1, 6, 1, 9));
        q.push(entry(1, 7, 1, 1));
        assert_eq!(seqs(&q), [6, 1, 4, 0, 2, 7]);
    }

    #[test]
    fn type_at_most_takes_the_lowest_type_first_among_equals() {
        let mut q = Queue::new(Order::Fifo);
        for (seq, mtype) in [(0, 5), (1, 3), (2, 7), (3, 3)] {
            q.push(entry(1, seq, mtype, 0));
        }
        let slot = q.find(Selector::TypeAtMost(4)).unwrap();
        assert_eq!(q.remove(slot).seq, 1);
        assert_eq!(q.find(Selector::TypeAtMost(2)), None);
        let slot = q.find(Selector::NotType(5)).unwrap();
        assert_eq!(q.remove(slot).seq, 2);
    }

    #[test]
    fn restore_puts_entries_back_at_their_sequence_position() {
        let mut fifo = Queue::new(Order::Fifo);
        for seq in [3, 5] {
            fifo.push(entry(seq % 2 + 1, seq, 1, 0));
        }
        fifo.restore(vec![entry(2, 4, 1, 0), entry(1, 1, 1, 0)]);
        assert_eq!(seqs(&fifo), [1, 3, 4, 5]);
        assert_eq!(fifo.len(), 4);
        let first_of_2 = fifo.find(Selector::From(Pid::from_raw(2))).unwrap();
        assert_eq!(
            fifo.entry(first_of_2).seq,
            3,
            "per-sender order follows too"
        );

        let mut priority = Queue::new(Order::Priority);
        priority.push(entry(1, 2, 1, 5));
        priority.push(entry(1, 3, 1, 0));
        priority.restore(vec![entry(1, 1, 1, 0), entry(1, 0, 1, 5)]);
        assert_eq!(seqs(&priority), [0, 2, 1, 3]);
    }

    #[test]
    fn drain_empties_and_counts_bytes() {
        let mut q = Queue::new(Order::Priority);
        for seq in 0..5 {
            q.push(entry(seq, seq, 1, (seq % 3) as u16));
        }
        assert_eq!(q.bytes(), [0, 1, 2, 0, 1].iter().sum::<usize>());
        assert_eq!(q.drain().len(), 5);
        assert_eq!((q.len(), q.bytes()), (0, 0));
        assert!(q.find(Selector::Any).is_none());
        assert!(q.find(Selector::From(Pid::from_raw(1))).is_none());
    }
}

//! Idempotent senders: the producers a mailbox remembers, so that a send retried after its
//! answer was lost is recognised and dropped instead of queued twice.
//!
//! A send may carry a [`ProducerSeq`]: who sends (a [`ProducerId`] the sender chose) and the
//! number of this send among that producer's sends, strictly increasing (a gap is allowed: a
//! send that failed is never retried under its number, or is retried under the same one).
//! The mailbox keeps, per producer, the highest number it accepted and what that send was
//! answered with. A send whose number is not above the highest accepted is a duplicate: nothing
//! is queued, it is counted in the mailbox's `duplicates_dropped`, and it is answered as the
//! accepted one was (`Sent`, with the receiver when it was known then).
//!
//! The table is bounded: [`MAX_PRODUCERS_PER_MAILBOX`] producers, the least recently used
//! forgotten first. A producer forgotten (idle while that many others sent) starts afresh: its
//! next send is accepted whatever its number. So the window of deduplication is "the last
//! [`MAX_PRODUCERS_PER_MAILBOX`] producers to use the mailbox, for as long as the mailbox
//! lives" — and for a durable mailbox across restarts, as the table is journaled with the
//! messages.

use std::collections::BTreeMap;
use std::fmt;

use rustc_hash::FxHashMap;

use crate::Pid;
use crate::limits::MAX_PRODUCERS_PER_MAILBOX;

/// A producer: one sender whose sends a mailbox deduplicates. Chosen by the sender (the library
/// picks one at random), not by the engine, so that it survives reconnecting and restarting.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ProducerId(u64);

impl ProducerId {
    /// Wraps a raw producer id.
    pub const fn from_raw(raw: u64) -> ProducerId {
        ProducerId(raw)
    }

    /// The raw value, for transports, stores and display.
    pub const fn as_raw(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ProducerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// What makes a send idempotent: its producer and its number among that producer's sends.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ProducerSeq {
    /// Who sends.
    pub producer: ProducerId,
    /// This send's number: strictly above every earlier send of the producer that was accepted.
    pub seq: u64,
}

impl ProducerSeq {
    /// Send number `seq` of `producer`.
    pub const fn new(producer: ProducerId, seq: u64) -> ProducerSeq {
        ProducerSeq { producer, seq }
    }
}

/// What a mailbox remembers of one producer (and stores, for a durable mailbox).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ProducerRecord {
    /// The highest number accepted.
    pub seq: u64,
    /// The receiver that send was answered with, when it was known at once.
    pub receiver: Option<Pid>,
    /// When it was last used, on the mailbox's own clock of producer uses (higher is later):
    /// what decides which producer is forgotten first.
    pub used: u64,
}

/// The producers of one mailbox, least recently used forgotten first.
#[derive(Debug, Default)]
pub(crate) struct Producers {
    records: FxHashMap<ProducerId, ProducerRecord>,
    /// Every producer by its last use, oldest first.
    by_use: BTreeMap<u64, ProducerId>,
    clock: u64,
}

/// What recording an accepted send changed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Recorded {
    /// The producer's record now.
    pub(crate) record: ProducerRecord,
    /// A producer forgotten to make room.
    pub(crate) forgotten: Option<ProducerId>,
}

impl Producers {
    /// The record of an earlier accepted send that makes `stamp` a duplicate, if it is one;
    /// a duplicate counts as a use.
    pub(crate) fn duplicate(&mut self, stamp: ProducerSeq) -> Option<ProducerRecord> {
        let record = *self.records.get(&stamp.producer)?;
        if stamp.seq > record.seq {
            return None;
        }
        Some(self.touch(stamp.producer, record))
    }

    /// Records that the send `stamp` was accepted, answered with `receiver`.
    pub(crate) fn accepted(&mut self, stamp: ProducerSeq, receiver: Option<Pid>) -> Recorded {
        let mut forgotten = None;
        let record = match self.records.get(&stamp.producer) {
            // An earlier send accepted after a later one (both waited for room) keeps the later.
            Some(old) if old.seq >= stamp.seq => *old,
            Some(_) => ProducerRecord {
                seq: stamp.seq,
                receiver,
                used: 0,
            },
            None => {
                if self.records.len() >= MAX_PRODUCERS_PER_MAILBOX {
                    forgotten = self.forget_oldest();
                }
                ProducerRecord {
                    seq: stamp.seq,
                    receiver,
                    used: 0,
                }
            }
        };
        let record = self.touch(stamp.producer, record);
        Recorded { record, forgotten }
    }

    /// Puts a stored record back (a durable mailbox restored); the stored uses keep their order.
    /// A table that passes the bound keeps the most recently used.
    pub(crate) fn restore(&mut self, producer: ProducerId, record: ProducerRecord) {
        if let Some(old) = self.records.insert(producer, record) {
            self.by_use.remove(&old.used);
        }
        if let Some(other) = self.by_use.insert(record.used, producer)
            && other != producer
        {
            // Two records of one use cannot come from this engine; keep one.
            self.records.remove(&other);
        }
        self.clock = self.clock.max(record.used.saturating_add(1));
        while self.records.len() > MAX_PRODUCERS_PER_MAILBOX {
            self.forget_oldest();
        }
    }

    /// How many producers are remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    fn touch(&mut self, producer: ProducerId, mut record: ProducerRecord) -> ProducerRecord {
        if self.records.contains_key(&producer) {
            self.by_use.remove(&record.used);
        }
        record.used = self.clock;
        self.clock += 1;
        self.by_use.insert(record.used, producer);
        self.records.insert(producer, record);
        record
    }

    fn forget_oldest(&mut self) -> Option<ProducerId> {
        let (_, producer) = self.by_use.pop_first()?;
        self.records.remove(&producer);
        Some(producer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(producer: u64, seq: u64) -> ProducerSeq {
        ProducerSeq::new(ProducerId::from_raw(producer), seq)
    }

    #[test]
    fn a_number_not_above_the_highest_accepted_is_a_duplicate() {
        let mut producers = Producers::default();
        assert_eq!(producers.duplicate(stamp(1, 0)), None, "never seen");
        producers.accepted(stamp(1, 0), None);
        producers.accepted(stamp(1, 5), Some(Pid::from_raw(9)));
        for seq in [0, 3, 5] {
            let record = producers.duplicate(stamp(1, seq)).expect("a duplicate");
            assert_eq!((record.seq, record.receiver), (5, Some(Pid::from_raw(9))));
        }
        assert_eq!(producers.duplicate(stamp(1, 6)), None, "a gap is allowed");
        assert_eq!(producers.duplicate(stamp(2, 0)), None, "another producer");
    }

    #[test]
    fn an_earlier_number_accepted_late_keeps_the_highest() {
        let mut producers = Producers::default();
        producers.accepted(stamp(1, 7), None);
        let recorded = producers.accepted(stamp(1, 6), None);
        assert_eq!(recorded.record.seq, 7);
        assert!(producers.duplicate(stamp(1, 7)).is_some());
    }

    #[test]
    fn the_least_recently_used_producer_is_forgotten_at_the_bound() {
        let mut producers = Producers::default();
        for id in 0..MAX_PRODUCERS_PER_MAILBOX as u64 {
            assert_eq!(producers.accepted(stamp(id, 1), None).forgotten, None);
        }
        // Producer 0 is used again (a duplicate counts), so producer 1 is the oldest now.
        assert!(producers.duplicate(stamp(0, 1)).is_some());
        let recorded = producers.accepted(stamp(5000, 1), None);
        assert_eq!(recorded.forgotten, Some(ProducerId::from_raw(1)));
        assert_eq!(producers.len(), MAX_PRODUCERS_PER_MAILBOX);
        assert_eq!(
            producers.duplicate(stamp(1, 1)),
            None,
            "forgotten: starts afresh"
        );
        assert!(producers.duplicate(stamp(0, 1)).is_some(), "kept");
    }

    #[test]
    fn restored_records_keep_their_order_of_use() {
        let mut producers = Producers::default();
        for (id, used) in [(1, 10), (2, 3), (3, 7)] {
            let record = ProducerRecord {
                seq: 4,
                receiver: None,
                used,
            };
            producers.restore(ProducerId::from_raw(id), record);
        }
        assert!(producers.duplicate(stamp(2, 4)).is_some());
        let next = producers.accepted(stamp(4, 0), None).record.used;
        assert!(next > 10, "the clock goes on after the stored uses: {next}");
        assert_eq!(producers.forget_oldest(), Some(ProducerId::from_raw(3)));
    }
}

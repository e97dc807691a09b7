//! What arrived against what was sent: lost, duplicated, unexpected and reordered messages.
//!
//! Pure bookkeeping, no I/O: feed it every `(sender, seq)` sent and every `(sender, seq)`
//! received, in the order they were received, and ask for a [`Report`].

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt;

/// Tallies of one sender's messages, or of all senders together.
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct Tally {
    /// Distinct messages sent (sending the same sequence number again counts once).
    pub sent: u64,
    /// Sent messages received exactly once.
    pub delivered_once: u64,
    /// Sent messages never received.
    pub lost: u64,
    /// Extra copies received: a message received three times counts two.
    pub duplicated: u64,
    /// Receipts of messages never sent, every copy counted.
    pub unexpected: u64,
    /// Receipts whose sequence number is lower than one already received from the same sender
    /// (a late duplicate counts here as well as in `duplicated`).
    pub reordered: u64,
}

impl Tally {
    /// Whether everything sent arrived exactly once, in order, and nothing else arrived.
    pub fn is_clean(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.unexpected == 0 && self.reordered == 0
    }

    fn add(&mut self, other: &Tally) {
        self.sent += other.sent;
        self.delivered_once += other.delivered_once;
        self.lost += other.lost;
        self.duplicated += other.duplicated;
        self.unexpected += other.unexpected;
        self.reordered += other.reordered;
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} sent, {} delivered once, {} lost, {} duplicated, {} unexpected, {} reordered",
            self.sent,
            self.delivered_once,
            self.lost,
            self.duplicated,
            self.unexpected,
            self.reordered
        )
    }
}

/// The verdict: per sender, and in total.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Report<S> {
    /// Each sender that sent or was received from, in order.
    pub senders: BTreeMap<S, Tally>,
    /// All senders added up.
    pub total: Tally,
}

impl<S> Report<S> {
    /// Whether every sender's messages arrived exactly once, in order, and nothing else did.
    pub fn is_clean(&self) -> bool {
        self.total.is_clean()
    }
}

impl<S: fmt::Display> fmt::Display for Report<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "in total: {}", self.total)?;
        for (sender, tally) in &self.senders {
            if !tally.is_clean() {
                write!(f, "\n  sender {sender}: {tally}")?;
            }
        }
        Ok(())
    }
}

/// One sender's records.
#[derive(Clone, Debug, Default)]
struct Stream {
    /// Sequence number → times received (0: sent, not received yet).
    sent: BTreeMap<u64, u64>,
    /// Sequence number → times received, for numbers never sent.
    unexpected: BTreeMap<u64, u64>,
    /// The highest sequence number received so far.
    highest: Option<u64>,
    reordered: u64,
}

/// Collects sent and received records; [`report`](Checker::report) classifies them.
///
/// A receipt is matched with a send by `(sender, seq)` whenever each was recorded, so records
/// from concurrent senders and receivers may be fed in any interleaving; only the order of the
/// receipts of one sender matters (for `reordered`).
#[derive(Clone, Debug)]
pub struct Checker<S> {
    streams: BTreeMap<S, Stream>,
}

impl<S: Ord + Clone> Default for Checker<S> {
    fn default() -> Self {
        Checker::new()
    }
}

impl<S: Ord + Clone> Checker<S> {
    /// A checker with nothing recorded.
    pub fn new() -> Checker<S> {
        Checker {
            streams: BTreeMap::new(),
        }
    }

    /// `sender` sent message `seq`.
    pub fn sent(&mut self, sender: S, seq: u64) {
        let stream = self.streams.entry(sender).or_default();
        if let Entry::Vacant(slot) = stream.sent.entry(seq) {
            // Received before its send was recorded: it was unexpected only until now.
            let early = stream.unexpected.remove(&seq).unwrap_or(0);
            slot.insert(early);
        }
    }

    /// A message `seq` from `sender` was received (call in the order of receipt).
    pub fn received(&mut self, sender: S, seq: u64) {
        let stream = self.streams.entry(sender).or_default();
        if stream.highest.is_some_and(|highest| seq < highest) {
            stream.reordered += 1;
        }
        stream.highest = stream.highest.max(Some(seq));
        match stream.sent.get_mut(&seq) {
            Some(count) => *count += 1,
            None => *stream.unexpected.entry(seq).or_default() += 1,
        }
    }

    /// The verdict on everything recorded so far.
    pub fn report(&self) -> Report<S> {
        let mut total = Tally::default();
        let senders = self
            .streams
            .iter()
            .map(|(sender, stream)| {
                let mut tally = Tally {
                    sent: stream.sent.len() as u64,
                    reordered: stream.reordered,
                    unexpected: stream.unexpected.values().sum(),
                    ..Tally::default()
                };
                for &count in stream.sent.values() {
                    match count {
                        0 => tally.lost += 1,
                        1 => tally.delivered_once += 1,
                        more => {
                            tally.delivered_once += 1;
                            tally.duplicated += more - 1;
                        }
                    }
                }
                total.add(&tally);
                (sender.clone(), tally)
            })
            .collect();
        Report { senders, total }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(sent: &[(u32, u64)], received: &[(u32, u64)]) -> Report<u32> {
        let mut checker = Checker::new();
        for &(sender, seq) in sent {
            checker.sent(sender, seq);
        }
        for &(sender, seq) in received {
            checker.received(sender, seq);
        }
        checker.report()
    }

    #[test]
    fn everything_once_in_order_is_clean() {
        let all: Vec<_> = (1..=100).map(|seq| (7, seq)).collect();
        let report = check(&all, &all);
        assert!(report.is_clean(), "{report}");
        assert_eq!(
            report.total,
            Tally {
                sent: 100,
                delivered_once: 100,
                ..Tally::default()
            }
        );
    }

    #[test]
    fn nothing_recorded_is_clean_and_empty() {
        let report = check(&[], &[]);
        assert!(report.is_clean());
        assert!(report.senders.is_empty());
        assert_eq!(report.total, Tally::default());
    }

    #[test]
    fn a_message_never_received_is_lost() {
        let report = check(&[(1, 1), (1, 2), (1, 3)], &[(1, 1), (1, 3)]);
        assert_eq!(report.total.lost, 1);
        assert_eq!(report.total.delivered_once, 2);
        assert!(!report.is_clean());
        // The last one lost too: nothing after it shows the gap, only the send does.
        let report = check(&[(1, 1), (1, 2)], &[(1, 1)]);
        assert_eq!(report.total.lost, 1);
        assert_eq!(report.total.reordered, 0);
    }

    #[test]
    fn extra_copies_are_duplicates_each_counted() {
        let report = check(&[(1, 1), (1, 2)], &[(1, 1), (1, 1), (1, 2), (1, 2), (1, 2)]);
        assert_eq!(report.total.duplicated, 3);
        assert_eq!(report.total.delivered_once, 2);
        assert_eq!(report.total.lost, 0);
        // A copy arriving straight after the original is not out of order.
        assert_eq!(report.total.reordered, 0);
    }

    #[test]
    fn a_late_duplicate_is_duplicated_and_reordered() {
        let report = check(&[(1, 1), (1, 2)], &[(1, 1), (1, 2), (1, 1)]);
        assert_eq!(report.total.duplicated, 1);
        assert_eq!(report.total.reordered, 1);
    }

    #[test]
    fn a_receipt_never_sent_is_unexpected_every_copy() {
        let report = check(&[(1, 1)], &[(1, 1), (1, 9), (1, 9), (2, 1)]);
        assert_eq!(report.total.unexpected, 3);
        assert_eq!(report.senders[&1].unexpected, 2);
        assert_eq!(report.senders[&2].unexpected, 1);
        assert_eq!(report.senders[&2].sent, 0);
        assert_eq!(
            report.total.duplicated, 0,
            "unexpected copies are not duplicates"
        );
    }

    #[test]
    fn a_lower_number_after_a_higher_one_is_reordered() {
        let sent: Vec<_> = (1..=4).map(|seq| (1, seq)).collect();
        let report = check(&sent, &[(1, 1), (1, 3), (1, 2), (1, 4)]);
        assert_eq!(report.total.reordered, 1);
        assert_eq!(report.total.delivered_once, 4);
        assert_eq!(report.total.lost, 0);
        // Measured against the highest seen, not the previous one: 2 and 3 both after 4.
        let report = check(&sent, &[(1, 1), (1, 4), (1, 2), (1, 3)]);
        assert_eq!(report.total.reordered, 2);
    }

    #[test]
    fn order_is_per_sender_so_interleaved_senders_are_not_reordered() {
        let sent = [(1, 1), (1, 2), (2, 1), (2, 2)];
        let report = check(&sent, &[(1, 1), (2, 1), (1, 2), (2, 2)]);
        assert!(report.is_clean(), "{report}");
        assert_eq!(report.senders.len(), 2);
    }

    #[test]
    fn a_receipt_recorded_before_its_send_still_matches() {
        let mut checker = Checker::new();
        checker.received("a", 1);
        checker.sent("a", 1);
        checker.sent("a", 2);
        checker.received("a", 2);
        let report = checker.report();
        assert!(report.is_clean(), "{report}");
        assert_eq!(report.total.delivered_once, 2);
    }

    #[test]
    fn sending_the_same_number_twice_counts_once() {
        let report = check(&[(1, 5), (1, 5)], &[(1, 5)]);
        assert_eq!(report.total.sent, 1);
        assert!(report.is_clean());
    }

    #[test]
    fn extreme_sequence_numbers_are_ordinary() {
        let report = check(&[(1, 0), (1, u64::MAX)], &[(1, u64::MAX), (1, 0)]);
        assert_eq!(report.total.delivered_once, 2);
        assert_eq!(report.total.reordered, 1);
    }

    #[test]
    fn totals_add_up_the_senders_and_display_names_the_unclean_ones() {
        let report = check(&[(1, 1), (2, 1), (2, 2)], &[(1, 1), (2, 2), (2, 2)]);
        assert_eq!(report.total.sent, 3);
        assert_eq!(report.total.lost, 1);
        assert_eq!(report.total.duplicated, 1);
        let shown = report.to_string();
        assert!(
            shown.starts_with("in total: 3 sent, 2 delivered once, 1 lost"),
            "{shown}"
        );
        assert!(shown.contains("sender 2:"), "{shown}");
        assert!(!shown.contains("sender 1:"), "{shown}");
    }
}

//! The checks that make every number honest: each received message is the one expected.
//!
//! A mechanism that loses, duplicates, reorders or corrupts a message fails its run with a
//! [`CheckError`] instead of producing a figure. Each workload has its own rule:
//!
//! - one stream (ping-pong, throughput): [`StreamCheck`], sequence numbers 0, 1, 2 … from one
//!   producer;
//! - fan-in: [`FanInCheck`], each producer's sequence numbers consecutive from 0;
//! - competing consumers: [`CompetingCheck`] in each consumer (strictly increasing), and
//!   [`check_competing_totals`] over all of them (every message received exactly once).

use thiserror::Error;

use crate::message::Header;

/// Why a received message, or a run's totals, are not what the workload sent.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum CheckError {
    /// A message arrived with the wrong length.
    #[error("a message of {got} bytes arrived, expected {expected}")]
    Length {
        /// Its length.
        got: usize,
        /// The case's size.
        expected: usize,
    },
    /// A message names a producer that does not exist in this run.
    #[error("a message names producer {got}, but the run has {producers} producer(s)")]
    UnknownProducer {
        /// The producer index it carries.
        got: u64,
        /// How many producers the run has.
        producers: u64,
    },
    /// A producer's message arrived out of turn: lost, duplicated or reordered.
    #[error("producer {producer}'s message {got} arrived when {expected} was expected")]
    OutOfSequence {
        /// The producer.
        producer: u64,
        /// The sequence number that arrived.
        got: u64,
        /// The one that should have.
        expected: u64,
    },
    /// A competing consumer received a sequence number not above the previous one.
    #[error("message {got} arrived after message {previous}: sequence numbers must increase")]
    NotIncreasing {
        /// The sequence number that arrived.
        got: u64,
        /// The one before it.
        previous: u64,
    },
    /// An answer carried another sequence number than the request it answers.
    #[error("the answer to ping {sent} carried sequence number {got}")]
    WrongAnswer {
        /// The ping's sequence number.
        sent: u64,
        /// The pong's.
        got: u64,
    },
    /// The run's totals show lost or duplicated messages.
    #[error("{what}: got {got}, expected {expected}")]
    Totals {
        /// Which total.
        what: &'static str,
        /// What the roles reported.
        got: u128,
        /// What was sent.
        expected: u128,
    },
}

/// One producer's stream, received in order: sequence numbers 0, 1, 2 … from `producer`.
#[derive(Clone, Debug)]
pub struct StreamCheck {
    producer: u64,
    next: u64,
}

impl StreamCheck {
    /// Expects the stream of `producer`, from sequence number 0.
    pub fn new(producer: u64) -> StreamCheck {
        StreamCheck { producer, next: 0 }
    }

    /// Checks the next message's header.
    ///
    /// # Errors
    ///
    /// [`CheckError::UnknownProducer`] or [`CheckError::OutOfSequence`].
    pub fn accept(&mut self, header: Header) -> Result<(), CheckError> {
        if header.producer != self.producer {
            return Err(CheckError::UnknownProducer {
                got: header.producer,
                producers: self.producer + 1,
            });
        }
        if header.seq != self.next {
            return Err(CheckError::OutOfSequence {
                producer: self.producer,
                got: header.seq,
                expected: self.next,
            });
        }
        self.next += 1;
        Ok(())
    }

    /// How many messages have been accepted.
    pub fn received(&self) -> u64 {
        self.next
    }
}

/// Several producers into one queue: each producer's messages consecutive from 0, in any
/// interleaving.
#[derive(Clone, Debug)]
pub struct FanInCheck {
    next: Vec<u64>,
}

impl FanInCheck {
    /// Expects `producers` producers, numbered from 0.
    pub fn new(producers: usize) -> FanInCheck {
        FanInCheck {
            next: vec![0; producers],
        }
    }

    /// Checks the next message's header.
    ///
    /// # Errors
    ///
    /// [`CheckError::UnknownProducer`] or [`CheckError::OutOfSequence`].
    pub fn accept(&mut self, header: Header) -> Result<(), CheckError> {
        let producers = self.next.len() as u64;
        let next = usize::try_from(header.producer)
            .ok()
            .and_then(|index| self.next.get_mut(index))
            .ok_or(CheckError::UnknownProducer {
                got: header.producer,
                producers,
            })?;
        if header.seq != *next {
            return Err(CheckError::OutOfSequence {
                producer: header.producer,
                got: header.seq,
                expected: *next,
            });
        }
        *next += 1;
        Ok(())
    }

    /// Checks that every producer's stream is complete: `per_producer` messages each.
    ///
    /// # Errors
    ///
    /// [`CheckError::Totals`] naming the first producer short of (or beyond) its count.
    pub fn finish(&self, per_producer: u64) -> Result<(), CheckError> {
        match self.next.iter().find(|&&got| got != per_producer) {
            Some(&got) => Err(CheckError::Totals {
                what: "messages from one producer",
                got: got.into(),
                expected: per_producer.into(),
            }),
            None => Ok(()),
        }
    }

    /// How many messages have been accepted, from all producers.
    pub fn received(&self) -> u64 {
        self.next.iter().sum()
    }
}

/// One of several competing consumers: its share of the producer's stream, strictly increasing;
/// it counts and sums what it got for [`check_competing_totals`].
#[derive(Clone, Debug, Default)]
pub struct CompetingCheck {
    previous: Option<u64>,
    received: u64,
    sum: u128,
}

impl CompetingCheck {
    /// Expects nothing yet.
    pub fn new() -> CompetingCheck {
        CompetingCheck::default()
    }

    /// Checks the next message's header (from producer 0, the only one).
    ///
    /// # Errors
    ///
    /// [`CheckError::UnknownProducer`] or [`CheckError::NotIncreasing`].
    pub fn accept(&mut self, header: Header) -> Result<(), CheckError> {
        if header.producer != 0 {
            return Err(CheckError::UnknownProducer {
                got: header.producer,
                producers: 1,
            });
        }
        if let Some(previous) = self.previous.filter(|&previous| header.seq <= previous) {
            return Err(CheckError::NotIncreasing {
                got: header.seq,
                previous,
            });
        }
        self.previous = Some(header.seq);
        self.received += 1;
        self.sum += u128::from(header.seq);
        Ok(())
    }

    /// How many messages it accepted.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The sum of their sequence numbers.
    pub fn sum(&self) -> u128 {
        self.sum
    }
}

/// Checks that competing consumers, together, received each of `sent` messages (sequence numbers
/// `0..sent`) exactly once: given each consumer's count and sum, and that each consumer's
/// sequence numbers increased, the total count must be `sent` and the total sum
/// `sent * (sent - 1) / 2`.
///
/// # Errors
///
/// [`CheckError::Totals`] naming the total that is off.
pub fn check_competing_totals(
    sent: u64,
    consumers: impl IntoIterator<Item = (u64, u128)>,
) -> Result<(), CheckError> {
    let (count, sum) = consumers
        .into_iter()
        .fold((0u128, 0u128), |(count, sum), (c, s)| {
            (count + u128::from(c), sum + s)
        });
    let expected_sum = u128::from(sent) * u128::from(sent.saturating_sub(1)) / 2;
    if count != u128::from(sent) {
        return Err(CheckError::Totals {
            what: "messages received by all consumers",
            got: count,
            expected: sent.into(),
        });
    }
    if sum != expected_sum {
        return Err(CheckError::Totals {
            what: "sum of the sequence numbers received",
            got: sum,
            expected: expected_sum,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(producer: u64, seq: u64) -> Header {
        Header { producer, seq }
    }

    #[test]
    fn a_stream_accepts_consecutive_messages_and_refuses_gaps_repeats_and_strangers() {
        let mut check = StreamCheck::new(0);
        for seq in 0..3 {
            assert_eq!(check.accept(h(0, seq)), Ok(()));
        }
        assert_eq!(check.received(), 3);
        assert_eq!(
            check.clone().accept(h(0, 4)),
            Err(CheckError::OutOfSequence {
                producer: 0,
                got: 4,
                expected: 3
            }),
            "a lost message"
        );
        assert!(check.clone().accept(h(0, 2)).is_err(), "a duplicate");
        assert!(matches!(
            check.accept(h(1, 3)),
            Err(CheckError::UnknownProducer { got: 1, .. })
        ));
    }

    #[test]
    fn fan_in_allows_any_interleaving_but_each_producer_in_order() {
        let mut check = FanInCheck::new(2);
        for header in [h(1, 0), h(0, 0), h(0, 1), h(1, 1)] {
            assert_eq!(check.accept(header), Ok(()));
        }
        assert_eq!(check.received(), 4);
        assert_eq!(check.finish(2), Ok(()));
        assert!(check.finish(3).is_err(), "a producer's stream is short");
        assert!(check.clone().accept(h(1, 3)).is_err(), "a gap");
        assert!(matches!(
            check.accept(h(2, 0)),
            Err(CheckError::UnknownProducer {
                got: 2,
                producers: 2
            })
        ));
        assert!(
            FanInCheck::new(1).accept(h(u64::MAX, 0)).is_err(),
            "no overflow on absurd indices"
        );
    }

    #[test]
    fn a_competing_consumer_needs_strictly_increasing_numbers_with_gaps_allowed() {
        let mut check = CompetingCheck::new();
        for seq in [0, 3, 4, 10] {
            assert_eq!(check.accept(h(0, seq)), Ok(()));
        }
        assert_eq!((check.received(), check.sum()), (4, 17));
        assert_eq!(
            check.clone().accept(h(0, 10)),
            Err(CheckError::NotIncreasing {
                got: 10,
                previous: 10
            })
        );
        assert!(check.accept(h(0, 9)).is_err());
    }

    #[test]
    fn competing_totals_catch_a_loss_and_a_duplicate_that_keep_the_count() {
        // 0..6 split between two consumers.
        assert_eq!(
            check_competing_totals(6, [(3, 2 + 4), (3, 1 + 3 + 5)]),
            Ok(())
        );
        assert!(matches!(
            check_competing_totals(6, [(3, 6), (2, 8)]),
            Err(CheckError::Totals { got: 5, .. })
        ));
        // 5 lost, 4 received twice (by different consumers): the count is right, the sum not.
        assert!(matches!(
            check_competing_totals(6, [(3, 2 + 4), (3, 1 + 3 + 4)]),
            Err(CheckError::Totals {
                got: 14,
                expected: 15,
                ..
            })
        ));
        assert_eq!(check_competing_totals(0, []), Ok(()));
    }
}

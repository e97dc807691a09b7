//! The checks that make every number honest: each received message is the one expected.
//!
//! A mechanism that loses, duplicates, reorders or corrupts a message fails its run with a
//! [`CheckError`] instead of producing a figure. Each workload has its own rule:
//!
//! - one stream (ping-pong, throughput): [`StreamCheck`], sequence numbers 0, 1, 2 … from one
//!   producer;
//! - fan-in: [`FanInCheck`], each producer's sequence numbers consecutive from 0;
//! - competing consumers: [`CompetingCheck`] in each consumer, strictly increasing;
//!
//! and over a whole run, [`check_totals`]: the consumers together received exactly what the
//! producers say they sent, each message once.

use crate::check_error::CheckError;
use crate::message::Header;

/// One producer's stream, received in order: sequence numbers 0, 1, 2 … from `producer`.
#[derive(Clone, Debug)]
pub struct StreamCheck {
    producer: u64,
    next: u64,
    sum: u128,
}

impl StreamCheck {
    /// Expects the stream of `producer`, from sequence number 0.
    pub fn new(producer: u64) -> StreamCheck {
        StreamCheck {
            producer,
            next: 0,
            sum: 0,
        }
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
        self.sum += u128::from(self.next);
        self.next += 1;
        Ok(())
    }

    /// How many messages have been accepted.
    pub fn received(&self) -> u64 {
        self.next
    }

    /// The sum of their sequence numbers.
    pub fn sum(&self) -> u128 {
        self.sum
    }
}

/// Several producers into one queue: each producer's messages consecutive from 0, in any
/// interleaving.
#[derive(Clone, Debug)]
pub struct FanInCheck {
    next: Vec<u64>,
    sum: u128,
}

impl FanInCheck {
    /// Expects `producers` producers, numbered from 0.
    pub fn new(producers: usize) -> FanInCheck {
        FanInCheck {
            next: vec![0; producers],
            sum: 0,
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
        self.sum += u128::from(header.seq);
        Ok(())
    }

    /// How many messages have been accepted, from all producers.
    pub fn received(&self) -> u64 {
        self.next.iter().sum()
    }

    /// How many messages have been accepted from each producer.
    pub fn per_producer(&self) -> &[u64] {
        &self.next
    }

    /// The sum of their sequence numbers.
    pub fn sum(&self) -> u128 {
        self.sum
    }
}

/// One of several competing consumers: its share of the producer's stream, strictly increasing;
/// it counts and sums what it got for [`check_totals`].
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

/// Checks that the consumers of a run, together, received each message the producers sent
/// exactly once. Producer `p` reports `sent[p]` messages, numbered `0..sent[p]`; each consumer
/// reports how many it received from each producer and the sum of their sequence numbers.
///
/// With each consumer having checked its own order (consecutive per producer, or strictly
/// increasing), equal counts per producer mean that nothing was lost or duplicated when each
/// producer's messages go to one consumer. When consumers compete for one producer's messages,
/// a loss and a duplicate could cancel out in the count, so the sum of sequence numbers must
/// also be exact.
///
/// # Errors
///
/// [`CheckError::Received`] for a producer whose count is off, [`CheckError::Totals`] for the
/// sum (or a consumer reporting on the wrong number of producers).
pub fn check_totals<'a>(
    sent: &[u64],
    consumers: impl IntoIterator<Item = (&'a [u64], u128)>,
) -> Result<(), CheckError> {
    let mut received = vec![0u64; sent.len()];
    let mut sum = 0u128;
    for (per_producer, consumer_sum) in consumers {
        if per_producer.len() != sent.len() {
            return Err(CheckError::Totals {
                what: "producers a consumer reported on",
                got: per_producer.len() as u128,
                expected: sent.len() as u128,
            });
        }
        for (total, &n) in received.iter_mut().zip(per_producer) {
            *total = total.saturating_add(n);
        }
        sum += consumer_sum;
    }
    for (producer, (&got, &expected)) in received.iter().zip(sent).enumerate() {
        if got != expected {
            return Err(CheckError::Received {
                producer: producer as u64,
                got,
                expected,
            });
        }
    }
    let expected_sum: u128 = sent
        .iter()
        .map(|&n| u128::from(n) * u128::from(n.saturating_sub(1)) / 2)
        .sum();
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
        assert_eq!((check.received(), check.sum()), (3, 3));
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
        assert_eq!((check.received(), check.sum()), (4, 2));
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
    fn totals_catch_losses_duplicates_and_swaps_between_producers() {
        let one: &[u64] = &[3];
        // 0..6 from one producer, split between two consumers.
        assert_eq!(check_totals(&[6], [(one, 2 + 4), (one, 1 + 3 + 5)]), Ok(()));
        assert_eq!(
            check_totals(&[6], [(one, 6), (&[2][..], 8)]),
            Err(CheckError::Received {
                producer: 0,
                got: 5,
                expected: 6
            })
        );
        // 5 lost, 4 received twice (by different consumers): the count is right, the sum not.
        assert!(matches!(
            check_totals(&[6], [(one, 2 + 4), (one, 1 + 3 + 4)]),
            Err(CheckError::Totals {
                got: 14,
                expected: 15,
                ..
            })
        ));
        // Fan-in of 3 and 2 messages: 0+1+2 + 0+1.
        assert_eq!(check_totals(&[3, 2], [(&[3, 2][..], 4)]), Ok(()));
        // Producer 0's last message lost and a phantom third from producer 1: same count, same
        // sum, caught by the per-producer counts.
        assert!(matches!(
            check_totals(&[3, 2], [(&[2, 3][..], 4)]),
            Err(CheckError::Received { producer: 0, .. })
        ));
        assert!(
            check_totals(&[3, 2], [(one, 3)]).is_err(),
            "a report on one producer of two"
        );
        assert_eq!(check_totals(&[], []), Ok(()));
    }
}

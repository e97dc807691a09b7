//! Why a received message, or a run's totals, are not what the workload sent.
//!
//! Its own module because both sides need it: [`crate::message`] refuses a message of the wrong
//! length while reading its header, and [`crate::check`] refuses the headers that arrive out of
//! turn, so that the checks depend on the message layout and not the other way round.

use thiserror::Error;

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
    /// The consumers together received more or fewer of a producer's messages than it sent.
    #[error("the consumers received {got} of producer {producer}'s messages; it sent {expected}")]
    Received {
        /// The producer.
        producer: u64,
        /// How many of its messages were received.
        got: u64,
        /// How many it sent.
        expected: u64,
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

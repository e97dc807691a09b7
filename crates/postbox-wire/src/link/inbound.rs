//! The receiving direction of a session: what was delivered, and the acknowledgement owed.

use std::time::Instant;

use super::link_config::later;
use super::{LinkConfig, Seq};

/// What to do with a data frame.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Receipt {
    /// The next message: deliver it.
    Deliver,
    /// Delivered already: drop it (counted).
    Duplicate,
    /// A message was skipped, which a stream without loss cannot do: reset the connection.
    Gap {
        /// The sequence number due.
        expected: Seq,
    },
}

/// Messages this node receives from the peer in one session.
#[derive(Debug)]
pub(crate) struct Inbound {
    /// The last message delivered.
    delivered: Seq,
    /// Messages delivered since an acknowledgement last went out.
    unacknowledged: u32,
    /// When a standalone `Ack` is due.
    ack_due: Option<Instant>,
    duplicates: u64,
}

impl Inbound {
    pub(crate) fn new() -> Inbound {
        Inbound {
            delivered: Seq::ZERO,
            unacknowledged: 0,
            ack_due: None,
            duplicates: 0,
        }
    }

    /// The last message delivered: what every frame this node writes acknowledges.
    pub(crate) fn delivered(&self) -> Seq {
        self.delivered
    }

    /// Data frame `seq` arrived at `now`. On [`Receipt::Deliver`] the message counts as delivered
    /// and an acknowledgement is owed.
    pub(crate) fn receive(&mut self, seq: Seq, now: Instant, config: &LinkConfig) -> Receipt {
        let expected = self.delivered.next();
        if seq == expected {
            self.delivered = seq;
            self.unacknowledged = self.unacknowledged.saturating_add(1);
            if self.ack_due.is_none() {
                self.ack_due = Some(later(now, config.ack_delay));
            }
            Receipt::Deliver
        } else if seq < expected {
            self.duplicates += 1;
            Receipt::Duplicate
        } else {
            Receipt::Gap { expected }
        }
    }

    /// Whether enough deliveries are unacknowledged that an `Ack` should go out at once.
    pub(crate) fn ack_urgent(&self, config: &LinkConfig) -> bool {
        self.unacknowledged >= config.ack_every
    }

    /// When a standalone `Ack` is due, if one is owed.
    pub(crate) fn ack_due(&self) -> Option<Instant> {
        self.ack_due
    }

    /// A frame carrying the acknowledgement went out: none is owed.
    pub(crate) fn acknowledged(&mut self) {
        self.unacknowledged = 0;
        self.ack_due = None;
    }

    /// The session ended: numbering restarts from 1.
    pub(crate) fn restart(&mut self) {
        self.delivered = Seq::ZERO;
        self.acknowledged();
    }

    pub(crate) fn duplicates(&self) -> u64 {
        self.duplicates
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_delivered_in_order_once_and_a_gap_is_reported() {
        let (now, config) = (Instant::now(), LinkConfig::new());
        let mut inbound = Inbound::new();
        assert_eq!(inbound.receive(Seq::new(1), now, &config), Receipt::Deliver);
        assert_eq!(
            inbound.receive(Seq::new(1), now, &config),
            Receipt::Duplicate
        );
        assert_eq!(
            inbound.receive(Seq::new(3), now, &config),
            Receipt::Gap {
                expected: Seq::new(2)
            }
        );
        assert_eq!(inbound.receive(Seq::new(2), now, &config), Receipt::Deliver);
        assert_eq!(
            (inbound.delivered(), inbound.duplicates()),
            (Seq::new(2), 1)
        );
    }

    #[test]
    fn an_acknowledgement_is_due_after_the_delay_or_urgent_after_the_count() {
        let (now, config) = (Instant::now(), LinkConfig::new());
        let mut inbound = Inbound::new();
        assert_eq!(inbound.ack_due(), None);
        inbound.receive(Seq::new(1), now, &config);
        assert_eq!(inbound.ack_due(), Some(now + config.ack_delay));
        assert!(!inbound.ack_urgent(&config));
        for n in 2..=u64::from(config.ack_every) {
            inbound.receive(Seq::new(n), now, &config);
        }
        assert!(inbound.ack_urgent(&config));
        inbound.acknowledged();
        assert_eq!(
            (inbound.ack_due(), inbound.ack_urgent(&config)),
            (None, false)
        );
        inbound.restart();
        assert_eq!(inbound.receive(Seq::new(1), now, &config), Receipt::Deliver);
    }
}

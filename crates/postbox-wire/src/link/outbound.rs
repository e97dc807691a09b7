//! The sending direction of a session: numbering, acknowledgements, what to write again.

use bytes::Bytes;

use super::resend_buffer::ResendBuffer;
use super::{DATA_OVERHEAD, LinkConfig, LinkSendError, Seq};

/// Messages this node sends to the peer in one session: the next sequence number, the last one
/// the peer acknowledged, the last one written, and the resend buffer between them.
#[derive(Debug)]
pub(crate) struct Outbound {
    /// The sequence number the next message gets.
    next: Seq,
    /// The last message the peer acknowledged.
    acked: Seq,
    /// The last message written to any connection in this session.
    written: Seq,
    resend: ResendBuffer,
    retransmissions: u64,
}

impl Outbound {
    pub(crate) fn new() -> Outbound {
        Outbound {
            next: Seq::new(1),
            acked: Seq::ZERO,
            written: Seq::ZERO,
            resend: ResendBuffer::default(),
            retransmissions: 0,
        }
    }

    /// Numbers `payload` and keeps it until acknowledged, or hands it back: `TooLarge` if it can
    /// never fit (the frame limit, or the byte bound on its own), `Full` if it does not fit now.
    pub(crate) fn push(
        &mut self,
        payload: Bytes,
        config: &LinkConfig,
    ) -> Result<Seq, LinkSendError> {
        let max_message = config.frame_limit() as usize - DATA_OVERHEAD;
        if payload.len() > max_message || payload.len() > config.max_unacked_bytes {
            return Err(LinkSendError::TooLarge(payload));
        }
        if self.resend.len() >= config.max_unacked_messages
            || self.resend.bytes() + payload.len() > config.max_unacked_bytes
        {
            return Err(LinkSendError::Full(payload));
        }
        let seq = self.next;
        self.next = seq.next();
        self.resend.push(seq, payload);
        Ok(seq)
    }

    /// Message `seq` went out on a connection.
    pub(crate) fn wrote(&mut self, seq: Seq) {
        self.written = self.written.max(seq);
    }

    /// The peer acknowledges every message up to `ack`.
    ///
    /// # Errors
    ///
    /// Why the acknowledgement is impossible (a message never written): the peer is broken.
    pub(crate) fn acknowledge(&mut self, ack: Seq) -> Result<(), String> {
        if ack > self.written {
            return Err(format!(
                "an acknowledgement of message {ack}, but only {} were written",
                self.written
            ));
        }
        if ack > self.acked {
            self.acked = ack;
            self.resend.acknowledge(ack);
        }
        Ok(())
    }

    /// The peer's `Hello` resumes the session, saying it delivered up to `delivered`.
    ///
    /// # Errors
    ///
    /// Why that is impossible: beyond what was written, or below what it already acknowledged.
    pub(crate) fn resume(&mut self, delivered: Seq) -> Result<(), String> {
        if delivered < self.acked {
            return Err(format!(
                "the hello says message {delivered} was delivered, but {} was acknowledged",
                self.acked
            ));
        }
        self.acknowledge(delivered)
    }

    /// Ends the session: every unacknowledged message is handed back, oldest first, and
    /// numbering restarts from 1.
    pub(crate) fn fence(&mut self) -> Vec<Bytes> {
        let unsent = self.resend.take_all();
        self.next = Seq::new(1);
        self.acked = Seq::ZERO;
        self.written = Seq::ZERO;
        unsent
    }

    /// Every unacknowledged message, oldest first, to write on a new connection; those written
    /// before count as retransmissions.
    pub(crate) fn resend_all(&mut self) -> Vec<(Seq, Bytes)> {
        let pending: Vec<(Seq, Bytes)> = self.resend.iter().cloned().collect();
        self.retransmissions += pending
            .iter()
            .filter(|(seq, _)| *seq <= self.written)
            .count() as u64;
        pending
    }

    /// Whether the peer has acknowledged anything in this session.
    pub(crate) fn any_acknowledged(&self) -> bool {
        self.acked > Seq::ZERO
    }

    pub(crate) fn unacked(&self) -> usize {
        self.resend.len()
    }

    pub(crate) fn unacked_bytes(&self) -> usize {
        self.resend.bytes()
    }

    pub(crate) fn retransmissions(&self) -> u64 {
        self.retransmissions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(len: usize) -> Bytes {
        Bytes::from(vec![0u8; len])
    }

    #[test]
    fn push_refuses_what_can_never_fit_and_what_does_not_fit_now() {
        let config = LinkConfig {
            max_unacked_messages: 2,
            max_unacked_bytes: 10,
            ..LinkConfig::new()
        };
        let mut outbound = Outbound::new();
        assert_eq!(
            outbound.push(bytes(11), &config),
            Err(LinkSendError::TooLarge(bytes(11)))
        );
        let frame_sized = config.frame_limit() as usize - DATA_OVERHEAD + 1;
        let roomy = LinkConfig {
            max_unacked_bytes: usize::MAX,
            ..config
        };
        assert!(matches!(
            outbound.push(bytes(frame_sized), &roomy),
            Err(LinkSendError::TooLarge(_))
        ));
        assert_eq!(outbound.push(bytes(6), &config), Ok(Seq::new(1)));
        assert_eq!(
            outbound.push(bytes(5), &config),
            Err(LinkSendError::Full(bytes(5)))
        );
        assert_eq!(outbound.push(bytes(4), &config), Ok(Seq::new(2)));
        assert_eq!(
            outbound.push(bytes(0), &config),
            Err(LinkSendError::Full(bytes(0)))
        );
        assert_eq!((outbound.unacked(), outbound.unacked_bytes()), (2, 10));
    }

    #[test]
    fn acknowledgements_drop_a_prefix_and_never_reach_past_what_was_written() {
        let config = LinkConfig::new();
        let mut outbound = Outbound::new();
        for _ in 0..3 {
            outbound.push(bytes(1), &config).unwrap();
        }
        assert!(
            outbound.acknowledge(Seq::new(1)).is_err(),
            "nothing written yet"
        );
        outbound.wrote(Seq::new(1));
        outbound.wrote(Seq::new(2));
        assert_eq!(outbound.acknowledge(Seq::new(1)), Ok(()));
        assert_eq!(outbound.unacked(), 2);
        assert_eq!(
            outbound.acknowledge(Seq::ZERO),
            Ok(()),
            "an old ack changes nothing"
        );
        assert_eq!(outbound.unacked(), 2);
        assert!(
            outbound.resume(Seq::ZERO).is_err(),
            "below what was acknowledged"
        );
        assert!(
            outbound.resume(Seq::new(3)).is_err(),
            "beyond what was written"
        );
        assert_eq!(outbound.resume(Seq::new(2)), Ok(()));
        let again = outbound.resend_all();
        assert_eq!(
            again.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(),
            [Seq::new(3)]
        );
        assert_eq!(outbound.retransmissions(), 0, "message 3 was never written");
    }

    #[test]
    fn a_fence_hands_everything_back_and_numbering_restarts() {
        let config = LinkConfig::new();
        let mut outbound = Outbound::new();
        for n in 0..3u8 {
            outbound.push(Bytes::from(vec![n]), &config).unwrap();
            outbound.wrote(Seq::new(u64::from(n) + 1));
        }
        outbound.acknowledge(Seq::new(1)).unwrap();
        assert_eq!(outbound.resend_all().len(), 2);
        assert_eq!(outbound.retransmissions(), 2);
        let unsent = outbound.fence();
        assert_eq!(unsent, [Bytes::from(vec![1]), Bytes::from(vec![2])]);
        assert!(!outbound.any_acknowledged());
        assert_eq!(outbound.push(bytes(1), &config), Ok(Seq::new(1)));
    }
}

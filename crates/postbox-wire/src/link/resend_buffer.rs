//! The messages sent and not yet acknowledged, bounded in count and bytes.

use std::collections::VecDeque;

use bytes::Bytes;

use super::Seq;

/// Sent messages in sequence order, kept until the peer acknowledges them so that they can be
/// written again on the next connection.
#[derive(Debug, Default)]
pub(crate) struct ResendBuffer {
    messages: VecDeque<(Seq, Bytes)>,
    bytes: usize,
}

impl ResendBuffer {
    pub(crate) fn len(&self) -> usize {
        self.messages.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Appends message `seq`; the caller numbers messages in order and checks the bounds.
    pub(crate) fn push(&mut self, seq: Seq, payload: Bytes) {
        self.bytes += payload.len();
        self.messages.push_back((seq, payload));
    }

    /// Drops every message up to and including `ack`.
    pub(crate) fn acknowledge(&mut self, ack: Seq) {
        while let Some((seq, payload)) = self.messages.front()
            && *seq <= ack
        {
            self.bytes -= payload.len();
            self.messages.pop_front();
        }
    }

    /// Takes every message out, oldest first.
    pub(crate) fn take_all(&mut self) -> Vec<Bytes> {
        self.bytes = 0;
        self.messages
            .drain(..)
            .map(|(_, payload)| payload)
            .collect()
    }

    /// The messages, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &(Seq, Bytes)> {
        self.messages.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledging_drops_a_prefix_and_keeps_the_byte_count() {
        let mut buffer = ResendBuffer::default();
        for n in 1..=4u64 {
            buffer.push(Seq::new(n), Bytes::from(vec![0u8; n as usize]));
        }
        assert_eq!((buffer.len(), buffer.bytes()), (4, 10));
        buffer.acknowledge(Seq::new(2));
        assert_eq!((buffer.len(), buffer.bytes()), (2, 7));
        buffer.acknowledge(Seq::new(1));
        assert_eq!(buffer.len(), 2);
        assert_eq!(buffer.iter().next().map(|(seq, _)| *seq), Some(Seq::new(3)));
        assert_eq!(buffer.take_all().len(), 2);
        assert_eq!((buffer.len(), buffer.bytes()), (0, 0));
    }
}

//! What an association has to write, in order, without copying large messages into it.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

/// From this size a data frame's message is queued as the [`Bytes`] it was sent as, beside its
/// header, rather than copied after it: a message is already one copy of its bytes (kept for
/// resending), and the driver's vectored write copies it once more into the transport (TLS
/// encrypts from it). Below it, copying is cheaper than one more slice to write.
pub(crate) const SHARE_FROM: usize = 1024;

/// The bytes an [`Association`](super::Association) has for its current connection, in order:
/// small frames gathered in one buffer, large messages shared with the resend buffer.
///
/// A driver writes [`take`](Self::take)'s chunks in order (a vectored write keeps them to one
/// system call, or one TLS record, per batch); [`split`](Self::split) joins them into one
/// buffer, for tests and drivers that prefer one.
#[derive(Debug, Default)]
pub struct Transmit {
    /// Whole chunks, oldest first; `tail` follows them.
    chunks: VecDeque<Bytes>,
    /// Where small frames and headers are written.
    tail: BytesMut,
    /// Bytes in `chunks`.
    chunked: usize,
}

impl Transmit {
    /// Nothing to write.
    pub fn new() -> Transmit {
        Transmit::default()
    }

    /// How many bytes are waiting.
    pub fn len(&self) -> usize {
        self.chunked + self.tail.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops everything waiting.
    pub fn clear(&mut self) {
        self.chunks.clear();
        self.chunked = 0;
        self.tail.clear();
    }

    /// Takes everything waiting, as chunks to write in this order.
    pub fn take(&mut self) -> impl Iterator<Item = Bytes> + use<> {
        self.seal_tail();
        self.chunked = 0;
        std::mem::take(&mut self.chunks).into_iter()
    }

    /// Takes everything waiting as one buffer (copying the shared messages into it).
    pub fn split(&mut self) -> BytesMut {
        if self.chunks.is_empty() {
            return self.tail.split();
        }
        let mut joined = BytesMut::with_capacity(self.len());
        for chunk in self.take() {
            joined.extend_from_slice(&chunk);
        }
        joined
    }

    /// Everything waiting, joined, left in place.
    #[cfg(test)]
    pub(crate) fn joined(&self) -> Vec<u8> {
        let mut joined: Vec<u8> = self.chunks.iter().flat_map(|c| c.iter().copied()).collect();
        joined.extend_from_slice(&self.tail);
        joined
    }

    /// Where the next bytes are written.
    pub(crate) fn buffer(&mut self) -> &mut BytesMut {
        &mut self.tail
    }

    /// Queues `shared` after what is written so far, without copying it.
    pub(crate) fn push_shared(&mut self, shared: Bytes) {
        self.seal_tail();
        self.chunked += shared.len();
        self.chunks.push_back(shared);
    }

    /// Makes what the buffer holds a chunk of its own.
    fn seal_tail(&mut self) {
        if !self.tail.is_empty() {
            let sealed = self.tail.split().freeze();
            self.chunked += sealed.len();
            self.chunks.push_back(sealed);
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::BufMut;

    use super::*;

    #[test]
    fn chunks_come_out_in_the_order_they_were_queued() {
        let mut transmit = Transmit::new();
        transmit.buffer().put_slice(b"head1");
        transmit.push_shared(Bytes::from_static(b"message1"));
        transmit.buffer().put_slice(b"head2");
        transmit.push_shared(Bytes::from_static(b"message2"));
        transmit.buffer().put_slice(b"ack");
        assert_eq!(transmit.len(), 29);
        let chunks: Vec<Bytes> = transmit.take().collect();
        assert_eq!(chunks, ["head1", "message1", "head2", "message2", "ack"]);
        assert!(transmit.is_empty());
    }

    #[test]
    fn split_joins_every_chunk_and_clear_drops_them() {
        let mut transmit = Transmit::new();
        transmit.buffer().put_slice(b"a");
        transmit.push_shared(Bytes::from_static(b"bc"));
        transmit.buffer().put_slice(b"d");
        assert_eq!(&transmit.split()[..], b"abcd");
        assert!(transmit.is_empty());
        transmit.push_shared(Bytes::from_static(b"x"));
        transmit.buffer().put_slice(b"y");
        transmit.clear();
        assert_eq!(transmit.len(), 0);
        assert_eq!(transmit.take().count(), 0);
    }
}

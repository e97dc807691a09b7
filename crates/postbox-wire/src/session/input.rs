//! What a session has received and not yet read: the bytes, and whether the stream has ended.

use bytes::BytesMut;

use crate::{Codec, DecodeError, Frame};

/// What the next step of reading the input gives.
pub(super) enum Next {
    /// A whole frame, and the stream offset of its first byte.
    Frame(Frame, u64),
    /// Nothing yet: more bytes are needed.
    Wait,
    /// Nothing more will come: the stream ended and no whole frame is left.
    Ended,
    /// The bytes are not a valid frame: the peer is corrupt.
    Corrupt(DecodeError),
}

/// Bytes received, decoded one frame at a time as the session's events are polled, so that the
/// driver's answers to one frame are in before the next is read.
#[derive(Debug, Default)]
pub(super) struct Input {
    bytes: BytesMut,
    ended: bool,
    /// Bytes read off the front as frames since the stream began.
    decoded: u64,
}

impl Input {
    /// The buffer a driver may read into directly.
    pub(super) fn buffer(&mut self) -> &mut BytesMut {
        &mut self.bytes
    }

    /// Takes every byte of `input`. With nothing buffered the two trade buffers: no copy, and
    /// each keeps its room for the next read.
    pub(super) fn take(&mut self, input: &mut BytesMut) {
        if self.bytes.is_empty() {
            std::mem::swap(&mut self.bytes, input);
        } else {
            self.bytes.extend_from_slice(input);
            input.clear();
        }
    }

    /// The stream offset just past the last byte received.
    pub(super) fn received(&self) -> u64 {
        self.decoded + self.bytes.len() as u64
    }

    /// The stream has ended: once the frames before the end are read, [`Next::Ended`].
    pub(super) fn end(&mut self) {
        self.ended = true;
    }

    /// The next frame, if a whole one is there.
    pub(super) fn next(&mut self, codec: &mut Codec) -> Next {
        let before = self.bytes.len();
        match codec.decode(&mut self.bytes) {
            Ok(Some(frame)) => {
                let at = self.decoded;
                self.decoded += (before - self.bytes.len()) as u64;
                Next::Frame(frame, at)
            }
            Ok(None) if self.ended => Next::Ended,
            Ok(None) => Next::Wait,
            Err(error) => Next::Corrupt(error),
        }
    }
}

//! One connection's outgoing frames: a queue anyone may push to, and the writer task that drains
//! it into the socket.
//!
//! Answers reach a connection from two directions: its own reader (immediate answers, protocol
//! errors) and other connections' tasks (the completions their operations caused). Both push
//! onto the connection's [`Outbox`]; a single writer task owns the socket's write half, takes
//! every frame queued at that moment, encodes them into one buffer and writes it in one go.
//!
//! **Backpressure.** The outbox counts the bytes queued and not yet written. The connection's
//! reader waits for [`Outbox::room`] before reading its next frame, so a client that sends
//! requests without reading the answers stops being read once [`BACKLOG_LIMIT`] bytes wait for
//! it. Pushes never wait (a completion is routed while the engine's lock is held elsewhere);
//! what other connections can push is bounded by the in-flight limit, one answer per request.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::BytesMut;
use postbox_wire::{
    EncodeError, ErrorBody, ErrorCode, Frame, FrameEncoder, FrameKind, HEADER_LEN, RequestId,
    Response, encode_response, encode_response_into,
};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, mpsc};

/// Queued bytes beyond which a connection's reader stops reading until the writer catches up.
pub(crate) const BACKLOG_LIMIT: usize = 4 << 20;

/// What a `Received` response adds to its message's payload, at most (sender, sequence number,
/// timestamp, type, priority, lengths), counted towards the backlog before it is encoded.
const RECEIVED_OVERHEAD: usize = 64;

/// How many bytes the writer gathers into one write before writing (frames larger than this are
/// written whole).
const COALESCE_LIMIT: usize = 256 << 10;

/// What the writer is asked to do.
#[derive(Debug)]
enum Outgoing {
    /// Write this frame; `weight` bytes were counted for it in the backlog.
    Frame { frame: Frame, weight: usize },
    /// Encode this response straight into the write buffer (a received message: its payload is
    /// copied once, not encoded apart and copied again); `weight` as for `Frame`.
    Response {
        id: RequestId,
        response: Box<Response>,
        weight: usize,
    },
    /// Write what is queued before this, then shut the write half down and stop.
    Finish,
}

#[derive(Debug, Default)]
struct Backlog {
    bytes: AtomicUsize,
    drained: Notify,
}

/// The sending side of a connection's outgoing queue; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Outbox {
    tx: mpsc::UnboundedSender<Outgoing>,
    backlog: Arc<Backlog>,
}

/// The receiving side, for the writer task.
#[derive(Debug)]
pub(crate) struct OutboxReceiver {
    rx: mpsc::UnboundedReceiver<Outgoing>,
    backlog: Arc<Backlog>,
}

/// A new, empty outbox and the receiver its writer drains.
pub(crate) fn outbox() -> (Outbox, OutboxReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    let backlog = Arc::new(Backlog::default());
    let receiver = OutboxReceiver {
        rx,
        backlog: backlog.clone(),
    };
    (Outbox { tx, backlog }, receiver)
}

impl Outbox {
    /// Queues `frame`. Dropped silently if the writer has stopped (the connection is going).
    pub(crate) fn push(&self, frame: Frame) {
        let weight = HEADER_LEN + frame.payload().len();
        self.enqueue(Outgoing::Frame { frame, weight }, weight);
    }

    /// Queues the `Response` to request `id`.
    pub(crate) fn respond(&self, id: RequestId, response: impl Into<Box<Response>>) {
        let response = response.into();
        let Response::Received { message, .. } = &*response else {
            self.push(Frame::response(id, encode_response(&response)));
            return;
        };
        let weight = HEADER_LEN + RECEIVED_OVERHEAD + message.message.payload.len();
        let outgoing = Outgoing::Response {
            id,
            response,
            weight,
        };
        self.enqueue(outgoing, weight);
    }

    /// Counts `weight` bytes in the backlog and queues `outgoing` (uncounted again if the writer
    /// has stopped).
    fn enqueue(&self, outgoing: Outgoing, weight: usize) {
        self.backlog.bytes.fetch_add(weight, Ordering::AcqRel);
        if self.tx.send(outgoing).is_err() {
            self.backlog.bytes.fetch_sub(weight, Ordering::AcqRel);
        }
    }

    /// Queues an `Error` frame: about request `id`, or with `None` about the connection.
    pub(crate) fn error(&self, id: Option<RequestId>, code: ErrorCode, message: impl Into<String>) {
        self.push(ErrorBody::new(code, message).to_frame(id));
    }

    /// Asks the writer to write everything queued so far, then shut the write half down and stop.
    pub(crate) fn finish(&self) {
        let _ = self.tx.send(Outgoing::Finish);
    }

    /// Waits until fewer than [`BACKLOG_LIMIT`] bytes are queued.
    pub(crate) async fn room(&self) {
        loop {
            let drained = self.backlog.drained.notified();
            let mut drained = std::pin::pin!(drained);
            drained.as_mut().enable();
            if self.backlog.bytes.load(Ordering::Acquire) < BACKLOG_LIMIT {
                return;
            }
            drained.await;
        }
    }
}

/// Why the writer stopped.
#[derive(Debug)]
pub(crate) enum WriterEnd {
    /// It was asked to finish, or every sender is gone, and it wrote everything.
    Finished,
    /// Writing failed: the peer is gone.
    Failed(std::io::Error),
}

/// The writer task: drains `receiver` into `writer`, one write per batch of queued frames,
/// encoding with `encoder` (the session's negotiated version and frame limit).
///
/// A `Response` too large for the negotiated frame limit is replaced by an `Error
/// LIMIT_EXCEEDED` for its request, so the request still ends with one final frame.
pub(crate) async fn write_loop<W>(
    mut writer: W,
    mut receiver: OutboxReceiver,
    encoder: FrameEncoder,
) -> WriterEnd
where
    W: AsyncWrite + Unpin,
{
    let mut buffer = BytesMut::new();
    loop {
        let Some(first) = receiver.rx.recv().await else {
            return finish(&mut writer, &buffer).await;
        };
        let mut finishing = false;
        let mut weight = 0;
        let mut next = Some(first);
        while let Some(item) = next.take() {
            match item {
                Outgoing::Frame { frame, weight: w } => {
                    weight += w;
                    encode(&encoder, &frame, &mut buffer);
                }
                Outgoing::Response {
                    id,
                    response,
                    weight: w,
                } => {
                    weight += w;
                    encode_in_place(&encoder, id, &response, &mut buffer);
                }
                Outgoing::Finish => {
                    finishing = true;
                    break;
                }
            }
            if buffer.len() < COALESCE_LIMIT {
                next = receiver.rx.try_recv().ok();
            }
        }
        if finishing {
            let end = finish(&mut writer, &buffer).await;
            receiver.backlog.bytes.fetch_sub(weight, Ordering::AcqRel);
            receiver.backlog.drained.notify_waiters();
            return end;
        }
        let written = writer.write_all(&buffer).await;
        buffer.clear();
        receiver.backlog.bytes.fetch_sub(weight, Ordering::AcqRel);
        receiver.backlog.drained.notify_waiters();
        if let Err(error) = written {
            return WriterEnd::Failed(error);
        }
    }
}

/// Writes what is left and shuts the write half down.
async fn finish<W: AsyncWrite + Unpin>(writer: &mut W, buffer: &[u8]) -> WriterEnd {
    let result = async {
        writer.write_all(buffer).await?;
        writer.shutdown().await
    }
    .await;
    match result {
        Ok(()) => WriterEnd::Finished,
        // A peer that already closed its end cannot be told anything more; that is not a failure
        // of the writer's job.
        Err(error) if error.kind() == std::io::ErrorKind::NotConnected => WriterEnd::Finished,
        Err(error) => WriterEnd::Failed(error),
    }
}

/// Encodes the response to `id` in place, replacing one over the frame limit by an
/// `Error LIMIT_EXCEEDED`.
fn encode_in_place(
    encoder: &FrameEncoder,
    id: RequestId,
    response: &Response,
    buffer: &mut BytesMut,
) {
    let encoded = encoder.encode_with(FrameKind::Response, Some(id), buffer, |dst| {
        encode_response_into(response, dst);
    });
    if let Err(EncodeError::TooLarge { len, max }) = encoded {
        let message =
            format!("the Response is {len} bytes, over the negotiated frame limit of {max}");
        tracing::debug!(request = ?id, "{message}");
        let error = ErrorBody::new(ErrorCode::LIMIT_EXCEEDED, message).to_frame(Some(id));
        let _ = encoder.encode(&error, buffer);
    }
}

/// Encodes `frame`, replacing a response over the frame limit by an `Error LIMIT_EXCEEDED`.
fn encode(encoder: &FrameEncoder, frame: &Frame, buffer: &mut BytesMut) {
    match encoder.encode(frame, buffer) {
        Ok(()) => {}
        Err(EncodeError::TooLarge { len, max }) => {
            let message = format!(
                "the {} is {len} bytes, over the negotiated frame limit of {max}",
                frame.kind()
            );
            tracing::debug!(request = ?frame.request_id(), "{message}");
            // Only requests' final frames can be large; an `Error` body always fits.
            let id = match frame.kind() {
                FrameKind::Response | FrameKind::Error => frame.request_id(),
                _ => None,
            };
            let error = ErrorBody::new(ErrorCode::LIMIT_EXCEEDED, message).to_frame(id);
            let _ = encoder.encode(&error, buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use postbox_wire::{FrameConfig, FrameDecoder, Version};

    use super::*;

    fn id(raw: u64) -> RequestId {
        RequestId::new(raw).unwrap()
    }

    #[tokio::test]
    async fn queued_frames_are_written_in_order_and_finish_closes() {
        let (outbox, receiver) = outbox();
        let (ours, mut theirs) = tokio::io::duplex(1 << 16);
        outbox.respond(id(1), Response::Done);
        outbox.error(Some(id(2)), ErrorCode::CANCELLED, "gone");
        outbox.finish();
        let end = write_loop(ours, receiver, FrameEncoder::default()).await;
        assert!(matches!(end, WriterEnd::Finished), "{end:?}");

        let mut bytes = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut theirs, &mut bytes)
            .await
            .unwrap();
        let mut bytes = BytesMut::from(&bytes[..]);
        let mut decoder = FrameDecoder::default();
        let first = decoder.decode(&mut bytes).unwrap().unwrap();
        let second = decoder.decode(&mut bytes).unwrap().unwrap();
        assert_eq!(
            (first.kind(), first.request_id()),
            (FrameKind::Response, Some(id(1)))
        );
        assert_eq!(
            (second.kind(), second.request_id()),
            (FrameKind::Error, Some(id(2)))
        );
        assert!(bytes.is_empty());
        assert_eq!(outbox.backlog.bytes.load(Ordering::Acquire), 0);
    }

    #[tokio::test]
    async fn a_response_over_the_frame_limit_becomes_limit_exceeded() {
        let (outbox, receiver) = outbox();
        let (ours, mut theirs) = tokio::io::duplex(1 << 16);
        outbox.push(Frame::response(id(9), vec![0u8; 5000]));
        outbox.finish();
        let config = FrameConfig {
            version: Version::V1,
            max_frame_len: 4096,
        };
        write_loop(ours, receiver, FrameEncoder::new(config)).await;
        let mut bytes = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut theirs, &mut bytes)
            .await
            .unwrap();
        let frame = FrameDecoder::new(config)
            .decode(&mut BytesMut::from(&bytes[..]))
            .unwrap()
            .unwrap();
        assert_eq!(frame.kind(), FrameKind::Error);
        assert_eq!(frame.request_id(), Some(id(9)));
        let body = ErrorBody::decode(frame.payload()).unwrap();
        assert_eq!(body.code(), ErrorCode::LIMIT_EXCEEDED);
    }

    #[tokio::test]
    async fn room_waits_for_the_writer_to_drain_the_backlog() {
        let (outbox, receiver) = outbox();
        let big = vec![0u8; 1 << 20];
        for n in 1..=5 {
            outbox.push(Frame::response(id(n), big.clone()));
        }
        let waiting = tokio::spawn({
            let outbox = outbox.clone();
            async move { outbox.room().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "5 MiB queued is over the limit");
        let (ours, theirs) = tokio::io::duplex(1 << 16);
        let writer = tokio::spawn(write_loop(
            ours,
            receiver,
            FrameEncoder::new(FrameConfig {
                version: Version::V1,
                max_frame_len: 2 << 20,
            }),
        ));
        let reader = tokio::spawn(async move {
            let mut theirs = theirs;
            let mut sink = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut theirs, &mut sink).await
        });
        waiting.await.unwrap();
        outbox.finish();
        drop(outbox);
        writer.await.unwrap();
        assert_eq!(reader.await.unwrap().unwrap(), 5 * (HEADER_LEN + (1 << 20)));
    }
}

//! Decoding the operations that carry messages so that a large payload borrows its frame's
//! buffer instead of being copied out of it.
//!
//! postcard copies a byte string into a fresh allocation; for a message of 64 KiB that is a copy
//! of the message on every hop. These decoders read the few operations that carry messages
//! (`Send`, `SendBatch`, `Received`, `ReceivedMany`) through borrowing twins of their types and
//! make each payload of at least [`SHARE_FROM`] bytes a slice of the frame. Smaller payloads are
//! still copied: a slice keeps its whole buffer alive (a read buffer holding many frames), which
//! for small queued messages would cost far more memory than the copy saves. Everything else is
//! decoded as [`decode_request`] and [`decode_response`] do, and the result is always the same
//! value (a property test pins that).

use bytes::Bytes;
use postbox_core::{Delivery, Message, MessageKind, Pid, Received, Timestamp, Wait};
use serde::Deserialize;

use crate::operation::{
    OperationError, Request, Response, Target, decode, decode_request, decode_response,
};

/// The smallest payload that borrows its frame's buffer rather than being copied.
pub const SHARE_FROM: usize = 4096;

/// Variant indices of the operations decoded here (protocol.md §7.3, §7.4); each is one byte.
const SEND: u8 = 0;
const SEND_BATCH: u8 = 20;
const RECEIVED: u8 = 2;
const RECEIVED_MANY: u8 = 14;

#[derive(Deserialize)]
struct MessageRef<'a> {
    #[serde(borrow)]
    payload: &'a [u8],
    mtype: i64,
    priority: u16,
}

#[derive(Deserialize)]
struct SendRef<'a> {
    target: Target,
    #[serde(borrow)]
    message: MessageRef<'a>,
    delivery: Delivery,
    wait: Wait,
}

#[derive(Deserialize)]
struct SendBatchRef<'a> {
    target: Target,
    #[serde(borrow)]
    messages: Vec<MessageRef<'a>>,
    wait: Wait,
}

#[derive(Deserialize)]
struct ReceivedRef<'a> {
    #[serde(borrow)]
    message: MessageRef<'a>,
    sender: Pid,
    seq: u64,
    sent_at: Timestamp,
    kind: MessageKind,
    attempt: u32,
}

#[derive(Deserialize)]
struct BranchReceivedRef<'a> {
    branch: u32,
    #[serde(borrow)]
    message: ReceivedRef<'a>,
}

impl MessageRef<'_> {
    fn share(&self, frame: &Bytes) -> Message {
        let payload = if self.payload.len() >= SHARE_FROM {
            frame.slice_ref(self.payload)
        } else {
            Bytes::copy_from_slice(self.payload)
        };
        Message {
            payload,
            mtype: self.mtype,
            priority: self.priority,
        }
    }
}

impl ReceivedRef<'_> {
    fn share(&self, frame: &Bytes) -> Received {
        Received {
            message: self.message.share(frame),
            sender: self.sender,
            seq: self.seq,
            sent_at: self.sent_at,
            kind: self.kind,
            attempt: self.attempt,
        }
    }
}

/// Decodes a request payload as [`decode_request`] does, a large message's payload sharing the
/// frame's buffer.
///
/// # Errors
///
/// [`OperationError`] when the payload is not exactly one well-formed request.
pub fn decode_request_shared(payload: &Bytes) -> Result<Request, OperationError> {
    match payload.split_first() {
        Some((&SEND, body)) => {
            let send: SendRef<'_> = decode(body)?;
            Ok(Request::Send {
                target: send.target,
                message: send.message.share(payload),
                delivery: send.delivery,
                wait: send.wait,
            })
        }
        Some((&SEND_BATCH, body)) => {
            let batch: SendBatchRef<'_> = decode(body)?;
            Ok(Request::SendBatch {
                target: batch.target,
                messages: batch.messages.iter().map(|m| m.share(payload)).collect(),
                wait: batch.wait,
            })
        }
        _ => decode_request(payload),
    }
}

/// Decodes a response payload as [`decode_response`] does, a large message's payload sharing the
/// frame's buffer.
///
/// # Errors
///
/// [`OperationError`] when the payload is not exactly one well-formed response.
pub fn decode_response_shared(payload: &Bytes) -> Result<Response, OperationError> {
    match payload.split_first() {
        Some((&RECEIVED, body)) => {
            let received: BranchReceivedRef<'_> = decode(body)?;
            Ok(Response::Received {
                branch: received.branch,
                message: received.message.share(payload),
            })
        }
        Some((&RECEIVED_MANY, body)) => {
            let all: Vec<ReceivedRef<'_>> = decode(body)?;
            Ok(Response::ReceivedMany(
                all.iter().map(|r| r.share(payload)).collect(),
            ))
        }
        _ => decode_response(payload),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{encode_request, encode_response};
    use postbox_core::MailboxId;

    fn send(len: usize) -> Request {
        Request::Send {
            target: Target::Mailbox(MailboxId::from_raw(3)),
            message: Message::new(vec![7u8; len]).with_type(4).with_priority(2),
            delivery: Delivery::Queued,
            wait: Wait::Block,
        }
    }

    fn within(outer: &Bytes, inner: &Bytes) -> bool {
        let range = outer.as_ptr() as usize..outer.as_ptr() as usize + outer.len();
        range.contains(&(inner.as_ptr() as usize))
    }

    #[test]
    fn a_large_payload_is_a_slice_of_its_frame_and_a_small_one_a_copy() {
        for (len, shared) in [(SHARE_FROM, true), (SHARE_FROM - 1, false)] {
            let frame = encode_request(&send(len));
            let decoded = decode_request_shared(&frame).unwrap();
            assert_eq!(decoded, send(len));
            let Request::Send { message, .. } = decoded else {
                unreachable!()
            };
            assert_eq!(within(&frame, &message.payload), shared, "{len} bytes");
        }
    }

    #[test]
    fn received_messages_share_too_and_garbage_is_an_error() {
        let received = Received {
            message: Message::new(vec![1u8; 10_000]),
            sender: Pid::from_raw(9),
            seq: 4,
            sent_at: Timestamp::from_nanos(5),
            kind: MessageKind::User,
            attempt: 2,
        };
        for response in [
            Response::Received {
                branch: 1,
                message: received.clone(),
            },
            Response::ReceivedMany(vec![received.clone(), received.clone()]),
        ] {
            let frame = encode_response(&response);
            assert_eq!(decode_response_shared(&frame).unwrap(), response);
            let mut truncated = frame.to_vec();
            truncated.pop();
            assert!(decode_response_shared(&Bytes::from(truncated)).is_err());
            let mut longer = frame.to_vec();
            longer.push(0);
            assert_eq!(
                decode_response_shared(&Bytes::from(longer)),
                Err(OperationError::TrailingBytes { count: 1 })
            );
        }
    }
}

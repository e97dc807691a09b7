//! Operations whose large message payloads travel beside the frame, as attachments, rather than
//! inside it (protocol.md §7.5).
//!
//! Once a connection has [`Capabilities::ATTACHMENTS`](crate::Capabilities::ATTACHMENTS), a
//! `Request` or `Response` payload may start with the byte [`ATTACHED`] (never the first byte of
//! an operation: as a varint it would begin a variant index above 127) and a table saying which
//! of the operation's messages have their payload attached, and how long each is. The operation
//! follows, each attached payload written as an empty byte string. The bytes themselves travel
//! outside the frame (on a Unix socket, as a sealed memfd passed with `SCM_RIGHTS`); this module
//! only knows their order and lengths, so it stays sans-IO: the driver supplies each attached
//! payload as [`Bytes`] ([`Attached::fill`]).
//!
//! Messages are numbered in the order they appear in the operation ([`Carrier`]); only the
//! messages a send, batch, call or reply carries, those a receive, peek or call answer delivers,
//! and those a failure hands back can be attached.

use bytes::{BufMut, Bytes, BytesMut};
use postbox_core::{Message, Reply, SendError};

use crate::cursor::Cursor;
use crate::operation::{
    OperationError, Request, Response, encode_request_into, encode_response_into,
};
use crate::{PayloadError, decode_request_shared, decode_response_shared};

/// The first byte of an operation payload that carries attachments.
pub const ATTACHED: u8 = 0xff;

/// The most attachments one frame carries: larger batches send the rest inline. (Linux passes at
/// most 253 descriptors in one `sendmsg`.)
pub const MAX_ATTACHMENTS: usize = 64;

/// One attached payload: which message it belongs to and how many bytes it holds.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Attachment {
    /// The message's number in the operation, from 0 ([`Carrier`]).
    pub message: u32,
    /// The payload's length in bytes (at least 1). The driver checks it against its own limits
    /// before reading the payload.
    pub len: u64,
}

/// Why an operation payload with attachments could not be read. Each means the peer broke the
/// protocol: close the connection.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum AttachedError {
    /// When the attachment table is cut short.
    #[error("malformed attachment table: {0}")]
    Table(#[source] PayloadError),
    /// When the table lists no attachment or more than [`MAX_ATTACHMENTS`].
    #[error("an operation may carry 1 to 64 attachments, not {count}")]
    Count {
        /// The count found.
        count: u8,
    },
    /// When message numbers do not increase strictly, or a length is 0.
    #[error("attachment for message {message} is out of order or empty")]
    Order {
        /// The message number found.
        message: u32,
    },
    /// When the operation after the table is malformed.
    #[error("malformed operation after the attachment table: {0}")]
    Operation(#[source] OperationError),
    /// When an attachment names a message the operation does not carry.
    #[error("attachment for message {message}, but the operation carries {messages} messages")]
    NoSuchMessage {
        /// The message number found.
        message: u32,
        /// How many messages the operation carries.
        messages: usize,
    },
    /// When an attached message's payload is not written as an empty byte string.
    #[error("message {message} has an attachment and an inline payload of {len} bytes")]
    InlinePayload {
        /// The message number.
        message: u32,
        /// Its inline payload's length.
        len: usize,
    },
}

/// An operation that carries messages which may have attached payloads: [`Request`] and
/// [`Response`].
pub trait Carrier: Sized {
    /// The messages whose payloads may be attached, in the order they are encoded (their
    /// numbers): a `Send`'s, `Call`'s or `Reply` answer's message; a `SendBatch`'s messages; a
    /// `Received`'s, `ReceivedMany`'s, `Peeked`'s or `Replied`'s messages; the message a
    /// `SendFailed` or `CallFailed` hands back; a `SentBatch`'s failed message, then its unsent
    /// ones. None for any other operation.
    fn messages_mut(&mut self) -> Vec<&mut Message>;

    /// Appends the operation's plain encoding (§7) to `dst`.
    fn encode_plain(&self, dst: &mut BytesMut);

    /// Decodes a plain encoding, large payloads sharing `payload`'s buffer.
    ///
    /// # Errors
    ///
    /// [`OperationError`] when `payload` is not exactly one well-formed operation.
    fn decode_plain(payload: &Bytes) -> Result<Self, OperationError>;
}

impl Carrier for Request {
    fn messages_mut(&mut self) -> Vec<&mut Message> {
        match self {
            Request::Send { message, .. } | Request::ProducerSend { message, .. } => vec![message],
            Request::SendBatch { messages, .. } => messages.iter_mut().collect(),
            Request::Call { request, .. } => vec![request],
            Request::Reply {
                reply: Reply::Answer(message),
                ..
            } => vec![message],
            _ => Vec::new(),
        }
    }

    fn encode_plain(&self, dst: &mut BytesMut) {
        encode_request_into(self, dst);
    }

    fn decode_plain(payload: &Bytes) -> Result<Self, OperationError> {
        decode_request_shared(payload)
    }
}

impl Carrier for Response {
    fn messages_mut(&mut self) -> Vec<&mut Message> {
        match self {
            Response::Received { message, .. } => vec![&mut message.message],
            Response::ReceivedMany(all) | Response::Peeked(all) => all
                .iter_mut()
                .map(|received| &mut received.message)
                .collect(),
            Response::Replied(message) => vec![message],
            // A failure hands its message back: a large one travels beside the frame too, as
            // it came (inline it could be over the frame limit, and the answer would be lost).
            Response::SendFailed(error) => error.message_mut().into_iter().collect(),
            Response::CallFailed(error) => error.message_mut().into_iter().collect(),
            Response::SentBatch { failed, unsent, .. } => failed
                .as_mut()
                .and_then(SendError::message_mut)
                .into_iter()
                .chain(unsent.iter_mut())
                .collect(),
            _ => Vec::new(),
        }
    }

    fn encode_plain(&self, dst: &mut BytesMut) {
        encode_response_into(self, dst);
    }

    fn decode_plain(payload: &Bytes) -> Result<Self, OperationError> {
        decode_response_shared(payload)
    }
}

/// Appends `operation`'s encoding to `dst`, each non-empty payload of at least `from` bytes
/// attached, up to [`MAX_ATTACHMENTS`]; returns those payloads, in message order, for the driver
/// to send beside the frame. With none to attach, the plain encoding (§7), byte for byte.
pub fn encode_attached<T: Carrier + Clone>(
    operation: &T,
    from: usize,
    dst: &mut BytesMut,
) -> Vec<Bytes> {
    let from = from.max(1);
    let mut stripped = operation.clone();
    let mut table = Vec::new();
    let mut payloads = Vec::new();
    for (number, message) in stripped.messages_mut().into_iter().enumerate() {
        if payloads.len() == MAX_ATTACHMENTS {
            break;
        }
        // A message number beyond u32 cannot occur: batches are far smaller (MAX_BATCH).
        let Ok(number) = u32::try_from(number) else {
            break;
        };
        if message.payload.len() >= from {
            let payload = std::mem::take(&mut message.payload);
            table.push(Attachment {
                message: number,
                len: payload.len() as u64,
            });
            payloads.push(payload);
        }
    }
    if payloads.is_empty() {
        operation.encode_plain(dst);
        return payloads;
    }
    dst.reserve(2 + 12 * table.len());
    dst.put_u8(ATTACHED);
    // At most MAX_ATTACHMENTS (64) entries: fits a byte.
    dst.put_u8(table.len() as u8);
    for attachment in &table {
        dst.put_u32_le(attachment.message);
        dst.put_u64_le(attachment.len);
    }
    stripped.encode_plain(dst);
    payloads
}

/// An operation read from a payload, waiting for its attached payloads (if any).
#[derive(Debug)]
#[must_use = "the operation is complete only once its attachments are filled in"]
pub struct Attached<T> {
    operation: T,
    attachments: Vec<Attachment>,
}

impl<T: Carrier> Attached<T> {
    /// Reads an operation payload, with or without an attachment table, checking the table
    /// against the operation: message numbers strictly increasing and naming messages it
    /// carries, lengths at least 1, those messages' inline payloads empty.
    ///
    /// # Errors
    ///
    /// [`AttachedError`] for the first check that fails.
    pub fn decode(payload: &Bytes) -> Result<Attached<T>, AttachedError> {
        if payload.first() != Some(&ATTACHED) {
            let operation = T::decode_plain(payload).map_err(AttachedError::Operation)?;
            return Ok(Attached {
                operation,
                attachments: Vec::new(),
            });
        }
        let mut cursor = Cursor::new(&payload[1..]);
        let count = cursor
            .u8("attachment count")
            .map_err(AttachedError::Table)?;
        if count == 0 || usize::from(count) > MAX_ATTACHMENTS {
            return Err(AttachedError::Count { count });
        }
        let mut attachments = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            let message = cursor
                .u32("attachment message")
                .map_err(AttachedError::Table)?;
            let len = cursor
                .u64("attachment length")
                .map_err(AttachedError::Table)?;
            let after_last = attachments
                .last()
                .is_none_or(|last: &Attachment| message > last.message);
            if !after_last || len == 0 {
                return Err(AttachedError::Order { message });
            }
            attachments.push(Attachment { message, len });
        }
        let body = payload.slice(2 + 12 * usize::from(count)..);
        let mut operation = T::decode_plain(&body).map_err(AttachedError::Operation)?;
        let messages = operation.messages_mut();
        for attachment in &attachments {
            let number = attachment.message;
            let message = usize::try_from(number)
                .ok()
                .and_then(|index| messages.get(index))
                .ok_or(AttachedError::NoSuchMessage {
                    message: number,
                    messages: messages.len(),
                })?;
            if !message.payload.is_empty() {
                return Err(AttachedError::InlinePayload {
                    message: number,
                    len: message.payload.len(),
                });
            }
        }
        Ok(Attached {
            operation,
            attachments,
        })
    }

    /// The attachments the operation waits for, in message order: the driver takes this many
    /// attached payloads, in this order.
    pub fn attachments(&self) -> &[Attachment] {
        &self.attachments
    }

    /// The operation, each attached payload supplied by `payload` (called once per attachment,
    /// in order).
    ///
    /// # Errors
    ///
    /// The first error `payload` returns (the driver's: a descriptor missing or refused); the
    /// operation is dropped.
    pub fn fill<E>(self, mut payload: impl FnMut(Attachment) -> Result<Bytes, E>) -> Result<T, E> {
        let Attached {
            mut operation,
            attachments,
        } = self;
        let mut messages = operation.messages_mut();
        for attachment in attachments {
            let bytes = payload(attachment)?;
            // `decode` checked that every number names a message.
            if let Some(message) = messages.get_mut(attachment.message as usize) {
                message.payload = bytes;
            }
        }
        Ok(operation)
    }
}

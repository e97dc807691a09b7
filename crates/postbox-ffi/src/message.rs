//! Received messages as C gets them: a plain struct whose payload the library keeps until the
//! caller frees it.

// Exports C symbols (`#[unsafe(no_mangle)]`); unsafe blocks stay in `sys` (tests/unsafe_audit.rs).
#![allow(unsafe_code)]

use std::ffi::c_int;

use bytes::Bytes;
use postbox_lib::{MessageKind, Received};

use crate::guard::call;
use crate::registry::Registry;
use crate::status::Outcome;
use crate::sys;

/// What a received message is (`postbox_message.kind`).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PostboxMessageKind {
    /// A message some process sent.
    User = 0,
    /// A *down* notification: process `sender` has terminated (see `postbox_process_monitor`).
    Down = 1,
}

/// A received message. The library fills it in; the caller reads it and gives it back with
/// `postbox_message_free`, which releases the payload.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PostboxMessage {
    /// The payload, `len` bytes, owned by the library: valid until `postbox_message_free` on
    /// this message, read-only, not NUL-terminated. May be dangling (never NULL-checked) when
    /// `len` is 0.
    pub payload: *const u8,
    /// The payload's length in bytes.
    pub len: usize,
    /// The message type (at least 1).
    pub mtype: i64,
    /// The priority (priority-ordered mailboxes receive the highest first).
    pub priority: u16,
    /// A `postbox_message_kind`: a user message, or a down notification.
    pub kind: c_int,
    /// The sending process's pid (for a down notification, the process that terminated).
    pub sender: u64,
    /// The mailbox's sequence number of the message, increasing in the order messages were
    /// accepted.
    pub seq: u64,
    /// When it was sent: nanoseconds since the Unix epoch.
    pub sent_at_ns: u64,
    /// Which delivery this is: 1 the first time, more after leases that ended unacknowledged.
    pub attempt: u32,
    /// The library's own reference to the payload: do not change it. 0 once freed.
    pub handle: u64,
}

/// Payloads handed to C, kept alive until `postbox_message_free`.
static PAYLOADS: Registry<Bytes> = Registry::new("postbox_message");

impl PostboxMessage {
    /// The C view of `received`, keeping its payload alive for C.
    pub(crate) fn new(received: &Received) -> PostboxMessage {
        let payload = received.payload().clone();
        let (data, len) = (payload.as_ptr(), payload.len());
        PostboxMessage {
            payload: data,
            len,
            mtype: received.mtype(),
            priority: received.priority(),
            kind: match received.kind {
                // The C ABI has no call/reply yet: a request reads as the message it carries.
                MessageKind::User | MessageKind::Request(_) => PostboxMessageKind::User as c_int,
                MessageKind::Down => PostboxMessageKind::Down as c_int,
            },
            sender: received.sender.as_raw(),
            seq: received.seq,
            sent_at_ns: received.sent_at.as_nanos(),
            attempt: received.attempt,
            handle: PAYLOADS.insert(payload),
        }
    }

    /// Writes the C view of `received` through `out`; nothing is kept when `out` is unusable.
    pub(crate) fn deliver(received: &Received, out: *mut PostboxMessage) -> Outcome {
        sys::write(out, PostboxMessage::empty(), "message")?;
        sys::write(out, PostboxMessage::new(received), "message")
    }

    /// A message struct holding nothing (what `postbox_message_free` leaves behind).
    pub(crate) fn empty() -> PostboxMessage {
        PostboxMessage {
            payload: std::ptr::null(),
            len: 0,
            mtype: 0,
            priority: 0,
            kind: 0,
            sender: 0,
            seq: 0,
            sent_at_ns: 0,
            attempt: 0,
            handle: 0,
        }
    }

    /// Releases the payload of the message at `message` and empties the struct. A null pointer or
    /// an already-emptied struct is a no-op.
    pub(crate) fn free(message: *mut PostboxMessage) -> Outcome {
        if message.is_null() {
            return Ok(());
        }
        let held = sys::read(message.cast_const(), "message")?;
        if held.handle == 0 {
            return Ok(());
        }
        PAYLOADS.remove(held.handle)?;
        sys::write(message, PostboxMessage::empty(), "message")
    }
}

/// Gives a received message back: releases its payload and empties the struct (its `payload`
/// is then NULL and its `len` 0). Freeing an emptied message, or a NULL pointer, does nothing.
///
/// Pointers: `message` points to a `postbox_message` a receive filled in; the payload pointer
/// read from it must not be used afterwards.
///
/// Returns `POSTBOX_STATUS_OK`, or `POSTBOX_STATUS_BAD_HANDLE` when the struct is a stale copy of one
/// already freed.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_message_free(message: *mut PostboxMessage) -> c_int {
    call("postbox_message_free", || PostboxMessage::free(message))
}

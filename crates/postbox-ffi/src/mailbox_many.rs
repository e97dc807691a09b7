//! Many messages at once: sending a batch, receiving up to N ready messages, and peeking at
//! queued messages without taking them. Through a daemon each is one request and one answer,
//! which is what makes small messages cheap.

// Exports C symbols (`#[unsafe(no_mangle)]`); unsafe blocks stay in `sys` (tests/unsafe_audit.rs).
#![allow(unsafe_code)]

use std::ffi::c_int;

use postbox_lib::{Message, Received, SendError};

use crate::guard::call;
use crate::mailbox_handle::{MAILBOXES, PostboxMailbox};
use crate::message::PostboxMessage;
use crate::process::message;
use crate::selector::PostboxSelector;
use crate::status::{Error, Outcome};
use crate::sys;
use crate::wait::Wait;

/// One message of a batch to send (`postbox_mailbox_send_batch`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PostboxOutgoing {
    /// The payload: `len` readable bytes, read during the call only (NULL when `len` is 0).
    pub payload: *const u8,
    /// The payload's length in bytes.
    pub len: usize,
    /// The message type (at least 1).
    pub mtype: i64,
    /// The priority.
    pub priority: u16,
}

fn send_batch(
    mailbox: PostboxMailbox,
    messages: *const PostboxOutgoing,
    count: usize,
    wait: Wait,
    sent: *mut usize,
) -> Outcome {
    sys::write_optional(sent, 0, "sent")?;
    let outgoing = sys::slice(messages, count, "messages")?;
    let batch = outgoing
        .iter()
        .map(|m| message(m.payload, m.len, m.mtype, m.priority))
        .collect::<Outcome<Vec<Message>>>()?;
    let entry = MAILBOXES.get(mailbox.id)?;
    let result = match wait {
        Wait::Forever => entry.mailbox.send_batch(batch),
        Wait::Try => entry.mailbox.try_send_batch(batch),
        Wait::Timeout(timeout) => entry.mailbox.send_batch_timeout(batch, timeout),
    };
    match result {
        Ok(()) => sys::write_optional(sent, count, "sent"),
        Err(error) => {
            sys::write_optional(sent, error.sent, "sent")?;
            let text = error.to_string();
            Err(Error {
                text,
                ..Error::from(SendError::without_message(error.kind()))
            })
        }
    }
}

/// Sends the `count` messages at `messages` in order, exactly as that many
/// `postbox_mailbox_send`s would (each checked, counted and waiting for room as it needs), in as
/// few requests as fit. Payloads are copied.
///
/// Pointers: `messages` points to `count` `postbox_outgoing`s, read during the call only (NULL
/// when `count` is 0). `sent`, when not NULL, receives how many were sent — all of them on
/// success; on failure, those before the one that failed (it and the rest were not sent).
///
/// Returns what `postbox_mailbox_send` returns, for the first message that failed.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_send_batch(
    mailbox: PostboxMailbox,
    messages: *const PostboxOutgoing,
    count: usize,
    sent: *mut usize,
) -> c_int {
    call("postbox_mailbox_send_batch", || {
        send_batch(mailbox, messages, count, Wait::Forever, sent)
    })
}

/// As `postbox_mailbox_send_batch`, but a message that finds the mailbox full fails with
/// `POSTBOX_STATUS_FULL` at once instead of waiting.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_try_send_batch(
    mailbox: PostboxMailbox,
    messages: *const PostboxOutgoing,
    count: usize,
    sent: *mut usize,
) -> c_int {
    call("postbox_mailbox_try_send_batch", || {
        send_batch(mailbox, messages, count, Wait::Try, sent)
    })
}

/// As `postbox_mailbox_send_batch`, waiting at most `timeout_ms` milliseconds for all of it.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_send_batch_timeout(
    mailbox: PostboxMailbox,
    messages: *const PostboxOutgoing,
    count: usize,
    timeout_ms: u64,
    sent: *mut usize,
) -> c_int {
    call("postbox_mailbox_send_batch_timeout", || {
        send_batch(mailbox, messages, count, Wait::millis(timeout_ms), sent)
    })
}

/// Writes `received` into the caller's array and their number to `count`.
fn deliver_all(
    received: &[Received],
    messages: *mut PostboxMessage,
    capacity: usize,
    count: *mut usize,
) -> Outcome {
    let slots = sys::slice_out(messages, capacity, "messages")?;
    let delivered = received.len().min(slots.len());
    for (slot, message) in slots.iter_mut().zip(received) {
        slot.write(PostboxMessage::new(message));
    }
    sys::write(count, delivered, "count")
}

fn recv_many(
    mailbox: PostboxMailbox,
    max: usize,
    wait: Wait,
    messages: *mut PostboxMessage,
    count: *mut usize,
) -> Outcome {
    sys::write(count, 0, "count")?;
    sys::slice_out(messages, max, "messages")?;
    if max == 0 {
        return Err(Error::invalid("max must be at least 1"));
    }
    let entry = MAILBOXES.get(mailbox.id)?;
    let received = match wait {
        Wait::Forever => entry.mailbox.recv_many(max),
        Wait::Try => entry.mailbox.try_recv_many(max),
        Wait::Timeout(timeout) => entry.mailbox.recv_many_timeout(max, timeout),
    }?;
    deliver_all(&received, messages, max, count)
}

/// Receives up to `max` messages in queue order: waits for the first as `postbox_mailbox_recv`
/// does, then takes those ready now (at most 1024).
///
/// Pointers: `messages` points to an array of `max` `postbox_message`s to write; `count`
/// receives how many were written (0 on failure). The caller frees each of those with
/// `postbox_message_free`.
///
/// Returns what `postbox_mailbox_recv` returns; `POSTBOX_STATUS_INVALID_ARGUMENT` when `max` is
/// 0.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_recv_many(
    mailbox: PostboxMailbox,
    max: usize,
    messages: *mut PostboxMessage,
    count: *mut usize,
) -> c_int {
    call("postbox_mailbox_recv_many", || {
        recv_many(mailbox, max, Wait::Forever, messages, count)
    })
}

/// As `postbox_mailbox_recv_many`, but fails with `POSTBOX_STATUS_EMPTY` at once when no message
/// is ready.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_try_recv_many(
    mailbox: PostboxMailbox,
    max: usize,
    messages: *mut PostboxMessage,
    count: *mut usize,
) -> c_int {
    call("postbox_mailbox_try_recv_many", || {
        recv_many(mailbox, max, Wait::Try, messages, count)
    })
}

/// As `postbox_mailbox_recv_many`, waiting at most `timeout_ms` milliseconds for the first.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_recv_many_timeout(
    mailbox: PostboxMailbox,
    max: usize,
    timeout_ms: u64,
    messages: *mut PostboxMessage,
    count: *mut usize,
) -> c_int {
    call("postbox_mailbox_recv_many_timeout", || {
        recv_many(mailbox, max, Wait::millis(timeout_ms), messages, count)
    })
}

/// Copies of up to `max` queued messages that `selector` matches, in the order receives with
/// that selector would take them (System V's `MSG_COPY`): nothing is taken, and the statistics,
/// waiting receivers and receive rights stay as they were. Messages on lease are not shown.
///
/// Pointers: as in `postbox_mailbox_recv_many`; each copy is freed with `postbox_message_free`.
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_PERMISSION_DENIED`, `POSTBOX_STATUS_GONE`,
/// `POSTBOX_STATUS_DISCONNECTED`, `POSTBOX_STATUS_INVALID_ARGUMENT`, `POSTBOX_STATUS_BAD_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_peek(
    mailbox: PostboxMailbox,
    selector: PostboxSelector,
    max: usize,
    messages: *mut PostboxMessage,
    count: *mut usize,
) -> c_int {
    call("postbox_mailbox_peek", || {
        sys::write(count, 0, "count")?;
        sys::slice_out(messages, max, "messages")?;
        let selector = selector.to_selector()?;
        let entry = MAILBOXES.get(mailbox.id)?;
        let seen = entry.mailbox.peek(max, selector)?;
        deliver_all(&seen, messages, max, count)
    })
}

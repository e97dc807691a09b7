//! Sending to a mailbox: blocking, non-blocking and timed, plain or with a receipt.

// Exports C symbols (`#[unsafe(no_mangle)]`); unsafe blocks stay in `sys` (tests/unsafe_audit.rs).
#![allow(unsafe_code)]

use std::ffi::c_int;

use postbox_lib::Message;

use crate::guard::call;
use crate::mailbox_handle::{MAILBOXES, PostboxMailbox};
use crate::process::message;
use crate::status::Outcome;
use crate::sys;
use crate::wait::Wait;

/// The one send behind every plain flavour: the receiver's pid when known (0 otherwise).
fn send(mailbox: PostboxMailbox, message: Message, wait: Wait, receiver: *mut u64) -> Outcome {
    sys::write_optional(receiver, 0, "receiver")?;
    let entry = MAILBOXES.get(mailbox.id)?;
    let sent = match wait {
        Wait::Forever => entry.mailbox.send(message),
        Wait::Try => entry.mailbox.try_send(message),
        Wait::Timeout(timeout) => entry.mailbox.send_timeout(message, timeout),
    }?;
    let pid = sent.receiver.map_or(0, |pid| pid.as_raw());
    sys::write_optional(receiver, pid, "receiver")
}

/// The one send behind both receipt flavours: waits until a receiver has taken the message.
fn send_with_receipt(
    mailbox: PostboxMailbox,
    message: Message,
    wait: Wait,
    receiver: *mut u64,
) -> Outcome {
    sys::write_optional(receiver, 0, "receiver")?;
    let entry = MAILBOXES.get(mailbox.id)?;
    let pid = match wait {
        Wait::Timeout(timeout) => entry.mailbox.send_with_receipt_timeout(message, timeout),
        Wait::Forever | Wait::Try => entry.mailbox.send_with_receipt(message),
    }?;
    sys::write_optional(receiver, pid.as_raw(), "receiver")
}

/// Sends a message, waiting for room (bounded, block overflow) or, with zero capacity, until a
/// receiver takes it.
///
/// The message is `len` bytes at `payload` (copied: the buffer may be reused at once), of type
/// `mtype` (at least 1; 1 is the usual default) and priority `priority` (0 usually; a
/// priority-ordered mailbox receives the highest first).
///
/// Pointers: `payload` points to `len` readable bytes, read during the call only (may be NULL
/// when `len` is 0). `receiver`, when not NULL, receives the pid of the process that took the
/// message when it is known at once — always with zero capacity — and 0 otherwise.
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_TOO_LARGE`, `POSTBOX_STATUS_WRONG_SIZE`,
/// `POSTBOX_STATUS_INVALID_TYPE`, `POSTBOX_STATUS_PERMISSION_DENIED`, `POSTBOX_STATUS_BUSY` /
/// `POSTBOX_STATUS_PEER_GONE` (pair), `POSTBOX_STATUS_QUOTA_EXCEEDED`, `POSTBOX_STATUS_GONE` (deleted before or
/// while waiting), `POSTBOX_STATUS_DISCONNECTED`, `POSTBOX_STATUS_BAD_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_send(
    mailbox: PostboxMailbox,
    payload: *const u8,
    len: usize,
    mtype: i64,
    priority: u16,
    receiver: *mut u64,
) -> c_int {
    call("postbox_mailbox_send", || {
        let message = message(payload, len, mtype, priority)?;
        send(mailbox, message, Wait::Forever, receiver)
    })
}

/// As `postbox_mailbox_send`, but fails with `POSTBOX_STATUS_FULL` at once instead of waiting (with
/// zero capacity: unless a receiver is already waiting).
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_try_send(
    mailbox: PostboxMailbox,
    payload: *const u8,
    len: usize,
    mtype: i64,
    priority: u16,
    receiver: *mut u64,
) -> c_int {
    call("postbox_mailbox_try_send", || {
        let message = message(payload, len, mtype, priority)?;
        send(mailbox, message, Wait::Try, receiver)
    })
}

/// As `postbox_mailbox_send`, waiting at most `timeout_ms` milliseconds, then failing with
/// `POSTBOX_STATUS_TIMEOUT` (the message is not delivered).
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_send_timeout(
    mailbox: PostboxMailbox,
    payload: *const u8,
    len: usize,
    mtype: i64,
    priority: u16,
    timeout_ms: u64,
    receiver: *mut u64,
) -> c_int {
    call("postbox_mailbox_send_timeout", || {
        let message = message(payload, len, mtype, priority)?;
        send(mailbox, message, Wait::millis(timeout_ms), receiver)
    })
}

/// Sends a message and waits until a receiver has taken it; writes that receiver's pid to
/// `*receiver` when not NULL.
///
/// Pointers: as in `postbox_mailbox_send`.
///
/// Returns what `postbox_mailbox_send` returns, plus `POSTBOX_STATUS_DROPPED` (a drop-oldest mailbox
/// discarded it first).
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_send_with_receipt(
    mailbox: PostboxMailbox,
    payload: *const u8,
    len: usize,
    mtype: i64,
    priority: u16,
    receiver: *mut u64,
) -> c_int {
    call("postbox_mailbox_send_with_receipt", || {
        let message = message(payload, len, mtype, priority)?;
        send_with_receipt(mailbox, message, Wait::Forever, receiver)
    })
}

/// As `postbox_mailbox_send_with_receipt`, waiting at most `timeout_ms` milliseconds; on
/// `POSTBOX_STATUS_TIMEOUT` the message is withdrawn.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_send_with_receipt_timeout(
    mailbox: PostboxMailbox,
    payload: *const u8,
    len: usize,
    mtype: i64,
    priority: u16,
    timeout_ms: u64,
    receiver: *mut u64,
) -> c_int {
    call("postbox_mailbox_send_with_receipt_timeout", || {
        let message = message(payload, len, mtype, priority)?;
        send_with_receipt(mailbox, message, Wait::millis(timeout_ms), receiver)
    })
}

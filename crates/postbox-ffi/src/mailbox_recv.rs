//! Receiving from a mailbox: blocking, non-blocking and timed, the first message or the first
//! a selector picks.

// Exports C symbols (`#[unsafe(no_mangle)]`); unsafe blocks stay in `sys` (tests/unsafe_audit.rs).
#![allow(unsafe_code)]

use std::ffi::c_int;

use postbox_lib::Selector;

use crate::guard::call;
use crate::mailbox_handle::{MAILBOXES, PostboxMailbox};
use crate::message::PostboxMessage;
use crate::selector::PostboxSelector;
use crate::status::Outcome;
use crate::sys;
use crate::wait::Wait;

/// The one receive behind every flavour.
fn recv(
    mailbox: PostboxMailbox,
    selector: Selector,
    wait: Wait,
    out: *mut PostboxMessage,
) -> Outcome {
    sys::write(out, PostboxMessage::empty(), "message")?;
    let entry = MAILBOXES.get(mailbox.id)?;
    let received = match wait {
        Wait::Forever => entry.mailbox.recv_matching(selector),
        Wait::Try => entry.mailbox.try_recv_matching(selector),
        Wait::Timeout(timeout) => entry.mailbox.recv_matching_timeout(selector, timeout),
    }?;
    PostboxMessage::deliver(&received, out)
}

/// Receives the first message in queue order, waiting for one; writes it to `*message`.
///
/// Pointers: `message` points to a `postbox_message` to write; on success the caller owns it and
/// gives it back with `postbox_message_free`. On failure it is left empty (nothing to free).
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_PERMISSION_DENIED` (mode or receive rights),
/// `POSTBOX_STATUS_BUSY` (exclusive or pair right held by another process), `POSTBOX_STATUS_PEER_GONE` (a
/// pair's sender has gone), `POSTBOX_STATUS_GONE`, `POSTBOX_STATUS_DISCONNECTED`, `POSTBOX_STATUS_BAD_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_recv(
    mailbox: PostboxMailbox,
    message: *mut PostboxMessage,
) -> c_int {
    call("postbox_mailbox_recv", || {
        recv(mailbox, Selector::Any, Wait::Forever, message)
    })
}

/// As `postbox_mailbox_recv`, but fails with `POSTBOX_STATUS_EMPTY` at once instead of waiting.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_try_recv(
    mailbox: PostboxMailbox,
    message: *mut PostboxMessage,
) -> c_int {
    call("postbox_mailbox_try_recv", || {
        recv(mailbox, Selector::Any, Wait::Try, message)
    })
}

/// As `postbox_mailbox_recv`, waiting at most `timeout_ms` milliseconds, then failing with
/// `POSTBOX_STATUS_TIMEOUT`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_recv_timeout(
    mailbox: PostboxMailbox,
    timeout_ms: u64,
    message: *mut PostboxMessage,
) -> c_int {
    call("postbox_mailbox_recv_timeout", || {
        recv(mailbox, Selector::Any, Wait::millis(timeout_ms), message)
    })
}

/// Receives the first message `selector` picks (System V typed selective receive, or by
/// sender), waiting until a matching one arrives: arrivals that do not match do not wake it.
///
/// Pointers: `message` as in `postbox_mailbox_recv`.
///
/// Returns what `postbox_mailbox_recv` returns; `POSTBOX_STATUS_PEER_GONE` also when a `FROM`
/// selector's process has gone; `POSTBOX_STATUS_INVALID_ARGUMENT` for an unknown selector kind.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_recv_matching(
    mailbox: PostboxMailbox,
    selector: PostboxSelector,
    message: *mut PostboxMessage,
) -> c_int {
    call("postbox_mailbox_recv_matching", || {
        recv(mailbox, selector.to_selector()?, Wait::Forever, message)
    })
}

/// As `postbox_mailbox_recv_matching`, but fails with `POSTBOX_STATUS_EMPTY` at once instead of
/// waiting.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_try_recv_matching(
    mailbox: PostboxMailbox,
    selector: PostboxSelector,
    message: *mut PostboxMessage,
) -> c_int {
    call("postbox_mailbox_try_recv_matching", || {
        recv(mailbox, selector.to_selector()?, Wait::Try, message)
    })
}

/// As `postbox_mailbox_recv_matching`, waiting at most `timeout_ms` milliseconds.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_recv_matching_timeout(
    mailbox: PostboxMailbox,
    selector: PostboxSelector,
    timeout_ms: u64,
    message: *mut PostboxMessage,
) -> c_int {
    call("postbox_mailbox_recv_matching_timeout", || {
        let selector = selector.to_selector()?;
        recv(mailbox, selector, Wait::millis(timeout_ms), message)
    })
}

//! Acknowledged receive: a message taken on lease, which its mailbox keeps until the receiver
//! acknowledges it (`ack`) or gives it back (`nack`, or freeing the lease unsettled).
//!
//! The library's [`Leased`] borrows its mailbox handle. A C lease must own what it borrows, so
//! it holds the mailbox (shared with the mailbox's C handle) and the lease together, in a
//! `self_cell` — the self-reference made safe without `unsafe` here. A lease thus keeps its
//! mailbox open until it is settled or freed.

// Exports C symbols (`#[unsafe(no_mangle)]`); unsafe blocks stay in `sys` (tests/unsafe_audit.rs).
#![allow(unsafe_code)]

use std::ffi::c_int;
use std::sync::{Arc, Mutex, PoisonError};

use postbox_lib::{Leased, RecvError, Selector};
use self_cell::self_cell;

use crate::guard::call;
use crate::mailbox_handle::{MAILBOXES, MailboxEntry, PostboxMailbox};
use crate::message::PostboxMessage;
use crate::registry::Registry;
use crate::selector::PostboxSelector;
use crate::status::Outcome;
use crate::sys;
use crate::wait::Wait;

/// A message received on lease. 0 is the null handle.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PostboxLease {
    /// Opaque; 0 is never a live lease.
    pub id: u64,
}

/// A lease borrowing its mailbox; `None` once settled.
type Held<'a> = Option<Leased<'a>>;

self_cell!(
    /// A mailbox and a lease on one of its messages, owned together.
    struct LeaseCell {
        owner: Arc<MailboxEntry>,
        #[covariant]
        dependent: Held,
    }
);

static LEASES: Registry<Mutex<LeaseCell>> = Registry::new("postbox_lease");

/// How a lease is settled.
#[derive(Clone, Copy)]
enum Settle {
    Ack,
    Nack,
}

fn lease(
    mailbox: PostboxMailbox,
    selector: Selector,
    wait: Wait,
    lease_out: *mut PostboxLease,
    message_out: *mut PostboxMessage,
) -> Outcome {
    sys::write(lease_out, PostboxLease { id: 0 }, "lease")?;
    sys::write(message_out, PostboxMessage::empty(), "message")?;
    let entry = MAILBOXES.get(mailbox.id)?;
    let cell = LeaseCell::try_new(entry, |entry| -> Result<Held<'_>, RecvError> {
        let mailbox = &entry.mailbox;
        let leased = match wait {
            Wait::Forever => mailbox.lease_matching(selector),
            Wait::Try => mailbox.try_lease_matching(selector),
            Wait::Timeout(timeout) => mailbox.lease_matching_timeout(selector, timeout),
        }?;
        Ok(Some(leased))
    })?;
    let message = cell.with_dependent(|_, held| held.as_deref().map(PostboxMessage::new));
    let id = LEASES.insert(Mutex::new(cell));
    sys::write(lease_out, PostboxLease { id }, "lease")?;
    if let Some(message) = message {
        sys::write(message_out, message, "message")?;
    }
    Ok(())
}

fn settle(lease: PostboxLease, how: Settle) -> Outcome {
    let cell = LEASES.remove(lease.id)?;
    let mut cell = cell.lock().unwrap_or_else(PoisonError::into_inner);
    let settled = cell.with_dependent_mut(|_, held| match held.take() {
        Some(leased) => match how {
            Settle::Ack => leased.ack(),
            Settle::Nack => leased.nack(),
        },
        None => Ok(()),
    });
    Ok(settled?)
}

/// Receives the first message on lease, waiting for one: the mailbox keeps it until the lease
/// is acknowledged (`postbox_lease_ack`), and takes it back if the lease is given back
/// (`postbox_lease_nack`, `postbox_lease_free`), its lease time runs out, or the process ends.
///
/// Pointers: `lease` points to a `postbox_lease` to write: the caller settles or frees it
/// exactly once. `message` points to a `postbox_message` to write, a copy of the leased message
/// that the caller frees with `postbox_message_free` (independently of the lease). On failure
/// both are left empty.
///
/// Returns what `postbox_mailbox_recv` returns.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_lease(
    mailbox: PostboxMailbox,
    lease: *mut PostboxLease,
    message: *mut PostboxMessage,
) -> c_int {
    call("postbox_mailbox_lease", || {
        self::lease(mailbox, Selector::Any, Wait::Forever, lease, message)
    })
}

/// As `postbox_mailbox_lease`, but fails with `POSTBOX_STATUS_EMPTY` at once instead of waiting.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_try_lease(
    mailbox: PostboxMailbox,
    lease: *mut PostboxLease,
    message: *mut PostboxMessage,
) -> c_int {
    call("postbox_mailbox_try_lease", || {
        self::lease(mailbox, Selector::Any, Wait::Try, lease, message)
    })
}

/// As `postbox_mailbox_lease`, waiting at most `timeout_ms` milliseconds.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_lease_timeout(
    mailbox: PostboxMailbox,
    timeout_ms: u64,
    lease: *mut PostboxLease,
    message: *mut PostboxMessage,
) -> c_int {
    call("postbox_mailbox_lease_timeout", || {
        let wait = Wait::millis(timeout_ms);
        self::lease(mailbox, Selector::Any, wait, lease, message)
    })
}

/// As `postbox_mailbox_lease`, taking the first message `selector` picks.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_lease_matching(
    mailbox: PostboxMailbox,
    selector: PostboxSelector,
    lease: *mut PostboxLease,
    message: *mut PostboxMessage,
) -> c_int {
    call("postbox_mailbox_lease_matching", || {
        let selector = selector.to_selector()?;
        self::lease(mailbox, selector, Wait::Forever, lease, message)
    })
}

/// As `postbox_mailbox_lease_matching`, but fails with `POSTBOX_STATUS_EMPTY` at once instead of
/// waiting.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_try_lease_matching(
    mailbox: PostboxMailbox,
    selector: PostboxSelector,
    lease: *mut PostboxLease,
    message: *mut PostboxMessage,
) -> c_int {
    call("postbox_mailbox_try_lease_matching", || {
        let selector = selector.to_selector()?;
        self::lease(mailbox, selector, Wait::Try, lease, message)
    })
}

/// As `postbox_mailbox_lease_matching`, waiting at most `timeout_ms` milliseconds.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_lease_matching_timeout(
    mailbox: PostboxMailbox,
    selector: PostboxSelector,
    timeout_ms: u64,
    lease: *mut PostboxLease,
    message: *mut PostboxMessage,
) -> c_int {
    call("postbox_mailbox_lease_matching_timeout", || {
        let selector = selector.to_selector()?;
        let wait = Wait::millis(timeout_ms);
        self::lease(mailbox, selector, wait, lease, message)
    })
}

/// Acknowledges the leased message: the mailbox lets it go. Frees the lease handle whatever it
/// returns.
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_LEASE_ENDED` (the lease time was up first: the message went
/// back and may be delivered again), `POSTBOX_STATUS_GONE` (the mailbox was deleted, and the message
/// with it), `POSTBOX_STATUS_DISCONNECTED`, `POSTBOX_STATUS_BAD_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_lease_ack(lease: PostboxLease) -> c_int {
    call("postbox_lease_ack", || settle(lease, Settle::Ack))
}

/// Gives the leased message back, unused: it returns to its old place at the front of the queue.
/// Frees the lease handle whatever it returns.
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_GONE`, `POSTBOX_STATUS_DISCONNECTED`, `POSTBOX_STATUS_BAD_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_lease_nack(lease: PostboxLease) -> c_int {
    call("postbox_lease_nack", || settle(lease, Settle::Nack))
}

/// Frees the lease handle; an unsettled lease gives its message back, as `postbox_lease_nack`
/// does, without reporting whether that worked.
///
/// Returns `POSTBOX_STATUS_OK` or `POSTBOX_STATUS_BAD_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_lease_free(lease: PostboxLease) -> c_int {
    call("postbox_lease_free", || LEASES.remove(lease.id).map(drop))
}

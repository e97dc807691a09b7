//! Mailbox options: the attributes a mailbox is created with, set one by one from C.
//!
//! An opaque handle with one setter per attribute, rather than a struct C fills in, so that a
//! later attribute is a new function, not a changed struct layout that would break compiled
//! programs. An attribute never set takes the library's default (docs/semantics.md).

// Exports C symbols (`#[unsafe(no_mangle)]`); unsafe blocks stay in `sys` (tests/unsafe_audit.rs).
#![allow(unsafe_code)]

use std::ffi::c_int;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use postbox_lib::{
    Capacity, MailboxBuilder, MessageSize, Mode, Order, Overflow, Ownership, Receivers,
};

use crate::attrs::{self, PostboxCapacity, PostboxSize};
use crate::guard::call;
use crate::mailbox_handle::{MAILBOXES, MailboxEntry, PostboxMailbox};
use crate::registry::Registry;
use crate::status::{Error, Outcome};
use crate::sys;

/// Attributes for `postbox_mailbox_create` and `postbox_mailbox_open_or_create`. 0 is the null
/// handle, which those functions read as "every default".
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PostboxMailboxOptions {
    /// Opaque; 0 is never a live options object.
    pub id: u64,
}

/// The attributes set so far; `None` is the default.
#[derive(Default)]
pub(crate) struct Options {
    capacity: Option<Capacity>,
    size: Option<MessageSize>,
    order: Option<Order>,
    overflow: Option<Overflow>,
    ownership: Option<Ownership>,
    receivers: Option<Receivers>,
    mode: Option<Mode>,
    lease_time: Option<Duration>,
    max_deliveries: Option<u32>,
    /// Held open while these options may create a mailbox that names it.
    dead_letter: Option<Arc<MailboxEntry>>,
}

impl Options {
    /// `builder` with every attribute set here.
    pub(crate) fn apply(&self, mut builder: MailboxBuilder) -> MailboxBuilder {
        if let Some(capacity) = self.capacity {
            builder = builder.capacity(capacity);
        }
        if let Some(size) = self.size {
            builder = builder.size(size);
        }
        if let Some(order) = self.order {
            builder = builder.order(order);
        }
        if let Some(overflow) = self.overflow {
            builder = builder.overflow(overflow);
        }
        if let Some(ownership) = self.ownership {
            builder = builder.ownership(ownership);
        }
        if let Some(receivers) = self.receivers {
            builder = builder.receivers(receivers);
        }
        if let Some(mode) = self.mode {
            builder = builder.mode(mode);
        }
        if let Some(time) = self.lease_time {
            builder = builder.lease_time(time);
        }
        if let Some(deliveries) = self.max_deliveries {
            builder = builder.max_deliveries(deliveries);
        }
        if let Some(dead_letter) = &self.dead_letter {
            builder = builder.dead_letter(&dead_letter.mailbox);
        }
        builder
    }
}

pub(crate) static OPTIONS: Registry<Mutex<Options>> = Registry::new("postbox_mailbox_options");

/// Changes the options behind handle `options`.
fn set(options: PostboxMailboxOptions, change: impl FnOnce(&mut Options) -> Outcome) -> Outcome {
    let options = OPTIONS.get(options.id)?;
    let mut options = options.lock().unwrap_or_else(PoisonError::into_inner);
    change(&mut options)
}

/// Makes a new options object with every attribute at its default, written to `*out`. Free it
/// with `postbox_mailbox_options_free`; one object may create any number of mailboxes.
///
/// Pointers: `out` points to a `postbox_mailbox_options` to write.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_options_new(out: *mut PostboxMailboxOptions) -> c_int {
    call("postbox_mailbox_options_new", || {
        sys::write(out, PostboxMailboxOptions { id: 0 }, "out")?;
        let id = OPTIONS.insert(Mutex::new(Options::default()));
        sys::write(out, PostboxMailboxOptions { id }, "out")
    })
}

/// Frees the options object. Mailboxes created with it are not affected.
///
/// Returns `POSTBOX_STATUS_OK` or `POSTBOX_STATUS_BAD_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_options_free(options: PostboxMailboxOptions) -> c_int {
    call("postbox_mailbox_options_free", || {
        OPTIONS.remove(options.id).map(drop)
    })
}

/// Sets the capacity: `capacity` is a `postbox_capacity`; `max_messages` (at least 1) and
/// `max_bytes` count only for `POSTBOX_CAPACITY_BOUNDED`. Default: bounded, 64 messages, 1 MiB.
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_INVALID_ARGUMENT` (unknown kind), `POSTBOX_STATUS_BAD_HANDLE`.
/// Contradicting attributes are reported by create, as `POSTBOX_STATUS_INVALID_ATTRIBUTES`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_options_set_capacity(
    options: PostboxMailboxOptions,
    capacity: c_int,
    max_messages: usize,
    max_bytes: usize,
) -> c_int {
    call("postbox_mailbox_options_set_capacity", || {
        let capacity = match capacity {
            c if c == PostboxCapacity::Zero as c_int => Capacity::Zero,
            c if c == PostboxCapacity::Bounded as c_int => {
                Capacity::bounded(max_messages, max_bytes)
            }
            c if c == PostboxCapacity::Unbounded as c_int => Capacity::Unbounded,
            other => return Err(Error::invalid(format!("{other} is not a postbox_capacity"))),
        };
        set(options, |o| {
            o.capacity = Some(capacity);
            Ok(())
        })
    })
}

/// Sets the message size rule: `size` is a `postbox_size`, `bytes` the fixed size or the
/// largest variable size. Default: variable, up to 64 KiB.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_options_set_size(
    options: PostboxMailboxOptions,
    size: c_int,
    bytes: usize,
) -> c_int {
    call("postbox_mailbox_options_set_size", || {
        let size = match size {
            s if s == PostboxSize::Fixed as c_int => MessageSize::Fixed(bytes),
            s if s == PostboxSize::Variable as c_int => MessageSize::Variable(bytes),
            other => return Err(Error::invalid(format!("{other} is not a postbox_size"))),
        };
        set(options, |o| {
            o.size = Some(size);
            Ok(())
        })
    })
}

/// Sets the receive order: a `postbox_order`. Default: FIFO.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_options_set_order(
    options: PostboxMailboxOptions,
    order: c_int,
) -> c_int {
    call("postbox_mailbox_options_set_order", || {
        let order = attrs::order(order)?;
        set(options, |o| {
            o.order = Some(order);
            Ok(())
        })
    })
}

/// Sets what a send to a full mailbox does: a `postbox_overflow`. Default: block.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_options_set_overflow(
    options: PostboxMailboxOptions,
    overflow: c_int,
) -> c_int {
    call("postbox_mailbox_options_set_overflow", || {
        let overflow = attrs::overflow(overflow)?;
        set(options, |o| {
            o.overflow = Some(overflow);
            Ok(())
        })
    })
}

/// Sets who owns the mailbox: a `postbox_ownership`. Default: the creating process.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_options_set_ownership(
    options: PostboxMailboxOptions,
    ownership: c_int,
) -> c_int {
    call("postbox_mailbox_options_set_ownership", || {
        let ownership = attrs::ownership(ownership)?;
        set(options, |o| {
            o.ownership = Some(ownership);
            Ok(())
        })
    })
}

/// Sets who may receive: a `postbox_receivers`. Default: by ownership (owner-only for
/// process-owned, shared first-waiting for system-owned).
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_options_set_receivers(
    options: PostboxMailboxOptions,
    receivers: c_int,
) -> c_int {
    call("postbox_mailbox_options_set_receivers", || {
        let receivers = attrs::receivers(receivers)?;
        set(options, |o| {
            o.receivers = Some(receivers);
            Ok(())
        })
    })
}

/// Sets the permission bits, System V style (`w` = may send, `r` = may receive): at most 0777.
/// Default: 0600.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_options_set_mode(
    options: PostboxMailboxOptions,
    mode: u32,
) -> c_int {
    call("postbox_mailbox_options_set_mode", || {
        let mode = permission_bits(mode)?;
        set(options, |o| {
            o.mode = Some(mode);
            Ok(())
        })
    })
}

/// The permission bits `mode`, refusing anything beyond 0777.
pub(crate) fn permission_bits(mode: u32) -> Outcome<Mode> {
    match u16::try_from(mode) {
        Ok(bits) if bits <= 0o777 => Ok(Mode::new(bits)),
        _ => Err(Error::invalid(format!(
            "mode {mode:o} has bits beyond the permission bits 0777"
        ))),
    }
}

/// Sets how long a lease lasts before its message goes back by itself, in milliseconds (at most
/// a week); 0 (the default): until its holder settles it, closes the mailbox or ends.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_options_set_lease_time_ms(
    options: PostboxMailboxOptions,
    lease_time_ms: u64,
) -> c_int {
    call("postbox_mailbox_options_set_lease_time_ms", || {
        let time = (lease_time_ms > 0).then(|| Duration::from_millis(lease_time_ms));
        set(options, |o| {
            o.lease_time = time;
            Ok(())
        })
    })
}

/// Sets the most deliveries of one message: after that, an unacknowledged message goes to the
/// dead-letter mailbox, or without one is dropped. 0 (the default): no limit.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_options_set_max_deliveries(
    options: PostboxMailboxOptions,
    max_deliveries: u32,
) -> c_int {
    call("postbox_mailbox_options_set_max_deliveries", || {
        set(options, |o| {
            o.max_deliveries = (max_deliveries > 0).then_some(max_deliveries);
            Ok(())
        })
    })
}

/// Sets where messages go after their last delivery: an open mailbox of the creating process's
/// node that it may send to (it needs max deliveries too). The null handle clears it. The
/// options keep that mailbox open until they are freed or set again.
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_BAD_HANDLE` (either handle).
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_options_set_dead_letter(
    options: PostboxMailboxOptions,
    dead_letter: PostboxMailbox,
) -> c_int {
    call("postbox_mailbox_options_set_dead_letter", || {
        let dead_letter = match dead_letter.id {
            0 => None,
            id => Some(MAILBOXES.get(id)?),
        };
        set(options, |o| {
            o.dead_letter = dead_letter;
            Ok(())
        })
    })
}

//! Mailbox handles: creating and opening, closing, statistics and administration (delete,
//! purge, mode, byte limit, owner, receive rights). Sending and receiving live in
//! `mailbox_send` and `mailbox_recv`.

// Exports C symbols (`#[unsafe(no_mangle)]`); unsafe blocks stay in `sys` (tests/unsafe_audit.rs).
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int};
use std::sync::PoisonError;

use postbox_lib::{Credentials, MailboxBuilder, Owner, Pid};

use crate::guard::call;
use crate::mailbox_handle::{MAILBOXES, MailboxEntry, PostboxMailbox};
use crate::options::{OPTIONS, PostboxMailboxOptions, permission_bits};
use crate::process::{PROCESSES, PostboxProcess};
use crate::stats::PostboxMailboxStats;
use crate::status::Outcome;
use crate::sys;

/// How a mailbox comes to be: the three ends of the library's builder.
enum Opening {
    Create,
    Open,
    OpenOrCreate,
}

fn open(
    process: PostboxProcess,
    name: *const c_char,
    options: PostboxMailboxOptions,
    opening: Opening,
    out: *mut PostboxMailbox,
) -> Outcome {
    let name = sys::str(name, "name")?;
    sys::write(out, PostboxMailbox { id: 0 }, "out")?;
    let owner = PROCESSES.get(process.id)?;
    let mut builder: MailboxBuilder = owner.mailbox(name);
    if options.id != 0 {
        let options = OPTIONS.get(options.id)?;
        builder = options
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .apply(builder);
    }
    let mailbox = match opening {
        Opening::Create => builder.create()?,
        Opening::Open => builder.open()?,
        Opening::OpenOrCreate => builder.open_or_create()?,
    };
    let id = MAILBOXES.insert(MailboxEntry {
        mailbox,
        process: process.id,
    });
    sys::write(out, PostboxMailbox { id }, "out")
}

/// Creates the mailbox `name` with the attributes of `options` (the null handle `{0}`: every
/// default) and opens it, written to `*out`.
///
/// Pointers: `name` is a NUL-terminated UTF-8 string, read during the call only; `out` points to
/// a `postbox_mailbox` to write, left as the null handle on failure.
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_ALREADY_EXISTS`, `POSTBOX_STATUS_INVALID_NAME`,
/// `POSTBOX_STATUS_INVALID_ATTRIBUTES` (the text says which), `POSTBOX_STATUS_QUOTA_EXCEEDED`,
/// `POSTBOX_STATUS_DISCONNECTED`, `POSTBOX_STATUS_BAD_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_create(
    process: PostboxProcess,
    name: *const c_char,
    options: PostboxMailboxOptions,
    out: *mut PostboxMailbox,
) -> c_int {
    call("postbox_mailbox_create", || {
        open(process, name, options, Opening::Create, out)
    })
}

/// Opens the existing mailbox `name`, written to `*out`.
///
/// Pointers: as in `postbox_mailbox_create`.
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_NOT_FOUND`, `POSTBOX_STATUS_PERMISSION_DENIED`,
/// `POSTBOX_STATUS_INVALID_NAME`, `POSTBOX_STATUS_DISCONNECTED`, `POSTBOX_STATUS_BAD_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_open(
    process: PostboxProcess,
    name: *const c_char,
    out: *mut PostboxMailbox,
) -> c_int {
    call("postbox_mailbox_open", || {
        let defaults = PostboxMailboxOptions { id: 0 };
        open(process, name, defaults, Opening::Open, out)
    })
}

/// Opens the mailbox `name`, creating it first with `options` if it does not exist; among
/// racing callers exactly one creates it.
///
/// Pointers: as in `postbox_mailbox_create`.
///
/// Returns what `postbox_mailbox_open` and `postbox_mailbox_create` return.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_open_or_create(
    process: PostboxProcess,
    name: *const c_char,
    options: PostboxMailboxOptions,
    out: *mut PostboxMailbox,
) -> c_int {
    call("postbox_mailbox_open_or_create", || {
        open(process, name, options, Opening::OpenOrCreate, out)
    })
}

/// Frees the handle, closing the mailbox for this process (an exclusive or pair right held
/// through it is given up). It does not delete the mailbox. A call still running on it on
/// another thread, a select or a lease using it keep it open until they are done.
///
/// Returns `POSTBOX_STATUS_OK` or `POSTBOX_STATUS_BAD_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_free(mailbox: PostboxMailbox) -> c_int {
    call("postbox_mailbox_free", || {
        MAILBOXES.remove(mailbox.id).map(drop)
    })
}

/// Writes the mailbox's id (unique on its node, even after its name is reused) to `*id`.
///
/// Pointers: `id` points to a `uint64_t` to write.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_id(mailbox: PostboxMailbox, id: *mut u64) -> c_int {
    call("postbox_mailbox_id", || {
        let entry = MAILBOXES.get(mailbox.id)?;
        sys::write(id, entry.mailbox.id().as_raw(), "id")
    })
}

/// Copies the mailbox's name, NUL-terminated, into `buffer`.
///
/// Pointers: `buffer` points to `capacity` writable bytes (256 always suffice); `len`, when not
/// NULL, receives the name's length without the NUL — also when the buffer is too small, which
/// fails with `POSTBOX_STATUS_INVALID_ARGUMENT` and leaves `buffer` untouched.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_name(
    mailbox: PostboxMailbox,
    buffer: *mut c_char,
    capacity: usize,
    len: *mut usize,
) -> c_int {
    call("postbox_mailbox_name", || {
        let entry = MAILBOXES.get(mailbox.id)?;
        sys::copy_str(entry.mailbox.name(), buffer, capacity, len)
    })
}

/// Writes a snapshot of the mailbox's statistics to `*stats`.
///
/// Pointers: `stats` points to a `postbox_mailbox_stats` to write (plain data, nothing to free).
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_GONE`, `POSTBOX_STATUS_PERMISSION_DENIED`,
/// `POSTBOX_STATUS_DISCONNECTED`, `POSTBOX_STATUS_BAD_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_stat(
    mailbox: PostboxMailbox,
    stats: *mut PostboxMailboxStats,
) -> c_int {
    call("postbox_mailbox_stat", || {
        let entry = MAILBOXES.get(mailbox.id)?;
        let snapshot = entry.mailbox.stat()?;
        sys::write(stats, PostboxMailboxStats::new(&snapshot), "stats")
    })
}

/// Drops every queued message and writes how many to `*dropped` (when not NULL); they count as
/// dropped in the statistics. Messages on lease stay with their receivers.
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_PERMISSION_DENIED` (owner or uid 0 only), `POSTBOX_STATUS_GONE`,
/// `POSTBOX_STATUS_DISCONNECTED`, `POSTBOX_STATUS_BAD_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_purge(mailbox: PostboxMailbox, dropped: *mut usize) -> c_int {
    call("postbox_mailbox_purge", || {
        let count = MAILBOXES.get(mailbox.id)?.mailbox.purge()?;
        sys::write_optional(dropped, count, "dropped")
    })
}

/// Deletes the mailbox: every waiter and every later operation on any handle to it gets
/// `POSTBOX_STATUS_GONE`, and the name is free at once. The handle still needs
/// `postbox_mailbox_free`.
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_PERMISSION_DENIED` (owner or uid 0 only), `POSTBOX_STATUS_GONE`,
/// `POSTBOX_STATUS_DISCONNECTED`, `POSTBOX_STATUS_BAD_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_delete(mailbox: PostboxMailbox) -> c_int {
    call("postbox_mailbox_delete", || {
        Ok(MAILBOXES.get(mailbox.id)?.mailbox.delete()?)
    })
}

/// Changes the permission bits (at most 0777).
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_INVALID_ARGUMENT`, `POSTBOX_STATUS_PERMISSION_DENIED`,
/// `POSTBOX_STATUS_GONE`, `POSTBOX_STATUS_DISCONNECTED`, `POSTBOX_STATUS_BAD_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_set_mode(mailbox: PostboxMailbox, mode: u32) -> c_int {
    call("postbox_mailbox_set_mode", || {
        let mode = permission_bits(mode)?;
        Ok(MAILBOXES.get(mailbox.id)?.mailbox.set_mode(mode)?)
    })
}

/// Changes the byte limit of a bounded mailbox.
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_INVALID_ARGUMENT` (not bounded, or below the largest message
/// size), `POSTBOX_STATUS_PERMISSION_DENIED`, `POSTBOX_STATUS_GONE`, `POSTBOX_STATUS_DISCONNECTED`,
/// `POSTBOX_STATUS_BAD_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_set_max_bytes(
    mailbox: PostboxMailbox,
    max_bytes: usize,
) -> c_int {
    call("postbox_mailbox_set_max_bytes", || {
        Ok(MAILBOXES
            .get(mailbox.id)?
            .mailbox
            .set_max_bytes(max_bytes)?)
    })
}

/// Passes ownership on to the process `pid` (the mailbox then dies with it).
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_PERMISSION_DENIED` (owner or uid 0 only),
/// `POSTBOX_STATUS_NOT_FOUND` / `POSTBOX_STATUS_PEER_GONE` (the new owner), `POSTBOX_STATUS_GONE`,
/// `POSTBOX_STATUS_DISCONNECTED`, `POSTBOX_STATUS_BAD_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_set_owner_process(mailbox: PostboxMailbox, pid: u64) -> c_int {
    call("postbox_mailbox_set_owner_process", || {
        let owner = Owner::Process(Pid::from_raw(pid));
        Ok(MAILBOXES.get(mailbox.id)?.mailbox.set_owner(owner)?)
    })
}

/// Passes ownership on to the user `uid` and group `gid` (the mailbox then lives until deleted).
///
/// Returns as `postbox_mailbox_set_owner_process`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_set_owner_system(
    mailbox: PostboxMailbox,
    uid: u32,
    gid: u32,
) -> c_int {
    call("postbox_mailbox_set_owner_system", || {
        let owner = Owner::System(Credentials::new(uid, gid));
        Ok(MAILBOXES.get(mailbox.id)?.mailbox.set_owner(owner)?)
    })
}

/// Lets process `pid` receive from this owner-receive mailbox.
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_INVALID_ARGUMENT` (receivers policy is not owner),
/// `POSTBOX_STATUS_PERMISSION_DENIED`, `POSTBOX_STATUS_NOT_FOUND` / `POSTBOX_STATUS_PEER_GONE` (the grantee),
/// `POSTBOX_STATUS_GONE`, `POSTBOX_STATUS_DISCONNECTED`, `POSTBOX_STATUS_BAD_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_grant_receive(mailbox: PostboxMailbox, pid: u64) -> c_int {
    call("postbox_mailbox_grant_receive", || {
        let grantee = Pid::from_raw(pid);
        Ok(MAILBOXES.get(mailbox.id)?.mailbox.grant_receive(grantee)?)
    })
}

/// Takes back a receive right; the grantee's waiting receives fail with
/// `POSTBOX_STATUS_PERMISSION_DENIED`.
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_INVALID_ARGUMENT`, `POSTBOX_STATUS_PERMISSION_DENIED`,
/// `POSTBOX_STATUS_GONE`, `POSTBOX_STATUS_DISCONNECTED`, `POSTBOX_STATUS_BAD_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_mailbox_revoke_receive(mailbox: PostboxMailbox, pid: u64) -> c_int {
    call("postbox_mailbox_revoke_receive", || {
        let grantee = Pid::from_raw(pid);
        Ok(MAILBOXES.get(mailbox.id)?.mailbox.revoke_receive(grantee)?)
    })
}

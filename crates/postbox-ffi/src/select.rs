//! Select: wait on several receive operations at once — mailboxes and the inbox, each with its
//! own selector — and take exactly one message from whichever is ready first.

// Exports C symbols (`#[unsafe(no_mangle)]`); unsafe blocks stay in `sys` (tests/unsafe_audit.rs).
#![allow(unsafe_code)]

use std::ffi::c_int;
use std::sync::{Arc, Mutex, PoisonError};

use postbox_lib::{Process, Select, Selector};

use crate::guard::call;
use crate::mailbox_handle::{MAILBOXES, MailboxEntry, PostboxMailbox};
use crate::message::PostboxMessage;
use crate::process::{PROCESSES, PostboxProcess};
use crate::registry::Registry;
use crate::selector::PostboxSelector;
use crate::status::{Error, Outcome};
use crate::sys;
use crate::wait::Wait;

/// A set of receive operations of one process. 0 is the null handle.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PostboxSelect {
    /// Opaque; 0 is never a live select.
    pub id: u64,
}

/// One receive of a select, holding what it receives from.
#[derive(Clone)]
enum Branch {
    Mailbox(Arc<MailboxEntry>, Selector),
    Inbox(Arc<Process>, Selector),
}

/// The branches so far, and the process handle they all belong to.
#[derive(Default)]
struct Branches {
    process: Option<u64>,
    branches: Vec<Branch>,
}

static SELECTS: Registry<Mutex<Branches>> = Registry::new("postbox_select");

fn add(select: PostboxSelect, process: u64, branch: Branch, index: *mut usize) -> Outcome {
    let select = SELECTS.get(select.id)?;
    let mut select = select.lock().unwrap_or_else(PoisonError::into_inner);
    if select.process.is_some_and(|first| first != process) {
        return Err(Error::invalid(
            "every branch of a select must belong to the same process",
        ));
    }
    select.process = Some(process);
    select.branches.push(branch);
    sys::write_optional(index, select.branches.len() - 1, "index")
}

fn wait(select: PostboxSelect, wait: Wait, index: *mut usize, out: *mut PostboxMessage) -> Outcome {
    sys::write_optional(index, 0, "index")?;
    sys::write(out, PostboxMessage::empty(), "message")?;
    // A snapshot of the branches: a wait never holds the lock, so branches may be added (for
    // later waits) and other threads may wait on the same select meanwhile.
    let branches = {
        let select = SELECTS.get(select.id)?;
        let select = select.lock().unwrap_or_else(PoisonError::into_inner);
        select.branches.clone()
    };
    let mut select = Select::new();
    for branch in &branches {
        match branch {
            Branch::Mailbox(entry, selector) => select.recv(&entry.mailbox, *selector),
            Branch::Inbox(process, selector) => select.inbox(process, *selector),
        };
    }
    let result = match wait {
        Wait::Forever => select.wait(),
        Wait::Try => select.try_wait(),
        Wait::Timeout(timeout) => select.wait_timeout(timeout),
    };
    match result {
        Ok(selected) => {
            sys::write_optional(index, selected.index, "index")?;
            PostboxMessage::deliver(&selected.message, out)
        }
        Err(error) => {
            sys::write_optional(index, error.branch, "index")?;
            Err(error.into())
        }
    }
}

/// Makes an empty select, written to `*out`. Free it with `postbox_select_free`.
///
/// Pointers: `out` points to a `postbox_select` to write.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_select_new(out: *mut PostboxSelect) -> c_int {
    call("postbox_select_new", || {
        sys::write(out, PostboxSelect { id: 0 }, "out")?;
        let id = SELECTS.insert(Mutex::new(Branches::default()));
        sys::write(out, PostboxSelect { id }, "out")
    })
}

/// Frees the select, letting go of the mailboxes and processes its branches hold.
///
/// Returns `POSTBOX_STATUS_OK` or `POSTBOX_STATUS_BAD_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_select_free(select: PostboxSelect) -> c_int {
    call("postbox_select_free", || {
        SELECTS.remove(select.id).map(drop)
    })
}

/// Adds a receive on `mailbox` with `selector`. The select holds the mailbox open until it is
/// freed.
///
/// Pointers: `index`, when not NULL, receives the branch's index (0 for the first added).
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_INVALID_ARGUMENT` (an unknown selector kind, or a mailbox of
/// another process than the earlier branches), `POSTBOX_STATUS_BAD_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_select_add_mailbox(
    select: PostboxSelect,
    mailbox: PostboxMailbox,
    selector: PostboxSelector,
    index: *mut usize,
) -> c_int {
    call("postbox_select_add_mailbox", || {
        let selector = selector.to_selector()?;
        let entry = MAILBOXES.get(mailbox.id)?;
        let process = entry.process;
        add(select, process, Branch::Mailbox(entry, selector), index)
    })
}

/// Adds a receive on `process`'s inbox with `selector`. The select holds the process alive (its
/// handle may be freed, but it does not terminate) until the select is freed.
///
/// Pointers and returns: as in `postbox_select_add_mailbox`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_select_add_inbox(
    select: PostboxSelect,
    process: PostboxProcess,
    selector: PostboxSelector,
    index: *mut usize,
) -> c_int {
    call("postbox_select_add_inbox", || {
        let selector = selector.to_selector()?;
        let held = PROCESSES.get(process.id)?;
        add(select, process.id, Branch::Inbox(held, selector), index)
    })
}

/// Waits until one branch has a matching message and takes it (branches are tried in the order
/// they were added; exactly one message is taken).
///
/// Pointers: `index`, when not NULL, receives the index of the branch that completed — or, on
/// failure, of the branch that failed. `message` points to a `postbox_message` to write; on
/// success the caller frees it with `postbox_message_free`; on failure it is left empty.
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_GONE`, `POSTBOX_STATUS_PERMISSION_DENIED`, `POSTBOX_STATUS_BUSY`,
/// `POSTBOX_STATUS_PEER_GONE`, `POSTBOX_STATUS_DISCONNECTED` (from the branch named by `index`),
/// `POSTBOX_STATUS_EMPTY` for a select with no branches, `POSTBOX_STATUS_BAD_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_select_wait(
    select: PostboxSelect,
    index: *mut usize,
    message: *mut PostboxMessage,
) -> c_int {
    call("postbox_select_wait", || {
        wait(select, Wait::Forever, index, message)
    })
}

/// As `postbox_select_wait`, but fails with `POSTBOX_STATUS_EMPTY` at once when no branch is ready.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_select_try_wait(
    select: PostboxSelect,
    index: *mut usize,
    message: *mut PostboxMessage,
) -> c_int {
    call("postbox_select_try_wait", || {
        wait(select, Wait::Try, index, message)
    })
}

/// As `postbox_select_wait`, waiting at most `timeout_ms` milliseconds, then failing with
/// `POSTBOX_STATUS_TIMEOUT`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_select_wait_timeout(
    select: PostboxSelect,
    timeout_ms: u64,
    index: *mut usize,
    message: *mut PostboxMessage,
) -> c_int {
    call("postbox_select_wait_timeout", || {
        wait(select, Wait::millis(timeout_ms), index, message)
    })
}

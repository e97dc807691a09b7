//! Listing a node: the statistics of every mailbox a process may see, and every live process.
//!
//! C passes an array and its capacity; the functions fill what fits and report how many there
//! are in all, so that a caller can retry with a larger array (as `getgroups` does).

// Exports C symbols (`#[unsafe(no_mangle)]`); unsafe blocks stay in `sys` (tests/unsafe_audit.rs).
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int};

use postbox_lib::ProcessInfo;

use crate::guard::call;
use crate::process::{PROCESSES, PostboxProcess};
use crate::stats::{PostboxMailboxStats, c_name};
use crate::status::Outcome;
use crate::sys;

/// One live process of a node (`postbox_process_list_processes`). Plain data.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PostboxProcessInfo {
    /// Its pid.
    pub pid: u64,
    /// Its registered name, NUL-terminated; "" when it has none.
    pub name: [c_char; 256],
    /// Its user id.
    pub uid: u32,
    /// Its group id.
    pub gid: u32,
    /// Its OS process id when its transport knows it (a daemon's local peers); else 0.
    pub os_pid: u32,
    /// Messages waiting in its inbox.
    pub inbox_messages: usize,
    /// Mailboxes it owns.
    pub owned_mailboxes: usize,
    /// Operations it has waiting.
    pub waiting: usize,
    /// When it started: nanoseconds since the Unix epoch.
    pub started_ns: u64,
}

impl PostboxProcessInfo {
    fn new(info: &ProcessInfo) -> PostboxProcessInfo {
        PostboxProcessInfo {
            pid: info.pid.as_raw(),
            name: c_name(info.name.as_deref().unwrap_or_default()),
            uid: info.uid,
            gid: info.gid,
            os_pid: info.os_pid.unwrap_or(0),
            inbox_messages: info.inbox_messages,
            owned_mailboxes: info.owned_mailboxes,
            waiting: info.waiting,
            started_ns: info.started.as_nanos(),
        }
    }
}

/// Writes `items` (as many as fit) into the caller's array, and their number in all to `total`.
fn fill<T, C>(
    items: &[T],
    convert: impl Fn(&T) -> C,
    out: *mut C,
    capacity: usize,
    total: *mut usize,
) -> Outcome {
    let slots = sys::slice_out(out, capacity, "array")?;
    for (slot, item) in slots.iter_mut().zip(items) {
        slot.write(convert(item));
    }
    sys::write(total, items.len(), "total")
}

/// Writes the statistics of every mailbox the process may see into `stats` (at most `capacity`
/// of them), and how many there are in all to `*total`.
///
/// Pointers: `stats` points to an array of `capacity` `postbox_mailbox_stats` to write (NULL
/// when `capacity` is 0, to ask for the total); `total` points to a `size_t` to write.
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_DISCONNECTED`, `POSTBOX_STATUS_BAD_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_process_list_mailboxes(
    process: PostboxProcess,
    stats: *mut PostboxMailboxStats,
    capacity: usize,
    total: *mut usize,
) -> c_int {
    call("postbox_process_list_mailboxes", || {
        sys::write(total, 0, "total")?;
        let all = PROCESSES.get(process.id)?.list_mailboxes()?;
        fill(&all, PostboxMailboxStats::new, stats, capacity, total)
    })
}

/// Writes every live process of the node into `processes` (at most `capacity` of them), and how
/// many there are in all to `*total`.
///
/// Pointers: as in `postbox_process_list_mailboxes`, with `postbox_process_info`s.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_process_list_processes(
    process: PostboxProcess,
    processes: *mut PostboxProcessInfo,
    capacity: usize,
    total: *mut usize,
) -> c_int {
    call("postbox_process_list_processes", || {
        sys::write(total, 0, "total")?;
        let all = PROCESSES.get(process.id)?.list_processes()?;
        fill(&all, PostboxProcessInfo::new, processes, capacity, total)
    })
}

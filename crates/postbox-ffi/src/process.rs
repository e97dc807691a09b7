//! Process handles: identity, names, monitors, direct messages (send to a pid, receive from one
//! or from anyone), node statistics, and termination.

// Exports C symbols (`#[unsafe(no_mangle)]`); unsafe blocks stay in `sys` (tests/unsafe_audit.rs).
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int};

use bytes::Bytes;
use postbox_lib::{Message, Pid, Process, Received, RecvError, Selector};

use crate::guard::call;
use crate::message::PostboxMessage;
use crate::registry::Registry;
use crate::selector::PostboxSelector;
use crate::stats::PostboxNodeStats;
use crate::status::{Error, Outcome, PostboxStatus};
use crate::sys;
use crate::wait::Wait;

/// A postbox process: a pid, an inbox, and the mailboxes it opens. 0 is the null handle.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PostboxProcess {
    /// Opaque; 0 is never a live process.
    pub id: u64,
}

pub(crate) static PROCESSES: Registry<Process> = Registry::new("postbox_process");

/// The message C asks to send: its payload copied, with its type and priority.
pub(crate) fn message(
    payload: *const u8,
    len: usize,
    mtype: i64,
    priority: u16,
) -> Outcome<Message> {
    let payload = sys::bytes(payload, len, "payload")?;
    Ok(Message::new(Bytes::copy_from_slice(payload))
        .with_type(mtype)
        .with_priority(priority))
}

/// Frees the process handle, which **terminates** the process: its process-owned mailboxes are
/// deleted, whoever waits on it gets `POSTBOX_STATUS_PEER_GONE`, monitors get a down notification,
/// and a daemon connection is closed. Mailbox handles opened from it then fail with
/// `POSTBOX_STATUS_DISCONNECTED` (free them too). A call still running on it on another thread keeps
/// the process alive until that call returns.
///
/// Returns `POSTBOX_STATUS_OK` or `POSTBOX_STATUS_BAD_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_process_free(process: PostboxProcess) -> c_int {
    call("postbox_process_free", || {
        PROCESSES.remove(process.id).map(drop)
    })
}

/// Writes the process's pid (at least 1; never reused on its node) to `*pid`.
///
/// Pointers: `pid` points to a `uint64_t` to write.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_process_pid(process: PostboxProcess, pid: *mut u64) -> c_int {
    call("postbox_process_pid", || {
        let process = PROCESSES.get(process.id)?;
        sys::write(pid, process.pid().as_raw(), "pid")
    })
}

/// Registers `name` for the process, so that others can find it with `postbox_process_whereis`.
///
/// Pointers: `name` is a NUL-terminated UTF-8 string, read during the call only.
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_INVALID_NAME`, `POSTBOX_STATUS_ALREADY_EXISTS` (taken, or this
/// process already has a name), `POSTBOX_STATUS_DISCONNECTED`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_process_register(process: PostboxProcess, name: *const c_char) -> c_int {
    call("postbox_process_register", || {
        let name = sys::str(name, "name")?;
        Ok(PROCESSES.get(process.id)?.register(name)?)
    })
}

/// Writes the pid of the live process registered as `name` to `*pid`.
///
/// Pointers: `name` as in `postbox_process_register`; `pid` points to a `uint64_t` to write.
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_NOT_FOUND` (no live process has that name),
/// `POSTBOX_STATUS_DISCONNECTED`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_process_whereis(
    process: PostboxProcess,
    name: *const c_char,
    pid: *mut u64,
) -> c_int {
    call("postbox_process_whereis", || {
        let name = sys::str(name, "name")?;
        sys::write(pid, 0, "pid")?;
        match PROCESSES.get(process.id)?.whereis(name)? {
            Some(found) => sys::write(pid, found.as_raw(), "pid"),
            None => Err(Error::new(
                PostboxStatus::NotFound,
                format!("no live process is registered as {name:?}"),
            )),
        }
    })
}

/// Asks for a down notification in the process's inbox when process `target` terminates (at
/// once if it already has): a message of kind `POSTBOX_MESSAGE_DOWN` whose sender is `target`,
/// after every message `target` sent this process.
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_NOT_FOUND` (no such process ever existed),
/// `POSTBOX_STATUS_DISCONNECTED`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_process_monitor(process: PostboxProcess, target: u64) -> c_int {
    call("postbox_process_monitor", || {
        Ok(PROCESSES.get(process.id)?.monitor(Pid::from_raw(target))?)
    })
}

/// Stops monitoring `target`.
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_DISCONNECTED`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_process_demonitor(process: PostboxProcess, target: u64) -> c_int {
    call("postbox_process_demonitor", || {
        Ok(PROCESSES
            .get(process.id)?
            .demonitor(Pid::from_raw(target))?)
    })
}

/// Writes the node's statistics to `*stats`.
///
/// Pointers: `stats` points to a `postbox_node_stats` to write.
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_DISCONNECTED`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_process_node_stats(
    process: PostboxProcess,
    stats: *mut PostboxNodeStats,
) -> c_int {
    call("postbox_process_node_stats", || {
        let node = PROCESSES.get(process.id)?.node_stats()?;
        sys::write(stats, PostboxNodeStats::new(&node), "stats")
    })
}

/// How a direct send waits: queued in the inbox, or until taken (a receipt).
#[derive(Clone, Copy)]
enum Delivery {
    Queued,
    Receipt,
}

fn send_to(
    process: PostboxProcess,
    to: u64,
    message: Message,
    delivery: Delivery,
    wait: Wait,
) -> Outcome {
    let process = PROCESSES.get(process.id)?;
    let to = Pid::from_raw(to);
    let sent = match (delivery, wait) {
        (Delivery::Queued, Wait::Forever) => process.send_to(to, message),
        (Delivery::Queued, Wait::Try) => process.try_send_to(to, message),
        (Delivery::Queued, Wait::Timeout(timeout)) => process.send_to_timeout(to, message, timeout),
        (Delivery::Receipt, Wait::Timeout(timeout)) => {
            process.send_to_with_receipt_timeout(to, message, timeout)
        }
        (Delivery::Receipt, _) => process.send_to_with_receipt(to, message),
    };
    Ok(sent?)
}

/// Sends a message to the inbox of process `to`, waiting while that inbox is full.
///
/// The message is `len` bytes at `payload` (copied: the buffer may be reused at once), of type
/// `mtype` (at least 1; 1 is the usual default) and priority `priority` (0 usually).
///
/// Pointers: `payload` points to `len` readable bytes, read during the call only; it may be
/// NULL when `len` is 0.
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_NOT_FOUND` (no such process ever existed),
/// `POSTBOX_STATUS_PEER_GONE` (it has terminated, before or while waiting), `POSTBOX_STATUS_TOO_LARGE`,
/// `POSTBOX_STATUS_INVALID_TYPE`, `POSTBOX_STATUS_QUOTA_EXCEEDED`, `POSTBOX_STATUS_DISCONNECTED`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_process_send_to(
    process: PostboxProcess,
    to: u64,
    payload: *const u8,
    len: usize,
    mtype: i64,
    priority: u16,
) -> c_int {
    call("postbox_process_send_to", || {
        let message = message(payload, len, mtype, priority)?;
        send_to(process, to, message, Delivery::Queued, Wait::Forever)
    })
}

/// As `postbox_process_send_to`, but fails with `POSTBOX_STATUS_FULL` at once instead of waiting.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_process_try_send_to(
    process: PostboxProcess,
    to: u64,
    payload: *const u8,
    len: usize,
    mtype: i64,
    priority: u16,
) -> c_int {
    call("postbox_process_try_send_to", || {
        let message = message(payload, len, mtype, priority)?;
        send_to(process, to, message, Delivery::Queued, Wait::Try)
    })
}

/// As `postbox_process_send_to`, waiting at most `timeout_ms` milliseconds, then failing with
/// `POSTBOX_STATUS_TIMEOUT` (the message is not delivered).
#[unsafe(no_mangle)]
pub extern "C" fn postbox_process_send_to_timeout(
    process: PostboxProcess,
    to: u64,
    payload: *const u8,
    len: usize,
    mtype: i64,
    priority: u16,
    timeout_ms: u64,
) -> c_int {
    call("postbox_process_send_to_timeout", || {
        let message = message(payload, len, mtype, priority)?;
        send_to(
            process,
            to,
            message,
            Delivery::Queued,
            Wait::millis(timeout_ms),
        )
    })
}

/// As `postbox_process_send_to`, then waits until `to` has taken the message from its inbox: a
/// rendezvous with that process. `POSTBOX_STATUS_PEER_GONE` also when `to` terminates first.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_process_send_to_with_receipt(
    process: PostboxProcess,
    to: u64,
    payload: *const u8,
    len: usize,
    mtype: i64,
    priority: u16,
) -> c_int {
    call("postbox_process_send_to_with_receipt", || {
        let message = message(payload, len, mtype, priority)?;
        send_to(process, to, message, Delivery::Receipt, Wait::Forever)
    })
}

/// As `postbox_process_send_to_with_receipt`, waiting at most `timeout_ms` milliseconds; on
/// `POSTBOX_STATUS_TIMEOUT` the message is withdrawn from the inbox.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_process_send_to_with_receipt_timeout(
    process: PostboxProcess,
    to: u64,
    payload: *const u8,
    len: usize,
    mtype: i64,
    priority: u16,
    timeout_ms: u64,
) -> c_int {
    call("postbox_process_send_to_with_receipt_timeout", || {
        let message = message(payload, len, mtype, priority)?;
        send_to(
            process,
            to,
            message,
            Delivery::Receipt,
            Wait::millis(timeout_ms),
        )
    })
}

fn recv_inbox(
    process: PostboxProcess,
    selector: Selector,
    wait: Wait,
    out: *mut PostboxMessage,
) -> Outcome {
    sys::write(out, PostboxMessage::empty(), "message")?;
    let process = PROCESSES.get(process.id)?;
    let received: Result<Received, RecvError> = match wait {
        Wait::Forever => process.recv_matching(selector),
        Wait::Try => process.try_recv_matching(selector),
        Wait::Timeout(timeout) => process.recv_matching_timeout(selector, timeout),
    };
    PostboxMessage::deliver(&received?, out)
}

/// Receives the oldest message in the process's inbox, from any sender, waiting for one; writes
/// it to `*message` (its `sender` says who sent it).
///
/// Pointers: `message` points to a `postbox_message` to write; on success the caller owns it and
/// must give it back with `postbox_message_free`. On failure it is left empty (nothing to free).
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_DISCONNECTED`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_process_recv_any(
    process: PostboxProcess,
    message: *mut PostboxMessage,
) -> c_int {
    call("postbox_process_recv_any", || {
        recv_inbox(process, Selector::Any, Wait::Forever, message)
    })
}

/// As `postbox_process_recv_any`, but fails with `POSTBOX_STATUS_EMPTY` at once instead of waiting.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_process_try_recv_any(
    process: PostboxProcess,
    message: *mut PostboxMessage,
) -> c_int {
    call("postbox_process_try_recv_any", || {
        recv_inbox(process, Selector::Any, Wait::Try, message)
    })
}

/// As `postbox_process_recv_any`, waiting at most `timeout_ms` milliseconds, then failing with
/// `POSTBOX_STATUS_TIMEOUT`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_process_recv_any_timeout(
    process: PostboxProcess,
    timeout_ms: u64,
    message: *mut PostboxMessage,
) -> c_int {
    call("postbox_process_recv_any_timeout", || {
        recv_inbox(process, Selector::Any, Wait::millis(timeout_ms), message)
    })
}

/// Receives the oldest message process `from` sent to this one, however many others are queued.
/// If `from` has terminated and none of its messages remain, fails with `POSTBOX_STATUS_PEER_GONE`
/// rather than waiting forever (a down notification, when monitoring, comes first).
///
/// Pointers: `message` as in `postbox_process_recv_any`.
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_PEER_GONE`, `POSTBOX_STATUS_DISCONNECTED`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_process_recv_from(
    process: PostboxProcess,
    from: u64,
    message: *mut PostboxMessage,
) -> c_int {
    call("postbox_process_recv_from", || {
        let selector = Selector::From(Pid::from_raw(from));
        recv_inbox(process, selector, Wait::Forever, message)
    })
}

/// As `postbox_process_recv_from`, but fails with `POSTBOX_STATUS_EMPTY` at once instead of waiting.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_process_try_recv_from(
    process: PostboxProcess,
    from: u64,
    message: *mut PostboxMessage,
) -> c_int {
    call("postbox_process_try_recv_from", || {
        let selector = Selector::From(Pid::from_raw(from));
        recv_inbox(process, selector, Wait::Try, message)
    })
}

/// As `postbox_process_recv_from`, waiting at most `timeout_ms` milliseconds.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_process_recv_from_timeout(
    process: PostboxProcess,
    from: u64,
    timeout_ms: u64,
    message: *mut PostboxMessage,
) -> c_int {
    call("postbox_process_recv_from_timeout", || {
        let selector = Selector::From(Pid::from_raw(from));
        recv_inbox(process, selector, Wait::millis(timeout_ms), message)
    })
}

/// Receives the first inbox message `selector` picks (System V typed receive on the inbox),
/// waiting until a matching one arrives.
///
/// Pointers: `message` as in `postbox_process_recv_any`.
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_PEER_GONE` (a `FROM` selector's process has gone),
/// `POSTBOX_STATUS_INVALID_ARGUMENT` (unknown selector kind), `POSTBOX_STATUS_DISCONNECTED`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_process_recv_matching(
    process: PostboxProcess,
    selector: PostboxSelector,
    message: *mut PostboxMessage,
) -> c_int {
    call("postbox_process_recv_matching", || {
        recv_inbox(process, selector.to_selector()?, Wait::Forever, message)
    })
}

/// As `postbox_process_recv_matching`, but fails with `POSTBOX_STATUS_EMPTY` at once instead of
/// waiting.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_process_try_recv_matching(
    process: PostboxProcess,
    selector: PostboxSelector,
    message: *mut PostboxMessage,
) -> c_int {
    call("postbox_process_try_recv_matching", || {
        recv_inbox(process, selector.to_selector()?, Wait::Try, message)
    })
}

/// As `postbox_process_recv_matching`, waiting at most `timeout_ms` milliseconds.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_process_recv_matching_timeout(
    process: PostboxProcess,
    selector: PostboxSelector,
    timeout_ms: u64,
    message: *mut PostboxMessage,
) -> c_int {
    call("postbox_process_recv_matching_timeout", || {
        let selector = selector.to_selector()?;
        recv_inbox(process, selector, Wait::millis(timeout_ms), message)
    })
}

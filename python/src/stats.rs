//! Statistics as plain read-only Python objects: a mailbox's (`stat`, `ls`), a process's (`ps`)
//! and the node's.

use postbox::{
    Capacity, Dispatch, EngineStats, MailboxStats, MessageSize, Order, Overflow, Owner, Ownership,
    ProcessInfo, Receivers,
};
use pyo3::prelude::*;

use crate::message::seconds;

/// A snapshot of one mailbox, like System V's `msqid_ds`.
#[pyclass(module = "postbox", frozen, get_all, name = "MailboxStats")]
pub(crate) struct PyMailboxStats {
    /// The mailbox id (unique even after the name is reused).
    id: u64,
    name: String,
    /// Messages queued now.
    messages: usize,
    /// Payload bytes queued now.
    bytes: usize,
    /// `"zero"`, `"bounded"` or `"unbounded"`.
    capacity: &'static str,
    /// The most messages queued at once (bounded only).
    max_messages: Option<usize>,
    /// The most payload bytes queued at once (bounded only).
    max_bytes: Option<usize>,
    /// The largest payload (variable size), or the only size (fixed size).
    max_size: usize,
    fixed_size: bool,
    order: &'static str,
    overflow: &'static str,
    ownership: &'static str,
    receivers: &'static str,
    mode: u16,
    /// The owning process, for a process-owned mailbox.
    owner_pid: Option<u64>,
    uid: u32,
    gid: u32,
    total_sent: u64,
    total_received: u64,
    dropped: u64,
    last_sender: Option<u64>,
    last_receiver: Option<u64>,
    created: f64,
    changed: f64,
    blocked_senders: usize,
    blocked_receivers: usize,
    openers: usize,
}

impl From<&MailboxStats> for PyMailboxStats {
    fn from(stats: &MailboxStats) -> PyMailboxStats {
        let attrs = &stats.attrs;
        let (capacity, max_messages, max_bytes) = match attrs.capacity {
            Capacity::Zero => ("zero", None, None),
            Capacity::Bounded { messages, bytes } => ("bounded", Some(messages), Some(bytes)),
            Capacity::Unbounded => ("unbounded", None, None),
        };
        let (max_size, fixed_size) = match attrs.size {
            MessageSize::Fixed(n) => (n, true),
            MessageSize::Variable(n) => (n, false),
        };
        PyMailboxStats {
            id: stats.id.as_raw(),
            name: stats.name.clone(),
            messages: stats.messages,
            bytes: stats.bytes,
            capacity,
            max_messages,
            max_bytes,
            max_size,
            fixed_size,
            order: match attrs.order {
                Order::Fifo => "fifo",
                Order::Priority => "priority",
            },
            overflow: match attrs.overflow {
                Overflow::Block => "block",
                Overflow::DropOldest => "drop-oldest",
            },
            ownership: match attrs.ownership {
                Ownership::Process => "process",
                Ownership::System => "system",
            },
            receivers: match attrs.receivers {
                Receivers::Owner => "owner",
                Receivers::Exclusive => "exclusive",
                Receivers::Shared(Dispatch::RoundRobin) => "round-robin",
                Receivers::Shared(Dispatch::FirstWaiting) => "first-waiting",
                Receivers::Pair => "pair",
                Receivers::Broadcast => "broadcast",
            },
            mode: stats.mode.bits(),
            owner_pid: match stats.owner {
                Owner::Process(pid) => Some(pid.as_raw()),
                Owner::System(_) => None,
            },
            uid: stats.uid,
            gid: stats.gid,
            total_sent: stats.total_sent,
            total_received: stats.total_received,
            dropped: stats.dropped,
            last_sender: stats.last_send.map(|(pid, _)| pid.as_raw()),
            last_receiver: stats.last_recv.map(|(pid, _)| pid.as_raw()),
            created: seconds(stats.created),
            changed: seconds(stats.changed),
            blocked_senders: stats.blocked_senders,
            blocked_receivers: stats.blocked_receivers,
            openers: stats.openers,
        }
    }
}

#[pymethods]
impl PyMailboxStats {
    fn __repr__(&self) -> String {
        format!(
            "MailboxStats(name={:?}, messages={}, bytes={}, capacity={:?}, mode={:#o})",
            self.name, self.messages, self.bytes, self.capacity, self.mode
        )
    }
}

/// A snapshot of one process, as `postbox ps` shows it.
#[pyclass(module = "postbox", frozen, get_all, name = "ProcessInfo")]
pub(crate) struct PyProcessInfo {
    pid: u64,
    name: Option<String>,
    uid: u32,
    gid: u32,
    inbox_messages: usize,
    owned_mailboxes: usize,
    waiting: usize,
}

impl From<&ProcessInfo> for PyProcessInfo {
    fn from(info: &ProcessInfo) -> PyProcessInfo {
        PyProcessInfo {
            pid: info.pid.as_raw(),
            name: info.name.clone(),
            uid: info.uid,
            gid: info.gid,
            inbox_messages: info.inbox_messages,
            owned_mailboxes: info.owned_mailboxes,
            waiting: info.waiting,
        }
    }
}

#[pymethods]
impl PyProcessInfo {
    fn __repr__(&self) -> String {
        format!(
            "ProcessInfo(pid={}, name={:?}, inbox_messages={}, waiting={})",
            self.pid, self.name, self.inbox_messages, self.waiting
        )
    }
}

/// Node-wide statistics.
#[pyclass(module = "postbox", frozen, get_all, name = "NodeStats")]
pub(crate) struct PyNodeStats {
    processes: usize,
    mailboxes: usize,
    queued_messages: usize,
    queued_bytes: usize,
    max_queued_bytes: usize,
    total_sent: u64,
    total_received: u64,
    total_dropped: u64,
}

impl From<EngineStats> for PyNodeStats {
    fn from(stats: EngineStats) -> PyNodeStats {
        PyNodeStats {
            processes: stats.processes,
            mailboxes: stats.mailboxes,
            queued_messages: stats.queued_messages,
            queued_bytes: stats.queued_bytes,
            max_queued_bytes: stats.max_queued_bytes,
            total_sent: stats.total_sent,
            total_received: stats.total_received,
            total_dropped: stats.total_dropped,
        }
    }
}

#[pymethods]
impl PyNodeStats {
    fn __repr__(&self) -> String {
        format!(
            "NodeStats(processes={}, mailboxes={}, queued_messages={}, queued_bytes={})",
            self.processes, self.mailboxes, self.queued_messages, self.queued_bytes
        )
    }
}

//! The System V message queue limits of this machine, which postbox queues keep so that a program
//! sees the sizes it would see on the kernel's queues.

use std::sync::OnceLock;

/// The largest message postbox queues take whatever the kernel allows: postbox caps messages
/// (8 MiB by default in the daemon, less with a smaller frame limit), and one that large is
/// better sent some other way.
const MESSAGE_CAP: usize = 1 << 20;

/// Linux's compiled-in defaults, for when /proc/sys/kernel says nothing.
const DEFAULT_MSGMAX: usize = 8192;
const DEFAULT_MSGMNB: usize = 16384;
const DEFAULT_MSGMNI: usize = 32000;

fn read(path: &str) -> Option<usize> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The largest message text (`MSGMAX`: /proc/sys/kernel/msgmax, at most 1 MiB).
pub(crate) fn msgmax() -> usize {
    static MSGMAX: OnceLock<usize> = OnceLock::new();
    *MSGMAX.get_or_init(|| {
        read("/proc/sys/kernel/msgmax")
            .unwrap_or(DEFAULT_MSGMAX)
            .clamp(1, MESSAGE_CAP)
    })
}

/// A new queue's byte limit (`MSGMNB`: /proc/sys/kernel/msgmnb); Linux also lets a queue hold at
/// most this many messages.
pub(crate) fn msgmnb() -> usize {
    static MSGMNB: OnceLock<usize> = OnceLock::new();
    *MSGMNB.get_or_init(|| {
        read("/proc/sys/kernel/msgmnb")
            .unwrap_or(DEFAULT_MSGMNB)
            .max(1)
    })
}

/// The most queues (`MSGMNI`: /proc/sys/kernel/msgmni), which `IPC_INFO` reports; postbox
/// limits mailboxes per uid in the daemon instead.
pub(crate) fn msgmni() -> usize {
    read("/proc/sys/kernel/msgmni").unwrap_or(DEFAULT_MSGMNI)
}

/// A new POSIX queue's defaults when `mq_open` gets no attributes: (most messages, largest
/// message) from /proc/sys/fs/mqueue/msg_default and msgsize_default (message size at most 1 MiB).
pub(crate) fn mq_defaults() -> (usize, usize) {
    let messages = read("/proc/sys/fs/mqueue/msg_default").unwrap_or(10).max(1);
    let size = read("/proc/sys/fs/mqueue/msgsize_default")
        .unwrap_or(8192)
        .clamp(1, MESSAGE_CAP);
    (messages, size)
}

/// The largest `mq_maxmsg` and `mq_msgsize` a queue may ask for (/proc/sys/fs/mqueue/msg_max
/// and msgsize_max, the latter at most 1 MiB).
pub(crate) fn mq_maxima() -> (usize, usize) {
    let messages = read("/proc/sys/fs/mqueue/msg_max").unwrap_or(10);
    let size = read("/proc/sys/fs/mqueue/msgsize_max")
        .unwrap_or(8192)
        .min(MESSAGE_CAP);
    (messages, size)
}

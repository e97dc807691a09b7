//! The operating-system and shared-memory peers: POSIX and System V message queues, ZeroMQ over
//! `ipc://`, and iceoryx2 publish-subscribe (woken by events, or busy-polling).
//!
//! Every role runs in its own process; the harness's `prepare` creates what the roles share.

mod iceoryx2;
mod posix_mq;
mod sysv_mq;
mod zmq;

use std::fs;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::mechanism::{Mechanism, Role, Workload};

/// The IPC peers, in the order the comparison lists them.
pub fn mechanisms() -> Vec<Box<dyn Mechanism>> {
    vec![
        Box::new(posix_mq::PosixMq),
        Box::new(sysv_mq::SysvMq),
        Box::new(zmq::ZeroMq),
        Box::new(iceoryx2::Iceoryx2::Event),
        Box::new(iceoryx2::Iceoryx2::BusyPoll),
    ]
}

/// A name no other run, in this process or any other live one, has used: `<prefix>-<pid>-<n>`.
fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// Reads a numeric kernel limit such as `/proc/sys/kernel/msgmax`.
fn read_limit(path: &str) -> io::Result<u64> {
    let text = fs::read_to_string(path)
        .map_err(|e| io::Error::new(e.kind(), format!("reading {path}: {e}")))?;
    text.trim().parse().map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{path} holds {text:?}, not a number: {e}"),
        )
    })
}

/// The error for a role the workload has no place for (the harness asked for something odd).
fn wrong_role(workload: Workload, role: Role) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{workload:?} has no {role:?} role"),
    )
}

/// The error for `send` on a receive-only end, or `recv` on a send-only one.
fn wrong_direction(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("this end does not {what}"),
    )
}

//! System V message queues (`msgget`, `msgsnd`, `msgrcv`): one kernel queue per run, shared by
//! every process that knows its id, so every workload maps onto it directly.
//!
//! No crate wraps these calls, so this module calls libc itself.
#![allow(unsafe_code)]

use std::io;
use std::mem::size_of;
use std::path::Path;

use libc::{c_long, c_void};

use super::{read_limit, wrong_direction, wrong_role};
use crate::mechanism::{Case, Endpoint, Mechanism, Prepared, Role, Workload};
use crate::peers::buffering::queue_depth;
use crate::plan::format_size;

/// The largest message `msgsnd` accepts.
const MSGMAX: &str = "/proc/sys/kernel/msgmax";
/// The most bytes a new queue holds.
const MSGMNB: &str = "/proc/sys/kernel/msgmnb";

/// Message types. Ping-pong runs over one queue, pings typed [`PING`] and pongs [`PONG`], each side
/// receiving only its type: the idiomatic System V way to carry two directions.
const PING: c_long = 1;
/// See [`PING`].
const PONG: c_long = 2;
/// The type of every message in the one-way workloads.
const DATA: c_long = 1;

/// System V message queues: one private queue per run, addressed by its id.
pub(super) struct SysvMq;

impl Mechanism for SysvMq {
    fn name(&self) -> String {
        "sysv mq".to_owned()
    }

    fn unsupported(&self, case: &Case) -> Option<String> {
        let (msgmax, msgmnb) = match (read_limit(MSGMAX), read_limit(MSGMNB)) {
            (Ok(msgmax), Ok(msgmnb)) => (msgmax, msgmnb),
            (Err(e), _) | (_, Err(e)) => {
                return Some(format!("cannot read the System V queue limits: {e}"));
            }
        };
        let size = case.size as u64;
        let (limit, value) = if size > msgmax {
            ("kernel.msgmax", msgmax)
        } else if size > msgmnb {
            ("kernel.msgmnb", msgmnb)
        } else {
            return None;
        };
        Some(format!(
            "a {} message exceeds {limit} = {value} (benchmarks/prepare-machine raises it)",
            format_size(case.size)
        ))
    }

    fn prepare(&self, case: &Case, _scratch: &Path) -> io::Result<Prepared> {
        // SAFETY: msgget takes no pointers; IPC_PRIVATE always makes a new queue.
        let id = unsafe { libc::msgget(libc::IPC_PRIVATE, libc::IPC_CREAT | 0o600) };
        if id < 0 {
            return Err(os_error("msgget"));
        }
        let guard = Remove(id);
        limit_queue_bytes(id, queue_depth(case.size) * case.size)?;
        Ok(Prepared {
            address: id.to_string(),
            guard: Box::new(guard),
        })
    }

    fn open(&self, case: &Case, address: &str, role: Role) -> io::Result<Box<dyn Endpoint>> {
        let id = address.parse().map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{address:?} is not a System V queue id: {e}"),
            )
        })?;
        let (send_type, recv_type) = match (case.workload, role) {
            (Workload::PingPong, Role::Pinger) => (Some(PING), Some(PONG)),
            (Workload::PingPong, Role::Ponger) => (Some(PONG), Some(PING)),
            (Workload::PingPong, _) => return Err(wrong_role(case.workload, role)),
            (_, Role::Producer { .. }) => (Some(DATA), None),
            (_, Role::Consumer { .. }) => (None, Some(DATA)),
            (_, _) => return Err(wrong_role(case.workload, role)),
        };
        Ok(Box::new(SysvEndpoint {
            id,
            send_type,
            recv_type,
            // The type word, then room for the message, in whole words so the type is aligned.
            scratch: vec![0; 1 + case.size.div_ceil(size_of::<c_long>())],
        }))
    }
}

/// The last OS error, saying which call failed.
fn os_error(call: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{call}: {e}"))
}

/// Lowers queue `id`'s capacity to `bytes` if `msgmnb` gave it more, so this queue buffers as
/// much as the other peers' queues do.
fn limit_queue_bytes(id: i32, bytes: usize) -> io::Result<()> {
    let bytes = libc::msglen_t::try_from(bytes).unwrap_or(libc::msglen_t::MAX);
    // SAFETY: msqid_ds is plain old data, for which all zeroes is a valid value.
    let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: `ds` is a valid, writable msqid_ds that outlives the call.
    if unsafe { libc::msgctl(id, libc::IPC_STAT, &mut ds) } < 0 {
        return Err(os_error("msgctl(IPC_STAT)"));
    }
    if ds.msg_qbytes <= bytes {
        return Ok(());
    }
    ds.msg_qbytes = bytes;
    // SAFETY: `ds` is a valid msqid_ds, filled in by IPC_STAT, that outlives the call.
    if unsafe { libc::msgctl(id, libc::IPC_SET, &mut ds) } < 0 {
        return Err(os_error("msgctl(IPC_SET)"));
    }
    Ok(())
}

/// Removes the run's queue when the run is over.
struct Remove(i32);

impl Drop for Remove {
    fn drop(&mut self) {
        // SAFETY: IPC_RMID ignores the buffer argument, so a null pointer is fine.
        // Nothing more to do if removal fails while tearing down.
        let _ = unsafe { libc::msgctl(self.0, libc::IPC_RMID, std::ptr::null_mut()) };
    }
}

/// One role's end of the queue.
struct SysvEndpoint {
    id: i32,
    /// The type this end sends, if it sends.
    send_type: Option<c_long>,
    /// The type this end receives, if it receives.
    recv_type: Option<c_long>,
    /// A `struct msgbuf`: the type word followed by the message text.
    scratch: Vec<c_long>,
}

impl SysvEndpoint {
    /// The message text area of `scratch`, after the type word.
    fn text(&mut self) -> &mut [u8] {
        let words = &mut self.scratch[1..];
        let len = size_of_val(words);
        // SAFETY: the words are initialized, any byte pattern is a valid c_long, and the byte view
        // covers exactly the words' memory and borrows them mutably for its lifetime.
        unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), len) }
    }
}

impl Endpoint for SysvEndpoint {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        let mtype = self.send_type.ok_or_else(|| wrong_direction("send"))?;
        let text = self.text();
        let text = text.get_mut(..message.len()).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a {}-byte message is larger than the case's", message.len()),
            )
        })?;
        text.copy_from_slice(message);
        self.scratch[0] = mtype;
        loop {
            // SAFETY: `scratch` is a msgbuf whose text holds at least `message.len()` bytes; the
            // kernel only reads it during the call.
            let sent = unsafe {
                libc::msgsnd(
                    self.id,
                    self.scratch.as_ptr().cast::<c_void>(),
                    message.len(),
                    0,
                )
            };
            if sent == 0 {
                return Ok(());
            }
            let e = os_error("msgsnd");
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        let mtype = self.recv_type.ok_or_else(|| wrong_direction("receive"))?;
        let capacity = size_of_val(&self.scratch[1..]);
        let len = loop {
            // SAFETY: `scratch` is a writable msgbuf with `capacity` bytes of text; the kernel
            // writes at most that (longer messages fail with E2BIG) during the call.
            let len = unsafe {
                libc::msgrcv(
                    self.id,
                    self.scratch.as_mut_ptr().cast::<c_void>(),
                    capacity,
                    mtype,
                    0,
                )
            };
            if let Ok(len) = usize::try_from(len) {
                break len;
            }
            let e = os_error("msgrcv");
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        };
        buf.clear();
        buf.extend_from_slice(&self.text()[..len]);
        Ok(())
    }
}

//! msgctl(2): a queue's status (`IPC_STAT`), changing it (`IPC_SET`) and removing it
//! (`IPC_RMID`); the limits and usage of all queues (`IPC_INFO`, `MSG_INFO`) and a queue's
//! status by index (`MSG_STAT`, `MSG_STAT_ANY`).
//!
//! The index of `MSG_STAT` is the queue's identifier itself (on Linux the index is the low bits
//! of the identifier, so `msgctl(msqid, MSG_STAT, ...)` finds that queue there too); indexes
//! that are no System V queue's are `EINVAL`, and `IPC_INFO`/`MSG_INFO` return the highest
//! (0 when there is none).

// Exports C symbols (`#[unsafe(no_mangle)]`); unsafe blocks stay in `sys` (tests/unsafe_audit.rs).
#![allow(unsafe_code)]

use std::ffi::c_int;

use postbox::{Capacity, Credentials, MailboxStats, Mode, Owner, Pid, Timestamp};

use crate::connection::{self, Queue};
use crate::errno::{self, entry};
use crate::limits::{msgmax, msgmnb, msgmni};
use crate::msqid::{self, Place};
use crate::names;
use crate::sys;

/// msgctl(2) for `IPC_STAT`, `IPC_SET`, `IPC_RMID`, `IPC_INFO`, `MSG_INFO`, `MSG_STAT` and
/// `MSG_STAT_ANY`; other commands are `EINVAL`.
#[unsafe(no_mangle)]
pub extern "C" fn msgctl(msqid: c_int, cmd: c_int, buf: *mut libc::msqid_ds) -> c_int {
    entry(|| control(msqid, cmd, buf))
}

/// `MSG_STAT_ANY` (Linux 4.17): `MSG_STAT` without the read permission check.
const MSG_STAT_ANY: c_int = 13;

/// Linux's compiled-in `MSGMAP`, `MSGPOOL`, `MSGTQL`, `MSGSSZ` and `MSGSEG`, which `IPC_INFO`
/// reports (they limit nothing there either).
const MSGMAP: c_int = 16384;
const MSGPOOL: c_int = 32000 * 16384 / 1024;
const MSGTQL: c_int = 16384;
const MSGSSZ: c_int = 16;
const MSGSEG: libc::c_ushort = 0xffff;

fn control(msqid: c_int, cmd: c_int, buf: *mut libc::msqid_ds) -> Result<c_int, c_int> {
    if msqid < 0 {
        return Err(libc::EINVAL);
    }
    match cmd {
        libc::IPC_INFO | libc::MSG_INFO => {
            let queues = queues()?;
            let info = info(&queues, cmd == libc::MSG_INFO);
            sys::write_msginfo(buf.cast(), info)?;
            let highest = queues.last().map_or(0, |(stats, _)| stats.id.as_raw());
            Ok(c_int::try_from(highest).unwrap_or(c_int::MAX))
        }
        libc::MSG_STAT | MSG_STAT_ANY if msqid::place(msqid)? != Place::Here => {
            // Another node's queue: its identifier is its index too, as for this node's.
            let queue = connection::queue(msqid)?;
            let stats = queue
                .mailbox
                .stat()
                .map_err(|e| errno::admin(&e, libc::EACCES))?;
            if cmd == libc::MSG_STAT && !may_read(&stats) {
                return Err(libc::EACCES);
            }
            sys::write_msqid_ds(buf, ds_of(&stats, queue.key, queue.node.as_deref()))?;
            Ok(msqid)
        }
        libc::MSG_STAT | MSG_STAT_ANY => {
            let queues = queues()?;
            let index = u64::try_from(msqid).map_err(|_| libc::EINVAL)?;
            let (stats, key) = queues
                .iter()
                .find(|(stats, _)| stats.id.as_raw() == index)
                .ok_or(libc::EINVAL)?;
            if cmd == libc::MSG_STAT && !may_read(stats) {
                return Err(libc::EACCES);
            }
            let id = msqid::of_mailbox(stats.id.as_raw()).map_err(|_| libc::EINVAL)?;
            sys::write_msqid_ds(buf, ds_of(stats, *key, None))?;
            Ok(id)
        }
        libc::IPC_STAT => {
            let queue = connection::queue(msqid)?;
            let ds = status(&queue).inspect_err(|_| forget_if_gone(&queue, msqid))?;
            sys::write_msqid_ds(buf, ds)?;
            Ok(0)
        }
        libc::IPC_SET => {
            let wanted = sys::read_msqid_ds(buf)?;
            let queue = connection::queue(msqid)?;
            set(&queue, &wanted)?;
            Ok(0)
        }
        libc::IPC_RMID => {
            let queue = connection::queue(msqid)?;
            let removed = queue.mailbox.delete();
            connection::forget(msqid);
            removed.map_err(|e| errno::admin(&e, libc::EPERM))?;
            Ok(0)
        }
        _ => Err(libc::EINVAL),
    }
}

fn forget_if_gone(queue: &Queue, msqid: c_int) {
    if queue.mailbox.stat().is_err() {
        connection::forget(msqid);
    }
}

fn seconds(time: Timestamp) -> libc::time_t {
    libc::time_t::try_from(time.as_nanos() / 1_000_000_000).unwrap_or(libc::time_t::MAX)
}

/// The queue's `msqid_ds`, from its mailbox's statistics.
fn status(queue: &Queue) -> Result<libc::msqid_ds, c_int> {
    let stats = queue
        .mailbox
        .stat()
        .map_err(|e| errno::admin(&e, libc::EACCES))?;
    Ok(ds_of(&stats, queue.key, queue.node.as_deref()))
}

/// The daemon's System V queues, in the order of their identifiers, with their keys.
fn queues() -> Result<Vec<(MailboxStats, libc::key_t)>, c_int> {
    let process = connection::process()?;
    let all = process.list_mailboxes().map_err(|_| libc::EIO)?;
    let mut queues: Vec<_> = all
        .into_iter()
        .filter_map(|stats| names::key_of(&stats.name).map(|key| (stats, key)))
        .collect();
    queues.sort_by_key(|(stats, _)| stats.id.as_raw());
    Ok(queues)
}

/// `IPC_INFO`'s limits (those the shim enforces, and Linux's constants), or with `usage`
/// (`MSG_INFO`) the queues, messages and bytes there are.
fn info(queues: &[(MailboxStats, libc::key_t)], usage: bool) -> libc::msginfo {
    let int = |n: usize| c_int::try_from(n).unwrap_or(c_int::MAX);
    let (msgpool, msgmap, msgtql) = if usage {
        (
            int(queues.len()),
            int(queues.iter().map(|(stats, _)| stats.messages).sum()),
            int(queues.iter().map(|(stats, _)| stats.bytes).sum()),
        )
    } else {
        (MSGPOOL, MSGMAP, MSGTQL)
    };
    libc::msginfo {
        msgpool,
        msgmap,
        msgmax: int(msgmax()),
        msgmnb: int(msgmnb()),
        msgmni: int(msgmni()),
        msgssz: MSGSSZ,
        msgtql,
        msgseg: MSGSEG,
    }
}

/// Whether this process may read the queue (`MSG_STAT`): its mode's `r` bit for the owner, the
/// group or others, as the caller is; uid 0 always.
fn may_read(stats: &MailboxStats) -> bool {
    let (uid, gid) = sys::credentials();
    let bits = stats.mode.bits();
    uid == 0
        || if uid == stats.uid {
            bits & 0o400 != 0
        } else if gid == stats.gid {
            bits & 0o040 != 0
        } else {
            bits & 0o004 != 0
        }
}

/// A `msqid_ds` from a mailbox's statistics and its key; `node` is where the mailbox lives when
/// a mapping put it on another node.
fn ds_of(stats: &MailboxStats, key: libc::key_t, node: Option<&str>) -> libc::msqid_ds {
    let mut ds = sys::empty_msqid_ds();
    ds.msg_perm.__key = key;
    ds.msg_perm.uid = stats.uid;
    ds.msg_perm.gid = stats.gid;
    // postbox keeps no separate creator: the owner stands for it.
    ds.msg_perm.cuid = stats.uid;
    ds.msg_perm.cgid = stats.gid;
    #[allow(clippy::useless_conversion)] // `mode` is 16 bits on some targets, 32 on others
    let mode = stats.mode.bits().into();
    ds.msg_perm.mode = mode;
    ds.msg_stime = stats.last_send.map_or(0, |(_, at)| seconds(at));
    ds.msg_rtime = stats.last_recv.map_or(0, |(_, at)| seconds(at));
    ds.msg_ctime = seconds(stats.changed);
    ds.__msg_cbytes = stats.bytes as libc::c_ulong;
    ds.msg_qnum = stats.messages as libc::msgqnum_t;
    ds.msg_qbytes = max_bytes(stats) as libc::msglen_t;
    let (lspid, lrpid) = os_pids(stats, node);
    ds.msg_lspid = lspid;
    ds.msg_lrpid = lrpid;
    ds
}

fn max_bytes(stats: &MailboxStats) -> usize {
    match stats.attrs.capacity {
        Capacity::Bounded { bytes, .. } => bytes,
        Capacity::Zero => 0,
        Capacity::Unbounded => usize::MAX,
    }
}

/// The OS pids of the last sender and receiver, when their transport knows them and they still
/// live (postbox records its own pids); 0 otherwise. Always 0 for a queue on another node
/// (`node`): its processes' OS pids are another machine's, which no caller here could use.
fn os_pids(stats: &MailboxStats, node: Option<&str>) -> (libc::pid_t, libc::pid_t) {
    let wanted = [stats.last_send, stats.last_recv].map(|last| last.map(|(pid, _)| pid));
    if node.is_some() || wanted.iter().all(Option::is_none) {
        return (0, 0);
    }
    let processes = connection::process()
        .ok()
        .and_then(|process| process.list_processes().ok())
        .unwrap_or_default();
    let os_pid = |pid: Option<Pid>| {
        processes
            .iter()
            .find(|info| Some(info.pid) == pid)
            .and_then(|info| info.os_pid)
            .and_then(|os| libc::pid_t::try_from(os).ok())
            .unwrap_or(0)
    };
    (os_pid(wanted[0]), os_pid(wanted[1]))
}

/// `IPC_SET`: the owner's uid and gid, the permission bits and the byte limit.
fn set(queue: &Queue, wanted: &libc::msqid_ds) -> Result<(), c_int> {
    let denied = |e: postbox::AdminError| errno::admin(&e, libc::EPERM);
    let stats = queue.mailbox.stat().map_err(denied)?;
    let perm = &wanted.msg_perm;
    if (perm.uid, perm.gid) != (stats.uid, stats.gid) {
        let owner = Owner::System(Credentials::new(perm.uid, perm.gid));
        queue.mailbox.set_owner(owner).map_err(denied)?;
    }
    #[allow(clippy::unnecessary_cast)] // `mode` is 16 bits on some targets, 32 on others
    let mode = Mode::new((perm.mode & 0o777) as u16);
    if mode != stats.mode {
        queue.mailbox.set_mode(mode).map_err(denied)?;
    }
    let bytes = usize::try_from(wanted.msg_qbytes).map_err(|_| libc::EINVAL)?;
    if bytes != max_bytes(&stats) {
        queue.mailbox.set_max_bytes(bytes).map_err(denied)?;
    }
    Ok(())
}

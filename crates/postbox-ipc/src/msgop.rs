//! msgsnd(2) and msgrcv(2): sending and receiving System V messages. A blocked call returns
//! `EINTR` when a signal handler runs, with or without `SA_RESTART` (see `wait`).

// Exports C symbols (`#[unsafe(no_mangle)]`); unsafe blocks stay in `sys` (tests/unsafe_audit.rs).
#![allow(unsafe_code)]

use std::ffi::{c_int, c_long, c_void};

use bytes::Bytes;
use postbox::{Message, Received, Selector};

use crate::connection;
use crate::errno::{self, entry};
use crate::limits::msgmax;
use crate::sys;
use crate::wait::{Restart, Waited, wait};

/// `MSG_COPY` (Linux): a copy of the message at an index (`msgtyp`), left in the queue.
const MSG_COPY: c_int = 0o40000;

/// msgsnd(2): appends a copy of the message at `msgp` (a `long` type >= 1, then `msgsz` bytes
/// of text) to queue `msqid`, waiting for room unless `IPC_NOWAIT` (then `EAGAIN`).
#[unsafe(no_mangle)]
pub extern "C" fn msgsnd(msqid: c_int, msgp: *const c_void, msgsz: usize, msgflg: c_int) -> c_int {
    entry(|| send(msqid, msgp, msgsz, msgflg))
}

fn send(msqid: c_int, msgp: *const c_void, msgsz: usize, msgflg: c_int) -> Result<c_int, c_int> {
    if msqid < 0 || msgsz > msgmax() {
        return Err(libc::EINVAL);
    }
    let (mtype, text) = sys::read_msgbuf(msgp, msgsz)?;
    if mtype < 1 {
        return Err(libc::EINVAL);
    }
    let queue = connection::queue(msqid)?;
    #[allow(clippy::useless_conversion)] // `long` is 64 bits on 64-bit Linux, 32 elsewhere
    let mtype = i64::from(mtype);
    let message = Message::new(Bytes::copy_from_slice(text)).with_type(mtype);
    let waits = msgflg & libc::IPC_NOWAIT == 0;
    let sent = if waits {
        match wait(queue.mailbox.send_async(message), None, Restart::Never)? {
            Waited::Done(sent) => sent,
            Waited::Interrupted | Waited::TimedOut => return Err(libc::EINTR),
        }
    } else {
        queue.mailbox.try_send(message)
    };
    match sent {
        Ok(_) => Ok(0),
        Err(error) => {
            if error.kind() == postbox::SendErrorKind::Gone {
                connection::forget(msqid);
            }
            Err(errno::send(error.kind(), waits))
        }
    }
}

/// msgrcv(2): takes a message from queue `msqid` into the buffer at `msgp` (a `long` type, then
/// room for `msgsz` bytes) and returns the length of its text.
///
/// `msgtyp` 0 takes the first message; > 0 the first of that type (with `MSG_EXCEPT`, of any
/// other type); < 0 the lowest type at most `-msgtyp`. A message longer than `msgsz` stays in
/// the queue and fails with `E2BIG`, unless `MSG_NOERROR` (then it is cut). With `IPC_NOWAIT`,
/// no message is `ENOMSG`.
#[unsafe(no_mangle)]
pub extern "C" fn msgrcv(
    msqid: c_int,
    msgp: *mut c_void,
    msgsz: usize,
    msgtyp: c_long,
    msgflg: c_int,
) -> isize {
    entry(|| recv(msqid, msgp, msgsz, msgtyp, msgflg))
}

/// The selector for `msgtyp` and `MSG_EXCEPT`.
fn selector(msgtyp: c_long, msgflg: c_int) -> Selector {
    #[allow(clippy::useless_conversion)] // `long` is 64 bits on 64-bit Linux, 32 elsewhere
    let msgtyp = i64::from(msgtyp);
    match msgtyp {
        0 => Selector::Any,
        t if t > 0 && msgflg & libc::MSG_EXCEPT != 0 => Selector::NotType(t),
        t if t > 0 => Selector::Type(t),
        t => Selector::TypeAtMost(t.checked_neg().unwrap_or(i64::MAX)),
    }
}

fn recv(
    msqid: c_int,
    msgp: *mut c_void,
    msgsz: usize,
    msgtyp: c_long,
    msgflg: c_int,
) -> Result<isize, c_int> {
    if msqid < 0 || isize::try_from(msgsz).is_err() {
        return Err(libc::EINVAL);
    }
    if msgflg & MSG_COPY != 0 {
        return copy(msqid, msgp, msgsz, msgtyp, msgflg);
    }
    if msgp.is_null() {
        return Err(libc::EFAULT);
    }
    let queue = connection::queue(msqid)?;
    let selector = selector(msgtyp, msgflg);
    let waits = msgflg & libc::IPC_NOWAIT == 0;
    let fail = |error| {
        if error == postbox::RecvError::Gone {
            connection::forget(msqid);
        }
        errno::recv(error, waits)
    };
    let mailbox = &queue.mailbox;
    let received: Received = if msgflg & libc::MSG_NOERROR != 0 || msgsz >= msgmax() {
        // Whatever is taken fits, or may be cut: one plain receive.
        let taken = if waits {
            interruptible(mailbox.recv_matching_async(selector))?
        } else {
            mailbox.try_recv_matching(selector)
        };
        taken.map_err(fail)?
    } else {
        // A message too long must stay queued: take it on lease, and give it back if so.
        let leased = if waits {
            interruptible(mailbox.lease_matching_async(selector))?
        } else {
            mailbox.try_lease_matching(selector)
        }
        .map_err(fail)?;
        if leased.payload().len() > msgsz {
            leased.nack().map_err(fail)?;
            return Err(libc::E2BIG);
        }
        let message = (*leased).clone();
        leased.ack().map_err(fail)?;
        message
    };
    let text = &received.payload()[..received.payload().len().min(msgsz)];
    let mtype = c_long::try_from(received.mtype()).map_err(|_| libc::EINVAL)?;
    sys::write_msgbuf(msgp, mtype, text)?;
    isize::try_from(text.len()).map_err(|_| libc::EINVAL)
}

/// `MSG_COPY`: the message at index `msgtyp` (0 the first, in queue order) copied into the
/// buffer, left in the queue. Needs `IPC_NOWAIT` and refuses `MSG_EXCEPT` (`EINVAL`); no message
/// there is `ENOMSG`; one longer than `msgsz` is `E2BIG` (with `MSG_NOERROR`, `EINVAL`).
fn copy(
    msqid: c_int,
    msgp: *mut c_void,
    msgsz: usize,
    msgtyp: c_long,
    msgflg: c_int,
) -> Result<isize, c_int> {
    if msgflg & libc::MSG_EXCEPT != 0 || msgflg & libc::IPC_NOWAIT == 0 {
        return Err(libc::EINVAL);
    }
    let queue = connection::queue(msqid)?;
    let index = usize::try_from(msgtyp).map_err(|_| libc::ENOMSG)?;
    let seen = queue
        .mailbox
        .peek(index.saturating_add(1), Selector::Any)
        .map_err(|e| errno::admin(&e, libc::EACCES))?;
    let message = seen.get(index).ok_or(libc::ENOMSG)?;
    let payload = message.payload();
    if payload.len() > msgsz {
        // Linux cuts no copy: `MSG_NOERROR` makes it `EINVAL` instead.
        return Err(if msgflg & libc::MSG_NOERROR == 0 {
            libc::E2BIG
        } else {
            libc::EINVAL
        });
    }
    let text = payload.as_ref();
    let mtype = c_long::try_from(message.mtype()).map_err(|_| libc::EINVAL)?;
    sys::write_msgbuf(msgp, mtype, text)?;
    isize::try_from(text.len()).map_err(|_| libc::EINVAL)
}

/// Waits for a System V receive: `EINTR` when a signal handler runs meanwhile, whatever its
/// `SA_RESTART` (signal(7)); the withdrawn receive loses no message (see `wait`).
fn interruptible<T>(receive: impl std::future::Future<Output = T>) -> Result<T, c_int> {
    match wait(receive, None, Restart::Never)? {
        Waited::Done(taken) => Ok(taken),
        Waited::Interrupted | Waited::TimedOut => Err(libc::EINTR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msgtyp_picks_the_selector_the_man_page_describes() {
        assert_eq!(selector(0, 0), Selector::Any);
        assert_eq!(selector(0, libc::MSG_EXCEPT), Selector::Any);
        assert_eq!(selector(4, 0), Selector::Type(4));
        assert_eq!(selector(4, libc::MSG_EXCEPT), Selector::NotType(4));
        assert_eq!(selector(-3, 0), Selector::TypeAtMost(3));
        assert_eq!(selector(c_long::MIN, 0), Selector::TypeAtMost(i64::MAX));
    }
}

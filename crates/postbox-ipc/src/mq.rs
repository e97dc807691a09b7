//! POSIX message queues (mq_overview(7)): `mq_open`, `mq_close`, `mq_unlink`, `mq_send`,
//! `mq_timedsend`, `mq_receive`, `mq_timedreceive`, `mq_getattr`, `mq_setattr` and `mq_notify`
//! (see `notify`).
//!
//! A queue `/NAME` is the system-owned, priority-ordered mailbox `posix.NAME`, bounded by its
//! `mq_maxmsg` messages of at most `mq_msgsize` bytes. A blocked send or receive returns `EINTR`
//! when a signal handler installed without `SA_RESTART` runs, and keeps waiting after one
//! installed with it (see `wait`).

// Exports C symbols (`#[unsafe(no_mangle)]`); unsafe blocks stay in `sys` (tests/unsafe_audit.rs).
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_long, c_uint};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use postbox::{
    Capacity, Dispatch, Mailbox, MessageSize, Mode, OpenError, Order, Ownership, Receivers,
    RecvError, SendErrorKind,
};

use crate::connection;
use crate::errno::entry;
use crate::limits::{mq_defaults, mq_maxima};
use crate::mq_table::{self, Descriptor, Flags};
use crate::names;
use crate::node_map;
use crate::notify;
use crate::sys;
use crate::wait::{Restart, Waited, wait};

/// Priorities are below this (`MQ_PRIO_MAX` on Linux).
const MQ_PRIO_MAX: c_uint = 32768;

/// mq_open(3). Declared with the optional `mode` and `attr` as fixed parameters: on Linux's
/// x86-64 and AArch64 calling conventions a variadic caller passes them in the same registers,
/// and they are read only with `O_CREAT`, when the caller must pass them.
#[unsafe(no_mangle)]
pub extern "C" fn mq_open(
    name: *const c_char,
    oflag: c_int,
    mode: libc::mode_t,
    attr: *const libc::mq_attr,
) -> libc::mqd_t {
    entry(|| open(name, oflag, mode, attr))
}

fn open(
    name: *const c_char,
    oflag: c_int,
    mode: libc::mode_t,
    attr: *const libc::mq_attr,
) -> Result<c_int, c_int> {
    let name = mailbox_of(sys::c_bytes(name)?)?;
    let (read, write) = match oflag & libc::O_ACCMODE {
        libc::O_RDONLY => (true, false),
        libc::O_WRONLY => (false, true),
        libc::O_RDWR => (true, true),
        _ => return Err(libc::EINVAL),
    };
    let creating = oflag & libc::O_CREAT != 0;
    let (maxmsg, msgsize) = if creating {
        sizes(sys::read_mq_attr(attr))?
    } else {
        mq_defaults()
    };
    // The descriptor first, before any round trip: out of descriptors is `EMFILE`, as the kernel
    // answers, and leaves the connection alone.
    let fd = sys::new_descriptor(oflag & libc::O_CLOEXEC != 0)?;
    let nonblock = oflag & libc::O_NONBLOCK != 0;
    match open_mailbox(&name, oflag, mode, maxmsg, msgsize) {
        Ok((mailbox, msgsize)) => {
            mq_table::insert(
                fd,
                Descriptor::new(name, read, write, nonblock, msgsize, mailbox),
            );
            Ok(fd)
        }
        Err(errno) => {
            sys::close_descriptor(fd);
            Err(errno)
        }
    }
}

/// Opens or creates the queue's mailbox; returns it and its largest message size.
fn open_mailbox(
    name: &str,
    oflag: c_int,
    mode: libc::mode_t,
    maxmsg: usize,
    msgsize: usize,
) -> Result<(Mailbox, usize), c_int> {
    let creating = oflag & libc::O_CREAT != 0;
    let process = connection::process()?;
    let mode = Mode::new(((mode & 0o777) & !sys::umask()) as u16);
    let builder = process
        .mailbox(name)
        .capacity(Capacity::bounded(maxmsg, maxmsg.saturating_mul(msgsize)))
        .size(MessageSize::Variable(msgsize))
        .order(Order::Priority)
        .ownership(Ownership::System)
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .mode(mode);
    let opened = match (creating, oflag & libc::O_EXCL != 0) {
        (true, true) => builder.create(),
        (true, false) => builder.open_or_create(),
        (false, _) => builder.open(),
    };
    let mailbox = opened.map_err(|error| match error {
        OpenError::NotFound => libc::ENOENT,
        OpenError::AlreadyExists => libc::EEXIST,
        OpenError::PermissionDenied => libc::EACCES,
        OpenError::InvalidName | OpenError::InvalidAttributes(_) => libc::EINVAL,
        OpenError::QuotaExceeded => libc::ENOSPC,
        OpenError::Disconnected | OpenError::Protocol | OpenError::Refused(_) => libc::EIO,
    })?;
    let msgsize = match mailbox.stat().map(|stats| stats.attrs.size) {
        Ok(MessageSize::Variable(n) | MessageSize::Fixed(n)) => n,
        Err(_) => return Err(libc::EIO),
    };
    Ok((mailbox, msgsize))
}

/// A new queue's (most messages, largest message): `attr`'s, checked against the maxima, or
/// the defaults.
fn sizes(attr: Option<libc::mq_attr>) -> Result<(usize, usize), c_int> {
    let Some(attr) = attr else {
        return Ok(mq_defaults());
    };
    let (most_messages, largest) = mq_maxima();
    let maxmsg = usize::try_from(attr.mq_maxmsg).map_err(|_| libc::EINVAL)?;
    let msgsize = usize::try_from(attr.mq_msgsize).map_err(|_| libc::EINVAL)?;
    if maxmsg == 0 || msgsize == 0 || maxmsg > most_messages || msgsize > largest {
        return Err(libc::EINVAL);
    }
    Ok((maxmsg, msgsize))
}

/// mq_close(3). Ends this process's `mq_notify` registration on the queue, if any, as Linux
/// does.
#[unsafe(no_mangle)]
pub extern "C" fn mq_close(mqdes: libc::mqd_t) -> c_int {
    entry(|| {
        let queue = mq_table::remove(mqdes)?;
        sys::close_descriptor(mqdes);
        notify::unregister(&queue);
        Ok(0)
    })
}

/// mq_unlink(3): removes the queue. Unlike Linux, descriptors still open on it stop working too
/// (they get `EBADF`): a postbox mailbox cannot outlive its deletion.
#[unsafe(no_mangle)]
pub extern "C" fn mq_unlink(name: *const c_char) -> c_int {
    entry(|| {
        let name = mailbox_of(sys::c_bytes(name)?)?;
        let process = connection::process()?;
        let mailbox = process.mailbox(&name).open().map_err(|error| match error {
            OpenError::NotFound => libc::ENOENT,
            OpenError::PermissionDenied => libc::EACCES,
            OpenError::Disconnected | OpenError::Protocol => libc::EIO,
            _ => libc::EINVAL,
        })?;
        mailbox.delete().map_err(|error| match error {
            postbox::AdminError::PermissionDenied => libc::EACCES,
            postbox::AdminError::Gone => libc::ENOENT,
            _ => libc::EIO,
        })?;
        Ok(0)
    })
}

/// The mailbox of POSIX queue `name`: `posix.NAME`, or `posix.NAME@NODE` when the mapping puts
/// the queue on node NODE (see `node_map`).
fn mailbox_of(name: &[u8]) -> Result<String, c_int> {
    let mailbox = names::of_queue(name)?;
    Ok(names::on_node(
        mailbox,
        node_map::loaded()?.node_of_queue(name),
    ))
}

/// How long a timed call may wait: `None` without a timeout, else the time left until the
/// absolute `CLOCK_REALTIME` time `abs_timeout` (zero once it has passed).
fn time_left(abs_timeout: Option<*const libc::timespec>) -> Result<Option<Duration>, c_int> {
    let Some(abs_timeout) = abs_timeout else {
        return Ok(None);
    };
    let at = sys::read_timespec(abs_timeout)?;
    if at.tv_sec < 0 || !(0..1_000_000_000).contains(&at.tv_nsec) {
        return Err(libc::EINVAL);
    }
    let deadline = UNIX_EPOCH + Duration::new(at.tv_sec as u64, at.tv_nsec as u32);
    Ok(Some(
        deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default(),
    ))
}

fn send(
    mqdes: libc::mqd_t,
    data: *const c_char,
    len: usize,
    priority: c_uint,
    abs_timeout: Option<*const libc::timespec>,
) -> Result<c_int, c_int> {
    let (flags, mailbox): (Flags, Arc<Mailbox>) = mq_table::get(mqdes)?;
    if !flags.write {
        return Err(libc::EBADF);
    }
    if priority >= MQ_PRIO_MAX {
        return Err(libc::EINVAL);
    }
    let payload = sys::bytes(data, len)?;
    let left = time_left(abs_timeout)?;
    let message = postbox::Message::new(Bytes::copy_from_slice(payload))
        .with_priority(u16::try_from(priority).map_err(|_| libc::EINVAL)?);
    let sent = match (flags.nonblock, left) {
        (true, _) => mailbox.try_send(message),
        (false, Some(left)) if left.is_zero() => mailbox.try_send(message).map_err(|e| {
            if e.kind() == SendErrorKind::Full {
                postbox::SendError::without_message(SendErrorKind::Timeout)
            } else {
                e
            }
        }),
        (false, left) => {
            let deadline = left.map(|left| Instant::now() + left);
            match wait(
                mailbox.send_async(message),
                deadline,
                Restart::WithSaRestart,
            )? {
                Waited::Done(sent) => sent,
                Waited::Interrupted => return Err(libc::EINTR),
                Waited::TimedOut => return Err(libc::ETIMEDOUT),
            }
        }
    };
    sent.map(|_| 0).map_err(|error| match error.kind() {
        SendErrorKind::Full => libc::EAGAIN,
        SendErrorKind::Timeout => libc::ETIMEDOUT,
        SendErrorKind::TooLarge | SendErrorKind::WrongSize => libc::EMSGSIZE,
        SendErrorKind::Gone | SendErrorKind::PermissionDenied => libc::EBADF,
        SendErrorKind::QuotaExceeded => libc::ENOMEM,
        _ => libc::EIO,
    })
}

/// mq_send(3).
#[unsafe(no_mangle)]
pub extern "C" fn mq_send(
    mqdes: libc::mqd_t,
    msg_ptr: *const c_char,
    msg_len: usize,
    msg_prio: c_uint,
) -> c_int {
    entry(|| send(mqdes, msg_ptr, msg_len, msg_prio, None))
}

/// mq_timedsend(3): as `mq_send`, waiting until `abs_timeout` (`CLOCK_REALTIME`) at most.
#[unsafe(no_mangle)]
pub extern "C" fn mq_timedsend(
    mqdes: libc::mqd_t,
    msg_ptr: *const c_char,
    msg_len: usize,
    msg_prio: c_uint,
    abs_timeout: *const libc::timespec,
) -> c_int {
    // A null `abs_timeout` waits without a limit, as the system call does (glibc's `mq_send`
    // is `mq_timedsend` with null).
    let abs_timeout = (!abs_timeout.is_null()).then_some(abs_timeout);
    entry(|| send(mqdes, msg_ptr, msg_len, msg_prio, abs_timeout))
}

fn receive(
    mqdes: libc::mqd_t,
    data: *mut c_char,
    len: usize,
    priority: *mut c_uint,
    abs_timeout: Option<*const libc::timespec>,
) -> Result<isize, c_int> {
    let (flags, mailbox) = mq_table::get(mqdes)?;
    if !flags.read {
        return Err(libc::EBADF);
    }
    if len < flags.msgsize {
        return Err(libc::EMSGSIZE);
    }
    let left = time_left(abs_timeout)?;
    let received = match (flags.nonblock, left) {
        (true, _) => mailbox.try_recv(),
        (false, Some(left)) if left.is_zero() => mailbox.try_recv().map_err(|e| {
            if e == RecvError::Empty {
                RecvError::Timeout
            } else {
                e
            }
        }),
        (false, left) => {
            let deadline = left.map(|left| Instant::now() + left);
            match wait(mailbox.recv_async(), deadline, Restart::WithSaRestart)? {
                Waited::Done(received) => received,
                Waited::Interrupted => return Err(libc::EINTR),
                Waited::TimedOut => return Err(libc::ETIMEDOUT),
            }
        }
    };
    let message = received.map_err(|error| match error {
        RecvError::Empty => libc::EAGAIN,
        RecvError::Timeout => libc::ETIMEDOUT,
        RecvError::Gone | RecvError::PermissionDenied => libc::EBADF,
        _ => libc::EIO,
    })?;
    let payload = message.payload();
    if payload.len() > len {
        return Err(libc::EMSGSIZE); // cannot happen: len >= the queue's largest message
    }
    sys::copy_out(data, payload)?;
    sys::write_priority(priority, c_uint::from(message.priority()));
    isize::try_from(payload.len()).map_err(|_| libc::EMSGSIZE)
}

/// mq_receive(3): the oldest message of the highest priority.
#[unsafe(no_mangle)]
pub extern "C" fn mq_receive(
    mqdes: libc::mqd_t,
    msg_ptr: *mut c_char,
    msg_len: usize,
    msg_prio: *mut c_uint,
) -> isize {
    entry(|| receive(mqdes, msg_ptr, msg_len, msg_prio, None))
}

/// mq_timedreceive(3): as `mq_receive`, waiting until `abs_timeout` (`CLOCK_REALTIME`) at most.
#[unsafe(no_mangle)]
pub extern "C" fn mq_timedreceive(
    mqdes: libc::mqd_t,
    msg_ptr: *mut c_char,
    msg_len: usize,
    msg_prio: *mut c_uint,
    abs_timeout: *const libc::timespec,
) -> isize {
    // A null `abs_timeout` waits without a limit, as for `mq_timedsend`.
    let abs_timeout = (!abs_timeout.is_null()).then_some(abs_timeout);
    entry(|| receive(mqdes, msg_ptr, msg_len, msg_prio, abs_timeout))
}

/// The queue's attributes as `mq_getattr` reports them.
fn attributes(mqdes: libc::mqd_t) -> Result<libc::mq_attr, c_int> {
    let (flags, mailbox) = mq_table::get(mqdes)?;
    let stats = mailbox.stat().map_err(|error| match error {
        // Another node's queue, and that node is down.
        postbox::AdminError::Disconnected | postbox::AdminError::Protocol => libc::EIO,
        _ => libc::EBADF,
    })?;
    let mut attr = sys::empty_mq_attr();
    attr.mq_flags = if flags.nonblock {
        c_long::from(libc::O_NONBLOCK)
    } else {
        0
    };
    attr.mq_maxmsg = match stats.attrs.capacity {
        Capacity::Bounded { messages, .. } => c_long::try_from(messages).unwrap_or(c_long::MAX),
        _ => 0,
    };
    attr.mq_msgsize = c_long::try_from(flags.msgsize).unwrap_or(c_long::MAX);
    attr.mq_curmsgs = c_long::try_from(stats.messages).unwrap_or(c_long::MAX);
    Ok(attr)
}

/// mq_getattr(3).
#[unsafe(no_mangle)]
pub extern "C" fn mq_getattr(mqdes: libc::mqd_t, attr: *mut libc::mq_attr) -> c_int {
    entry(|| {
        sys::write_mq_attr(attr, attributes(mqdes)?)?;
        Ok(0)
    })
}

/// mq_setattr(3): only `O_NONBLOCK` of `mq_flags` can change; the other fields are ignored.
#[unsafe(no_mangle)]
pub extern "C" fn mq_setattr(
    mqdes: libc::mqd_t,
    newattr: *const libc::mq_attr,
    oldattr: *mut libc::mq_attr,
) -> c_int {
    entry(|| {
        let old = attributes(mqdes)?;
        if let Some(new) = sys::read_mq_attr(newattr) {
            mq_table::set_nonblock(mqdes, new.mq_flags & c_long::from(libc::O_NONBLOCK) != 0)?;
        }
        if !oldattr.is_null() {
            sys::write_mq_attr(oldattr, old)?;
        }
        Ok(0)
    })
}

/// mq_notify(3): registers this process to be told, once, when a message arrives on the empty
/// queue and no receiver is waiting for it (`SIGEV_SIGNAL`, `SIGEV_THREAD` or `SIGEV_NONE`), or
/// with `sevp` null ends its registration. `EBUSY` when a process is registered already.
/// See `notify` for how.
#[unsafe(no_mangle)]
pub extern "C" fn mq_notify(mqdes: libc::mqd_t, sevp: *const libc::sigevent) -> c_int {
    entry(|| {
        // The notification is checked before the descriptor, as Linux does.
        let how = sys::read_sigevent(sevp).map(notify::How::of).transpose()?;
        let (_, mailbox) = mq_table::get(mqdes)?;
        match how {
            Some(how) => notify::register(mailbox.name(), how)?,
            None => notify::unregister(mailbox.name()),
        }
        Ok(0)
    })
}

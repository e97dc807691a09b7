//! POSIX queue descriptors: what each `mqd_t` this process holds stands for.
//!
//! A descriptor is a real file descriptor number (an eventfd the library owns), so that it is
//! unique, survives `fork` and is numbered as Linux's are. Its entry names the queue's mailbox,
//! the access it was opened with and its `O_NONBLOCK` flag; the mailbox handle is opened by the
//! OS process that uses it, so a forked child reopens the queue on first use (the parent's
//! handle, which belongs to the parent's connection, is forgotten there, never closed).

use std::collections::HashMap;
use std::ffi::c_int;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use postbox::Mailbox;

use crate::connection;

/// What one descriptor stands for.
#[derive(Debug)]
pub(crate) struct Descriptor {
    /// The queue's mailbox.
    pub(crate) name: String,
    pub(crate) read: bool,
    pub(crate) write: bool,
    pub(crate) nonblock: bool,
    /// The largest message, as the queue was created (`mq_receive` needs a buffer this long).
    pub(crate) msgsize: usize,
    /// The open mailbox, and the OS process that opened it.
    handle: Option<(u32, Arc<Mailbox>)>,
}

impl Descriptor {
    pub(crate) fn new(
        name: String,
        read: bool,
        write: bool,
        nonblock: bool,
        msgsize: usize,
        mailbox: Mailbox,
    ) -> Descriptor {
        Descriptor {
            name,
            read,
            write,
            nonblock,
            msgsize,
            handle: Some((std::process::id(), Arc::new(mailbox))),
        }
    }
}

static TABLE: Mutex<Option<HashMap<c_int, Descriptor>>> = Mutex::new(None);

fn table() -> MutexGuard<'static, Option<HashMap<c_int, Descriptor>>> {
    TABLE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Adds descriptor `fd`.
pub(crate) fn insert(fd: c_int, descriptor: Descriptor) {
    table()
        .get_or_insert_with(HashMap::new)
        .insert(fd, descriptor);
}

/// Removes descriptor `fd` (`EBADF` if there is none); its mailbox is closed when it belongs to
/// this OS process. Returns the queue's mailbox name.
pub(crate) fn remove(fd: c_int) -> Result<String, c_int> {
    let removed = table()
        .as_mut()
        .and_then(|t| t.remove(&fd))
        .ok_or(libc::EBADF)?;
    release(removed.handle);
    Ok(removed.name)
}

/// Lets go of a mailbox handle: closed if this OS process opened it, else forgotten (a forked
/// child must not close its parent's).
fn release(handle: Option<(u32, Arc<Mailbox>)>) {
    if let Some((os_pid, mailbox)) = handle {
        if os_pid != std::process::id() {
            std::mem::forget(mailbox);
        }
    }
}

/// Changes descriptor `fd`'s `O_NONBLOCK`; its flags before (`EBADF` if there is none).
pub(crate) fn set_nonblock(fd: c_int, nonblock: bool) -> Result<bool, c_int> {
    let mut table = table();
    let descriptor = table
        .as_mut()
        .and_then(|t| t.get_mut(&fd))
        .ok_or(libc::EBADF)?;
    Ok(std::mem::replace(&mut descriptor.nonblock, nonblock))
}

/// Descriptor `fd`'s flags and its mailbox, opened anew by this OS process if need be (after a
/// `fork`). `EBADF` when there is no such descriptor, or its queue is gone.
pub(crate) fn get(fd: c_int) -> Result<(Flags, Arc<Mailbox>), c_int> {
    let name = {
        let mut table = table();
        let descriptor = table
            .as_mut()
            .and_then(|t| t.get_mut(&fd))
            .ok_or(libc::EBADF)?;
        let flags = Flags::of(descriptor);
        match &descriptor.handle {
            Some((os_pid, mailbox)) if *os_pid == std::process::id() => {
                return Ok((flags, mailbox.clone()));
            }
            _ => release(descriptor.handle.take()),
        }
        descriptor.name.clone()
    };
    let process = connection::process()?;
    let mailbox = Arc::new(process.mailbox(&name).open().map_err(|_| libc::EBADF)?);
    let mut table = table();
    let descriptor = table
        .as_mut()
        .and_then(|t| t.get_mut(&fd))
        .ok_or(libc::EBADF)?;
    descriptor.handle = Some((std::process::id(), mailbox.clone()));
    Ok((Flags::of(descriptor), mailbox))
}

/// A descriptor's access and flags, copied out of the table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Flags {
    pub(crate) read: bool,
    pub(crate) write: bool,
    pub(crate) nonblock: bool,
    pub(crate) msgsize: usize,
}

impl Flags {
    fn of(descriptor: &Descriptor) -> Flags {
        Flags {
            read: descriptor.read,
            write: descriptor.write,
            nonblock: descriptor.nonblock,
            msgsize: descriptor.msgsize,
        }
    }
}

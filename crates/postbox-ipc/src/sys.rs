//! Every `unsafe` block of the shim: the caller's `msgbuf` and `msqid_ds`, and `errno`.
//!
//! A System V caller passes raw pointers with no length beside them but the one its man page
//! implies: `msgp` points to a `long` type followed by `msgsz` bytes of text; `buf` to a
//! `struct msqid_ds`. These helpers check for null and otherwise rely on that contract, as the C
//! library does (where the kernel would answer `EFAULT` for an unmapped address, this crashes
//! like any C function given a bad pointer).

#![allow(unsafe_code)]

use std::ffi::{c_int, c_long, c_void};

/// The offset of `mtext` in `struct msgbuf { long mtype; char mtext[]; }`.
const TEXT_OFFSET: usize = size_of::<c_long>();

/// Sets the calling thread's `errno`.
pub(crate) fn set_errno(value: c_int) {
    // SAFETY: `__errno_location` returns the calling thread's errno, valid for the thread's life.
    unsafe { *libc::__errno_location() = value };
}

/// The type and text of the message at `msgp`, text `msgsz` bytes long. `EFAULT` for null.
pub(crate) fn read_msgbuf<'a>(
    msgp: *const c_void,
    msgsz: usize,
) -> Result<(c_long, &'a [u8]), c_int> {
    if msgp.is_null() {
        return Err(libc::EFAULT);
    }
    let base = msgp.cast::<u8>();
    // SAFETY: `msgp` is non-null; msgsnd(2) requires it to point to a `long` followed by `msgsz`
    // readable bytes, unchanged during the call. The type is read unaligned, so a misaligned
    // buffer is no undefined behaviour; bytes need no alignment.
    let (mtype, text) = unsafe {
        let mtype = base.cast::<c_long>().read_unaligned();
        let text = std::slice::from_raw_parts(base.add(TEXT_OFFSET), msgsz);
        (mtype, text)
    };
    Ok((mtype, text))
}

/// Writes a received message into the caller's buffer at `msgp`: its type, then `text` (which
/// the caller has checked fits the buffer's `msgsz`). `EFAULT` for null.
pub(crate) fn write_msgbuf(msgp: *mut c_void, mtype: c_long, text: &[u8]) -> Result<(), c_int> {
    if msgp.is_null() {
        return Err(libc::EFAULT);
    }
    let base = msgp.cast::<u8>();
    // SAFETY: `msgp` is non-null; msgrcv(2) requires it to point to a `long` followed by `msgsz`
    // writable bytes, and `text.len() <= msgsz`. The type is written unaligned; the text is a
    // Rust slice, which cannot overlap the caller's buffer.
    unsafe {
        base.cast::<c_long>().write_unaligned(mtype);
        std::ptr::copy_nonoverlapping(text.as_ptr(), base.add(TEXT_OFFSET), text.len());
    }
    Ok(())
}

/// A `msqid_ds` of zeroes, to fill in (its padding fields are private in `libc`).
pub(crate) fn empty_msqid_ds() -> libc::msqid_ds {
    // SAFETY: `msqid_ds` is a C struct of integers only, for which all zeroes is a valid value.
    unsafe { std::mem::zeroed() }
}

/// The caller's `msqid_ds` at `buf` (`IPC_SET`). `EFAULT` for null.
pub(crate) fn read_msqid_ds(buf: *const libc::msqid_ds) -> Result<libc::msqid_ds, c_int> {
    if buf.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: `buf` is non-null; msgctl(2) requires it to point to a `struct msqid_ds`, which
    // holds integers only, so any bytes there are a valid value. Read unaligned to be safe.
    Ok(unsafe { buf.read_unaligned() })
}

/// Writes `ds` to the caller's `msqid_ds` at `buf` (`IPC_STAT`). `EFAULT` for null.
pub(crate) fn write_msqid_ds(buf: *mut libc::msqid_ds, ds: libc::msqid_ds) -> Result<(), c_int> {
    if buf.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: `buf` is non-null; msgctl(2) requires it to point to writable storage for a
    // `struct msqid_ds`. Written unaligned, without reading or dropping the old contents.
    unsafe { buf.write_unaligned(ds) };
    Ok(())
}

/// The NUL-terminated name at `name`, as bytes. `EFAULT` for null.
pub(crate) fn c_bytes<'a>(name: *const std::ffi::c_char) -> Result<&'a [u8], c_int> {
    if name.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: `name` is non-null; mq_open(3) and mq_unlink(3) require a NUL-terminated string,
    // unchanged during the call.
    Ok(unsafe { std::ffi::CStr::from_ptr(name) }.to_bytes())
}

/// The caller's `mq_attr` at `attr`, or `None` for null.
pub(crate) fn read_mq_attr(attr: *const libc::mq_attr) -> Option<libc::mq_attr> {
    if attr.is_null() {
        return None;
    }
    // SAFETY: `attr` is non-null; mq_open(3)/mq_setattr(3) require it to point to a `struct
    // mq_attr`: integers only, so any bytes there are a valid value. Read unaligned to be safe.
    Some(unsafe { attr.read_unaligned() })
}

/// Writes `attr` to the caller's `mq_attr` at `out`. `EFAULT` for null.
pub(crate) fn write_mq_attr(out: *mut libc::mq_attr, attr: libc::mq_attr) -> Result<(), c_int> {
    if out.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: `out` is non-null; mq_getattr(3) requires writable storage for a `struct mq_attr`.
    unsafe { out.write_unaligned(attr) };
    Ok(())
}

/// An `mq_attr` of zeroes, to fill in (its padding is private in `libc`).
pub(crate) fn empty_mq_attr() -> libc::mq_attr {
    // SAFETY: `mq_attr` is a C struct of integers only, for which all zeroes is a valid value.
    unsafe { std::mem::zeroed() }
}

/// The `len` bytes at `data` (a message to send). `EFAULT` for null unless `len` is 0.
pub(crate) fn bytes<'a>(data: *const std::ffi::c_char, len: usize) -> Result<&'a [u8], c_int> {
    if len == 0 {
        return Ok(&[]);
    }
    if data.is_null() || isize::try_from(len).is_err() {
        return Err(libc::EFAULT);
    }
    // SAFETY: `data` is non-null; mq_send(3) requires `len` readable bytes there, unchanged
    // during the call.
    Ok(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) })
}

/// Copies `text` into the caller's buffer at `data` (which the caller checked holds it).
pub(crate) fn copy_out(data: *mut std::ffi::c_char, text: &[u8]) -> Result<(), c_int> {
    if data.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: `data` is non-null; mq_receive(3) requires `msg_len` writable bytes there, and the
    // caller checked `text.len() <= msg_len`. A Rust slice cannot overlap the caller's buffer.
    unsafe { std::ptr::copy_nonoverlapping(text.as_ptr(), data.cast::<u8>(), text.len()) };
    Ok(())
}

/// Writes a received message's priority when the caller asked for it (`msg_prio` not null).
pub(crate) fn write_priority(out: *mut std::ffi::c_uint, priority: std::ffi::c_uint) {
    if !out.is_null() {
        // SAFETY: `out` is non-null; mq_receive(3) requires it to point to an `unsigned int`.
        unsafe { out.write_unaligned(priority) };
    }
}

/// The caller's absolute timeout at `abs_timeout`. `EFAULT` for null.
pub(crate) fn read_timespec(abs_timeout: *const libc::timespec) -> Result<libc::timespec, c_int> {
    if abs_timeout.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: `abs_timeout` is non-null; mq_timedsend(3) requires it to point to a `struct
    // timespec` (integers only).
    Ok(unsafe { abs_timeout.read_unaligned() })
}

/// A new descriptor number for a queue: an eventfd, so that the number is a real descriptor
/// (unique, inherited by `fork`, closed by `close`) as a Linux `mqd_t` is.
pub(crate) fn new_descriptor(cloexec: bool) -> Result<c_int, c_int> {
    let flags = if cloexec { libc::EFD_CLOEXEC } else { 0 };
    // SAFETY: eventfd takes plain integers and returns a new descriptor or -1.
    let fd = unsafe { libc::eventfd(0, flags) };
    if fd < 0 {
        Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EMFILE))
    } else {
        Ok(fd)
    }
}

/// Closes a queue's descriptor number.
pub(crate) fn close_descriptor(fd: c_int) {
    // SAFETY: `fd` is a descriptor this library made with `new_descriptor` and owns.
    unsafe { libc::close(fd) };
}

/// The process's umask, which a new queue's mode is masked with (read by setting it back).
pub(crate) fn umask() -> libc::mode_t {
    // SAFETY: umask only swaps the process's file mode mask; it is set straight back.
    unsafe {
        let mask = libc::umask(0o022);
        libc::umask(mask);
        mask
    }
}

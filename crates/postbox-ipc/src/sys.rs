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

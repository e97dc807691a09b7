//! Every `unsafe` block of libpostbox: reading what C passes in and writing what it asks back.
//!
//! C hands the library raw pointers: payloads as pointer and length, names as NUL-terminated
//! strings, and out-pointers to write results through. Each helper here checks what can be
//! checked — null, alignment, length limits, UTF-8 — and turns the rest into the caller's
//! documented promise (postbox.h says, for every pointer, what it must point to and for how long).
//! Nothing else in the crate dereferences a pointer from C.

#![allow(unsafe_code)]

use std::ffi::{CStr, c_char};

use crate::status::{Error, Outcome};

/// The bytes `len` long at `data`, borrowed for the call. A null `data` is allowed only when
/// `len` is 0.
pub(crate) fn bytes<'a>(data: *const u8, len: usize, what: &str) -> Outcome<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if data.is_null() {
        return Err(Error::null(what));
    }
    if isize::try_from(len).is_err() {
        return Err(Error::invalid(format!(
            "{what}: length {len} is impossibly large"
        )));
    }
    // SAFETY: `data` is non-null and `len` fits an isize; the caller promises (postbox.h) that
    // it points to `len` readable bytes that stay unchanged until the call returns. Bytes have no
    // alignment requirement and every bit pattern is a valid `u8`.
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// The NUL-terminated UTF-8 string at `text`, borrowed for the call.
pub(crate) fn str<'a>(text: *const c_char, what: &str) -> Outcome<&'a str> {
    if text.is_null() {
        return Err(Error::null(what));
    }
    // SAFETY: `text` is non-null; the caller promises (postbox.h) a NUL-terminated string that
    // stays unchanged until the call returns.
    let text = unsafe { CStr::from_ptr(text) };
    text.to_str()
        .map_err(|_| Error::invalid(format!("{what} is not valid UTF-8")))
}

/// Writes `value` through the out-pointer `out`, which must be non-null and aligned. The old
/// contents are not read or dropped (C may pass uninitialised storage).
pub(crate) fn write<T>(out: *mut T, value: T, what: &str) -> Outcome {
    if out.is_null() {
        return Err(Error::null(what));
    }
    if !out.is_aligned() {
        return Err(Error::invalid(format!("{what} is misaligned")));
    }
    // SAFETY: `out` is non-null and aligned; the caller promises (postbox.h) that it points to
    // storage for one `T` it may write. `write` neither reads nor drops what was there.
    unsafe { out.write(value) };
    Ok(())
}

/// As [`write`], but a null `out` means the caller does not want the value.
pub(crate) fn write_optional<T>(out: *mut T, value: T, what: &str) -> Outcome {
    if out.is_null() {
        return Ok(());
    }
    write(out, value, what)
}

/// Reads a `T` the caller passed by pointer (non-null, aligned).
pub(crate) fn read<T: Copy>(from: *const T, what: &str) -> Outcome<T> {
    if from.is_null() {
        return Err(Error::null(what));
    }
    if !from.is_aligned() {
        return Err(Error::invalid(format!("{what} is misaligned")));
    }
    // SAFETY: `from` is non-null and aligned; the caller promises (postbox.h) that it points to
    // an initialised value of the type, which is `Copy` plain data whose every bit pattern is
    // valid (integers and pointers only).
    Ok(unsafe { from.read() })
}

/// The caller's array of `len` values at `items`, borrowed for the call. A null `items` is
/// allowed only when `len` is 0.
pub(crate) fn slice<'a, T: Copy>(items: *const T, len: usize, what: &str) -> Outcome<&'a [T]> {
    if len == 0 {
        return Ok(&[]);
    }
    if items.is_null() {
        return Err(Error::null(what));
    }
    if !items.is_aligned() {
        return Err(Error::invalid(format!("{what} is misaligned")));
    }
    if len
        .checked_mul(size_of::<T>())
        .is_none_or(|bytes| isize::try_from(bytes).is_err())
    {
        return Err(Error::invalid(format!(
            "{what}: {len} items are impossibly many"
        )));
    }
    // SAFETY: `items` is non-null, aligned, and `len` items fit an isize; the caller promises
    // (postbox.h) `len` initialised values there, unchanged until the call returns. `T` is
    // `Copy` plain data (integers and pointers), valid for every bit pattern C may leave.
    Ok(unsafe { std::slice::from_raw_parts(items, len) })
}

/// The caller's storage for `len` values at `items`, to write during the call (it may be
/// uninitialised, so it is only ever written). A null `items` is allowed only when `len` is 0.
pub(crate) fn slice_out<'a, T>(
    items: *mut T,
    len: usize,
    what: &str,
) -> Outcome<&'a mut [std::mem::MaybeUninit<T>]> {
    if len == 0 {
        return Ok(&mut []);
    }
    if items.is_null() {
        return Err(Error::null(what));
    }
    if !items.is_aligned() {
        return Err(Error::invalid(format!("{what} is misaligned")));
    }
    if len
        .checked_mul(size_of::<T>())
        .is_none_or(|bytes| isize::try_from(bytes).is_err())
    {
        return Err(Error::invalid(format!(
            "{what}: {len} items are impossibly many"
        )));
    }
    // SAFETY: `items` is non-null, aligned, and `len` items fit an isize; the caller promises
    // (postbox.h) writable storage for `len` values there, used by nothing else during the call.
    // As `MaybeUninit`, its old contents are never read or dropped.
    Ok(unsafe { std::slice::from_raw_parts_mut(items.cast(), len) })
}

/// Copies `text` and a terminating NUL into the caller's buffer `buffer` of `capacity` bytes,
/// and its length (without the NUL) into `len` when not null. When it does not fit, nothing is
/// written to `buffer` and the error says how much is needed (also reported in `len`).
pub(crate) fn copy_str(
    text: &str,
    buffer: *mut c_char,
    capacity: usize,
    len: *mut usize,
) -> Outcome {
    write_optional(len, text.len(), "len")?;
    let needed = text.len() + 1;
    if capacity < needed {
        return Err(Error::invalid(format!(
            "a buffer of {capacity} bytes is too small: {needed} are needed"
        )));
    }
    if buffer.is_null() {
        return Err(Error::null("buffer"));
    }
    // SAFETY: `buffer` is non-null and the caller promises `capacity` writable bytes there, of
    // which `needed <= capacity` are written; `c_char` has no alignment requirement. The source
    // is a Rust string, which cannot overlap memory C owns.
    let target = unsafe { std::slice::from_raw_parts_mut(buffer.cast::<u8>(), needed) };
    target[..text.len()].copy_from_slice(text.as_bytes());
    target[text.len()] = 0;
    Ok(())
}

/// The NUL-terminated string at `text`, copied (for tests reading what the library returns).
#[cfg(test)]
pub(crate) fn string_at(text: *const c_char) -> String {
    // SAFETY: tests pass only strings this library returned, which are NUL-terminated and live
    // until the calling thread's next failure.
    let text = unsafe { CStr::from_ptr(text) };
    text.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_empty_inputs_are_told_apart() {
        assert_eq!(bytes(std::ptr::null(), 0, "payload"), Ok(&[][..]));
        let error = bytes(std::ptr::null(), 3, "payload").unwrap_err();
        assert_eq!(error.text, "payload is a null pointer");
        assert!(str(std::ptr::null(), "name").is_err());
        let bad = [0xffu8, 0];
        let error = str(bad.as_ptr().cast(), "name").unwrap_err();
        assert_eq!(error.text, "name is not valid UTF-8");
        assert_eq!(str(c"ok".as_ptr(), "name"), Ok("ok"));
    }

    #[test]
    fn copy_str_refuses_a_small_buffer_and_reports_the_length() {
        let mut buffer = [1 as c_char; 4];
        let mut len = 0;
        assert!(copy_str("abcd", buffer.as_mut_ptr(), 4, &mut len).is_err());
        assert_eq!((len, buffer[0]), (4, 1));
        copy_str("abc", buffer.as_mut_ptr(), 4, &mut len).unwrap();
        assert_eq!((len, buffer), (3, [97, 98, 99, 0]));
    }

    #[test]
    fn writes_refuse_null_and_misaligned_pointers() {
        assert!(write(std::ptr::null_mut::<u64>(), 1, "out").is_err());
        let mut storage = [0u64; 2];
        let misaligned = storage
            .as_mut_ptr()
            .cast::<u8>()
            .wrapping_add(1)
            .cast::<u64>();
        assert!(write(misaligned, 1, "out").is_err());
        write(storage.as_mut_ptr(), 7, "out").unwrap();
        assert_eq!(storage[0], 7);
        assert!(write_optional(std::ptr::null_mut::<u64>(), 1, "out").is_ok());
    }
}

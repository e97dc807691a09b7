//! Library-wide functions: the last error's text, status names, and the version.

// Exports C symbols (`#[unsafe(no_mangle)]`); unsafe blocks stay in `sys` (tests/unsafe_audit.rs).
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int};
use std::panic::{self, AssertUnwindSafe};

use crate::guard;
use crate::status::PostboxStatus;

/// The text of the calling thread's last failure: which function failed and why, e.g.
/// `postbox_mailbox_try_send: send failed: mailbox is full`. "" before any failure.
///
/// Like `errno`, it is set by failures only (a success leaves it as it was) and kept per thread.
///
/// Pointers: the returned string is owned by the library, NUL-terminated, and valid until the
/// calling thread's next failing postbox call (copy it to keep it); never NULL; do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_last_error() -> *const c_char {
    panic::catch_unwind(guard::last_error).unwrap_or(c"".as_ptr())
}

/// The name of status code `status`, as in postbox.h (`"POSTBOX_STATUS_FULL"`), or
/// `"POSTBOX_STATUS_UNKNOWN"` for a value that is none.
///
/// Pointers: the returned string is static: never NULL, never to be freed.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_status_name(status: c_int) -> *const c_char {
    let name = panic::catch_unwind(AssertUnwindSafe(|| {
        PostboxStatus::from_code(status).map(PostboxStatus::c_name)
    }));
    match name {
        Ok(Some(name)) => name.as_ptr(),
        _ => c"POSTBOX_STATUS_UNKNOWN".as_ptr(),
    }
}

/// The library's version, e.g. `"0.1.0"`.
///
/// Pointers: the returned string is static: never NULL, never to be freed.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

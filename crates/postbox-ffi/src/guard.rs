//! The wrapper of every C entry point: runs its body, catches any panic so that none ever
//! unwinds into C, records a failure's text for `postbox_last_error`, and returns the status.

use std::cell::RefCell;
use std::ffi::{CString, c_char, c_int};
use std::panic::{self, AssertUnwindSafe};

use crate::status::{Error, Outcome, PostboxStatus};

thread_local! {
    /// The text of this thread's last failure, as C reads it. Errno-like: set by failures only.
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Runs `body` for the C function `function` and returns its status as C sees it.
pub(crate) fn call(function: &str, body: impl FnOnce() -> Outcome) -> c_int {
    let error = match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return PostboxStatus::Ok as c_int,
        Ok(Err(error)) => error,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|text| (*text).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic with no message".to_owned());
            Error::new(PostboxStatus::Internal, format!("internal error: {what}"))
        }
    };
    record(function, &error);
    error.status as c_int
}

/// Records `error` as this thread's last failure, prefixed with the C function's name.
fn record(function: &str, error: &Error) {
    let text = format!("{function}: {}", error.text).replace('\0', "\\0");
    let text = CString::new(text).unwrap_or_default();
    // A thread being torn down has no last error to keep: nothing to do then.
    let _ = LAST_ERROR.try_with(|last| *last.borrow_mut() = text);
}

/// The text of this thread's last failure ("" before any), valid until its next failure.
pub(crate) fn last_error() -> *const c_char {
    LAST_ERROR
        .try_with(|last| last.borrow().as_ptr())
        .unwrap_or(c"".as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last() -> String {
        crate::sys::string_at(last_error())
    }

    #[test]
    fn a_failure_sets_the_text_and_a_success_keeps_it() {
        let status = call("postbox_test", || {
            Err(Error::invalid("name is a null pointer"))
        });
        assert_eq!(status, PostboxStatus::InvalidArgument as c_int);
        assert_eq!(last(), "postbox_test: name is a null pointer");
        assert_eq!(call("postbox_test", || Ok(())), 0);
        assert_eq!(last(), "postbox_test: name is a null pointer");
    }

    #[test]
    fn a_panic_becomes_internal_and_never_unwinds() {
        let status = call("postbox_test", || panic!("boom"));
        assert_eq!(status, PostboxStatus::Internal as c_int);
        assert_eq!(last(), "postbox_test: internal error: boom");
    }
}

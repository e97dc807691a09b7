//! The daemon's one use of `unsafe`: borrowing the socket systemd passed as file descriptor 3.
//!
//! std and rustix give no safe way to turn a descriptor *number* inherited at `exec` into a
//! descriptor value: which numbers are open, and who owns them, is what the `LISTEN_FDS`
//! protocol tells, and only the caller can vouch for it. [`crate::activation`] checks that
//! protocol (`LISTEN_PID` is this process, `LISTEN_FDS` is 1) and that descriptor 3 is open
//! before calling [`duplicate_listen_fd`]; the descriptor is then only borrowed for the time it
//! takes to duplicate it into one this process owns, and is never closed here.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};

/// The first descriptor of the `LISTEN_FDS` protocol (`SD_LISTEN_FDS_START`).
pub(crate) const LISTEN_FDS_START: i32 = 3;

/// A new descriptor (close-on-exec) for the socket systemd passed as descriptor 3.
///
/// The caller must have checked that systemd passed descriptor 3 to this process (`LISTEN_PID`
/// is its pid and `LISTEN_FDS` counts it) and that it is open.
///
/// # Errors
///
/// When it cannot be duplicated (out of descriptors).
pub(crate) fn duplicate_listen_fd() -> io::Result<OwnedFd> {
    // SAFETY: `borrow_raw` needs the descriptor to be open for as long as the borrow lives. It
    // is: `LISTEN_FDS` says systemd passed descriptor 3 to this very process (`LISTEN_PID`) at
    // `exec`, and the caller checked that it is open. This process never closes descriptor 3
    // (only duplicates it), and the borrow ends when this function returns.
    let passed = unsafe { BorrowedFd::borrow_raw(LISTEN_FDS_START) };
    passed.try_clone_to_owned()
}

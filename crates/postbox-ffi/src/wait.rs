//! How long an operation may wait: the one choice behind each C function's flavours.

use std::time::Duration;

/// How long a send, receive, lease or select may wait (the library's `Patience`, as C picks it:
/// `postbox_x`, `postbox_try_x`, `postbox_x_timeout`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Wait {
    /// Until it completes.
    Forever,
    /// Not at all: `Full` / `Empty` at once.
    Try,
    /// At most this long: then `Timeout`.
    Timeout(Duration),
}

impl Wait {
    /// A C timeout in milliseconds.
    pub(crate) fn millis(timeout_ms: u64) -> Wait {
        Wait::Timeout(Duration::from_millis(timeout_ms))
    }
}

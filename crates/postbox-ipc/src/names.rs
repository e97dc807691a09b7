//! Which mailbox a System V key names.

use std::sync::atomic::{AtomicU64, Ordering};

use libc::key_t;

/// The prefix of every mailbox the shim makes.
const PREFIX: &str = "sysv.";

/// The prefix of `IPC_PRIVATE` queues' mailboxes.
const PRIVATE: &str = "sysv.private.";

/// The mailbox of key `key`: `sysv.` and the key in 8 hex digits.
pub(crate) fn of_key(key: key_t) -> String {
    format!("{PREFIX}{:08x}", key as u32)
}

/// A fresh name for an `IPC_PRIVATE` queue, unique among this daemon's live mailboxes with all
/// but certainty (OS pid, a counter, the time); a clash is retried by the caller.
pub(crate) fn private() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    let count = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{PRIVATE}{}.{count}.{nanos}", std::process::id())
}

/// The key a shim mailbox was made for (`IPC_PRIVATE`, 0, for private ones); `None` for a
/// mailbox the shim did not make.
pub(crate) fn key_of(name: &str) -> Option<key_t> {
    if name.starts_with(PRIVATE) {
        return Some(libc::IPC_PRIVATE);
    }
    let hex = name.strip_prefix(PREFIX)?;
    if hex.len() != 8 {
        return None;
    }
    u32::from_str_radix(hex, 16).ok().map(|key| key as key_t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_names() {
        for key in [1, 0x1234_abcd, -1, key_t::MAX, key_t::MIN] {
            assert_eq!(key_of(&of_key(key)), Some(key));
        }
        assert_eq!(of_key(0x2a), "sysv.0000002a");
        assert_eq!(key_of(&private()), Some(libc::IPC_PRIVATE));
        assert_ne!(private(), private());
        assert_eq!(key_of("jobs"), None);
        assert_eq!(key_of("sysv.12"), None);
    }
}

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

/// The name by which this node's daemon reaches `mailbox` when a mapping puts it on `node`
/// (`mailbox@node`, forwarded there), or `mailbox` itself.
pub(crate) fn on_node(mailbox: String, node: Option<&str>) -> String {
    match node {
        Some(node) => format!("{mailbox}@{node}"),
        None => mailbox,
    }
}

/// The mailbox of POSIX queue `name` ("/NAME": one leading slash, no other, 1 to 255 bytes
/// after it): `posix.` and NAME, every byte outside `[A-Za-z0-9.-]` written `_XX` (hex), so that
/// any valid queue name is a valid mailbox name and two queues never share one. Fails as
/// mq_open(3) does: `EINVAL` without the leading slash or with nothing after it, `EACCES` with
/// another slash, `ENAMETOOLONG` when too long.
pub(crate) fn of_queue(name: &[u8]) -> Result<String, libc::c_int> {
    let rest = match name.split_first() {
        Some((b'/', rest)) if !rest.is_empty() => rest,
        _ => return Err(libc::EINVAL),
    };
    if rest.contains(&b'/') {
        return Err(libc::EACCES);
    }
    if rest.len() > 255 {
        return Err(libc::ENAMETOOLONG);
    }
    let mut mailbox = String::from("posix.");
    for &byte in rest {
        if byte.is_ascii_alphanumeric() || byte == b'.' || byte == b'-' {
            mailbox.push(char::from(byte));
        } else {
            mailbox.push_str(&format!("_{byte:02x}"));
        }
    }
    // Mailbox names are at most 255 bytes: a queue name that encodes longer cannot be one.
    if mailbox.len() > 255 {
        return Err(libc::ENAMETOOLONG);
    }
    Ok(mailbox)
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

    #[test]
    fn a_mapped_mailbox_is_named_at_its_node() {
        assert_eq!(on_node(of_key(0x2a), Some("b")), "sysv.0000002a@b");
        assert_eq!(on_node(of_key(0x2a), None), "sysv.0000002a");
    }

    #[test]
    fn queue_names_are_checked_and_encoded() {
        assert_eq!(of_queue(b"/jobs-1.q"), Ok("posix.jobs-1.q".to_owned()));
        assert_eq!(of_queue(b"/a b_c"), Ok("posix.a_20b_5fc".to_owned()));
        assert_eq!(of_queue(b"jobs"), Err(libc::EINVAL));
        assert_eq!(of_queue(b"/"), Err(libc::EINVAL));
        assert_eq!(of_queue(b"/a/b"), Err(libc::EACCES));
        let long = [b"/".as_slice(), &[b'a'; 256]].concat();
        assert_eq!(of_queue(&long), Err(libc::ENAMETOOLONG));
    }
}

//! Which OS process a local peer is: its pid, as the socket reports it (`SO_PEERCRED`), and its
//! command line, read from `/proc/<pid>/cmdline` when it connects. Only for `ps`: nothing is
//! decided by them, and a peer may have exited, or exec'd something else, since.

use std::io::Read as _;

use postbox_core::OsProcess;

/// The most bytes of a command line kept: enough to tell processes apart, little enough that the
/// process list of a busy daemon still fits one answer.
pub(crate) const MAX_COMMAND_LINE: usize = 1024;

/// The OS process with id `os_pid`: the pid, and its command line when it can still be read.
/// Reading `/proc` may block (on the target's memory map lock), so this runs on a blocking
/// thread, never on the daemon's event loop.
pub(crate) async fn identify(os_pid: Option<i32>) -> OsProcess {
    let Some(pid) = os_pid
        .and_then(|pid| u32::try_from(pid).ok())
        .filter(|&pid| pid > 0)
    else {
        return OsProcess::UNKNOWN;
    };
    let command = tokio::task::spawn_blocking(move || command_line(pid))
        .await
        .ok()
        .flatten();
    OsProcess {
        pid: Some(pid),
        command,
    }
}

/// The command line of process `pid`: its arguments joined by spaces, at most
/// [`MAX_COMMAND_LINE`] bytes, invalid UTF-8 replaced. `None` when it cannot be read (the process
/// is gone, or `/proc` is not there) or is empty (a kernel thread, a zombie).
fn command_line(pid: u32) -> Option<String> {
    let file = std::fs::File::open(format!("/proc/{pid}/cmdline")).ok()?;
    let mut raw = Vec::with_capacity(256);
    file.take(MAX_COMMAND_LINE as u64)
        .read_to_end(&mut raw)
        .ok()?;
    Some(from_cmdline(&raw)).filter(|command| !command.is_empty())
}

/// `/proc/<pid>/cmdline`'s NUL-separated (and NUL-terminated) arguments as one line.
fn from_cmdline(raw: &[u8]) -> String {
    let trimmed = raw.strip_suffix(b"\0").unwrap_or(raw);
    let spaced: Vec<u8> = trimmed
        .iter()
        .map(|&byte| if byte == 0 { b' ' } else { byte })
        .collect();
    String::from_utf8_lossy(&spaced).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_joined_by_spaces_and_bad_bytes_replaced() {
        assert_eq!(from_cmdline(b"postbox\0recv\0q\0"), "postbox recv q");
        assert_eq!(from_cmdline(b"no-terminator"), "no-terminator");
        assert_eq!(from_cmdline(b"a\xff\0b\0"), "a\u{fffd} b");
        assert_eq!(from_cmdline(b""), "");
    }

    #[test]
    fn this_process_is_found_and_a_missing_one_is_not() {
        let own = command_line(std::process::id()).expect("our own command line");
        assert!(!own.is_empty() && own.len() <= MAX_COMMAND_LINE);
        // Pids are at most 2^22 on Linux.
        assert_eq!(command_line(u32::MAX - 1), None);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn without_a_pid_nothing_is_known() {
        assert_eq!(identify(None).await, OsProcess::UNKNOWN);
        assert_eq!(identify(Some(0)).await, OsProcess::UNKNOWN);
        let own = identify(Some(i32::try_from(std::process::id()).unwrap())).await;
        assert_eq!(own.pid, Some(std::process::id()));
        assert!(own.command.is_some());
    }
}

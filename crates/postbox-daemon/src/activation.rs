//! systemd socket activation: taking the listening Unix socket systemd passes (`LISTEN_FDS`)
//! instead of binding one.
//!
//! The protocol (`sd_listen_fds(3)`): systemd binds the socket a `.socket` unit names, and
//! when the first client connects, starts the service with the socket as descriptor 3,
//! `LISTEN_FDS=1` and `LISTEN_PID` set to the service's pid. The daemon:
//!
//! - without `LISTEN_PID` and `LISTEN_FDS`, binds its socket as usual;
//! - with a `LISTEN_PID` of another process (variables inherited from a parent that was
//!   activated), ignores them, as `sd_listen_fds` does, and binds as usual;
//! - with its own pid, takes descriptor 3, which must be the only one passed and a listening
//!   Unix stream socket; anything else is an error naming what is wrong, and the daemon does
//!   not start.
//!
//! The socket file is systemd's: the daemon does not create its directory, set its mode, or
//! remove it on exit (the `.socket` unit's `SocketMode=` and `RemoveOnStop=` do).

use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use rustix::net::{AddressFamily, SocketType};

use crate::DaemonError;
use crate::sys::{LISTEN_FDS_START, duplicate_listen_fd};

/// What the environment says systemd passed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Passed {
    /// Nothing: bind as usual.
    Nothing,
    /// Sockets for another process (this one inherited the variables): bind as usual.
    OtherProcess(u32),
    /// One socket, descriptor 3.
    One,
}

/// Reads the `LISTEN_PID` and `LISTEN_FDS` values (`None` when unset) for the process `own`.
fn passed(pid: Option<&str>, fds: Option<&str>, own: u32) -> Result<Passed, String> {
    let (pid, fds) = match (pid, fds) {
        (None, None) => return Ok(Passed::Nothing),
        (Some(pid), Some(fds)) => (pid, fds),
        (None, Some(_)) => return Err("LISTEN_FDS is set but LISTEN_PID is not".to_owned()),
        (Some(_), None) => return Err("LISTEN_PID is set but LISTEN_FDS is not".to_owned()),
    };
    let pid: u32 = pid
        .trim()
        .parse()
        .map_err(|_| format!("LISTEN_PID={pid:?} is not a process id"))?;
    if pid != own {
        return Ok(Passed::OtherProcess(pid));
    }
    match fds.trim().parse::<u32>() {
        Ok(1) => Ok(Passed::One),
        Ok(0) => Err("LISTEN_FDS=0: systemd passed no socket".to_owned()),
        Ok(count) => Err(format!(
            "LISTEN_FDS={count}: systemd passed {count} sockets, and postbox takes exactly one \
             (give the .socket unit a single ListenStream=)"
        )),
        Err(_) => Err(format!("LISTEN_FDS={fds:?} is not a number")),
    }
}

/// The listening socket systemd passed to this process, with its path, if it passed one.
///
/// # Errors
///
/// [`DaemonError::SocketActivation`] when the variables are malformed, more than one socket is
/// passed, or descriptor 3 is not open, not a socket, not a Unix socket, not a stream socket or
/// not listening.
pub(crate) fn inherited_listener() -> Result<Option<(UnixListener, PathBuf)>, DaemonError> {
    let pid = std::env::var("LISTEN_PID").ok();
    let fds = std::env::var("LISTEN_FDS").ok();
    let refuse = |reason: String| DaemonError::SocketActivation { reason };
    match passed(pid.as_deref(), fds.as_deref(), std::process::id()).map_err(refuse)? {
        Passed::Nothing => Ok(None),
        Passed::OtherProcess(pid) => {
            tracing::info!(
                "ignoring LISTEN_FDS: it is meant for process {pid}, not this one ({})",
                std::process::id()
            );
            Ok(None)
        }
        Passed::One => {
            // Open? Checked without touching the descriptor, so that nothing borrows a
            // descriptor that is not there.
            let proc_entry = format!("/proc/self/fd/{LISTEN_FDS_START}");
            if let Err(error) = std::fs::symlink_metadata(&proc_entry) {
                return Err(refuse(format!(
                    "LISTEN_FDS=1, but descriptor {LISTEN_FDS_START} is not open ({proc_entry}: \
                     {error})"
                )));
            }
            let fd = duplicate_listen_fd().map_err(|error| {
                refuse(format!(
                    "cannot take descriptor {LISTEN_FDS_START}: {error}"
                ))
            })?;
            let listener = listener_from(fd).map_err(refuse)?;
            let path = listener
                .local_addr()
                .ok()
                .and_then(|address| address.as_pathname().map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from("(unnamed socket from systemd)"));
            Ok(Some((listener, path)))
        }
    }
}

/// `fd` as a non-blocking Unix listener, if it is a listening Unix stream socket.
fn listener_from(fd: std::os::fd::OwnedFd) -> Result<UnixListener, String> {
    let what = format!("descriptor {LISTEN_FDS_START} (from systemd)");
    let kind = match rustix::net::sockopt::socket_type(&fd) {
        Ok(kind) => kind,
        Err(rustix::io::Errno::NOTSOCK) => return Err(format!("{what} is not a socket")),
        Err(error) => return Err(format!("cannot inspect {what}: {error}")),
    };
    let family = rustix::net::sockopt::socket_domain(&fd)
        .map_err(|error| format!("cannot inspect {what}: {error}"))?;
    if family != AddressFamily::UNIX {
        return Err(format!(
            "{what} is not a Unix socket (family {family:?}): postbox is activated on a Unix \
             socket, ListenStream=/path/to/postbox.sock"
        ));
    }
    if kind != SocketType::STREAM {
        let kind = match kind {
            SocketType::DGRAM => "a datagram socket",
            SocketType::SEQPACKET => "a sequential-packet socket",
            _ => "another kind of socket",
        };
        return Err(format!(
            "{what} is not a stream socket but {kind}: use ListenStream=, not ListenDatagram= or \
             ListenSequentialPacket="
        ));
    }
    let listening = rustix::net::sockopt::socket_acceptconn(&fd)
        .map_err(|error| format!("cannot inspect {what}: {error}"))?;
    if !listening {
        return Err(format!(
            "{what} is not listening (Accept=yes passes connections; postbox needs Accept=no)"
        ));
    }
    let listener = UnixListener::from(fd);
    listener
        .set_nonblocking(true)
        .map_err(|error| format!("cannot configure {what}: {error}"))?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::os::fd::OwnedFd;
    use std::os::unix::net::{UnixDatagram, UnixStream};

    use super::*;

    #[test]
    fn the_variables_are_read_as_sd_listen_fds_reads_them() {
        assert_eq!(passed(None, None, 7), Ok(Passed::Nothing));
        assert_eq!(passed(Some("7"), Some("1"), 7), Ok(Passed::One));
        assert_eq!(passed(Some("8"), Some("1"), 7), Ok(Passed::OtherProcess(8)));
        assert_eq!(
            passed(Some("8"), Some("junk"), 7),
            Ok(Passed::OtherProcess(8))
        );
        for (pid, fds, says) in [
            (Some("7"), Some("2"), "exactly one"),
            (Some("7"), Some("0"), "no socket"),
            (Some("7"), Some("x"), "not a number"),
            (Some("seven"), Some("1"), "not a process id"),
            (None, Some("1"), "LISTEN_PID is not"),
            (Some("7"), None, "LISTEN_FDS is not"),
        ] {
            let error = passed(pid, fds, 7).unwrap_err();
            assert!(error.contains(says), "{pid:?} {fds:?}: {error}");
        }
    }

    #[test]
    fn only_a_listening_unix_stream_socket_is_taken() {
        let dir = tempfile_dir("only");
        let path = dir.join("s.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let taken = listener_from(OwnedFd::from(listener)).unwrap();
        assert_eq!(
            taken.local_addr().unwrap().as_pathname(),
            Some(path.as_path())
        );
        drop(UnixStream::connect(&path).unwrap());

        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let error = listener_from(OwnedFd::from(tcp)).unwrap_err();
        assert!(error.contains("not a Unix socket"), "{error}");

        let datagram = UnixDatagram::unbound().unwrap();
        let error = listener_from(OwnedFd::from(datagram)).unwrap_err();
        assert!(error.contains("not a stream socket"), "{error}");

        let (connected, _other) = UnixStream::pair().unwrap();
        let error = listener_from(OwnedFd::from(connected)).unwrap_err();
        assert!(error.contains("not listening"), "{error}");

        let file = std::fs::File::open("/proc/self/stat").unwrap();
        let error = listener_from(OwnedFd::from(file)).unwrap_err();
        assert!(error.contains("not a socket"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("postbox-activation-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

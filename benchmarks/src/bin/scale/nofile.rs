//! Raising the open-file limit, so that thousands of sockets fit in one process.

use anyhow::{Context, Result};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use serde::Serialize;

/// The hard limit asked for when the current one is too low (granted only with
/// `CAP_SYS_RESOURCE`, e.g. as root), capped by the kernel's `fs.nr_open`.
pub(crate) const RAISED_HARD_LIMIT: u64 = 65_536;

/// Descriptors kept for everything that is not a client socket: the standard streams, the
/// listener, the runtime's epoll and wakers, the control connections, `/proc` reads.
pub(crate) const RESERVED_FDS: u64 = 64;

/// The open-file limit after [`raise`].
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub(crate) struct Nofile {
    /// The limit in force.
    pub(crate) soft: u64,
    /// The ceiling the soft limit may be raised to.
    pub(crate) hard: u64,
    /// Whether the hard limit had to be (and could be) raised.
    pub(crate) raised_hard: bool,
}

impl Nofile {
    /// How many client sockets fit beside [`RESERVED_FDS`].
    pub(crate) fn client_room(&self) -> u64 {
        self.soft.saturating_sub(RESERVED_FDS)
    }
}

/// Raises this process's open-file limit so that `wanted` descriptors fit: the hard limit first
/// when it is below `wanted` and the process may raise it, then the soft limit to the hard one.
/// The limit may still end up below `wanted`; the caller checks [`Nofile::client_room`].
///
/// # Errors
///
/// If the limit cannot be read, or the soft limit cannot be raised to the hard one.
pub(crate) fn raise(wanted: u64) -> Result<Nofile> {
    let (_, mut hard) =
        getrlimit(Resource::RLIMIT_NOFILE).context("reading the open-file limit")?;
    let mut raised_hard = false;
    if hard < wanted {
        let ceiling = std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok())
            .unwrap_or(RAISED_HARD_LIMIT);
        let target = wanted.max(RAISED_HARD_LIMIT).min(ceiling).max(hard);
        // Without CAP_SYS_RESOURCE this fails with EPERM; the hard limit then stays as it is.
        if setrlimit(Resource::RLIMIT_NOFILE, target, target).is_ok() {
            hard = target;
            raised_hard = true;
        }
    }
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
        .with_context(|| format!("raising the open-file limit to its hard limit {hard}"))?;
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("reading the open-file limit")?;
    Ok(Nofile {
        soft,
        hard,
        raised_hard,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_room_leaves_the_reserve() {
        let nofile = Nofile {
            soft: 1024,
            hard: 4096,
            raised_hard: false,
        };
        assert_eq!(nofile.client_room(), 1024 - RESERVED_FDS);
        let tiny = Nofile { soft: 10, ..nofile };
        assert_eq!(tiny.client_room(), 0);
    }

    #[test]
    fn raising_to_what_is_already_there_is_a_no_op() {
        let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        let nofile = raise(soft.min(64)).unwrap();
        assert!(nofile.soft >= soft.min(64));
        assert_eq!(nofile.soft, nofile.hard);
        assert!(!nofile.raised_hard);
    }
}

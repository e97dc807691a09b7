//! How a `unix://` connection carries large message payloads: inline in its frames, or attached
//! beside them as sealed memfds (protocol.md §7.5, docs/shm.md).
//!
//! A payload of at least the threshold (64 KiB unless `?shm_from=BYTES` says otherwise) is
//! written once into a memfd sealed immutable, and only its descriptor travels through the
//! daemon; a payload received attached is mapped read-only, not copied. `?shm=off` in the URL,
//! or `POSTBOX_SHM=off` in the environment, keeps every payload inline (as `tcp://` and
//! `tls://` always do).

use std::collections::VecDeque;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::Mutex;

use bytes::Bytes;
use postbox_shm::{
    Arrival, Outgoing, PayloadPool, Prefault, Receiving, receive_attached, recv_with_fds,
    send_with_fds,
};
use postbox_wire::session::{DEFAULT_ATTACH_FROM, Departure};

/// Where a connection's large payloads travel.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Payloads {
    /// In the frames, always.
    Inline,
    /// Attached when at least `from` bytes and the daemon grants it.
    Attached {
        /// The smallest payload attached.
        from: usize,
    },
}

impl Payloads {
    /// What a `unix://` URL's query (`shm=on|off`, `shm_from=BYTES`) and `POSTBOX_SHM` ask for:
    /// attached from 64 KiB by default. `Err` names the option it cannot read.
    pub(crate) fn from_query(query: &[&str], env: Option<&str>) -> Result<Payloads, String> {
        let mut payloads = match env {
            Some("off") => Payloads::Inline,
            _ => Payloads::Attached {
                from: DEFAULT_ATTACH_FROM,
            },
        };
        let mut from = None;
        for pair in query {
            match pair.split_once('=') {
                Some(("shm", "off")) => payloads = Payloads::Inline,
                Some(("shm", "on")) => {}
                Some(("shm_from", bytes)) => {
                    from = Some(bytes.parse::<usize>().map_err(|_| pair.to_string())?);
                }
                _ => return Err(pair.to_string()),
            }
        }
        if let (Payloads::Attached { from: threshold }, Some(from)) = (&mut payloads, from) {
            *threshold = from.max(1);
        }
        Ok(payloads)
    }
}

/// Reads from a Unix stream with the descriptors that come along: each sealed payload (a memfd
/// sealed immutable, at most `max_len` bytes) or pooled one (a slot of this user's and its
/// token) mapped for the session; any other descriptor — a
/// ring's segment, which travels beside its `RingLent` answer outside the attachment table —
/// set aside in `rings` for the lane that asked for it.
///
/// # Errors
///
/// `Ok(Err(why))` when the daemon sent a descriptor this side refuses; `Err` when reading fails.
pub(crate) fn read(
    stream: &UnixStream,
    buf: &mut [u8],
    max_len: usize,
    rings: &RingDescriptors,
) -> io::Result<(usize, Result<Vec<Bytes>, String>)> {
    loop {
        match recv_with_fds(stream.as_fd(), buf) {
            Ok(read) => {
                let payloads = if read.truncated {
                    Err("more descriptors arrived with one read than a frame may carry".into())
                } else {
                    map(read.fds, max_len, rings)
                };
                return Ok((read.bytes, payloads));
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
    }
}

fn map(fds: Vec<OwnedFd>, max_len: usize, rings: &RingDescriptors) -> Result<Vec<Bytes>, String> {
    let how = Receiving {
        max: max_len,
        prefault: Prefault::Now,
        trusted_uid: rustix::process::geteuid().as_raw(),
        keep_mapped: true,
    };
    let mut payloads = Vec::with_capacity(fds.len());
    for arrival in receive_attached(fds, how)? {
        match arrival {
            Arrival::Payload(payload) => payloads.push(payload),
            Arrival::Other(fd) => rings.arrived(fd),
        }
    }
    Ok(payloads)
}

/// Ring descriptors that arrived beside `RingLent` answers, oldest first, until the lane that
/// asked takes its one. Lanes ask one at a time per connection (`take_after` runs under the
/// caller's lock), so the descriptor a lane takes is its answer's.
#[derive(Debug, Default)]
pub(crate) struct RingDescriptors {
    arrived: Mutex<VecDeque<OwnedFd>>,
}

impl RingDescriptors {
    /// At most this many wait: a daemon never sends more than one per answer asked for, so more
    /// is stale, and the oldest is dropped.
    const MAX_WAITING: usize = 4;

    fn arrived(&self, fd: OwnedFd) {
        let mut arrived = self.lock();
        if arrived.len() == Self::MAX_WAITING {
            arrived.pop_front();
        }
        arrived.push_back(fd);
    }

    /// Forgets whatever waits (before a lane asks, so nothing stale is taken for its answer).
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    /// The descriptor that came with the answer just received, if any.
    pub(crate) fn take(&self) -> Option<OwnedFd> {
        self.lock().pop_back()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<OwnedFd>> {
        self.arrived
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Writes `bytes` (whose stream offset is `at`) to a Unix stream, each departure's payloads
/// sent with the write that begins at its frame: a payload already in a sealed memfd or a
/// pooled slot (received attached, or loaned) goes as its descriptors, any other is copied into
/// a slot of this process's pool (or, when the pool has none to give, a new sealed memfd).
///
/// # Errors
///
/// The error of the write, or of making a memfd (out of memory or descriptors).
pub(crate) fn write(
    stream: &mut UnixStream,
    bytes: &[u8],
    at: u64,
    departures: &[Departure],
) -> io::Result<()> {
    let offset = |departure: &Departure| {
        usize::try_from(departure.at.saturating_sub(at))
            .unwrap_or(usize::MAX)
            .min(bytes.len())
    };
    let mut done = 0usize;
    for (index, departure) in departures.iter().enumerate() {
        let start = offset(departure).max(done);
        stream.write_all(&bytes[done..start])?;
        done = start;
        // This frame's write runs to the next frame with attachments, which starts a write of
        // its own.
        let end = departures
            .get(index + 1)
            .map_or(bytes.len(), offset)
            .max(done);
        if done == end {
            continue;
        }
        let outgoing = departure
            .payloads
            .iter()
            .map(|payload| Outgoing::of(payload, None, Some(PayloadPool::shared())))
            .collect::<io::Result<Vec<_>>>()?;
        let fds: Vec<BorrowedFd<'_>> = outgoing.iter().flat_map(Outgoing::fds).collect();
        let sent = send_with_fds(stream.as_fd(), &bytes[done..end], &fds)?;
        // The descriptors went with the first byte; the rest of the frame follows plainly.
        stream.write_all(&bytes[done + sent..end])?;
        done = end;
    }
    stream.write_all(&bytes[done..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_and_the_environment_choose() {
        let default = Payloads::Attached {
            from: DEFAULT_ATTACH_FROM,
        };
        assert_eq!(Payloads::from_query(&[], None), Ok(default));
        assert_eq!(
            Payloads::from_query(&["shm=off"], None),
            Ok(Payloads::Inline)
        );
        assert_eq!(Payloads::from_query(&[], Some("off")), Ok(Payloads::Inline));
        assert_eq!(Payloads::from_query(&["shm=on"], Some("on")), Ok(default));
        assert_eq!(
            Payloads::from_query(&["shm_from=4096"], None),
            Ok(Payloads::Attached { from: 4096 })
        );
        assert_eq!(
            Payloads::from_query(&["shm_from=0"], None),
            Ok(Payloads::Attached { from: 1 })
        );
        assert_eq!(
            Payloads::from_query(&["shm_from=lots"], None),
            Err("shm_from=lots".to_owned())
        );
        assert_eq!(
            Payloads::from_query(&["color=red"], None),
            Err("color=red".to_owned())
        );
    }
}

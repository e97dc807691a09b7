//! Reading and writing a Unix connection whose messages may carry attached payloads
//! (protocol.md §7.5): bytes with the descriptors that travel beside them, in one system call.
//!
//! Once a connection has the attachments capability, every read is a `recvmsg` with room for
//! descriptors, so none is ever dropped; each descriptor is checked (a memfd sealed immutable,
//! at most 16 GiB; the engine applies the message size limit) and mapped read-only before the session sees it, and the
//! session matches it to the frame that claims it. Every answer frame with attached payloads
//! starts a `sendmsg` that carries their descriptors: a payload that arrived attached goes on as
//! the very descriptor it came in (`SealedPayload::of`, `PooledPayload::of`) — except that a
//! pooled slot goes only to a process of the user who made it, and is copied into a sealed memfd
//! for anyone else — and any other is written once into a new sealed memfd.
//!
//! **The descriptor budget.** A queued attached message holds a descriptor (two for a pooled
//! payload: its slot and its token) and a mapping for as long as it waits, and a hostile client could queue many to exhaust the daemon's descriptors.
//! The daemon raises its soft `RLIMIT_NOFILE` to the hard limit at start and lets attached
//! payloads hold at most half of it (and at most [`MAX_BUDGET`], under the kernel's default map
//! count of 65530); past the budget a payload that arrives is copied into memory at once and its
//! descriptor closed, so it costs what an inline payload costs and counts against the same
//! memory quota.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use bytes::{Bytes, BytesMut};
use postbox_shm::{
    Arrival, Outgoing, PooledPayload, Prefault, ReadWithFds, Receiving, SealedPayload,
    receive_attached, recv_with_fds, send_with_fds,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, Interest};
use tokio::net::UnixStream;

/// The most attached payloads the daemon holds mapped at once, whatever its descriptor limit.
pub(crate) const MAX_BUDGET: usize = 16_384;

/// What a listener lets attached payloads do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AttachmentLimits {
    /// The largest attached payload mapped (16 GiB: a bound on address space, not memory —
    /// the bytes are the sender's). One over the message size limit is mapped and then refused
    /// `TooLarge` by the engine, handed back, exactly as an inline one is.
    pub(crate) max_len: usize,
    /// Attached payloads held mapped at most (past it, arriving ones are copied).
    pub(crate) budget: usize,
    /// The smallest payload the daemon attaches when it sends
    /// ([`DaemonConfig::attach_from`](crate::DaemonConfig::attach_from)).
    pub(crate) from: usize,
}

impl AttachmentLimits {
    /// The budget for this process: half its descriptor limit, raised to the hard limit first,
    /// at most [`MAX_BUDGET`]; payloads of `from` bytes or more attached when sent.
    pub(crate) fn for_process(max_len: usize, from: usize) -> AttachmentLimits {
        let budget = raise_descriptor_limit().map_or(512, |limit| {
            usize::try_from(limit / 2).unwrap_or(MAX_BUDGET)
        });
        AttachmentLimits {
            max_len,
            budget: budget.min(MAX_BUDGET),
            from,
        }
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; the soft limit now in force.
fn raise_descriptor_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            limit = raised;
        }
    }
    limit.current.or(Some(u64::MAX))
}

/// Either half of an accepted connection: the Unix socket under it, if it is one.
pub(crate) trait UnixHalf {
    /// The socket, when the connection is a Unix one (the only kind that carries descriptors).
    fn unix(&self) -> Option<&UnixStream> {
        None
    }
}

impl UnixHalf for tokio::net::unix::OwnedReadHalf {
    fn unix(&self) -> Option<&UnixStream> {
        Some(self.as_ref())
    }
}

impl UnixHalf for tokio::net::unix::OwnedWriteHalf {
    fn unix(&self) -> Option<&UnixStream> {
        Some(self.as_ref())
    }
}

impl UnixHalf for tokio::net::tcp::OwnedReadHalf {}
impl UnixHalf for tokio::net::tcp::OwnedWriteHalf {}
impl<T> UnixHalf for tokio::io::ReadHalf<T> {}
impl<T> UnixHalf for tokio::io::WriteHalf<T> {}

/// Reads what is there into `input`: with `recvmsg` and the descriptors that came along when
/// `attached` (and the connection is a Unix one), else an ordinary read.
pub(crate) async fn read<R>(
    reader: &mut R,
    attached: bool,
    input: &mut BytesMut,
) -> io::Result<ReadWithFds>
where
    R: AsyncRead + UnixHalf + Unpin,
{
    let Some(unix) = reader.unix().filter(|_| attached) else {
        let bytes = reader.read_buf(input).await?;
        return Ok(ReadWithFds {
            bytes,
            ..ReadWithFds::default()
        });
    };
    loop {
        unix.readable().await?;
        // All of it inside one poll: a cancelled read (another branch of the connection's
        // `select!` won) must leave `input` as it found it.
        let read = unix.try_io(Interest::READABLE, || {
            let start = input.len();
            let room = (input.capacity() - start).max(4096);
            input.resize(start + room, 0);
            let read = recv_with_fds(unix.as_fd(), &mut input[start..]);
            input.truncate(start + read.as_ref().map_or(0, |read| read.bytes));
            read
        });
        match read {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
            other => return other,
        }
    }
}

/// The payloads behind descriptors a read brought, each checked and mapped (a pooled slot only
/// if the connection's user `peer_uid` made it); past the budget, copied and the descriptors
/// closed.
///
/// # Errors
///
/// Why a descriptor was refused (for the peer: it broke the protocol).
pub(crate) fn payloads(
    read: ReadWithFds,
    limits: AttachmentLimits,
    peer_uid: u32,
) -> Result<Vec<Bytes>, String> {
    if read.truncated {
        return Err(format!(
            "more descriptors arrived with one read than the {} a frame may carry",
            postbox_shm::MAX_FDS_PER_READ
        ));
    }
    let how = Receiving {
        max: limits.max_len,
        prefault: Prefault::OnTouch,
        trusted_uid: peer_uid,
        keep_mapped: true,
    };
    receive_attached(read.fds, how)?
        .into_iter()
        .map(|arrival| match arrival {
            Arrival::Payload(payload) => Ok(
                if SealedPayload::live() + 2 * PooledPayload::live() > limits.budget {
                    Bytes::copy_from_slice(&payload)
                } else {
                    payload
                },
            ),
            Arrival::Other(_) => {
                Err("a descriptor that is neither a sealed nor a pooled payload".to_owned())
            }
        })
        .collect()
}

/// Writes from `out` (whose first byte is at the frame that `payloads` belong to when `payloads`
/// is not empty, or that `ring`'s descriptor goes beside): with `sendmsg` carrying their
/// descriptors, else an ordinary write. A pooled payload goes on as its slot only to its maker's
/// user `peer_uid`; to anyone else it is copied into a sealed file. Returns the bytes written.
pub(crate) async fn write<W>(
    writer: &mut W,
    out: &[u8],
    payloads: &[Bytes],
    ring: Option<BorrowedFd<'_>>,
    peer_uid: u32,
) -> io::Result<usize>
where
    W: AsyncWrite + UnixHalf + Unpin,
{
    let Some(unix) = writer
        .unix()
        .filter(|_| !payloads.is_empty() || ring.is_some())
    else {
        return writer.write(out).await;
    };
    let outgoing = payloads
        .iter()
        .map(|payload| Outgoing::of(payload, Some(peer_uid), None))
        .collect::<io::Result<Vec<_>>>()?;
    let fds: Vec<BorrowedFd<'_>> = outgoing
        .iter()
        .flat_map(Outgoing::fds)
        .chain(ring)
        .collect();
    loop {
        unix.writable().await?;
        match unix.try_io(Interest::WRITABLE, || {
            send_with_fds(unix.as_fd(), out, &fds)
        }) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_of(payloads: &[SealedPayload]) -> ReadWithFds {
        let fds = payloads
            .iter()
            .map(|payload| payload.fd().try_clone_to_owned().unwrap())
            .collect();
        ReadWithFds {
            bytes: 1,
            fds,
            truncated: false,
        }
    }

    #[test]
    fn within_the_budget_payloads_stay_mapped_and_past_it_are_copied() {
        let sent: Vec<SealedPayload> = (0..3)
            .map(|i| SealedPayload::copy_of(&[i; 5000]).unwrap())
            .collect();
        let roomy = AttachmentLimits {
            max_len: 1 << 20,
            budget: usize::MAX,
            from: 1,
        };
        let mapped = payloads(read_of(&sent), roomy, 0).unwrap();
        assert!(
            mapped
                .iter()
                .all(|bytes| SealedPayload::of(bytes).is_some())
        );

        let none = AttachmentLimits {
            max_len: 1 << 20,
            budget: 0,
            from: 1,
        };
        let copied = payloads(read_of(&sent), none, 0).unwrap();
        assert_eq!(copied[2], vec![2u8; 5000]);
        assert!(
            copied
                .iter()
                .all(|bytes| SealedPayload::of(bytes).is_none())
        );
    }

    #[test]
    fn a_payload_over_the_message_limit_or_a_cut_read_is_refused() {
        let sent = [SealedPayload::copy_of(&[1; 5000]).unwrap()];
        let small = AttachmentLimits {
            max_len: 4999,
            budget: usize::MAX,
            from: 1,
        };
        assert!(payloads(read_of(&sent), small, 0).is_err());
        let mut cut = read_of(&sent);
        cut.truncated = true;
        let roomy = AttachmentLimits {
            max_len: 1 << 20,
            budget: usize::MAX,
            from: 1,
        };
        assert!(payloads(cut, roomy, 0).is_err());
    }

    #[test]
    fn the_budget_is_half_the_raised_descriptor_limit_and_bounded() {
        let limits = AttachmentLimits::for_process(1 << 20, 1);
        assert!(limits.budget >= 1 && limits.budget <= MAX_BUDGET);
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        assert_eq!(limit.current, limit.maximum, "the soft limit is raised");
    }
}

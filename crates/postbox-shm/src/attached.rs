//! Attached payloads between processes (protocol.md §7.5): how the descriptors that arrived
//! together become payloads — a sealed file is one descriptor, a pooled slot two (the slot, then
//! its token) — and how a payload leaves, as the file it is already in or copied into one.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::Arc;

use bytes::Bytes;

use crate::kept_mappings::KeptMappings;
use crate::payload_pool::PayloadPool;
use crate::pooled_payload::{Held, PooledPayload};
use crate::sealed_payload::SealedPayload;
use crate::sys::{self, Inspected, PooledMapping, Prefault};

/// What arrived as one attached payload, or beside the payloads.
#[derive(Debug)]
pub enum Arrival {
    /// A payload: a sealed file's whole bytes, or a pooled slot's (longer than the message
    /// may be: the frame that claims it says how much is the payload).
    Payload(Bytes),
    /// A descriptor that is neither (a ring's segment, which its own answer claims).
    Other(OwnedFd),
}

/// How a process takes attached payloads ([`receive_attached`]).
#[derive(Clone, Copy, Debug)]
pub struct Receiving {
    /// The longest payload file taken.
    pub max: usize,
    /// When a new mapping's pages are mapped.
    pub prefault: Prefault,
    /// The user whose pooled slots are taken (this process's own, or a daemon's client's).
    pub trusted_uid: u32,
    /// Whether pooled slots stay mapped between messages (up to 64 MiB in 256 slots per process):
    /// a receiver saves mapping and unmapping each payload.
    pub keep_mapped: bool,
}

/// The payloads behind descriptors that arrived together, in order: a sealed payload is one
/// descriptor; a pooled one is two, the slot then its token. Each payload is 1 to `max` bytes,
/// and a pooled slot must be of `trusted_uid`'s making.
///
/// # Errors
///
/// Why a descriptor was refused, for the peer that broke the protocol.
pub fn receive_attached(fds: Vec<OwnedFd>, how: Receiving) -> Result<Vec<Arrival>, String> {
    let mut arrivals = Vec::with_capacity(fds.len());
    let mut fds = fds.into_iter();
    while let Some(fd) = fds.next() {
        let file = match sys::inspect(&fd) {
            Inspected::Sealed => {
                let payload =
                    SealedPayload::receive(fd, how.max, how.prefault).map_err(|e| e.to_string())?;
                arrivals.push(Arrival::Payload(payload.into_bytes()));
                continue;
            }
            Inspected::Other => {
                arrivals.push(Arrival::Other(fd));
                continue;
            }
            Inspected::Unreadable(error) => {
                return Err(format!("cannot read a pooled payload's owner: {error}"));
            }
            Inspected::Pooled(file) => file,
        };
        if file.owner != how.trusted_uid {
            return Err(format!(
                "a pooled payload made by uid {} arrived where only uid {}'s are taken; another \
                 user's payload must be sealed immutable",
                file.owner, how.trusted_uid
            ));
        }
        let token = fds
            .next()
            .filter(sys::is_pipe_writer)
            .ok_or("a pooled payload arrived without its token (a pipe's writing end) after it")?;
        let mapping = match KeptMappings::find(file.key, how.keep_mapped) {
            Some(mapping) => mapping,
            None => {
                let mapping = PooledMapping::map(fd, &file, how.max, how.prefault)
                    .map(Arc::new)
                    .map_err(|(e, _)| format!("cannot map a pooled payload: {e}"))?;
                if how.keep_mapped {
                    KeptMappings::keep(file.key, &mapping);
                }
                mapping
            }
        };
        let len = mapping.len();
        let payload = Arc::new(PooledPayload::new(
            Held::Mapped(mapping),
            Some(token),
            len,
            file.owner,
        ));
        arrivals.push(Arrival::Payload(payload.into_bytes()));
    }
    Ok(arrivals)
}

/// How a payload leaves for another process.
#[derive(Debug, Clone)]
pub enum Outgoing {
    /// As a sealed file: one descriptor.
    Sealed(Arc<SealedPayload>),
    /// As a pooled slot and its token: two descriptors.
    Pooled(Arc<PooledPayload>),
}

impl Outgoing {
    /// How `payload` goes to a process of `peer_uid` (`None`: the daemon, which takes its
    /// client's own slots): as the slot or sealed file it already is in — except that a slot
    /// goes to another user copied into a sealed file — else copied into a slot of `pool`, or
    /// into a new sealed file.
    ///
    /// # Errors
    ///
    /// The kernel refusing a new sealed file (out of memory or descriptors).
    pub fn of(
        payload: &Bytes,
        peer_uid: Option<u32>,
        pool: Option<&PayloadPool>,
    ) -> io::Result<Outgoing> {
        if let Some(pooled) = PooledPayload::of(payload) {
            if peer_uid.is_none_or(|uid| uid == pooled.owner_uid()) {
                return Ok(Outgoing::Pooled(pooled));
            }
        } else if let Some(sealed) = SealedPayload::of(payload) {
            return Ok(Outgoing::Sealed(sealed));
        }
        if let Some(pooled) = pool.and_then(|pool| pool.copy_of(payload)) {
            return Ok(Outgoing::Pooled(pooled));
        }
        SealedPayload::copy_of(payload)
            .map(|sealed| Outgoing::Sealed(Arc::new(sealed)))
            .map_err(io::Error::other)
    }

    /// The descriptors, in the order they travel.
    pub fn fds(&self) -> Vec<BorrowedFd<'_>> {
        match self {
            Outgoing::Sealed(sealed) => vec![sealed.fd()],
            Outgoing::Pooled(pooled) => pooled.fds(),
        }
    }
}

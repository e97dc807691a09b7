//! A pooled payload as `Bytes`, in the process that wrote it or in one that received it: the
//! slot's bytes and a copy of the message's token, held exactly as long as the payload
//! (`payload_pool` has the protocol).

use std::collections::BTreeMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use bytes::Bytes;

use crate::sys::PooledMapping;

/// A pooled payload, in the process that wrote it or in one that received it: the slot's bytes
/// (the first `len` of them) and a copy of the message's token, held as long as the payload.
#[derive(Debug)]
pub struct PooledPayload {
    // Declared before `token`, so dropped (unmapped, or given back) before it is closed.
    held: Held,
    /// Present from creation to drop.
    token: Option<OwnedFd>,
    len: usize,
    owner: u32,
}

#[derive(Debug)]
pub(crate) enum Held {
    /// The writer's own slot, which goes back to its pool, busy, when it drops.
    Own(Box<dyn OwnSlot>),
    /// Another process's slot, mapped read-only (the mapping perhaps kept for its next message).
    Mapped(Arc<PooledMapping>),
}

/// A slot of this process's own pool holding a payload it wrote (`payload_pool`'s, which gives
/// the slot back to the pool when this drops).
pub(crate) trait OwnSlot: std::fmt::Debug + Send + Sync {
    /// The slot's bytes.
    fn as_slice(&self) -> &[u8];
    /// The slot's file, present until the slot drops.
    fn fd(&self) -> Option<BorrowedFd<'_>>;
}

/// Pooled payloads living inside [`Bytes`], by the address of their first byte, for
/// [`PooledPayload::of`].
static REGISTRY: Mutex<BTreeMap<usize, Weak<PooledPayload>>> = Mutex::new(BTreeMap::new());

/// Pooled payloads received and alive in this process ([`PooledPayload::live`]).
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// The owner of `Bytes` made by [`PooledPayload::into_bytes`].
struct Owner(Arc<PooledPayload>);

impl AsRef<[u8]> for Owner {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

impl PooledPayload {
    pub(crate) fn new(held: Held, token: Option<OwnedFd>, len: usize, owner: u32) -> PooledPayload {
        if matches!(held, Held::Mapped(_)) {
            LIVE.fetch_add(1, Ordering::Relaxed);
        }
        PooledPayload {
            held,
            token,
            len,
            owner,
        }
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        let slot = match &self.held {
            Held::Own(slot) => slot.as_slice(),
            Held::Mapped(mapping) => mapping.as_slice(),
        };
        &slot[..self.len.min(slot.len())]
    }

    /// The payload's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always `false`: a pooled payload holds at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The user whose process made the slot.
    pub fn owner_uid(&self) -> u32 {
        self.owner
    }

    /// The two descriptors that carry the payload to another process, in order: the slot's
    /// file, then the token (both present from creation until the payload drops).
    pub fn fds(&self) -> Vec<BorrowedFd<'_>> {
        let file = match &self.held {
            Held::Own(slot) => slot.fd(),
            Held::Mapped(mapping) => Some(mapping.fd()),
        };
        file.into_iter()
            .chain(self.token.as_ref().map(AsFd::as_fd))
            .collect()
    }

    /// How many pooled payloads from other processes this process holds mapped (each with two
    /// descriptors): what a daemon bounds, beside [`SealedPayload::live`](crate::SealedPayload::live).
    pub fn live() -> usize {
        LIVE.load(Ordering::Relaxed)
    }

    /// The payload as [`Bytes`] viewing the slot (no copy), which [`of`](Self::of) recognises.
    pub fn into_bytes(self: Arc<Self>) -> Bytes {
        let address = self.as_slice().as_ptr() as usize;
        lock_registry().insert(address, Arc::downgrade(&self));
        Bytes::from_owner(Owner(self))
    }

    /// The pooled payload `bytes` views, from its first byte (a prefix of it counts: the
    /// receiving side trims a slot to the length a frame claims), if any.
    pub fn of(bytes: &Bytes) -> Option<Arc<PooledPayload>> {
        let payload = lock_registry().get(&(bytes.as_ptr() as usize))?.upgrade()?;
        (bytes.len() <= payload.len).then_some(payload)
    }
}

impl Drop for PooledPayload {
    fn drop(&mut self) {
        let address = self.as_slice().as_ptr() as usize;
        {
            let mut registry = lock_registry();
            if registry
                .get(&address)
                .is_some_and(|entry| std::ptr::eq(entry.as_ptr(), self))
            {
                registry.remove(&address);
            }
        }
        if matches!(self.held, Held::Mapped(_)) {
            LIVE.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

fn lock_registry() -> MutexGuard<'static, BTreeMap<usize, Weak<PooledPayload>>> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

//! Large payloads in files that are recycled from message to message rather than made and
//! sealed for each one (docs/shm.md, "Pooled payloads").
//!
//! A fresh sealed file costs its sender the kernel allocating, zeroing and later freeing every
//! page of it (hundreds of microseconds for 1 MiB): more than everything else a large message
//! costs. So a sender keeps a pool of slots ([`PayloadPool`]): memfds it made, mapped writable
//! in it alone and sealed so that every other process can only map them read-only
//! (`F_SEAL_FUTURE_WRITE`). A loan ([`PayloadPool::loan`]) lends a free slot; the message then
//! travels as two descriptors: the slot's file and a **token**, the writing end of a pipe made
//! for this message. Whoever holds the payload holds a copy of the token (the daemon while the
//! message is queued, the receiver while it keeps the payload) and closes it when done. The
//! kernel counts the copies, in every process and across crashes: when the last one closes, the
//! reading end the sender kept reports `POLLHUP`, and the slot is free to write again. Nobody can
//! free a slot early for someone else; a holder that never lets go only keeps its slot busy, and
//! the pool then makes another slot, or, at its byte limit, the sender falls back to a sealed
//! file of its own.
//!
//! The bytes of a pooled slot are not immutable as a sealed file's are: its creator could write
//! them while others read. The library never does (it writes a slot only once every token is
//! closed), and a receiver accepts a pooled file only from its own user ([`receive_attached`](crate::receive_attached)),
//! a process that could write its memory anyway; payloads from anyone else arrive sealed (the
//! daemon copies a pooled payload into a sealed file for a receiver of another user).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};

use crate::pooled_payload::{Held, OwnSlot, PooledPayload};
use crate::sys::{self, SlotFile};

/// The name slot files show in `/proc/PID/fd` (`memfd:postbox-pooled`).
const NAME: &str = "postbox-pooled";

/// A pool's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolLimits {
    /// The most bytes of slots the pool keeps, busy or free.
    pub max_bytes: usize,
    /// The most slots it keeps (each holds a descriptor, and a busy one two).
    pub max_slots: usize,
    /// The largest payload pooled; larger ones get a sealed file of their own.
    pub max_payload: usize,
}

impl Default for PoolLimits {
    /// 64 MiB in at most 64 slots; payloads up to 16 MiB.
    fn default() -> Self {
        PoolLimits {
            max_bytes: 64 << 20,
            max_slots: 64,
            max_payload: 16 << 20,
        }
    }
}

/// A process's recycled payload slots. Slots come in power-of-two sizes (at least 4 KiB), so
/// a payload of any length reuses a slot of its size class.
#[derive(Debug)]
pub struct PayloadPool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    limits: PoolLimits,
    slots: Mutex<Slots>,
}

#[derive(Debug, Default)]
struct Slots {
    /// Slots no one holds.
    free: Vec<SlotFile>,
    /// Slots whose last message's token may still be held: the reading end of that token.
    busy: Vec<(SlotFile, OwnedFd)>,
    /// Bytes of every slot, including those lent out to loans and payloads.
    bytes: usize,
    /// Slots, including those lent out.
    count: usize,
}

impl PayloadPool {
    /// An empty pool.
    pub fn new(limits: PoolLimits) -> PayloadPool {
        PayloadPool {
            inner: Arc::new(Inner {
                limits,
                slots: Mutex::new(Slots::default()),
            }),
        }
    }

    /// This process's pool, with the default limits.
    pub fn shared() -> &'static PayloadPool {
        static SHARED: OnceLock<PayloadPool> = OnceLock::new();
        SHARED.get_or_init(|| PayloadPool::new(PoolLimits::default()))
    }

    /// `len` zero bytes in a slot, to write a payload into; `None` when `len` is 0 or above the
    /// largest pooled payload, when every slot of its size is held and the pool is full, or
    /// when the kernel refuses a new one. The caller then makes a sealed file instead.
    pub fn loan(&self, len: usize) -> Option<PooledBuffer> {
        let (mut buffer, recycled) = self.lend(len)?;
        if recycled {
            buffer.fill(0);
        }
        Some(buffer)
    }

    /// As [`loan`](Self::loan), for a caller about to write every byte: a recycled slot is not
    /// zeroed first, so each byte is 0 or one this process wrote into an earlier payload.
    pub fn loan_for_overwrite(&self, len: usize) -> Option<PooledBuffer> {
        self.lend(len).map(|(buffer, _)| buffer)
    }

    /// `bytes` copied into a slot: the one copy a sender makes when the caller's bytes are not
    /// in a slot or a sealed file already. `None` as for [`loan`](Self::loan).
    pub fn copy_of(&self, bytes: &[u8]) -> Option<Arc<PooledPayload>> {
        let mut buffer = self.loan_for_overwrite(bytes.len())?;
        buffer.copy_from_slice(bytes);
        Some(buffer.into_payload())
    }

    /// A slot for `len` bytes, holding what it last held, and whether it was used before.
    fn lend(&self, len: usize) -> Option<(PooledBuffer, bool)> {
        if len == 0 || len > self.inner.limits.max_payload {
            return None;
        }
        let class = len.next_power_of_two().max(4096);
        let (file, recycled) = self.take_slot(class)?;
        let (reader, token) = sys::pipe().ok()?;
        let buffer = PooledBuffer {
            file: Some(file),
            len,
            reader: Some(reader),
            token: Some(token),
            pool: Arc::downgrade(&self.inner),
        };
        Some((buffer, recycled))
    }

    /// How many bytes of slots the pool has made and not let go.
    pub fn bytes(&self) -> usize {
        self.inner.lock().bytes
    }

    /// How many slots the pool has made and not let go.
    pub fn slots(&self) -> usize {
        self.inner.lock().count
    }

    fn take_slot(&self, class: usize) -> Option<(SlotFile, bool)> {
        let mut slots = self.inner.lock();
        // A free slot of the class needs no system call; only without one are the busy slots
        // asked whether they are free yet (one `poll` for them all).
        if let Some(slot) = slots.take_free(class) {
            return Some((slot, true));
        }
        slots.collect_released();
        if let Some(slot) = slots.take_free(class) {
            return Some((slot, true));
        }
        // Make room by letting free slots of other sizes go, largest first.
        slots.free.sort_by_key(SlotFile::len);
        let limits = self.inner.limits;
        while slots.bytes + class > limits.max_bytes || slots.count + 1 > limits.max_slots {
            let file = slots.free.pop()?;
            slots.bytes -= file.len();
            slots.count -= 1;
        }
        let file = SlotFile::create(NAME, class).ok()?;
        slots.bytes += class;
        slots.count += 1;
        Some((file, false))
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot back from a payload: busy until every copy of `reader`'s token is closed.
    fn returned(&self, file: SlotFile, reader: OwnedFd) {
        self.lock().busy.push((file, reader));
    }

    /// A slot back from a loan that was never sent: free at once.
    fn unused(&self, file: SlotFile) {
        self.lock().free.push(file);
    }
}

impl Slots {
    /// A free slot of `class` bytes, if there is one.
    fn take_free(&mut self, class: usize) -> Option<SlotFile> {
        let at = self.free.iter().position(|file| file.len() == class)?;
        Some(self.free.swap_remove(at))
    }

    /// Moves every busy slot whose token is closed everywhere to the free ones.
    fn collect_released(&mut self) {
        if self.busy.is_empty() {
            return;
        }
        let readers: Vec<BorrowedFd<'_>> =
            self.busy.iter().map(|(_, reader)| reader.as_fd()).collect();
        let Ok(gone) = sys::writers_gone(&readers) else {
            return;
        };
        drop(readers);
        for ((file, reader), gone) in std::mem::take(&mut self.busy).into_iter().zip(gone) {
            if gone {
                self.free.push(file);
            } else {
                self.busy.push((file, reader));
            }
        }
    }
}

/// A pooled slot lent to be written: dereferences to the payload's `len` bytes.
/// [`into_payload`](Self::into_payload) ends the writing.
#[derive(Debug)]
pub struct PooledBuffer {
    /// `Some` until the buffer becomes a payload or goes back to the pool.
    file: Option<SlotFile>,
    len: usize,
    reader: Option<OwnedFd>,
    token: Option<OwnedFd>,
    pool: Weak<Inner>,
}

impl PooledBuffer {
    /// The payload written: readable by this process as [`Bytes`](bytes::Bytes)
    /// ([`PooledPayload::into_bytes`]) and passed to others as the slot's file and its token.
    pub fn into_payload(mut self) -> Arc<PooledPayload> {
        let held = Held::Own(Box::new(LentSlot {
            file: self.file.take(),
            reader: self.reader.take(),
            pool: self.pool.clone(),
        }));
        let token = self.token.take();
        Arc::new(PooledPayload::new(
            held,
            token,
            self.len,
            sys::effective_uid(),
        ))
    }
}

impl std::ops::Deref for PooledBuffer {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.file
            .as_ref()
            .map_or(&[][..], |file| &file.as_slice()[..self.len])
    }
}

impl std::ops::DerefMut for PooledBuffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        let len = self.len;
        self.file
            .as_mut()
            .map_or(&mut [][..], |file| &mut file.as_mut_slice()[..len])
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        if let (Some(file), Some(pool)) = (self.file.take(), self.pool.upgrade()) {
            pool.unused(file);
        }
    }
}

/// A slot holding a payload this process wrote: given back to its pool, busy until every copy of
/// the token of its message is closed, when the payload drops.
#[derive(Debug)]
struct LentSlot {
    file: Option<SlotFile>,
    reader: Option<OwnedFd>,
    pool: Weak<Inner>,
}

impl OwnSlot for LentSlot {
    fn as_slice(&self) -> &[u8] {
        self.file.as_ref().map_or(&[][..], SlotFile::as_slice)
    }

    fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.file.as_ref().map(SlotFile::fd)
    }
}

impl Drop for LentSlot {
    fn drop(&mut self) {
        if let (Some(file), Some(reader), Some(pool)) =
            (self.file.take(), self.reader.take(), self.pool.upgrade())
        {
            pool.returned(file, reader);
        }
    }
}

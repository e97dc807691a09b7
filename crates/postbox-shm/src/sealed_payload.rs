//! A large message's payload in a memfd of its own, sealed immutable once written, so that it can
//! travel as a descriptor and be read in place by every process it reaches.
//!
//! Immutability is what makes zero-copy sound. The sender writes into a fresh, private file
//! ([`PayloadBuffer`]), unmaps it and seals it `F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW |
//! F_SEAL_SEAL` ([`PayloadBuffer::seal`]): the kernel grants `F_SEAL_WRITE` only when no writable
//! mapping exists, and after it nobody can write the file, map it writable, resize it or lift a
//! seal. Whoever receives the descriptor checks those seals and the length the sender claimed
//! before mapping it read-only ([`SealedPayload::attach`]); from then on the bytes are an ordinary
//! `&[u8]`, and [`SealedPayload::into_bytes`] wraps them as [`Bytes`] without a copy.
//! [`SealedPayload::of`] finds the payload (and so its descriptor) behind such `Bytes` again, so a
//! process that received one can pass the descriptor on instead of the bytes.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;
use rustix::fs::SealFlags;

use crate::segment::MAX_SEGMENT_BYTES;
use crate::sys::{self, ExclusiveFile, ImmutableMapping, Prefault};

/// The name payload files show in `/proc/PID/fd` (`memfd:postbox-payload`).
const NAME: &str = "postbox-payload";

/// Why a payload file could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CreatePayloadError {
    /// When the length is 0 or above [`MAX_SEGMENT_BYTES`].
    #[error("cannot create a payload file of {len} bytes: it must be 1 byte to 16 GiB")]
    Size {
        /// The length asked for.
        len: usize,
    },
    /// When `memfd_create`, sizing, mapping or sealing fails (out of memory or descriptors, or a
    /// kernel without memfd seals); sending the bytes inline still works.
    #[error("cannot create a sealed payload file: {0}")]
    File(#[source] io::Error),
}

/// Why a payload descriptor a peer passed was refused. The checks run in this order, before a
/// byte of the file is mapped.
#[derive(Debug, thiserror::Error)]
pub enum AttachPayloadError {
    /// When the descriptor is not a sealable memfd (it carries no seals).
    #[error("cannot read an attached payload: the descriptor is not a sealable memfd: {0}")]
    NotMemfd(#[source] io::Error),
    /// When a seal that makes the file immutable is missing: its sender could still change or
    /// truncate the bytes under the reader.
    #[error(
        "cannot read an attached payload: the file lacks the seals {missing:?}; its sender must seal it write, shrink, grow and seal"
    )]
    NotSealed {
        /// The seals missing.
        missing: SealFlags,
    },
    /// When the file's length is not the one the message claims (or the claim is 0 or above
    /// [`MAX_SEGMENT_BYTES`]).
    #[error(
        "cannot read an attached payload: the message claims {claimed} bytes but the file has {file}"
    )]
    Length {
        /// The length claimed.
        claimed: usize,
        /// The file's length.
        file: u64,
    },
    /// When the file is empty or longer than the receiver accepts ([`SealedPayload::receive`]).
    #[error("cannot read an attached payload of {len} bytes: the limit is 1 to {max} bytes")]
    TooLarge {
        /// The file's length.
        len: u64,
        /// The receiver's limit.
        max: usize,
    },
    /// When the file cannot be mapped (address space or memory limits).
    #[error("cannot map an attached payload: {0}")]
    Map(#[source] io::Error),
}

/// A payload being written: a fresh memfd no other process has, mapped read-write. Dereferences
/// to its bytes (zeroed at first); [`seal`](Self::seal) makes it a [`SealedPayload`].
#[derive(Debug)]
pub struct PayloadBuffer {
    file: ExclusiveFile,
}

impl PayloadBuffer {
    /// A buffer of `len` zero bytes, its pages allocated now (so that writing cannot fail later
    /// for want of memory).
    ///
    /// # Errors
    ///
    /// [`CreatePayloadError`] when `len` is out of range or the kernel refuses.
    pub fn create(len: usize) -> Result<Self, CreatePayloadError> {
        if len == 0 || len as u64 > MAX_SEGMENT_BYTES {
            return Err(CreatePayloadError::Size { len });
        }
        let file = ExclusiveFile::create(NAME, len).map_err(CreatePayloadError::File)?;
        Ok(Self { file })
    }

    /// Unmaps the buffer and seals the file immutable, then maps it read-only: the bytes never
    /// change again, in any process.
    ///
    /// # Errors
    ///
    /// [`CreatePayloadError::File`] when sealing or mapping fails.
    pub fn seal(self) -> Result<SealedPayload, CreatePayloadError> {
        let mapping = self.file.seal().map_err(CreatePayloadError::File)?;
        Ok(SealedPayload::new(mapping))
    }
}

impl PayloadBuffer {
    /// Seals the buffer and views it as [`Bytes`] ([`SealedPayload::into_bytes`]); should the
    /// kernel refuse (it cannot short of running out of memory), the bytes are copied into an
    /// ordinary buffer instead, so nothing written is ever lost.
    pub fn into_bytes(self) -> Bytes {
        match self.file.seal_or_copy() {
            Ok(mapping) => SealedPayload::new(mapping).into_bytes(),
            Err(copy) => Bytes::from(copy),
        }
    }
}

impl std::ops::Deref for PayloadBuffer {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.file.as_slice()
    }
}

impl std::ops::DerefMut for PayloadBuffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.file.as_mut_slice()
    }
}

/// A payload in a memfd sealed immutable, mapped read-only. Pass [`fd`](Self::fd) to another
/// process (as `SCM_RIGHTS`); it [`attach`](Self::attach)es it.
#[derive(Debug)]
pub struct SealedPayload {
    mapping: ImmutableMapping,
}

/// The payloads living inside [`Bytes`], by the address of their mapping: how
/// [`SealedPayload::of`] finds them. An entry is removed when its payload drops; while the
/// payload lives its mapping's address belongs to it alone.
static REGISTRY: Mutex<BTreeMap<usize, Weak<SealedPayload>>> = Mutex::new(BTreeMap::new());

/// Sealed payloads alive in this process ([`SealedPayload::live`]).
static LIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The owner of `Bytes` made by [`SealedPayload::into_bytes`].
struct Owner(Arc<SealedPayload>);

impl AsRef<[u8]> for Owner {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

impl SealedPayload {
    fn new(mapping: ImmutableMapping) -> Self {
        LIVE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self { mapping }
    }

    /// `bytes` copied into a new sealed payload file: the one copy a sender makes when the
    /// caller's bytes are not in one already.
    ///
    /// # Errors
    ///
    /// [`CreatePayloadError`] when `bytes` is empty or too long, or the kernel refuses.
    pub fn copy_of(bytes: &[u8]) -> Result<Self, CreatePayloadError> {
        let mut buffer = PayloadBuffer::create(bytes.len())?;
        buffer.copy_from_slice(bytes);
        buffer.seal()
    }

    /// Maps a payload file a peer passed, after checking that it is a memfd carrying every
    /// immutability seal and exactly `len` bytes long. The descriptor is closed on error.
    ///
    /// # Errors
    ///
    /// [`AttachPayloadError`] for the first check that fails.
    pub fn attach(fd: OwnedFd, len: usize) -> Result<Self, AttachPayloadError> {
        Self::attach_with(fd, len, Prefault::OnTouch)
    }

    fn attach_with(
        fd: OwnedFd,
        len: usize,
        prefault: Prefault,
    ) -> Result<Self, AttachPayloadError> {
        check_immutable(&fd)?;
        let file = sys::file_len(&fd).map_err(AttachPayloadError::NotMemfd)?;
        if len == 0 || len as u64 > MAX_SEGMENT_BYTES || file != len as u64 {
            return Err(AttachPayloadError::Length { claimed: len, file });
        }
        let mapping = ImmutableMapping::map(fd, len, prefault).map_err(AttachPayloadError::Map)?;
        Ok(Self::new(mapping))
    }

    /// Maps a payload file a peer passed, whatever its length from 1 byte to `max`, after
    /// checking that it is a memfd carrying every immutability seal: for a receiver that learns
    /// the claimed length only later (the frame that claims it checks it then).
    ///
    /// # Errors
    ///
    /// [`AttachPayloadError`] for the first check that fails.
    ///
    /// `prefault`: [`Prefault::Now`] for a receiver about to read the payload (its pages are
    /// mapped in one system call), [`Prefault::OnTouch`] for one that may only pass it on.
    pub fn receive(
        fd: OwnedFd,
        max: usize,
        prefault: Prefault,
    ) -> Result<Self, AttachPayloadError> {
        check_immutable(&fd)?;
        let len = sys::file_len(&fd).map_err(AttachPayloadError::NotMemfd)?;
        let max = max.min(MAX_SEGMENT_BYTES as usize);
        if len == 0 || len > max as u64 {
            return Err(AttachPayloadError::TooLarge { len, max });
        }
        Self::attach_with(fd, len as usize, prefault)
    }

    /// Whether `fd` is a memfd carrying every immutability seal, as a sealed payload's is: how a
    /// receiver tells a payload from a ring's segment (sealed against shrinking only) before
    /// choosing how to map it.
    pub fn is_sealed(fd: &OwnedFd) -> bool {
        check_immutable(fd).is_ok()
    }

    /// How many sealed payloads this process holds mapped (each with its descriptor): what a
    /// daemon bounds so that queued payloads cannot exhaust its descriptors.
    pub fn live() -> usize {
        LIVE.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The descriptor, to pass to another process.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.mapping.fd()
    }

    /// The payload's length in bytes (never 0).
    pub fn len(&self) -> usize {
        self.mapping.as_slice().len()
    }

    /// Always `false`: a payload file holds at least one byte. (For clippy's `len_without_is_empty`.)
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The bytes, in place.
    pub fn as_slice(&self) -> &[u8] {
        self.mapping.as_slice()
    }

    /// The payload as [`Bytes`] viewing the mapping (no copy), which [`of`](Self::of) recognises.
    /// The mapping and descriptor live until the last clone of the `Bytes` drops.
    pub fn into_bytes(self) -> Bytes {
        let payload = Arc::new(self);
        let address = payload.as_slice().as_ptr() as usize;
        lock_registry().insert(address, Arc::downgrade(&payload));
        Bytes::from_owner(Owner(payload))
    }

    /// The sealed payload `bytes` views whole, if it was made by [`into_bytes`](Self::into_bytes)
    /// (a slice of it, or any other `Bytes`, gives `None`): so a process can pass on the
    /// descriptor it received instead of copying the bytes.
    pub fn of(bytes: &Bytes) -> Option<Arc<SealedPayload>> {
        let address = bytes.as_ptr() as usize;
        let payload = lock_registry().get(&address)?.upgrade()?;
        // The mapping is alive (we hold it), so no other live object has this address: `bytes`
        // views this mapping, whole if the lengths agree.
        (payload.len() == bytes.len()).then_some(payload)
    }
}

impl AsRef<[u8]> for SealedPayload {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Drop for SealedPayload {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        let address = self.mapping.as_slice().as_ptr() as usize;
        let mut registry = lock_registry();
        if registry
            .get(&address)
            .is_some_and(|entry| std::ptr::eq(entry.as_ptr(), self))
        {
            registry.remove(&address);
        }
    }
}

/// The registry, even if a thread panicked holding it (its map is valid after any panic: every
/// update is one call).
fn lock_registry() -> std::sync::MutexGuard<'static, BTreeMap<usize, Weak<SealedPayload>>> {
    REGISTRY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Checks that `fd` is a memfd carrying every immutability seal, so that its bytes can never
/// change under a mapping of it.
fn check_immutable(fd: &OwnedFd) -> Result<(), AttachPayloadError> {
    let seals = sys::seals(fd).map_err(AttachPayloadError::NotMemfd)?;
    let wanted = sys::immutable_seals();
    if seals.contains(wanted) {
        Ok(())
    } else {
        Err(AttachPayloadError::NotSealed {
            missing: wanted - seals,
        })
    }
}

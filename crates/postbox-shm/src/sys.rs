//! Every `unsafe` block of the crate: mapping memory, viewing a mapping as atomic words, copying
//! bytes in and out of a mapping, and the futex calls on a word of it.
//!
//! The memory behind a [`Mapping`] is shared with other processes, which may write to it at any
//! moment. So no Rust reference to its bytes is ever handed out: the ring sees it as a slice of
//! `AtomicU64` (atomics allow concurrent writers), and raw bytes are only copied in or out with
//! bounds checked here. The file is sealed against shrinking before anyone maps it (see
//! `Segment`), so a peer cannot turn an access into `SIGBUS` by truncating it.

use std::ffi::c_void;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::time::Duration;

use rustix::fs::{MemfdFlags, SealFlags};
use rustix::mm::{MapFlags, ProtFlags};
use rustix::thread::futex;

/// When a mapping's pages are mapped: a reader about to read all of them saves a page fault per
/// page by having them mapped at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prefault {
    /// All of them now (`MAP_POPULATE`), in one system call.
    Now,
    /// Each on first touch (a minor page fault each): for a holder that may never read them,
    /// such as a daemon passing the descriptor on.
    OnTouch,
}

/// How a mapping may be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Loads only: the pages are mapped `PROT_READ`.
    ReadOnly,
    /// Loads and stores: the pages are mapped `PROT_READ | PROT_WRITE`.
    ReadWrite,
}

/// A new anonymous memory file, close-on-exec and open to seals.
pub(crate) fn memfd(name: &str) -> io::Result<OwnedFd> {
    Ok(rustix::fs::memfd_create(
        name,
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )?)
}

/// Gives the file its length for good, its pages allocated now (so that a later first touch
/// cannot fail for want of memory with `SIGBUS`), then forbids further seals unless
/// `more_seals_later`.
pub(crate) fn size_and_seal(fd: &OwnedFd, len: u64, more_seals_later: bool) -> io::Result<()> {
    rustix::fs::ftruncate(fd, len)?;
    rustix::fs::fallocate(fd, rustix::fs::FallocateFlags::empty(), 0, len)?;
    let mut seals = SealFlags::SHRINK | SealFlags::GROW;
    if !more_seals_later {
        seals |= SealFlags::SEAL;
    }
    rustix::fs::fcntl_add_seals(fd, seals)?;
    Ok(())
}

/// Forbids every later write and writable mapping (existing mappings keep their access), then
/// any further seal.
pub(crate) fn seal_future_writes(fd: &OwnedFd) -> io::Result<()> {
    rustix::fs::fcntl_add_seals(fd, SealFlags::FUTURE_WRITE | SealFlags::SEAL)?;
    Ok(())
}

/// The seals a file carries (`EINVAL` for a file that is no memfd).
pub(crate) fn seals(fd: &OwnedFd) -> io::Result<SealFlags> {
    Ok(rustix::fs::fcntl_get_seals(fd)?)
}

/// The file's length in bytes.
pub(crate) fn file_len(fd: &OwnedFd) -> io::Result<u64> {
    let stat = rustix::fs::fstat(fd)?;
    u64::try_from(stat.st_size).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))
}

/// `len` bytes of a file mapped shared, unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mapping {
    base: NonNull<u8>,
    len: usize,
    access: Access,
}

// SAFETY: a `Mapping` owns its pages; every access to them goes through atomics or through
// `read`/`write`, which copy bytes and never hand out references, so sharing or sending the
// handle across threads is as safe as across the processes that map the same file.
unsafe impl Send for Mapping {}
// SAFETY: as above: `&Mapping` only allows atomic accesses and bounds-checked copies.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps the first `len` bytes of `fd`, shared. The caller has checked that the file is at
    /// least `len` bytes long and sealed against shrinking.
    pub(crate) fn map(fd: impl AsFd, len: usize, access: Access) -> io::Result<Self> {
        Self::map_with(fd, len, access, MapFlags::empty())
    }

    /// As [`map`](Self::map), every page mapped now (`MAP_POPULATE`): one system call instead
    /// of a page fault per page, for a mapping that is about to be read or written whole.
    pub(crate) fn map_populated(fd: impl AsFd, len: usize, access: Access) -> io::Result<Self> {
        Self::map_with(fd, len, access, MapFlags::POPULATE)
    }

    /// Maps the first `len` bytes of `fd` read-only, its pages mapped as `prefault` says.
    pub(crate) fn map_read_only(fd: impl AsFd, len: usize, prefault: Prefault) -> io::Result<Self> {
        let extra = match prefault {
            Prefault::Now => MapFlags::POPULATE,
            Prefault::OnTouch => MapFlags::empty(),
        };
        Self::map_with(fd, len, Access::ReadOnly, extra)
    }

    fn map_with(fd: impl AsFd, len: usize, access: Access, extra: MapFlags) -> io::Result<Self> {
        if len == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty mapping"));
        }
        let prot = match access {
            Access::ReadOnly => ProtFlags::READ,
            Access::ReadWrite => ProtFlags::READ | ProtFlags::WRITE,
        };
        // SAFETY: a null hint lets the kernel choose fresh addresses, so no existing Rust object
        // is replaced; the result is checked, and owned by the returned `Mapping` alone.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                MapFlags::SHARED | extra,
                fd,
                0,
            )?
        };
        let base = NonNull::new(ptr.cast::<u8>())
            .ok_or_else(|| io::Error::other("mmap returned a null address"))?;
        Ok(Self { base, len, access })
    }

    /// The mapping's length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The mapped bytes, as a slice living as long as `&self`.
    ///
    /// # Safety
    ///
    /// No byte may change while the slice lives: the caller knows why no process writes them
    /// meanwhile (seals, ownership, a token it holds).
    pub(crate) unsafe fn bytes(&self) -> &[u8] {
        // SAFETY: `len` readable bytes from `base` (mmap succeeded for exactly that length),
        // mapped until `self` drops; every bit pattern is a valid `u8`; the caller vouches
        // that they do not change while the slice lives.
        unsafe { std::slice::from_raw_parts(self.base.as_ptr(), self.len) }
    }

    /// The mapped bytes, to write.
    ///
    /// # Safety
    ///
    /// The mapping is read-write, and nothing else reads or writes the bytes while the slice
    /// lives: the caller knows why no other process maps them, or reads them meanwhile.
    pub(crate) unsafe fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: `len` writable bytes from `base` (the caller vouches for read-write access),
        // mapped until `self` drops; `&mut self` excludes every other reference in this
        // process, and the caller vouches for the others.
        unsafe { std::slice::from_raw_parts_mut(self.base.as_ptr(), self.len) }
    }

    /// How the pages are mapped.
    pub(crate) fn access(&self) -> Access {
        self.access
    }

    /// The words from byte `offset` to the end, as atomics; `None` if the mapping is
    /// read-only (atomic stores would fault) or `offset` is past the end or not 8-aligned.
    pub(crate) fn words(&self, offset: usize) -> Option<&[AtomicU64]> {
        if self.access != Access::ReadWrite || offset > self.len || offset % 8 != 0 {
            return None;
        }
        let count = (self.len - offset) / 8;
        // SAFETY: `mmap` returns page-aligned memory and `offset` is a multiple of 8, so the
        // pointer is aligned for `AtomicU64`; `offset + count * 8 <= len`, so the slice lies
        // inside the mapping, which is readable and writable and lives as long as `&self`.
        // `AtomicU64` has interior mutability, so other processes (and threads) writing the
        // same words is allowed; any bit pattern is a valid `u64`.
        Some(unsafe {
            std::slice::from_raw_parts(self.base.as_ptr().add(offset).cast::<AtomicU64>(), count)
        })
    }

    /// Copies `dst.len()` bytes from byte `offset` of the mapping into `dst`; `false` (nothing
    /// copied) if that range is not inside the mapping.
    pub(crate) fn read(&self, offset: usize, dst: &mut [u8]) -> bool {
        if offset
            .checked_add(dst.len())
            .is_none_or(|end| end > self.len)
        {
            return false;
        }
        // SAFETY: the range `offset..offset + dst.len()` is inside the mapping (checked above),
        // which is readable for as long as `&self` lives; `dst` is a distinct Rust buffer, so the
        // two cannot overlap. A peer writing the same bytes meanwhile can only make `dst` hold
        // any mix of old and new bytes, and every bit pattern is a valid `u8`; no reference to
        // the shared bytes is created.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.base.as_ptr().add(offset),
                dst.as_mut_ptr(),
                dst.len(),
            );
        }
        true
    }

    /// Copies `src` to byte `offset` of the mapping; `false` (nothing copied) if the mapping is
    /// read-only or that range is not inside it.
    pub(crate) fn write(&self, offset: usize, src: &[u8]) -> bool {
        if self.access != Access::ReadWrite
            || offset
                .checked_add(src.len())
                .is_none_or(|end| end > self.len)
        {
            return false;
        }
        // SAFETY: the range is inside a writable mapping (checked above) that lives as long as
        // `&self`; `src` is a distinct Rust buffer. No reference to the shared bytes is created,
        // so a peer reading or writing them meanwhile affects only the bytes it sees.
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), self.base.as_ptr().add(offset), src.len());
        }
        true
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `base` and `len` are exactly what `mmap` returned and accepted; every slice of
        // `words` borrows `self`, so none outlives this call.
        let _ = unsafe { rustix::mm::munmap(self.base.as_ptr().cast::<c_void>(), self.len) };
    }
}

/// The seals that make a file's bytes immutable for good: no write, no writable mapping, no
/// size change, no further seal (so none of them can be taken back).
pub(crate) fn immutable_seals() -> SealFlags {
    SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL
}

/// A new memfd of `len` bytes that no other process has yet, mapped read-write: where a sender
/// writes a payload before sealing it ([`ExclusiveFile::seal`]).
#[derive(Debug)]
pub(crate) struct ExclusiveFile {
    fd: OwnedFd,
    mapping: Mapping,
}

impl ExclusiveFile {
    /// Creates the file, gives it `len` bytes allocated now (so that writing cannot `SIGBUS` for
    /// want of memory) and maps it read-write.
    pub(crate) fn create(name: &str, len: usize) -> io::Result<Self> {
        let fd = memfd(name)?;
        rustix::fs::ftruncate(&fd, len as u64)?;
        rustix::fs::fallocate(&fd, rustix::fs::FallocateFlags::empty(), 0, len as u64)?;
        let mapping = Mapping::map_populated(&fd, len, Access::ReadWrite)?;
        Ok(Self { fd, mapping })
    }

    /// The file's bytes, to read.
    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: as for `as_mut_slice`: `len` readable bytes living as long as `&self`, written
        // by no one else; `&self` excludes the `&mut` of `as_mut_slice` for as long as this
        // slice lives.
        unsafe { self.mapping.bytes() }
    }

    /// The file's bytes, to write.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: the mapping is `len` readable and writable bytes (mmap succeeded for exactly
        // that length) that live as long as `self`; the file was created by this process and its
        // descriptor never left `self`, so no other mapping of it exists and no other process
        // can write it (short of one that could also write our own memory: same user, ptrace
        // rights). `&mut self` makes this the only reference into the mapping, and every bit
        // pattern is a valid `u8`.
        unsafe { self.mapping.bytes_mut() }
    }

    /// As [`seal`](Self::seal), but never loses the bytes: should sealing or mapping fail, they
    /// are read back out of the file (still this process's alone) into ordinary memory.
    pub(crate) fn seal_or_copy(self) -> Result<ImmutableMapping, Vec<u8>> {
        let len = self.mapping.len();
        let Self { fd, mapping } = self;
        // Even a read-only shared mapping of a writable descriptor stands in the way of
        // `F_SEAL_WRITE` on some kernels: unmap first, map again once sealed.
        drop(mapping);
        if rustix::fs::fcntl_add_seals(&fd, immutable_seals()).is_err() {
            return Err(read_back(&fd, len));
        }
        ImmutableMapping::map_or_return(fd, len, Prefault::OnTouch)
            .map_err(|(_, fd)| read_back(&fd, len))
    }

    /// Unmaps the file (`F_SEAL_WRITE` is refused while a writable mapping exists), then seals
    /// it immutable ([`immutable_seals`]) and maps it read-only.
    pub(crate) fn seal(self) -> io::Result<ImmutableMapping> {
        let Self { fd, mapping } = self;
        let len = mapping.len();
        drop(mapping);
        rustix::fs::fcntl_add_seals(&fd, immutable_seals())?;
        ImmutableMapping::map(fd, len, Prefault::OnTouch)
    }
}

/// The first `len` bytes of a file this process alone has, read with `pread` (what is left
/// unread, should reading fail, stays zero).
fn read_back(fd: &OwnedFd, len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    let mut done = 0;
    while done < len {
        match rustix::io::pread(fd, &mut bytes[done..], done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => break,
        }
    }
    bytes
}

/// A memfd whose seals forbid every write and size change, mapped read-only: the only mapping
/// this crate hands out as `&[u8]`.
#[derive(Debug)]
pub(crate) struct ImmutableMapping {
    fd: OwnedFd,
    mapping: Mapping,
}

impl ImmutableMapping {
    /// Maps `fd` read-only after checking, on this very descriptor, that it carries every seal
    /// of [`immutable_seals`] and is exactly `len` bytes long (1 or more). The seals come first:
    /// they fix the size that is checked next.
    pub(crate) fn map(fd: OwnedFd, len: usize, prefault: Prefault) -> io::Result<Self> {
        Self::map_or_return(fd, len, prefault).map_err(|(error, _)| error)
    }

    /// As [`map`](Self::map), handing the descriptor back on failure.
    fn map_or_return(
        fd: OwnedFd,
        len: usize,
        prefault: Prefault,
    ) -> Result<Self, (io::Error, OwnedFd)> {
        match seals(&fd) {
            Ok(sealed) if sealed.contains(immutable_seals()) => {}
            Ok(_) => {
                let error = io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "the file is not sealed immutable",
                );
                return Err((error, fd));
            }
            Err(error) => return Err((error, fd)),
        }
        match file_len(&fd) {
            Ok(file) if file == len as u64 => {}
            Ok(_) => {
                let error = io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the file's length is not the one claimed",
                );
                return Err((error, fd));
            }
            Err(error) => return Err((error, fd)),
        }
        match Mapping::map_read_only(&fd, len, prefault) {
            Ok(mapping) => Ok(Self { fd, mapping }),
            Err(error) => Err((error, fd)),
        }
    }

    /// The descriptor, to pass on.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: the mapping is `len` readable bytes that live as long as `&self`. `map`
        // checked on this descriptor that the file carries F_SEAL_WRITE (no process can write
        // it or map it writable, and the seal was only granted once no writable mapping
        // existed), F_SEAL_SHRINK (no truncation can turn a read into SIGBUS) and F_SEAL_SEAL
        // (no seal can be lifted), and that it is exactly `len` bytes: so the bytes never
        // change while the slice lives, which is what `&[u8]` promises.
        unsafe { self.mapping.bytes() }
    }
}

/// The seals of a pooled payload slot ([`SlotFile`]): no size change and no further seal, and
/// no write or writable mapping by anyone but the mapping its creator made before sealing
/// (`F_SEAL_FUTURE_WRITE`), through which the creator recycles the slot.
pub(crate) fn pooled_seals() -> SealFlags {
    SealFlags::FUTURE_WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL
}

/// A file carrying a pooled slot's seals ([`pooled_seals`]), as found on one descriptor: only
/// [`inspect_pooled`] makes one, so holding it proves the checks were made.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PooledFile {
    /// The user that created it (a memfd's owner is its creator's effective uid).
    pub(crate) owner: u32,
    /// Its device and inode numbers: the file itself, whatever descriptor reached it.
    pub(crate) key: (u64, u64),
    /// Its length, which its seals fix.
    pub(crate) len: u64,
}

/// What the file behind `fd` is: a sealed payload (every seal of [`immutable_seals`]), a pooled
/// slot (those of [`pooled_seals`], then also who made it, which file it is and its length), or
/// anything else. One `fcntl`, and one `fstat` for a slot.
pub(crate) fn inspect(fd: &OwnedFd) -> Inspected {
    match seals(fd) {
        Ok(seals) if seals.contains(immutable_seals()) => Inspected::Sealed,
        Ok(seals) if seals.contains(pooled_seals()) => match rustix::fs::fstat(fd) {
            Ok(stat) => Inspected::Pooled(PooledFile {
                owner: stat.st_uid,
                key: (stat.st_dev, stat.st_ino),
                len: u64::try_from(stat.st_size).unwrap_or(0),
            }),
            Err(error) => Inspected::Unreadable(error.into()),
        },
        _ => Inspected::Other,
    }
}

/// What [`inspect`] found.
#[derive(Debug)]
pub(crate) enum Inspected {
    /// A sealed payload's file.
    Sealed,
    /// A pooled slot's file.
    Pooled(PooledFile),
    /// A slot whose `fstat` failed.
    Unreadable(io::Error),
    /// Anything else: a ring's segment, or no memfd at all.
    Other,
}

/// This process's effective uid.
pub(crate) fn effective_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Whether `fd` is the writing end of a pipe (a FIFO open write-only).
pub(crate) fn is_pipe_writer(fd: &OwnedFd) -> bool {
    rustix::fs::fcntl_getfl(fd).is_ok_and(|flags| {
        flags & rustix::fs::OFlags::RWMODE == rustix::fs::OFlags::WRONLY
            && rustix::fs::fstat(fd).is_ok_and(|stat| {
                rustix::fs::FileType::from_raw_mode(stat.st_mode) == rustix::fs::FileType::Fifo
            })
    })
}

/// A new pipe, close-on-exec: (reading end, writing end).
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?)
}

/// For each reading end, whether every writing end of its pipe is closed (`POLLHUP`), without
/// waiting: one system call for them all.
pub(crate) fn writers_gone(readers: &[BorrowedFd<'_>]) -> io::Result<Vec<bool>> {
    use rustix::event::{PollFd, PollFlags};
    let mut polled: Vec<PollFd<'_>> = readers
        .iter()
        .map(|fd| PollFd::from_borrowed_fd(*fd, PollFlags::IN))
        .collect();
    loop {
        match rustix::event::poll(&mut polled, Some(&rustix::time::Timespec::default())) {
            Ok(_) => break,
            Err(rustix::io::Errno::INTR) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Ok(polled
        .iter()
        .map(|fd| fd.revents().contains(PollFlags::HUP))
        .collect())
}

/// A pooled payload slot: a memfd of this process's making, sized once, mapped read-write here
/// and then sealed [`pooled_seals`], so that every other process can only map it read-only
/// while this one keeps writing it, message after message, through the mapping it made first.
/// Whose turn it is to touch the bytes is the pool's protocol (`payload_pool`): the slot is
/// written only while no other process holds its token.
#[derive(Debug)]
pub(crate) struct SlotFile {
    fd: OwnedFd,
    mapping: Mapping,
}

impl SlotFile {
    /// Creates the slot: `len` bytes allocated now (a first touch cannot `SIGBUS` for want of
    /// memory), mapped read-write with every page mapped, then sealed.
    pub(crate) fn create(name: &str, len: usize) -> io::Result<Self> {
        let fd = memfd(name)?;
        size_and_seal(&fd, len as u64, true)?;
        let mapping = Mapping::map_populated(&fd, len, Access::ReadWrite)?;
        rustix::fs::fcntl_add_seals(&fd, SealFlags::FUTURE_WRITE | SealFlags::SEAL)?;
        Ok(Self { fd, mapping })
    }

    /// The descriptor, to pass to another process.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The slot's length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.mapping.len
    }

    /// The bytes, to read.
    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: the mapping is `len` readable bytes living as long as `&self`. Only this
        // process can write them (the seals allow no other writable mapping), and it writes
        // only through `as_mut_slice`, whose `&mut self` excludes this borrow.
        unsafe { self.mapping.bytes() }
    }

    /// The bytes, to write. The caller owns the slot (the pool lends it to one loan at a time,
    /// by value) and has seen every holder of its last token close it.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: the mapping is `len` readable and writable bytes that live as long as `self`,
        // and `&mut self` makes this the only reference in this process. Other processes map
        // the file read-only and read it only while they hold the token of the message it
        // carries; the pool lends the slot for writing only once every copy of that token is
        // closed. A process that kept reading after closing its token would have to bypass
        // the library, and be of this user (receivers refuse pooled files of other users):
        // one that could write this process's memory anyway. Every bit pattern is a valid `u8`.
        unsafe { self.mapping.bytes_mut() }
    }
}

/// A pooled payload slot another process made ([`SlotFile`]), mapped read-only, whole.
#[derive(Debug)]
pub(crate) struct PooledMapping {
    fd: OwnedFd,
    mapping: Mapping,
}

impl PooledMapping {
    /// Maps `fd`, which [`inspect`] found to be the slot `file`, read-only and whole, if it is 1
    /// to `max` bytes long. Returns the descriptor on failure.
    pub(crate) fn map(
        fd: OwnedFd,
        file: &PooledFile,
        max: usize,
        prefault: Prefault,
    ) -> Result<Self, (io::Error, OwnedFd)> {
        let len = match usize::try_from(file.len) {
            Ok(len) if len >= 1 && len <= max => len,
            _ => {
                let error = io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("the file is {} bytes; at most {max} are taken", file.len),
                );
                return Err((error, fd));
            }
        };
        match Mapping::map_read_only(&fd, len, prefault) {
            Ok(mapping) => Ok(Self { fd, mapping }),
            Err(error) => Err((error, fd)),
        }
    }

    /// The descriptor, to pass on.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The mapping's length in bytes (the whole slot).
    pub(crate) fn len(&self) -> usize {
        self.mapping.len
    }

    /// The bytes. The caller holds the token of the message they carry for as long as the
    /// slice lives.
    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: the mapping is `len` readable bytes living as long as `&self`. The seals,
        // checked on this descriptor by `inspect` (whose `PooledFile` `map` takes), fix the
        // file's size, so no read can `SIGBUS`, and allow writes only through its creator's
        // first mapping. The creator's library writes a slot only after every copy of the
        // token of the message it carries is closed, and whoever reads through this mapping
        // holds that token (`payload_pool`). The file is of this process's own user (checked
        // before mapping): a creator bypassing the library to write anyway could write this
        // process's memory as well.
        unsafe { self.mapping.bytes() }
    }
}

/// The 32 bits of `word` that the kernel compares in a futex call: its low half.
fn futex_half(word: &AtomicU64) -> &AtomicU32 {
    let base = std::ptr::from_ref(word).cast::<AtomicU32>();
    let low = if cfg!(target_endian = "little") { 0 } else { 1 };
    // SAFETY: an `AtomicU64` is 8-aligned and 8 bytes, so either half is an aligned 4-byte
    // location inside it, living as long as `word`. The reference is only passed to the futex
    // system call, which reads the location in the kernel; Rust code never accesses it at 32
    // bits, so no mixed-size atomic access happens in the program.
    unsafe { &*base.add(low) }
}

/// Sleeps while the low 32 bits of `word` equal those of `expected`, at most `timeout`. Process-
/// shared (not `FUTEX_PRIVATE`), so a writer in another process wakes it. Spurious returns are
/// possible; the caller re-checks its condition.
pub(crate) fn futex_wait(word: &AtomicU64, expected: u64, timeout: Duration) {
    let timeout = rustix::time::Timespec {
        tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(timeout.subsec_nanos()),
    };
    // Returns on a wake, a changed value (EAGAIN), a signal (EINTR) or the timeout
    // (ETIMEDOUT): the caller's loop treats them alike.
    let _ = futex::wait(
        futex_half(word),
        futex::Flags::empty(),
        expected as u32,
        Some(&timeout),
    );
}

/// Wakes every sleeper of `futex_wait` on `word`, in any process.
pub(crate) fn futex_wake_all(word: &AtomicU64) {
    let _ = futex::wake(futex_half(word), futex::Flags::empty(), i32::MAX as u32);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    fn file(len: u64) -> OwnedFd {
        let fd = memfd("sys-test").unwrap();
        size_and_seal(&fd, len, false).unwrap();
        fd
    }

    #[test]
    fn sealed_file_cannot_change_size_or_take_more_seals() {
        let fd = file(4096);
        assert_eq!(file_len(&fd).unwrap(), 4096);
        assert!(
            seals(&fd)
                .unwrap()
                .contains(SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL)
        );
        assert!(rustix::fs::ftruncate(&fd, 100).is_err());
        assert!(rustix::fs::ftruncate(&fd, 8192).is_err());
        assert!(seal_future_writes(&fd).is_err());
    }

    #[test]
    fn copies_are_bounds_checked() {
        let mapping = Mapping::map(file(100), 100, Access::ReadWrite).unwrap();
        assert!(mapping.write(96, &[1, 2, 3, 4]));
        assert!(!mapping.write(97, &[1, 2, 3, 4]));
        assert!(!mapping.write(usize::MAX, &[1]));
        let mut buf = [0; 4];
        assert!(mapping.read(96, &mut buf));
        assert_eq!(buf, [1, 2, 3, 4]);
        assert!(!mapping.read(97, &mut buf));
        assert!(!mapping.read(usize::MAX - 1, &mut buf));
    }

    #[test]
    fn words_need_alignment_and_write_access() {
        let fd = file(64);
        let rw = Mapping::map(&fd, 64, Access::ReadWrite).unwrap();
        assert_eq!(rw.words(0).unwrap().len(), 8);
        assert_eq!(rw.words(56).unwrap().len(), 1);
        assert_eq!(rw.words(64).unwrap().len(), 0);
        assert!(rw.words(4).is_none());
        assert!(rw.words(72).is_none());
        rw.words(0).unwrap()[1].store(0x0102, Ordering::Relaxed);
        let ro = Mapping::map(&fd, 64, Access::ReadOnly).unwrap();
        assert!(ro.words(0).is_none());
        assert!(!ro.write(0, &[1]));
        let mut buf = [0; 2];
        assert!(ro.read(8, &mut buf));
        assert_eq!(buf, 0x0102u64.to_ne_bytes()[..2]);
        assert!(Mapping::map(&fd, 0, Access::ReadOnly).is_err());
    }

    #[test]
    fn futex_wait_returns_at_once_when_the_value_differs_and_after_the_timeout_otherwise() {
        let word = AtomicU64::new(5);
        let start = std::time::Instant::now();
        futex_wait(&word, 6, Duration::from_secs(10));
        assert!(start.elapsed() < Duration::from_secs(5));
        futex_wait(&word, 5, Duration::from_millis(20));
        assert!(start.elapsed() >= Duration::from_millis(20));
        futex_wake_all(&word);
    }
}

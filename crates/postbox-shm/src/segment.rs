//! A segment: a sealed memfd, mapped, with a header that whoever attaches validates.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::SealFlags;

use crate::memory::Memory;
use crate::sync::{AtomicU64, Ordering};
use crate::sys::{self, Access, Mapping};

/// Bytes of the segment header; the body starts here (cache-line aligned).
pub const SEGMENT_HEADER_BYTES: usize = 64;
/// The largest segment this crate creates or attaches (16 GiB): a bound on what a peer can make
/// an attacher map.
pub const MAX_SEGMENT_BYTES: u64 = 1 << 34;
/// `b"PBXSEGM1"` read as a little-endian word.
const MAGIC: u64 = u64::from_le_bytes(*b"PBXSEGM1");
/// The header version this crate writes and accepts.
const VERSION: u64 = 1;

/// What a segment's body holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentKind {
    /// A [`Ring`](crate::Ring), which senders and receivers map read-write.
    Ring,
    /// Payload bytes of large messages, written once by their sender, then frozen
    /// ([`Segment::freeze`]) and mapped read-only by receivers ([`ReadOnlySegment`]).
    Payload,
}

impl SegmentKind {
    fn code(self) -> u64 {
        match self {
            Self::Ring => 1,
            Self::Payload => 2,
        }
    }

    fn from_code(code: u64) -> Option<Self> {
        match code {
            1 => Some(Self::Ring),
            2 => Some(Self::Payload),
            _ => None,
        }
    }
}

/// Why a segment could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateSegmentError {
    /// When the body is empty or the segment would pass [`MAX_SEGMENT_BYTES`].
    #[error("cannot create a segment with a body of {body} bytes: it must be 1 to 16 GiB")]
    Size {
        /// The body length asked for.
        body: usize,
    },
    /// When `memfd_create`, sizing or sealing fails (out of memory, or a kernel without
    /// memfd seals).
    #[error("cannot create a shared memory file: {0}")]
    File(#[source] io::Error),
    /// When the file cannot be mapped (address space or memory limits).
    #[error("cannot map a new shared memory segment: {0}")]
    Map(#[source] io::Error),
}

/// Why a segment passed by a peer was refused. Every check runs before its bytes are trusted.
#[derive(Debug, thiserror::Error)]
pub enum AttachSegmentError {
    /// When the descriptor is not a memfd (it carries no seals).
    #[error("cannot attach a segment: the descriptor is not a sealable memfd: {0}")]
    NotMemfd(#[source] io::Error),
    /// When the file is not sealed against shrinking: a peer could truncate it and crash the
    /// attacher with `SIGBUS`.
    #[error("cannot attach a segment: the file is not sealed against shrinking; refuse it")]
    NotSealed,
    /// When the file is shorter than a header or longer than [`MAX_SEGMENT_BYTES`].
    #[error("cannot attach a segment of {len} bytes: it must be 65 bytes to 16 GiB")]
    Size {
        /// The file's length.
        len: u64,
    },
    /// When the file cannot be mapped (for a read-write attach of a read-only descriptor, or
    /// memory limits).
    #[error("cannot map the segment: {0}")]
    Map(#[source] io::Error),
    /// When the header does not start with the segment magic number.
    #[error("cannot attach a segment: magic number {found:#018x} is not a postbox segment's")]
    Magic {
        /// The word found.
        found: u64,
    },
    /// When the header's version is not this crate's.
    #[error("cannot attach a segment: header version {found} is not the supported version 1")]
    Version {
        /// The version found.
        found: u64,
    },
    /// When the header names no known kind.
    #[error("cannot attach a segment: kind {found} is unknown")]
    Kind {
        /// The kind code found.
        found: u64,
    },
    /// When the header's length is not the file's.
    #[error("cannot attach a segment: its header says {header} bytes but the file has {file}")]
    Length {
        /// The length in the header.
        header: u64,
        /// The file's length.
        file: u64,
    },
}

/// A segment's body range is outside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bytes {offset}..{offset}+{len} are outside the segment's body of {body} bytes")]
pub struct OutOfBounds {
    /// The offset asked for.
    pub offset: usize,
    /// The length asked for.
    pub len: usize,
    /// The body's length.
    pub body: usize,
}

/// A shared memory segment mapped read-write: a memfd sized once and sealed against shrinking
/// and growing, so every byte of the mapping stays backed for its whole life. Pass
/// [`fd`](Self::fd) to another process with [`send_fd`](crate::send_fd).
#[derive(Debug)]
pub struct Segment {
    fd: OwnedFd,
    mapping: Mapping,
    kind: SegmentKind,
}

impl Segment {
    /// A new segment of `kind` whose body holds `body` bytes, zeroed. `name` shows in
    /// `/proc/PID/fd` (as `memfd:NAME`); nothing appears in `/dev/shm`.
    ///
    /// A ring segment is sealed for good; a payload segment keeps room for one more seal, the
    /// one [`freeze`](Self::freeze) adds.
    ///
    /// # Errors
    ///
    /// [`CreateSegmentError`] when the size is out of range or the kernel refuses.
    pub fn create(name: &str, kind: SegmentKind, body: usize) -> Result<Self, CreateSegmentError> {
        let len = SEGMENT_HEADER_BYTES as u64 + body as u64;
        if body == 0 || len > MAX_SEGMENT_BYTES {
            return Err(CreateSegmentError::Size { body });
        }
        let fd = sys::memfd(name).map_err(CreateSegmentError::File)?;
        sys::size_and_seal(&fd, len, kind == SegmentKind::Payload)
            .map_err(CreateSegmentError::File)?;
        let mapping =
            Mapping::map(&fd, len as usize, Access::ReadWrite).map_err(CreateSegmentError::Map)?;
        let header = mapping.words(0).unwrap_or(&[]);
        if let [magic, version, kind_word, len_word, ..] = header {
            version.store(VERSION, Ordering::Relaxed);
            kind_word.store(kind.code(), Ordering::Relaxed);
            len_word.store(len, Ordering::Relaxed);
            magic.store(MAGIC, Ordering::Release);
        }
        Ok(Self { fd, mapping, kind })
    }

    /// Maps a segment a peer passed, read-write, after checking that it is a memfd sealed
    /// against shrinking, of a sane size, with a valid header matching the file's length.
    ///
    /// # Errors
    ///
    /// [`AttachSegmentError`] for the first check that fails.
    pub fn attach(fd: OwnedFd) -> Result<Self, AttachSegmentError> {
        let (mapping, kind) = attach(&fd, Access::ReadWrite)?;
        Ok(Self { fd, mapping, kind })
    }

    /// What the body holds.
    pub fn kind(&self) -> SegmentKind {
        self.kind
    }

    /// The body's length in bytes.
    pub fn body_len(&self) -> usize {
        self.mapping.len() - SEGMENT_HEADER_BYTES
    }

    /// The memfd, to pass to another process.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Copies `bytes` into the body at `offset`.
    ///
    /// # Errors
    ///
    /// [`OutOfBounds`] when the range is not inside the body; nothing is written.
    pub fn write_at(&self, offset: usize, bytes: &[u8]) -> Result<(), OutOfBounds> {
        let out = OutOfBounds {
            offset,
            len: bytes.len(),
            body: self.body_len(),
        };
        let start = offset.checked_add(SEGMENT_HEADER_BYTES).ok_or(out)?;
        self.mapping.write(start, bytes).then_some(()).ok_or(out)
    }

    /// Copies body bytes from `offset` into `buf` (all of it).
    ///
    /// # Errors
    ///
    /// [`OutOfBounds`] when the range is not inside the body; nothing is read.
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<(), OutOfBounds> {
        read_at(&self.mapping, offset, buf)
    }

    /// Forbids, for good, every later write to the file and every writable mapping of it
    /// (`F_SEAL_FUTURE_WRITE`), in every process; this mapping keeps its access. A sender
    /// freezes a payload segment after writing it, so receivers cannot change what others read.
    ///
    /// # Errors
    ///
    /// The kernel's error: `EPERM` for a ring segment (sealed for good at creation), `EINVAL`
    /// before Linux 5.1.
    pub fn freeze(&self) -> io::Result<()> {
        sys::seal_future_writes(&self.fd)
    }
}

impl Memory for Segment {
    fn words(&self) -> &[AtomicU64] {
        self.mapping.words(SEGMENT_HEADER_BYTES).unwrap_or(&[])
    }
}

/// A segment a peer passed, mapped read-only: a receiver's view of a frozen payload segment.
#[derive(Debug)]
pub struct ReadOnlySegment {
    mapping: Mapping,
    kind: SegmentKind,
}

impl ReadOnlySegment {
    /// Maps a segment read-only, after the checks of [`Segment::attach`]. Works with a
    /// descriptor opened read-only or a frozen segment, which a read-write attach refuses.
    ///
    /// # Errors
    ///
    /// [`AttachSegmentError`] for the first check that fails.
    pub fn attach(fd: OwnedFd) -> Result<Self, AttachSegmentError> {
        let (mapping, kind) = attach(&fd, Access::ReadOnly)?;
        Ok(Self { mapping, kind })
    }

    /// What the body holds.
    pub fn kind(&self) -> SegmentKind {
        self.kind
    }

    /// The body's length in bytes.
    pub fn body_len(&self) -> usize {
        self.mapping.len() - SEGMENT_HEADER_BYTES
    }

    /// Copies body bytes from `offset` into `buf` (all of it).
    ///
    /// # Errors
    ///
    /// [`OutOfBounds`] when the range is not inside the body; nothing is read.
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<(), OutOfBounds> {
        read_at(&self.mapping, offset, buf)
    }
}

fn read_at(mapping: &Mapping, offset: usize, buf: &mut [u8]) -> Result<(), OutOfBounds> {
    let out = OutOfBounds {
        offset,
        len: buf.len(),
        body: mapping.len() - SEGMENT_HEADER_BYTES,
    };
    let start = offset.checked_add(SEGMENT_HEADER_BYTES).ok_or(out)?;
    mapping.read(start, buf).then_some(()).ok_or(out)
}

/// Checks and maps a peer's segment: seals first (so the size cannot change after it is read),
/// then size, then the header.
fn attach(fd: &OwnedFd, access: Access) -> Result<(Mapping, SegmentKind), AttachSegmentError> {
    let seals = sys::seals(fd).map_err(AttachSegmentError::NotMemfd)?;
    if !seals.contains(SealFlags::SHRINK) {
        return Err(AttachSegmentError::NotSealed);
    }
    let len = sys::file_len(fd).map_err(AttachSegmentError::NotMemfd)?;
    if len <= SEGMENT_HEADER_BYTES as u64 || len > MAX_SEGMENT_BYTES {
        return Err(AttachSegmentError::Size { len });
    }
    let mapping = Mapping::map(fd, len as usize, access).map_err(AttachSegmentError::Map)?;
    let mut header = [0u8; 32];
    mapping.read(0, &mut header);
    let word = |i: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&header[i * 8..i * 8 + 8]);
        u64::from_ne_bytes(bytes)
    };
    if word(0) != MAGIC {
        return Err(AttachSegmentError::Magic { found: word(0) });
    }
    if word(1) != VERSION {
        return Err(AttachSegmentError::Version { found: word(1) });
    }
    let kind =
        SegmentKind::from_code(word(2)).ok_or(AttachSegmentError::Kind { found: word(2) })?;
    if word(3) != len {
        return Err(AttachSegmentError::Length {
            header: word(3),
            file: len,
        });
    }
    debug_assert_eq!(mapping.access(), access);
    Ok((mapping, kind))
}

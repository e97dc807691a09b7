//! Shared memory for postbox: the fast path that co-located processes use beside the local
//! daemon.
//!
//! Four pieces, bottom up:
//!
//! - [`Segment`]: a memfd sized once and sealed against shrinking, mapped shared, with a header
//!   (magic, version, kind, length) that whoever attaches re-validates. Nothing appears in
//!   `/dev/shm`; a segment travels as a descriptor over the daemon's Unix socket
//!   ([`send_fd`], [`recv_fd`]). A payload segment is frozen once written
//!   ([`Segment::freeze`]) and mapped read-only by receivers ([`ReadOnlySegment`]).
//! - [`SealedPayload`]: a large message's payload in a memfd of its own, written once
//!   ([`PayloadBuffer`]), then sealed immutable, so every process it reaches reads it in place,
//!   as `Bytes`, after checking the seals and the length.
//! - [`PayloadPool`]: slots a sender recycles for its large payloads instead of making a sealed
//!   file per message; each message travels as the slot and a token whose closing everywhere
//!   frees the slot ([`PooledPayload`], [`receive_attached`]).
//! - [`Ring`]: a bounded, lock-free, multi-producer multi-consumer FIFO of fixed-size slots
//!   living in any [`Memory`] (a segment, or [`HeapMemory`]). Each slot carries an inline
//!   payload and its [`Meta`] (sender, type, priority). Non-blocking [`Ring::try_push`] and
//!   [`Ring::try_pop`]; blocking [`Ring::push`] and [`Ring::pop`] spin briefly, then sleep on a
//!   futex in the ring (woken only when someone sleeps, so the fast path makes no system call);
//!   [`Ring::reclaim`] closes the ring and hands the daemon every complete message, in order.
//! - [`lending`]: a mailbox the engine delegates, lent to a ring: the ring's shape for the
//!   engine's terms, and the translation of the ring's messages and counts back into the
//!   engine's, so the mailbox's sequence numbers and statistics stay exact.
//! - The contract with peers: shared memory is **untrusted input**. Every position, sequence
//!   number and length read from it is checked; no pointer is stored in it and no lock is
//!   shared. A peer writing garbage makes operations on that ring fail with `Corrupt` (never
//!   panic, never loop forever, never touch memory outside the mapping); a peer dying mid-write
//!   leaves a torn slot that receivers report ([`TryPopError::Incomplete`],
//!   [`PopError::Stalled`]) and [`Ring::reclaim`] skips. docs/shm.md has the byte layout and the
//!   protocol.
//!
//! ```
//! use postbox_shm::{Geometry, Meta, Ring, Segment, SegmentKind, TryPopError};
//!
//! // The owner creates a ring of 64 slots of up to 96 bytes in a sealed memfd...
//! let geometry = Geometry::new(64, 96)?;
//! let segment = Segment::create("mailbox", SegmentKind::Ring, geometry.bytes())?;
//! let ring = Ring::create(segment, geometry)?;
//!
//! // ...passes `ring.memory().fd()` to its peers (`send_fd`), which attach to it.
//! let meta = Meta { sender: 7, mtype: 1, priority: 0, sent_at: 0 };
//! ring.try_push(b"hello", meta)?;
//! let message = ring.try_pop()?.expect("a message");
//! assert_eq!((message.payload.as_slice(), message.meta), (&b"hello"[..], meta));
//! assert_eq!(ring.try_pop()?, None); // empty
//!
//! // The daemon takes the queue back; from then on the ring refuses everyone.
//! ring.try_push(b"late", meta)?;
//! let reclaimed = ring.reclaim()?;
//! assert_eq!(reclaimed.messages[0].payload, b"late");
//! assert_eq!(ring.try_pop(), Err(TryPopError::Reclaimed));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `unsafe` code lives in the private `sys` module alone, every block with a `// SAFETY:`
//! comment. The ring's atomics come from a shim (`sync`) that loom replaces under
//! `--cfg loom`, so `tests/loom.rs` model-checks the very code that runs.

#![deny(unsafe_code)]

#[cfg(not(loom))]
mod attached;
mod error;
#[cfg(not(loom))]
mod fd_passing;
mod geometry;
#[cfg(not(loom))]
mod kept_mappings;
#[cfg(not(loom))]
pub mod lending;
mod memory;
mod message;
#[cfg(not(loom))]
mod payload_pool;
#[cfg(not(loom))]
mod pooled_payload;
mod ring;
#[cfg(not(loom))]
mod sealed_payload;
#[cfg(not(loom))]
mod segment;
mod sync;
#[cfg(not(loom))]
#[allow(unsafe_code)]
mod sys;

#[cfg(not(loom))]
pub use attached::{Arrival, Outgoing, Receiving, receive_attached};
pub use error::{
    AttachError, Corruption, CreateError, GeometryError, PopError, PushError, ReclaimError,
    TryPopError, TryPushError,
};
#[cfg(not(loom))]
pub use fd_passing::{
    MAX_FDS_PER_READ, ReadWithFds, RecvFdError, recv_fd, recv_with_fds, send_fd, send_with_fds,
};
pub use geometry::{Geometry, MAX_CAPACITY, MAX_RING_BYTES, MAX_SLOT_PAYLOAD};
pub use memory::{HeapMemory, Memory};
pub use message::{Bounds, Message, Meta, Receipt, Taken};
#[cfg(not(loom))]
pub use payload_pool::{PayloadPool, PoolLimits, PooledBuffer};
#[cfg(not(loom))]
pub use pooled_payload::PooledPayload;
pub use ring::{Claim, Reclaimed, Ring, Stats};
#[cfg(not(loom))]
pub use sealed_payload::{AttachPayloadError, CreatePayloadError, PayloadBuffer, SealedPayload};
#[cfg(not(loom))]
pub use segment::{
    AttachSegmentError, CreateSegmentError, MAX_SEGMENT_BYTES, OutOfBounds, ReadOnlySegment,
    SEGMENT_HEADER_BYTES, Segment, SegmentKind,
};
#[cfg(not(loom))]
pub use sys::Prefault;

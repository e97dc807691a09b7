//! The ring: a bounded multi-producer multi-consumer FIFO of fixed-size slots in shared memory,
//! after Dmitry Vyukov's bounded queue (as in crossbeam's `ArrayQueue`), made safe against peers
//! that die mid-operation or write garbage. docs/shm.md describes every word and the protocol.

#[cfg(not(loom))]
use std::time::{Duration, Instant};

use crate::error::{AttachError, Corruption, CreateError, ReclaimError, TryPopError, TryPushError};
#[cfg(not(loom))]
use crate::error::{PopError, PushError};
use crate::geometry::{
    Geometry, HEADER_WORDS, MAGIC, S_LEN, S_MTYPE, S_SENDER, S_SENT_AT, S_SEQ, SLOT_HEADER_WORDS,
    VERSION, W_ABANDONED, W_BYTE_LIMIT, W_CAPACITY, W_HEAD, W_LAST_RECEIVED_AT, W_LAST_RECEIVER,
    W_MAGIC, W_MESSAGE_LIMIT, W_QUEUED_BYTES, W_RECV_EVENT, W_RECV_WAITERS, W_SEND_EVENT,
    W_SEND_WAITERS, W_SLOT_PAYLOAD, W_TAIL, W_VERSION,
};
use crate::memory::Memory;
use crate::message::{Bounds, Message, Meta, Receipt, Taken};
use crate::sync::{AtomicU64, Ordering, spin_hint, wake_all};

/// Set in the head and tail positions once the ring is reclaimed: no slot is claimed after.
const CLOSED: u64 = 1 << 63;
/// Set in a slot's length word when its writer gave the claim up: readers skip the slot.
const ABANDONED: u64 = 1 << 48;
/// Bits of the length word holding the payload length.
const LEN_MASK: u64 = 0xffff_ffff;
/// Attempts after which positions that keep moving under an operation count as corruption.
/// Honest contention loses a compare-and-swap only when another operation succeeds; a million
/// losses in a row means a peer is rewriting the positions.
const MAX_ATTEMPTS: u32 = 1 << 20;
/// Rounds of busy polling before yielding, at most: the pause between polls grows to 8 spin
/// hints (a longer pause answers a steady stream late; 1,007 hints in all). Each ring handle
/// adapts its own budget between this and [`MIN_SPIN_ROUNDS`] (see `Ring::wait`).
#[cfg(not(loom))]
const SPIN_ROUNDS: u32 = 128;
/// Rounds of busy polling before yielding, at least (3 spin hints).
#[cfg(not(loom))]
const MIN_SPIN_ROUNDS: u32 = 2;
/// A `yield_now` that takes this long ran another thread on this CPU in the meantime; one that
/// found nothing else to run returns in a fraction of it.
#[cfg(not(loom))]
const SWITCHED: Duration = Duration::from_nanos(750);
/// Rounds of `yield_now` polling before sleeping.
#[cfg(not(loom))]
const YIELD_ROUNDS: u32 = 8;
/// The first futex sleep of a wait, at most. A sleeper re-checks after each sleep, so a wake
/// lost to a hostile peer (which can zero the waiters count) costs latency, never liveness.
#[cfg(not(loom))]
const SLEEP_SLICE: Duration = Duration::from_millis(100);
/// The longest futex sleep: sleeps double from [`SLEEP_SLICE`] up to this, so a receiver idle
/// for long wakes less than once a second (ten times a second cost 0.06–0.12% of a CPU here).
#[cfg(not(loom))]
const MAX_SLEEP_SLICE: Duration = Duration::from_millis(1600);

/// A ring in `M`: created by its owner, attached by its users, reclaimed by the daemon.
///
/// Every operation takes `&self`; share a ring among threads with `Arc`. Geometry is read once
/// (and validated) when the ring is created or attached; positions, sequence and length words
/// are re-read and checked on every operation, because any process mapping the memory can
/// write them.
#[derive(Debug)]
pub struct Ring<M: Memory> {
    memory: M,
    geometry: Geometry,
    /// The bounds, as validated when the ring was created or attached.
    bounds: Bounds,
    /// Whether the byte bound can bind (it is below what the message bound's slots can hold):
    /// only then do senders and receivers count queued bytes in the ring.
    counts_bytes: bool,
    /// `capacity - 1`: a position's slot index is `pos & mask`.
    mask: u64,
    /// How many rounds this handle's waiters poll before they yield: this process's own
    /// estimate of whether spinning pays, never in shared memory.
    #[cfg(not(loom))]
    spin_rounds: std::sync::atomic::AtomicU32,
}

/// Counts read from the ring's shared words (so only as honest as its peers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Slots ever claimed by senders: messages pushed, plus claims abandoned or torn.
    pub pushed: u64,
    /// Slots ever taken by receivers: messages popped, plus abandoned slots skipped.
    pub popped: u64,
    /// `pushed - popped`: messages queued, including any still being written.
    pub queued: u64,
    /// Claims given up by their writers (a [`Claim`] dropped without commit).
    pub abandoned: u64,
    /// Receivers registered as sleeping (or about to sleep) in [`Ring::pop`].
    pub receivers_waiting: u64,
    /// Senders registered as sleeping (or about to sleep) in [`Ring::push`].
    pub senders_waiting: u64,
    /// Whether the ring has been reclaimed.
    pub reclaimed: bool,
}

/// What [`Ring::reclaim`] recovered: the whole queue, in order, and what the ring's counts say
/// happened meanwhile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reclaimed {
    /// Every complete message that was queued, oldest first.
    pub messages: Vec<Message>,
    /// The position the next claim would have had: every slot ever claimed, committed or not.
    pub next_pos: u64,
    /// Claims ever given up by their writers (a peer's count), including any skipped here.
    pub abandoned_total: u64,
    /// The newest committed message's words, whether taken or still queued, if the ring still
    /// holds them.
    pub last_sent: Option<Meta>,
    /// The last receive its receivers reported.
    pub last_receipt: Option<Receipt>,
    /// Slots claimed but never committed (their writer died, or was still writing and is told
    /// [`TryPushError::Reclaimed`]): skipped.
    pub torn: u64,
    /// Slots whose writer gave the claim up: skipped.
    pub abandoned: u64,
}

/// A slot claimed and written but not yet visible to receivers: [`Claim::commit`] publishes it.
///
/// Dropping a claim without committing abandons the slot: receivers skip it. A writer that
/// dies holding a claim leaves the slot *torn*: receivers behind it see
/// [`TryPopError::Incomplete`] until the daemon reclaims the ring.
#[derive(Debug)]
#[must_use = "a claim that is not committed is abandoned"]
pub struct Claim<'a, M: Memory> {
    ring: &'a Ring<M>,
    pos: u64,
    done: bool,
}

impl<M: Memory> Claim<'_, M> {
    /// Publishes the message: receivers can take it from now on.
    ///
    /// # Errors
    ///
    /// [`TryPushError::Reclaimed`] if the daemon reclaimed the ring first (the message is not
    /// queued); [`TryPushError::Corrupt`] if a peer rewrote the slot.
    pub fn commit(mut self) -> Result<(), TryPushError> {
        self.done = true;
        self.ring.commit(self.pos)
    }
}

impl<M: Memory> Drop for Claim<'_, M> {
    fn drop(&mut self) {
        if !self.done {
            self.ring.abandon(self.pos);
        }
    }
}

impl<M: Memory> Ring<M> {
    /// Formats `memory` as an empty ring of `geometry`, writing its header last.
    ///
    /// # Errors
    ///
    /// [`CreateError::TooSmall`] when `memory` holds fewer than
    /// [`Geometry::bytes`] bytes.
    pub fn create(memory: M, geometry: Geometry) -> Result<Self, CreateError> {
        let bounds = Bounds {
            messages: geometry.capacity() as u64,
            bytes: u64::MAX,
        };
        Self::create_bounded(memory, geometry, bounds)
    }

    /// As [`create`](Self::create), but holding at most `bounds` at once: fewer messages than
    /// the ring has slots, and fewer payload bytes than they hold. Senders see `Full` at either
    /// bound, exactly as a mailbox with those bounds answers.
    ///
    /// # Errors
    ///
    /// As [`create`](Self::create), and [`CreateError::Bounds`] when `bounds.messages` is 0 or
    /// more than the ring's capacity.
    pub fn create_bounded(
        memory: M,
        geometry: Geometry,
        bounds: Bounds,
    ) -> Result<Self, CreateError> {
        if !(1..=geometry.capacity() as u64).contains(&bounds.messages) {
            return Err(CreateError::Bounds {
                messages: bounds.messages,
                capacity: geometry.capacity(),
            });
        }
        let words = memory.words();
        let needed = geometry.bytes();
        if words.len() * 8 < needed {
            return Err(CreateError::TooSmall {
                needed,
                available: words.len() * 8,
            });
        }
        // Nobody attaches before the creator passes the memory on; clearing the magic first and
        // writing it last (release) is for an attacher that comes too early anyway: it is
        // refused rather than shown an old ring's header.
        words[W_MAGIC].store(0, Ordering::Relaxed);
        for word in &words[1..needed / 8] {
            word.store(0, Ordering::Relaxed);
        }
        for slot in 0..geometry.capacity() {
            words[geometry.slot_word(slot, S_SEQ)].store(slot as u64, Ordering::Relaxed);
        }
        words[W_VERSION].store(VERSION, Ordering::Relaxed);
        words[W_CAPACITY].store(geometry.capacity() as u64, Ordering::Relaxed);
        words[W_SLOT_PAYLOAD].store(geometry.slot_payload() as u64, Ordering::Relaxed);
        words[W_MESSAGE_LIMIT].store(bounds.messages, Ordering::Relaxed);
        words[W_BYTE_LIMIT].store(bounds.bytes, Ordering::Relaxed);
        words[W_MAGIC].store(MAGIC, Ordering::Release);
        Ok(Self::new(memory, geometry, bounds))
    }

    /// Attaches to a ring another process created in `memory`, after validating its header.
    ///
    /// # Errors
    ///
    /// [`AttachError`] when the memory does not hold a valid ring header of this version, or
    /// is smaller than the header's geometry needs.
    pub fn attach(memory: M) -> Result<Self, AttachError> {
        let words = memory.words();
        if words.len() < HEADER_WORDS {
            return Err(AttachError::TooShort {
                available: words.len() * 8,
            });
        }
        let magic = words[W_MAGIC].load(Ordering::Acquire);
        if magic != MAGIC {
            return Err(AttachError::Magic { found: magic });
        }
        let version = words[W_VERSION].load(Ordering::Relaxed);
        if version != VERSION {
            return Err(AttachError::Version { found: version });
        }
        let capacity = words[W_CAPACITY].load(Ordering::Relaxed);
        let slot_payload = words[W_SLOT_PAYLOAD].load(Ordering::Relaxed);
        let geometry = Geometry::new(
            usize::try_from(capacity).unwrap_or(usize::MAX),
            usize::try_from(slot_payload).unwrap_or(usize::MAX),
        )
        .map_err(AttachError::Geometry)?;
        if geometry.slot_payload() as u64 != slot_payload {
            // `Geometry::new` rounds up; a stored value must already be a multiple of 8.
            return Err(AttachError::Geometry(
                crate::error::GeometryError::SlotPayload {
                    slot_payload: slot_payload as usize,
                },
            ));
        }
        if words.len() * 8 < geometry.bytes() {
            return Err(AttachError::TooSmall {
                needed: geometry.bytes(),
                available: words.len() * 8,
            });
        }
        let bounds = Bounds {
            messages: words[W_MESSAGE_LIMIT].load(Ordering::Relaxed),
            bytes: words[W_BYTE_LIMIT].load(Ordering::Relaxed),
        };
        if !(1..=geometry.capacity() as u64).contains(&bounds.messages) {
            return Err(AttachError::Bounds {
                messages: bounds.messages,
                capacity: geometry.capacity(),
            });
        }
        Ok(Self::new(memory, geometry, bounds))
    }

    fn new(memory: M, geometry: Geometry, bounds: Bounds) -> Self {
        let mask = geometry.capacity() as u64 - 1;
        let slots_hold = bounds
            .messages
            .saturating_mul(geometry.slot_payload() as u64);
        Self {
            memory,
            geometry,
            bounds,
            counts_bytes: bounds.bytes < slots_hold,
            mask,
            #[cfg(not(loom))]
            spin_rounds: std::sync::atomic::AtomicU32::new(SPIN_ROUNDS),
        }
    }

    /// The ring's geometry, as validated when it was created or attached.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The ring's bounds, as validated when it was created or attached.
    pub fn bounds(&self) -> Bounds {
        self.bounds
    }

    /// The memory the ring lives in (for a [`Segment`](crate::Segment), its descriptor to pass
    /// on).
    pub fn memory(&self) -> &M {
        &self.memory
    }

    fn word(&self, index: usize) -> &AtomicU64 {
        &self.memory.words()[index]
    }

    fn slot_word(&self, pos: u64, word: usize) -> &AtomicU64 {
        self.word(self.geometry.slot_word((pos & self.mask) as usize, word))
    }

    /// Queues a message if a slot is free and the bounds let it in, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryPushError::Full`] when no slot is free or a bound is reached, [`TryPushError::TooLarge`] when `payload`
    /// exceeds [`Geometry::slot_payload`], [`TryPushError::Reclaimed`] once the daemon has
    /// reclaimed the ring, [`TryPushError::Corrupt`] when a peer broke the ring.
    pub fn try_push(&self, payload: &[u8], meta: Meta) -> Result<(), TryPushError> {
        self.try_claim(payload, meta)?.commit()
    }

    /// Claims a free slot and writes the message into it, without publishing it yet: the
    /// first half of [`try_push`](Self::try_push). Receivers cannot pass the claimed slot
    /// until it is committed or abandoned, so commit promptly.
    ///
    /// # Errors
    ///
    /// As [`try_push`](Self::try_push).
    pub fn try_claim(&self, payload: &[u8], meta: Meta) -> Result<Claim<'_, M>, TryPushError> {
        let max = self.geometry.slot_payload();
        if payload.len() > max {
            return Err(TryPushError::TooLarge {
                len: payload.len(),
                max,
            });
        }
        let len = payload.len() as u64;
        if self.counts_bytes {
            self.reserve_bytes(len)?;
        }
        let pos = match self.claim_slot() {
            Ok(pos) => pos,
            Err(error) => {
                if self.counts_bytes {
                    self.release_bytes(len);
                }
                return Err(error);
            }
        };
        let words = self.memory.words();
        let base = self.geometry.slot_word((pos & self.mask) as usize, 0);
        let len_word = len | u64::from(meta.priority) << 32;
        words[base + S_LEN].store(len_word, Ordering::Relaxed);
        words[base + S_MTYPE].store(meta.mtype as u64, Ordering::Relaxed);
        words[base + S_SENDER].store(meta.sender, Ordering::Relaxed);
        words[base + S_SENT_AT].store(meta.sent_at, Ordering::Relaxed);
        write_words(&words[base + SLOT_HEADER_WORDS..], payload);
        Ok(Claim {
            ring: self,
            pos,
            done: false,
        })
    }

    /// Counts `len` more bytes queued, unless that passes the byte bound (`Full`). A peer that
    /// rewrote the count can make the ring look full; it cannot make it hold more.
    fn reserve_bytes(&self, len: u64) -> Result<(), TryPushError> {
        let queued = self.word(W_QUEUED_BYTES);
        let before = queued.fetch_add(len, Ordering::Relaxed);
        if before.saturating_add(len) > self.bounds.bytes {
            queued.fetch_sub(len, Ordering::Relaxed);
            // A reclaimed ring keeps its count: say so, or a sender would wait for room forever.
            if self.word(W_TAIL).load(Ordering::Acquire) & CLOSED != 0 {
                return Err(TryPushError::Reclaimed);
            }
            return Err(TryPushError::Full);
        }
        Ok(())
    }

    /// Counts `len` bytes no longer queued.
    fn release_bytes(&self, len: u64) {
        self.word(W_QUEUED_BYTES).fetch_sub(len, Ordering::Relaxed);
    }

    /// Moves the tail past a free slot and returns its position.
    ///
    /// Below the capacity, the message bound is checked against the head read after the tail:
    /// the head only grows, so the count read is at least the count when the tail moves, and
    /// the bound is never passed.
    fn claim_slot(&self) -> Result<u64, TryPushError> {
        let bounded = self.bounds.messages < self.geometry.capacity() as u64;
        let tail_word = self.word(W_TAIL);
        let mut tail = tail_word.load(Ordering::Relaxed);
        for _ in 0..MAX_ATTEMPTS {
            if tail & CLOSED != 0 {
                return Err(TryPushError::Reclaimed);
            }
            if bounded {
                let head = self.word(W_HEAD).load(Ordering::Acquire) & !CLOSED;
                if head > tail {
                    // The tail read is older than the head: read it again.
                    tail = tail_word.load(Ordering::Relaxed);
                    spin_hint();
                    continue;
                }
                if tail - head >= self.bounds.messages {
                    return Err(TryPushError::Full);
                }
            }
            let seq = self.slot_word(tail, S_SEQ).load(Ordering::Acquire);
            let ahead = seq.wrapping_sub(tail) as i64;
            if ahead == 0 {
                // Acquire-release, so the reclaimer (which reads the tail with an
                // acquire-release read-modify-write) sees the slot as free or later.
                match tail_word.compare_exchange(
                    tail,
                    tail + 1,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Ok(tail),
                    Err(now) => tail = now,
                }
            } else if ahead < 0 {
                // The slot's previous message is unread, or still being written or read.
                return Err(TryPushError::Full);
            } else {
                // Another sender took this position; the tail must have moved on.
                let now = tail_word.load(Ordering::Relaxed);
                if now == tail {
                    return Err(TryPushError::Corrupt(Corruption::Sequence {
                        pos: tail,
                        seq,
                    }));
                }
                tail = now;
            }
            spin_hint();
        }
        Err(TryPushError::Corrupt(Corruption::NoProgress {
            attempts: MAX_ATTEMPTS,
        }))
    }

    /// Publishes the slot at `pos`. A compare-and-swap, not a store, so that the reclaimer
    /// tearing the slot and this writer committing it cannot both win.
    fn commit(&self, pos: u64) -> Result<(), TryPushError> {
        let seq = self.slot_word(pos, S_SEQ);
        match seq.compare_exchange(pos, pos + 1, Ordering::SeqCst, Ordering::Acquire) {
            Ok(_) => {
                self.wake(W_RECV_WAITERS, W_RECV_EVENT);
                Ok(())
            }
            Err(found) => {
                if self.word(W_TAIL).load(Ordering::Acquire) & CLOSED != 0 {
                    Err(TryPushError::Reclaimed)
                } else {
                    Err(TryPushError::Corrupt(Corruption::Sequence {
                        pos,
                        seq: found,
                    }))
                }
            }
        }
    }

    /// Marks the slot at `pos` given up, then publishes it so receivers pass it.
    fn abandon(&self, pos: u64) {
        let len = self.slot_word(pos, S_LEN);
        len.store(len.load(Ordering::Relaxed) | ABANDONED, Ordering::Relaxed);
        self.word(W_ABANDONED).fetch_add(1, Ordering::Relaxed);
        // Failing means the ring was reclaimed (or corrupted): nobody will read the slot.
        let _ = self.commit(pos);
    }

    /// Wakes the sleepers counted in `waiters`, if any: a load on the fast path, a system call
    /// only when someone sleeps. The load is sequentially consistent, and so is the write that
    /// precedes it (the commit or release), pairing with the sleeper's increment and fence.
    fn wake(&self, waiters: usize, event: usize) {
        if self.word(waiters).load(Ordering::SeqCst) != 0 {
            let event = self.word(event);
            event.fetch_add(1, Ordering::SeqCst);
            wake_all(event);
        }
    }

    /// Takes the oldest message, if one is complete, without waiting.
    ///
    /// `Ok(None)` means the ring is empty.
    ///
    /// # Errors
    ///
    /// [`TryPopError::Incomplete`] when the oldest message is claimed but not committed (its
    /// writer is writing it, or died: see [`Ring::reclaim`]), [`TryPopError::Reclaimed`] once
    /// the daemon has reclaimed the ring, [`TryPopError::Corrupt`] when a peer broke the ring.
    pub fn try_pop(&self) -> Result<Option<Message>, TryPopError> {
        let mut payload = Vec::new();
        Ok(self.try_pop_into(&mut payload)?.map(|taken| Message {
            payload,
            meta: taken.meta,
            pos: taken.pos,
        }))
    }

    /// As [`try_pop`](Self::try_pop), but writes the payload into `payload` (replacing its
    /// contents, reusing its allocation) and returns the message's [`Meta`] and position.
    ///
    /// # Errors
    ///
    /// As [`try_pop`](Self::try_pop).
    pub fn try_pop_into(&self, payload: &mut Vec<u8>) -> Result<Option<Taken>, TryPopError> {
        let head_word = self.word(W_HEAD);
        let mut head = head_word.load(Ordering::Relaxed);
        for _ in 0..MAX_ATTEMPTS {
            if head & CLOSED != 0 {
                return Err(TryPopError::Reclaimed);
            }
            let seq_word = self.slot_word(head, S_SEQ);
            let seq = seq_word.load(Ordering::Acquire);
            let ahead = seq.wrapping_sub(head + 1) as i64;
            if ahead == 0 {
                match head_word.compare_exchange(
                    head,
                    head + 1,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        let read = self.read_slot(head, payload);
                        let len = self.slot_word(head, S_LEN).load(Ordering::Relaxed) & LEN_MASK;
                        // Free the slot for the sender one lap later.
                        seq_word.store(head + self.geometry.capacity() as u64, Ordering::SeqCst);
                        if self.counts_bytes {
                            self.release_bytes(len);
                        }
                        self.wake(W_SEND_WAITERS, W_SEND_EVENT);
                        match read {
                            Ok(Some(meta)) => return Ok(Some(Taken { meta, pos: head })),
                            Ok(None) => head += 1, // abandoned: skip it
                            Err(corruption) => return Err(TryPopError::Corrupt(corruption)),
                        }
                        continue;
                    }
                    Err(now) => head = now,
                }
            } else if ahead < 0 {
                let tail = self.word(W_TAIL).load(Ordering::Acquire);
                if tail & CLOSED != 0 {
                    return Err(TryPopError::Reclaimed);
                }
                return if tail > head {
                    Err(TryPopError::Incomplete)
                } else {
                    Ok(None)
                };
            } else {
                // Another receiver took this position; the head must have moved on.
                let now = head_word.load(Ordering::Relaxed);
                if now == head {
                    return Err(TryPopError::Corrupt(Corruption::Sequence {
                        pos: head,
                        seq,
                    }));
                }
                head = now;
            }
            spin_hint();
        }
        Err(TryPopError::Corrupt(Corruption::NoProgress {
            attempts: MAX_ATTEMPTS,
        }))
    }

    /// Copies the committed slot at `pos` out: `Ok(None)` if it was abandoned.
    fn read_slot(&self, pos: u64, payload: &mut Vec<u8>) -> Result<Option<Meta>, Corruption> {
        let words = self.memory.words();
        let base = self.geometry.slot_word((pos & self.mask) as usize, 0);
        let len_word = words[base + S_LEN].load(Ordering::Relaxed);
        if len_word & ABANDONED != 0 {
            return Ok(None);
        }
        let len = len_word & LEN_MASK;
        let max = self.geometry.slot_payload();
        if len > max as u64 {
            return Err(Corruption::Length { len, max });
        }
        let len = len as usize;
        let meta = Meta {
            sender: words[base + S_SENDER].load(Ordering::Relaxed),
            mtype: words[base + S_MTYPE].load(Ordering::Relaxed) as i64,
            priority: (len_word >> 32) as u16,
            sent_at: words[base + S_SENT_AT].load(Ordering::Relaxed),
        };
        read_words(&words[base + SLOT_HEADER_WORDS..], len, payload);
        Ok(Some(meta))
    }

    /// Closes the ring for good and takes back the whole queue: every complete message, in
    /// order, skipping torn and abandoned slots. For the trusted side (the daemon), when it
    /// takes the mailbox back or a user of the ring died.
    ///
    /// From the moment it starts, no slot can be claimed or taken: senders get `Reclaimed`
    /// (including a live sender whose claimed slot is torn here: its commit fails, so it still
    /// holds its message), receivers get `Reclaimed`, and every sleeper wakes. A second call
    /// recovers nothing.
    ///
    /// # Errors
    ///
    /// [`ReclaimError::Corrupt`] when a peer broke the ring; it carries the complete messages
    /// recovered before the corruption.
    pub fn reclaim(&self) -> Result<Reclaimed, ReclaimError> {
        let tail = self.word(W_TAIL).fetch_or(CLOSED, Ordering::AcqRel);
        let head = self.word(W_HEAD).fetch_or(CLOSED, Ordering::AcqRel);
        for event in [W_RECV_EVENT, W_SEND_EVENT] {
            self.word(event).fetch_add(1, Ordering::SeqCst);
            wake_all(self.word(event));
        }
        let mut out = Reclaimed::default();
        if head & CLOSED != 0 {
            return Ok(out);
        }
        let tail = tail & !CLOSED;
        out.next_pos = tail;
        out.abandoned_total = self.word(W_ABANDONED).load(Ordering::Relaxed);
        out.last_receipt = self.last_receipt();
        out.last_sent = self.last_sent(tail);
        let capacity = self.geometry.capacity() as u64;
        if tail < head || tail - head > capacity {
            let corruption = Corruption::Positions { head, tail };
            return Err(ReclaimError::Corrupt {
                corruption,
                recovered: out.messages,
            });
        }
        for pos in head..tail {
            let seq_word = self.slot_word(pos, S_SEQ);
            let mut seq = seq_word.load(Ordering::Acquire);
            if seq == pos {
                // Claimed, not committed: tear it, unless its writer commits first.
                match seq_word.compare_exchange(
                    pos,
                    pos + capacity,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => {
                        out.torn += 1;
                        continue;
                    }
                    Err(now) => seq = now,
                }
            }
            if seq != pos + 1 {
                let corruption = Corruption::Sequence { pos, seq };
                return Err(ReclaimError::Corrupt {
                    corruption,
                    recovered: out.messages,
                });
            }
            let mut payload = Vec::new();
            match self.read_slot(pos, &mut payload) {
                Ok(Some(meta)) => out.messages.push(Message { payload, meta, pos }),
                Ok(None) => out.abandoned += 1,
                Err(corruption) => {
                    return Err(ReclaimError::Corrupt {
                        corruption,
                        recovered: out.messages,
                    });
                }
            }
            seq_word.store(pos + capacity, Ordering::Release);
        }
        Ok(out)
    }

    /// Reports a receive, for the mailbox's statistics: a receiver calls it after taking a
    /// message (two plain stores on the head's cache line, which the take just wrote).
    pub fn note_receipt(&self, receipt: Receipt) {
        self.word(W_LAST_RECEIVER)
            .store(receipt.receiver, Ordering::Relaxed);
        self.word(W_LAST_RECEIVED_AT)
            .store(receipt.at, Ordering::Relaxed);
    }

    /// The last receive reported with [`note_receipt`](Self::note_receipt), if any (a receiver
    /// pid of 0 means none).
    pub fn last_receipt(&self) -> Option<Receipt> {
        let receiver = self.word(W_LAST_RECEIVER).load(Ordering::Relaxed);
        let at = self.word(W_LAST_RECEIVED_AT).load(Ordering::Relaxed);
        (receiver != 0).then_some(Receipt { receiver, at })
    }

    /// The words of the newest committed, not abandoned, message among the last slots before
    /// `tail` — taken or not, a slot keeps its words until a sender reuses it a lap later, which
    /// cannot happen before the tail passes it. Looks back one lap at most (and never before
    /// position 0); only for the reclaimer, with the positions closed.
    fn last_sent(&self, tail: u64) -> Option<Meta> {
        let capacity = self.geometry.capacity() as u64;
        let oldest = tail.saturating_sub(capacity);
        let words = self.memory.words();
        for pos in (oldest..tail).rev() {
            let seq = self.slot_word(pos, S_SEQ).load(Ordering::Acquire);
            // Committed (pos + 1), or taken and freed (pos + capacity).
            if seq != pos + 1 && seq != pos + capacity {
                continue;
            }
            let base = self.geometry.slot_word((pos & self.mask) as usize, 0);
            let len_word = words[base + S_LEN].load(Ordering::Relaxed);
            if len_word & ABANDONED != 0 {
                continue;
            }
            return Some(Meta {
                sender: words[base + S_SENDER].load(Ordering::Relaxed),
                mtype: words[base + S_MTYPE].load(Ordering::Relaxed) as i64,
                priority: (len_word >> 32) as u16,
                sent_at: words[base + S_SENT_AT].load(Ordering::Relaxed),
            });
        }
        None
    }

    /// The ring's counts, read from its shared words.
    pub fn stats(&self) -> Stats {
        let tail = self.word(W_TAIL).load(Ordering::Relaxed);
        let head = self.word(W_HEAD).load(Ordering::Relaxed);
        let pushed = tail & !CLOSED;
        let popped = head & !CLOSED;
        Stats {
            pushed,
            popped,
            queued: pushed.saturating_sub(popped),
            abandoned: self.word(W_ABANDONED).load(Ordering::Relaxed),
            receivers_waiting: self.word(W_RECV_WAITERS).load(Ordering::Relaxed),
            senders_waiting: self.word(W_SEND_WAITERS).load(Ordering::Relaxed),
            reclaimed: (tail | head) & CLOSED != 0,
        }
    }
}

/// Copies `payload` into the words that start at `words[0]`, the last one zero-padded.
///
/// Whole words go through fixed-size chunks, so each is one load and one store (a loop over
/// `chunks(8)` copied every word with a call to `memcpy`, which made a 1 MiB payload several
/// times dearer to copy).
fn write_words(words: &[AtomicU64], payload: &[u8]) {
    let chunks = payload.chunks_exact(8);
    let tail = chunks.remainder();
    let mut words = words.iter();
    // Chunks first: `zip` takes from its first iterator before its second, and the word after
    // the last whole chunk must stay in `words` for the tail.
    for (chunk, word) in chunks.zip(words.by_ref()) {
        let bytes: [u8; 8] = chunk.try_into().unwrap_or_default();
        word.store(u64::from_le_bytes(bytes), Ordering::Relaxed);
    }
    if !tail.is_empty() {
        let mut bytes = [0u8; 8];
        bytes[..tail.len()].copy_from_slice(tail);
        if let Some(word) = words.next() {
            word.store(u64::from_le_bytes(bytes), Ordering::Relaxed);
        }
    }
}

/// Copies `len` bytes out of the words that start at `words[0]` into `payload`, replacing its
/// contents. `payload` is resized, not cleared first: a buffer reused for messages of one size
/// is never zero-filled again.
fn read_words(words: &[AtomicU64], len: usize, payload: &mut Vec<u8>) {
    payload.resize(len, 0);
    let mut chunks = payload.chunks_exact_mut(8);
    let mut words = words.iter();
    // Chunks first, as in `write_words`.
    for (chunk, word) in chunks.by_ref().zip(words.by_ref()) {
        chunk.copy_from_slice(&word.load(Ordering::Relaxed).to_le_bytes());
    }
    let tail = chunks.into_remainder();
    if let (false, Some(word)) = (tail.is_empty(), words.next()) {
        let n = tail.len();
        tail.copy_from_slice(&word.load(Ordering::Relaxed).to_le_bytes()[..n]);
    }
}

#[cfg(not(loom))]
impl<M: Memory> Ring<M> {
    /// Queues a message, waiting for a free slot until `deadline` (`None`: as long as it
    /// takes): busy polling briefly, then yielding, then sleeping on a futex in the ring that
    /// receivers wake when they free a slot (only when someone sleeps, so the fast path makes
    /// no system call).
    ///
    /// # Errors
    ///
    /// [`PushError::Timeout`] when the deadline passes with the ring full; the others as
    /// [`try_push`](Self::try_push).
    pub fn push(
        &self,
        payload: &[u8],
        meta: Meta,
        deadline: Option<Instant>,
    ) -> Result<(), PushError> {
        let attempt = || match self.try_push(payload, meta) {
            Ok(()) => Some(Ok(())),
            Err(TryPushError::Full) => None,
            Err(TryPushError::TooLarge { len, max }) => Some(Err(PushError::TooLarge { len, max })),
            Err(TryPushError::Reclaimed) => Some(Err(PushError::Reclaimed)),
            Err(TryPushError::Corrupt(c)) => Some(Err(PushError::Corrupt(c))),
        };
        self.wait(W_SEND_WAITERS, W_SEND_EVENT, deadline, attempt)
            .unwrap_or(Err(PushError::Timeout))
    }

    /// Takes the oldest message, waiting until `deadline` (`None`: as long as it takes) as
    /// [`push`](Self::push) does, woken by senders' commits.
    ///
    /// # Errors
    ///
    /// [`PopError::Timeout`] when the deadline passes with the ring empty;
    /// [`PopError::Stalled`] when it passes with the oldest message still uncommitted (ask the
    /// daemon, which reclaims the ring if its writer is dead); [`PopError::Reclaimed`] and
    /// [`PopError::Corrupt`] as for [`try_pop`](Self::try_pop).
    pub fn pop(&self, deadline: Option<Instant>) -> Result<Message, PopError> {
        let mut payload = Vec::new();
        let taken = self.pop_into(&mut payload, deadline)?;
        Ok(Message {
            payload,
            meta: taken.meta,
            pos: taken.pos,
        })
    }

    /// As [`pop`](Self::pop), but writes the payload into `payload` (replacing its contents,
    /// reusing its allocation) and returns the message's [`Meta`]: a receiver in a loop
    /// allocates nothing.
    ///
    /// # Errors
    ///
    /// As [`pop`](Self::pop); `payload` is left unspecified.
    pub fn pop_into(
        &self,
        payload: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<Taken, PopError> {
        let mut stalled = false;
        let attempt = || match self.try_pop_into(payload) {
            Ok(Some(taken)) => Some(Ok(taken)),
            Ok(None) => {
                stalled = false;
                None
            }
            Err(TryPopError::Incomplete) => {
                stalled = true;
                None
            }
            Err(TryPopError::Reclaimed) => Some(Err(PopError::Reclaimed)),
            Err(TryPopError::Corrupt(c)) => Some(Err(PopError::Corrupt(c))),
        };
        let outcome = self.wait(W_RECV_WAITERS, W_RECV_EVENT, deadline, attempt);
        outcome.unwrap_or(Err(if stalled {
            PopError::Stalled
        } else {
            PopError::Timeout
        }))
    }

    /// Calls `attempt` until it answers or `deadline` passes (then `None`): spinning, yielding,
    /// then sleeping on the `event` futex, counted in `waiters` so wakers know to call.
    ///
    /// Spinning pays only while the peer runs on another CPU. When the peer shares this CPU,
    /// nothing can arrive until this thread yields, and a full budget of spinning (tens of
    /// microseconds) is pure delay, on every wait. So the budget adapts, per handle: it doubles
    /// (up to [`SPIN_ROUNDS`]) when the answer came while spinning, or after yields that ran
    /// nothing else (spinning longer would have caught it); it halves (down to
    /// [`MIN_SPIN_ROUNDS`]) when the answer came after a yield that ran another thread here
    /// ([`SWITCHED`]): most likely the peer, which could not answer before.
    fn wait<T>(
        &self,
        waiters: usize,
        event: usize,
        deadline: Option<Instant>,
        mut attempt: impl FnMut() -> Option<T>,
    ) -> Option<T> {
        use std::sync::atomic::Ordering::Relaxed;
        let budget = self.spin_rounds.load(Relaxed);
        for round in 0..budget {
            if let Some(answer) = attempt() {
                if round > 0 && budget < SPIN_ROUNDS {
                    self.spin_rounds
                        .store((budget * 2).min(SPIN_ROUNDS), Relaxed);
                }
                return Some(answer);
            }
            for _ in 0..1u32 << round.min(3) {
                spin_hint();
            }
        }
        let mut switched = false;
        for _ in 0..YIELD_ROUNDS {
            if let Some(answer) = attempt() {
                let budget = if switched {
                    (budget / 2).max(MIN_SPIN_ROUNDS)
                } else {
                    (budget * 2).min(SPIN_ROUNDS)
                };
                self.spin_rounds.store(budget, Relaxed);
                return Some(answer);
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return None;
            }
            let start = Instant::now();
            std::thread::yield_now();
            switched |= start.elapsed() >= SWITCHED;
        }
        let (waiters, event) = (self.word(waiters), self.word(event));
        waiters.fetch_add(1, Ordering::SeqCst);
        let mut longest = SLEEP_SLICE;
        let answer = loop {
            let seen = event.load(Ordering::SeqCst);
            // Pairs with the waker's sequentially consistent commit and waiters load: either
            // the waker sees this sleeper counted, or this attempt sees its commit.
            crate::sync::fence(Ordering::SeqCst);
            if let Some(answer) = attempt() {
                break Some(answer);
            }
            let slice = match deadline {
                None => longest,
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left.min(longest),
                    _ => break None,
                },
            };
            crate::sys::futex_wait(event, seen, slice);
            longest = (longest * 2).min(MAX_SLEEP_SLICE);
        };
        waiters.fetch_sub(1, Ordering::SeqCst);
        answer
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering::Relaxed;

    use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};

    use super::*;
    use crate::memory::HeapMemory;

    const META: Meta = Meta {
        sender: 1,
        mtype: 1,
        priority: 0,
        sent_at: 0,
    };

    fn ring() -> Arc<Ring<HeapMemory>> {
        let geometry = Geometry::new(4, 8).unwrap();
        Arc::new(Ring::create(HeapMemory::new(geometry.bytes()), geometry).unwrap())
    }

    #[test]
    fn waiters_whose_peer_shares_their_cpu_stop_spinning_their_whole_budget() {
        let allowed = sched_getaffinity(None).unwrap();
        let cpu = (0..CpuSet::MAX_CPU)
            .find(|&cpu| allowed.is_set(cpu))
            .unwrap();
        let pin = move || {
            let mut one = CpuSet::new();
            one.set(cpu);
            sched_setaffinity(None, &one).unwrap();
        };
        let (ping, pong) = (ring(), ring());
        assert_eq!(ping.spin_rounds.load(Relaxed), SPIN_ROUNDS);
        let deadline = || Some(Instant::now() + Duration::from_secs(30));
        let echo = {
            let (ping, pong) = (ping.clone(), pong.clone());
            std::thread::spawn(move || {
                pin();
                for _ in 0..300 {
                    let message = ping.pop(deadline()).unwrap();
                    pong.push(&message.payload, META, deadline()).unwrap();
                }
            })
        };
        let pinger = {
            let (ping, pong) = (ping.clone(), pong.clone());
            std::thread::spawn(move || {
                pin();
                for i in 0..300u64 {
                    ping.push(&i.to_le_bytes(), META, deadline()).unwrap();
                    let back = pong.pop(deadline()).unwrap();
                    assert_eq!(back.payload, i.to_le_bytes());
                }
            })
        };
        pinger.join().unwrap();
        echo.join().unwrap();
        // Each waited for a peer that could only answer once it had yielded: the budgets
        // shrank (a stray answer while spinning, after a preemption, doubles one at most).
        for budget in [
            ping.spin_rounds.load(Relaxed),
            pong.spin_rounds.load(Relaxed),
        ] {
            assert!(budget <= 4 * MIN_SPIN_ROUNDS, "spin budget {budget}");
        }
    }
}

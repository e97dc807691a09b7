//! Where a ring's words live: a shared [`Segment`](crate::Segment), or an ordinary allocation
//! ([`HeapMemory`]: threads of one process, and the loom model).

use crate::sync::AtomicU64;

/// Memory a [`Ring`](crate::Ring) can live in: a run of 64-bit words that other threads or
/// processes may read and write at any time.
///
/// An implementation returns the same slice every time it is asked; the ring validates its
/// length once, when created or attached.
pub trait Memory {
    /// The words, all of them readable and writable.
    fn words(&self) -> &[AtomicU64];
}

/// Ring memory in this process's heap, zeroed.
#[derive(Debug)]
pub struct HeapMemory {
    words: Box<[AtomicU64]>,
}

impl HeapMemory {
    /// `bytes` of zeroed memory (rounded up to whole words); see
    /// [`Geometry::bytes`](crate::Geometry::bytes) for what a ring needs.
    pub fn new(bytes: usize) -> Self {
        let words = (0..bytes.div_ceil(8)).map(|_| AtomicU64::new(0)).collect();
        Self { words }
    }
}

impl Memory for HeapMemory {
    fn words(&self) -> &[AtomicU64] {
        &self.words
    }
}

impl<M: Memory + ?Sized> Memory for std::sync::Arc<M> {
    fn words(&self) -> &[AtomicU64] {
        (**self).words()
    }
}

//! What a [`FaultProxy`](crate::FaultProxy) has done so far.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of a proxy's connections and of the faults it applied, as of one moment.
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct FaultCounts {
    /// Connections accepted.
    pub connections: u64,
    /// Connections whose dial to the upstream failed (closed at once).
    pub upstream_failures: u64,
    /// Connections ended with a reset by a [`Cut::Reset`](crate::Cut::Reset).
    pub resets: u64,
    /// Connections ended with a close by a [`Cut::Close`](crate::Cut::Close).
    pub closes: u64,
    /// Stalls begun.
    pub stalls: u64,
    /// Partitions begun.
    pub partitions: u64,
    /// Chunks delayed.
    pub delays: u64,
    /// Chunks with a byte flipped.
    pub flips: u64,
    /// Chunks dropped.
    pub drops: u64,
    /// Chunks sent twice.
    pub duplicates: u64,
    /// Bytes forwarded towards the upstream.
    pub bytes_upstream: u64,
    /// Bytes forwarded back from the upstream.
    pub bytes_downstream: u64,
}

impl FaultCounts {
    /// Connections cut, either way.
    pub fn cuts(&self) -> u64 {
        self.resets + self.closes
    }

    /// Chunks damaged: flipped, dropped or duplicated.
    pub fn damaged(&self) -> u64 {
        self.flips + self.drops + self.duplicates
    }
}

impl fmt::Display for FaultCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} connections ({} upstream dials failed), {} resets, {} closes, {} stalls, \
             {} partitions, {} chunks delayed, {} flipped, {} dropped, {} duplicated, \
             {} bytes up, {} bytes down",
            self.connections,
            self.upstream_failures,
            self.resets,
            self.closes,
            self.stalls,
            self.partitions,
            self.delays,
            self.flips,
            self.drops,
            self.duplicates,
            self.bytes_upstream,
            self.bytes_downstream
        )
    }
}

/// The live counters behind [`FaultCounts`], bumped from every connection's task.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) connections: AtomicU64,
    pub(crate) upstream_failures: AtomicU64,
    pub(crate) resets: AtomicU64,
    pub(crate) closes: AtomicU64,
    pub(crate) stalls: AtomicU64,
    pub(crate) partitions: AtomicU64,
    pub(crate) delays: AtomicU64,
    pub(crate) flips: AtomicU64,
    pub(crate) drops: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) bytes_upstream: AtomicU64,
    pub(crate) bytes_downstream: AtomicU64,
}

impl Counters {
    /// Adds `n` to `counter`.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The counts now.
    pub(crate) fn snapshot(&self) -> FaultCounts {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        FaultCounts {
            connections: get(&self.connections),
            upstream_failures: get(&self.upstream_failures),
            resets: get(&self.resets),
            closes: get(&self.closes),
            stalls: get(&self.stalls),
            partitions: get(&self.partitions),
            delays: get(&self.delays),
            flips: get(&self.flips),
            drops: get(&self.drops),
            duplicates: get(&self.duplicates),
            bytes_upstream: get(&self.bytes_upstream),
            bytes_downstream: get(&self.bytes_downstream),
        }
    }
}

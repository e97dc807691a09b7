//! Other processes' payload slots a process keeps mapped between their messages, so that a
//! stream of large messages costs no `mmap`, page fault or `munmap` per message.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::sys::PooledMapping;

/// Other processes' slots this process keeps mapped between their messages, by file identity
/// (device and inode: a kept mapping holds its file open, so the number cannot be reused for
/// another file while it is kept). At most [`KeptMappings::MAX_BYTES`] in
/// [`KeptMappings::MAX_SLOTS`] slots; a slot no payload holds gives way to a new one.
pub(crate) struct KeptMappings {
    by_file: Vec<((u64, u64), Arc<PooledMapping>)>,
    bytes: usize,
}

static KEPT: Mutex<KeptMappings> = Mutex::new(KeptMappings {
    by_file: Vec::new(),
    bytes: 0,
});

impl KeptMappings {
    /// The most bytes of slots kept mapped.
    const MAX_BYTES: usize = 64 << 20;
    /// The most slots kept mapped (each holds a descriptor).
    const MAX_SLOTS: usize = 256;

    fn lock() -> MutexGuard<'static, KeptMappings> {
        KEPT.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn find(key: (u64, u64), keep_mapped: bool) -> Option<Arc<PooledMapping>> {
        if !keep_mapped {
            return None;
        }
        let kept = Self::lock();
        kept.by_file
            .iter()
            .find(|(file, _)| *file == key)
            .map(|(_, mapping)| Arc::clone(mapping))
    }

    pub(crate) fn keep(key: (u64, u64), mapping: &Arc<PooledMapping>) {
        let len = mapping.len();
        let mut kept = Self::lock();
        while kept.bytes + len > Self::MAX_BYTES || kept.by_file.len() >= Self::MAX_SLOTS {
            // Only this list holds an idle slot's mapping.
            let Some(idle) = kept
                .by_file
                .iter()
                .position(|(_, mapping)| Arc::strong_count(mapping) == 1)
            else {
                return;
            };
            let (_, mapping) = kept.by_file.swap_remove(idle);
            kept.bytes -= mapping.len();
        }
        kept.bytes += len;
        kept.by_file.push((key, Arc::clone(mapping)));
    }
}

//! Handle tables: what a C handle's number stands for.
//!
//! A C handle (`postbox_process`, `postbox_mailbox`, ...) is a struct holding a number, never a
//! pointer. The number is looked up here on every call, so a freed, forged or mixed-up handle is
//! an error (`POSTBOX_STATUS_BAD_HANDLE`) rather than memory corruption: handles are proof against
//! use after free and double free. Numbers come from one counter shared by every kind and are
//! never reused, so a handle of one kind is never mistaken for another, and 0 is never a handle.
//!
//! Each table holds `Arc`s: a call clones the object out and lets the table go before it waits,
//! so one thread blocked in a receive never stops another thread's calls. Freeing removes the
//! entry; the object itself goes when the last call still using it returns.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::status::{Error, Outcome, PostboxStatus};

/// The next handle number, shared by every table.
static NEXT: AtomicU64 = AtomicU64::new(1);

/// The live objects of one kind, by handle number.
#[derive(Debug)]
pub(crate) struct Registry<T> {
    /// The C type's name, for error texts.
    kind: &'static str,
    entries: Mutex<BTreeMap<u64, Arc<T>>>,
}

impl<T> Registry<T> {
    pub(crate) const fn new(kind: &'static str) -> Registry<T> {
        Registry {
            kind,
            entries: Mutex::new(BTreeMap::new()),
        }
    }

    fn entries(&self) -> MutexGuard<'_, BTreeMap<u64, Arc<T>>> {
        // No code panics while holding the lock; should one ever, the map is still consistent.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn bad(&self, id: u64) -> Error {
        let why = if id == 0 {
            "the null handle".to_owned()
        } else {
            format!("{id}, which is not live (never made, already freed, or of another kind)")
        };
        Error::new(
            PostboxStatus::BadHandle,
            format!("not a {} handle: {why}", self.kind),
        )
    }

    /// Adds `value`; its new handle number.
    pub(crate) fn insert(&self, value: T) -> u64 {
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        self.entries().insert(id, Arc::new(value));
        id
    }

    /// The object handle `id` stands for.
    pub(crate) fn get(&self, id: u64) -> Outcome<Arc<T>> {
        let found = self.entries().get(&id).cloned();
        found.ok_or_else(|| self.bad(id))
    }

    /// Removes handle `id`, returning its object (dropped by the caller, outside the lock).
    pub(crate) fn remove(&self, id: u64) -> Outcome<Arc<T>> {
        let found = self.entries().remove(&id);
        found.ok_or_else(|| self.bad(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_and_foreign_handles_are_refused() {
        let numbers = Registry::<u32>::new("postbox_number");
        let words = Registry::<&str>::new("postbox_word");
        let one = numbers.insert(1);
        let word = words.insert("one");
        assert_ne!(one, word);
        assert_eq!(*numbers.get(one).unwrap(), 1);
        assert_eq!(
            numbers.get(word).unwrap_err().status,
            PostboxStatus::BadHandle
        );
        assert_eq!(*numbers.remove(one).unwrap(), 1);
        let again = numbers.remove(one).unwrap_err();
        assert_eq!(again.status, PostboxStatus::BadHandle);
        assert!(again.text.contains("postbox_number"));
        assert!(numbers.get(0).unwrap_err().text.contains("null handle"));
    }
}

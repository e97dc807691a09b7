//! A closable handle to a library object, shared by the Python threads that use it.
//!
//! Python closes explicitly (`close()`, the end of a `with` block) while other threads may still
//! be inside an operation on the same handle. Each operation clones the `Arc` out for its
//! duration; `close` takes the handle's own reference, so the library object is dropped — the
//! process terminated, the mailbox closed — once the last operation using it has returned.

use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// See the module docs.
pub(crate) struct Handle<T: Send + Sync> {
    inner: Mutex<Option<Arc<T>>>,
    /// What it is, for the "closed" error: "process", "mailbox".
    what: &'static str,
}

impl<T: Send + Sync> Handle<T> {
    pub(crate) fn new(value: T, what: &'static str) -> Handle<T> {
        Handle {
            inner: Mutex::new(Some(Arc::new(value))),
            what,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Arc<T>>> {
        // Nothing panics while holding this lock; a poisoned one is still consistent.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The object, or `ValueError` once closed (as for a closed Python file).
    pub(crate) fn get(&self) -> PyResult<Arc<T>> {
        self.lock()
            .clone()
            .ok_or_else(|| PyValueError::new_err(format!("operation on a closed {}", self.what)))
    }

    /// Whether `close` was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().is_none()
    }

    /// Lets go of the object, with the GIL released: dropping a process or mailbox is a round
    /// trip to its node, and other Python threads should run meanwhile.
    pub(crate) fn close(&self, py: Python<'_>) {
        let taken = self.lock().take();
        py.detach(move || drop(taken));
    }
}

impl<T: Send + Sync> Drop for Handle<T> {
    fn drop(&mut self) {
        let taken = self
            .inner
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if taken.is_some() {
            // Collected without `close`: still release the GIL for the node's round trip.
            Python::attach(|py| py.detach(move || drop(taken)));
        }
    }
}

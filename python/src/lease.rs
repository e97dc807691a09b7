//! The `Lease` class: a message received on lease, acknowledged or given back from Python.
//!
//! The library's [`Leased`](postbox::Leased) borrows its mailbox handle, which a Python object
//! cannot hold without unsafe self-reference. So each lease lives on a small thread of its own
//! that owns the mailbox handle (an `Arc`), takes the message, hands a copy to Python and then
//! waits for Python's verdict. If the Python object goes away unsettled, the thread's command
//! channel closes and the lease is dropped — which gives the message back, as in Rust.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use postbox::{Mailbox, Received, RecvError};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::py_result;
use crate::message::PyMessage;
use crate::wait::Wait;

/// What Python decided about a leased message.
#[derive(Clone, Copy)]
enum Verdict {
    Ack,
    Nack,
}

/// A verdict, and where its outcome goes.
type Command = (Verdict, Sender<Result<(), RecvError>>);

/// A message received on lease (`Mailbox.lease()`): `message` is the message; `ack()` lets the
/// mailbox drop it, `nack()` puts it back at the front of the queue. As a context manager it
/// acknowledges at the end of a `with` block that completes, and gives the message back when the
/// block raises.
#[pyclass(module = "postbox", frozen, name = "Lease")]
pub(crate) struct PyLease {
    #[pyo3(get)]
    message: Py<PyMessage>,
    /// To the lease's thread; `None` once settled.
    commands: Mutex<Option<Sender<Command>>>,
}

/// The thread that holds one lease: takes it, reports the message, then carries out the verdict.
fn hold(
    mailbox: &Mailbox,
    wait: Wait,
    report: &Sender<Result<Received, RecvError>>,
    commands: &Receiver<Command>,
) {
    let leased = match wait {
        Wait::Try => mailbox.try_lease(),
        Wait::Forever => mailbox.lease(),
        Wait::For(timeout) => mailbox.lease_timeout(timeout),
    };
    let leased = match leased {
        Ok(leased) => leased,
        Err(error) => {
            let _ = report.send(Err(error));
            return;
        }
    };
    if report.send(Ok((*leased).clone())).is_err() {
        return; // Python is gone: dropping `leased` gives the message back.
    }
    if let Ok((verdict, outcome)) = commands.recv() {
        let settled = match verdict {
            Verdict::Ack => leased.ack(),
            Verdict::Nack => leased.nack(),
        };
        let _ = outcome.send(settled);
    }
}

impl PyLease {
    /// Takes a message on lease from `mailbox`, waiting as `wait` says (GIL released).
    pub(crate) fn take(py: Python<'_>, mailbox: Arc<Mailbox>, wait: Wait) -> PyResult<PyLease> {
        let (report, reported) = mpsc::channel();
        let (commands, commanded) = mpsc::channel();
        std::thread::Builder::new()
            .name("postbox-lease".to_owned())
            .spawn(move || hold(&mailbox, wait, &report, &commanded))
            .map_err(|e| PyOSError::new_err(format!("cannot start a lease thread: {e}")))?;
        // The thread always reports, unless it died: then the lease is as good as lost.
        let received = py
            .detach(move || reported.recv())
            .unwrap_or(Err(RecvError::Disconnected));
        let message = PyMessage::new(py, &py_result(received)?);
        Ok(PyLease {
            message: Py::new(py, message)?,
            commands: Mutex::new(Some(commands)),
        })
    }

    fn settle(&self, py: Python<'_>, verdict: Verdict) -> PyResult<()> {
        let commands = self
            .commands
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
            .ok_or_else(|| PyValueError::new_err("this lease is already settled"))?;
        let (outcome, settled) = mpsc::channel();
        let result = py.detach(move || {
            commands
                .send((verdict, outcome))
                .map_err(|_| RecvError::Disconnected)?;
            settled.recv().unwrap_or(Err(RecvError::Disconnected))
        });
        py_result(result)
    }

    fn is_settled(&self) -> bool {
        self.commands
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_none()
    }
}

#[pymethods]
impl PyLease {
    /// The leased message's payload.
    #[getter]
    fn payload(&self, py: Python<'_>) -> Py<PyBytes> {
        self.message.get().payload(py)
    }

    /// Whether `ack()` or `nack()` was called.
    #[getter]
    fn settled(&self) -> bool {
        self.is_settled()
    }

    /// Acknowledges the message: the mailbox lets it go.
    fn ack(&self, py: Python<'_>) -> PyResult<()> {
        self.settle(py, Verdict::Ack)
    }

    /// Gives the message back, unused: it returns to the front of the queue.
    fn nack(&self, py: Python<'_>) -> PyResult<()> {
        self.settle(py, Verdict::Nack)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (exc_type, _exc_value=None, _traceback=None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        _exc_value: Option<&Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        if !self.is_settled() {
            let verdict = if exc_type.is_some_and(|t| !t.is_none()) {
                Verdict::Nack
            } else {
                Verdict::Ack
            };
            self.settle(py, verdict)?;
        }
        Ok(false)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let state = if self.is_settled() { "settled" } else { "held" };
        Ok(format!("Lease({}, {state})", self.message.bind(py).repr()?))
    }
}

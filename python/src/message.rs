//! A received message, as Python sees it: the payload as `bytes`, and what the node recorded.

use postbox::{Received, Timestamp};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// Seconds since the Unix epoch, as `time.time()` counts them.
pub(crate) fn seconds(at: Timestamp) -> f64 {
    // Nanoseconds to seconds: a float loses sub-microsecond precision, as time.time() does.
    #[expect(
        clippy::cast_precision_loss,
        reason = "a timestamp as float seconds, like time.time()"
    )]
    let nanos = at.as_nanos() as f64;
    nanos / 1e9
}

/// A received message: `payload` (`bytes`), its `type` and `priority`, the `sender`'s pid, the
/// mailbox's sequence number `seq`, which delivery of it this is (`attempt`, above 1 when it came
/// back unacknowledged before), `sent_at` (seconds since the epoch), and `is_down` for a
/// monitor's down notification (whose sender is the process that terminated).
#[pyclass(module = "postbox", frozen, name = "Message")]
pub(crate) struct PyMessage {
    payload: Py<PyBytes>,
    #[pyo3(get, name = "type")]
    mtype: i64,
    #[pyo3(get)]
    priority: u16,
    #[pyo3(get)]
    sender: u64,
    #[pyo3(get)]
    seq: u64,
    #[pyo3(get)]
    attempt: u32,
    #[pyo3(get)]
    sent_at: f64,
    #[pyo3(get)]
    is_down: bool,
}

impl PyMessage {
    /// The Python form of `received`.
    pub(crate) fn new(py: Python<'_>, received: &Received) -> PyMessage {
        PyMessage {
            payload: PyBytes::new(py, received.payload()).unbind(),
            mtype: received.mtype(),
            priority: received.priority(),
            sender: received.sender.as_raw(),
            seq: received.seq,
            attempt: received.attempt,
            sent_at: seconds(received.sent_at),
            is_down: received.is_down(),
        }
    }
}

#[pymethods]
impl PyMessage {
    /// The payload.
    #[getter]
    pub(crate) fn payload(&self, py: Python<'_>) -> Py<PyBytes> {
        self.payload.clone_ref(py)
    }

    /// The payload decoded as UTF-8 (`errors` as for `bytes.decode`).
    #[pyo3(signature = (errors = "strict"))]
    fn text<'py>(&self, py: Python<'py>, errors: &str) -> PyResult<Bound<'py, PyAny>> {
        self.payload
            .bind(py)
            .call_method1("decode", ("utf-8", errors))
    }

    fn __bytes__(&self, py: Python<'_>) -> Py<PyBytes> {
        self.payload.clone_ref(py)
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        self.payload.bind(py).as_bytes().len()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let payload = self.payload.bind(py).repr()?;
        let down = if self.is_down { ", is_down=True" } else { "" };
        Ok(format!(
            "Message({payload}, type={}, priority={}, sender={}, seq={}{down})",
            self.mtype, self.priority, self.sender, self.seq
        ))
    }
}

/// `received` as a Python `Message` object (the shape [`Operation`](crate::aio::Operation)
/// conversions take).
pub(crate) fn to_py(py: Python<'_>, received: Received) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, PyMessage::new(py, &received))?.into_any())
}

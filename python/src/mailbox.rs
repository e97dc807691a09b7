//! The `Mailbox` class: an open mailbox, its sends, receives and administration.

use std::sync::Arc;

use postbox::{Mailbox, Pid, Selector};
use pyo3::prelude::*;
use pyo3::types::PyAny;

use crate::aio::Operation;
use crate::args;
use crate::errors::py_result;
use crate::handle::Handle;
use crate::lease::PyLease;
use crate::message::{PyMessage, to_py};
use crate::stats::PyMailboxStats;
use crate::wait::Wait;

/// An open mailbox. Closing it (`close()`, the end of its `with` block, or garbage collection)
/// closes this handle only; the mailbox lives on until deleted or, if process-owned, until its
/// owner terminates.
#[pyclass(module = "postbox", frozen, name = "Mailbox")]
pub(crate) struct PyMailbox {
    handle: Handle<Mailbox>,
    name: String,
    id: u64,
}

impl PyMailbox {
    pub(crate) fn new(mailbox: Mailbox) -> PyMailbox {
        PyMailbox {
            name: mailbox.name().to_owned(),
            id: mailbox.id().as_raw(),
            handle: Handle::new(mailbox, "mailbox"),
        }
    }

    fn mailbox(&self) -> PyResult<Arc<Mailbox>> {
        self.handle.get()
    }

    fn recv_with(&self, py: Python<'_>, selector: Selector, wait: Wait) -> PyResult<PyMessage> {
        let mailbox = self.mailbox()?;
        let got = py.detach(|| match wait {
            Wait::Try => mailbox.try_recv_matching(selector),
            Wait::Forever => mailbox.recv_matching(selector),
            Wait::For(timeout) => mailbox.recv_matching_timeout(selector, timeout),
        });
        Ok(PyMessage::new(py, &py_result(got)?))
    }

    fn send_with(
        &self,
        py: Python<'_>,
        message: postbox::Message,
        wait: Wait,
    ) -> PyResult<Option<u64>> {
        let mailbox = self.mailbox()?;
        let sent = py.detach(|| match wait {
            Wait::Try => mailbox.try_send(message),
            Wait::Forever => mailbox.send(message),
            Wait::For(timeout) => mailbox.send_timeout(message, timeout),
        });
        Ok(py_result(sent)?.receiver.map(Pid::as_raw))
    }
}

#[pymethods]
impl PyMailbox {
    /// The mailbox's name.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// The mailbox's id, unique even after its name is reused.
    #[getter]
    fn id(&self) -> u64 {
        self.id
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// Closes this handle. Idempotent.
    fn close(&self, py: Python<'_>) {
        self.handle.close(py);
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyAny>) -> bool {
        self.handle.close(py);
        false
    }

    fn __repr__(&self) -> String {
        let closed = if self.handle.is_closed() {
            ", closed"
        } else {
            ""
        };
        format!("Mailbox({:?}, id={}{closed})", self.name, self.id)
    }

    /// Sends `payload` (bytes, or str as UTF-8), waiting for room — with zero capacity, until a
    /// receiver takes it, whose pid it then returns (else `None`).
    #[pyo3(signature = (payload, *, r#type=1, priority=0, timeout=None))]
    fn send(
        &self,
        py: Python<'_>,
        payload: &Bound<'_, PyAny>,
        r#type: i64,
        priority: u16,
        timeout: Option<f64>,
    ) -> PyResult<Option<u64>> {
        let message = args::message(payload, r#type, priority)?;
        self.send_with(py, message, Wait::timeout(timeout)?)
    }

    /// As `send`, but raises `Full` at once instead of waiting.
    #[pyo3(signature = (payload, *, r#type=1, priority=0))]
    fn try_send(
        &self,
        py: Python<'_>,
        payload: &Bound<'_, PyAny>,
        r#type: i64,
        priority: u16,
    ) -> PyResult<Option<u64>> {
        let message = args::message(payload, r#type, priority)?;
        self.send_with(py, message, Wait::Try)
    }

    /// As `send`, as a coroutine.
    #[pyo3(signature = (payload, *, r#type=1, priority=0))]
    fn send_async<'py>(
        &self,
        py: Python<'py>,
        payload: &Bound<'_, PyAny>,
        r#type: i64,
        priority: u16,
    ) -> PyResult<Bound<'py, PyAny>> {
        let message = args::message(payload, r#type, priority)?;
        let mailbox = self.mailbox()?;
        let future = async move { mailbox.send_async(message).await };
        Operation::start(py, future, |py, sent| {
            Ok(sent
                .receiver
                .map(Pid::as_raw)
                .into_pyobject(py)?
                .into_any()
                .unbind())
        })
    }

    /// Sends `payload` and waits until a receiver has taken it; returns that receiver's pid.
    #[pyo3(signature = (payload, *, r#type=1, priority=0, timeout=None))]
    fn send_with_receipt(
        &self,
        py: Python<'_>,
        payload: &Bound<'_, PyAny>,
        r#type: i64,
        priority: u16,
        timeout: Option<f64>,
    ) -> PyResult<u64> {
        let message = args::message(payload, r#type, priority)?;
        let wait = Wait::timeout(timeout)?;
        let mailbox = self.mailbox()?;
        let receiver = py.detach(|| match wait {
            Wait::Try | Wait::Forever => mailbox.send_with_receipt(message),
            Wait::For(timeout) => mailbox.send_with_receipt_timeout(message, timeout),
        });
        Ok(py_result(receiver)?.as_raw())
    }

    /// Sends every payload of `payloads` in order, as that many `send`s would, in as few round
    /// trips as fit. On a failure, the ones before it were sent.
    #[pyo3(signature = (payloads, *, timeout=None))]
    fn send_batch(
        &self,
        py: Python<'_>,
        payloads: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let messages = payloads
            .try_iter()?
            .map(|item| Ok(postbox::Message::new(args::payload(&item?)?)))
            .collect::<PyResult<Vec<_>>>()?;
        let wait = Wait::timeout(timeout)?;
        let mailbox = self.mailbox()?;
        py_result(py.detach(|| match wait {
            Wait::Try => mailbox.try_send_batch(messages),
            Wait::Forever => mailbox.send_batch(messages),
            Wait::For(timeout) => mailbox.send_batch_timeout(messages, timeout),
        }))
    }

    /// Receives the first message in queue order, or the first one the selector keyword picks
    /// (`type`, `not_type`, `type_at_most`, `sender`), waiting at most `timeout` seconds.
    #[pyo3(signature = (*, r#type=None, not_type=None, type_at_most=None, sender=None, timeout=None))]
    fn recv(
        &self,
        py: Python<'_>,
        r#type: Option<i64>,
        not_type: Option<i64>,
        type_at_most: Option<i64>,
        sender: Option<u64>,
        timeout: Option<f64>,
    ) -> PyResult<PyMessage> {
        let selector = args::selector(r#type, not_type, type_at_most, sender)?;
        self.recv_with(py, selector, Wait::timeout(timeout)?)
    }

    /// As `recv`, but raises `Empty` at once instead of waiting.
    #[pyo3(signature = (*, r#type=None, not_type=None, type_at_most=None, sender=None))]
    fn try_recv(
        &self,
        py: Python<'_>,
        r#type: Option<i64>,
        not_type: Option<i64>,
        type_at_most: Option<i64>,
        sender: Option<u64>,
    ) -> PyResult<PyMessage> {
        let selector = args::selector(r#type, not_type, type_at_most, sender)?;
        self.recv_with(py, selector, Wait::Try)
    }

    /// As `recv`, as a coroutine.
    #[pyo3(signature = (*, r#type=None, not_type=None, type_at_most=None, sender=None))]
    fn recv_async<'py>(
        &self,
        py: Python<'py>,
        r#type: Option<i64>,
        not_type: Option<i64>,
        type_at_most: Option<i64>,
        sender: Option<u64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let selector = args::selector(r#type, not_type, type_at_most, sender)?;
        let mailbox = self.mailbox()?;
        let future = async move { mailbox.recv_matching_async(selector).await };
        Operation::start(py, future, to_py)
    }

    /// Receives up to `max` messages: waits for the first as `recv` does, then takes those
    /// ready now.
    #[pyo3(signature = (max, *, timeout=None))]
    fn recv_many(
        &self,
        py: Python<'_>,
        max: usize,
        timeout: Option<f64>,
    ) -> PyResult<Vec<PyMessage>> {
        let wait = Wait::timeout(timeout)?;
        let mailbox = self.mailbox()?;
        let got = py.detach(|| match wait {
            Wait::Try => mailbox.try_recv_many(max),
            Wait::Forever => mailbox.recv_many(max),
            Wait::For(timeout) => mailbox.recv_many_timeout(max, timeout),
        });
        Ok(py_result(got)?
            .iter()
            .map(|received| PyMessage::new(py, received))
            .collect())
    }

    /// Receives the oldest message on lease: the mailbox keeps it until the returned `Lease` is
    /// acknowledged (`ack()`), and takes it back on `nack()`, when the lease is collected, or when
    /// this process ends first.
    #[pyo3(signature = (*, timeout=None))]
    fn lease(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<PyLease> {
        PyLease::take(py, self.mailbox()?, Wait::timeout(timeout)?)
    }

    /// As `lease`, but raises `Empty` at once instead of waiting.
    fn try_lease(&self, py: Python<'_>) -> PyResult<PyLease> {
        PyLease::take(py, self.mailbox()?, Wait::Try)
    }

    /// A snapshot of the mailbox's statistics.
    fn stat(&self, py: Python<'_>) -> PyResult<PyMailboxStats> {
        let mailbox = self.mailbox()?;
        let stats = py_result(py.detach(|| mailbox.stat()))?;
        Ok(PyMailboxStats::from(&stats))
    }

    /// Deletes the mailbox: every waiter and later operation on any handle gets `Gone`.
    fn delete(&self, py: Python<'_>) -> PyResult<()> {
        let mailbox = self.mailbox()?;
        py_result(py.detach(|| mailbox.delete()))
    }

    /// Changes the permission bits (owner or root only).
    fn set_mode(&self, py: Python<'_>, mode: u32) -> PyResult<()> {
        let mode = args::mode(mode)?;
        let mailbox = self.mailbox()?;
        py_result(py.detach(|| mailbox.set_mode(mode)))
    }

    /// Changes the byte limit of a bounded mailbox.
    fn set_max_bytes(&self, py: Python<'_>, max_bytes: usize) -> PyResult<()> {
        let mailbox = self.mailbox()?;
        py_result(py.detach(|| mailbox.set_max_bytes(max_bytes)))
    }

    /// Lets process `grantee` receive from this owner-receive mailbox.
    fn grant_receive(&self, py: Python<'_>, grantee: u64) -> PyResult<()> {
        let mailbox = self.mailbox()?;
        py_result(py.detach(|| mailbox.grant_receive(Pid::from_raw(grantee))))
    }

    /// Takes back a receive right.
    fn revoke_receive(&self, py: Python<'_>, grantee: u64) -> PyResult<()> {
        let mailbox = self.mailbox()?;
        py_result(py.detach(|| mailbox.revoke_receive(Pid::from_raw(grantee))))
    }
}

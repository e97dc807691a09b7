//! The `Process` class: one participant, its pid and inbox, direct messaging and administration.

use postbox::{Pid, Process, Received, Select, SelectError, Selector};
use pyo3::prelude::*;
use pyo3::types::PyAny;

use crate::aio::Operation;
use crate::args::{self, AttrArgs, CapacityArg};
use crate::errors::py_result;
use crate::handle::Handle;
use crate::mailbox::PyMailbox;
use crate::message::{PyMessage, to_py};
use crate::stats::{PyMailboxStats, PyNodeStats, PyProcessInfo};
use crate::wait::Wait;

/// A postbox process: a connection to a daemon (or a process of an in-process node). Closing it
/// — `close()`, the end of its `with` block, or garbage collection — terminates the process: its
/// process-owned mailboxes are deleted and whoever waits on it gets `PeerGone`.
#[pyclass(module = "postbox", frozen, name = "Process")]
pub(crate) struct PyProcess {
    handle: Handle<Process>,
    pid: u64,
}

impl PyProcess {
    pub(crate) fn new(process: Process) -> PyProcess {
        let pid = process.pid().as_raw();
        PyProcess {
            handle: Handle::new(process, "process"),
            pid,
        }
    }

    /// A select on this process's inbox alone: it holds the process's link, not the process,
    /// so closing the process meanwhile ends the wait (`Disconnected`) instead of being delayed.
    fn inbox(&self, selector: Selector) -> PyResult<Select> {
        let process = self.handle.get()?;
        let mut select = Select::new();
        select.inbox(&process, selector);
        Ok(select)
    }

    fn recv_inbox(&self, py: Python<'_>, selector: Selector, wait: Wait) -> PyResult<PyMessage> {
        let select = self.inbox(selector)?;
        let got = py.detach(|| match wait {
            Wait::Try => select.try_wait(),
            Wait::Forever => select.wait(),
            Wait::For(timeout) => select.wait_timeout(timeout),
        });
        Ok(PyMessage::new(py, &py_result(got)?.message))
    }

    fn recv_inbox_async<'py>(
        &self,
        py: Python<'py>,
        selector: Selector,
    ) -> PyResult<Bound<'py, PyAny>> {
        let select = self.inbox(selector)?;
        let future = async move {
            let selected = select.wait_async().await?;
            Ok::<Received, SelectError>(selected.message)
        };
        Operation::start(py, future, to_py)
    }

    fn open_with(
        &self,
        py: Python<'_>,
        name: &str,
        attrs: Option<AttrArgs>,
    ) -> PyResult<PyMailbox> {
        let process = self.handle.get()?;
        let builder = process.mailbox(name);
        let opened = match attrs {
            None => py.detach(|| builder.open()),
            Some(attrs) => {
                let builder = attrs.apply(builder)?;
                let create_only = attrs.create_only;
                py.detach(|| {
                    if create_only {
                        builder.create()
                    } else {
                        builder.open_or_create()
                    }
                })
            }
        };
        Ok(PyMailbox::new(py_result(opened)?))
    }
}

#[pymethods]
impl PyProcess {
    /// This process's pid, which others use to send to it.
    #[getter]
    fn pid(&self) -> u64 {
        self.pid
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// Terminates the process. Idempotent.
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
        format!("Process(pid={}{closed})", self.pid)
    }

    /// Creates the mailbox `name` with the given attributes and opens it.
    #[pyo3(signature = (name, *, capacity=None, max_bytes=None, max_size=None, fixed_size=None,
        order=None, overflow=None, ownership=None, receivers=None, mode=None))]
    #[expect(
        clippy::too_many_arguments,
        reason = "one Python keyword per mailbox attribute"
    )]
    fn create(
        &self,
        py: Python<'_>,
        name: &str,
        capacity: Option<CapacityArg>,
        max_bytes: Option<usize>,
        max_size: Option<usize>,
        fixed_size: Option<usize>,
        order: Option<String>,
        overflow: Option<String>,
        ownership: Option<String>,
        receivers: Option<String>,
        mode: Option<u32>,
    ) -> PyResult<PyMailbox> {
        let attrs = AttrArgs {
            capacity,
            max_bytes,
            max_size,
            fixed_size,
            order,
            overflow,
            ownership,
            receivers,
            mode,
            create_only: true,
        };
        self.open_with(py, name, Some(attrs))
    }

    /// Opens the existing mailbox `name`.
    fn open(&self, py: Python<'_>, name: &str) -> PyResult<PyMailbox> {
        self.open_with(py, name, None)
    }

    /// Opens the mailbox `name`, creating it with the given attributes if it does not exist.
    #[pyo3(signature = (name, *, capacity=None, max_bytes=None, max_size=None, fixed_size=None,
        order=None, overflow=None, ownership=None, receivers=None, mode=None))]
    #[expect(
        clippy::too_many_arguments,
        reason = "one Python keyword per mailbox attribute"
    )]
    fn open_or_create(
        &self,
        py: Python<'_>,
        name: &str,
        capacity: Option<CapacityArg>,
        max_bytes: Option<usize>,
        max_size: Option<usize>,
        fixed_size: Option<usize>,
        order: Option<String>,
        overflow: Option<String>,
        ownership: Option<String>,
        receivers: Option<String>,
        mode: Option<u32>,
    ) -> PyResult<PyMailbox> {
        let attrs = AttrArgs {
            capacity,
            max_bytes,
            max_size,
            fixed_size,
            order,
            overflow,
            ownership,
            receivers,
            mode,
            create_only: false,
        };
        self.open_with(py, name, Some(attrs))
    }

    /// Sends `payload` to the inbox of process `to`, waiting while it is full.
    #[pyo3(signature = (to, payload, *, r#type=1, priority=0, timeout=None))]
    fn send_to(
        &self,
        py: Python<'_>,
        to: u64,
        payload: &Bound<'_, PyAny>,
        r#type: i64,
        priority: u16,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let message = args::message(payload, r#type, priority)?;
        let wait = Wait::timeout(timeout)?;
        let process = self.handle.get()?;
        let to = Pid::from_raw(to);
        py_result(py.detach(|| match wait {
            Wait::Try => process.try_send_to(to, message),
            Wait::Forever => process.send_to(to, message),
            Wait::For(timeout) => process.send_to_timeout(to, message, timeout),
        }))
    }

    /// As `send_to`, but raises `Full` at once instead of waiting.
    #[pyo3(signature = (to, payload, *, r#type=1, priority=0))]
    fn try_send_to(
        &self,
        py: Python<'_>,
        to: u64,
        payload: &Bound<'_, PyAny>,
        r#type: i64,
        priority: u16,
    ) -> PyResult<()> {
        let message = args::message(payload, r#type, priority)?;
        let process = self.handle.get()?;
        py_result(py.detach(|| process.try_send_to(Pid::from_raw(to), message)))
    }

    /// As `send_to`, as a coroutine.
    #[pyo3(signature = (to, payload, *, r#type=1, priority=0))]
    fn send_to_async<'py>(
        &self,
        py: Python<'py>,
        to: u64,
        payload: &Bound<'_, PyAny>,
        r#type: i64,
        priority: u16,
    ) -> PyResult<Bound<'py, PyAny>> {
        let message = args::message(payload, r#type, priority)?;
        let process = self.handle.get()?;
        let future = async move { process.send_to_async(Pid::from_raw(to), message).await };
        Operation::start(py, future, |py, ()| Ok(py.None()))
    }

    /// Sends `payload` to `to` and waits until `to` has taken it from its inbox (a rendezvous).
    #[pyo3(signature = (to, payload, *, r#type=1, priority=0, timeout=None))]
    fn send_to_with_receipt(
        &self,
        py: Python<'_>,
        to: u64,
        payload: &Bound<'_, PyAny>,
        r#type: i64,
        priority: u16,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let message = args::message(payload, r#type, priority)?;
        let wait = Wait::timeout(timeout)?;
        let process = self.handle.get()?;
        let to = Pid::from_raw(to);
        py_result(py.detach(|| match wait {
            Wait::Try | Wait::Forever => process.send_to_with_receipt(to, message),
            Wait::For(timeout) => process.send_to_with_receipt_timeout(to, message, timeout),
        }))
    }

    /// Receives from this process's inbox: the first message, or the first one the selector
    /// keyword picks (`type`, `not_type`, `type_at_most`, `sender`).
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
        self.recv_inbox(py, selector, Wait::timeout(timeout)?)
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
        self.recv_inbox(py, selector, Wait::Try)
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
        self.recv_inbox_async(py, selector)
    }

    /// Receives the oldest inbox message from any sender.
    #[pyo3(signature = (*, timeout=None))]
    fn recv_any(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<PyMessage> {
        self.recv_inbox(py, Selector::Any, Wait::timeout(timeout)?)
    }

    /// As `recv_any`, but raises `Empty` at once instead of waiting.
    fn try_recv_any(&self, py: Python<'_>) -> PyResult<PyMessage> {
        self.recv_inbox(py, Selector::Any, Wait::Try)
    }

    /// As `recv_any`, as a coroutine.
    fn recv_any_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.recv_inbox_async(py, Selector::Any)
    }

    /// Receives the oldest message process `sender` sent this one; raises `PeerGone` once it
    /// has terminated and none of its messages remain.
    #[pyo3(signature = (sender, *, timeout=None))]
    fn recv_from(&self, py: Python<'_>, sender: u64, timeout: Option<f64>) -> PyResult<PyMessage> {
        let selector = Selector::From(Pid::from_raw(sender));
        self.recv_inbox(py, selector, Wait::timeout(timeout)?)
    }

    /// As `recv_from`, but raises `Empty` at once instead of waiting.
    fn try_recv_from(&self, py: Python<'_>, sender: u64) -> PyResult<PyMessage> {
        self.recv_inbox(py, Selector::From(Pid::from_raw(sender)), Wait::Try)
    }

    /// As `recv_from`, as a coroutine.
    fn recv_from_async<'py>(&self, py: Python<'py>, sender: u64) -> PyResult<Bound<'py, PyAny>> {
        self.recv_inbox_async(py, Selector::From(Pid::from_raw(sender)))
    }

    /// Asks for a down notification (a `Message` with `is_down`, sent by `target`) in this
    /// process's inbox when `target` terminates.
    fn monitor(&self, py: Python<'_>, target: u64) -> PyResult<()> {
        let process = self.handle.get()?;
        py_result(py.detach(|| process.monitor(Pid::from_raw(target))))
    }

    /// Stops monitoring `target`.
    fn demonitor(&self, py: Python<'_>, target: u64) -> PyResult<()> {
        let process = self.handle.get()?;
        py_result(py.detach(|| process.demonitor(Pid::from_raw(target))))
    }

    /// Registers `name` for this process, for others' `whereis`.
    fn register(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        let process = self.handle.get()?;
        py_result(py.detach(|| process.register(name)))
    }

    /// The pid of the live process registered as `name`, or `None`.
    fn whereis(&self, py: Python<'_>, name: &str) -> PyResult<Option<u64>> {
        let process = self.handle.get()?;
        let found = py_result(py.detach(|| process.whereis(name)))?;
        Ok(found.map(Pid::as_raw))
    }

    /// Statistics of every mailbox this process may see (`postbox ls`).
    fn ls(&self, py: Python<'_>) -> PyResult<Vec<PyMailboxStats>> {
        let process = self.handle.get()?;
        let all = py_result(py.detach(|| process.list_mailboxes()))?;
        Ok(all.iter().map(PyMailboxStats::from).collect())
    }

    /// Every live process on the node (`postbox ps`).
    fn ps(&self, py: Python<'_>) -> PyResult<Vec<PyProcessInfo>> {
        let process = self.handle.get()?;
        let all = py_result(py.detach(|| process.list_processes()))?;
        Ok(all.iter().map(PyProcessInfo::from).collect())
    }

    /// Node-wide statistics.
    fn node_stats(&self, py: Python<'_>) -> PyResult<PyNodeStats> {
        let process = self.handle.get()?;
        Ok(py_result(py.detach(|| process.node_stats()))?.into())
    }
}

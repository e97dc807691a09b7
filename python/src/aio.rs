//! asyncio support: the library's own `*_async` futures, driven by the asyncio event loop.
//!
//! An [`Operation`] holds one library future. `postbox/_aio.py` polls it *on the event loop's
//! thread* whenever it may have progressed, and the future's waker only writes a byte to a
//! socket pair whose other end the loop watches (`loop.add_reader`). So:
//!
//! - no thread of ours or the library's ever takes the GIL to wake Python (a reader thread that
//!   waited for the GIL while Python waited for that reader would deadlock);
//! - no runtime and no thread pool: the library's futures work on any executor;
//! - cancellation is decided on the loop's thread, in step with the polls: [`Operation::cancel`]
//!   polls one last time and only then drops the future, which withdraws the request. An
//!   operation that completed meanwhile is not dropped but reported, so `_aio.py` can hand its
//!   result over (see docs/python.md, "asyncio").

use std::future::Future;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use pyo3::exceptions::{PyOSError, PyRuntimeError};
use pyo3::prelude::*;

use crate::errors::IntoPyErr;

/// Turns a finished operation's outcome into its Python value (or exception), with the GIL.
type Finish = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// The library future, its outcome made ready for Python.
type Running = Pin<Box<dyn Future<Output = Finish> + Send>>;

enum State {
    Running(Running),
    Done(Finish),
    /// Its result was taken, or it was cancelled.
    Over,
}

/// Wakes the loop: one byte into the socket pair it watches.
struct Wakeup {
    writer: UnixStream,
}

impl Wake for Wakeup {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // A full buffer already makes the other end readable: nothing is lost by dropping the byte.
        let _ = (&self.writer).write(&[1]);
    }
}

/// One asynchronous operation in progress (internal to `postbox._aio`).
#[pyclass(module = "postbox", frozen, name = "_Operation")]
pub(crate) struct Operation {
    state: Mutex<State>,
    reader: UnixStream,
    waker: Waker,
}

impl Operation {
    /// Starts `future` as an awaitable: `postbox._aio.run(operation)`, a coroutine.
    pub(crate) fn start<'py, T, E>(
        py: Python<'py>,
        future: impl Future<Output = Result<T, E>> + Send + 'static,
        convert: fn(Python<'_>, T) -> PyResult<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        T: Send + 'static,
        E: IntoPyErr + Send + 'static,
    {
        let running = async move {
            let outcome = future.await;
            let finish: Finish = Box::new(move |py| match outcome {
                Ok(value) => convert(py, value),
                Err(error) => Err(error.into_py_err()),
            });
            finish
        };
        let (reader, writer) = UnixStream::pair()
            .and_then(|pair| {
                pair.0.set_nonblocking(true)?;
                pair.1.set_nonblocking(true)?;
                Ok(pair)
            })
            .map_err(|e| PyOSError::new_err(format!("cannot make a wake-up socket pair: {e}")))?;
        let operation = Operation {
            state: Mutex::new(State::Running(Box::pin(running))),
            reader,
            waker: Waker::from(Arc::new(Wakeup { writer })),
        };
        py.import("postbox._aio")?
            .call_method1("run", (Py::new(py, operation)?,))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while polling leaves `Over` or `Running` behind, both consistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Empties the socket pair, so that only wake-ups after this poll make it readable again.
    fn drain(&self) {
        let mut sink = [0_u8; 64];
        while matches!((&self.reader).read(&mut sink), Ok(n) if n > 0) {}
    }

    /// Polls the future once (GIL released: a first poll sends the request); whether it is done.
    fn poll_once(&self, py: Python<'_>) -> bool {
        self.drain();
        py.detach(|| {
            let mut state = self.lock();
            let State::Running(future) = &mut *state else {
                return true;
            };
            match future.as_mut().poll(&mut Context::from_waker(&self.waker)) {
                Poll::Ready(finish) => {
                    *state = State::Done(finish);
                    true
                }
                Poll::Pending => false,
            }
        })
    }
}

#[pymethods]
impl Operation {
    /// The file descriptor the loop watches for wake-ups.
    fn fileno(&self) -> i32 {
        self.reader.as_raw_fd()
    }

    /// Polls the operation; whether it has finished.
    fn poll(&self, py: Python<'_>) -> bool {
        self.poll_once(py)
    }

    /// Withdraws the operation unless it has finished: polls it one last time, and drops it (the
    /// library withdraws the request) if it is still waiting. Whether it had finished, in which
    /// case its result is still there to take.
    fn cancel(&self, py: Python<'_>) -> bool {
        if self.poll_once(py) {
            return true;
        }
        let withdrawn = std::mem::replace(&mut *self.lock(), State::Over);
        py.detach(move || drop(withdrawn));
        false
    }

    /// The finished operation's value, or its exception.
    fn result(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let taken = std::mem::replace(&mut *self.lock(), State::Over);
        match taken {
            State::Done(finish) => finish(py),
            other => {
                *self.lock() = other;
                Err(PyRuntimeError::new_err(
                    "postbox operation has no result (not finished, cancelled or already taken)",
                ))
            }
        }
    }
}

impl Drop for Operation {
    fn drop(&mut self) {
        let state = std::mem::replace(
            self.state
                .get_mut()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
            State::Over,
        );
        if let State::Running(future) = state {
            // Collected while waiting (its coroutine was never awaited to the end): withdraw.
            Python::attach(|py| py.detach(move || drop(future)));
        }
    }
}

//! The native module of the `postbox` Python package (`postbox._postbox`): the postbox library's
//! API in Python's idiom.
//!
//! - Processes and mailboxes are classes whose blocking calls release the GIL, take timeouts as
//!   float seconds and raise one Python exception class per error kind (see `errors.rs`).
//! - `*_async` methods return coroutines that drive the library's own futures on the asyncio
//!   event loop (see `aio.rs`).
//! - Payloads go in as `bytes`-like or `str` (UTF-8) and come out as `bytes`.
//!
//! The pure-Python part (`python/postbox/`) re-exports these classes, defines the exceptions and
//! the asyncio driver, and carries the type stubs. docs/python.md is the user's guide.

mod aio;
mod args;
mod errors;
mod handle;
mod lease;
mod mailbox;
mod message;
mod process;
mod stats;
mod wait;

use pyo3::prelude::*;

use crate::errors::py_result;
use crate::process::PyProcess;

/// Connects to the postbox node at `url` as a new process: `unix:///PATH` (a local daemon),
/// `tcp://HOST:PORT` (with `token`, else `$POSTBOX_TOKEN_FILE` / `$POSTBOX_TOKEN`) or
/// `inproc://[NAME]` (a node in this OS process). Without a URL: `default_url()`.
#[pyfunction]
#[pyo3(signature = (url=None, *, token=None))]
fn connect(py: Python<'_>, url: Option<String>, token: Option<Vec<u8>>) -> PyResult<PyProcess> {
    let url = url.unwrap_or_else(postbox::default_url);
    let process = py.detach(|| match token {
        Some(token) => postbox::connect_with_token(&url, &token),
        None => postbox::connect(&url),
    });
    Ok(PyProcess::new(py_result(process)?))
}

/// The URL `connect()` uses without one: `$POSTBOX_URL`, else the local daemon's default socket
/// (`$POSTBOX_SOCKET`, else `$XDG_RUNTIME_DIR/postbox.sock`, else `/tmp/postbox-$UID/postbox.sock`).
#[pyfunction]
fn default_url() -> String {
    postbox::default_url()
}

/// A postbox node inside this OS process: processes are threads of this program, no daemon
/// needed. It lives while any of its processes does.
#[pyclass(module = "postbox", frozen, name = "InprocNode")]
struct PyInprocNode {
    node: postbox::InprocNode,
}

#[pymethods]
impl PyInprocNode {
    #[new]
    fn new() -> PyInprocNode {
        PyInprocNode {
            node: postbox::InprocNode::new(),
        }
    }

    /// A new process on this node.
    fn process(&self) -> PyProcess {
        PyProcess::new(self.node.process())
    }
}

/// The native module.
#[pymodule]
fn _postbox(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(connect, module)?)?;
    module.add_function(wrap_pyfunction!(default_url, module)?)?;
    module.add_class::<PyInprocNode>()?;
    module.add_class::<PyProcess>()?;
    module.add_class::<mailbox::PyMailbox>()?;
    module.add_class::<message::PyMessage>()?;
    module.add_class::<lease::PyLease>()?;
    module.add_class::<stats::PyMailboxStats>()?;
    module.add_class::<stats::PyProcessInfo>()?;
    module.add_class::<stats::PyNodeStats>()?;
    module.add_class::<aio::Operation>()?;
    Ok(())
}

//! How long a blocking call may wait, from Python's `timeout=` argument.

use std::time::Duration;

use pyo3::PyResult;

use crate::args;

/// How long a blocking call may wait.
#[derive(Clone, Copy)]
pub(crate) enum Wait {
    /// Not at all (`try_*`).
    Try,
    /// Until it completes.
    Forever,
    /// At most this long.
    For(Duration),
}

impl Wait {
    /// From a `timeout=` argument in seconds.
    pub(crate) fn timeout(seconds: Option<f64>) -> PyResult<Wait> {
        Ok(args::timeout(seconds)?.map_or(Wait::Forever, Wait::For))
    }
}

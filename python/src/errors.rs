//! Rust errors as Python exceptions: one Python class per error kind, shared by every operation.
//!
//! The classes are defined in Python (`postbox/_errors.py`), not here, because a kind may need two
//! bases (`Timeout` is also a `TimeoutError`, `PermissionDenied` a `PermissionError`), which
//! pyo3's `create_exception!` cannot express. The native module looks the class up by the kind's
//! name when it raises, and the exception's text is the Rust error's `Display`.

use postbox::{
    AdminError, ConnectError, OpenError, RecvError, SelectError, SendBatchError, SendError,
    SendErrorKind,
};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyType;

/// The module that defines the exception classes.
const ERRORS_MODULE: &str = "postbox._errors";

/// A `postbox.<kind>` exception carrying `text`.
pub(crate) fn raise(kind: &str, text: String) -> PyErr {
    Python::attach(|py| {
        let class = py
            .import(ERRORS_MODULE)
            .and_then(|module| module.getattr(kind))
            .and_then(|class| class.cast_into::<PyType>().map_err(PyErr::from));
        match class {
            Ok(class) => PyErr::from_type(class, text),
            // Only a broken installation gets here; say so rather than hide the real error.
            Err(lookup) => {
                PyRuntimeError::new_err(format!("{text} (and postbox.{kind} is missing: {lookup})"))
            }
        }
    })
}

/// Converts a library error into its Python exception.
pub(crate) trait IntoPyErr {
    /// The exception for this error.
    fn into_py_err(self) -> PyErr;
}

fn send_kind(kind: SendErrorKind) -> &'static str {
    match kind {
        SendErrorKind::NotFound => "NotFound",
        SendErrorKind::PermissionDenied => "PermissionDenied",
        SendErrorKind::Full => "Full",
        SendErrorKind::Timeout => "Timeout",
        SendErrorKind::TooLarge => "TooLarge",
        SendErrorKind::WrongSize => "WrongSize",
        SendErrorKind::InvalidType => "InvalidType",
        SendErrorKind::Gone => "Gone",
        SendErrorKind::PeerGone => "PeerGone",
        SendErrorKind::Busy => "Busy",
        SendErrorKind::QuotaExceeded => "QuotaExceeded",
        SendErrorKind::Dropped => "Dropped",
        SendErrorKind::Disconnected => "Disconnected",
        SendErrorKind::Protocol => "Protocol",
    }
}

fn recv_kind(error: RecvError) -> &'static str {
    match error {
        RecvError::PermissionDenied => "PermissionDenied",
        RecvError::Empty => "Empty",
        RecvError::Timeout => "Timeout",
        RecvError::Gone => "Gone",
        RecvError::PeerGone => "PeerGone",
        RecvError::Busy => "Busy",
        RecvError::Disconnected => "Disconnected",
        RecvError::Protocol => "Protocol",
        RecvError::LeaseEnded => "LeaseEnded",
    }
}

impl IntoPyErr for SendError {
    fn into_py_err(self) -> PyErr {
        raise(send_kind(self.kind()), self.to_string())
    }
}

impl IntoPyErr for SendBatchError {
    fn into_py_err(self) -> PyErr {
        raise(send_kind(self.kind()), self.to_string())
    }
}

impl IntoPyErr for RecvError {
    fn into_py_err(self) -> PyErr {
        raise(recv_kind(self), self.to_string())
    }
}

impl IntoPyErr for SelectError {
    fn into_py_err(self) -> PyErr {
        raise(recv_kind(self.error), self.to_string())
    }
}

impl IntoPyErr for OpenError {
    fn into_py_err(self) -> PyErr {
        let kind = match &self {
            OpenError::NotFound => "NotFound",
            OpenError::AlreadyExists => "AlreadyExists",
            OpenError::PermissionDenied => "PermissionDenied",
            OpenError::InvalidName => "InvalidName",
            OpenError::InvalidAttributes(_) => "InvalidAttributes",
            OpenError::QuotaExceeded => "QuotaExceeded",
            OpenError::Disconnected => "Disconnected",
            OpenError::Protocol | OpenError::Refused(_) => "Protocol",
        };
        raise(kind, self.to_string())
    }
}

impl IntoPyErr for AdminError {
    fn into_py_err(self) -> PyErr {
        let kind = match &self {
            AdminError::NotFound => "NotFound",
            AdminError::PermissionDenied => "PermissionDenied",
            AdminError::Gone => "Gone",
            AdminError::PeerGone => "PeerGone",
            AdminError::AlreadyExists => "AlreadyExists",
            AdminError::InvalidName => "InvalidName",
            AdminError::InvalidArgument(_) => "InvalidArgument",
            AdminError::Disconnected => "Disconnected",
            AdminError::Protocol | AdminError::Refused(_) => "Protocol",
        };
        raise(kind, self.to_string())
    }
}

impl IntoPyErr for ConnectError {
    fn into_py_err(self) -> PyErr {
        let kind = match &self {
            ConnectError::InvalidUrl(_) => "InvalidUrl",
            ConnectError::Io(_) => "ConnectError",
            ConnectError::Handshake(_) | ConnectError::Tls(_) => "HandshakeError",
            ConnectError::InvalidToken(_) => "InvalidToken",
        };
        raise(kind, self.to_string())
    }
}

/// `result`, its error converted into its Python exception.
pub(crate) fn py_result<T, E: IntoPyErr>(result: Result<T, E>) -> PyResult<T> {
    result.map_err(IntoPyErr::into_py_err)
}

//! Why a daemon could not start (or stopped): the only errors `serve` and `run` return.
//!
//! Nothing a client sends is an error here: a misbehaving client is told why in an `Error`
//! frame and its connection closed, and the daemon carries on.

use std::io;
use std::path::PathBuf;

/// Why a daemon could not start or keep serving.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The configuration contradicts itself (see [`DaemonConfig::validate`](crate::DaemonConfig::validate)).
    #[error("invalid daemon configuration: {reason}")]
    Config {
        /// What is wrong with it.
        reason: String,
    },
    /// Another daemon answers on the socket: two daemons must not share one.
    #[error("another daemon is already listening on {}", path.display())]
    AlreadyRunning {
        /// The socket.
        path: PathBuf,
    },
    /// Something that is not a socket sits at the socket path; the daemon does not delete it.
    #[error("{} exists and is not a socket", path.display())]
    NotASocket {
        /// The path.
        path: PathBuf,
    },
    /// The socket's directory could let another user replace or intercept the socket: it is owned
    /// by another user (neither the daemon's nor root), or writable by others without the sticky
    /// bit.
    #[error("refusing to use {}: {reason}", path.display())]
    UnsafeDirectory {
        /// The directory.
        path: PathBuf,
        /// What makes it unsafe.
        reason: String,
    },
    /// A file-system or socket operation failed while setting up or tearing down a listener.
    #[error("{action} {target}: {source}")]
    Io {
        /// What the daemon was doing (`"binding"`, `"creating directory"`, ...).
        action: &'static str,
        /// The path or address it was doing it to.
        target: String,
        /// The operating system's error.
        source: io::Error,
    },
    /// systemd socket activation was asked for (`LISTEN_PID` is this process) but what was
    /// passed is not one listening Unix stream socket (see `docs/operations.md`).
    #[error("socket activation: {reason}")]
    SocketActivation {
        /// What is wrong with what systemd passed.
        reason: String,
    },
    /// The store of durable mailboxes could not be opened or read.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The store holds a mailbox the engine cannot take back.
    #[error("restoring the durable mailboxes: {0}; move the store away (keep it) to start empty")]
    Restore(String),
    /// The async runtime or the signal handlers could not be set up.
    #[error("starting the runtime: {0}")]
    Runtime(#[source] io::Error),
}

impl DaemonError {
    /// An [`DaemonError::Io`] for `action` on `target`.
    pub(crate) fn io(
        action: &'static str,
        target: impl ToString,
        source: io::Error,
    ) -> DaemonError {
        DaemonError::Io {
            action,
            target: target.to_string(),
            source,
        }
    }
}

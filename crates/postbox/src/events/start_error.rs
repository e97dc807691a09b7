//! Why an event source could not start.

use postbox_core::OpenError;

/// Why starting an event source failed; the source's process is terminated again.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The destination mailbox could not be opened by the source's process: `NotFound`,
    /// `PermissionDenied` (no `w`), `InvalidName`, `Disconnected`.
    #[error("cannot open mailbox {name} to post events to it")]
    Open {
        /// The mailbox's name.
        name: String,
        /// Why opening failed.
        #[source]
        error: OpenError,
    },
    /// A signal could not be watched: it is one a program cannot catch (`SIGKILL`, `SIGSTOP`)
    /// or must not (`SIGSEGV`, `SIGILL`, `SIGFPE`), or the system refused the handler.
    #[error("cannot watch {signals}")]
    Signals {
        /// The signals asked for, by name.
        signals: String,
        /// Why registering failed.
        #[source]
        error: std::io::Error,
    },
    /// The source's thread or its wake-up socket could not be created (the system is out of
    /// threads or file descriptors).
    #[error("cannot start the event source's thread")]
    Spawn(#[source] std::io::Error),
}

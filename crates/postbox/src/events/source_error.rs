//! Why an event source ended before it was stopped.

use postbox_core::SendErrorKind;

use super::destination::Destination;

/// Why an event source ended on its own, with a failure (its `Display` says what was being
/// done; the [`source`](std::error::Error::source) says why it failed); [`EventSource::join`] and
/// [`EventSource::stop`] return it.
///
/// [`EventSource::join`]: super::EventSource::join
/// [`EventSource::stop`]: super::EventSource::stop
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Posting an event failed: the mailbox was deleted (`Gone`), the inbox's process terminated
    /// (`PeerGone`), the source may no longer send there (`PermissionDenied`), the event broke the
    /// mailbox's size rule (`TooLarge`, `WrongSize`: give a fd source a smaller chunk size), or the
    /// node went away (`Disconnected`).
    #[error("cannot post an event to {destination}")]
    Post {
        /// Where the source posted.
        destination: Destination,
        /// Why the send failed.
        #[source]
        kind: SendErrorKind,
    },
    /// Reading the file descriptor failed (after posting what had been read before, and an
    /// end-of-file event naming the error).
    #[error("cannot read the event source's file descriptor")]
    Read(#[source] std::io::Error),
    /// Waiting for the child process to exit failed (it was already reaped elsewhere).
    #[error("cannot wait for the child process")]
    Wait(#[source] std::io::Error),
    /// The source's thread panicked: a bug in postbox.
    #[error("the event source's thread panicked")]
    Panicked,
}

impl SourceError {
    /// The send's failure, when posting failed: lets a caller tell a deleted mailbox (`Gone`)
    /// from a lost node (`Disconnected`) without matching on the variant.
    pub fn send_kind(&self) -> Option<SendErrorKind> {
        match self {
            SourceError::Post { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

//! Why a batch of sends stopped.

use std::fmt;

use postbox_core::{Message, SendError, SendErrorKind};

/// Why [`Mailbox::send_batch`](crate::Mailbox::send_batch) (or one of its forms) stopped before
/// the end of its batch.
///
/// A batch is sent as the same sends one at a time would be, in order; the first that fails
/// stops it. Every message before it was sent (`sent` of them), the failed one comes back inside
/// [`error`](Self::error) (as [`SendError::into_message`] gives it), and the messages after it
/// were not attempted and come back in [`unsent`](Self::unsent).
#[derive(Debug, PartialEq, Eq)]
pub struct SendBatchError {
    /// How many messages, from the first, were sent.
    pub sent: usize,
    /// Why the next one failed, with that message handed back when it can be.
    pub error: SendError,
    /// The messages after the failed one, not attempted.
    pub unsent: Vec<Message>,
}

impl SendBatchError {
    /// What went wrong with the message that failed.
    pub fn kind(&self) -> SendErrorKind {
        self.error.kind()
    }

    /// Every message that was not sent, in order: the failed one (when it could be handed back),
    /// then the rest.
    pub fn into_messages(self) -> Vec<Message> {
        let mut messages = Vec::with_capacity(self.unsent.len() + 1);
        messages.extend(self.error.into_message());
        messages.extend(self.unsent);
        messages
    }
}

impl fmt::Display for SendBatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (after {} of the batch were sent)",
            self.error, self.sent
        )
    }
}

impl std::error::Error for SendBatchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

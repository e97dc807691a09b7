//! A source's sending end: its own process, the destination it opened, and its stop flag.

use std::sync::Arc;

use postbox_core::{Message, Pid, SendError, SendErrorKind};

use super::destination::Destination;
use super::source_error::SourceError;
use super::start_error::StartError;
use super::stop::Stop;
use crate::mailbox::Mailbox;
use crate::process::Process;

/// Where the posts go, opened.
#[derive(Debug)]
enum Outlet {
    Mailbox(Mailbox),
    Inbox(Pid),
}

/// What became of a post.
#[derive(Debug)]
pub(crate) enum Posted {
    /// The destination took it.
    Sent,
    /// A non-blocking post found the destination full; the message was dropped.
    Full,
    /// The source was stopped while the post waited; the post was withdrawn.
    Stopped,
}

/// A source's sending end, owned by its thread: dropping it terminates the source's process.
#[derive(Debug)]
pub(crate) struct Poster {
    // Declared first, so dropped before the process it belongs to.
    outlet: Outlet,
    destination: Destination,
    process: Process,
    stop: Arc<Stop>,
}

impl Poster {
    /// Opens `destination` from `process` (the source's own process).
    pub(crate) fn open(
        process: Process,
        destination: Destination,
        stop: Arc<Stop>,
    ) -> Result<Poster, StartError> {
        let outlet = match &destination {
            Destination::Mailbox(name) => {
                let mailbox = process
                    .mailbox(name)
                    .open()
                    .map_err(|error| StartError::Open {
                        name: name.clone(),
                        error,
                    })?;
                Outlet::Mailbox(mailbox)
            }
            &Destination::Inbox(pid) => Outlet::Inbox(pid),
        };
        Ok(Poster {
            outlet,
            destination,
            process,
            stop,
        })
    }

    /// The stop flag the source's thread checks.
    pub(crate) fn stop(&self) -> &Stop {
        &self.stop
    }

    fn failed(&self, error: SendError) -> SourceError {
        SourceError::Post {
            destination: self.destination.clone(),
            kind: error.kind(),
        }
    }

    /// Posts `message`, waiting while the destination is full — back-pressure, as for any sender
    /// — until it fits or the source is stopped.
    ///
    /// # Errors
    ///
    /// The send's failure (`Gone`, `PeerGone`, `PermissionDenied`, `TooLarge`, `Disconnected`).
    pub(crate) fn post(&self, message: Message) -> Result<Posted, SourceError> {
        let sent = match &self.outlet {
            Outlet::Mailbox(mailbox) => self
                .stop
                .block_on(mailbox.send_async(message))
                .map(|sent| sent.map(|_| ())),
            &Outlet::Inbox(pid) => self.stop.block_on(self.process.send_to_async(pid, message)),
        };
        match sent {
            None => Ok(Posted::Stopped),
            Some(Ok(())) => Ok(Posted::Sent),
            Some(Err(error)) => Err(self.failed(error)),
        }
    }

    /// Posts `message` if the destination has room now; drops it when it is full.
    ///
    /// # Errors
    ///
    /// As [`Poster::post`].
    pub(crate) fn try_post(&self, message: Message) -> Result<Posted, SourceError> {
        let sent = match &self.outlet {
            Outlet::Mailbox(mailbox) => mailbox.try_send(message).map(|_| ()),
            &Outlet::Inbox(pid) => self.process.try_send_to(pid, message),
        };
        match sent {
            Ok(()) => Ok(Posted::Sent),
            Err(error) if error.kind() == SendErrorKind::Full => Ok(Posted::Full),
            Err(error) => Err(self.failed(error)),
        }
    }
}

//! Asking the daemon for rings over a `unix://` connection (`LendRing`), for the shared-memory
//! lanes of the mailboxes this process opens.
//!
//! A ring's descriptor travels beside its `RingLent` answer, outside the attachment table; the
//! reader sets it aside ([`RingDescriptors`]) and the lane that asked takes it with the answer.
//! One lane asks at a time per connection, so the descriptor taken is the answer's.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, PoisonError};

use postbox_core::MailboxId;
use postbox_wire::{Request, Response, RingTerms};

use super::answers::Answers;
use super::payloads::RingDescriptors;
use super::session::{Sent, SharedSession};
use super::writer::Writer;
use crate::transport::Slot;
use crate::transport::shm::RingLender;

/// The connection's side of lending: see the module docs.
#[derive(Debug)]
pub(crate) struct SocketLender {
    session: Arc<SharedSession>,
    writer: Arc<Writer>,
    answers: Arc<Answers>,
    rings: Arc<RingDescriptors>,
    /// Held while one lane asks.
    asking: Mutex<()>,
    /// The connection's socket, to see whether the daemon has hung up without reading from it.
    probe: UnixStream,
}

impl SocketLender {
    pub(crate) fn new(
        session: Arc<SharedSession>,
        writer: Arc<Writer>,
        answers: Arc<Answers>,
        rings: Arc<RingDescriptors>,
        probe: UnixStream,
    ) -> SocketLender {
        SocketLender {
            session,
            writer,
            answers,
            rings,
            asking: Mutex::new(()),
            probe,
        }
    }
}

impl RingLender for SocketLender {
    fn lend(&self, mailbox: MailboxId) -> Option<(RingTerms, OwnedFd)> {
        let _one_at_a_time = self.asking.lock().unwrap_or_else(PoisonError::into_inner);
        self.rings.clear();
        let slot = Arc::new(Slot::default());
        let answer = match self.session.request(Request::LendRing { mailbox }, &slot) {
            Sent::Pending(_, output) => {
                if let Some(output) = output {
                    self.writer.write(&self.session, output);
                }
                self.answers.wait(&slot, None)?
            }
            Sent::Now(answer) => answer,
        };
        match answer {
            Ok(Response::RingLent(Some(terms))) => Some((terms, self.rings.take()?)),
            _ => None,
        }
    }

    fn is_open(&self) -> bool {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        if self.session.is_ended() || self.answers.is_closed() {
            return false;
        }
        let mut fds = [PollFd::new(&self.probe, PollFlags::RDHUP)];
        let now = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        match poll(&mut fds, Some(&now)) {
            Ok(0) => true,
            Ok(_) => !fds[0]
                .revents()
                .intersects(PollFlags::RDHUP | PollFlags::HUP | PollFlags::ERR),
            Err(_) => false,
        }
    }
}

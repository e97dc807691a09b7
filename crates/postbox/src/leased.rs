//! Acknowledged receive: a message taken on lease, which its mailbox keeps until the receiver
//! acknowledges it — so that a receiver that dies, or fails to use a message, loses nothing.

use std::ops::Deref;
use std::time::{Duration, Instant};

use postbox_core::{Branch, LeaseId, Received, RecvError, Selector, Settlement, Source};
use postbox_wire::{Request, Response};

use crate::Mailbox;
use crate::transport::ANSWER_BYTES;
use crate::transport::{Answer, Failure, Taking, received_many};
use crate::wait::Patience;

/// A message received on lease from a [`Mailbox`]: the mailbox keeps it until [`Leased::ack`]
/// (done with it: it leaves the mailbox) or [`Leased::nack`] (not used: it goes back to its old
/// place at the front of the queue, for the next receiver). Dropping it unsettled, closing the
/// mailbox or the end of the process gives it back too — a message received this way is never
/// lost, and may be delivered again only if it was not acknowledged.
///
/// It reads as the [`Received`] message it holds.
#[derive(Debug)]
#[must_use = "a lease is given back when dropped: ack it once the message is used"]
pub struct Leased<'a> {
    mailbox: &'a Mailbox,
    message: Received,
    /// Acknowledged or given back already (by `ack` or `nack`, before `Drop` runs).
    settled: bool,
}

impl Deref for Leased<'_> {
    type Target = Received;

    fn deref(&self) -> &Received {
        &self.message
    }
}

impl Leased<'_> {
    /// Acknowledges the message: the mailbox lets it go.
    ///
    /// # Errors
    ///
    /// `LeaseEnded` (the mailbox's lease time was up first: the message went back and may be
    /// delivered again), `Gone` (the mailbox was deleted, and the message with it),
    /// `Disconnected`.
    pub fn ack(mut self) -> Result<(), RecvError> {
        let down = self.message.is_down();
        match self.settle(Settlement::Ack)? {
            // A down notification is never leased: it was taken outright.
            0 if !down => Err(RecvError::LeaseEnded),
            _ => Ok(()),
        }
    }

    /// Gives the message back, unused: it returns to its old place at the front of the queue
    /// and no longer counts as received.
    ///
    /// # Errors
    ///
    /// As [`Leased::ack`].
    pub fn nack(mut self) -> Result<(), RecvError> {
        // Ended already, the lease gave the message back by itself: all the same.
        self.settle(Settlement::Return).map(drop)
    }

    /// Settles the lease: how many messages that settled (1, or 0 when the lease had ended).
    fn settle(&mut self, settlement: Settlement) -> Result<u32, RecvError> {
        if std::mem::replace(&mut self.settled, true) {
            return Ok(0);
        }
        let request = Request::Settle {
            source: Source::Mailbox(self.mailbox.id()),
            leases: vec![LeaseId::from(&self.message)],
            settlement,
        };
        settled(self.mailbox.core().call(request, None))
    }
}

impl Drop for Leased<'_> {
    fn drop(&mut self) {
        // Nothing to report to: a lost transport or a deleted mailbox took the message anyway.
        let _ = self.settle(Settlement::Return);
    }
}

fn settled(answer: Answer) -> Result<u32, RecvError> {
    match answer {
        Ok(Response::Settled(count)) => Ok(count),
        Ok(Response::RecvFailed(error)) => Err(error.error),
        Err(Failure::Disconnected) => Err(RecvError::Disconnected),
        Ok(_) | Err(Failure::Protocol | Failure::Refused(_)) => Err(RecvError::Protocol),
    }
}

/// The request for the message `selector` picks from `mailbox`, on lease.
fn lease_request(mailbox: &Mailbox, selector: Selector, patience: Patience) -> Request {
    Request::Lease {
        branch: Branch::new(Source::Mailbox(mailbox.id()), selector),
        max_messages: 1,
        max_bytes: ANSWER_BYTES,
        wait: patience.wait(),
    }
}

fn one(answer: Answer) -> Result<Received, RecvError> {
    received_many(answer)?
        .into_iter()
        .next()
        .ok_or(RecvError::Protocol)
}

impl Mailbox {
    /// Receives the oldest message on lease, waiting for one as [`Mailbox::recv`] does: the
    /// mailbox keeps it until the returned [`Leased`] is acknowledged, and takes it back if it is
    /// given back, dropped, or the process ends first.
    ///
    /// ```
    /// use postbox::InprocNode;
    ///
    /// let node = InprocNode::new();
    /// let p = node.process();
    /// let jobs = p.mailbox("jobs").create()?;
    /// jobs.send_batch(["a", "b"])?;
    /// let job = jobs.lease()?;
    /// assert_eq!(job.payload().as_ref(), b"a");
    /// job.nack()?; // not done: back to the front
    /// let again = jobs.lease()?;
    /// assert_eq!(again.payload().as_ref(), b"a");
    /// again.ack()?; // done: gone for good
    /// assert_eq!(jobs.try_recv()?.payload().as_ref(), b"b");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Mailbox::recv`].
    pub fn lease(&self) -> Result<Leased<'_>, RecvError> {
        self.lease_with(Selector::Any, Patience::Forever)
    }

    /// As [`Mailbox::lease`], but fails with `Empty` at once instead of waiting.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::recv`], plus `Empty`.
    pub fn try_lease(&self) -> Result<Leased<'_>, RecvError> {
        self.lease_with(Selector::Any, Patience::None)
    }

    /// As [`Mailbox::lease`], waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::recv`], plus `Timeout`.
    pub fn lease_timeout(&self, timeout: Duration) -> Result<Leased<'_>, RecvError> {
        self.lease_with(Selector::Any, Patience::timeout(timeout))
    }

    /// As [`Mailbox::lease`], waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::recv`], plus `Timeout`.
    pub fn lease_deadline(&self, deadline: Instant) -> Result<Leased<'_>, RecvError> {
        self.lease_with(Selector::Any, Patience::Until(deadline))
    }

    /// As [`Mailbox::lease`], as a future. Dropping it while it waits withdraws the receive; a
    /// message that was leased meanwhile goes back to its old place at the front of the queue,
    /// as if the lease had been given back.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::recv`].
    pub async fn lease_async(&self) -> Result<Leased<'_>, RecvError> {
        self.lease_matching_async(Selector::Any).await
    }

    /// As [`Mailbox::lease`], taking the first message `selector` picks (as
    /// [`Mailbox::recv_matching`] does).
    ///
    /// # Errors
    ///
    /// As [`Mailbox::recv_matching`].
    pub fn lease_matching(&self, selector: Selector) -> Result<Leased<'_>, RecvError> {
        self.lease_with(selector, Patience::Forever)
    }

    /// As [`Mailbox::lease_matching`], but fails with `Empty` at once instead of waiting.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::recv_matching`], plus `Empty`.
    pub fn try_lease_matching(&self, selector: Selector) -> Result<Leased<'_>, RecvError> {
        self.lease_with(selector, Patience::None)
    }

    /// As [`Mailbox::lease_matching`], waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::recv_matching`], plus `Timeout`.
    pub fn lease_matching_timeout(
        &self,
        selector: Selector,
        timeout: Duration,
    ) -> Result<Leased<'_>, RecvError> {
        self.lease_with(selector, Patience::timeout(timeout))
    }

    /// As [`Mailbox::lease_matching`], waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::recv_matching`], plus `Timeout`.
    pub fn lease_matching_deadline(
        &self,
        selector: Selector,
        deadline: Instant,
    ) -> Result<Leased<'_>, RecvError> {
        self.lease_with(selector, Patience::Until(deadline))
    }

    /// As [`Mailbox::lease_matching`], as a future (see [`Mailbox::lease_async`]).
    ///
    /// # Errors
    ///
    /// As [`Mailbox::recv_matching`].
    pub async fn lease_matching_async(&self, selector: Selector) -> Result<Leased<'_>, RecvError> {
        if let Some(message) = self.kept(selector) {
            return Ok(Leased {
                mailbox: self,
                message,
                settled: false,
            });
        }
        let request = lease_request(self, selector, Patience::Forever);
        let taking = Taking::Leased(Source::Mailbox(self.id()));
        let message = one(self.core().receive_async(request, taking).await)?;
        Ok(Leased {
            mailbox: self,
            message,
            settled: false,
        })
    }

    /// A message a dropped receive of this process took and could not give back to the mailbox
    /// (from a zero-capacity mailbox, never leased): the next receive that matches it gets it,
    /// leases too (acknowledging it settles it; giving it back has nowhere to put it).
    fn kept(&self, selector: Selector) -> Option<Received> {
        self.core()
            .returns
            .take_one(Source::Mailbox(self.id()), selector)
    }

    fn lease_with(&self, selector: Selector, patience: Patience) -> Result<Leased<'_>, RecvError> {
        if let Some(message) = self.kept(selector) {
            return Ok(Leased {
                mailbox: self,
                message,
                settled: false,
            });
        }
        let request = lease_request(self, selector, patience);
        let message = one(self.core().call(request, patience.deadline()))?;
        Ok(Leased {
            mailbox: self,
            message,
            settled: false,
        })
    }
}

//! Batches: many sends in one request, many messages in one answer — through a daemon, one round
//! trip and one frame each way for what would otherwise be one per message.
//!
//! A batch keeps the rules of the single operations exactly: each message of a send batch is
//! sent as a `send` of it alone would be (checked, counted, dispatched), in order, and the first
//! that fails stops the batch ([`SendBatchError`]); once one must wait for room, the rest wait
//! behind it in the engine, so batches sent one after another keep their order as single sends
//! do. A receive of many takes the first message as a `recv` would (waiting as allowed), then as
//! many more as are ready, in queue order. A batch of more than [`MAX_BATCH`] messages or 4 MiB
//! goes in parts, each waiting for the one before. A mailbox whose transport flavour carries plain
//! operations itself (the in-process lane) runs them one by one there.

use std::collections::VecDeque;

use postbox_core::{
    Branch, MailboxId, Message, Received, RecvError, Selector, SendError, SendErrorKind, Source,
    Wait,
};
use postbox_wire::{MAX_BATCH, Request, Response, Target};

use crate::process_core::ProcessCore;
use crate::send_batch_error::SendBatchError;
use crate::transport::{
    ANSWER_BYTES, Answer, Failure, Flavor, RequestFuture, Taking, received_many,
};
use crate::wait::Patience;

/// The most payload bytes one send-batch request carries (at least one message always goes): a
/// batch larger than this, or than [`MAX_BATCH`] messages, goes in parts, one after another.
const PART_BYTES: usize = 4 << 20;

/// A send batch under way: what was sent, what is left.
struct SendBatch {
    mailbox: MailboxId,
    sent: usize,
    left: VecDeque<Message>,
    /// The most messages the next part may carry: halved when a part is refused whole (too large
    /// for the connection's frames).
    part: usize,
}

impl SendBatch {
    fn new(mailbox: MailboxId, messages: Vec<Message>) -> SendBatch {
        SendBatch {
            mailbox,
            sent: 0,
            left: messages.into(),
            part: MAX_BATCH,
        }
    }

    /// Stops with `error`; everything left comes back.
    fn fail(&mut self, error: SendError) -> SendBatchError {
        SendBatchError {
            sent: self.sent,
            error,
            unsent: std::mem::take(&mut self.left).into(),
        }
    }

    /// The next part's request, or `None` when everything was sent.
    fn next_request(&mut self, wait: Wait) -> Option<(Request, usize)> {
        if self.left.is_empty() {
            return None;
        }
        let mut bytes = 0;
        let mut take = 0;
        for message in self.left.iter().take(self.part) {
            if take > 0 && bytes + message.len() > PART_BYTES {
                break;
            }
            bytes += message.len();
            take += 1;
        }
        let messages: Vec<Message> = self.left.drain(..take).collect();
        let request = Request::SendBatch {
            target: Target::Mailbox(self.mailbox),
            messages,
            wait,
        };
        Some((request, take))
    }

    /// Reads the answer to a part of `len` messages: `None` to go on, or why the batch stops.
    fn settle(&mut self, answer: Answer, len: usize) -> Option<SendBatchError> {
        let (sent, failed, unsent) = match answer {
            Ok(Response::SentBatch {
                sent,
                failed,
                unsent,
            }) => (usize::try_from(sent).unwrap_or(usize::MAX), failed, unsent),
            // The part's messages left with the request and cannot be known to be undelivered.
            Err(Failure::Disconnected) => {
                let error = SendError::without_message(SendErrorKind::Disconnected);
                return Some(self.fail(error));
            }
            Err(Failure::Refused(reason)) => return Some(self.fail(SendError::refused(reason))),
            Ok(_) | Err(Failure::Protocol) => {
                let error = SendError::without_message(SendErrorKind::Protocol);
                return Some(self.fail(error));
            }
        };
        self.sent += sent;
        for message in unsent.into_iter().rev() {
            self.left.push_front(message);
        }
        let error = failed?;
        if error.kind() == SendErrorKind::TooLarge && sent == 0 && len > 1 {
            // Refused whole: perhaps too large for one frame together. Send it in halves.
            if let Some(message) = error.into_message() {
                self.left.push_front(message);
                self.part = len / 2;
                return None;
            }
            return Some(self.fail(SendError::without_message(SendErrorKind::TooLarge)));
        }
        Some(self.fail(error))
    }

    /// Sends what a flavour that carries plain sends takes now, under one lock; the rest goes to
    /// the engine as a batch, so that waiting messages wait there in order and refused ones are
    /// answered as single sends would be, as through a daemon.
    fn send_through(&mut self, flavor: &Flavor, core: &ProcessCore) {
        self.sent += flavor.send_many(core.pid, &mut self.left);
    }

    /// For a flavour whose sends wait for room where they are (a ring in shared memory): sends
    /// what it takes now, then waits there for room for the next message, as a single send
    /// would, until everything is sent or the flavour declines a message (that one and the rest
    /// go to the engine). Through the engine instead, the rest of the batch would take the ring
    /// back from its receivers every time it filled. `Some` when a send failed: the batch stops
    /// there, as the engine's batch would.
    fn wait_through(
        &mut self,
        flavor: &Flavor,
        core: &ProcessCore,
        patience: Patience,
    ) -> Option<SendBatchError> {
        if !flavor.waits_in_place() {
            self.send_through(flavor, core);
            return None;
        }
        loop {
            self.send_through(flavor, core);
            let message = self.left.pop_front()?;
            match flavor.send(&core.waiter(), core.pid, message, patience) {
                Ok(Ok(_)) => self.sent += 1,
                Ok(Err(error)) => return Some(self.fail(error)),
                Err(declined) => {
                    self.left.push_front(declined);
                    return None;
                }
            }
        }
    }
}

impl ProcessCore {
    /// Sends `messages` to `mailbox` in order, as many single sends would, waiting as
    /// `patience` allows.
    pub(crate) fn send_mailbox_batch(
        &self,
        flavor: &Flavor,
        mailbox: MailboxId,
        messages: Vec<Message>,
        patience: Patience,
    ) -> Result<(), SendBatchError> {
        let mut batch = SendBatch::new(mailbox, messages);
        if let Some(stopped) = batch.wait_through(flavor, self, patience) {
            return Err(stopped);
        }
        while let Some((request, len)) = batch.next_request(patience.wait()) {
            if let Some(stopped) = batch.settle(self.call(request, patience.deadline()), len) {
                return Err(stopped);
            }
        }
        Ok(())
    }

    /// As [`ProcessCore::send_mailbox_batch`], as a future: a message that must wait for room
    /// waits in the engine, with the rest behind it.
    pub(crate) async fn send_mailbox_batch_async(
        &self,
        flavor: &Flavor,
        mailbox: MailboxId,
        messages: Vec<Message>,
    ) -> Result<(), SendBatchError> {
        let mut batch = SendBatch::new(mailbox, messages);
        batch.send_through(flavor, self);
        while let Some((request, len)) = batch.next_request(Wait::Block) {
            let answer = RequestFuture::new(self.link.clone(), request).await;
            if let Some(stopped) = batch.settle(answer, len) {
                return Err(stopped);
            }
        }
        Ok(())
    }

    /// Receives up to `max` messages from `mailbox`: the first waiting as `patience` allows,
    /// then those ready now.
    pub(crate) fn recv_mailbox_many(
        &self,
        flavor: &Flavor,
        mailbox: MailboxId,
        max: usize,
        patience: Patience,
    ) -> Result<Vec<Received>, RecvError> {
        let max = max.clamp(1, MAX_BATCH);
        if let Some(kept) = self
            .returns
            .take_one(Source::Mailbox(mailbox), Selector::Any)
        {
            return Ok(vec![kept]);
        }
        if let Some(ready) = flavor.recv_many(self.pid, max)
            && !ready.is_empty()
        {
            return Ok(ready);
        }
        if let Some(first) = flavor.recv(&self.waiter(), self.pid, patience) {
            return Ok(self.more_from(flavor, first.map_err(|e| e.error)?, max));
        }
        received_many(self.call(recv_many(mailbox, max, patience), patience.deadline()))
    }

    /// As [`ProcessCore::recv_mailbox_many`], as a future.
    pub(crate) async fn recv_mailbox_many_async(
        &self,
        flavor: &Flavor,
        mailbox: MailboxId,
        max: usize,
    ) -> Result<Vec<Received>, RecvError> {
        let max = max.clamp(1, MAX_BATCH);
        if let Some(kept) = self
            .returns
            .take_one(Source::Mailbox(mailbox), Selector::Any)
        {
            return Ok(vec![kept]);
        }
        if let Some(ready) = flavor.recv_many(self.pid, max)
            && !ready.is_empty()
        {
            return Ok(ready);
        }
        // Outright, not on lease: a receive of many is how a daemon client gets throughput, and
        // a lease acknowledged per answer costs a quarter of it at small messages (answers then
        // carry one message each). What a dropped one took late is kept for this process's next
        // receive from the mailbox instead (see `transport::returns`).
        let request = recv_many(mailbox, max, Patience::Forever);
        let taking = Taking::Outright(vec![Source::Mailbox(mailbox)]);
        received_many(self.receive_async(request, taking).await)
    }

    /// `first`, then up to `max` in all of the messages `flavor` has ready now.
    fn more_from(&self, flavor: &Flavor, first: Received, max: usize) -> Vec<Received> {
        let mut messages = vec![first];
        if let Some(more) = flavor.recv_many(self.pid, max - 1) {
            messages.extend(more);
        }
        messages
    }
}

/// The request for up to `max` messages of `mailbox`, within [`ANSWER_BYTES`] (and the daemon's
/// frame limit) beyond the first.
fn recv_many(mailbox: MailboxId, max: usize, patience: Patience) -> Request {
    Request::RecvMany {
        branch: Branch::new(Source::Mailbox(mailbox), Selector::Any),
        max_messages: u32::try_from(max).unwrap_or(u32::MAX),
        max_bytes: ANSWER_BYTES,
        wait: patience.wait(),
    }
}

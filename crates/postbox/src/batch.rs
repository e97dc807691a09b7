//! Batches: many sends in one request, many messages in one answer — through a daemon, one round
//! trip and one frame each way for what would otherwise be one per message.
//!
//! A batch keeps the rules of the single operations exactly: each message of a send batch is
//! sent as a `send` of it alone would be (checked, counted, dispatched), in order, and the first
//! that fails stops the batch ([`SendBatchError`]); a receive of many takes the first message as
//! a `recv` would (waiting as allowed), then as many more as are ready, in queue order. A
//! mailbox whose transport flavour carries plain operations itself (the in-process lane) runs
//! them one by one there.

use std::collections::VecDeque;

use postbox_core::{
    Branch, Delivery, MailboxId, Message, Received, RecvError, Selector, SendError, SendErrorKind,
    Source,
};
use postbox_wire::{MAX_BATCH, Request, Response, Target};

use crate::process_core::ProcessCore;
use crate::send_batch_error::SendBatchError;
use crate::transport::{Answer, Failure, Flavor, RequestFuture, received_many};
use crate::wait::Patience;

/// The most messages one send-batch request carries; a longer batch goes in several.
const CHUNK_MESSAGES: usize = 64;

/// The most payload bytes one send-batch request carries (at least one message always goes).
const CHUNK_BYTES: usize = 256 << 10;

/// A send batch under way: what was sent, what is left.
struct SendBatch {
    mailbox: MailboxId,
    sent: usize,
    left: VecDeque<Message>,
}

/// What to do after a chunk's answer.
enum Next {
    /// Send the next chunk (or finish, when nothing is left).
    Go,
    /// This message must wait for room (or was refused with its batch): send it alone, with the
    /// batch's patience, then go on.
    Alone(Message),
    /// Stop.
    Fail(SendBatchError),
}

impl SendBatch {
    fn new(mailbox: MailboxId, messages: Vec<Message>) -> SendBatch {
        SendBatch {
            mailbox,
            sent: 0,
            left: messages.into(),
        }
    }

    /// Stops with `error`; everything left comes back.
    fn fail(self, error: SendError) -> SendBatchError {
        SendBatchError {
            sent: self.sent,
            error,
            unsent: self.left.into(),
        }
    }

    /// The next chunk's request, or `None` when everything was sent.
    fn next_request(&mut self) -> Option<(Request, usize)> {
        if self.left.is_empty() {
            return None;
        }
        let mut bytes = 0;
        let mut take = 0;
        for message in self.left.iter().take(CHUNK_MESSAGES) {
            if take > 0 && bytes + message.len() > CHUNK_BYTES {
                break;
            }
            bytes += message.len();
            take += 1;
        }
        let messages: Vec<Message> = self.left.drain(..take).collect();
        let request = Request::SendBatch {
            target: Target::Mailbox(self.mailbox),
            messages,
        };
        Some((request, take))
    }

    /// Reads a chunk of `len` messages' answer.
    fn settle(&mut self, answer: Answer, len: usize, patience: Patience) -> Next {
        let (sent, failed, unsent) = match answer {
            Ok(Response::SentBatch {
                sent,
                failed,
                unsent,
            }) => (usize::try_from(sent).unwrap_or(usize::MAX), failed, unsent),
            // The chunk's messages left with the request and cannot be known to be undelivered.
            Err(Failure::Disconnected) => {
                return Next::Fail(
                    self.take()
                        .fail(SendError::without_message(SendErrorKind::Disconnected)),
                );
            }
            Ok(_) | Err(Failure::Protocol) => {
                return Next::Fail(
                    self.take()
                        .fail(SendError::without_message(SendErrorKind::Protocol)),
                );
            }
        };
        self.sent += sent;
        for message in unsent.into_iter().rev() {
            self.left.push_front(message);
        }
        let Some(error) = failed else {
            return Next::Go;
        };
        let waits = error.kind() == SendErrorKind::Full && !matches!(patience, Patience::None);
        // A chunk refused whole (too large for the connection's frames) goes one by one.
        let refused_whole = error.kind() == SendErrorKind::TooLarge && sent == 0 && len > 1;
        if waits || refused_whole {
            match error.into_message() {
                Some(message) => return Next::Alone(message),
                None => {
                    let kind = if waits {
                        SendErrorKind::Full
                    } else {
                        SendErrorKind::TooLarge
                    };
                    return Next::Fail(self.take().fail(SendError::without_message(kind)));
                }
            }
        }
        Next::Fail(self.take().fail(error))
    }

    /// The batch, moved out to end it.
    fn take(&mut self) -> SendBatch {
        SendBatch {
            mailbox: self.mailbox,
            sent: self.sent,
            left: std::mem::take(&mut self.left),
        }
    }
}

impl ProcessCore {
    /// Sends `messages` to `mailbox` in order, as many single sends would, waiting as
    /// `patience` allows for each.
    pub(crate) fn send_mailbox_batch(
        &self,
        flavor: &Flavor,
        mailbox: MailboxId,
        messages: Vec<Message>,
        patience: Patience,
    ) -> Result<(), SendBatchError> {
        let mut batch = SendBatch::new(mailbox, messages);
        // A flavour that carries plain sends takes them one by one until it declines one.
        while let Some(message) = batch.left.pop_front() {
            match flavor.send(&*self.link, self.pid, message, patience) {
                Ok(Ok(_)) => batch.sent += 1,
                Ok(Err(error)) => return Err(batch.fail(error)),
                Err(declined) => {
                    batch.left.push_front(declined);
                    break;
                }
            }
        }
        while let Some((request, len)) = batch.next_request() {
            match batch.settle(self.call(request, None), len, patience) {
                Next::Go => {}
                Next::Alone(message) => {
                    let target = Target::Mailbox(mailbox);
                    match self.send(target, message, Delivery::Queued, patience) {
                        Ok(_) => batch.sent += 1,
                        Err(error) => return Err(batch.fail(error)),
                    }
                }
                Next::Fail(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// As [`ProcessCore::send_mailbox_batch`], as a future: a message that must wait for room
    /// waits in the engine.
    pub(crate) async fn send_mailbox_batch_async(
        &self,
        flavor: &Flavor,
        mailbox: MailboxId,
        messages: Vec<Message>,
    ) -> Result<(), SendBatchError> {
        let mut batch = SendBatch::new(mailbox, messages);
        while let Some(message) = batch.left.pop_front() {
            match flavor.send(&*self.link, self.pid, message, Patience::None) {
                Ok(Ok(_)) => batch.sent += 1,
                // Full: the rest waits in the engine, in order.
                Ok(Err(error)) if error.kind() == SendErrorKind::Full => {
                    match error.into_message() {
                        Some(message) => batch.left.push_front(message),
                        None => {
                            return Err(batch.fail(SendError::without_message(SendErrorKind::Full)));
                        }
                    }
                    break;
                }
                Ok(Err(error)) => return Err(batch.fail(error)),
                Err(declined) => {
                    batch.left.push_front(declined);
                    break;
                }
            }
        }
        while let Some((request, len)) = batch.next_request() {
            let answer = RequestFuture::new(self.link.clone(), request).await;
            match batch.settle(answer, len, Patience::Forever) {
                Next::Go => {}
                Next::Alone(message) => {
                    let target = Target::Mailbox(mailbox);
                    match self.send_async(target, message, Delivery::Queued).await {
                        Ok(_) => batch.sent += 1,
                        Err(error) => return Err(batch.fail(error)),
                    }
                }
                Next::Fail(error) => return Err(error),
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
        if let Some(first) = flavor.recv(&*self.link, self.pid, patience) {
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
        if let Some(Ok(first)) = flavor.recv(&*self.link, self.pid, Patience::None) {
            return Ok(self.more_from(flavor, first, max));
        }
        let request = recv_many(mailbox, max, Patience::Forever);
        received_many(RequestFuture::new(self.link.clone(), request).await)
    }

    /// `first`, then up to `max` in all of the messages `flavor` has ready now.
    fn more_from(&self, flavor: &Flavor, first: Received, max: usize) -> Vec<Received> {
        let mut messages = vec![first];
        while messages.len() < max {
            match flavor.recv(&*self.link, self.pid, Patience::None) {
                Some(Ok(message)) => messages.push(message),
                _ => break,
            }
        }
        messages
    }
}

/// The request for up to `max` messages of `mailbox` (the daemon bounds the bytes by its frames).
fn recv_many(mailbox: MailboxId, max: usize, patience: Patience) -> Request {
    Request::RecvMany {
        branch: Branch::new(Source::Mailbox(mailbox), Selector::Any),
        max_messages: u32::try_from(max).unwrap_or(u32::MAX),
        max_bytes: u64::MAX,
        wait: patience.wait(),
    }
}

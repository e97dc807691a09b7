//! Mailbox handles, and the builder that creates or opens them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use postbox_core::{
    AdminError, CallError, Capacity, Delivery, Dispatch, MailboxAttrs, MailboxId, MailboxStats,
    Message, MessageSize, Mode, OpenError, Order, Overflow, Owner, Ownership, Pid, Received,
    Receivers, RecvError, Selector, SendError, Source,
};

use crate::consumer::Consumer;
use crate::process_core::ProcessCore;
use crate::send_batch_error::SendBatchError;
use crate::transport::ANSWER_BYTES;
use crate::transport::{Failure, Flavor, admin_error};
use crate::wait::Patience;
use postbox_wire::{MAX_BATCH, Request, Response, Target};

/// Builds a mailbox: set attributes, then [`create`](MailboxBuilder::create),
/// [`open`](MailboxBuilder::open) or [`open_or_create`](MailboxBuilder::open_or_create).
///
/// Attributes matter only when the mailbox is created; opening an existing one ignores them.
/// Unset attributes take the defaults in docs/semantics.md ("Mailboxes"); the receivers policy defaults by
/// ownership (owner-only for process-owned, shared first-waiting for system-owned).
#[derive(Debug)]
#[must_use = "a builder does nothing until create, open or open_or_create"]
pub struct MailboxBuilder {
    core: Arc<ProcessCore>,
    name: String,
    attrs: MailboxAttrs,
    receivers: Option<Receivers>,
}

impl MailboxBuilder {
    pub(crate) fn new(core: Arc<ProcessCore>, name: &str) -> MailboxBuilder {
        MailboxBuilder {
            core,
            name: name.to_owned(),
            attrs: MailboxAttrs::default(),
            receivers: None,
        }
    }

    /// How many messages it buffers (default bounded: 64 messages, 1 MiB).
    pub fn capacity(mut self, capacity: Capacity) -> Self {
        self.attrs.capacity = capacity;
        self
    }

    /// The payload size rule (default variable up to 64 KiB).
    pub fn size(mut self, size: MessageSize) -> Self {
        self.attrs.size = size;
        self
    }

    /// FIFO or priority order (default FIFO).
    pub fn order(mut self, order: Order) -> Self {
        self.attrs.order = order;
        self
    }

    /// What a send to a full mailbox does (default: block).
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.attrs.overflow = overflow;
        self
    }

    /// Process- or system-owned (default process).
    pub fn ownership(mut self, ownership: Ownership) -> Self {
        self.attrs.ownership = ownership;
        self
    }

    /// Who may receive (default by ownership).
    pub fn receivers(mut self, receivers: Receivers) -> Self {
        self.receivers = Some(receivers);
        self
    }

    /// Permission bits (default 0600).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.attrs.mode = mode;
        self
    }

    /// Memory (the default) or disk: a durable mailbox outlives a daemon restart or crash, and
    /// a send to it is answered once its message is on stable storage. System-owned mailboxes
    /// only, through a daemon with a state directory. See
    /// [`Durability`](crate::Durability).
    pub fn durability(mut self, durability: crate::Durability) -> Self {
        self.attrs.durability = durability;
        self
    }

    /// How long a lease lasts before the message goes back by itself (default: until its
    /// holder settles it, closes the mailbox or ends). See [`Redelivery::lease_time`](crate::Redelivery::lease_time).
    pub fn lease_time(mut self, time: Duration) -> Self {
        self.attrs.redelivery.lease_time = Some(time);
        self
    }

    /// The most deliveries of one message; after that, an unacknowledged message goes to the
    /// dead-letter mailbox, or without one is dropped (default: no limit). See
    /// [`Redelivery::max_deliveries`](crate::Redelivery::max_deliveries).
    pub fn max_deliveries(mut self, deliveries: u32) -> Self {
        self.attrs.redelivery.max_deliveries = Some(deliveries);
        self
    }

    /// Where messages go after [`max_deliveries`](Self::max_deliveries): an open mailbox this
    /// process may send to.
    pub fn dead_letter(mut self, mailbox: &Mailbox) -> Self {
        self.attrs.redelivery.dead_letter = Some(mailbox.id());
        self
    }

    fn attrs(&self) -> MailboxAttrs {
        let receivers = self.receivers.unwrap_or(match self.attrs.ownership {
            Ownership::Process => Receivers::Owner,
            Ownership::System => Receivers::Shared(Dispatch::FirstWaiting),
        });
        MailboxAttrs {
            receivers,
            ..self.attrs
        }
    }

    /// Creates the mailbox and opens it.
    ///
    /// # Errors
    ///
    /// `AlreadyExists`, `InvalidName`, `InvalidAttributes`, `QuotaExceeded`, `Disconnected`.
    pub fn create(self) -> Result<Mailbox, OpenError> {
        let request = Request::Create {
            name: self.core.mailbox_name(&self.name),
            attrs: self.attrs(),
        };
        self.finish(request)
    }

    /// Opens the existing mailbox.
    ///
    /// # Errors
    ///
    /// `NotFound`, `PermissionDenied`, `InvalidName`, `Disconnected`.
    pub fn open(self) -> Result<Mailbox, OpenError> {
        let request = Request::Open {
            name: self.core.mailbox_name(&self.name),
        };
        self.finish(request)
    }

    /// Opens the mailbox, creating it first if it does not exist. Among racing callers exactly
    /// one creates it.
    ///
    /// # Errors
    ///
    /// As [`MailboxBuilder::open`] and [`MailboxBuilder::create`].
    pub fn open_or_create(self) -> Result<Mailbox, OpenError> {
        let request = Request::OpenOrCreate {
            name: self.core.mailbox_name(&self.name),
            attrs: self.attrs(),
        };
        self.finish(request)
    }

    fn finish(self, request: Request) -> Result<Mailbox, OpenError> {
        match self.core.call(request, None) {
            Ok(Response::Opened { mailbox, .. }) => Ok(Mailbox {
                flavor: self.core.link.mailbox_flavor(mailbox),
                core: self.core,
                id: mailbox,
                name: self.name,
            }),
            Ok(Response::OpenFailed(error)) => Err(error),
            Err(Failure::Disconnected) => Err(OpenError::Disconnected),
            Err(Failure::Refused(reason)) => Err(OpenError::Refused(reason)),
            Ok(_) | Err(Failure::Protocol) => Err(OpenError::Protocol),
        }
    }
}

/// A receipted send always names its receiver; anything else is a broken transport.
fn receipt(result: Result<Option<Pid>, SendError>) -> Result<Pid, SendError> {
    result?.ok_or_else(|| SendError::without_message(postbox_core::SendErrorKind::Protocol))
}

/// What a successful send reports.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Sent {
    /// The process that took the message, when known at once: always for zero-capacity
    /// (rendezvous) mailboxes, never for plain buffered sends (use
    /// [`Mailbox::send_with_receipt`] to wait for and learn the receiver).
    pub receiver: Option<Pid>,
}

/// An open mailbox, as seen by the process that opened it.
///
/// Handles are `Send + Sync`; every method takes `&self`, so threads may share one. Dropping the
/// handle closes it; a process's last handle on an exclusive or pair mailbox gives up its right.
#[derive(Debug)]
pub struct Mailbox {
    core: Arc<ProcessCore>,
    id: MailboxId,
    name: String,
    /// How plain sends and receives travel.
    flavor: Flavor,
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        // Nothing to report: a lost transport closed the handle anyway.
        let _ = self.core.call(Request::Close { mailbox: self.id }, None);
    }
}

impl Mailbox {
    /// The mailbox's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The mailbox's id, which stays unique even after its name is reused.
    pub fn id(&self) -> MailboxId {
        self.id
    }

    /// The pid of the process this handle belongs to (not the mailbox's owner, which
    /// [`Mailbox::stat`] reports).
    pub fn process_pid(&self) -> Pid {
        self.core.pid
    }

    pub(crate) fn core(&self) -> &Arc<ProcessCore> {
        &self.core
    }

    fn send_with(
        &self,
        message: Message,
        delivery: Delivery,
        patience: Patience,
    ) -> Result<Option<Pid>, SendError> {
        self.core
            .send_mailbox(&self.flavor, self.id, message, delivery, patience)
    }

    /// A buffer of `len` zero bytes to write a payload into, then send here (or anywhere)
    /// without a copy over `unix://`: see [`Loan`](crate::Loan).
    pub fn loan(&self, len: usize) -> crate::Loan {
        crate::Loan::new(len, self.core.link.attach_from(), true)
    }

    /// As [`loan`](Self::loan), for a caller about to write every byte: a recycled payload slot
    /// is not zeroed first (each byte is 0 or one this process wrote into an earlier payload).
    /// Saves a pass over the buffer.
    pub fn loan_for_overwrite(&self, len: usize) -> crate::Loan {
        crate::Loan::new(len, self.core.link.attach_from(), false)
    }

    /// Sends `message`, waiting for room (bounded, block overflow) or, with zero capacity, until a
    /// receiver takes it — then [`Sent::receiver`] names that receiver.
    ///
    /// # Errors
    ///
    /// `TooLarge`, `WrongSize`, `InvalidType`, `PermissionDenied`, `Busy` / `PeerGone` (pair),
    /// `QuotaExceeded`, `Gone` (deleted before or while waiting), `Disconnected`. The message comes
    /// back in the error.
    pub fn send(&self, message: impl Into<Message>) -> Result<Sent, SendError> {
        self.send_with(message.into(), Delivery::Queued, Patience::Forever)
            .map(|receiver| Sent { receiver })
    }

    /// As [`Mailbox::send`], but fails with `Full` at once instead of waiting (with zero capacity:
    /// unless a receiver is already waiting).
    ///
    /// # Errors
    ///
    /// As [`Mailbox::send`], plus `Full`.
    pub fn try_send(&self, message: impl Into<Message>) -> Result<Sent, SendError> {
        self.send_with(message.into(), Delivery::Queued, Patience::None)
            .map(|receiver| Sent { receiver })
    }

    /// As [`Mailbox::send`], waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::send`], plus `Timeout` (the message is not delivered, and comes back).
    pub fn send_timeout(
        &self,
        message: impl Into<Message>,
        timeout: Duration,
    ) -> Result<Sent, SendError> {
        self.send_with(message.into(), Delivery::Queued, Patience::timeout(timeout))
            .map(|receiver| Sent { receiver })
    }

    /// As [`Mailbox::send`], waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::send_timeout`].
    pub fn send_deadline(
        &self,
        message: impl Into<Message>,
        deadline: Instant,
    ) -> Result<Sent, SendError> {
        self.send_with(message.into(), Delivery::Queued, Patience::Until(deadline))
            .map(|receiver| Sent { receiver })
    }

    /// As [`Mailbox::send`], as a future.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::send`].
    pub async fn send_async(&self, message: impl Into<Message>) -> Result<Sent, SendError> {
        self.core
            .send_mailbox_async(&self.flavor, self.id, message.into(), Delivery::Queued)
            .await
            .map(|receiver| Sent { receiver })
    }

    /// Sends `message` and waits until a receiver has taken it; returns that receiver's pid.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::send`], plus `Dropped` (a drop-oldest mailbox discarded it first; it comes
    /// back), `Gone` (deleted before anyone took it).
    pub fn send_with_receipt(&self, message: impl Into<Message>) -> Result<Pid, SendError> {
        receipt(self.send_with(message.into(), Delivery::Receipt, Patience::Forever))
    }

    /// As [`Mailbox::send_with_receipt`], waiting at most `timeout`; on `Timeout` the message is
    /// withdrawn and handed back.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::send_with_receipt`], plus `Timeout`.
    pub fn send_with_receipt_timeout(
        &self,
        message: impl Into<Message>,
        timeout: Duration,
    ) -> Result<Pid, SendError> {
        receipt(self.send_with(
            message.into(),
            Delivery::Receipt,
            Patience::timeout(timeout),
        ))
    }

    /// As [`Mailbox::send_with_receipt`], as a future.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::send_with_receipt`].
    pub async fn send_with_receipt_async(
        &self,
        message: impl Into<Message>,
    ) -> Result<Pid, SendError> {
        let sending =
            self.core
                .send_mailbox_async(&self.flavor, self.id, message.into(), Delivery::Receipt);
        receipt(sending.await)
    }

    /// Calls this mailbox: sends `request` and waits for the answer of whichever process
    /// receives it, exactly as [`Process::call`](crate::Process::call) with this mailbox.
    ///
    /// # Errors
    ///
    /// As [`Process::call`](crate::Process::call).
    pub fn call(&self, request: impl Into<Message>) -> Result<Message, CallError> {
        self.core
            .call_target(self.target(), request.into(), Patience::Forever)
    }

    /// As [`Mailbox::call`], failing with `Full` at once when the request cannot be queued now.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::call`], plus `Full`.
    pub fn try_call(&self, request: impl Into<Message>) -> Result<Message, CallError> {
        self.core
            .call_target(self.target(), request.into(), Patience::None)
    }

    /// As [`Mailbox::call`], waiting at most `timeout` (see
    /// [`Process::call_timeout`](crate::Process::call_timeout)).
    ///
    /// # Errors
    ///
    /// As [`Mailbox::call`], plus `Timeout`.
    pub fn call_timeout(
        &self,
        request: impl Into<Message>,
        timeout: Duration,
    ) -> Result<Message, CallError> {
        self.core
            .call_target(self.target(), request.into(), Patience::timeout(timeout))
    }

    /// As [`Mailbox::call`], waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::call`], plus `Timeout`.
    pub fn call_deadline(
        &self,
        request: impl Into<Message>,
        deadline: Instant,
    ) -> Result<Message, CallError> {
        self.core
            .call_target(self.target(), request.into(), Patience::Until(deadline))
    }

    /// As [`Mailbox::call`], as a future; dropping it while it waits withdraws the request or
    /// revokes the server's reply right.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::call`].
    pub async fn call_async(&self, request: impl Into<Message>) -> Result<Message, CallError> {
        self.core
            .call_target_async(self.target(), request.into())
            .await
    }

    fn target(&self) -> Target {
        Target::Mailbox(self.id)
    }

    fn send_batch_with<M: Into<Message>>(
        &self,
        messages: impl IntoIterator<Item = M>,
        patience: Patience,
    ) -> Result<(), SendBatchError> {
        let messages = messages.into_iter().map(Into::into).collect();
        self.core
            .send_mailbox_batch(&self.flavor, self.id, messages, patience)
    }

    /// Sends `messages` in order, exactly as that many [`Mailbox::send`]s would — each checked,
    /// counted and dispatched as alone, each waiting for room as it needs — but through a daemon
    /// in as few requests as fit (a few dozen messages each), instead of one request per message.
    ///
    /// # Errors
    ///
    /// A [`SendBatchError`] when a message fails: the messages before it were sent; it and the
    /// ones after come back. The failures are [`Mailbox::send`]'s.
    ///
    /// # Examples
    ///
    /// ```
    /// use postbox::{Capacity, InprocNode};
    ///
    /// let node = InprocNode::new();
    /// let p = node.process();
    /// let q = p.mailbox("q").capacity(Capacity::bounded(2, 1024)).create()?;
    /// q.send_batch(["a", "b"])?;
    ///
    /// // A full mailbox stops a batch that may not wait; what was not sent comes back.
    /// let stopped = q.try_send_batch(["c", "d"]).unwrap_err();
    /// assert_eq!((stopped.sent, stopped.kind()), (0, postbox::SendErrorKind::Full));
    /// assert_eq!(stopped.into_messages().len(), 2);
    ///
    /// let got = q.recv_many(10)?;
    /// assert_eq!(got.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_batch<M: Into<Message>>(
        &self,
        messages: impl IntoIterator<Item = M>,
    ) -> Result<(), SendBatchError> {
        self.send_batch_with(messages, Patience::Forever)
    }

    /// As [`Mailbox::send_batch`], but a message that finds the mailbox full fails with `Full`
    /// at once instead of waiting.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::send_batch`], plus `Full`.
    pub fn try_send_batch<M: Into<Message>>(
        &self,
        messages: impl IntoIterator<Item = M>,
    ) -> Result<(), SendBatchError> {
        self.send_batch_with(messages, Patience::None)
    }

    /// As [`Mailbox::send_batch`], waiting at most until `timeout` from now, for all of it.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::send_batch`], plus `Timeout`.
    pub fn send_batch_timeout<M: Into<Message>>(
        &self,
        messages: impl IntoIterator<Item = M>,
        timeout: Duration,
    ) -> Result<(), SendBatchError> {
        self.send_batch_with(messages, Patience::timeout(timeout))
    }

    /// As [`Mailbox::send_batch`], waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::send_batch`], plus `Timeout`.
    pub fn send_batch_deadline<M: Into<Message>>(
        &self,
        messages: impl IntoIterator<Item = M>,
        deadline: Instant,
    ) -> Result<(), SendBatchError> {
        self.send_batch_with(messages, Patience::Until(deadline))
    }

    /// As [`Mailbox::send_batch`], as a future.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::send_batch`].
    pub async fn send_batch_async<M: Into<Message>>(
        &self,
        messages: impl IntoIterator<Item = M>,
    ) -> Result<(), SendBatchError> {
        let messages = messages.into_iter().map(Into::into).collect();
        self.core
            .send_mailbox_batch_async(&self.flavor, self.id, messages)
            .await
    }

    fn recv_with(&self, selector: Selector, patience: Patience) -> Result<Received, RecvError> {
        self.core
            .recv_mailbox(&self.flavor, self.id, selector, patience)
    }

    /// Receives the first message in queue order, waiting for one.
    ///
    /// # Errors
    ///
    /// `PermissionDenied` (mode or receive rights), `Busy` (exclusive or pair right held by
    /// another process), `PeerGone` (a pair's sender has gone), `Gone`, `Disconnected`.
    pub fn recv(&self) -> Result<Received, RecvError> {
        self.recv_with(Selector::Any, Patience::Forever)
    }

    /// As [`Mailbox::recv`], but fails with `Empty` at once instead of waiting.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::recv`], plus `Empty`.
    pub fn try_recv(&self) -> Result<Received, RecvError> {
        self.recv_with(Selector::Any, Patience::None)
    }

    /// As [`Mailbox::recv`], waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::recv`], plus `Timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Received, RecvError> {
        self.recv_with(Selector::Any, Patience::timeout(timeout))
    }

    /// As [`Mailbox::recv`], waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::recv`], plus `Timeout`.
    pub fn recv_deadline(&self, deadline: Instant) -> Result<Received, RecvError> {
        self.recv_with(Selector::Any, Patience::Until(deadline))
    }

    /// As [`Mailbox::recv`], as a future.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::recv`].
    pub async fn recv_async(&self) -> Result<Received, RecvError> {
        self.recv_matching_async(Selector::Any).await
    }

    /// Receives the first message `selector` picks (System V typed selective receive), waiting
    /// until a matching one arrives; non-matching arrivals do not wake it.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::recv`]; `PeerGone` also when a `From` selector's process has gone.
    pub fn recv_matching(&self, selector: Selector) -> Result<Received, RecvError> {
        self.recv_with(selector, Patience::Forever)
    }

    /// As [`Mailbox::recv_matching`], but fails with `Empty` at once instead of waiting.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::recv_matching`], plus `Empty`.
    pub fn try_recv_matching(&self, selector: Selector) -> Result<Received, RecvError> {
        self.recv_with(selector, Patience::None)
    }

    /// As [`Mailbox::recv_matching`], waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::recv_matching`], plus `Timeout`.
    pub fn recv_matching_timeout(
        &self,
        selector: Selector,
        timeout: Duration,
    ) -> Result<Received, RecvError> {
        self.recv_with(selector, Patience::timeout(timeout))
    }

    /// As [`Mailbox::recv_matching`], waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::recv_matching`], plus `Timeout`.
    pub fn recv_matching_deadline(
        &self,
        selector: Selector,
        deadline: Instant,
    ) -> Result<Received, RecvError> {
        self.recv_with(selector, Patience::Until(deadline))
    }

    /// As [`Mailbox::recv_matching`], as a future.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::recv_matching`].
    pub async fn recv_matching_async(&self, selector: Selector) -> Result<Received, RecvError> {
        self.core
            .recv_mailbox_async(&self.flavor, self.id, selector)
            .await
    }

    /// Makes this handle a consumer that keeps up to `window` messages (1 to 1024) coming ahead
    /// of its receives, on lease: what it took but never handed out goes back to the front of the
    /// queue when it stops, is dropped, or its process dies. Through a daemon, this is how one of
    /// several competing receivers gets throughput without a round trip per message. The
    /// consumer owns the handle (so the mailbox stays open while it holds messages);
    /// [`Consumer::mailbox`] lends it back.
    ///
    /// ```
    /// use postbox::{Dispatch, InprocNode, Receivers};
    ///
    /// let node = InprocNode::new();
    /// let (producer, worker) = (node.process(), node.process());
    /// let jobs = producer.mailbox("jobs")
    ///     .receivers(Receivers::Shared(Dispatch::FirstWaiting))
    ///     .mode(postbox::Mode::new(0o666))
    ///     .create()?;
    /// for job in ["a", "b", "c"] {
    ///     jobs.send(job)?;
    /// }
    /// let mut consumer = worker.mailbox("jobs").open()?.into_consumer(8);
    /// assert_eq!(consumer.recv()?.payload().as_ref(), b"a");
    /// // "b" and "c" arrived too, on lease; stopping gives them back.
    /// assert_eq!(consumer.stop()?, 2);
    /// assert_eq!(jobs.try_recv()?.payload().as_ref(), b"b");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_consumer(self, window: usize) -> Consumer {
        Consumer::new(self, window)
    }

    /// Receives up to `max` messages in queue order: waits for the first as [`Mailbox::recv`]
    /// does, then takes those ready now — through a daemon in one request and one answer
    /// (bounded by the connection's frame limit). `max` counts from 1 to
    /// [`MAX_BATCH`](postbox_wire::MAX_BATCH) (1024); beyond, it is that.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::recv`].
    pub fn recv_many(&self, max: usize) -> Result<Vec<Received>, RecvError> {
        self.core
            .recv_mailbox_many(&self.flavor, self.id, max, Patience::Forever)
    }

    /// As [`Mailbox::recv_many`], but fails with `Empty` at once when no message is ready.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::recv`], plus `Empty`.
    pub fn try_recv_many(&self, max: usize) -> Result<Vec<Received>, RecvError> {
        self.core
            .recv_mailbox_many(&self.flavor, self.id, max, Patience::None)
    }

    /// As [`Mailbox::recv_many`], waiting at most `timeout` for the first message.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::recv`], plus `Timeout`.
    pub fn recv_many_timeout(
        &self,
        max: usize,
        timeout: Duration,
    ) -> Result<Vec<Received>, RecvError> {
        let patience = Patience::timeout(timeout);
        self.core
            .recv_mailbox_many(&self.flavor, self.id, max, patience)
    }

    /// As [`Mailbox::recv_many`], waiting until `deadline` at most for the first message.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::recv`], plus `Timeout`.
    pub fn recv_many_deadline(
        &self,
        max: usize,
        deadline: Instant,
    ) -> Result<Vec<Received>, RecvError> {
        let patience = Patience::Until(deadline);
        self.core
            .recv_mailbox_many(&self.flavor, self.id, max, patience)
    }

    /// As [`Mailbox::recv_many`], as a future.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::recv`].
    pub async fn recv_many_async(&self, max: usize) -> Result<Vec<Received>, RecvError> {
        self.core
            .recv_mailbox_many_async(&self.flavor, self.id, max)
            .await
    }

    /// A snapshot of the mailbox's statistics.
    ///
    /// # Errors
    ///
    /// `Gone`, `PermissionDenied`, `Disconnected`.
    pub fn stat(&self) -> Result<MailboxStats, AdminError> {
        match self.core.call(Request::Stat { mailbox: self.id }, None) {
            Ok(Response::Stat(stats)) => Ok(*stats),
            other => Err(admin_error(other)),
        }
    }

    /// Copies of up to `max` queued messages that `selector` matches, in the order receives
    /// with that selector would take them (System V's `MSG_COPY`): the queue, the statistics,
    /// waiting receivers and receive rights stay exactly as they were.
    ///
    /// Only queued messages are shown: not those on lease to a receiver, nor those waiting
    /// senders still hold. One peek shows at most [`MAX_BATCH`](postbox_wire::MAX_BATCH) (1024)
    /// messages and, through a daemon, what fits in one answer (256 KiB of payload, or the
    /// connection's frame limit, beyond the first); `max` beyond either is cut to it.
    ///
    /// # Errors
    ///
    /// `PermissionDenied` (who may receive may peek: the mode's `r`, and under owner-only
    /// receive the owner or a grantee; no exclusive or pair right is needed or claimed),
    /// `Gone`, `Disconnected`.
    ///
    /// # Examples
    ///
    /// ```
    /// use postbox::{InprocNode, Message, Selector};
    ///
    /// let node = InprocNode::new();
    /// let process = node.process();
    /// let jobs = process.mailbox("jobs").create()?;
    /// jobs.send(Message::new("a").with_type(2))?;
    /// jobs.send(Message::new("b").with_type(1))?;
    /// let seen = jobs.peek(10, Selector::Any)?;
    /// assert_eq!(seen.len(), 2);
    /// assert_eq!(jobs.peek(10, Selector::Type(1))?[0].payload().as_ref(), b"b");
    /// // Nothing was taken.
    /// assert_eq!(jobs.try_recv()?.payload().as_ref(), b"a");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn peek(&self, max: usize, selector: Selector) -> Result<Vec<Received>, AdminError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let request = Request::Peek {
            source: Source::Mailbox(self.id),
            selector,
            max_messages: u32::try_from(max.min(MAX_BATCH)).unwrap_or(u32::MAX),
            max_bytes: ANSWER_BYTES,
        };
        match self.core.call(request, None) {
            Ok(Response::Peeked(messages)) => Ok(messages),
            other => Err(admin_error(other)),
        }
    }

    /// Drops every message queued in the mailbox and returns how many it dropped; they count as
    /// dropped in its statistics. A sender awaiting the receipt of one gets `Dropped` with its
    /// message back; senders waiting for room are let in (so the mailbox may hold their messages
    /// afterwards). Messages on lease stay with their receivers.
    ///
    /// # Errors
    ///
    /// `PermissionDenied` (only the owner may purge — the owning process, or a process of the
    /// owning uid of a system-owned mailbox — or uid 0), `Gone`, `Disconnected`.
    ///
    /// # Examples
    ///
    /// ```
    /// use postbox::InprocNode;
    ///
    /// let node = InprocNode::new();
    /// let process = node.process();
    /// let jobs = process.mailbox("jobs").create()?;
    /// jobs.send("a")?;
    /// jobs.send("b")?;
    /// assert_eq!(jobs.purge()?, 2);
    /// assert_eq!(jobs.stat()?.dropped, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn purge(&self) -> Result<usize, AdminError> {
        match self.core.call(Request::Purge { mailbox: self.id }, None) {
            Ok(Response::Purged(count)) => Ok(usize::try_from(count).unwrap_or(usize::MAX)),
            other => Err(admin_error(other)),
        }
    }

    /// Deletes the mailbox: every waiter and every later operation on any handle gets `Gone`,
    /// and the name is free at once.
    ///
    /// # Errors
    ///
    /// `PermissionDenied` (owner or uid 0 only), `Gone`, `Disconnected`.
    pub fn delete(&self) -> Result<(), AdminError> {
        self.core.admin(Request::Delete { mailbox: self.id })
    }

    /// Changes the permission bits.
    ///
    /// # Errors
    ///
    /// `PermissionDenied` (owner or uid 0 only), `Gone`, `Disconnected`.
    pub fn set_mode(&self, mode: Mode) -> Result<(), AdminError> {
        self.core.admin(Request::SetMode {
            mailbox: self.id,
            mode,
        })
    }

    /// Changes the byte limit of a bounded mailbox.
    ///
    /// # Errors
    ///
    /// `InvalidArgument` (not bounded, or below the largest message size), `PermissionDenied`,
    /// `Gone`, `Disconnected`.
    pub fn set_max_bytes(&self, bytes: usize) -> Result<(), AdminError> {
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        self.core.admin(Request::SetMaxBytes {
            mailbox: self.id,
            bytes,
        })
    }

    /// Passes ownership on, to a process or to a uid and gid.
    ///
    /// # Errors
    ///
    /// `PermissionDenied` (owner or uid 0 only), `NotFound` / `PeerGone` (the new owner process),
    /// `Gone`, `Disconnected`.
    pub fn set_owner(&self, owner: Owner) -> Result<(), AdminError> {
        self.core.admin(Request::SetOwner {
            mailbox: self.id,
            owner,
        })
    }

    /// Lets `grantee` receive from this owner-receive mailbox.
    ///
    /// # Errors
    ///
    /// `InvalidArgument` (receivers policy is not owner), `PermissionDenied`, `NotFound` /
    /// `PeerGone` (the grantee), `Gone`, `Disconnected`.
    pub fn grant_receive(&self, grantee: Pid) -> Result<(), AdminError> {
        self.core.admin(Request::GrantReceive {
            mailbox: self.id,
            grantee,
        })
    }

    /// Takes back a receive right; the grantee's waiting receives fail with `PermissionDenied`.
    ///
    /// # Errors
    ///
    /// `InvalidArgument`, `PermissionDenied`, `Gone`, `Disconnected`.
    pub fn revoke_receive(&self, grantee: Pid) -> Result<(), AdminError> {
        self.core.admin(Request::RevokeReceive {
            mailbox: self.id,
            grantee,
        })
    }
}

//! A process handle: one participant, with its pid and inbox, and the operations it performs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use postbox_core::{
    AdminError, Branch, Cancelled, Completion, Delivery, EngineStats, MailboxId, MailboxStats,
    Message, Pid, ProcessInfo, Received, RecvError, RecvOutcome, SelectError, Selector, SendError,
    SendErrorKind, SendOutcome, Source,
};

use crate::future::{OperationFuture, Outcome};
use crate::mailbox::MailboxBuilder;
use crate::node::{NodeShared, Waited};
use crate::wait::Patience;

/// Where a send goes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target {
    Process(Pid),
    Mailbox(MailboxId),
}

/// What process handles and mailbox handles share: the node and the pid.
#[derive(Debug)]
pub(crate) struct ProcessCore {
    pub(crate) node: Arc<NodeShared>,
    pub(crate) pid: Pid,
}

fn send_ticket(result: &Result<SendOutcome, SendError>) -> Option<postbox_core::Ticket> {
    match result {
        Ok(SendOutcome::Blocked(ticket)) => Some(*ticket),
        _ => None,
    }
}

fn recv_ticket(result: &Result<RecvOutcome, SelectError>) -> Option<postbox_core::Ticket> {
    match result {
        Ok(RecvOutcome::Blocked(ticket)) => Some(*ticket),
        _ => None,
    }
}

/// A completion that does not answer the operation it completes: an engine bug, reported as a
/// protocol error rather than a panic.
fn mismatched_send() -> SendError {
    SendError::without_message(SendErrorKind::Protocol)
}

impl ProcessCore {
    fn send_op(
        &self,
        target: Target,
        message: Message,
        delivery: Delivery,
        wait: postbox_core::Wait,
    ) -> impl FnOnce(
        &mut postbox_core::Engine,
        postbox_core::Timestamp,
    ) -> Result<SendOutcome, SendError>
    + Unpin
    + use<> {
        let pid = self.pid;
        move |engine, now| match target {
            Target::Process(to) => engine.send_to(pid, to, message, delivery, wait, now),
            Target::Mailbox(id) => engine.send(pid, id, message, delivery, wait, now),
        }
    }

    /// The one send primitive: every send method of every handle ends here. Returns the receiver
    /// when it is known (rendezvous, receipts).
    pub(crate) fn send(
        &self,
        target: Target,
        message: Message,
        delivery: Delivery,
        patience: Patience,
    ) -> Result<Option<Pid>, SendError> {
        let op = self.send_op(target, message, delivery, patience.wait());
        let (result, pending) = self.node.start(self.pid, op, send_ticket);
        match (result?, pending) {
            (SendOutcome::Sent { receiver }, _) => Ok(receiver),
            (SendOutcome::Blocked(_), Some(pending)) => {
                finish_send(self.node.wait(&pending, patience.deadline()))
            }
            (SendOutcome::Blocked(_), None) => Err(mismatched_send()),
        }
    }

    pub(crate) async fn send_async(
        &self,
        target: Target,
        message: Message,
        delivery: Delivery,
    ) -> Result<Option<Pid>, SendError> {
        let op = self.send_op(target, message, delivery, postbox_core::Wait::Block);
        match OperationFuture::new(self.node.clone(), self.pid, op, send_ticket).await {
            Outcome::Now(result) => match result? {
                SendOutcome::Sent { receiver } => Ok(receiver),
                SendOutcome::Blocked(_) => Err(mismatched_send()),
            },
            Outcome::Later(done) => finish_send(Waited::Completed(done)),
        }
    }

    /// The one receive primitive: every receive and select ends here.
    pub(crate) fn recv(
        &self,
        branches: Vec<Branch>,
        patience: Patience,
    ) -> Result<(usize, Received), SelectError> {
        let pid = self.pid;
        let wait = patience.wait();
        let op =
            move |engine: &mut postbox_core::Engine, now| engine.recv(pid, &branches, wait, now);
        let (result, pending) = self.node.start(pid, op, recv_ticket);
        match (result?, pending) {
            (RecvOutcome::Received { branch, message }, _) => Ok((branch, message)),
            (RecvOutcome::Blocked(_), Some(pending)) => {
                finish_recv(self.node.wait(&pending, patience.deadline()))
            }
            (RecvOutcome::Blocked(_), None) => Err(SelectError {
                branch: 0,
                error: RecvError::Protocol,
            }),
        }
    }

    pub(crate) async fn recv_async(
        &self,
        branches: Vec<Branch>,
    ) -> Result<(usize, Received), SelectError> {
        let pid = self.pid;
        let op = move |engine: &mut postbox_core::Engine, now| {
            engine.recv(pid, &branches, postbox_core::Wait::Block, now)
        };
        match OperationFuture::new(self.node.clone(), pid, op, recv_ticket).await {
            Outcome::Now(result) => match result? {
                RecvOutcome::Received { branch, message } => Ok((branch, message)),
                RecvOutcome::Blocked(_) => Err(SelectError {
                    branch: 0,
                    error: RecvError::Protocol,
                }),
            },
            Outcome::Later(done) => finish_recv(Waited::Completed(done)),
        }
    }
}

fn finish_send(waited: Waited) -> Result<Option<Pid>, SendError> {
    match waited {
        Waited::Completed(Completion::Sent { receiver }) => Ok(receiver),
        Waited::Completed(Completion::SendFailed(error)) => Err(error),
        Waited::TimedOut(Cancelled::Send(message)) => {
            Err(SendError::new(SendErrorKind::Timeout, message))
        }
        Waited::Completed(_) | Waited::TimedOut(Cancelled::Recv) => Err(mismatched_send()),
    }
}

fn finish_recv(waited: Waited) -> Result<(usize, Received), SelectError> {
    match waited {
        Waited::Completed(Completion::Received { branch, message }) => Ok((branch, message)),
        Waited::Completed(Completion::RecvFailed(error)) => Err(error),
        Waited::TimedOut(_) => Err(SelectError {
            branch: 0,
            error: RecvError::Timeout,
        }),
        Waited::Completed(_) => Err(SelectError {
            branch: 0,
            error: RecvError::Protocol,
        }),
    }
}

/// One postbox process: a pid, an inbox, and the mailboxes it opens.
///
/// A `Process` is `Send + Sync`: several threads may send and receive through it at once, and
/// mailbox handles opened from it may move to other threads. Dropping it **terminates** the
/// process, with every effect of termination: its process-owned mailboxes are deleted, whoever
/// waits on it gets `PeerGone`, monitors get a down notification. Mailbox handles that outlive
/// it fail with `Disconnected`, and so do their operations still waiting on other threads (a
/// send's message comes back, undelivered).
#[derive(Debug)]
pub struct Process {
    pub(crate) core: Arc<ProcessCore>,
}

impl Drop for Process {
    fn drop(&mut self) {
        self.core.node.terminate(self.core.pid);
    }
}

fn inbox(selector: Selector) -> Vec<Branch> {
    vec![Branch::new(Source::Inbox, selector)]
}

fn plain(result: Result<(usize, Received), SelectError>) -> Result<Received, RecvError> {
    result.map(|(_, message)| message).map_err(|e| e.error)
}

impl Process {
    pub(crate) fn new(node: Arc<NodeShared>, pid: Pid) -> Process {
        Process {
            core: Arc::new(ProcessCore { node, pid }),
        }
    }

    /// This process's pid, which others use to send to it.
    pub fn pid(&self) -> Pid {
        self.core.pid
    }

    /// Starts building a mailbox called `name`: set its attributes, then `create`, `open` or
    /// `open_or_create` it.
    pub fn mailbox(&self, name: &str) -> MailboxBuilder {
        MailboxBuilder::new(self.core.clone(), name)
    }

    /// Registers `name` for this process, so that others can find it with [`Process::whereis`].
    ///
    /// # Errors
    ///
    /// `InvalidName`, `AlreadyExists` (taken, or this process already has a name), `Disconnected`.
    pub fn register(&self, name: &str) -> Result<(), AdminError> {
        let pid = self.core.pid;
        self.core.node.run(|engine, _| engine.register(pid, name))
    }

    /// The live process registered as `name`.
    pub fn whereis(&self, name: &str) -> Option<Pid> {
        self.core.node.run(|engine, _| engine.whereis(name))
    }

    /// Asks for a down notification in this process's inbox when `target` terminates (at once if
    /// it already has). The notification is a [`Received`] whose `is_down()` is true and whose
    /// sender is `target`; it arrives after every message `target` sent this process.
    ///
    /// # Errors
    ///
    /// `NotFound` (no such process ever existed), `Disconnected`.
    pub fn monitor(&self, target: Pid) -> Result<(), AdminError> {
        let pid = self.core.pid;
        self.core
            .node
            .run(|engine, now| engine.monitor(pid, target, now))
    }

    /// Stops monitoring `target`.
    ///
    /// # Errors
    ///
    /// `Disconnected`.
    pub fn demonitor(&self, target: Pid) -> Result<(), AdminError> {
        let pid = self.core.pid;
        self.core
            .node
            .run(|engine, _| engine.demonitor(pid, target))
    }

    /// Statistics of every mailbox this process may see, by name.
    ///
    /// # Errors
    ///
    /// `Disconnected`.
    pub fn list_mailboxes(&self) -> Result<Vec<MailboxStats>, AdminError> {
        let pid = self.core.pid;
        self.core.node.run(|engine, _| engine.list(pid))
    }

    /// Every live process on the node.
    pub fn list_processes(&self) -> Vec<ProcessInfo> {
        self.core.node.run(|engine, _| engine.processes())
    }

    /// Node-wide statistics.
    pub fn node_stats(&self) -> EngineStats {
        self.core.node.run(|engine, _| engine.stats())
    }

    /// Sends `message` to the inbox of process `to`, waiting while that inbox is full.
    ///
    /// # Errors
    ///
    /// `NotFound` (no such process ever existed), `PeerGone` (it has terminated, before or while
    /// waiting), `TooLarge`, `InvalidType`, `QuotaExceeded`, `Disconnected`. The message comes back
    /// in the error.
    pub fn send_to(&self, to: Pid, message: impl Into<Message>) -> Result<(), SendError> {
        self.send_to_with(to, message.into(), Patience::Forever)
    }

    /// As [`Process::send_to`], but fails with `Full` at once instead of waiting.
    ///
    /// # Errors
    ///
    /// As [`Process::send_to`], plus `Full`.
    pub fn try_send_to(&self, to: Pid, message: impl Into<Message>) -> Result<(), SendError> {
        self.send_to_with(to, message.into(), Patience::None)
    }

    /// As [`Process::send_to`], waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Process::send_to`], plus `Timeout`.
    pub fn send_to_timeout(
        &self,
        to: Pid,
        message: impl Into<Message>,
        timeout: Duration,
    ) -> Result<(), SendError> {
        self.send_to_with(to, message.into(), Patience::timeout(timeout))
    }

    /// As [`Process::send_to`], waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`Process::send_to`], plus `Timeout`.
    pub fn send_to_deadline(
        &self,
        to: Pid,
        message: impl Into<Message>,
        deadline: Instant,
    ) -> Result<(), SendError> {
        self.send_to_with(to, message.into(), Patience::Until(deadline))
    }

    /// As [`Process::send_to`], as a future.
    ///
    /// # Errors
    ///
    /// As [`Process::send_to`].
    pub async fn send_to_async(
        &self,
        to: Pid,
        message: impl Into<Message>,
    ) -> Result<(), SendError> {
        let target = Target::Process(to);
        self.core
            .send_async(target, message.into(), Delivery::Queued)
            .await
            .map(|_| ())
    }

    /// Sends `message` to `to` and waits until `to` has taken it from its inbox: a rendezvous
    /// with that process.
    ///
    /// # Errors
    ///
    /// As [`Process::send_to`]; `PeerGone` also when `to` terminates before taking it.
    pub fn send_to_with_receipt(
        &self,
        to: Pid,
        message: impl Into<Message>,
    ) -> Result<(), SendError> {
        let target = Target::Process(to);
        self.core
            .send(target, message.into(), Delivery::Receipt, Patience::Forever)
            .map(|_| ())
    }

    /// As [`Process::send_to_with_receipt`], waiting at most `timeout`; on `Timeout` the message
    /// is withdrawn from the inbox and handed back.
    ///
    /// # Errors
    ///
    /// As [`Process::send_to_with_receipt`], plus `Timeout`.
    pub fn send_to_with_receipt_timeout(
        &self,
        to: Pid,
        message: impl Into<Message>,
        timeout: Duration,
    ) -> Result<(), SendError> {
        let target = Target::Process(to);
        self.core
            .send(
                target,
                message.into(),
                Delivery::Receipt,
                Patience::timeout(timeout),
            )
            .map(|_| ())
    }

    fn send_to_with(&self, to: Pid, message: Message, patience: Patience) -> Result<(), SendError> {
        self.core
            .send(Target::Process(to), message, Delivery::Queued, patience)
            .map(|_| ())
    }

    /// Receives the oldest message in this process's inbox, from any sender; the sender is in
    /// [`Received::sender`].
    ///
    /// # Errors
    ///
    /// `Disconnected`.
    pub fn recv_any(&self) -> Result<Received, RecvError> {
        self.recv_matching(Selector::Any)
    }

    /// As [`Process::recv_any`], but fails with `Empty` at once instead of waiting.
    ///
    /// # Errors
    ///
    /// `Empty`, `Disconnected`.
    pub fn try_recv_any(&self) -> Result<Received, RecvError> {
        self.try_recv_matching(Selector::Any)
    }

    /// As [`Process::recv_any`], waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// `Timeout`, `Disconnected`.
    pub fn recv_any_timeout(&self, timeout: Duration) -> Result<Received, RecvError> {
        self.recv_matching_timeout(Selector::Any, timeout)
    }

    /// As [`Process::recv_any`], waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// `Timeout`, `Disconnected`.
    pub fn recv_any_deadline(&self, deadline: Instant) -> Result<Received, RecvError> {
        self.recv_matching_deadline(Selector::Any, deadline)
    }

    /// As [`Process::recv_any`], as a future.
    ///
    /// # Errors
    ///
    /// `Disconnected`.
    pub async fn recv_any_async(&self) -> Result<Received, RecvError> {
        self.recv_matching_async(Selector::Any).await
    }

    /// Receives the oldest message `from` sent to this process, however many others are queued.
    /// If `from` has terminated and none of its messages remain, fails with `PeerGone` rather
    /// than waiting forever (a down notification, when monitoring, comes before that).
    ///
    /// # Errors
    ///
    /// `PeerGone`, `Disconnected`.
    pub fn recv_from(&self, from: Pid) -> Result<Received, RecvError> {
        self.recv_matching(Selector::From(from))
    }

    /// As [`Process::recv_from`], but fails with `Empty` at once instead of waiting.
    ///
    /// # Errors
    ///
    /// `Empty`, `PeerGone`, `Disconnected`.
    pub fn try_recv_from(&self, from: Pid) -> Result<Received, RecvError> {
        self.try_recv_matching(Selector::From(from))
    }

    /// As [`Process::recv_from`], waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// `Timeout`, `PeerGone`, `Disconnected`.
    pub fn recv_from_timeout(&self, from: Pid, timeout: Duration) -> Result<Received, RecvError> {
        self.recv_matching_timeout(Selector::From(from), timeout)
    }

    /// As [`Process::recv_from`], waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// `Timeout`, `PeerGone`, `Disconnected`.
    pub fn recv_from_deadline(&self, from: Pid, deadline: Instant) -> Result<Received, RecvError> {
        self.recv_matching_deadline(Selector::From(from), deadline)
    }

    /// As [`Process::recv_from`], as a future.
    ///
    /// # Errors
    ///
    /// `PeerGone`, `Disconnected`.
    pub async fn recv_from_async(&self, from: Pid) -> Result<Received, RecvError> {
        self.recv_matching_async(Selector::From(from)).await
    }

    /// Receives the first inbox message `selector` picks (System V typed receive on the inbox).
    ///
    /// # Errors
    ///
    /// `PeerGone` (a `From` selector's process has gone), `Disconnected`.
    pub fn recv_matching(&self, selector: Selector) -> Result<Received, RecvError> {
        plain(self.core.recv(inbox(selector), Patience::Forever))
    }

    /// As [`Process::recv_matching`], but fails with `Empty` at once instead of waiting.
    ///
    /// # Errors
    ///
    /// `Empty`, `PeerGone`, `Disconnected`.
    pub fn try_recv_matching(&self, selector: Selector) -> Result<Received, RecvError> {
        plain(self.core.recv(inbox(selector), Patience::None))
    }

    /// As [`Process::recv_matching`], waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// `Timeout`, `PeerGone`, `Disconnected`.
    pub fn recv_matching_timeout(
        &self,
        selector: Selector,
        timeout: Duration,
    ) -> Result<Received, RecvError> {
        plain(self.core.recv(inbox(selector), Patience::timeout(timeout)))
    }

    /// As [`Process::recv_matching`], waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// `Timeout`, `PeerGone`, `Disconnected`.
    pub fn recv_matching_deadline(
        &self,
        selector: Selector,
        deadline: Instant,
    ) -> Result<Received, RecvError> {
        plain(self.core.recv(inbox(selector), Patience::Until(deadline)))
    }

    /// As [`Process::recv_matching`], as a future.
    ///
    /// # Errors
    ///
    /// `PeerGone`, `Disconnected`.
    pub async fn recv_matching_async(&self, selector: Selector) -> Result<Received, RecvError> {
        plain(self.core.recv_async(inbox(selector)).await)
    }
}

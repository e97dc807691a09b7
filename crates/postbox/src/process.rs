//! A process handle: one participant, with its pid and inbox, and the operations it performs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use postbox_core::{
    AdminError, Branch, Delivery, EngineStats, MailboxStats, Message, Pid, ProcessInfo, Received,
    RecvError, SelectError, Selector, SendError, SendErrorKind, Source,
};
use postbox_wire::{Request, Response, Target};

use crate::clock::now;
use crate::future::RequestFuture;
use crate::lane::{Lane, LaneCall};
use crate::link::{Answer, Call, Failure, Link};
use crate::mailbox::MailboxBuilder;
use crate::wait::Patience;

/// What process handles and mailbox handles share: the link to the node.
#[derive(Debug)]
pub(crate) struct ProcessCore {
    pub(crate) link: Arc<dyn Link>,
    pub(crate) pid: Pid,
}

impl ProcessCore {
    /// Carries `request` and waits for its answer, withdrawing it at `deadline`.
    pub(crate) fn call(&self, request: Request, deadline: Option<Instant>) -> Answer {
        match self.link.call(request) {
            Call::Now(answer) => answer,
            Call::Pending(pending) => self.link.wait(&pending, deadline),
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
        let request = Request::Send {
            target,
            message,
            delivery,
            wait: patience.wait(),
        };
        sent(self.call(request, patience.deadline()))
    }

    pub(crate) async fn send_async(
        &self,
        target: Target,
        message: Message,
        delivery: Delivery,
    ) -> Result<Option<Pid>, SendError> {
        let request = Request::Send {
            target,
            message,
            delivery,
            wait: postbox_core::Wait::Block,
        };
        sent(RequestFuture::new(self.link.clone(), request).await)
    }

    /// The one receive primitive: every receive and select ends here.
    pub(crate) fn recv(
        &self,
        branches: Vec<Branch>,
        patience: Patience,
    ) -> Result<(usize, Received), SelectError> {
        let request = Request::Recv {
            branches,
            wait: patience.wait(),
        };
        received(self.call(request, patience.deadline()))
    }

    pub(crate) async fn recv_async(
        &self,
        branches: Vec<Branch>,
    ) -> Result<(usize, Received), SelectError> {
        let request = Request::Recv {
            branches,
            wait: postbox_core::Wait::Block,
        };
        received(RequestFuture::new(self.link.clone(), request).await)
    }

    /// A plain send through `lane`; the message back when the lane declines it.
    pub(crate) fn lane_send(
        &self,
        lane: &Lane,
        message: Message,
        patience: Patience,
    ) -> Result<Result<Option<Pid>, SendError>, Message> {
        match lane.send(self.pid, message, patience.wait(), now()) {
            LaneCall::Done(result) => Ok(result.map(|()| None)),
            LaneCall::Waiting(pending) => Ok(sent(self.link.wait(&pending, patience.deadline()))),
            LaneCall::Declined(message) => Err(message),
        }
    }

    /// A plain receive through `lane`; `None` when the lane declines it.
    pub(crate) fn lane_recv(
        &self,
        lane: &Lane,
        patience: Patience,
    ) -> Option<Result<Received, SelectError>> {
        match lane.recv(self.pid, patience.wait(), now()) {
            LaneCall::Done(result) => Some(result),
            LaneCall::Waiting(pending) => {
                let answer = self.link.wait(&pending, patience.deadline());
                Some(received(answer).map(|(_, message)| message))
            }
            LaneCall::Declined(()) => None,
        }
    }

    /// Carries out an administrative request that answers `Done` or an [`AdminError`].
    pub(crate) fn admin(&self, request: Request) -> Result<(), AdminError> {
        match self.call(request, None) {
            Ok(Response::Done) => Ok(()),
            other => Err(admin_error(other)),
        }
    }
}

/// The error an administrative request's unexpected answer stands for.
pub(crate) fn admin_error(answer: Answer) -> AdminError {
    match answer {
        Ok(Response::AdminFailed(error)) => error,
        Err(Failure::Disconnected) => AdminError::Disconnected,
        Ok(_) | Err(Failure::Protocol) => AdminError::Protocol,
    }
}

fn sent(answer: Answer) -> Result<Option<Pid>, SendError> {
    match answer {
        Ok(Response::Sent { receiver }) => Ok(receiver),
        Ok(Response::SendFailed(error)) => Err(error),
        Err(Failure::Disconnected) => Err(SendError::without_message(SendErrorKind::Disconnected)),
        Ok(_) | Err(Failure::Protocol) => Err(SendError::without_message(SendErrorKind::Protocol)),
    }
}

fn received(answer: Answer) -> Result<(usize, Received), SelectError> {
    let fail = |error| SelectError { branch: 0, error };
    match answer {
        Ok(Response::Received { branch, message }) => {
            Ok((usize::try_from(branch).unwrap_or(usize::MAX), message))
        }
        Ok(Response::RecvFailed(error)) => Err(error),
        Err(Failure::Disconnected) => Err(fail(RecvError::Disconnected)),
        Ok(_) | Err(Failure::Protocol) => Err(fail(RecvError::Protocol)),
    }
}

/// One postbox process: a pid, an inbox, and the mailboxes it opens.
///
/// A `Process` is `Send + Sync`: several threads may send and receive through it at once, and
/// mailbox handles opened from it may move to other threads. Dropping it **terminates** the
/// process, with every effect of termination: its process-owned mailboxes are deleted, whoever
/// waits on it gets `PeerGone`, monitors get a down notification. Mailbox handles that outlive
/// it fail with `Disconnected`, and so do their operations still waiting on other threads. An
/// in-process send's message then comes back, undelivered; through a daemon, a message already
/// on its way when the connection was lost cannot be known to be undelivered, and does not come
/// back.
#[derive(Debug)]
pub struct Process {
    pub(crate) core: Arc<ProcessCore>,
}

impl Drop for Process {
    fn drop(&mut self) {
        self.core.link.terminate();
    }
}

fn inbox(selector: Selector) -> Vec<Branch> {
    vec![Branch::new(Source::Inbox, selector)]
}

fn plain(result: Result<(usize, Received), SelectError>) -> Result<Received, RecvError> {
    result.map(|(_, message)| message).map_err(|e| e.error)
}

impl Process {
    pub(crate) fn new(link: Arc<dyn Link>) -> Process {
        let pid = link.pid();
        Process {
            core: Arc::new(ProcessCore { link, pid }),
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
        self.core.admin(Request::Register {
            name: name.to_owned(),
        })
    }

    /// The live process registered as `name`, if any.
    ///
    /// # Errors
    ///
    /// `Disconnected`.
    pub fn whereis(&self, name: &str) -> Result<Option<Pid>, AdminError> {
        match self.core.call(
            Request::Whereis {
                name: name.to_owned(),
            },
            None,
        ) {
            Ok(Response::Whereis(pid)) => Ok(pid),
            other => Err(admin_error(other)),
        }
    }

    /// Asks for a down notification in this process's inbox when `target` terminates (at once if
    /// it already has). The notification is a [`Received`] whose `is_down()` is true and whose
    /// sender is `target`; it arrives after every message `target` sent this process.
    ///
    /// # Errors
    ///
    /// `NotFound` (no such process ever existed), `Disconnected`.
    pub fn monitor(&self, target: Pid) -> Result<(), AdminError> {
        self.core.admin(Request::Monitor { target })
    }

    /// Stops monitoring `target`.
    ///
    /// # Errors
    ///
    /// `Disconnected`.
    pub fn demonitor(&self, target: Pid) -> Result<(), AdminError> {
        self.core.admin(Request::Demonitor { target })
    }

    /// Statistics of every mailbox this process may see, by name.
    ///
    /// # Errors
    ///
    /// `Disconnected`.
    pub fn list_mailboxes(&self) -> Result<Vec<MailboxStats>, AdminError> {
        match self.core.call(Request::ListMailboxes, None) {
            Ok(Response::Mailboxes(all)) => Ok(all),
            other => Err(admin_error(other)),
        }
    }

    /// Every live process on the node.
    ///
    /// # Errors
    ///
    /// `Disconnected`.
    pub fn list_processes(&self) -> Result<Vec<ProcessInfo>, AdminError> {
        match self.core.call(Request::ListProcesses, None) {
            Ok(Response::Processes(all)) => Ok(all),
            other => Err(admin_error(other)),
        }
    }

    /// Node-wide statistics.
    ///
    /// # Errors
    ///
    /// `Disconnected`.
    pub fn node_stats(&self) -> Result<EngineStats, AdminError> {
        match self.core.call(Request::NodeStats, None) {
            Ok(Response::NodeStats(stats)) => Ok(stats),
            other => Err(admin_error(other)),
        }
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

//! What process, mailbox and select handles share: a process's link to its node, and the one send
//! and one receive primitive that every handle method ends in.

use std::sync::Arc;
use std::time::Instant;

use postbox_core::{
    AdminError, Branch, CallError, CallId, Delivery, MailboxId, Message, Pid, Received, RecvError,
    Reply, ReplyError, SelectError, Selector, SendError, SendErrorKind, Source, Wait,
};
use postbox_wire::{Request, Response, Target};

use crate::transport::ANSWER_BYTES;
use crate::transport::{
    Answer, Call, Flavor, Link, Pending, RequestFuture, Returns, Taking, admin_error, called,
    received, received_many, replied, sent,
};
use crate::wait::Patience;

/// A process's link to its node, shared by its process handle and every mailbox handle it opens.
#[derive(Debug)]
pub(crate) struct ProcessCore {
    pub(crate) link: Arc<dyn Link>,
    pub(crate) pid: Pid,
    /// What dropped receive futures took and gave back to this process (see
    /// [`Returns`]): every receive looks there first.
    pub(crate) returns: Arc<Returns>,
    /// The node whose mailboxes plain names mean, when not the daemon's own (`node=`).
    pub(crate) home_node: Option<String>,
}

impl ProcessCore {
    /// The core of the process `link` is.
    pub(crate) fn new(link: Arc<dyn Link>) -> ProcessCore {
        ProcessCore {
            pid: link.pid(),
            link,
            returns: Arc::default(),
            home_node: None,
        }
    }

    /// The name a mailbox request carries for `name`: with `@node` added when the process has a
    /// home node and `name` names none.
    pub(crate) fn mailbox_name(&self, name: &str) -> String {
        match &self.home_node {
            Some(node) if !name.contains('@') => format!("{name}@{node}"),
            _ => name.to_owned(),
        }
    }

    /// How a request that waits on a transport flavour's own path is waited for: through the link.
    pub(crate) fn waiter(&self) -> impl Fn(&Pending, Option<Instant>) -> Answer + '_ {
        |pending, deadline| self.link.wait(pending, deadline)
    }

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

    /// As [`ProcessCore::send`], as a future that may wait.
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
            wait: Wait::Block,
        };
        sent(RequestFuture::new(self.link.clone(), request).await)
    }

    /// The one receive primitive: every receive and select ends here.
    pub(crate) fn recv(
        &self,
        branches: Vec<Branch>,
        patience: Patience,
    ) -> Result<(usize, Received), SelectError> {
        if let Some(kept) = self.returns.take(&branches) {
            return Ok(kept);
        }
        let request = Request::Recv {
            branches,
            wait: patience.wait(),
        };
        received(self.call(request, patience.deadline()))
    }

    /// As [`ProcessCore::recv`], as a future that may wait. A receive of one branch takes its
    /// message on lease and acknowledges it as it returns it, so that dropping the future gives a
    /// message that crossed the withdrawal back to its mailbox (see [`Returns`]).
    pub(crate) async fn recv_async(
        &self,
        branches: Vec<Branch>,
    ) -> Result<(usize, Received), SelectError> {
        if let Some(kept) = self.returns.take(&branches) {
            return Ok(kept);
        }
        if let [branch] = branches[..] {
            let request = Request::Lease {
                branch,
                max_messages: 1,
                max_bytes: ANSWER_BYTES,
                wait: Wait::Block,
            };
            let taking = Taking::Acked(branch.source);
            let answer = self.receive_async(request, taking).await;
            let message = received_many(answer)
                .map_err(|error| SelectError { branch: 0, error })?
                .into_iter()
                .next()
                .ok_or(SelectError {
                    branch: 0,
                    error: RecvError::Protocol,
                })?;
            return Ok((0, message));
        }
        let sources = branches.iter().map(|branch| branch.source).collect();
        let request = Request::Recv {
            branches,
            wait: Wait::Block,
        };
        received(self.receive_async(request, Taking::Outright(sources)).await)
    }

    /// The future of a receive `request` that takes its messages as `taking` says.
    pub(crate) fn receive_async(&self, request: Request, taking: Taking) -> RequestFuture {
        RequestFuture::receive(self.link.clone(), request, taking, self.returns.clone())
    }

    /// A send to an open mailbox: through the mailbox's transport flavour when it carries plain
    /// sends itself, else through the engine.
    pub(crate) fn send_mailbox(
        &self,
        flavor: &Flavor,
        mailbox: MailboxId,
        message: Message,
        delivery: Delivery,
        patience: Patience,
    ) -> Result<Option<Pid>, SendError> {
        let message = match delivery {
            Delivery::Queued => match flavor.send(&self.waiter(), self.pid, message, patience) {
                Ok(done) => return done,
                Err(declined) => declined,
            },
            Delivery::Receipt => message,
        };
        self.send(Target::Mailbox(mailbox), message, delivery, patience)
    }

    /// As [`ProcessCore::send_mailbox`], as a future: a flavour completes the send only when it
    /// need not wait; a send that waits, waits in the engine.
    pub(crate) async fn send_mailbox_async(
        &self,
        flavor: &Flavor,
        mailbox: MailboxId,
        message: Message,
        delivery: Delivery,
    ) -> Result<Option<Pid>, SendError> {
        let message = match delivery {
            Delivery::Queued => {
                match flavor.send(&self.waiter(), self.pid, message, Patience::None) {
                    Ok(Err(full)) if full.kind() == SendErrorKind::Full => {
                        match full.into_message() {
                            Some(message) => message,
                            None => return Err(SendError::without_message(SendErrorKind::Full)),
                        }
                    }
                    Ok(done) => return done,
                    Err(declined) => declined,
                }
            }
            Delivery::Receipt => message,
        };
        self.send_async(Target::Mailbox(mailbox), message, delivery)
            .await
    }

    /// A receive from an open mailbox: through the mailbox's transport flavour when it carries
    /// plain receives itself, else through the engine.
    pub(crate) fn recv_mailbox(
        &self,
        flavor: &Flavor,
        mailbox: MailboxId,
        selector: Selector,
        patience: Patience,
    ) -> Result<Received, RecvError> {
        if let Some(kept) = self.returns.take_one(Source::Mailbox(mailbox), selector) {
            return Ok(kept);
        }
        if selector == Selector::Any
            && let Some(result) = flavor.recv(&self.waiter(), self.pid, patience)
        {
            return result.map_err(|e| e.error);
        }
        let branches = vec![Branch::new(Source::Mailbox(mailbox), selector)];
        self.recv(branches, patience)
            .map(|(_, message)| message)
            .map_err(|e| e.error)
    }

    /// As [`ProcessCore::recv_mailbox`], as a future: a flavour completes the receive only when a
    /// message is there; a receive that waits, waits in the engine.
    pub(crate) async fn recv_mailbox_async(
        &self,
        flavor: &Flavor,
        mailbox: MailboxId,
        selector: Selector,
    ) -> Result<Received, RecvError> {
        if let Some(kept) = self.returns.take_one(Source::Mailbox(mailbox), selector) {
            return Ok(kept);
        }
        if selector == Selector::Any
            && let Some(Ok(received)) = flavor.recv(&self.waiter(), self.pid, Patience::None)
        {
            return Ok(received);
        }
        let branches = vec![Branch::new(Source::Mailbox(mailbox), selector)];
        self.recv_async(branches)
            .await
            .map(|(_, message)| message)
            .map_err(|e| e.error)
    }

    /// The one call primitive: every call method ends here. `patience` governs the send phase
    /// and the wait for the answer alike (`None`: the request must be queued at once, the
    /// answer is awaited without limit).
    pub(crate) fn call_target(
        &self,
        target: Target,
        request: Message,
        patience: Patience,
    ) -> Result<Message, CallError> {
        let request = Request::Call {
            target,
            request,
            wait: patience.wait(),
        };
        called(self.call(request, patience.deadline()))
    }

    /// As [`ProcessCore::call_target`], as a future; dropping it revokes the call.
    pub(crate) async fn call_target_async(
        &self,
        target: Target,
        request: Message,
    ) -> Result<Message, CallError> {
        let request = Request::Call {
            target,
            request,
            wait: Wait::Block,
        };
        called(RequestFuture::new(self.link.clone(), request).await)
    }

    /// Answers the request of `call`.
    pub(crate) fn reply(&self, call: CallId, reply: Reply) -> Result<(), ReplyError> {
        replied(self.call(Request::Reply { call, reply }, None))
    }

    /// Carries out an administrative request that answers `Done` or an [`AdminError`].
    pub(crate) fn admin(&self, request: Request) -> Result<(), AdminError> {
        match self.call(request, None) {
            Ok(Response::Done) => Ok(()),
            other => Err(admin_error(other)),
        }
    }
}

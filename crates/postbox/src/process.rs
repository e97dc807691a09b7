//! A process handle: one participant, with its pid and inbox, and the operations it performs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use postbox_core::{
    AdminError, Branch, CallError, Delivery, EngineStats, MailboxStats, Message, Pid, ProcessInfo,
    Received, RecvError, Reply, ReplyError, SelectError, Selector, SendError, Source, WaitTarget,
};
use postbox_wire::{NodeLinks, NodeQuery, Request, Response, Target};

use crate::callee::Callee;
use crate::mailbox::MailboxBuilder;
use crate::process_core::ProcessCore;
use crate::transport::{Link, admin_error};
use crate::wait::Patience;

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
        Process {
            core: Arc::new(ProcessCore::new(link)),
        }
    }

    /// As [`Process::new`], with `node` (when given) the node whose mailboxes plain names mean:
    /// `jobs` is then `jobs@node` (a connection URL's `node=` option).
    pub(crate) fn with_home_node(link: Arc<dyn Link>, node: Option<String>) -> Process {
        let mut core = ProcessCore::new(link);
        core.home_node = node;
        Process {
            core: Arc::new(core),
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

    /// Statistics of every mailbox this process may see, by name: on its home node when it
    /// has one (a connection URL's `node=`), else on the node it is connected to.
    ///
    /// # Errors
    ///
    /// `Disconnected`.
    pub fn list_mailboxes(&self) -> Result<Vec<MailboxStats>, AdminError> {
        self.node_query(NodeQuery::ListMailboxes, self.core.home_node.as_deref())
            .and_then(mailboxes)
    }

    /// As [`Process::list_mailboxes`], on node `node` (`postbox ls --node b`).
    ///
    /// # Errors
    ///
    /// `NotFound` when the daemon links with no node of that name (and always in-process),
    /// `Disconnected` when that node is down.
    pub fn list_mailboxes_at(&self, node: &str) -> Result<Vec<MailboxStats>, AdminError> {
        self.node_query(NodeQuery::ListMailboxes, Some(node))
            .and_then(mailboxes)
    }

    /// Every live process on the node this process is connected to (its home node's own
    /// processes are [`Process::list_processes_at`] that node).
    ///
    /// What a process does on other nodes counts as its own: the mailboxes it owns there and
    /// its waits there (a mailbox of node b named `q@b`), and a select spanning nodes waits too.
    /// With a home node (`node=b`), that node's mailboxes are named as this process names them,
    /// plainly (`q`).
    ///
    /// # Errors
    ///
    /// `Disconnected`.
    pub fn list_processes(&self) -> Result<Vec<ProcessInfo>, AdminError> {
        let mut listed = self
            .node_query(NodeQuery::ListProcesses, None)
            .and_then(processes)?;
        if let Some(home) = &self.core.home_node {
            let suffix = format!("@{home}");
            let targets = listed
                .iter_mut()
                .flat_map(|info| &mut info.waits)
                .flat_map(|wait| &mut wait.on);
            for target in targets {
                if let WaitTarget::Mailbox(name) = target
                    && let Some(plain) = name.strip_suffix(&suffix)
                {
                    *name = plain.to_owned();
                }
            }
        }
        Ok(listed)
    }

    /// As [`Process::list_processes`], on node `node`: that node's processes, among them the
    /// proxies of other nodes' processes acting there.
    ///
    /// # Errors
    ///
    /// As [`Process::list_mailboxes_at`].
    pub fn list_processes_at(&self, node: &str) -> Result<Vec<ProcessInfo>, AdminError> {
        self.node_query(NodeQuery::ListProcesses, Some(node))
            .and_then(processes)
    }

    /// Node-wide statistics: of its home node when it has one, else of the node it is
    /// connected to.
    ///
    /// # Errors
    ///
    /// `Disconnected`.
    pub fn node_stats(&self) -> Result<EngineStats, AdminError> {
        self.node_query(NodeQuery::NodeStats, self.core.home_node.as_deref())
            .and_then(stats)
    }

    /// As [`Process::node_stats`], of node `node`.
    ///
    /// # Errors
    ///
    /// As [`Process::list_mailboxes_at`].
    pub fn node_stats_at(&self, node: &str) -> Result<EngineStats, AdminError> {
        self.node_query(NodeQuery::NodeStats, Some(node))
            .and_then(stats)
    }

    /// Puts `query` to `node`, or to the connected node for `None`.
    fn node_query(&self, query: NodeQuery, node: Option<&str>) -> Result<Response, AdminError> {
        let request = match node {
            Some(node) => Request::AtNode {
                node: node.to_owned(),
                query,
            },
            None => query.request(),
        };
        self.core
            .call(request, None)
            .map_err(|e| admin_error(Err(e)))
    }

    /// This node and the nodes it links with (`postbox nodes`): empty in-process, and from a
    /// daemon without node links.
    ///
    /// # Errors
    ///
    /// `Disconnected`.
    ///
    /// # Examples
    ///
    /// ```
    /// let node = postbox::InprocNode::new();
    /// let links = node.process().node_links().unwrap();
    /// assert_eq!(links.local, None, "an in-process node links with no other");
    /// assert!(links.peers.is_empty());
    /// ```
    pub fn node_links(&self) -> Result<NodeLinks, AdminError> {
        match self.core.call(Request::NodeLinks, None) {
            Ok(Response::NodeLinks(links)) => Ok(links),
            other => Err(admin_error(other)),
        }
    }

    /// A buffer of `len` zero bytes to write a payload into, then send without a copy over
    /// `unix://`: see [`Loan`](crate::Loan).
    pub fn loan(&self, len: usize) -> crate::Loan {
        crate::Loan::new(len, self.core.link.attach_from(), true)
    }

    /// As [`loan`](Self::loan), for a caller about to write every byte: a recycled payload slot
    /// is not zeroed first (each byte is 0 or one this process wrote into an earlier payload).
    /// Saves a pass over the buffer.
    pub fn loan_for_overwrite(&self, len: usize) -> crate::Loan {
        crate::Loan::new(len, self.core.link.attach_from(), false)
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

    /// Calls `to` — a process (its pid) or a mailbox this process has open: sends `request`
    /// and waits for the answer, which it returns. Whoever receives the request answers it with
    /// [`Process::reply`] (or [`Process::fail`]). A full mailbox makes the send wait, as a send
    /// would; once a process holds the request, its termination fails the call at once.
    ///
    /// # Errors
    ///
    /// [`CallError`], its kind saying why: `Failed` (the server failed the request; its bytes in
    /// [`CallError::failure`]), `PeerGone` (the called process is gone, or the server that held
    /// the request terminated), `NoResponders` (nobody but this process may receive from the
    /// mailbox), `NotFound`, `Gone`, `Dropped`, `PermissionDenied`, `Busy`, `TooLarge`,
    /// `WrongSize`, `InvalidType`, `QuotaExceeded`, `Disconnected`. The request comes back in
    /// the error whenever no server took it.
    pub fn call(
        &self,
        to: impl Into<Callee>,
        request: impl Into<Message>,
    ) -> Result<Message, CallError> {
        let target = to.into().into();
        self.core
            .call_target(target, request.into(), Patience::Forever)
    }

    /// As [`Process::call`], but fails with `Full` at once, request handed back, when the
    /// request cannot be queued now; the answer is still awaited.
    ///
    /// # Errors
    ///
    /// As [`Process::call`], plus `Full`.
    pub fn try_call(
        &self,
        to: impl Into<Callee>,
        request: impl Into<Message>,
    ) -> Result<Message, CallError> {
        let target = to.into().into();
        self.core
            .call_target(target, request.into(), Patience::None)
    }

    /// As [`Process::call`], waiting at most `timeout` for the send and the answer together.
    /// On `Timeout` the request comes back if no server took it; if one did, its reply right is
    /// revoked, and its answer, when it comes, is dropped and counted in
    /// [`EngineStats::total_late_replies`].
    ///
    /// # Errors
    ///
    /// As [`Process::call`], plus `Timeout`.
    pub fn call_timeout(
        &self,
        to: impl Into<Callee>,
        request: impl Into<Message>,
        timeout: Duration,
    ) -> Result<Message, CallError> {
        let target = to.into().into();
        self.core
            .call_target(target, request.into(), Patience::timeout(timeout))
    }

    /// As [`Process::call_timeout`], waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`Process::call`], plus `Timeout`.
    pub fn call_deadline(
        &self,
        to: impl Into<Callee>,
        request: impl Into<Message>,
        deadline: Instant,
    ) -> Result<Message, CallError> {
        let target = to.into().into();
        self.core
            .call_target(target, request.into(), Patience::Until(deadline))
    }

    /// As [`Process::call`], as a future. Dropping it while it waits withdraws the request if
    /// no server took it, and revokes the server's reply right if one did.
    ///
    /// # Errors
    ///
    /// As [`Process::call`].
    pub async fn call_async(
        &self,
        to: impl Into<Callee>,
        request: impl Into<Message>,
    ) -> Result<Message, CallError> {
        let target = to.into().into();
        self.core.call_target_async(target, request.into()).await
    }

    /// Answers `request`, a call's request this process received: the caller's call returns
    /// `response`. Never waits (QNX's `MsgReply`).
    ///
    /// # Errors
    ///
    /// `NoRight` (`request` is not a request, this process did not receive it, or it was
    /// answered already), `Revoked` (the caller stopped waiting: the answer is dropped and
    /// counted), `TooLarge`, `InvalidType` (the right is kept: answer again), `Disconnected`.
    pub fn reply(
        &self,
        request: &Received,
        response: impl Into<Message>,
    ) -> Result<(), ReplyError> {
        let call = request.call().ok_or(ReplyError::NoRight)?;
        self.core.reply(call, Reply::Answer(response.into()))
    }

    /// Fails `request` with an application error: the caller's call fails with
    /// [`CallErrorKind::Failed`](crate::CallErrorKind::Failed), carrying `error`. Never waits.
    ///
    /// # Errors
    ///
    /// As [`Process::reply`].
    pub fn fail(&self, request: &Received, error: impl Into<Bytes>) -> Result<(), ReplyError> {
        let call = request.call().ok_or(ReplyError::NoRight)?;
        self.core.reply(call, Reply::Failure(error.into()))
    }
}

fn mailboxes(response: Response) -> Result<Vec<MailboxStats>, AdminError> {
    match response {
        Response::Mailboxes(all) => Ok(all),
        other => Err(admin_error(Ok(other))),
    }
}

fn processes(response: Response) -> Result<Vec<ProcessInfo>, AdminError> {
    match response {
        Response::Processes(all) => Ok(all),
        other => Err(admin_error(Ok(other))),
    }
}

fn stats(response: Response) -> Result<EngineStats, AdminError> {
    match response {
        Response::NodeStats(stats) => Ok(stats),
        other => Err(admin_error(Ok(other))),
    }
}

//! Rewriting the identifiers a request or response carries, for forwarding it between nodes.
//!
//! Identifiers are local to a node: a process on another node is known here by a proxy pid, a
//! mailbox on another node is handed to clients under an id from a reserved range, and so is a
//! call. A node that forwards a client's request to the node home to its mailbox, and the answer
//! back, rewrites every identifier in it on the way. [`Request::map_ids`] and
//! [`Response::map_ids`] find them all, however deeply nested, and hand each to an [`IdMap`]
//! exactly once; everything else (names, counters, sequence numbers, payload bytes — a down
//! notification's included) is left as it is.
//!
//! The walk takes every type it passes through apart completely — no `..` in a pattern, no
//! catch-all arm — so that a field or variant added to any of them stops this file compiling
//! until someone decides whether it holds an identifier. Fields of plain value types (numbers,
//! strings, bytes, times, [`Mode`](postbox_core::Mode), [`Credentials`]) are bound to `_`; every
//! other field is walked, even when its type holds no identifier today. [`SendError`] and
//! [`CallError`] keep their fields private, so they are rebuilt from their accessors instead, and
//! a test pins that those show all they hold.

use postbox_core::{
    AdminError, Branch, CallError, CallErrorKind, CallId, Capacity, Credentials, Delivery,
    Dispatch, Durability, EngineStats, LeaseId, MailboxAttrs, MailboxId, MailboxStats, Message,
    MessageKind, MessageSize, OpenError, Order, Overflow, Owner, Ownership, Pid, ProcessInfo,
    Received, Receivers, RecvError, Redelivery, Reply, ReplyError, SelectError, Selector,
    SendError, SendErrorKind, Settlement, Source, Timestamp, Wait, WaitInfo, WaitKind, WaitTarget,
};

use crate::node_links::{LocalNode, NodeLinks, PeerLink, PeerState};
use crate::operation::{NodeQuery, Request, Response, Target};

/// Rewrites identifiers in place, one kind at a time. Infallible: a map that meets an identifier
/// it cannot translate records that itself (and the caller refuses the request afterwards).
///
/// # Examples
///
/// A map that knows a remote process by a proxy pid, and notes one it does not know:
///
/// ```
/// use std::collections::HashMap;
///
/// use postbox_core::{CallId, MailboxId, Pid};
/// use postbox_wire::{IdMap, Request};
///
/// struct Proxies {
///     pids: HashMap<Pid, Pid>,
///     unknown: Option<Pid>,
/// }
///
/// impl IdMap for Proxies {
///     fn pid(&mut self, pid: Pid) -> Pid {
///         match self.pids.get(&pid) {
///             Some(proxy) => *proxy,
///             None => {
///                 self.unknown = Some(pid);
///                 pid
///             }
///         }
///     }
///     fn mailbox(&mut self, id: MailboxId) -> MailboxId {
///         id
///     }
///     fn call(&mut self, id: CallId) -> CallId {
///         id
///     }
/// }
///
/// let (remote, proxy) = (Pid::from_raw(7), Pid::from_raw(1 << 48));
/// let mut proxies = Proxies { pids: HashMap::from([(remote, proxy)]), unknown: None };
///
/// let mut request = Request::Monitor { target: remote };
/// request.map_ids(&mut proxies);
/// assert_eq!(request, Request::Monitor { target: proxy });
///
/// // An identifier the map cannot translate: the caller refuses the request.
/// Request::Demonitor { target: Pid::from_raw(8) }.map_ids(&mut proxies);
/// assert_eq!(proxies.unknown, Some(Pid::from_raw(8)));
/// ```
pub trait IdMap {
    /// The pid to carry on in place of `pid`.
    fn pid(&mut self, pid: Pid) -> Pid;
    /// The mailbox id to carry on in place of `id`.
    fn mailbox(&mut self, id: MailboxId) -> MailboxId;
    /// The call id to carry on in place of `id`.
    fn call(&mut self, id: CallId) -> CallId;
}

/// A borrowed map is a map, so that `&mut dyn IdMap` can be passed on.
impl<M: IdMap + ?Sized> IdMap for &mut M {
    fn pid(&mut self, pid: Pid) -> Pid {
        (**self).pid(pid)
    }

    fn mailbox(&mut self, id: MailboxId) -> MailboxId {
        (**self).mailbox(id)
    }

    fn call(&mut self, id: CallId) -> CallId {
        (**self).call(id)
    }
}

impl Request {
    /// Rewrites every pid, mailbox id and call id in this request through `map`, each exactly
    /// once, and nothing else.
    pub fn map_ids(&mut self, map: &mut impl IdMap) {
        match self {
            Request::Send {
                target,
                message,
                delivery,
                wait,
            } => {
                target.map_ids(map);
                message.map_ids(map);
                delivery.map_ids(map);
                wait.map_ids(map);
            }
            Request::ProducerSend {
                target,
                message,
                delivery,
                wait,
                producer: _,
                seq: _,
            } => {
                target.map_ids(map);
                message.map_ids(map);
                delivery.map_ids(map);
                wait.map_ids(map);
            }
            Request::Recv { branches, wait } => {
                branches.map_ids(map);
                wait.map_ids(map);
            }
            Request::Create { name: _, attrs } => attrs.map_ids(map),
            Request::Open { name: _ } => {}
            Request::OpenOrCreate { name: _, attrs } => attrs.map_ids(map),
            Request::Close { mailbox }
            | Request::Delete { mailbox }
            | Request::SetMode { mailbox, mode: _ }
            | Request::SetMaxBytes { mailbox, bytes: _ }
            | Request::Stat { mailbox }
            | Request::Purge { mailbox }
            | Request::LendRing { mailbox } => mailbox.map_ids(map),
            Request::SetOwner { mailbox, owner } => {
                mailbox.map_ids(map);
                owner.map_ids(map);
            }
            Request::GrantReceive { mailbox, grantee }
            | Request::RevokeReceive { mailbox, grantee } => {
                mailbox.map_ids(map);
                grantee.map_ids(map);
            }
            Request::ListMailboxes
            | Request::Register { name: _ }
            | Request::Whereis { name: _ }
            | Request::ListProcesses
            | Request::NodeStats
            | Request::NodeLinks => {}
            // A node name and a question: no ids.
            Request::AtNode { node: _, query } => match query {
                NodeQuery::ListMailboxes | NodeQuery::ListProcesses | NodeQuery::NodeStats => {}
            },
            Request::Monitor { target } | Request::Demonitor { target } => target.map_ids(map),
            Request::SendBatch {
                target,
                messages,
                wait,
            } => {
                target.map_ids(map);
                messages.map_ids(map);
                wait.map_ids(map);
            }
            Request::RecvMany {
                branch,
                max_messages: _,
                max_bytes: _,
                wait,
            }
            | Request::Lease {
                branch,
                max_messages: _,
                max_bytes: _,
                wait,
            } => {
                branch.map_ids(map);
                wait.map_ids(map);
            }
            Request::Settle {
                source,
                leases,
                settlement,
            } => {
                source.map_ids(map);
                leases.map_ids(map);
                settlement.map_ids(map);
            }
            Request::Peek {
                source,
                selector,
                max_messages: _,
                max_bytes: _,
            } => {
                source.map_ids(map);
                selector.map_ids(map);
            }
            Request::Call {
                target,
                request,
                wait,
            } => {
                target.map_ids(map);
                request.map_ids(map);
                wait.map_ids(map);
            }
            Request::Reply { call, reply } => {
                call.map_ids(map);
                reply.map_ids(map);
            }
        }
    }
}

impl Response {
    /// Rewrites every pid, mailbox id and call id in this response through `map`, each exactly
    /// once, and nothing else.
    pub fn map_ids(&mut self, map: &mut impl IdMap) {
        match self {
            Response::Sent { receiver } => receiver.map_ids(map),
            Response::SendFailed(error) => error.map_ids(map),
            Response::Received { branch: _, message } => message.map_ids(map),
            Response::RecvFailed(error) => error.map_ids(map),
            Response::Opened {
                mailbox,
                created: _,
            } => mailbox.map_ids(map),
            Response::OpenFailed(error) => error.map_ids(map),
            Response::Done | Response::Settled(_) | Response::Purged(_) | Response::RingLent(_) => {
            }
            Response::AdminFailed(error) => error.map_ids(map),
            Response::Stat(stats) => stats.as_mut().map_ids(map),
            Response::Mailboxes(stats) => stats.map_ids(map),
            Response::Whereis(pid) => pid.map_ids(map),
            Response::Processes(processes) => processes.map_ids(map),
            Response::NodeStats(stats) => stats.map_ids(map),
            Response::SentBatch {
                sent: _,
                failed,
                unsent,
            } => {
                failed.map_ids(map);
                unsent.map_ids(map);
            }
            Response::ReceivedMany(messages) | Response::Peeked(messages) => {
                messages.map_ids(map);
            }
            Response::Replied(answer) => answer.map_ids(map),
            Response::CallFailed(error) => error.map_ids(map),
            Response::ReplyFailed(error) => error.map_ids(map),
            Response::NodeLinks(links) => links.map_ids(map),
        }
    }
}

/// One type's part of the walk: hands each identifier it holds to the map, and walks each field
/// that is not a plain value.
trait MapIds {
    fn map_ids(&mut self, map: &mut impl IdMap);
}

impl MapIds for Pid {
    fn map_ids(&mut self, map: &mut impl IdMap) {
        *self = map.pid(*self);
    }
}

impl MapIds for MailboxId {
    fn map_ids(&mut self, map: &mut impl IdMap) {
        *self = map.mailbox(*self);
    }
}

impl MapIds for CallId {
    fn map_ids(&mut self, map: &mut impl IdMap) {
        *self = map.call(*self);
    }
}

impl<T: MapIds> MapIds for Option<T> {
    fn map_ids(&mut self, map: &mut impl IdMap) {
        if let Some(value) = self {
            value.map_ids(map);
        }
    }
}

impl<T: MapIds> MapIds for Vec<T> {
    fn map_ids(&mut self, map: &mut impl IdMap) {
        for value in self {
            value.map_ids(map);
        }
    }
}

/// `MailboxStats::last_send` and `last_recv`: a process and when.
impl MapIds for (Pid, Timestamp) {
    fn map_ids(&mut self, map: &mut impl IdMap) {
        let (pid, _when) = self;
        pid.map_ids(map);
    }
}

impl MapIds for Target {
    fn map_ids(&mut self, map: &mut impl IdMap) {
        match self {
            Target::Process(pid) => pid.map_ids(map),
            Target::Mailbox(id) => id.map_ids(map),
        }
    }
}

impl MapIds for Source {
    fn map_ids(&mut self, map: &mut impl IdMap) {
        match self {
            Source::Inbox => {}
            Source::Mailbox(id) => id.map_ids(map),
        }
    }
}

impl MapIds for Selector {
    fn map_ids(&mut self, map: &mut impl IdMap) {
        match self {
            Selector::Any | Selector::Type(_) | Selector::NotType(_) | Selector::TypeAtMost(_) => {}
            Selector::From(pid) => pid.map_ids(map),
        }
    }
}

impl MapIds for Branch {
    fn map_ids(&mut self, map: &mut impl IdMap) {
        let Branch { source, selector } = self;
        source.map_ids(map);
        selector.map_ids(map);
    }
}

/// A message holds no identifier. `SendError` and `CallError` hand theirs back in private fields
/// and are rebuilt with their constructors: should a field here ever hold one, check that both
/// still walk it (see `CallError` below).
impl MapIds for Message {
    fn map_ids(&mut self, _map: &mut impl IdMap) {
        let Message {
            payload: _,
            mtype: _,
            priority: _,
        } = self;
    }
}

impl MapIds for MessageKind {
    fn map_ids(&mut self, map: &mut impl IdMap) {
        match self {
            MessageKind::User | MessageKind::Down => {}
            MessageKind::Request(call) => call.map_ids(map),
        }
    }
}

/// `seq` and `attempt` number the message within its mailbox, on the node that holds it: a
/// settlement naming them goes back to that mailbox, so they are not rewritten.
impl MapIds for Received {
    fn map_ids(&mut self, map: &mut impl IdMap) {
        let Received {
            message,
            sender,
            seq: _,
            sent_at: _,
            kind,
            attempt: _,
        } = self;
        message.map_ids(map);
        sender.map_ids(map);
        kind.map_ids(map);
    }
}

impl MapIds for Delivery {
    fn map_ids(&mut self, _map: &mut impl IdMap) {
        match self {
            Delivery::Queued | Delivery::Receipt => {}
        }
    }
}

impl MapIds for Wait {
    fn map_ids(&mut self, _map: &mut impl IdMap) {
        match self {
            Wait::Try | Wait::Block => {}
        }
    }
}

impl MapIds for Settlement {
    fn map_ids(&mut self, _map: &mut impl IdMap) {
        match self {
            Settlement::Ack | Settlement::Return => {}
        }
    }
}

/// Numbers a message within its home mailbox, as [`Received`]'s `seq` and `attempt` do.
impl MapIds for LeaseId {
    fn map_ids(&mut self, _map: &mut impl IdMap) {
        let LeaseId { seq: _, attempt: _ } = self;
    }
}

impl MapIds for Reply {
    fn map_ids(&mut self, map: &mut impl IdMap) {
        match self {
            Reply::Answer(answer) => answer.map_ids(map),
            Reply::Failure(_bytes) => {}
        }
    }
}

/// A system owner is a uid and gid, which name users, not postbox identifiers.
impl MapIds for Owner {
    fn map_ids(&mut self, map: &mut impl IdMap) {
        match self {
            Owner::Process(pid) => pid.map_ids(map),
            Owner::System(Credentials { uid: _, gid: _ }) => {}
        }
    }
}

impl MapIds for MailboxAttrs {
    fn map_ids(&mut self, map: &mut impl IdMap) {
        let MailboxAttrs {
            capacity,
            size,
            order,
            overflow,
            ownership,
            receivers,
            mode: _,
            redelivery,
            durability,
        } = self;
        capacity.map_ids(map);
        size.map_ids(map);
        order.map_ids(map);
        overflow.map_ids(map);
        ownership.map_ids(map);
        receivers.map_ids(map);
        redelivery.map_ids(map);
        durability.map_ids(map);
    }
}

impl MapIds for Capacity {
    fn map_ids(&mut self, _map: &mut impl IdMap) {
        match self {
            Capacity::Zero
            | Capacity::Bounded {
                messages: _,
                bytes: _,
            }
            | Capacity::Unbounded => {}
        }
    }
}

impl MapIds for MessageSize {
    fn map_ids(&mut self, _map: &mut impl IdMap) {
        match self {
            MessageSize::Fixed(_) | MessageSize::Variable(_) => {}
        }
    }
}

impl MapIds for Order {
    fn map_ids(&mut self, _map: &mut impl IdMap) {
        match self {
            Order::Fifo | Order::Priority => {}
        }
    }
}

impl MapIds for Overflow {
    fn map_ids(&mut self, _map: &mut impl IdMap) {
        match self {
            Overflow::Block | Overflow::DropOldest => {}
        }
    }
}

impl MapIds for Ownership {
    fn map_ids(&mut self, _map: &mut impl IdMap) {
        match self {
            Ownership::Process | Ownership::System => {}
        }
    }
}

impl MapIds for Receivers {
    fn map_ids(&mut self, map: &mut impl IdMap) {
        match self {
            Receivers::Owner | Receivers::Exclusive | Receivers::Pair | Receivers::Broadcast => {}
            Receivers::Shared(dispatch) => dispatch.map_ids(map),
        }
    }
}

impl MapIds for Dispatch {
    fn map_ids(&mut self, _map: &mut impl IdMap) {
        match self {
            Dispatch::RoundRobin | Dispatch::FirstWaiting => {}
        }
    }
}

/// The dead-letter mailbox is a mailbox id like any other.
impl MapIds for Redelivery {
    fn map_ids(&mut self, map: &mut impl IdMap) {
        let Redelivery {
            lease_time: _,
            max_deliveries: _,
            dead_letter,
        } = self;
        dead_letter.map_ids(map);
    }
}

impl MapIds for Durability {
    fn map_ids(&mut self, _map: &mut impl IdMap) {
        match self {
            Durability::Memory | Durability::Disk => {}
        }
    }
}

impl MapIds for MailboxStats {
    fn map_ids(&mut self, map: &mut impl IdMap) {
        let MailboxStats {
            id,
            name: _,
            attrs,
            owner,
            uid: _,
            gid: _,
            mode: _,
            messages: _,
            bytes: _,
            total_sent: _,
            total_received: _,
            dropped: _,
            last_send,
            last_recv,
            created: _,
            changed: _,
            blocked_senders: _,
            blocked_receivers: _,
            openers: _,
            leased: _,
            dead_lettered: _,
            duplicates_dropped: _,
        } = self;
        id.map_ids(map);
        attrs.map_ids(map);
        owner.map_ids(map);
        last_send.map_ids(map);
        last_recv.map_ids(map);
    }
}

/// `os_pid` is the operating system's pid of the process, not a postbox identifier.
impl MapIds for ProcessInfo {
    fn map_ids(&mut self, map: &mut impl IdMap) {
        let ProcessInfo {
            pid,
            name: _,
            uid: _,
            gid: _,
            inbox_messages: _,
            owned_mailboxes: _,
            waiting: _,
            os_pid: _,
            command: _,
            started: _,
            waits,
        } = self;
        pid.map_ids(map);
        waits.map_ids(map);
    }
}

impl MapIds for WaitInfo {
    fn map_ids(&mut self, map: &mut impl IdMap) {
        let WaitInfo { kind, on, since: _ } = self;
        kind.map_ids(map);
        on.map_ids(map);
    }
}

impl MapIds for WaitKind {
    fn map_ids(&mut self, _map: &mut impl IdMap) {
        match self {
            WaitKind::Recv
            | WaitKind::Lease
            | WaitKind::Send
            | WaitKind::Receipt
            | WaitKind::Call => {}
        }
    }
}

/// A waited-on mailbox is shown by name, which needs no rewriting.
impl MapIds for WaitTarget {
    fn map_ids(&mut self, map: &mut impl IdMap) {
        match self {
            WaitTarget::Mailbox(_) | WaitTarget::Inbox => {}
            WaitTarget::Process(pid) => pid.map_ids(map),
        }
    }
}

impl MapIds for EngineStats {
    fn map_ids(&mut self, _map: &mut impl IdMap) {
        let EngineStats {
            processes: _,
            mailboxes: _,
            queued_messages: _,
            queued_bytes: _,
            max_queued_bytes: _,
            total_sent: _,
            total_received: _,
            total_dropped: _,
            total_dead_lettered: _,
            total_late_replies: _,
        } = self;
    }
}

/// Its fields are private: a kind and the message handed back, all it holds (its encoding is
/// pinned to exactly those two by this crate's `id_map` tests). Rebuilt from them, which is
/// lossless.
impl MapIds for SendError {
    fn map_ids(&mut self, map: &mut impl IdMap) {
        let mut kind = self.kind();
        kind.map_ids(map);
        let taken = std::mem::replace(self, SendError::without_message(kind));
        if let Some(mut message) = taken.into_message() {
            message.map_ids(map);
            *self = SendError::new(kind, message);
        }
    }
}

impl MapIds for SendErrorKind {
    fn map_ids(&mut self, _map: &mut impl IdMap) {
        match self {
            SendErrorKind::NotFound
            | SendErrorKind::PermissionDenied
            | SendErrorKind::Full
            | SendErrorKind::Timeout
            | SendErrorKind::TooLarge
            | SendErrorKind::WrongSize
            | SendErrorKind::InvalidType
            | SendErrorKind::Gone
            | SendErrorKind::PeerGone
            | SendErrorKind::Busy
            | SendErrorKind::QuotaExceeded
            | SendErrorKind::Dropped
            | SendErrorKind::Disconnected
            | SendErrorKind::Protocol => {}
        }
    }
}

/// Its fields are private: a kind, the request handed back and the server's failure bytes, all
/// it holds (pinned as for `SendError`). Rebuilt with `CallError::new` when it hands a request
/// back and carries no failure, which is how the engine makes every such error. One that carries
/// both, which no constructor makes but a peer may send, is left as it is: its request is not
/// walked, harmless while a [`Message`] holds no identifier.
impl MapIds for CallError {
    fn map_ids(&mut self, map: &mut impl IdMap) {
        let mut kind = self.kind();
        kind.map_ids(map);
        if self.message().is_none() || self.failure().is_some() {
            return;
        }
        let taken = std::mem::replace(self, CallError::without_message(kind));
        if let Some(mut request) = taken.into_message() {
            request.map_ids(map);
            *self = CallError::new(kind, request);
        }
    }
}

impl MapIds for CallErrorKind {
    fn map_ids(&mut self, _map: &mut impl IdMap) {
        match self {
            CallErrorKind::NotFound
            | CallErrorKind::PermissionDenied
            | CallErrorKind::Full
            | CallErrorKind::Timeout
            | CallErrorKind::TooLarge
            | CallErrorKind::WrongSize
            | CallErrorKind::InvalidType
            | CallErrorKind::Gone
            | CallErrorKind::PeerGone
            | CallErrorKind::Busy
            | CallErrorKind::QuotaExceeded
            | CallErrorKind::Dropped
            | CallErrorKind::NoResponders
            | CallErrorKind::Failed
            | CallErrorKind::Disconnected
            | CallErrorKind::Protocol => {}
        }
    }
}

/// `branch` is an index into the request's branches.
impl MapIds for SelectError {
    fn map_ids(&mut self, map: &mut impl IdMap) {
        let SelectError { branch: _, error } = self;
        error.map_ids(map);
    }
}

impl MapIds for RecvError {
    fn map_ids(&mut self, _map: &mut impl IdMap) {
        match self {
            RecvError::PermissionDenied
            | RecvError::Empty
            | RecvError::Timeout
            | RecvError::Gone
            | RecvError::PeerGone
            | RecvError::Busy
            | RecvError::Disconnected
            | RecvError::Protocol
            | RecvError::LeaseEnded => {}
        }
    }
}

impl MapIds for OpenError {
    fn map_ids(&mut self, _map: &mut impl IdMap) {
        match self {
            OpenError::NotFound
            | OpenError::AlreadyExists
            | OpenError::PermissionDenied
            | OpenError::InvalidName
            | OpenError::InvalidAttributes(_)
            | OpenError::QuotaExceeded
            | OpenError::Disconnected
            | OpenError::Protocol
            | OpenError::Refused(_) => {}
        }
    }
}

impl MapIds for AdminError {
    fn map_ids(&mut self, _map: &mut impl IdMap) {
        match self {
            AdminError::NotFound
            | AdminError::PermissionDenied
            | AdminError::Gone
            | AdminError::PeerGone
            | AdminError::AlreadyExists
            | AdminError::InvalidName
            | AdminError::InvalidArgument(_)
            | AdminError::Disconnected
            | AdminError::Protocol
            | AdminError::Refused(_) => {}
        }
    }
}

impl MapIds for ReplyError {
    fn map_ids(&mut self, _map: &mut impl IdMap) {
        match self {
            ReplyError::NoRight
            | ReplyError::Revoked
            | ReplyError::TooLarge
            | ReplyError::InvalidType
            | ReplyError::Disconnected
            | ReplyError::Protocol => {}
        }
    }
}

/// Node names, addresses, incarnations and link counters: nothing that names a process, mailbox
/// or call.
impl MapIds for NodeLinks {
    fn map_ids(&mut self, map: &mut impl IdMap) {
        let NodeLinks { local, peers } = self;
        local.map_ids(map);
        peers.map_ids(map);
    }
}

impl MapIds for LocalNode {
    fn map_ids(&mut self, _map: &mut impl IdMap) {
        let LocalNode {
            name: _,
            incarnation: _,
            listen: _,
        } = self;
    }
}

impl MapIds for PeerLink {
    fn map_ids(&mut self, map: &mut impl IdMap) {
        let PeerLink {
            name: _,
            state,
            incarnation: _,
            address: _,
            rtt: _,
            unacked: _,
            retransmissions: _,
            duplicates: _,
            last_heard: _,
        } = self;
        state.map_ids(map);
    }
}

impl MapIds for PeerState {
    fn map_ids(&mut self, _map: &mut impl IdMap) {
        match self {
            PeerState::Connecting | PeerState::Up | PeerState::Down => {}
        }
    }
}

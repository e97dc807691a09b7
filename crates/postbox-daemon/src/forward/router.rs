//! The router: sends requests about other nodes' mailboxes and processes to those nodes, carries
//! out what other nodes send as their processes' proxies, and keeps both sides' books.
//!
//! **This node's processes acting elsewhere.** A request whose destination is another node is
//! translated (proxy pids back to the peer's pids, reserved ids back to the peer's ids, this
//! node's pids marked as such), remembered as *pending* with the connection that asked, and
//! queued to the peer. Its answer comes back translated the other way (the peer's pids become
//! proxies here, its mailbox and call ids reserved ids) and goes to that connection's outbox,
//! exactly as a completion routed from another connection does. If the peer goes down first,
//! the request is answered `Disconnected`, its message handed back: *indeterminate*.
//!
//! **Other nodes' processes acting here.** A peer's process has a *proxy* here: an ordinary
//! engine process (a hub connection whose outbox leads back over the link), made on first
//! sight and ended when the peer says its process ended or the peer goes down. Requests it
//! forwards are carried out as that proxy, under request ids of this node's choosing; their
//! answers go back over the link.
//!
//! **Ends.** Every pid of this node another node has been told of (*exported*) is announced
//! there when it ends, after everything it sent, since all messages to a peer travel one queue.
//!
//! What this node asks of peers for itself (spanning selects' parts, process lists) is in
//! [`asking`].
//!
//! The state sits behind a `std` mutex taken for short, non-waiting steps; the hub's lock is
//! only ever taken inside it, never the other way round.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use bytes::Bytes;
use postbox_core::{
    CallId, Credentials, MailboxId, OsProcess, Pid, Source, Ticket, Wait, WaitInfo,
};
use postbox_wire::link::NodeName;
use postbox_wire::{
    ENDED_PID, ErrorCode, IdMap, NodeMessage, PEER_PID, Request, RequestId, Response,
};
use tokio::sync::{Notify, oneshot};

use super::destination::{Destination, destination};
use super::disconnected::disconnected;
use super::reserved_ids::{self, MAX_PEERS};
use super::spanning_select::{self, Part, SpanningSelect};
use crate::hub::{self, ConnId, Hub, Outcome};
use crate::node::{NodeEvent, NodeEventHandler, NodeSendError, NodeStatus, PeerQueue, SendTag};
use crate::outbox::{Outbox, OutboxReceiver, Reply, outbox};

mod asking;

/// The most proxies of one peer's processes: bounds what one node can make this one hold.
pub(crate) const MAX_PROXIES_PER_PEER: usize = 65_536;

/// The request ids of what this node asks of peers for itself (spanning selects' parts,
/// mailbox names, process lists): a range client ids never reach.
const PART_IDS: u64 = 1 << 62;

/// How many ended proxies of one peer are remembered by the peer's pid.
const MAX_ENDED_PROXIES: usize = 65_536;

/// The credentials of a proxy made for a pid seen in a message before its process acted here:
/// nobody's, until it acts with its own.
const UNKNOWN_CREDENTIALS: Credentials = Credentials::new(65534, 65534);

/// What a connection does with a request.
#[derive(Debug)]
pub(crate) enum Routing {
    /// Carry it out here (a `name@this-node` has lost its suffix).
    Local(Request),
    /// Sent to another node: its answer comes through the connection's outbox.
    Forwarded,
    /// Answer it with this, now.
    Answered(Response),
    /// Answer it with this `Error`, now.
    Refused(ErrorCode, String),
}

/// A proxy here of a peer's process.
#[derive(Debug)]
struct Proxy {
    conn: ConnId,
    pid: Pid,
}

/// Where the answer to a forwarded request goes.
#[derive(Debug)]
enum Sink {
    /// To the connection (a client's, or a proxy's) that asked.
    Conn(ConnId),
    /// To a select spanning nodes, which asked for one part of it (or a mailbox's name).
    Select(oneshot::Sender<Response>),
    /// To this node's process list, which asked for the peer's: only the entries of this
    /// node's processes' proxies are kept (see [`process_list`](super::process_list)), so that the peer's other
    /// processes get no proxies here.
    Listing(oneshot::Sender<Response>),
}

/// A request of this node's process forwarded to a peer.
#[derive(Debug)]
struct Pending {
    sink: Sink,
    /// The request as the process sent it, for handing its message back if the peer goes.
    request: Request,
}

/// How a request a peer's process made here is waiting.
#[derive(Clone, Copy, Debug)]
enum Waiting {
    /// In the engine, under this ticket.
    Ticket(Ticket),
    /// For the store, or for a further node: its answer comes through the outbox.
    Answer,
    /// Forwarded further, to this peer.
    Forwarded(usize),
}

/// A request a peer's process has waiting here.
#[derive(Debug)]
struct Serving {
    origin: u64,
    id: u64,
    conn: ConnId,
    proxy: Pid,
    waiting: Waiting,
}

/// One peer node, as the router knows it.
#[derive(Debug)]
struct Peer {
    name: NodeName,
    /// Where messages to the peer go: straight to its task (`None` only if the node links no
    /// longer know it, which only their shutdown does).
    queue: Option<Arc<PeerQueue>>,
    /// The outbox every proxy of this peer's processes answers through.
    outbox: Outbox,
    /// Proxies here of the peer's processes, by their pid there.
    proxies: HashMap<u64, Proxy>,
    /// Requests of this node's processes forwarded to the peer, by origin and request id.
    pending: HashMap<(Pid, u64), Pending>,
    /// Requests of the peer's processes waiting here, by the request id their proxy used.
    serving: HashMap<u64, Serving>,
    /// The same, by the peer's origin and request id, for its `Cancel`s.
    serving_ids: HashMap<(u64, u64), u64>,
    next_serving: u64,
    /// The ended process every ended pid of the peer is translated to, once needed.
    ended: Option<Pid>,
    /// The proxies that ended, by the peer's pid, so that a later mention of that pid (a
    /// receive from it, say) still names the same, now ended, process: the newest
    /// [`MAX_ENDED_PROXIES`].
    ended_proxies: HashMap<u64, Pid>,
    ended_order: VecDeque<u64>,
}

/// A select spanning nodes, as the router keeps it.
#[derive(Debug)]
struct Spanning {
    /// Told to stop it.
    stop: Arc<Notify>,
    /// What it waits for, once it has found nothing and waits (for the process list).
    wait: Option<WaitInfo>,
}

#[derive(Debug, Default)]
struct State {
    peers: Vec<Peer>,
    by_name: HashMap<NodeName, usize>,
    /// Which peer's process each proxy pid stands for, and its pid there.
    proxies: HashMap<Pid, (usize, u64)>,
    /// The peers each live local pid has been told to, for announcing its end.
    exported: HashMap<Pid, Vec<usize>>,
    /// Selects spanning nodes, by process and request id.
    selects: HashMap<(Pid, u64), Spanning>,
    /// The request id of the next part of a spanning select asked of a peer.
    next_part_id: u64,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Router {
    /// This router, for the tasks it starts.
    me: Weak<Router>,
    hub: Arc<Hub>,
    nodes: NodeStatus,
    local: NodeName,
    /// The fixed identities of peers' processes (`--peer-identity`).
    identities: HashMap<NodeName, Credentials>,
    state: Mutex<State>,
}

impl Router {
    /// A router for `hub` over the node links of `nodes`, which hand it their events (as its
    /// [`NodeEventHandler`]). A process of a peer in `identities` acts as that uid and gid,
    /// whatever its node said.
    pub(crate) fn new(
        hub: Arc<Hub>,
        nodes: NodeStatus,
        identities: HashMap<NodeName, Credentials>,
    ) -> Arc<Router> {
        Arc::new_cyclic(|me| Router {
            me: me.clone(),
            local: nodes.name().clone(),
            identities,
            hub,
            nodes,
            state: Mutex::new(State::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Decides where request `id` of connection `conn` (process `pid`, running as `creds`)
    /// is carried out, and forwards it if that is another node.
    pub(crate) fn route(
        &self,
        conn: ConnId,
        pid: Pid,
        creds: Credentials,
        id: RequestId,
        mut request: Request,
    ) -> Routing {
        let mut state = self.lock();
        let place = destination(&mut request, &self.local, |p| {
            state.proxies.get(&p).map(|(peer, _)| *peer)
        });
        if place == Destination::Mixed {
            return self.select_across(&mut state, conn, pid, creds, id, request);
        }
        if place == Destination::Here && request == Request::ListProcesses {
            return self.list_processes(&mut state, conn, pid, creds, id);
        }
        self.dispatch(
            &mut state,
            place,
            Sink::Conn(conn),
            pid,
            creds,
            id.get(),
            request,
        )
    }

    /// Sends `request` where `place` says, or gives it back to be carried out here.
    #[allow(clippy::too_many_arguments)]
    fn dispatch(
        &self,
        state: &mut State,
        place: Destination,
        sink: Sink,
        pid: Pid,
        creds: Credentials,
        id: u64,
        request: Request,
    ) -> Routing {
        let peer = match place {
            Destination::Here => return Routing::Local(request),
            Destination::Peer(peer) => peer,
            Destination::Node(name) => {
                if !self.nodes.knows(&name) {
                    return Routing::Answered(unknown_node(request));
                }
                match self.peer(state, &name) {
                    Some(peer) => peer,
                    None => return Routing::Answered(disconnected(request)),
                }
            }
            Destination::Mixed => {
                return Routing::Refused(
                    ErrorCode::LIMIT_EXCEEDED,
                    "a select over mailboxes of more than one node is not supported: select \
                     over one node's mailboxes, or receive from each in its own thread"
                        .into(),
                );
            }
        };
        if peer >= state.peers.len() {
            return Routing::Answered(disconnected(request));
        }
        let kept = request.clone();
        let mut forwarded = request;
        let mut map = ToPeer {
            router: self,
            state,
            peer,
            reserved: true,
            failed: false,
        };
        forwarded.map_ids(&mut map);
        map.export(pid);
        if map.failed {
            return Routing::Refused(
                ErrorCode::LIMIT_EXCEEDED,
                "the request names mailboxes or calls of more than one node".into(),
            );
        }
        let message = NodeMessage::Request {
            origin: pid,
            credentials: creds,
            id,
            request: forwarded,
        };
        let slot = &mut state.peers[peer];
        // Queued before it is pending: its answer is handled under the lock held here.
        if slot.send(message.encode(), Some((pid, id))).is_err() {
            return Routing::Answered(disconnected(kept));
        }
        slot.pending.insert(
            (pid, id),
            Pending {
                sink,
                request: kept,
            },
        );
        Routing::Forwarded
    }

    /// Starts request `id`, a select whose branches span nodes, polled by a task of its own
    /// (see [`spanning_select`]); its answer comes through the connection's outbox.
    fn select_across(
        &self,
        state: &mut State,
        conn: ConnId,
        pid: Pid,
        creds: Credentials,
        id: RequestId,
        request: Request,
    ) -> Routing {
        let Request::Recv { branches, wait } = request else {
            return Routing::Answered(disconnected(request));
        };
        let mut parts: Vec<Part> = Vec::new();
        for (index, branch) in branches.into_iter().enumerate() {
            let place = match branch.source {
                Source::Mailbox(mailbox) => reserved_ids::resolve(mailbox.as_raw())
                    .map_or(Destination::Here, |(peer, _)| Destination::Peer(peer)),
                Source::Inbox => Destination::Here,
            };
            match parts.iter_mut().find(|part| part.place == place) {
                Some(part) => {
                    part.branches.push(branch);
                    part.indices.push(index);
                }
                None => parts.push(Part {
                    place,
                    branches: vec![branch],
                    indices: vec![index],
                }),
            }
        }
        let Some(router) = self.me.upgrade() else {
            return Routing::Answered(disconnected(Request::Recv {
                branches: Vec::new(),
                wait,
            }));
        };
        let stop = Arc::new(Notify::new());
        state.selects.insert(
            (pid, id.get()),
            Spanning {
                stop: stop.clone(),
                wait: None,
            },
        );
        let select = SpanningSelect {
            conn,
            pid,
            creds,
            id,
            parts,
            block: wait == Wait::Block,
            since: hub::now(),
            stop,
        };
        tokio::spawn(spanning_select::run(router, select));
        Routing::Forwarded
    }

    /// Withdraws forwarded request `id` of process `pid`, if it still waits there.
    pub(crate) fn cancel(&self, pid: Pid, id: RequestId) {
        let state = self.lock();
        let id = id.get();
        if let Some(select) = state.selects.get(&(pid, id)) {
            select.stop.notify_one();
            return;
        }
        if let Some(peer) = state
            .peers
            .iter()
            .find(|peer| peer.pending.contains_key(&(pid, id)))
        {
            let message = NodeMessage::Cancel { origin: pid, id };
            let _ = peer.send(message.encode(), None);
        }
    }

    /// Local process `pid` ended (its connection closed, the hub told): forgets its forwarded
    /// requests and announces its end to every node that knows it.
    pub(crate) fn ended(&self, pid: Pid) {
        let mut state = self.lock();
        self.announce_end(&mut state, pid);
    }

    fn announce_end(&self, state: &mut State, pid: Pid) {
        state.selects.retain(|(origin, _), select| {
            if *origin == pid {
                select.stop.notify_one();
            }
            *origin != pid
        });
        for peer in &mut state.peers {
            peer.pending.retain(|(origin, _), _| *origin != pid);
        }
        for peer in state.exported.remove(&pid).unwrap_or_default() {
            if let Some(peer) = state.peers.get(peer) {
                let _ = peer.send(NodeMessage::Ended { pid }.encode(), None);
            }
        }
    }

    /// The index of peer `name`, its slot and tasks made on first use; `None` past
    /// [`MAX_PEERS`].
    fn peer(&self, state: &mut State, name: &NodeName) -> Option<usize> {
        if let Some(&index) = state.by_name.get(name) {
            return Some(index);
        }
        let index = state.peers.len();
        if index >= MAX_PEERS {
            return None;
        }
        let (outbox, answers) = outbox();
        state.peers.push(Peer {
            name: name.clone(),
            queue: self.nodes.queue(name),
            outbox,
            proxies: HashMap::new(),
            pending: HashMap::new(),
            serving: HashMap::new(),
            serving_ids: HashMap::new(),
            next_serving: 1,
            ended: None,
            ended_proxies: HashMap::new(),
            ended_order: VecDeque::new(),
        });
        state.by_name.insert(name.clone(), index);
        if let Some(router) = self.me.upgrade() {
            tokio::spawn(proxies_answered(router, index, answers));
        }
        Some(index)
    }

    fn node_event(&self, state: &mut State, event: NodeEvent) {
        match event {
            NodeEvent::Delivered { peer, message } => {
                let Some(index) = self.peer(state, &peer) else {
                    return;
                };
                match NodeMessage::decode(&message) {
                    Ok(message) => self.received(state, index, message),
                    Err(error) => tracing::warn!(
                        %peer,
                        "dropped a message node {peer} sent: it is not a node message ({error}); \
                         are both nodes the same postbox version?"
                    ),
                }
            }
            NodeEvent::Up { peer, resumed, .. } => {
                if !resumed && let Some(&index) = state.by_name.get(&peer) {
                    self.peer_gone(state, index);
                }
            }
            NodeEvent::Down { peer, .. } | NodeEvent::PeerRestarted { peer, .. } => {
                if let Some(&index) = state.by_name.get(&peer) {
                    self.peer_gone(state, index);
                }
            }
        }
    }

    /// Carries out what peer `index` sent.
    fn received(&self, state: &mut State, index: usize, message: NodeMessage) {
        match message {
            NodeMessage::Request {
                origin,
                credentials,
                id,
                request,
            } => self.serve(state, index, origin.as_raw(), credentials, id, request),
            NodeMessage::Cancel { origin, id } => self.withdraw(state, index, origin.as_raw(), id),
            NodeMessage::Answer {
                origin,
                id,
                mut response,
            } => {
                let Some(pending) = state.peers[index].pending.remove(&(origin, id)) else {
                    // Its process ended, or the peer was declared down, meanwhile.
                    return;
                };
                if let (Sink::Listing(_), Response::Processes(entries)) =
                    (&pending.sink, &mut response)
                {
                    entries.retain(|entry| entry.pid.as_raw() & PEER_PID != 0);
                }
                let mut map = FromPeer {
                    router: self,
                    state,
                    peer: index,
                    reserved: true,
                    failed: false,
                };
                response.map_ids(&mut map);
                if map.failed {
                    tracing::warn!(
                        peer = %state.peers[index].name,
                        "an answer from node {} names ids this node cannot hand on",
                        state.peers[index].name
                    );
                }
                self.deliver(pending.sink, id, response);
            }
            NodeMessage::Refused {
                origin,
                id,
                code,
                message,
            } => {
                if let Some(pending) = state.peers[index].pending.remove(&(origin, id)) {
                    match pending.sink {
                        Sink::Conn(conn) => {
                            if let Some(id) = RequestId::new(id) {
                                self.hub.fail(conn, id, code, message);
                            }
                        }
                        Sink::Select(sink) | Sink::Listing(sink) => {
                            let _ = sink.send(disconnected(pending.request));
                        }
                    }
                }
            }
            NodeMessage::Ended { pid } => self.end_proxy(state, index, pid.as_raw()),
        }
    }

    /// Hands `response`, the answer to forwarded request `id`, to whoever waits for it.
    fn deliver(&self, sink: Sink, id: u64, response: Response) {
        match sink {
            Sink::Conn(conn) => self.answer(conn, id, response),
            Sink::Select(sink) | Sink::Listing(sink) => {
                let _ = sink.send(response);
            }
        }
    }

    /// Answers request `id` of connection `conn` (a client's, or a proxy's on behalf of
    /// another node) with `response`.
    fn answer(&self, conn: ConnId, id: u64, response: Response) {
        if let Some(id) = RequestId::new(id) {
            self.hub.answer(conn, id, response);
        }
    }

    /// Carries out request `id` of peer `index`'s process `origin` as its proxy here.
    fn serve(
        &self,
        state: &mut State,
        index: usize,
        origin: u64,
        creds: Credentials,
        id: u64,
        mut request: Request,
    ) {
        let creds = self
            .identities
            .get(&state.peers[index].name)
            .copied()
            .unwrap_or(creds);
        let Some(proxy) = self.proxy(state, index, origin, Some(creds)) else {
            self.refuse(
                state,
                index,
                origin,
                id,
                ErrorCode::LIMIT_EXCEEDED,
                "this node holds as many proxies of that node's processes as it may",
            );
            return;
        };
        let mut map = FromPeer {
            router: self,
            state,
            peer: index,
            reserved: false,
            failed: false,
        };
        request.map_ids(&mut map);
        let peer = &mut state.peers[index];
        let local_id = peer.next_serving;
        peer.next_serving += 1;
        let place = destination(&mut request, &self.local, |p| {
            state.proxies.get(&p).map(|(peer, _)| *peer)
        });
        if place != Destination::Here {
            // Its target lives on a third node: pass it on, as this proxy.
            let onward = match &place {
                Destination::Peer(peer) => Some(*peer),
                _ => None,
            };
            let routing = self.dispatch(
                state,
                place,
                Sink::Conn(proxy.0),
                proxy.1,
                creds,
                local_id,
                request,
            );
            match routing {
                Routing::Forwarded => {
                    let waiting = onward.map_or(Waiting::Answer, Waiting::Forwarded);
                    self.wait(state, index, origin, id, local_id, proxy, waiting);
                }
                Routing::Answered(response) => self.reply(state, index, origin, id, response),
                Routing::Refused(code, message) => {
                    self.refuse(state, index, origin, id, code, &message);
                }
                Routing::Local(_) => {}
            }
            return;
        }
        let Some(request_id) = RequestId::new(local_id) else {
            return;
        };
        let (outcome, routed) = self.hub.request(proxy.0, request_id, request);
        match outcome {
            Outcome::Answered(response) => self.reply(state, index, origin, id, response),
            Outcome::Waiting(ticket) => {
                self.wait(
                    state,
                    index,
                    origin,
                    id,
                    local_id,
                    proxy,
                    Waiting::Ticket(ticket),
                );
            }
            Outcome::Deferred => {
                self.wait(state, index, origin, id, local_id, proxy, Waiting::Answer)
            }
            Outcome::Refused(code, message) => self.refuse(state, index, origin, id, code, message),
        }
        routed.post();
    }

    #[allow(clippy::too_many_arguments)]
    fn wait(
        &self,
        state: &mut State,
        index: usize,
        origin: u64,
        id: u64,
        local_id: u64,
        proxy: (ConnId, Pid),
        waiting: Waiting,
    ) {
        let peer = &mut state.peers[index];
        peer.serving.insert(
            local_id,
            Serving {
                origin,
                id,
                conn: proxy.0,
                proxy: proxy.1,
                waiting,
            },
        );
        peer.serving_ids.insert((origin, id), local_id);
    }

    /// Sends peer `index` the answer to its process `origin`'s request `id`.
    fn reply(&self, state: &mut State, index: usize, origin: u64, id: u64, mut response: Response) {
        let mut map = ToPeer {
            router: self,
            state,
            peer: index,
            reserved: false,
            failed: false,
        };
        response.map_ids(&mut map);
        let message = NodeMessage::Answer {
            origin: Pid::from_raw(origin),
            id,
            response,
        };
        let _ = state.peers[index].send(message.encode(), None);
    }

    fn refuse(
        &self,
        state: &mut State,
        index: usize,
        origin: u64,
        id: u64,
        code: ErrorCode,
        message: &str,
    ) {
        let message = NodeMessage::Refused {
            origin: Pid::from_raw(origin),
            id,
            code,
            message: message.to_owned(),
        };
        let _ = state.peers[index].send(message.encode(), None);
    }

    /// Withdraws peer `index`'s process `origin`'s request `id`, if it still waits here.
    fn withdraw(&self, state: &mut State, index: usize, origin: u64, id: u64) {
        let peer = &state.peers[index];
        let Some(&local_id) = peer.serving_ids.get(&(origin, id)) else {
            return;
        };
        let Some(serving) = peer.serving.get(&local_id) else {
            return;
        };
        let (conn, proxy, waiting) = (serving.conn, serving.proxy, serving.waiting);
        match waiting {
            Waiting::Ticket(ticket) => {
                let Some(request_id) = RequestId::new(local_id) else {
                    return;
                };
                let (withdrawn, routed) = self.hub.cancel(conn, request_id, ticket);
                if let Some(response) = withdrawn {
                    let peer = &mut state.peers[index];
                    peer.serving.remove(&local_id);
                    peer.serving_ids.remove(&(origin, id));
                    self.reply(state, index, origin, id, response);
                }
                routed.post();
            }
            Waiting::Forwarded(onward) => {
                let message = NodeMessage::Cancel {
                    origin: proxy,
                    id: local_id,
                };
                if let Some(onward) = state.peers.get(onward) {
                    let _ = onward.send(message.encode(), None);
                }
            }
            // Answered once the store has it, whatever happens.
            Waiting::Answer => {}
        }
    }

    /// A proxy's request `local_id` of peer `index` was answered (through the outbox): sends
    /// the answer to the peer.
    fn proxy_answered(&self, index: usize, local_id: u64, reply: Reply) {
        let mut state = self.lock();
        let Some(peer) = state.peers.get_mut(index) else {
            return;
        };
        let Some(serving) = peer.serving.remove(&local_id) else {
            return;
        };
        peer.serving_ids.remove(&(serving.origin, serving.id));
        match reply {
            Reply::Answer(response) => {
                self.reply(&mut state, index, serving.origin, serving.id, *response);
            }
            Reply::Fail(code, message) => {
                self.refuse(
                    &mut state,
                    index,
                    serving.origin,
                    serving.id,
                    code,
                    &message,
                );
            }
        }
    }

    /// The proxy here of peer `index`'s process `pid`, made if need be (with `creds`, or
    /// nobody's until it acts); an existing proxy acting with `creds` takes them.
    fn proxy(
        &self,
        state: &mut State,
        index: usize,
        pid: u64,
        creds: Option<Credentials>,
    ) -> Option<(ConnId, Pid)> {
        let peer = state.peers.get_mut(index)?;
        if let Some(proxy) = peer.proxies.get(&pid) {
            if let Some(creds) = creds {
                self.hub.set_credentials(proxy.pid, creds);
            }
            return Some((proxy.conn, proxy.pid));
        }
        if peer.proxies.len() >= MAX_PROXIES_PER_PEER {
            return None;
        }
        let os = OsProcess {
            pid: None,
            command: Some(format!("{pid}@{}", peer.name)),
        };
        let (conn, proxy) = self.hub.connect(
            creds.unwrap_or(UNKNOWN_CREDENTIALS),
            os,
            peer.outbox.clone(),
        )?;
        peer.proxies.insert(pid, Proxy { conn, pid: proxy });
        state.proxies.insert(proxy, (index, pid));
        Some((conn, proxy))
    }

    /// A pid that stands for an ended process of peer `index`: the peer's one proxy for all of
    /// them, made and ended at once (pid 0, which never exists, if the hub is shutting down).
    fn ended_proxy(&self, state: &mut State, index: usize) -> Pid {
        let Some(peer) = state.peers.get_mut(index) else {
            return Pid::from_raw(0);
        };
        if let Some(pid) = peer.ended {
            return pid;
        }
        let os = OsProcess {
            pid: None,
            command: Some(format!("ended@{}", peer.name)),
        };
        let Some((conn, pid)) = self
            .hub
            .connect(UNKNOWN_CREDENTIALS, os, peer.outbox.clone())
        else {
            return Pid::from_raw(0);
        };
        self.hub.disconnect(conn, []).post();
        peer.ended = Some(pid);
        pid
    }

    /// Peer `index`'s process `pid` ended: so does its proxy here, after everything it sent.
    fn end_proxy(&self, state: &mut State, index: usize, pid: u64) {
        let Some(proxy) = state
            .peers
            .get_mut(index)
            .and_then(|peer| peer.proxies.remove(&pid))
        else {
            return;
        };
        state.proxies.remove(&proxy.pid);
        let peer = &mut state.peers[index];
        peer.ended_proxies.insert(pid, proxy.pid);
        peer.ended_order.push_back(pid);
        if peer.ended_order.len() > MAX_ENDED_PROXIES
            && let Some(oldest) = peer.ended_order.pop_front()
        {
            peer.ended_proxies.remove(&oldest);
        }
        let mut tickets = Vec::new();
        peer.serving.retain(|_, serving| {
            if serving.conn != proxy.conn {
                return true;
            }
            if let Waiting::Ticket(ticket) = serving.waiting {
                tickets.push(ticket);
            }
            false
        });
        peer.serving_ids
            .retain(|_, local_id| peer.serving.contains_key(local_id));
        self.hub.disconnect(proxy.conn, tickets).post();
        self.announce_end(state, proxy.pid);
    }

    /// Peer `index` went down or restarted: its processes are gone here (their proxies end),
    /// and every request forwarded to it fails `Disconnected`.
    fn peer_gone(&self, state: &mut State, index: usize) {
        let pending = std::mem::take(&mut state.peers[index].pending);
        for ((_, id), pending) in pending {
            self.deliver(pending.sink, id, disconnected(pending.request));
        }
        let proxies: Vec<u64> = state.peers[index].proxies.keys().copied().collect();
        for pid in proxies {
            self.end_proxy(state, index, pid);
        }
        let peer = &mut state.peers[index];
        peer.serving.clear();
        peer.serving_ids.clear();
        for peers in state.exported.values_mut() {
            peers.retain(|&peer| peer != index);
        }
        state.exported.retain(|_, peers| !peers.is_empty());
    }
}

/// The node links' events are carried out in the peer's task that read them, as they are read:
/// a batch of messages read together takes the lock once, and no task hand-over lies between
/// the link and the engine.
impl NodeEventHandler for Router {
    fn handle(&self, events: &mut VecDeque<NodeEvent>) {
        let mut state = self.lock();
        for event in events.drain(..) {
            self.node_event(&mut state, event);
        }
    }

    /// A forwarded request could not be sent: it fails `Disconnected`, its message handed back
    /// (the peer never saw it).
    fn unsent(&self, peer: &NodeName, (pid, id): SendTag, error: NodeSendError) {
        let mut state = self.lock();
        let Some(pending) = state
            .by_name
            .get(peer)
            .copied()
            .and_then(|index| state.peers[index].pending.remove(&(pid, id)))
        else {
            return;
        };
        drop(state);
        tracing::debug!("a forwarded request failed: {error}");
        self.deliver(pending.sink, id, disconnected(pending.request));
    }
}

impl Peer {
    /// Queues `message` for the peer's task, carrying request `tag` if any (reported back
    /// through [`NodeEventHandler::unsent`] if the link does not take it).
    fn send(&self, message: Bytes, tag: Option<SendTag>) -> Result<(), NodeSendError> {
        match &self.queue {
            Some(queue) => queue.push(message, tag),
            None => Err(NodeSendError::Stopped { message }),
        }
    }
}

/// Hands the answers to requests of peer `index`'s proxies back to the peer.
async fn proxies_answered(router: Arc<Router>, index: usize, mut answers: OutboxReceiver) {
    while let Some((id, reply)) = answers.next().await {
        router.proxy_answered(index, id.get(), reply);
    }
}

/// The answer to a request for a node that is neither this one nor a peer: as if the mailbox
/// or name did not exist there, or `Disconnected` for what cannot say so.
fn unknown_node(request: Request) -> Response {
    match request {
        Request::Create { .. } | Request::Open { .. } | Request::OpenOrCreate { .. } => {
            Response::OpenFailed(postbox_core::OpenError::NotFound)
        }
        Request::Whereis { .. } => Response::Whereis(None),
        Request::ListMailboxes | Request::ListProcesses | Request::NodeStats => {
            Response::AdminFailed(postbox_core::AdminError::NotFound)
        }
        other => disconnected(other),
    }
}

/// Translates what goes to peer `peer`: its processes' proxies back to their pids there (marked
/// [`PEER_PID`]), this node's pids as they are (remembered as exported); with `reserved`, the
/// peer's reserved mailbox and call ids back to its own, and any other id a failure.
struct ToPeer<'a> {
    router: &'a Router,
    state: &'a mut State,
    peer: usize,
    reserved: bool,
    failed: bool,
}

impl ToPeer<'_> {
    /// Remembers that peer `peer` knows live local pid `pid`.
    fn export(&mut self, pid: Pid) {
        if !self.router.hub.is_alive(pid) {
            return;
        }
        let peers = self.state.exported.entry(pid).or_default();
        if !peers.contains(&self.peer) {
            peers.push(self.peer);
        }
    }

    fn own_id(&mut self, raw: u64) -> u64 {
        if !self.reserved {
            return raw;
        }
        match reserved_ids::resolve(raw) {
            Some((peer, id)) if peer == self.peer => id,
            _ => {
                self.failed = true;
                raw
            }
        }
    }
}

impl IdMap for ToPeer<'_> {
    fn pid(&mut self, pid: Pid) -> Pid {
        match self.state.proxies.get(&pid) {
            Some(&(peer, raw)) if peer == self.peer => Pid::from_raw(raw | PEER_PID),
            Some(_) => {
                self.export(pid);
                pid
            }
            None if self.router.hub.is_alive(pid) => {
                self.export(pid);
                pid
            }
            // Ended (or never was): the peer must not take it for a live process.
            None => Pid::from_raw(pid.as_raw() | ENDED_PID),
        }
    }

    fn mailbox(&mut self, id: MailboxId) -> MailboxId {
        MailboxId::from_raw(self.own_id(id.as_raw()))
    }

    fn call(&mut self, id: CallId) -> CallId {
        CallId::from_raw(self.own_id(id.as_raw()))
    }
}

/// Translates what came from peer `peer`: pids marked [`PEER_PID`] are this node's, the others
/// the peer's (their proxies here, made if need be); with `reserved`, the peer's mailbox and
/// call ids become reserved ids, and without, a reserved id is a failure.
struct FromPeer<'a> {
    router: &'a Router,
    state: &'a mut State,
    peer: usize,
    reserved: bool,
    failed: bool,
}

impl FromPeer<'_> {
    fn peer_id(&mut self, raw: u64) -> u64 {
        if self.reserved {
            return reserved_ids::reserve(self.peer, raw).unwrap_or_else(|| {
                self.failed = true;
                raw
            });
        }
        if reserved_ids::resolve(raw).is_some() {
            self.failed = true;
        }
        raw
    }
}

impl IdMap for FromPeer<'_> {
    fn pid(&mut self, pid: Pid) -> Pid {
        let raw = pid.as_raw();
        if raw & PEER_PID != 0 {
            return Pid::from_raw(raw & !PEER_PID);
        }
        if raw & ENDED_PID != 0 {
            let raw = raw & !ENDED_PID;
            let known = self.state.peers.get(self.peer).and_then(|peer| {
                peer.proxies
                    .get(&raw)
                    .map(|proxy| proxy.pid)
                    .or_else(|| peer.ended_proxies.get(&raw).copied())
            });
            return known.unwrap_or_else(|| self.router.ended_proxy(self.state, self.peer));
        }
        match self.router.proxy(self.state, self.peer, raw, None) {
            Some((_, proxy)) => proxy,
            None => {
                self.failed = true;
                // No process ever has pid 0: whatever names it finds nobody.
                Pid::from_raw(0)
            }
        }
    }

    fn mailbox(&mut self, id: MailboxId) -> MailboxId {
        MailboxId::from_raw(self.peer_id(id.as_raw()))
    }

    fn call(&mut self, id: CallId) -> CallId {
        CallId::from_raw(self.peer_id(id.as_raw()))
    }
}

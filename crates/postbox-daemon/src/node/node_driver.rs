//! The node links' driver: a task per peer, the node listener, and the handle the rest of the
//! daemon sends and receives through.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use postbox_wire::link::{Incarnation, LinkDecoder, LinkFrame, LinkState, NodeName};
use postbox_wire::{HANDSHAKE_MAX_FRAME_LEN, LocalNode, NodeLinks, PeerLink, PeerState};
use tokio::io::AsyncReadExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::link_connection::{NodeTcp, buffered};
use super::node_event_handler::{EventSink, NodeEventHandler};
use super::peer_driver::{Command, PeerHandle};
use super::peer_queue::PeerQueue;
use super::shared::Shared;
use super::{NodeConfig, NodeEvent, NodeSendError, NodeTls};
use crate::tls::provider;

/// How many node events wait for the consumer before peers' tasks hold theirs.
const EVENT_QUEUE: usize = 1024;

/// The most nodes linked with at once, configured or not: a certificate of the cluster lets a
/// node link on first use, and this bounds what a flood of them could take.
pub const MAX_NODES: usize = 1024;

/// The most inbound node connections in their TLS handshake and `Hello` at once.
const MAX_HANDSHAKES: usize = 64;

/// Every peer, configured ones first, then the others in the order they connected.
#[derive(Debug, Default)]
struct Registry {
    peers: Vec<PeerHandle>,
    stopped: bool,
}

/// What `postbox nodes` reads: a cheap handle on the peers' states.
#[derive(Clone, Debug)]
pub(crate) struct NodeStatus {
    shared: Arc<Shared>,
    registry: Arc<Mutex<Registry>>,
    listen: Option<SocketAddr>,
}

impl NodeStatus {
    /// This node's name.
    pub(crate) fn name(&self) -> &NodeName {
        &self.shared.local
    }

    /// Whether node `peer` is configured or has connected: whether [`send`](Self::send) can
    /// reach it, now or once it is up.
    pub(crate) fn knows(&self, peer: &NodeName) -> bool {
        lock(&self.registry).peers.iter().any(|p| &p.name == peer)
    }

    /// As [`NodeDriver::send`].
    pub(crate) async fn send(&self, peer: &NodeName, message: Bytes) -> Result<(), NodeSendError> {
        let commands = {
            let registry = lock(&self.registry);
            match registry.peers.iter().find(|p| &p.name == peer) {
                Some(handle) => handle.commands.clone(),
                None => {
                    return Err(NodeSendError::UnknownPeer {
                        peer: peer.clone(),
                        message,
                    });
                }
            }
        };
        let (reply, answer) = oneshot::channel();
        if let Err(error) = commands.send(Command::Send { message, reply }).await {
            let Command::Send { message, .. } = error.0 else {
                unreachable!("the command sent")
            };
            return Err(NodeSendError::Stopped { message });
        }
        match answer.await {
            Ok(result) => result,
            // The task ended with the message; it is gone with it.
            Err(_) => Err(NodeSendError::Stopped {
                message: Bytes::new(),
            }),
        }
    }

    /// The queue the event handler sends peer `peer` messages through, without waiting (see
    /// [`PeerQueue`]); `None` for a peer that is neither configured nor has connected, and
    /// after shutdown. A message that carries a tag and is not sent is reported to the
    /// handler's [`unsent`](NodeEventHandler::unsent).
    pub(crate) fn queue(&self, peer: &NodeName) -> Option<Arc<PeerQueue>> {
        lock(&self.registry)
            .peers
            .iter()
            .find(|p| &p.name == peer)
            .map(|p| p.queue.clone())
    }

    /// This node and every peer, now.
    pub(crate) fn links(&self) -> NodeLinks {
        let now = Instant::now();
        let registry = lock(&self.registry);
        let peers = registry
            .peers
            .iter()
            .map(|peer| {
                let status = *lock(&peer.status);
                let stats = status.stats;
                let heard = stats.peer_incarnation.is_some();
                PeerLink {
                    name: peer.name.to_string(),
                    state: match stats.state {
                        LinkState::Connecting => PeerState::Connecting,
                        LinkState::Up => PeerState::Up,
                        LinkState::Down => PeerState::Down,
                    },
                    incarnation: stats.peer_incarnation.map(Incarnation::get),
                    address: peer
                        .dial
                        .clone()
                        .or_else(|| status.connected.map(|a| a.to_string())),
                    rtt: stats.rtt,
                    unacked: u64::try_from(stats.unacked).unwrap_or(u64::MAX),
                    retransmissions: stats.retransmissions,
                    duplicates: stats.duplicates,
                    last_heard: heard.then(|| now.saturating_duration_since(stats.last_heard)),
                }
            })
            .collect();
        NodeLinks {
            local: Some(LocalNode {
                name: self.shared.local.to_string(),
                incarnation: self.shared.incarnation.get(),
                listen: self.listen.map(|a| a.to_string()),
            }),
            peers,
        }
    }
}

/// The node links of one daemon: one association per peer node, each driven by a task of its
/// own over mutual TLS, and the node listener.
///
/// This is the seam for forwarding between nodes: [`send`](Self::send) a message to a peer
/// (waiting while its resend buffer is full: back-pressure), and take what peers deliver, and
/// their ups, downs and restarts, from [`NodeEvents`]. Messages are opaque bytes.
///
/// **Peers.** Each configured peer is dialled at once and, while not connected, again with
/// capped exponential backoff (50 ms doubling to 1 s, jittered). A node that dials this one is
/// linked with on first use: its certificate must be signed by the node CA and be for the name
/// its `Hello` claims, or the connection is refused (logged at `warn`). It is not dialled back:
/// when it goes, it stays listed as down until it connects again.
///
/// **Events.** The events of one peer come in order. If the consumer falls behind, a peer's
/// task stops reading from it (TCP back-pressure) after 256 events held for it; if
/// that lasts longer than the node timeout, the peer sees this node as down.
#[derive(Debug)]
pub struct NodeDriver {
    status: NodeStatus,
    acceptor: Option<JoinHandle<()>>,
}

/// What the peers say, in order per peer: take it with [`NodeEvents::recv`].
#[derive(Debug)]
pub struct NodeEvents(mpsc::Receiver<NodeEvent>);

impl NodeEvents {
    /// The next event; `None` once the driver has shut down.
    pub async fn recv(&mut self) -> Option<NodeEvent> {
        self.0.recv().await
    }

    /// Waits for an event, then moves it and every other one waiting (up to `limit` in all)
    /// into `events`, in order: how many; 0 once the driver has shut down (or `limit` is 0).
    pub async fn recv_many(&mut self, events: &mut Vec<NodeEvent>, limit: usize) -> usize {
        self.0.recv_many(events, limit).await
    }
}

impl NodeDriver {
    /// Binds the node listener of `config` (if any), then starts; see
    /// [`start_on`](Self::start_on).
    ///
    /// # Errors
    ///
    /// When the listener cannot be bound.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn start(config: NodeConfig) -> io::Result<(NodeDriver, NodeEvents)> {
        let listener = match config.listen {
            Some(address) => {
                let listener = std::net::TcpListener::bind(address)?;
                listener.set_nonblocking(true)?;
                Some(listener)
            }
            None => None,
        };
        NodeDriver::start_on(config, listener)
    }

    /// Starts the node links of `config`, accepting node connections on `listener` (bound
    /// already, non-blocking) and dialling every configured peer, with a fresh random
    /// incarnation.
    ///
    /// # Errors
    ///
    /// When the listener cannot be registered with the runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn start_on(
        config: NodeConfig,
        listener: Option<std::net::TcpListener>,
    ) -> io::Result<(NodeDriver, NodeEvents)> {
        let (events, receiver) = mpsc::channel(EVENT_QUEUE);
        let (driver, ()) = NodeDriver::launch(config, listener, EventSink::Queue(events), |_| {})?;
        Ok((driver, NodeEvents(receiver)))
    }

    /// As [`start_on`](Self::start_on), but the peers' tasks hand their events to the handler
    /// `make` returns, in their own turn (see [`NodeEventHandler`]); `make` is given the
    /// driver's status and runs before any peer starts, so no event misses the handler.
    ///
    /// # Errors
    ///
    /// When the listener cannot be registered with the runtime.
    pub(crate) fn start_handled<H: NodeEventHandler + 'static>(
        config: NodeConfig,
        listener: Option<std::net::TcpListener>,
        make: impl FnOnce(NodeStatus) -> Arc<H>,
    ) -> io::Result<(NodeDriver, Arc<H>)> {
        let sink = EventSink::Handler(OnceLock::new());
        NodeDriver::launch(config, listener, sink, |status| {
            let handler = make(status.clone());
            if let EventSink::Handler(slot) = &status.shared.events {
                let weak: Weak<H> = Arc::downgrade(&handler);
                let _ = slot.set(weak as Weak<dyn NodeEventHandler>);
            }
            handler
        })
    }

    /// Starts the listener and the peers' tasks with `events`, calling `before_peers` with the
    /// status first: the driver, and what `before_peers` returned.
    fn launch<T>(
        config: NodeConfig,
        listener: Option<std::net::TcpListener>,
        events: EventSink,
        before_peers: impl FnOnce(&NodeStatus) -> T,
    ) -> io::Result<(NodeDriver, T)> {
        let listener = listener.map(TcpListener::from_std).transpose()?;
        let listen = listener.as_ref().map(TcpListener::local_addr).transpose()?;
        let shared = Arc::new(Shared {
            local: config.name.clone(),
            incarnation: fresh_incarnation(),
            link: config.link_config(),
            tls: config.tls.clone(),
            handshake_timeout: config.node_timeout,
            events,
        });
        let registry = Arc::new(Mutex::new(Registry::default()));
        let status = NodeStatus {
            shared: shared.clone(),
            registry: registry.clone(),
            listen,
        };
        let made = before_peers(&status);
        {
            let mut peers = lock(&registry);
            for peer in &config.peers {
                let handle = PeerHandle::start(
                    shared.clone(),
                    peer.name.clone(),
                    Some(peer.address.clone()),
                );
                peers.peers.push(handle);
            }
        }
        let acceptor = listener
            .map(|listener| tokio::spawn(accept(listener, shared.clone(), registry.clone())));
        tracing::info!(
            node = %shared.local,
            incarnation = %shared.incarnation,
            listen = ?listen,
            peers = config.peers.len(),
            "node links started"
        );
        Ok((NodeDriver { status, acceptor }, made))
    }

    /// This node's name.
    pub fn name(&self) -> &NodeName {
        &self.status.shared.local
    }

    /// This node's incarnation: random, new at every start, never 0.
    pub fn incarnation(&self) -> Incarnation {
        self.status.shared.incarnation
    }

    /// The address the node listener is bound to (the actual port if 0 was asked), if any.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.status.listen
    }

    /// This node and every peer, as `postbox nodes` shows them.
    pub fn links(&self) -> NodeLinks {
        self.status.links()
    }

    /// A handle on the peers' states, for answering `NodeLinks` requests.
    pub(crate) fn status(&self) -> NodeStatus {
        self.status.clone()
    }

    /// Sends `message` to node `peer`: returns once its association has taken it (numbered,
    /// kept until acknowledged), waiting while the peer's resend buffer is full. A message
    /// taken is delivered to the peer exactly once and in order, or, if the peer restarts before
    /// acknowledging it, handed back in [`NodeEvent::PeerRestarted`].
    ///
    /// # Errors
    ///
    /// The message is handed back: [`NodeSendError::UnknownPeer`], [`NodeSendError::Down`],
    /// [`NodeSendError::TooLarge`], or [`NodeSendError::Stopped`] after shutdown.
    pub async fn send(&self, peer: &NodeName, message: Bytes) -> Result<(), NodeSendError> {
        self.status.send(peer, message).await
    }

    /// Shuts the links down: stops accepting, closes every association — each peer that is up
    /// is sent a `Goodbye`, flushed before this returns (within about a second), so it sees
    /// this node down at once — and ends every task.
    pub async fn shut_down(mut self) {
        if let Some(acceptor) = self.acceptor.take() {
            acceptor.abort();
        }
        let peers = {
            let mut registry = lock(&self.status.registry);
            registry.stopped = true;
            std::mem::take(&mut registry.peers)
        };
        for peer in &peers {
            let _ = peer.commands.send(Command::Close).await;
        }
        for peer in peers {
            let _ = peer.task.await;
        }
    }
}

impl Drop for NodeDriver {
    fn drop(&mut self) {
        if let Some(acceptor) = self.acceptor.take() {
            acceptor.abort();
        }
        for peer in &lock(&self.status.registry).peers {
            peer.task.abort();
        }
    }
}

/// A fresh random incarnation (never 0), from the TLS provider's secure random source, or the
/// clock if that fails.
fn fresh_incarnation() -> Incarnation {
    let mut bytes = [0u8; 8];
    loop {
        if provider().secure_random.fill(&mut bytes).is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos());
            bytes = (nanos as u64 ^ u64::from(std::process::id())).to_le_bytes();
        }
        if let Some(incarnation) = Incarnation::new(u64::from_le_bytes(bytes)) {
            return incarnation;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The node listener's loop: each connection gets a task for its TLS handshake and `Hello`.
async fn accept(listener: TcpListener, shared: Arc<Shared>, registry: Arc<Mutex<Registry>>) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let (tcp, address) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!("accepting a node connection failed: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = handshakes.clone().try_acquire_owned() else {
            tracing::debug!(%address, "too many node handshakes at once; closing");
            continue;
        };
        let shared = shared.clone();
        let registry = registry.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let timeout = shared.handshake_timeout;
            match tokio::time::timeout(timeout, inbound(tcp, &shared)).await {
                Ok(Ok((stream, name, preread))) => {
                    route(&shared, &registry, name, stream, address, preread).await;
                }
                Ok(Err(reason)) => {
                    tracing::warn!(%address, "refused a node connection from {address}: {reason}");
                }
                Err(_) => {
                    tracing::warn!(%address, "refused a node connection from {address}: no TLS handshake and hello within {timeout:?}");
                }
            }
        });
    }
}

/// An inbound connection's TLS handshake and `Hello`: the TLS stream, the node name its
/// certificate was checked against, and the bytes read (the `Hello` and any after it).
async fn inbound(
    tcp: TcpStream,
    shared: &Shared,
) -> Result<(tokio_rustls::server::TlsStream<NodeTcp>, NodeName, BytesMut), String> {
    let _ = tcp.set_nodelay(true);
    let mut tls = shared
        .tls
        .acceptor()
        .accept(buffered(tcp))
        .await
        .map_err(|error| format!("the TLS handshake failed: {error}"))?;
    let certificate = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .cloned()
        .ok_or("it presented no certificate")?;
    let decoder = LinkDecoder::new(shared.link.max_frame_len.max(HANDSHAKE_MAX_FRAME_LEN));
    let mut preread = BytesMut::new();
    let hello = loop {
        let mut probe = preread.clone();
        match decoder.decode(&mut probe) {
            Ok(Some(LinkFrame::Hello(hello))) => break hello,
            Ok(Some(other)) => {
                return Err(format!("it sent a {} frame before its hello", other.kind()));
            }
            Ok(None) => {}
            Err(error) => {
                return Err(format!(
                    "it is not speaking the node link protocol: {error}"
                ));
            }
        }
        match tls.read_buf(&mut preread).await {
            Ok(0) => return Err("it closed the connection before its hello".to_owned()),
            Ok(_) => {}
            Err(error) => return Err(format!("reading its hello failed: {error}")),
        }
    };
    if hello.node == shared.local {
        return Err(format!("it claims this node's own name, {}", hello.node));
    }
    NodeTls::check_name(&certificate, &hello.node)
        .map_err(|reason| format!("it says it is node {}, but {reason}", hello.node))?;
    Ok((tls, hello.node, preread))
}

/// Hands an accepted connection to its peer's task, starting one for a node not known yet.
async fn route(
    shared: &Arc<Shared>,
    registry: &Mutex<Registry>,
    name: NodeName,
    stream: tokio_rustls::server::TlsStream<NodeTcp>,
    address: SocketAddr,
    preread: BytesMut,
) {
    let commands = {
        let mut registry = lock(registry);
        if registry.stopped {
            return;
        }
        match registry.peers.iter().find(|p| p.name == name) {
            Some(peer) => peer.commands.clone(),
            None if registry.peers.len() >= MAX_NODES => {
                tracing::warn!(%address, "refused node {name}: already linked with {MAX_NODES} nodes");
                return;
            }
            None => {
                tracing::info!(%address, "node {name} connected; it is not a configured peer, so it is linked with on first use");
                let peer = PeerHandle::start(shared.clone(), name, None);
                let commands = peer.commands.clone();
                registry.peers.push(peer);
                commands
            }
        }
    };
    let _ = commands
        .send(Command::Connected {
            stream: Box::new(stream),
            origin: postbox_wire::link::Origin::Accepted,
            address,
            preread,
        })
        .await;
}

//! One peer's task: drives its association with bytes, time and connections.
//!
//! The task owns the [`Association`] and the current connection, and nothing else touches them.
//! It takes commands (send a message, a connection came up, a dial failed, close), the messages
//! the event handler queued (its [`PeerQueue`]), what the current connection reads, and the
//! association's timer; it then takes everything else that is ready too (every queued command
//! and message, every read the socket has), so that one step answers all of it: one
//! acknowledgement for all it read, one TLS record and one `writev` for all it sends. After each
//! turn it acts on what the association says: events out (logged, and handed to the handler or
//! the driver's consumer), then what the handler queued meanwhile (its answers to what was just
//! read go out in the same turn), bytes written to the current connection when its socket is
//! writable, a reset connection closed and redialled.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use postbox_wire::link::{
    Admission, Association, DownReason, LinkEvent, LinkSendError, LinkStats, NodeName, Origin,
    ResetReason,
};
use tokio::net::TcpStream;
use tokio::sync::mpsc::error::{TryRecvError, TrySendError};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::backoff::Backoff;
use super::lazy_timer::LazyTimer;
use super::link_connection::{BoxedStream, InputKind, LinkConnection, buffered, io};
use super::node_event_handler::{EventSink, NodeEventHandler};
use super::node_tls::server_name;
use super::peer_queue::{PeerQueue, Queued, SendTag};
use super::shared::Shared;
use super::{NodeEvent, NodeSendError};

/// Events held for the consumer before the task stops reading from the peer: the consumer's
/// pace limits how fast the peer's messages are taken in.
const MAX_HELD_EVENTS: usize = 256;

/// How many commands (sends, mostly) may wait for the task.
const COMMAND_QUEUE: usize = 64;

/// The most commands one turn takes: beyond, the turn steps and writes first, so that a busy
/// sender cannot hold back what is read and acknowledged.
const COMMANDS_PER_TURN: usize = 256;

/// The most reads one turn takes (each up to 64 KiB), for the same reason.
const READS_PER_TURN: usize = 16;

/// What the peer's task is asked to do.
pub(crate) enum Command {
    /// Send a message; answered once the association took it (or refused it).
    Send {
        message: Bytes,
        reply: oneshot::Sender<Result<(), NodeSendError>>,
    },
    /// A connection to the peer is ready (TLS done; for an accepted one, its `Hello` read into
    /// `preread` and its certificate checked against the name).
    Connected {
        stream: BoxedStream,
        origin: Origin,
        address: SocketAddr,
        preread: BytesMut,
    },
    /// A dial failed: why, and whether TLS refused (worth a warning: certificates).
    DialFailed { reason: String, tls: bool },
    /// Close the association (say goodbye) and end.
    Close,
}

/// Where the peer stands, for `postbox nodes`: updated by its task after each step.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PeerStatus {
    pub(crate) stats: LinkStats,
    /// The address of the current connection, if any.
    pub(crate) connected: Option<SocketAddr>,
}

/// The driver's side of a peer's task.
#[derive(Debug)]
pub(crate) struct PeerHandle {
    pub(crate) name: NodeName,
    /// The configured `HOST:PORT`, for a peer this node dials.
    pub(crate) dial: Option<String>,
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) status: Arc<Mutex<PeerStatus>>,
    /// What the event handler sends the peer.
    pub(crate) queue: Arc<PeerQueue>,
    pub(crate) task: JoinHandle<()>,
}

/// Who learns how a send fared.
enum Report {
    /// A [`Command::Send`]'s sender, told either way.
    Reply(oneshot::Sender<Result<(), NodeSendError>>),
    /// The event handler, told of a message carrying a request that was not sent.
    Handler(Option<SendTag>),
}

impl PeerHandle {
    /// Starts the task of peer `name`, dialling `dial` when given.
    pub(crate) fn start(shared: Arc<Shared>, name: NodeName, dial: Option<String>) -> PeerHandle {
        let now = Instant::now();
        let association = Association::new(
            shared.link,
            shared.local.clone(),
            shared.incarnation,
            name.clone(),
            now,
        );
        let status = Arc::new(Mutex::new(PeerStatus {
            stats: association.stats(),
            connected: None,
        }));
        let (commands, command_queue) = mpsc::channel(COMMAND_QUEUE);
        let queue = Arc::new(PeerQueue::default());
        let seed = shared.incarnation.get() ^ hash(name.as_bytes());
        let driver = PeerDriver {
            peer: name.clone(),
            dial: dial.clone(),
            next_dial: dial.as_ref().map(|_| now),
            dialing: None,
            backoff: Backoff::new(seed),
            association,
            commands: commands.clone(),
            command_queue,
            queue: queue.clone(),
            queued: VecDeque::new(),
            current: None,
            timer: LazyTimer::new(),
            pending: VecDeque::new(),
            held: VecDeque::new(),
            status: status.clone(),
            shared,
        };
        PeerHandle {
            name,
            dial,
            commands,
            status,
            queue,
            task: tokio::spawn(driver.run()),
        }
    }
}

/// FNV-1a, to spread the jitter seeds of one node's peers.
fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

struct PeerDriver {
    shared: Arc<Shared>,
    peer: NodeName,
    dial: Option<String>,
    /// When to dial next, when not connected.
    next_dial: Option<Instant>,
    /// The dial under way.
    dialing: Option<JoinHandle<()>>,
    backoff: Backoff,
    association: Association,
    /// For the dial tasks to report back.
    commands: mpsc::Sender<Command>,
    command_queue: mpsc::Receiver<Command>,
    /// What the event handler sends the peer.
    queue: Arc<PeerQueue>,
    /// Taken from `queue`, on the way to `pending` (kept for its allocation).
    queued: VecDeque<Queued>,
    current: Option<LinkConnection>,
    /// Set for the association's next timeout.
    timer: LazyTimer,
    /// Sends waiting for room in the resend buffer, in order.
    pending: VecDeque<(Bytes, Report)>,
    /// Events for the consumer, in order.
    held: VecDeque<NodeEvent>,
    status: Arc<Mutex<PeerStatus>>,
}

impl PeerDriver {
    async fn run(mut self) {
        loop {
            self.dial_if_due();
            self.timer.arm(
                self.association
                    .poll_timeout()
                    .map(tokio::time::Instant::from_std),
            );
            let dial_at = self
                .next_dial
                .filter(|_| self.dialing.is_none())
                .map(tokio::time::Instant::from_std);
            let reading = self.held.len() < MAX_HELD_EVENTS;
            let queue = match &self.shared.events {
                EventSink::Queue(queue) => Some(queue.clone()),
                EventSink::Handler(_) => None,
            };
            let handler_queue = self.queue.clone();
            tokio::select! {
                command = self.command_queue.recv() => match command {
                    Some(Command::Close) | None => break,
                    Some(command) => self.command(command),
                },
                () = handler_queue.ready() => {}
                kind = io(self.current.as_mut(), reading) => self.input(kind),
                () = self.timer.fired() => self.association.handle_timeout(Instant::now()),
                () = sleep_until(dial_at) => {}
                permit = reserve(queue), if !self.held.is_empty() => {
                    match permit {
                        Ok(permit) => {
                            if let Some(event) = self.held.pop_front() {
                                permit.send(event);
                            }
                        }
                        // Nobody listens any more.
                        Err(_) => self.held.clear(),
                    }
                }
            }
            if !self.take_ready() {
                break;
            }
            self.step();
        }
        self.close().await;
    }

    /// Takes what else is ready without waiting: reads the socket has, then queued commands
    /// (each up to its per-turn bound), then every message the handler queued. False when told
    /// to close.
    fn take_ready(&mut self) -> bool {
        for _ in 0..READS_PER_TURN {
            let reading = self.held.len() < MAX_HELD_EVENTS;
            let Some(kind) = self.current.as_mut().and_then(|c| c.ready_now(reading)) else {
                break;
            };
            self.input(kind);
        }
        for _ in 0..COMMANDS_PER_TURN {
            match self.command_queue.try_recv() {
                Ok(Command::Close) | Err(TryRecvError::Disconnected) => return false,
                Ok(command) => self.command(command),
                Err(TryRecvError::Empty) => break,
            }
        }
        self.take_queued();
        true
    }

    /// Moves what the handler queued to the pending sends.
    fn take_queued(&mut self) {
        self.queue.take_all(&mut self.queued);
        self.pend_queued();
    }

    /// Moves what was taken from the handler's queue to the pending sends, in order.
    fn pend_queued(&mut self) {
        self.pending.extend(
            self.queued
                .drain(..)
                .map(|queued| (queued.message, Report::Handler(queued.tag))),
        );
    }

    /// Tells whoever sent a message how its send fared.
    fn report(&self, report: Report, result: Result<(), NodeSendError>) {
        match (report, result) {
            (Report::Reply(reply), result) => {
                let _ = reply.send(result);
            }
            (Report::Handler(Some(tag)), Err(error)) => {
                if let Some(handler) = self.handler() {
                    handler.unsent(&self.peer, tag, error);
                }
            }
            (Report::Handler(_), _) => {}
        }
    }

    /// The event handler, while there is one.
    fn handler(&self) -> Option<Arc<dyn NodeEventHandler>> {
        match &self.shared.events {
            EventSink::Handler(handler) => handler.get().and_then(Weak::upgrade),
            EventSink::Queue(_) => None,
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Send { message, reply } => {
                self.pending.push_back((message, Report::Reply(reply)));
            }
            Command::Connected {
                stream,
                origin,
                address,
                mut preread,
            } => {
                if origin == Origin::Dialed {
                    self.dialing = None;
                }
                let now = Instant::now();
                match self.association.connection_up(now, origin) {
                    Admission::Use(id) => {
                        tracing::debug!(peer = %self.peer, %address, ?origin, "node connection up");
                        self.next_dial = None;
                        if let Some(old) = self.current.take() {
                            old.close();
                        }
                        self.current = Some(LinkConnection::new(id, stream, address));
                        // The association's Hello goes out before anything the input causes.
                        self.flush();
                        if !preread.is_empty() {
                            self.association.handle_input(now, id, &mut preread);
                        }
                    }
                    Admission::Refuse => {
                        tracing::debug!(peer = %self.peer, %address, "keeping the current node connection");
                    }
                }
            }
            Command::DialFailed { reason, tls } => {
                self.dialing = None;
                if tls {
                    tracing::warn!(peer = %self.peer, "cannot link with node {}: {reason}", self.peer);
                } else {
                    tracing::debug!(peer = %self.peer, "dialling node {} failed: {reason}", self.peer);
                }
                self.redial_later();
            }
            Command::Close => {}
        }
    }

    /// What the current connection read, or why it is lost.
    fn input(&mut self, kind: InputKind) {
        let Some(id) = self.current.as_ref().map(|c| c.id) else {
            return;
        };
        let now = Instant::now();
        match kind {
            InputKind::Bytes(mut bytes) => self.association.handle_input(now, id, &mut bytes),
            InputKind::Lost(reason) => {
                tracing::debug!(peer = %self.peer, "node connection lost: {reason}");
                self.association.connection_lost(now, id);
                if let Some(connection) = self.current.take() {
                    connection.close();
                }
                self.redial_later();
            }
        }
    }

    /// After every input: act on the association's events and hand them over, take what the
    /// handler queued meanwhile and the pending sends while there is room, write what the
    /// association transmits, publish its state.
    fn step(&mut self) {
        while let Some(event) = self.association.poll_event() {
            self.event(event);
        }
        self.hand_over();
        self.take_queued();
        while let Some((message, _)) = self.pending.front() {
            let result = match self.association.send(message.clone()) {
                Err(LinkSendError::Full(_)) => break,
                Ok(_) => Ok(()),
                Err(LinkSendError::Down(message)) => Err(NodeSendError::Down {
                    peer: self.peer.clone(),
                    message,
                }),
                Err(LinkSendError::TooLarge(message)) => Err(NodeSendError::TooLarge {
                    peer: self.peer.clone(),
                    message,
                }),
            };
            if let Some((_, report)) = self.pending.pop_front() {
                self.report(report, result);
            }
        }
        self.flush();
        let status = PeerStatus {
            stats: self.association.stats(),
            connected: self.current.as_ref().map(|c| c.address),
        };
        if let Ok(mut shown) = self.status.lock() {
            *shown = status;
        }
    }

    fn event(&mut self, event: LinkEvent) {
        let peer = self.peer.clone();
        match event {
            LinkEvent::Up {
                incarnation,
                resumed,
            } => {
                let session = if resumed {
                    "session resumed"
                } else {
                    "new session"
                };
                tracing::info!(%peer, %incarnation, "node {peer} is up ({session})");
                self.backoff.reset();
                self.held.push_back(NodeEvent::Up {
                    peer,
                    incarnation,
                    resumed,
                });
            }
            LinkEvent::Delivered(message) => {
                self.held.push_back(NodeEvent::Delivered { peer, message });
            }
            LinkEvent::Reset { connection, reason } => {
                match &reason {
                    ResetReason::WrongNode { .. }
                    | ResetReason::FrameLimitMismatch { .. }
                    | ResetReason::Violation(_)
                    | ResetReason::PeerError(_) => {
                        tracing::warn!(%peer, "closing the connection with node {peer}: {reason}");
                    }
                    _ => tracing::info!(%peer, "closing the connection with node {peer}: {reason}"),
                }
                if self.current.as_ref().is_some_and(|c| c.id == connection)
                    && let Some(mut current) = self.current.take()
                {
                    // The association's last words for it (an Error frame, if any).
                    current.write_all(self.association.transmit().take());
                    current.close();
                }
                self.redial_later();
            }
            LinkEvent::Down { reason } => {
                match reason {
                    DownReason::Closed => tracing::debug!(%peer, "link with node {peer} closed"),
                    reason => tracing::warn!(%peer, "node {peer} is down: {reason}"),
                }
                for (message, report) in std::mem::take(&mut self.pending) {
                    let error = NodeSendError::Down {
                        peer: peer.clone(),
                        message,
                    };
                    self.report(report, Err(error));
                }
                self.held.push_back(NodeEvent::Down { peer, reason });
            }
            LinkEvent::PeerRestarted { old, new, unsent } => {
                tracing::warn!(
                    %peer,
                    "node {peer} restarted ({old} became {new}): {} unacknowledged messages fail",
                    unsent.len()
                );
                self.held.push_back(NodeEvent::PeerRestarted {
                    peer,
                    old,
                    new,
                    unsent,
                });
            }
        }
    }

    /// Writes what the association transmits to the current connection (without one, there is
    /// nothing: a new connection starts from its own `Hello`).
    fn flush(&mut self) {
        let chunks = self.association.transmit().take();
        if let Some(current) = &mut self.current {
            current.write_all(chunks);
        }
    }

    /// Hands held events to the handler, or to the consumer while its queue has room, all in
    /// this turn (the rest wait for room in the task's `select!`).
    fn hand_over(&mut self) {
        let queue = match &self.shared.events {
            EventSink::Queue(queue) => queue,
            EventSink::Handler(handler) => {
                match handler.get().and_then(Weak::upgrade) {
                    Some(handler) => handler.handle(&mut self.held),
                    // The daemon is shutting down.
                    None => self.held.clear(),
                }
                return;
            }
        };
        while let Some(event) = self.held.pop_front() {
            match queue.try_send(event) {
                Ok(()) => {}
                Err(TrySendError::Full(event)) => {
                    self.held.push_front(event);
                    return;
                }
                // Nobody listens any more.
                Err(TrySendError::Closed(_)) => {
                    self.held.clear();
                    return;
                }
            }
        }
    }

    /// Schedules the next dial, for a peer this node dials.
    fn redial_later(&mut self) {
        if self.dial.is_some() && self.next_dial.is_none() {
            self.next_dial = Some(Instant::now() + self.backoff.next_wait());
        }
    }

    fn dial_if_due(&mut self) {
        let (Some(address), Some(at)) = (&self.dial, self.next_dial) else {
            return;
        };
        if self.dialing.is_some() || self.current.is_some() || Instant::now() < at {
            return;
        }
        self.next_dial = None;
        let address = address.clone();
        let reply = self.commands.clone();
        let connector = self.shared.tls.connector();
        let timeout = self.shared.handshake_timeout;
        let name = server_name(&self.peer);
        self.dialing = Some(tokio::spawn(async move {
            let dialled = tokio::time::timeout(timeout, async {
                let name = name.map_err(|reason| (reason, true))?;
                let tcp = TcpStream::connect(&address)
                    .await
                    .map_err(|error| (format!("cannot connect to {address}: {error}"), false))?;
                let remote = tcp
                    .peer_addr()
                    .map_err(|error| (format!("{address}: {error}"), false))?;
                let _ = tcp.set_nodelay(true);
                let tls = connector
                    .connect(name, buffered(tcp))
                    .await
                    .map_err(|error| {
                        (
                            format!("the TLS handshake with {address} failed: {error}"),
                            true,
                        )
                    })?;
                Ok::<_, (String, bool)>((tls, remote))
            })
            .await;
            let command = match dialled {
                Ok(Ok((tls, address))) => Command::Connected {
                    stream: Box::new(tls),
                    origin: Origin::Dialed,
                    address,
                    preread: BytesMut::new(),
                },
                Ok(Err((reason, tls))) => Command::DialFailed { reason, tls },
                Err(_) => Command::DialFailed {
                    reason: format!("no TLS connection within {timeout:?}"),
                    tls: false,
                },
            };
            let _ = reply.send(command).await;
        }));
    }

    /// Says goodbye: closes the association, writes its `Goodbye` and waits (within the
    /// connection's grace) until it is flushed. Pending sends fail `Stopped`.
    async fn close(mut self) {
        if let Some(dialing) = self.dialing.take() {
            dialing.abort();
        }
        self.association.close(Instant::now());
        let goodbye: Vec<Bytes> = self.association.transmit().take().collect();
        while let Some(event) = self.association.poll_event() {
            self.event(event);
        }
        self.queued.append(&mut self.queue.close());
        self.pend_queued();
        for (message, report) in std::mem::take(&mut self.pending) {
            self.report(report, Err(NodeSendError::Stopped { message }));
        }
        self.hand_over();
        if let Some(mut current) = self.current.take() {
            current.write_all(goodbye);
            let _ = current.close().await;
        }
        if let Ok(mut shown) = self.status.lock() {
            shown.stats = self.association.stats();
            shown.connected = None;
        }
    }
}

/// Room in `queue`; forever without one.
async fn reserve(
    queue: Option<mpsc::Sender<NodeEvent>>,
) -> Result<mpsc::OwnedPermit<NodeEvent>, mpsc::error::SendError<()>> {
    match queue {
        Some(queue) => queue.reserve_owned().await,
        None => std::future::pending().await,
    }
}

/// Sleeps until `at`, or forever without one.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

//! The daemon: its listeners, its hub, and the accept loop that ties them together.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use std::time::Instant;

use crate::attached_io::{AttachmentLimits, UnixHalf};
use bytes::BytesMut;
use postbox_core::Credentials;
use postbox_wire::{
    Auth, Capabilities, ErrorBody, ErrorCode, FrameConfig, FrameEncoder, ServerConfig,
};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::task::JoinSet;

use crate::activation::inherited_listener;
use crate::budget::{Budget, BudgetLimits, Listener, PeerKey, Permit, Refusal};
use crate::config::own_credentials;
use crate::dead_peer::watch_for_vanishing;
use crate::forward::Router;
use crate::handshake::{Peer, ServerSide};
use crate::hub::Hub;
use crate::lease_clock;
use crate::listener::{SocketFile, bind_tcp, bind_unix};
use crate::logged_store::LoggedStore;
use crate::metrics::{self, Metrics};
use crate::node::NodeDriver;
use crate::shutdown::{SHUTDOWN_GRACE, Stopping};
use crate::store::Store;
use crate::store_writer::StoreWriter;
use crate::{DaemonConfig, DaemonError, OwnUser, SocketActivation, TcpSecurity, connection};

/// The least time between two warnings that refusals are happening, so that a flood of refused
/// connections does not flood the log too.
const REFUSAL_WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// How long the accept loop pauses after a failed accept (typically out of file descriptors), so
/// that it does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// A daemon with its sockets bound, not yet serving.
///
/// Binding and serving are separate so that the caller can learn where it listens (a TCP port
/// chosen by the system) before clients connect:
///
/// ```no_run
/// use postbox_daemon::{Daemon, DaemonConfig};
///
/// # async fn example() -> Result<(), postbox_daemon::DaemonError> {
/// let daemon = Daemon::bind(DaemonConfig::new().with_socket_path("/tmp/pb-demo/postbox.sock"))?;
/// println!("listening on {}", daemon.socket_path().display());
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// # drop(stop);
/// daemon.serve(async { let _ = stopped.await; }).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Daemon {
    config: DaemonConfig,
    /// Where the Unix socket is.
    socket_path: PathBuf,
    // Declared before the listener, so that dropping an unserved daemon removes the file while
    // the listener still pins its inode (see `SocketFile`). `None` for a socket systemd passed:
    // its file is systemd's.
    socket: Option<SocketFile>,
    unix: std::os::unix::net::UnixListener,
    tcp: Option<std::net::TcpListener>,
    metrics: Option<std::net::TcpListener>,
    /// The node listener, when node links listen.
    node: Option<std::net::TcpListener>,
}

impl Daemon {
    /// Checks `config`, prepares the socket directory, clears a stale socket, and binds the Unix
    /// socket — or takes the one systemd passed (socket activation, see
    /// [`SocketActivation`]) — and the TCP and metrics listeners, when configured. Needs no
    /// async runtime.
    ///
    /// # Errors
    ///
    /// [`DaemonError::Config`] for an invalid configuration; [`DaemonError::AlreadyRunning`] when
    /// another daemon answers on the socket; [`DaemonError::NotASocket`],
    /// [`DaemonError::UnsafeDirectory`] and [`DaemonError::Io`] when the socket or a port cannot
    /// be set up; [`DaemonError::SocketActivation`] when systemd passed something other than
    /// one listening Unix stream socket. Nothing is left behind on failure.
    pub fn bind(config: DaemonConfig) -> Result<Daemon, DaemonError> {
        config.validate()?;
        let inherited = match config.socket_activation {
            SocketActivation::Accept => inherited_listener()?,
            SocketActivation::Ignore => None,
        };
        let (unix, socket, socket_path) = match inherited {
            Some((listener, path)) => {
                tracing::info!(socket = %path.display(), "using the socket systemd passed");
                (listener, None, path)
            }
            None => {
                let (listener, file) = bind_unix(&config.socket_path, config.socket_mode)?;
                let path = file.path().to_owned();
                (listener, Some(file), path)
            }
        };
        let tcp = match &config.tcp {
            Some(tcp) => Some(bind_tcp(tcp.address)?),
            None => None,
        };
        let metrics = match config.metrics {
            Some(address) => Some(bind_tcp(address)?),
            None => None,
        };
        let node = match config.node.as_ref().and_then(|node| node.listen) {
            Some(address) => Some(bind_tcp(address)?),
            None => None,
        };
        Ok(Daemon {
            config,
            socket_path,
            unix,
            socket,
            tcp,
            metrics,
            node,
        })
    }

    /// The Unix socket it listens on.
    pub fn socket_path(&self) -> &Path {
        &self.socket_path
    }

    /// The TCP address it listens on, when configured (with the actual port if port 0 was asked).
    pub fn local_tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp.as_ref().and_then(|tcp| tcp.local_addr().ok())
    }

    /// The address the node listener is bound to, when node links listen (with the actual port
    /// if port 0 was asked).
    pub fn local_node_addr(&self) -> Option<SocketAddr> {
        self.node.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The address the metrics endpoint listens on, when configured (with the actual port if
    /// port 0 was asked).
    pub fn local_metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves clients until `shutdown` completes, then shuts down as
    /// [the `shutdown` module](crate#shutdown) describes and returns.
    ///
    /// Every connection is one process in the daemon's engine. A misbehaving client is told why
    /// and disconnected; nothing a client sends stops the daemon.
    ///
    /// # Errors
    ///
    /// [`DaemonError::Io`] if the listeners cannot be registered with the runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with I/O and time enabled.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), DaemonError> {
        let Daemon {
            config,
            socket_path,
            unix,
            socket,
            tcp,
            metrics,
            node,
        } = self;
        let path = socket_path.display().to_string();
        let unix = UnixListener::from_std(unix)
            .map_err(|error| DaemonError::io("listening on", &path, error))?;
        let tcp = match tcp {
            Some(tcp) => {
                let address = tcp.local_addr().map(|a| a.to_string()).unwrap_or_default();
                Some(
                    TcpListener::from_std(tcp)
                        .map_err(|e| DaemonError::io("listening on", address, e))?,
                )
            }
            None => None,
        };

        let hub = Arc::new(hub(&config)?);
        let lease_clock = tokio::spawn(lease_clock::run(hub.clone()));
        let budget = Budget::new(BudgetLimits {
            processes: config.max_connections,
            handshakes: config.max_handshakes,
            per_peer: config.max_connections_per_peer,
            handshakes_per_peer: config.max_handshakes_per_peer,
        });
        let metrics = match metrics {
            Some(listener) => {
                let address = listener
                    .local_addr()
                    .map(|a| a.to_string())
                    .unwrap_or_default();
                let listener = TcpListener::from_std(listener)
                    .map_err(|e| DaemonError::io("listening on", &address, e))?;
                let registry =
                    Metrics::new(hub.clone(), budget.clone(), config.metrics_max_mailboxes);
                Some((listener, Arc::new(registry), address))
            }
            None => None,
        };
        let request_metrics = metrics.as_ref().map(|(_, m, _)| m.requests().clone());
        let (nodes, router) = match &config.node {
            Some(node_config) => {
                let mut node_config = node_config.clone();
                let identities = node_config.peer_identities.iter().cloned().collect();
                node_config.max_frame_len =
                    config.max_frame_len.saturating_add(FORWARDING_OVERHEAD);
                let (driver, router) = NodeDriver::start_handled(node_config, node, |status| {
                    Router::new(hub.clone(), status, identities)
                })
                .map_err(|e| DaemonError::io("listening for nodes on", "the node listener", e))?;
                (Some(driver), Some(router))
            }
            None => (None, None),
        };
        let node_status = nodes.as_ref().map(NodeDriver::status);
        // Idempotent sends are carried out on every listener.
        let base = ServerConfig::new()
            .with_max_frame_len(config.max_frame_len)
            .with_capabilities(Capabilities::IDEMPOTENT_SENDS);
        let unix_side = Arc::new(ServerSide {
            hub: hub.clone(),
            handshake: base.clone().with_capabilities(
                Capabilities::ATTACHMENTS
                    .union(Capabilities::IDEMPOTENT_SENDS)
                    .union(Capabilities::RINGS),
            ),
            handshake_timeout: config.handshake_timeout,
            max_in_flight: config.max_in_flight,
            metrics: request_metrics.clone(),
            nodes: node_status.clone(),
            router: router.clone(),
            attachments: Some(AttachmentLimits::for_process(
                postbox_shm::MAX_SEGMENT_BYTES as usize,
                config.attach_from,
            )),
        });
        let tcp_side = config.tcp.as_ref().map(|tcp| {
            Arc::new(ServerSide {
                hub: hub.clone(),
                handshake: base.clone().with_auth(match &tcp.token {
                    Some(token) => Auth::Token(token.clone()),
                    // Validated: TLS has already checked the client's certificate.
                    None => Auth::Open,
                }),
                handshake_timeout: config.handshake_timeout,
                max_in_flight: config.max_in_flight,
                metrics: request_metrics.clone(),
                nodes: node_status.clone(),
                router: router.clone(),
                // TCP and TLS carry no descriptors.
                attachments: None,
            })
        });
        let tcp_creds = config
            .tcp_credentials()
            .unwrap_or(Credentials::new(65534, 65534));
        if tcp.is_some() && tcp_creds.is_root() {
            tracing::warn!("TCP clients run as root: every permission check passes for them");
        }

        let unlimited_uid = match config.own_user {
            OwnUser::Unlimited => Some(own_credentials().uid),
            OwnUser::Limited => None,
        };
        let stopping = Stopping::new();
        let mut tasks = JoinSet::new();
        let tls = config.tcp.as_ref().and_then(|tcp| match &tcp.security {
            TcpSecurity::Plain => None,
            TcpSecurity::Tls(server) => Some(server.acceptor()),
        });
        let mut accepter = Accepter {
            budget,
            unlimited_uid,
            dead_peer_timeout: config.tcp_dead_peer_timeout,
            tls,
            handshake_timeout: config.handshake_timeout,
            last_refusal_warning: None,
            stopping: &stopping,
            tasks: &mut tasks,
        };
        if let Some((listener, registry, address)) = metrics {
            tracing::info!(
                address = %address,
                "metrics endpoint listening on http://{address}/metrics"
            );
            let stop = stopping.subscribe();
            accepter
                .tasks
                .spawn(metrics::http::serve(listener, registry, stop));
        }
        tracing::info!(
            socket = %path,
            tcp = ?tcp.as_ref().and_then(|l| l.local_addr().ok()),
            tls = accepter.tls.is_some(),
            "postbox daemon listening"
        );

        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                accepted = unix.accept() => match accepted {
                    Ok((stream, _)) => accepter.unix(stream, &unix_side),
                    Err(error) => backoff("unix", error).await,
                },
                accepted = accept_tcp(tcp.as_ref()) => match (accepted, &tcp_side) {
                    (Ok((stream, address)), Some(side)) => {
                        let peer = Peer::Tcp { address, creds: tcp_creds };
                        accepter.tcp(stream, peer, side);
                    }
                    (Ok(_), None) => {}
                    (Err(error), _) => backoff("tcp", error).await,
                },
                Some(_) = accepter.tasks.join_next(), if !accepter.tasks.is_empty() => {}
            }
        }

        tracing::info!("shutting down");
        // Peers first: their Goodbyes go out while everything else is still running, so that
        // they see this node down at once rather than after their node timeout.
        if let Some(nodes) = nodes
            && tokio::time::timeout(SHUTDOWN_GRACE, nodes.shut_down())
                .await
                .is_err()
        {
            tracing::warn!("node links did not close in time");
        }
        // The socket file goes first, while the listener still pins its inode (see SocketFile).
        drop(socket);
        drop(unix);
        drop(tcp);
        lease_clock.abort();
        let open = hub.shut_down();
        stopping.stop();
        tracing::debug!(connections = open, "telling every connection");
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                remaining = tasks.len(),
                "abandoning connections that would not close"
            );
            tasks.shutdown().await;
        }
        tracing::info!("postbox daemon stopped");
        Ok(())
    }
}

/// Starts connection tasks, within the admission budgets.
struct Accepter<'a> {
    budget: Arc<Budget>,
    /// The uid the per-peer limits do not hold (with root), if any.
    unlimited_uid: Option<u32>,
    dead_peer_timeout: Duration,
    /// The TLS acceptor when TCP connections are TLS (`tls://`).
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// How long a TLS handshake may take (the `Hello` then gets as long again).
    handshake_timeout: Duration,
    last_refusal_warning: Option<Instant>,
    stopping: &'a Stopping,
    tasks: &'a mut JoinSet<()>,
}

impl Accepter<'_> {
    fn unix(&mut self, stream: UnixStream, side: &Arc<ServerSide>) {
        let cred = match stream.peer_cred() {
            Ok(cred) => cred,
            Err(error) => {
                tracing::warn!("refusing a connection whose credentials are unknown: {error}");
                return;
            }
        };
        let creds = Credentials::new(cred.uid(), cred.gid());
        let peer = Peer::Unix {
            creds,
            os_pid: cred.pid(),
        };
        let unlimited = self
            .unlimited_uid
            .is_some_and(|uid| creds.uid == uid || creds.is_root());
        let key = (!unlimited).then_some(PeerKey::Uid(creds.uid));
        match self.budget.admit(Listener::Unix, key) {
            Ok(permit) => {
                let (reader, writer) = stream.into_split();
                self.spawn(reader, writer, peer, side, permit);
            }
            Err(refusal) => {
                self.warn_refusing(peer, refusal);
                refuse_at_once(
                    refusal,
                    |bytes| stream.try_write(bytes),
                    |buf| stream.try_read(buf),
                );
            }
        }
    }

    fn tcp(&mut self, stream: TcpStream, peer: Peer, side: &Arc<ServerSide>) {
        let Peer::Tcp { address, .. } = peer else {
            return;
        };
        match self
            .budget
            .admit(Listener::Tcp, Some(PeerKey::address(address.ip())))
        {
            Ok(permit) => {
                let _ = stream.set_nodelay(true);
                if let Err(error) = watch_for_vanishing(&stream, self.dead_peer_timeout) {
                    tracing::warn!(%peer, "cannot set TCP keepalive, closing: {error}");
                    return;
                }
                match &self.tls {
                    None => {
                        let (reader, writer) = stream.into_split();
                        self.spawn(reader, writer, peer, side, permit);
                    }
                    Some(acceptor) => self.spawn_tls(acceptor.clone(), stream, peer, side, permit),
                }
            }
            Err(refusal) => {
                self.warn_refusing(peer, refusal);
                if self.tls.is_some() {
                    // A TLS client could not read a plain frame: closing is all it can be told.
                    return;
                }
                refuse_at_once(
                    refusal,
                    |bytes| stream.try_write(bytes),
                    |buf| stream.try_read(buf),
                );
            }
        }
    }

    fn spawn<R, W>(
        &mut self,
        reader: R,
        writer: W,
        peer: Peer,
        side: &Arc<ServerSide>,
        permit: Permit,
    ) where
        R: tokio::io::AsyncRead + UnixHalf + Unpin + Send + 'static,
        W: tokio::io::AsyncWrite + UnixHalf + Unpin + Send + 'static,
    {
        tracing::trace!(%peer, "accepted");
        let stop = self.stopping.subscribe();
        let side = side.clone();
        self.tasks.spawn(async move {
            let mut permit = permit;
            connection::serve(reader, writer, peer, side, &mut permit, stop).await;
            drop(permit);
        });
    }

    /// Starts a TLS connection's task: the TLS handshake (within the handshake timeout), then the
    /// connection as on plain TCP, through an in-memory pipe that a [`tls_pipe`] drives.
    ///
    /// Why the pipe: the connection writes answers and moves on without flushing, which on a
    /// socket means they are sent; a TLS stream may keep the last record in its buffer until the
    /// next write or flush, which never comes when the client waits for that very answer. The
    /// pipe's copy flushes whenever it has nothing more to read, so the connection's code stays
    /// the same for every listener. The permit is held from the handshake to the end of the
    /// connection, so a TLS handshake counts against the handshake budgets like a `Hello` does.
    fn spawn_tls(
        &mut self,
        acceptor: tokio_rustls::TlsAcceptor,
        stream: TcpStream,
        peer: Peer,
        side: &Arc<ServerSide>,
        permit: Permit,
    ) {
        tracing::trace!(%peer, "accepted, TLS handshake");
        let stop = self.stopping.subscribe();
        let side = side.clone();
        let timeout = self.handshake_timeout;
        self.tasks.spawn(async move {
            let mut permit = permit;
            let tls = match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(error)) => {
                    tracing::debug!(%peer, "TLS handshake failed: {error}");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out after {timeout:?}");
                    return;
                }
            };
            let (plain, pipe_end) = tokio::io::duplex(TLS_PIPE_BUFFER);
            let (reader, writer) = tokio::io::split(plain);
            let serving = async move {
                connection::serve(reader, writer, peer, side, &mut permit, stop).await;
                drop(permit);
            };
            tokio::join!(serving, tls_pipe(pipe_end, tls, peer));
        });
    }

    /// Logs a refusal: every one at `debug`, and at `warn` no more than once in
    /// [`REFUSAL_WARNING_INTERVAL`].
    fn warn_refusing(&mut self, peer: Peer, refusal: Refusal) {
        let now = Instant::now();
        let quiet = self
            .last_refusal_warning
            .is_some_and(|last| now.duration_since(last) < REFUSAL_WARNING_INTERVAL);
        if quiet {
            tracing::debug!(%peer, "refused: {refusal}");
        } else {
            self.last_refusal_warning = Some(now);
            tracing::warn!(%peer, "refused: {refusal} (further refusals are logged at debug)");
        }
    }
}

/// Tells a connection refused at `accept` why, in one `Error LIMIT_EXCEEDED` frame (handshake
/// framing, which every client reads), without waiting: a new socket's buffer always has room
/// for it. What the client already sent is read and discarded first, so that closing does not
/// turn into a reset that could overtake the frame. Then the socket is dropped, closing it.
fn refuse_at_once(
    refusal: Refusal,
    write: impl Fn(&[u8]) -> std::io::Result<usize>,
    read: impl Fn(&mut [u8]) -> std::io::Result<usize>,
) {
    let mut discard = [0u8; 2048];
    let _ = read(&mut discard);
    let body = ErrorBody::new(ErrorCode::LIMIT_EXCEEDED, refusal.to_string());
    let mut bytes = BytesMut::new();
    if FrameEncoder::new(FrameConfig::HANDSHAKE)
        .encode(&body.to_frame(None), &mut bytes)
        .is_ok()
    {
        let _ = write(&bytes);
    }
}

/// How much each direction of a TLS connection's pipe holds, and the copy's buffers.
const TLS_PIPE_BUFFER: usize = 64 << 10;

/// Copies between a TLS connection and its connection task's end of the pipe until both
/// directions end: the task's end of writing becomes `close_notify`, the client's end of TLS the
/// task's end of input.
async fn tls_pipe(
    mut pipe_end: tokio::io::DuplexStream,
    mut tls: tokio_rustls::server::TlsStream<TcpStream>,
    peer: Peer,
) {
    let copied = tokio::io::copy_bidirectional_with_sizes(
        &mut pipe_end,
        &mut tls,
        TLS_PIPE_BUFFER,
        TLS_PIPE_BUFFER,
    )
    .await;
    if let Err(error) = copied {
        tracing::trace!(%peer, "TLS connection ended: {error}");
    }
}

/// What forwarding a request to another node adds to its frame at most: the node message's
/// header (origin, credentials, request id) and the link frame's own.
const FORWARDING_OVERHEAD: u32 = 4096;

/// Accepts on the TCP listener, or never completes when there is none.
async fn accept_tcp(
    listener: Option<&TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// Logs a failed accept and pauses, so that running out of descriptors does not spin the loop.
async fn backoff(listener: &str, error: std::io::Error) {
    tracing::warn!(listener, "accept failed: {error}");
    tokio::time::sleep(ACCEPT_BACKOFF).await;
}

/// The hub, with the durable mailboxes of the state directory restored when there is one.
///
/// # Errors
///
/// When the store exists but cannot be opened or read, or holds what the engine cannot take
/// back: the daemon refuses to start rather than run without what was stored.
fn hub(config: &DaemonConfig) -> Result<Hub, DaemonError> {
    let Some(dir) = &config.state_dir else {
        return Ok(Hub::new(config.limits));
    };
    let (store, stored) = if Store::exists(dir) {
        let store = LoggedStore::open(dir)?;
        let stored = store.load(config.resident_budget)?;
        let messages: usize = stored.iter().map(|m| m.messages.len()).sum();
        let on_disk: usize = stored
            .iter()
            .filter_map(|m| m.tail)
            .map(|tail| tail.messages)
            .sum();
        tracing::info!(
            store = %store.path().display(),
            mailboxes = stored.len(),
            messages = messages + on_disk,
            in_memory = messages,
            "restored the durable mailboxes"
        );
        (Some(store), stored)
    } else {
        (None, Vec::new())
    };
    let writer = StoreWriter::start(dir.clone(), store).map_err(|e| {
        DaemonError::io(
            "starting the store writer for",
            dir.display().to_string(),
            e,
        )
    })?;
    Hub::with_store(config.limits, config.resident_budget, writer, stored)
        .map_err(DaemonError::Restore)
}

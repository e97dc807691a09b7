//! The daemon: its listeners, its hub, and the accept loop that ties them together.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use postbox_core::Credentials;
use postbox_wire::{Auth, ServerConfig};
use tokio::net::{TcpListener, UnixListener, UnixStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::handshake::{Admit, Peer, ServerSide};
use crate::hub::Hub;
use crate::listener::{SocketFile, bind_tcp, bind_unix};
use crate::shutdown::{SHUTDOWN_GRACE, Stopping};
use crate::{DaemonConfig, DaemonError, connection};

/// How many connections over the limit may be in their handshake at once, waiting to be told
/// `LIMIT_EXCEEDED`; beyond that, new connections are closed without a word.
const REFUSING_LIMIT: usize = 64;

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
    // Declared before the listener, so that dropping an unserved daemon removes the file while
    // the listener still pins its inode (see `SocketFile`).
    socket: SocketFile,
    unix: std::os::unix::net::UnixListener,
    tcp: Option<std::net::TcpListener>,
}

impl Daemon {
    /// Checks `config`, prepares the socket directory, clears a stale socket, and binds the Unix
    /// socket (and the TCP listener, when configured). Needs no async runtime.
    ///
    /// # Errors
    ///
    /// [`DaemonError::Config`] for an invalid configuration; [`DaemonError::AlreadyRunning`] when
    /// another daemon answers on the socket; [`DaemonError::NotASocket`],
    /// [`DaemonError::UnsafeDirectory`] and [`DaemonError::Io`] when the socket or port cannot be
    /// set up. Nothing is left behind on failure.
    pub fn bind(config: DaemonConfig) -> Result<Daemon, DaemonError> {
        config.validate()?;
        let (unix, socket) = bind_unix(&config.socket_path, config.socket_mode)?;
        let tcp = match &config.tcp {
            Some(tcp) => Some(bind_tcp(tcp.address)?),
            None => None,
        };
        Ok(Daemon {
            config,
            unix,
            socket,
            tcp,
        })
    }

    /// The Unix socket it listens on.
    pub fn socket_path(&self) -> &Path {
        self.socket.path()
    }

    /// The TCP address it listens on, when configured (with the actual port if port 0 was asked).
    pub fn local_tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp.as_ref().and_then(|tcp| tcp.local_addr().ok())
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
            unix,
            socket,
            tcp,
        } = self;
        let path = socket.path().display().to_string();
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

        let hub = Arc::new(Hub::new(config.limits));
        let base = ServerConfig::new().with_max_frame_len(config.max_frame_len);
        let unix_side = Arc::new(ServerSide {
            hub: hub.clone(),
            handshake: base.clone(),
            handshake_timeout: config.handshake_timeout,
            max_in_flight: config.max_in_flight,
        });
        let tcp_side = config.tcp.as_ref().map(|tcp| {
            Arc::new(ServerSide {
                hub: hub.clone(),
                handshake: base.clone().with_auth(Auth::Token(tcp.token.clone())),
                handshake_timeout: config.handshake_timeout,
                max_in_flight: config.max_in_flight,
            })
        });
        let tcp_creds = config
            .tcp_credentials()
            .unwrap_or(Credentials::new(65534, 65534));
        if tcp.is_some() && tcp_creds.is_root() {
            tracing::warn!("TCP clients run as root: every permission check passes for them");
        }

        let connections = Arc::new(Semaphore::new(config.max_connections));
        let refusing = Arc::new(Semaphore::new(REFUSING_LIMIT));
        let stopping = Stopping::new();
        let mut tasks = JoinSet::new();
        let mut accepter = Accepter {
            connections,
            refusing,
            stopping: &stopping,
            tasks: &mut tasks,
        };
        tracing::info!(
            socket = %path,
            tcp = ?tcp.as_ref().and_then(|l| l.local_addr().ok()),
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
                        let _ = stream.set_nodelay(true);
                        let peer = Peer::Tcp { address, creds: tcp_creds };
                        let (reader, writer) = stream.into_split();
                        accepter.spawn(reader, writer, peer, side);
                    }
                    (Ok(_), None) => {}
                    (Err(error), _) => backoff("tcp", error).await,
                },
                Some(_) = accepter.tasks.join_next(), if !accepter.tasks.is_empty() => {}
            }
        }

        tracing::info!("shutting down");
        // The socket file goes first, while the listener still pins its inode (see SocketFile).
        drop(socket);
        drop(unix);
        drop(tcp);
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

/// Starts connection tasks, enforcing the connection limit.
struct Accepter<'a> {
    connections: Arc<Semaphore>,
    refusing: Arc<Semaphore>,
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
        let peer = Peer::Unix {
            creds: Credentials::new(cred.uid(), cred.gid()),
            os_pid: cred.pid(),
        };
        let (reader, writer) = stream.into_split();
        self.spawn(reader, writer, peer, side);
    }

    fn spawn<R, W>(&mut self, reader: R, writer: W, peer: Peer, side: &Arc<ServerSide>)
    where
        R: tokio::io::AsyncRead + Unpin + Send + 'static,
        W: tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (permit, admit): (OwnedSemaphorePermit, Admit) =
            match self.connections.clone().try_acquire_owned() {
                Ok(permit) => (permit, Admit::Accept),
                Err(_) => match self.refusing.clone().try_acquire_owned() {
                    Ok(permit) => (permit, Admit::OverLimit),
                    Err(_) => {
                        tracing::warn!(%peer, "closed at once: far over the connection limit");
                        return;
                    }
                },
            };
        tracing::trace!(%peer, "accepted");
        let stop = self.stopping.subscribe();
        let side = side.clone();
        self.tasks.spawn(async move {
            connection::serve(reader, writer, peer, side, admit, stop).await;
            drop(permit);
        });
    }
}

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

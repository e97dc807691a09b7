//! The postbox daemon: one mailbox engine, shared by every process that connects to it.
//!
//! The daemon listens on a Unix socket (and on TCP when asked), and makes each connection one
//! postbox process in its [`Engine`](postbox_core::Engine). It speaks the protocol of
//! `postbox_wire` (`docs/protocol.md`) and answers every request exactly as the in-process
//! transport does, through [`postbox_wire::apply`]. `docs/operations.md` is the operator's guide.
//!
//! ```no_run
//! use postbox_daemon::{DaemonConfig, run};
//!
//! // Serves on the default socket until SIGTERM or SIGINT, then exits cleanly.
//! run(DaemonConfig::new())?;
//! # Ok::<(), postbox_daemon::DaemonError>(())
//! ```
//!
//! Embedded in a tokio program, with a client speaking the raw protocol:
//!
//! ```
//! use bytes::BytesMut;
//! use postbox_daemon::{Daemon, DaemonConfig};
//! use postbox_wire::*;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::env::temp_dir().join(format!("postbox-doc-{}", std::process::id()));
//! let daemon = Daemon::bind(DaemonConfig::new().with_socket_path(dir.join("pb.sock")))?;
//! let mut stream = tokio::net::UnixStream::connect(daemon.socket_path()).await?;
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let serving = tokio::spawn(daemon.serve(async { let _ = stopped.await; }));
//!
//! // The client is a sans-IO session: write what it transmits, act on what it says, and when it
//! // has nothing more to say, read and hand it the bytes.
//! let mut client = ClientSession::new(ClientConfig::new());
//! let mut input = BytesMut::new();
//! let mut asked = None;
//! let answer = loop {
//!     stream.write_all(&client.transmit().split()).await?;
//!     match client.poll_event() {
//!         // Hello, Welcome: this connection is now a process. Then one request.
//!         Some(ClientEvent::Connected(_)) => {
//!             asked = Some(client.request(&Request::NodeStats, None)?);
//!         }
//!         Some(ClientEvent::Answer { id, result }) if Some(id) == asked => break result?,
//!         Some(other) => panic!("{other:?}"),
//!         None => {
//!             if stream.read_buf(&mut input).await? == 0 {
//!                 client.handle_end();
//!             }
//!             client.handle_input(&mut input);
//!         }
//!     }
//! };
//! let Response::NodeStats(stats) = answer else { panic!() };
//! assert_eq!(stats.processes, 1);
//!
//! // Shutting down: the client is sent `Close`, the socket file is removed.
//! stop.send(()).unwrap();
//! serving.await??;
//! assert!(!dir.join("pb.sock").exists());
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```
//!
//! # Who a client is
//!
//! A Unix client's process runs with the uid and gid the kernel reports for the socket
//! (`SO_PEERCRED`), never ones the client claims; the socket's mode (0600 by default) decides who
//! may connect at all. A TCP client must present the configured token in its `Hello` (compared in
//! constant time) and runs with the configured [`TcpIdentity`] — by default the daemon's own uid
//! and gid, so anyone holding the token acts as the daemon's user. With [`TcpSecurity::Tls`]
//! (`tls://`) every TCP connection is TLS 1.3 first, so the token and the messages travel
//! encrypted and the daemon proves who it is; with [`ClientCertificates::Required`] a client must
//! also present a certificate signed by the given CA before its `Hello` is read.
//!
//! # Requests
//!
//! Many requests are in flight at once on one connection. The engine sits behind one mutex and
//! never blocks; a request that must wait becomes a ticket, and its answer is sent when a later
//! operation (of any connection) completes it. So a blocked `recv` never holds up a `send` behind
//! it. A `Cancel` withdraws a waiting request, which is then answered `Timeout` (a send's message
//! handed back). Limits are reported as `Error LIMIT_EXCEEDED` frames for the request concerned.
//!
//! # Failure
//!
//! A client that sends bytes that are not frames, or frames it may not send, gets an `Error`
//! frame saying why and is disconnected; a request payload that cannot be decoded is refused
//! (`MALFORMED_PAYLOAD`) without closing. Nothing a client sends panics or stops the daemon. A
//! connection that ends for any reason — `Close`, end of stream, `kill -9` of the client — is the
//! termination of its process, at once: whoever waits on it gets `PeerGone`.
//!
//! # Shutdown
//!
//! When the future given to [`Daemon::serve`] completes (`SIGTERM` or `SIGINT` for [`run`]):
//!
//! 1. the listeners close and the socket file is removed;
//! 2. every request in flight is answered `Error SHUTTING_DOWN`, then every connection is sent
//!    `Close` — clients report both as `Disconnected`;
//! 3. each connection's queued frames are flushed (for at most a second) and its socket closed;
//! 4. `serve` returns `Ok(())` and [`run`] returns, for an exit status of 0.

mod activation;
mod attached_io;
mod budget;
mod config;
mod connection;
mod daemon;
mod dead_peer;
mod error;
mod forward;
mod handshake;
mod hub;
mod lease_clock;
mod lent_rings;
mod listener;
mod logged_store;
mod metrics;
mod node;
mod os_process;
mod outbox;
mod page_in;
mod shutdown;
pub(crate) mod store;
mod store_log;
#[cfg(test)]
mod store_testing;
mod store_writer;
mod sys;
mod tls;

pub use config::{
    DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_PEER,
    DEFAULT_MAX_HANDSHAKES, DEFAULT_MAX_HANDSHAKES_PER_PEER, DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_METRICS_MAX_MAILBOXES, DEFAULT_SOCKET_MODE, DEFAULT_TCP_DEAD_PEER_TIMEOUT,
    DaemonConfig, MESSAGE_OVERHEAD, OwnUser, SocketActivation, TcpIdentity, TcpListen, TcpSecurity,
    default_state_dir, own_default_state_dir,
};
pub use daemon::Daemon;
pub use error::DaemonError;
pub use node::{
    DEFAULT_NODE_TIMEOUT, InvalidPeerAddress, MAX_NODES, MIN_NODE_TIMEOUT, NodeConfig, NodeDriver,
    NodeEvent, NodeEvents, NodeSendError, NodeTls, PeerAddress, host_name,
};
pub use shutdown::termination_signal;
pub use store::{STORE_FILE, StoreError};
pub use store_log::LOG_FILE;
pub use tls::{ClientCertificates, MAX_PEM_FILE_SIZE, TlsError, TlsServer};

use std::future::Future;

/// Binds the sockets `config` describes and serves until `shutdown` completes: [`Daemon::bind`]
/// then [`Daemon::serve`].
///
/// # Errors
///
/// Those of [`Daemon::bind`] and [`Daemon::serve`].
///
/// # Panics
///
/// Outside a tokio runtime with I/O and time enabled.
pub async fn serve(
    config: DaemonConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    Daemon::bind(config)?.serve(shutdown).await
}

/// Runs a daemon to completion on its own multi-threaded runtime: binds, serves until `SIGTERM`
/// or `SIGINT`, shuts down cleanly and returns `Ok(())` — the `postbox daemon` command.
///
/// The signal handlers are installed before the socket is bound, so a client that could connect
/// can count on `SIGTERM` meaning a clean shutdown. Logging is the caller's to set up (a
/// `tracing` subscriber); the daemon only emits events.
///
/// # Errors
///
/// [`DaemonError::Runtime`] if the runtime or the signal handlers cannot be set up; otherwise
/// those of [`Daemon::bind`] and [`Daemon::serve`].
pub fn run(config: DaemonConfig) -> Result<(), DaemonError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("postbox-daemon")
        .build()
        .map_err(DaemonError::Runtime)?;
    runtime.block_on(async {
        // Handlers first: once the socket accepts connections, SIGTERM is already handled.
        let shutdown = termination_signal()?;
        let daemon = Daemon::bind(config)?;
        daemon.serve(shutdown).await
    })
}

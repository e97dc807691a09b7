//! Opening a connection: who the peer is, and the handshake that makes it a process.
//!
//! The peer has [`ServerSide::handshake_timeout`] to send its `Hello`, holding a handshake place
//! of the admission [`Budget`](crate::budget) meanwhile. The connection's [`ServerSession`]
//! checks the `Hello` (token, versions, frame limit); the daemon then refuses it when no process
//! place is free or it is shutting down, or spawns its process — with the credentials the socket
//! reports for a Unix peer, never ones the peer claims, and the OS pid and command line it
//! learns for one (see [`crate::os_process`]) — and accepts it with its pid, for the
//! session's `Welcome`. A refused or failed handshake is told why in an `Error` frame, then
//! closed.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use postbox_core::{Credentials, OsProcess, Pid};
use postbox_wire::{
    Ending, ErrorBody, ErrorCode, HandshakeError, Negotiated, ServerConfig, ServerEvent,
    ServerSession,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::budget::Permit;
use crate::forward::Router;
use crate::hub::{ConnId, Hub};
use crate::metrics::RequestMetrics;
use crate::node::NodeStatus;
use crate::os_process::identify;
use crate::outbox::{OutboxReceiver, outbox};
use crate::shutdown::{FLUSH_TIMEOUT, StopSignal};

/// How much a connection reads at a time.
pub(crate) const READ_CHUNK: usize = 16 << 10;

/// How long a connection closed for an error keeps draining what the peer still sends, so that
/// closing with unread bytes does not reset the connection before the peer reads the `Error`.
const LINGER: Duration = Duration::from_millis(500);

/// Who is on the other end of a connection, as the daemon established it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Peer {
    /// A local process; its credentials are the socket's (`SO_PEERCRED`).
    Unix {
        /// The credentials the kernel reports.
        creds: Credentials,
        /// The peer's OS process id, for logs and `ps`.
        os_pid: Option<i32>,
    },
    /// A remote peer; its process runs with the configured TCP identity.
    Tcp {
        /// The peer's address.
        address: SocketAddr,
        /// The credentials its process runs as.
        creds: Credentials,
    },
}

impl Peer {
    /// The credentials its process runs as.
    pub(crate) fn creds(&self) -> Credentials {
        match *self {
            Peer::Unix { creds, .. } | Peer::Tcp { creds, .. } => creds,
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Unix {
                creds,
                os_pid: Some(os_pid),
            } => write!(f, "unix uid={} gid={} pid={os_pid}", creds.uid, creds.gid),
            Peer::Unix {
                creds,
                os_pid: None,
            } => {
                write!(f, "unix uid={} gid={}", creds.uid, creds.gid)
            }
            Peer::Tcp { address, .. } => write!(f, "tcp {address}"),
        }
    }
}

/// What every connection of one listener shares.
#[derive(Debug)]
pub(crate) struct ServerSide {
    /// The engine and routing.
    pub(crate) hub: Arc<Hub>,
    /// The handshake's configuration: versions, frame limit, token.
    pub(crate) handshake: ServerConfig,
    /// How long a peer has to send its `Hello`.
    pub(crate) handshake_timeout: Duration,
    /// Requests in flight allowed per connection.
    pub(crate) max_in_flight: usize,
    /// Where requests are counted and timed, when metrics are served.
    pub(crate) metrics: Option<RequestMetrics>,
    /// The node links' states, for `NodeLinks` requests, when this daemon has node links.
    pub(crate) nodes: Option<NodeStatus>,
    /// Where requests about other nodes go, when this daemon has node links.
    pub(crate) router: Option<Arc<Router>>,
    /// Attached payloads' limits, on a listener that grants the attachments capability (Unix).
    pub(crate) attachments: Option<crate::attached_io::AttachmentLimits>,
}

/// A connection the handshake made into a process.
#[derive(Debug)]
pub(crate) struct Opened {
    /// The connection in the hub.
    pub(crate) conn: ConnId,
    /// Its process.
    pub(crate) pid: Pid,
    /// What was negotiated.
    pub(crate) negotiated: Negotiated,
    /// The session, open.
    pub(crate) session: ServerSession,
    /// Where other connections route answers to it, registered in the hub.
    pub(crate) receiver: OutboxReceiver,
}

/// Runs the handshake on a new connection; the session keeps what the peer sent after its `Hello`.
/// `None` when it did not open (the peer was told why, when it was at fault or refused, and the
/// connection is finished with).
pub(crate) async fn open<R, W>(
    reader: &mut R,
    writer: &mut W,
    peer: Peer,
    side: &ServerSide,
    permit: &mut Permit,
    stop: &mut StopSignal,
) -> Option<Opened>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut session = ServerSession::new(side.handshake.clone(), side.max_in_flight);
    if let Some(limits) = &side.attachments {
        // In force only if the handshake grants attachments.
        session.set_attach_from(limits.from);
    }
    let event = tokio::select! {
        biased;
        _ = stop.stopped() => None,
        read = tokio::time::timeout(side.handshake_timeout, next_event(reader, &mut session)) => match read {
            Ok(event) => Some(event),
            Err(_) => {
                let message = format!("no Hello within {} ms", side.handshake_timeout.as_millis());
                session.refuse(ErrorBody::new(ErrorCode::PROTOCOL_VIOLATION, message));
                None
            }
        },
    };
    let admission = match event {
        Some(ServerEvent::Hello(admission)) => admission,
        Some(ServerEvent::Ended(ending)) => {
            log_refusal(peer, &ending);
            close_with(reader, writer, &mut session).await;
            return None;
        }
        Some(_) | None => {
            // Shutting down, or out of time (already refused).
            session.shut_down();
            close_with(reader, writer, &mut session).await;
            return None;
        }
    };
    if let Err(refusal) = permit.promote() {
        tracing::warn!(%peer, "refused: {refusal}");
        let body = ErrorBody::new(ErrorCode::LIMIT_EXCEEDED, refusal.to_string());
        session.reject(admission, body);
        close_with(reader, writer, &mut session).await;
        return None;
    }
    let os = match peer {
        Peer::Unix { os_pid, .. } => identify(os_pid).await,
        Peer::Tcp { .. } => OsProcess::UNKNOWN,
    };
    let (outbox, receiver) = outbox();
    let Some((conn, pid)) = side.hub.connect(peer.creds(), os, outbox) else {
        let body = ErrorBody::new(ErrorCode::SHUTTING_DOWN, "the daemon is shutting down");
        session.reject(admission, body);
        close_with(reader, writer, &mut session).await;
        return None;
    };
    let negotiated = match session.accept(admission, pid.as_raw()) {
        Ok(negotiated) => negotiated,
        Err(error) => {
            // Cannot happen: the admission is the one the session handed out.
            tracing::warn!(%peer, "handshake failed after admission: {error}");
            side.hub.disconnect(conn, []).deliver(conn, |_, _| {});
            return None;
        }
    };
    if let Err(error) = write_within(writer, &session.transmit().split()).await {
        tracing::debug!(%peer, %pid, "could not send the Welcome: {error}");
        side.hub.disconnect(conn, []).deliver(conn, |_, _| {});
        return None;
    }
    Some(Opened {
        conn,
        pid,
        negotiated,
        session,
        receiver,
    })
}

/// Reads until the session has something to say (during the handshake: the `Hello`, or why
/// there is none).
async fn next_event<R: AsyncRead + Unpin>(
    reader: &mut R,
    session: &mut ServerSession,
) -> ServerEvent {
    loop {
        if let Some(event) = session.poll_event() {
            return event;
        }
        let input = session.read_buffer();
        // The buffer the connection keeps for its whole life, reserved at its full size now: a
        // smaller one would be reallocated after the handshake, and an idle connection would
        // hold both (2 KiB more each, measured with 10,000 clients). Only what is read becomes
        // resident, and the admission budget caps how many connections are in their handshake.
        if input.capacity() - input.len() < READ_CHUNK / 2 {
            input.reserve(READ_CHUNK);
        }
        match reader.read_buf(input).await {
            Ok(0) => session.handle_end(),
            Ok(_) => {}
            // A read error is the peer going away; there is nobody to tell.
            Err(error) => {
                tracing::trace!("read failed: {error}");
                session.handle_end();
            }
        }
    }
}

fn log_refusal(peer: Peer, ending: &Ending) {
    match ending {
        Ending::Handshake(HandshakeError::Unauthorized) => {
            tracing::info!(%peer, "refused: missing or wrong token");
        }
        Ending::Handshake(HandshakeError::Closed) => {
            tracing::debug!(%peer, "closed during the handshake");
        }
        ending => tracing::debug!(%peer, "handshake failed: {ending}"),
    }
}

/// Writes `bytes` within [`FLUSH_TIMEOUT`].
pub(crate) async fn write_within<W: AsyncWrite + Unpin>(
    writer: &mut W,
    bytes: &[u8],
) -> std::io::Result<()> {
    match tokio::time::timeout(FLUSH_TIMEOUT, writer.write_all(bytes)).await {
        Ok(result) => result,
        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
    }
}

/// Sends what the ended session queued (best effort: the `Error` saying why), closes the write
/// half, and drains the peer's input for a moment so that the peer gets to read it.
async fn close_with<R, W>(reader: &mut R, writer: &mut W, session: &mut ServerSession)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let bytes = session.transmit().split();
    if bytes.is_empty() {
        return;
    }
    if write_within(writer, &bytes).await.is_ok() {
        let _ = tokio::time::timeout(FLUSH_TIMEOUT, writer.shutdown()).await;
        linger(reader).await;
    }
}

/// Reads and discards input until the peer closes, for at most [`LINGER`].
pub(crate) async fn linger<R: AsyncRead + Unpin>(reader: &mut R) {
    let drain = async {
        let mut sink = vec![0u8; READ_CHUNK];
        while let Ok(1..) = reader.read(&mut sink).await {}
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

//! Opening a connection: who the peer is, and the handshake that makes it a process.
//!
//! The peer has [`ServerSide::handshake_timeout`] to send its `Hello`. The sans-IO
//! [`ServerHandshake`] checks it (token, versions, frame limit); the daemon then refuses it when
//! over the connection limit or shutting down, or spawns its process — with the credentials the
//! socket reports for a Unix peer, never ones the peer claims — and answers `Welcome` with its
//! pid. A refused or failed handshake is told why in an `Error` frame, then closed.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use postbox_core::{Credentials, Pid};
use postbox_wire::{
    ErrorBody, ErrorCode, Frame, FrameDecoder, FrameEncoder, HandshakeError, Negotiated,
    ServerConfig, ServerHandshake,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::hub::{ConnId, Hub};
use crate::outbox::{Outbox, OutboxReceiver, outbox};
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
        /// The peer's OS process id, for logs.
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
}

/// Whether a new connection may become a process.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Admit {
    /// Yes.
    Accept,
    /// No: the daemon is at its connection limit. The peer is told `LIMIT_EXCEEDED`.
    OverLimit,
}

/// A connection the handshake made into a process.
#[derive(Debug)]
pub(crate) struct Opened {
    /// The connection in the hub.
    pub(crate) conn: ConnId,
    /// Its process.
    pub(crate) pid: Pid,
    /// What was negotiated.
    pub(crate) session: Negotiated,
    /// Its outgoing queue, registered in the hub.
    pub(crate) outbox: Outbox,
    /// The queue's receiving end, for its writer.
    pub(crate) receiver: OutboxReceiver,
}

/// Runs the handshake on a new connection. `None` when it did not open (the peer was told why,
/// when it was at fault or refused, and the connection is finished with).
pub(crate) async fn open<R, W>(
    reader: &mut R,
    writer: &mut W,
    buffer: &mut BytesMut,
    peer: Peer,
    side: &ServerSide,
    admit: Admit,
    stop: &mut StopSignal,
) -> Option<Opened>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut decoder = FrameDecoder::default();
    let hello = tokio::select! {
        biased;
        _ = stop.stopped() => Err(ErrorBody::new(ErrorCode::SHUTTING_DOWN, "the daemon is shutting down")),
        read = tokio::time::timeout(side.handshake_timeout, read_frame(reader, buffer, &mut decoder)) => match read {
            Ok(Ok(Some(frame))) => Ok(frame),
            Ok(Ok(None)) => {
                tracing::debug!(%peer, "closed before its Hello");
                return None;
            }
            Ok(Err(body)) => Err(body),
            Err(_) => Err(ErrorBody::new(
                ErrorCode::PROTOCOL_VIOLATION,
                format!("no Hello within {} ms", side.handshake_timeout.as_millis()),
            )),
        },
    };
    let mut server = ServerHandshake::new(side.handshake.clone());
    let admission = match hello.map(|frame| server.handle_frame(frame)) {
        Ok(Ok(admission)) => admission,
        Ok(Err(error)) => {
            log_refusal(peer, &error);
            let frames: Vec<Frame> = std::iter::from_fn(|| server.poll_transmit()).collect();
            close_with(reader, writer, &frames).await;
            return None;
        }
        Err(body) => {
            tracing::debug!(%peer, "handshake failed: {body}");
            close_with(reader, writer, &[body.to_frame(None)]).await;
            return None;
        }
    };
    if admit == Admit::OverLimit {
        tracing::warn!(%peer, "refused: the connection limit is reached");
        let body = ErrorBody::new(ErrorCode::LIMIT_EXCEEDED, "too many connections");
        server.reject(admission, body);
        let frames: Vec<Frame> = std::iter::from_fn(|| server.poll_transmit()).collect();
        close_with(reader, writer, &frames).await;
        return None;
    }
    let (outbox, receiver) = outbox();
    let Some((conn, pid)) = side.hub.connect(peer.creds(), outbox.clone()) else {
        let body = ErrorBody::new(ErrorCode::SHUTTING_DOWN, "the daemon is shutting down");
        server.reject(admission, body);
        let frames: Vec<Frame> = std::iter::from_fn(|| server.poll_transmit()).collect();
        close_with(reader, writer, &frames).await;
        return None;
    };
    let session = match server.accept(admission, pid.as_raw()) {
        Ok(session) => session,
        Err(error) => {
            // Cannot happen: nothing else was handed to the handshake in between.
            tracing::warn!(%peer, "handshake failed after admission: {error}");
            side.hub.disconnect(conn).send();
            return None;
        }
    };
    let frames: Vec<Frame> = std::iter::from_fn(|| server.poll_transmit()).collect();
    if let Err(error) = write_frames(writer, &frames, &FrameEncoder::default()).await {
        tracing::debug!(%peer, %pid, "could not send the Welcome: {error}");
        side.hub.disconnect(conn).send();
        return None;
    }
    Some(Opened {
        conn,
        pid,
        session,
        outbox,
        receiver,
    })
}

/// The next frame from `reader`: `Ok(None)` at the end of the stream (a partial frame is simply
/// abandoned), `Err` with the `Error` to send when the bytes are not a valid frame.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    buffer: &mut BytesMut,
    decoder: &mut FrameDecoder,
) -> Result<Option<Frame>, ErrorBody> {
    loop {
        match decoder.decode(buffer) {
            Ok(Some(frame)) => return Ok(Some(frame)),
            Ok(None) => {}
            Err(error) => return Err(ErrorBody::new(error.code(), error.to_string())),
        }
        if buffer.capacity() - buffer.len() < READ_CHUNK / 2 {
            buffer.reserve(READ_CHUNK);
        }
        match reader.read_buf(buffer).await {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            // A read error is the peer going away; there is nobody to tell.
            Err(error) => {
                tracing::trace!("read failed: {error}");
                return Ok(None);
            }
        }
    }
}

fn log_refusal(peer: Peer, error: &HandshakeError) {
    match error {
        HandshakeError::Unauthorized => tracing::info!(%peer, "refused: missing or wrong token"),
        HandshakeError::PeerError(body) => tracing::debug!(%peer, "gave up: {body}"),
        HandshakeError::Closed => tracing::debug!(%peer, "closed during the handshake"),
        error => tracing::debug!(%peer, "handshake failed: {error}"),
    }
}

/// Writes `frames` (handshake configuration) within [`FLUSH_TIMEOUT`].
async fn write_frames<W: AsyncWrite + Unpin>(
    writer: &mut W,
    frames: &[Frame],
    encoder: &FrameEncoder,
) -> std::io::Result<()> {
    let mut bytes = BytesMut::new();
    for frame in frames {
        encoder
            .encode(frame, &mut bytes)
            .map_err(std::io::Error::other)?;
    }
    match tokio::time::timeout(FLUSH_TIMEOUT, writer.write_all(&bytes)).await {
        Ok(result) => result,
        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
    }
}

/// Sends `frames` (best effort), closes the write half, and drains the peer's input for a moment
/// so that the peer gets to read them.
pub(crate) async fn close_with<R, W>(reader: &mut R, writer: &mut W, frames: &[Frame])
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    if write_frames(writer, frames, &FrameEncoder::default())
        .await
        .is_ok()
    {
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

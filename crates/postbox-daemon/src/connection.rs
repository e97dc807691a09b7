//! One connection: one process, many requests in flight, until the peer goes or the daemon stops.
//!
//! After the handshake ([`crate::handshake`]), a connection is two tasks: this one, which reads
//! frames and carries them out on the hub, and a writer ([`crate::outbox`]) which owns the
//! socket's write half. Frames that arrived together (a pipelining client) are carried out one
//! after another and their answers queued together, so the writer wakes once for all of them. Reading never waits on the engine: a request that blocks becomes a ticket
//! in the hub and the reader moves on to the next frame, so a blocked `recv` does not hold up a
//! `send` or a `stat` behind it on the same connection.
//!
//! What the reader does with each frame (`docs/protocol.md` §5, §6 and §8):
//!
//! | frame | action |
//! |---|---|
//! | `Request` | decoded and carried out; answered at once, or later when its ticket completes. A payload that cannot be decoded: `Error MALFORMED_PAYLOAD` for that id. Over the in-flight limit: `Error LIMIT_EXCEEDED` for that id. |
//! | `Request` with an id in flight | `Error PROTOCOL_VIOLATION`, close |
//! | `Cancel` | the request, if still waiting, is withdrawn and answered `Timeout` (a send's message handed back); otherwise ignored |
//! | `Close`, `Error` with id 0, end of stream, read error | the process terminates; nothing more is sent |
//! | any other kind | `Error PROTOCOL_VIOLATION`, close |
//! | bytes that are not a valid frame | `Error` with the decoder's code, close |
//!
//! Whatever ends the connection, its process is terminated at once (before any final frame is
//! flushed), so whoever waits on it learns of it without delay.

use std::sync::Arc;

use bytes::BytesMut;
use postbox_wire::{
    ErrorBody, ErrorCode, Frame, FrameDecoder, FrameEncoder, FrameKind, decode_request,
};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::handshake::{self, Admit, Opened, Peer, ServerSide, linger, read_frame};
use crate::hub::{Deliveries, Violation};
use crate::outbox::{WriterEnd, write_loop};
use crate::shutdown::{FLUSH_TIMEOUT, StopSignal};

/// Why a connection ended.
#[derive(Debug)]
enum End {
    /// The peer closed the stream, sent `Close` or an `Error`, or a read failed.
    PeerLeft,
    /// The writer stopped: the peer cannot be written to any more.
    WriterStopped,
    /// The peer broke the protocol; it is sent this `Error`, then the connection is closed.
    Violation(ErrorBody),
    /// The daemon is shutting down (the hub already queued the final frames).
    Shutdown,
}

/// Serves one connection from accept to close.
pub(crate) async fn serve<R, W>(
    mut reader: R,
    mut writer: W,
    peer: Peer,
    side: Arc<ServerSide>,
    admit: Admit,
    mut stop: StopSignal,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let mut buffer = BytesMut::new();
    let opened = handshake::open(
        &mut reader,
        &mut writer,
        &mut buffer,
        peer,
        &side,
        admit,
        &mut stop,
    )
    .await;
    let Some(Opened {
        conn,
        pid,
        session,
        outbox,
        receiver,
    }) = opened
    else {
        return;
    };
    tracing::debug!(%peer, %pid, max_frame_len = session.max_frame_len, "connected");

    let config = session.frame_config();
    let mut writer_task = tokio::spawn(write_loop(writer, receiver, FrameEncoder::new(config)));
    let mut decoder = FrameDecoder::new(config);
    // Answers to the frames carried out since the last wait for input. They are queued together
    // once the buffer holds no further complete frame, so the writer wakes once and writes them
    // in one go (a pipelining client sends many frames per read).
    let mut answers = Deliveries::default();
    let mut batched = 0;
    let end = loop {
        let buffered = if batched < MAX_BATCH {
            decoder.decode(&mut buffer)
        } else {
            Ok(None)
        };
        let next = match buffered {
            Ok(Some(frame)) => Ok(Some(frame)),
            Err(error) => Err(ErrorBody::new(error.code(), error.to_string())),
            Ok(None) => {
                std::mem::take(&mut answers).send();
                batched = 0;
                tokio::select! {
                    biased;
                    _ = stop.stopped() => break End::Shutdown,
                    end = &mut writer_task => {
                        if let Ok(WriterEnd::Failed(error)) = end {
                            tracing::debug!(%peer, %pid, "write failed: {error}");
                        }
                        break End::WriterStopped;
                    }
                    next = async {
                        outbox.room().await;
                        read_frame(&mut reader, &mut buffer, &mut decoder).await
                    } => next,
                }
            }
        };
        let frame = match next {
            Ok(Some(frame)) => frame,
            Ok(None) => break End::PeerLeft,
            Err(body) => break End::Violation(body),
        };
        batched += 1;
        if let Some(end) = handle(frame, conn, &side, &mut answers) {
            break end;
        }
    };
    // Answers already produced go out before anything that follows.
    answers.send();

    // Terminate first: whoever waits on this process is told before anything else happens.
    side.hub.disconnect(conn).send();
    match &end {
        End::Violation(body) => {
            tracing::debug!(%peer, %pid, "closing: {body}");
            outbox.push(body.to_frame(None));
        }
        End::PeerLeft | End::WriterStopped | End::Shutdown => {
            tracing::debug!(%peer, %pid, "disconnected");
        }
    }
    outbox.finish();
    drop(outbox);
    if !matches!(end, End::WriterStopped) {
        match tokio::time::timeout(FLUSH_TIMEOUT, &mut writer_task).await {
            Ok(_) => {}
            Err(_) => {
                tracing::debug!(%peer, %pid, "the peer does not read; dropping it");
                writer_task.abort();
            }
        }
    }
    if matches!(end, End::Violation(_)) {
        linger(&mut reader).await;
    }
}

/// How many buffered frames a connection carries out before it queues their answers and checks
/// for shutdown and backpressure again.
const MAX_BATCH: usize = 64;

/// Carries out one frame, adding its answers to `answers`; `Some` when it ends the connection.
fn handle(
    frame: Frame,
    conn: crate::hub::ConnId,
    side: &ServerSide,
    answers: &mut Deliveries,
) -> Option<End> {
    let violation = |message: String| {
        Some(End::Violation(ErrorBody::new(
            ErrorCode::PROTOCOL_VIOLATION,
            message,
        )))
    };
    match (frame.kind(), frame.request_id()) {
        (FrameKind::Request, Some(id)) => {
            let request = decode_request(frame.payload());
            match side.hub.request(conn, id, request) {
                Ok(deliveries) => answers.append(deliveries),
                Err(Violation::DuplicateId(id)) => {
                    return violation(format!("request id {id} is already in flight"));
                }
            }
        }
        (FrameKind::Cancel, Some(id)) => answers.append(side.hub.cancel(conn, id)),
        (FrameKind::Close, _) => return Some(End::PeerLeft),
        (FrameKind::Error, None) => {
            if let Ok(body) = ErrorBody::decode(frame.payload()) {
                tracing::debug!("the client gave up: {body}");
            }
            return Some(End::PeerLeft);
        }
        (kind, _) => {
            return violation(format!(
                "a client may not send a {kind} frame{}",
                match frame.request_id() {
                    Some(id) => format!(" with request id {id}"),
                    None => String::new(),
                }
            ));
        }
    }
    None
}

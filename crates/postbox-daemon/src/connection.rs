//! One connection: one process, many requests in flight, until the peer goes or the daemon stops.
//!
//! A connection is one task driving its [`postbox_wire::ServerSession`]: bytes
//! read go into the session, whose events are carried out on the hub; answers — the hub's
//! immediate ones, and completions other connections route here through the outbox — go back into
//! the session, whose output is written as it accumulates. Reading never waits on the engine: a
//! request that blocks becomes a ticket in the hub and the task moves on to the next frame, so a
//! blocked `recv` does not hold up a `send` or a `stat` behind it on the same connection. Every
//! frame already read is carried out before the answers are written, so a pipelining client's
//! requests are answered in one write.
//!
//! The session enforces the protocol (`docs/protocol.md` §5, §6 and §8): a request id already in
//! flight or a frame kind a client may not send ends the connection with `Error
//! PROTOCOL_VIOLATION`; invalid bytes with the decoder's `Error`; an unreadable request payload is
//! refused `MALFORMED_PAYLOAD` and a request over the in-flight limit `LIMIT_EXCEEDED`, for its
//! id only; `Close`, an `Error` with id 0 or the end of the stream end the connection.
//!
//! **Backpressure.** The task stops reading while more than [`BACKLOG_LIMIT`] bytes of answers
//! wait to be written, so a client that sends requests without reading the answers is not read
//! from until it catches up — and stops carrying out requests already read, too, so that a
//! chunk of small requests with large answers (`ListMailboxes`, say) cannot queue more than
//! [`BACKLOG_LIMIT`] plus one answer.
//!
//! Whatever ends the connection, its process is terminated at once (before any final frame is
//! flushed), so whoever waits on it learns of it without delay.

use std::sync::Arc;
use std::time::Instant;

use std::collections::VecDeque;

use bytes::{Buf, BytesMut};
use postbox_core::{Credentials, Pid, Ticket};
use postbox_shm::{Ring, Segment};
use postbox_wire::session::Departure;
use postbox_wire::{
    Capabilities, Ending, Request, RequestId, Response, ServerEvent, ServerSession,
};
use rustc_hash::FxHashMap;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::attached_io::{self, UnixHalf};
use crate::budget::Permit;
use crate::forward::Routing;
use crate::handshake::{self, Opened, Peer, READ_CHUNK, ServerSide, linger};
use crate::hub::{ConnId, Outcome};
use crate::node::NodeStatus;
use crate::outbox::Reply;
use crate::shutdown::{FLUSH_TIMEOUT, StopSignal};

/// Answer bytes waiting to be written beyond which the connection stops reading.
pub(crate) const BACKLOG_LIMIT: usize = 4 << 20;

/// Serves one connection from accept to close.
pub(crate) async fn serve<R, W>(
    mut reader: R,
    mut writer: W,
    peer: Peer,
    side: Arc<ServerSide>,
    permit: &mut Permit,
    mut stop: StopSignal,
) where
    R: AsyncRead + UnixHalf + Unpin + Send + 'static,
    W: AsyncWrite + UnixHalf + Unpin + Send + 'static,
{
    // Boxed: the handshake's state is needed once, not for the connection's whole life (an idle
    // connection's memory is mostly its task).
    let opened = Box::pin(handshake::open(
        &mut reader,
        &mut writer,
        peer,
        &side,
        permit,
        &mut stop,
    ))
    .await;
    let Some(Opened {
        conn,
        pid,
        negotiated,
        mut session,
        mut receiver,
    }) = opened
    else {
        return;
    };
    tracing::debug!(%peer, %pid, max_frame_len = negotiated.max_frame_len, "connected");

    // This connection's requests waiting, in the engine or on another node, for `Cancel`.
    let mut tickets: FxHashMap<RequestId, InFlight> = FxHashMap::default();
    let asker = Asker {
        conn,
        pid,
        creds: peer.creds(),
    };
    // What is being written; the session queues more meanwhile.
    let mut out = BytesMut::new();
    // Attached payloads (protocol.md §7.5), when this connection has them: the limits, the
    // stream offset of `out`'s first byte, and the payloads waiting for their frames' writes.
    let limits = side
        .attachments
        .filter(|_| negotiated.capabilities.contains(Capabilities::ATTACHMENTS));
    let mut written = session.queued_total() - session.transmit().len() as u64;
    let mut departures: VecDeque<Departure> = VecDeque::new();
    // Rings lent to this process (docs/shm.md), when it asks and the connection can carry
    // their descriptors: each goes beside its `RingLent` frame, which starts at the offset kept.
    let lends = limits.is_some() && negotiated.capabilities.contains(Capabilities::RINGS);
    let mut rings: VecDeque<RingDeparture> = VecDeque::new();
    let ending = loop {
        let asked = Asked {
            writing: out.len(),
            lends,
            rings: &mut rings,
        };
        if let Some(ending) = carry_out(&mut session, asked, &mut tickets, asker, &side) {
            break ending;
        }
        departures.extend(std::iter::from_fn(|| session.poll_departure()));
        if out.is_empty() {
            // Trade buffers rather than split: both keep their room, nothing is allocated per write.
            out.clear();
            std::mem::swap(&mut out, session.transmit());
        }
        // The bytes to write next: up to the next frame with descriptors beside it, or that
        // frame (its descriptors ride with the write that begins it, which stops where the next
        // such frame starts: that one begins a write of its own).
        let bytes_before =
            |at: u64| usize::try_from(at.saturating_sub(written)).unwrap_or(usize::MAX);
        let starts_now = |at: u64| at <= written;
        let payloads = departures
            .front()
            .filter(|departure| starts_now(departure.at))
            .map_or(&[][..], |departure| &departure.payloads[..]);
        let ring = rings
            .front()
            .filter(|lent| starts_now(lent.at))
            .map(|lent| lent.ring.memory().fd());
        let next = departures
            .iter()
            .map(|departure| departure.at)
            .chain(rings.iter().map(|lent| lent.at))
            .filter(|&at| !starts_now(at))
            .min();
        let upto = out.len().min(next.map_or(usize::MAX, bytes_before));
        let backlog = out.len() + session.transmit().len();
        let input = session.read_buffer();
        if input.capacity() - input.len() < READ_CHUNK / 2 {
            input.reserve(READ_CHUNK);
        }
        tokio::select! {
            biased;
            _ = stop.stopped() => session.shut_down(),
            wrote = attached_io::write(&mut writer, &out[..upto], payloads, ring, asker.creds.uid), if upto > 0 => {
                match wrote {
                    Ok(0) | Err(_) => session.handle_end(),
                    Ok(n) => {
                        if !payloads.is_empty() {
                            if let Some(metrics) = &side.metrics {
                                metrics.attached_sent(payloads.len());
                            }
                            departures.pop_front();
                        }
                        if ring.is_some() {
                            rings.pop_front();
                        }
                        out.advance(n);
                        written += n as u64;
                    }
                }
            }
            Some((id, reply)) = receiver.next() => {
                tickets.remove(&id);
                match reply {
                    Reply::Answer(response) => session.respond(id, &response),
                    Reply::Fail(code, message) => session.fail(id, code, &message),
                }
            }
            read = attached_io::read(&mut reader, limits.is_some(), input),
                if backlog < BACKLOG_LIMIT => match read {
                Ok(read) if read.bytes == 0 => session.handle_end(),
                Ok(read) => {
                    let bytes = read.bytes;
                    if !read.fds.is_empty() || read.truncated {
                        match limits.map(|limits| attached_io::payloads(read, limits, asker.creds.uid)) {
                            Some(Ok(payloads)) => {
                                if let Some(metrics) = &side.metrics {
                                    metrics.attached_received(payloads.len());
                                }
                                session.handle_attachments(bytes, payloads);
                            }
                            Some(Err(why)) => session.refuse_attachments(why),
                            None => session.refuse_attachments("descriptors on a connection without attachments"),
                        }
                    }
                }
                // A read error is the peer going away.
                Err(error) => {
                    tracing::trace!(%peer, %pid, "read failed: {error}");
                    session.handle_end();
                }
            },
        }
    };

    // Terminate first: whoever waits on this process is told before anything else happens.
    let waiting = tickets
        .into_values()
        .filter_map(|in_flight| match in_flight {
            InFlight::Here(ticket) => Some(ticket),
            InFlight::Forwarded => None,
        });
    side.hub.disconnect(conn, waiting).deliver(conn, |_, _| {});
    if let Some(router) = &side.router {
        router.ended(pid);
    }
    match &ending {
        Ending::Closed | Ending::Lost | Ending::ShuttingDown => {
            tracing::debug!(%peer, %pid, "disconnected: {ending}");
        }
        ending => tracing::debug!(%peer, %pid, "closing: {ending}"),
    }
    // What is left to write: answers already produced, then the session's last words (an `Error`
    // saying why, or `Error SHUTTING_DOWN`s and `Close`).
    out.extend_from_slice(&session.transmit().split());
    let linger_after = matches!(ending, Ending::Violation(_) | Ending::Corrupt(_));
    Box::pin(finish(reader, writer, out, linger_after, peer, pid)).await;
}

/// Flushes a closed connection's last bytes (for at most [`FLUSH_TIMEOUT`]) and shuts it down;
/// after a protocol failure, drains the peer's input for a moment so that it reads why.
async fn finish<R, W>(
    mut reader: R,
    mut writer: W,
    out: BytesMut,
    linger_after: bool,
    peer: Peer,
    pid: Pid,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let flushed = tokio::time::timeout(FLUSH_TIMEOUT, async {
        writer.write_all(&out).await?;
        writer.shutdown().await
    })
    .await;
    if flushed.is_err() {
        tracing::debug!(%peer, %pid, "the peer does not read; dropping it");
    }
    if linger_after {
        linger(&mut reader).await;
    }
}

/// Where a request of this connection waits.
#[derive(Clone, Copy, Debug)]
enum InFlight {
    /// In this node's engine, under this ticket.
    Here(Ticket),
    /// On another node: its answer, or a `Cancel`'s, comes through the outbox.
    Forwarded,
}

/// A ring lent to this connection's process, waiting for the write that begins its answer.
#[derive(Debug)]
struct RingDeparture {
    /// The stream offset of the `RingLent` frame's first byte.
    at: u64,
    ring: Arc<Ring<Segment>>,
}

/// What [`carry_out`] needs to answer `LendRing`, and how much it may answer.
struct Asked<'a> {
    /// Answer bytes being written now.
    writing: usize,
    /// Whether this connection is lent rings.
    lends: bool,
    /// Where a lent ring waits for its answer's write.
    rings: &'a mut VecDeque<RingDeparture>,
}

/// Who the connection's requests come from.
#[derive(Clone, Copy, Debug)]
struct Asker {
    conn: ConnId,
    pid: Pid,
    creds: Credentials,
}

/// Carries out the events the session has — requests and cancels on the hub, their answers back
/// into the session — while fewer than [`BACKLOG_LIMIT`] bytes of answers, counting `writing`
/// being written, wait; the rest wait in the session's input (an ended session's last event is
/// always taken). `Some` when the connection is over.
fn carry_out(
    session: &mut ServerSession,
    asked: Asked<'_>,
    tickets: &mut FxHashMap<RequestId, InFlight>,
    asker: Asker,
    side: &ServerSide,
) -> Option<Ending> {
    let conn = asker.conn;
    let writing = asked.writing;
    while writing + session.transmit().len() < BACKLOG_LIMIT || session.is_ended() {
        let Some(event) = session.poll_event() else {
            break;
        };
        let routed = match event {
            // Node links are the daemon's, not the engine's: answered here.
            ServerEvent::Request {
                id,
                request: Request::NodeLinks,
            } => {
                let links = side
                    .nodes
                    .as_ref()
                    .map(NodeStatus::links)
                    .unwrap_or_default();
                session.respond(id, &Response::NodeLinks(links));
                continue;
            }
            // Rings are lent by the hub, and their descriptors go beside the answer.
            ServerEvent::Request {
                id,
                request: Request::LendRing { mailbox },
            } => {
                let lent = asked
                    .lends
                    .then(|| side.hub.lend_ring(conn, mailbox))
                    .flatten();
                let Some((terms, ring)) = lent else {
                    session.respond(id, &Response::RingLent(None));
                    continue;
                };
                let at = session.queued_total();
                session.respond(id, &Response::RingLent(Some(terms)));
                asked.rings.push_back(RingDeparture { at, ring });
                continue;
            }
            ServerEvent::Request { id, request } => {
                let started = side.metrics.as_ref().map(|_| Instant::now());
                let request = match &side.router {
                    None => request,
                    Some(router) => match router.route(conn, asker.pid, asker.creds, id, request) {
                        Routing::Local(request) => request,
                        Routing::Forwarded => {
                            tickets.insert(id, InFlight::Forwarded);
                            continue;
                        }
                        Routing::Answered(response) => {
                            session.respond(id, &response);
                            continue;
                        }
                        Routing::Refused(code, message) => {
                            session.fail(id, code, &message);
                            continue;
                        }
                    },
                };
                let (outcome, routed) = side.hub.request(conn, id, request);
                match outcome {
                    Outcome::Answered(response) => session.respond(id, &response),
                    Outcome::Waiting(ticket) => {
                        tickets.insert(id, InFlight::Here(ticket));
                    }
                    Outcome::Refused(code, message) => session.fail(id, code, message),
                    // Its answer comes through the outbox once the store has it.
                    Outcome::Deferred => {}
                }
                if let (Some(metrics), Some(started)) = (&side.metrics, started) {
                    metrics.observe(started.elapsed());
                }
                routed
            }
            ServerEvent::Cancel { id } => {
                // Not among the tickets: answered already, its answer on its way here.
                let ticket = match tickets.get(&id) {
                    None => continue,
                    Some(InFlight::Here(ticket)) => *ticket,
                    // The node it went to answers the withdrawal as any answer.
                    Some(InFlight::Forwarded) => {
                        if let Some(router) = &side.router {
                            router.cancel(asker.pid, id);
                        }
                        continue;
                    }
                };
                tickets.remove(&id);
                let (withdrawn, routed) = side.hub.cancel(conn, id, ticket);
                if let Some(response) = withdrawn {
                    session.respond(id, &response);
                }
                routed
            }
            ServerEvent::Ended(ending) => return Some(ending),
            // Only the handshake has a `Hello`; it is over.
            ServerEvent::Hello(_) => continue,
        };
        routed.deliver(conn, |id, response| {
            tickets.remove(&id);
            session.respond(id, &response);
        });
    }
    None
}

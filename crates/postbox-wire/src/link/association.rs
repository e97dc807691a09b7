//! One association: the reliable, ordered, exactly-once channel between this node and one peer.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::resend_buffer::ResendBuffer;
use super::{
    Admission, ConnectionId, DATA_OVERHEAD, DownReason, Incarnation, LinkConfig, LinkDecoder,
    LinkEvent, LinkFrame, LinkHello, LinkSendError, LinkState, LinkStats, NodeName, Origin,
    ResetReason, Seq,
};
use crate::{ErrorBody, ErrorCode};

/// A `Ping` goes out at least every this many heartbeat intervals, even on a busy connection, so
/// that the round-trip time stays fresh.
const PING_AT_LEAST_EVERY: u32 = 4;

/// The transport connection an association currently runs on.
#[derive(Debug)]
struct Connection {
    id: ConnectionId,
    origin: Origin,
    /// Whether the peer's `Hello` has arrived on it.
    established: bool,
    /// Bytes received and not yet a whole frame.
    input: BytesMut,
    /// When a valid frame last arrived on it (its start, before any).
    last_heard: Instant,
}

/// Heartbeat bookkeeping on an established connection.
#[derive(Debug)]
struct Heartbeat {
    /// When the next interval ends.
    next_tick: Instant,
    /// Whether anything was written since the last tick.
    wrote: bool,
    /// Ticks since the last `Ping`.
    ticks_since_ping: u32,
}

/// The association between this node and one peer node, sans-IO. See [the module
/// docs](crate::link) for the protocol and its state machine.
///
/// The driver moves bytes and time in and out: it reports connections
/// ([`connection_up`](Self::connection_up), [`connection_lost`](Self::connection_lost)), feeds
/// what it reads ([`handle_input`](Self::handle_input)), writes what
/// [`transmit`](Self::transmit) holds to the current connection, acts on
/// [`poll_event`](Self::poll_event), and calls [`handle_timeout`](Self::handle_timeout) when
/// [`poll_timeout`](Self::poll_timeout) says.
#[derive(Debug)]
pub struct Association {
    config: LinkConfig,
    local: NodeName,
    incarnation: Incarnation,
    peer: NodeName,
    peer_incarnation: Option<Incarnation>,
    decoder: LinkDecoder,

    /// The sequence number the next message sent gets.
    next_seq: Seq,
    /// The last message the peer acknowledged.
    acked: Seq,
    /// The last message written to any connection in this session.
    written: Seq,
    resend: ResendBuffer,

    /// The last message delivered from the peer.
    delivered: Seq,
    /// Messages delivered since an acknowledgement last went out.
    unacked_deliveries: u32,
    /// When a standalone `Ack` is due.
    ack_due: Option<Instant>,

    connection: Option<Connection>,
    next_connection: u64,
    transmit: BytesMut,
    heartbeat: Option<Heartbeat>,
    /// The `Ping` awaiting its `Pong`: its id and when it went out.
    ping: Option<(u64, Instant)>,
    next_ping_id: u64,
    rtt: Option<Duration>,

    last_heard: Instant,
    /// Why the peer is down, once reported (cleared by the next handshake, unless closed).
    down: Option<DownReason>,
    closed: bool,

    retransmissions: u64,
    duplicates: u64,
    events: VecDeque<LinkEvent>,
}

impl Association {
    /// An association of `local` (this node, in its `incarnation`) with `peer`, created at `now`
    /// (the node timeout counts from here until the peer is first heard from). It has no
    /// connection yet; messages sent now wait for the first handshake.
    pub fn new(
        config: LinkConfig,
        local: NodeName,
        incarnation: Incarnation,
        peer: NodeName,
        now: Instant,
    ) -> Association {
        Association {
            decoder: LinkDecoder::new(config.frame_limit()),
            config,
            local,
            incarnation,
            peer,
            peer_incarnation: None,
            next_seq: Seq::new(1),
            acked: Seq::ZERO,
            written: Seq::ZERO,
            resend: ResendBuffer::default(),
            delivered: Seq::ZERO,
            unacked_deliveries: 0,
            ack_due: None,
            connection: None,
            next_connection: 1,
            transmit: BytesMut::new(),
            heartbeat: None,
            ping: None,
            next_ping_id: 1,
            rtt: None,
            last_heard: now,
            down: None,
            closed: false,
            retransmissions: 0,
            duplicates: 0,
            events: VecDeque::new(),
        }
    }

    /// This node's name.
    pub fn local(&self) -> &NodeName {
        &self.local
    }

    /// The peer's name.
    pub fn peer(&self) -> &NodeName {
        &self.peer
    }

    /// This node's incarnation.
    pub fn incarnation(&self) -> Incarnation {
        self.incarnation
    }

    /// The connection the association runs on, if any.
    pub fn connection(&self) -> Option<ConnectionId> {
        self.connection.as_ref().map(|connection| connection.id)
    }

    /// Whether a handshake has completed on the current connection.
    pub fn is_up(&self) -> bool {
        self.down.is_none() && self.connection.as_ref().is_some_and(|c| c.established)
    }

    /// Which connection origin wins when two are offered at once: the one dialled by the node
    /// whose name sorts lower (bytewise), so both ends keep the same connection.
    pub fn preferred_origin(&self) -> Origin {
        if self.local <= self.peer {
            Origin::Dialed
        } else {
            Origin::Accepted
        }
    }

    /// A new transport connection to the peer exists (`origin` says who dialled).
    ///
    /// **Tie-break.** If a connection is already current, the new one replaces it unless the
    /// current one has the [preferred origin](Self::preferred_origin) and the new one has not:
    /// when both nodes dial at once, both keep the connection dialled by the lower name. A
    /// later connection of the same origin always replaces the current one (its dialler gave the
    /// old one up). After [`close`](Self::close), every connection is refused.
    ///
    /// On [`Admission::Use`] the association's `Hello` is in [`transmit`](Self::transmit), and
    /// whatever was left there for the previous connection is dropped.
    pub fn connection_up(&mut self, now: Instant, origin: Origin) -> Admission {
        if self.closed {
            return Admission::Refuse;
        }
        if let Some(current) = &self.connection {
            let preferred = self.preferred_origin();
            if origin != preferred && current.origin == preferred {
                return Admission::Refuse;
            }
        }
        let id = ConnectionId(self.next_connection);
        self.next_connection += 1;
        self.connection = Some(Connection {
            id,
            origin,
            established: false,
            input: BytesMut::new(),
            last_heard: now,
        });
        self.heartbeat = None;
        self.ping = None;
        self.transmit.clear();
        let hello = LinkHello {
            node: self.local.clone(),
            incarnation: self.incarnation,
            known: self.peer_incarnation,
            delivered: self.delivered,
            max_frame_len: self.config.frame_limit(),
        };
        LinkFrame::Hello(hello).encode(&mut self.transmit);
        Admission::Use(id)
    }

    /// Connection `id` is gone (a read or write failed, or it was closed). Bytes not yet taken
    /// from [`transmit`](Self::transmit) are dropped; unacknowledged messages wait for the next
    /// connection. Does nothing for a connection the association has already let go of.
    pub fn connection_lost(&mut self, _now: Instant, id: ConnectionId) {
        if self.connection() == Some(id) {
            self.forget_connection();
        }
    }

    /// Takes `input`, bytes read from connection `id`, and acts on every whole frame in it;
    /// what that caused comes out of [`poll_event`](Self::poll_event) and
    /// [`transmit`](Self::transmit). Bytes from a connection that is not the current one are
    /// dropped unread.
    pub fn handle_input(&mut self, now: Instant, id: ConnectionId, input: &mut BytesMut) {
        let Some(connection) = self.connection.as_mut().filter(|c| c.id == id) else {
            input.clear();
            return;
        };
        let mut buffer = std::mem::take(&mut connection.input);
        if buffer.is_empty() {
            std::mem::swap(&mut buffer, input);
        } else {
            buffer.extend_from_slice(input);
            input.clear();
        }
        loop {
            match self.decoder.decode(&mut buffer) {
                Ok(Some(frame)) => {
                    self.last_heard = now;
                    if let Some(connection) = &mut self.connection {
                        connection.last_heard = now;
                    }
                    self.handle_frame(now, frame);
                    if self.connection() != Some(id) {
                        return;
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    self.reset(ResetReason::Corrupt(error), None);
                    return;
                }
            }
        }
        if let Some(connection) = &mut self.connection {
            connection.input = buffer;
        }
    }

    /// The bytes to write to the current connection, in order. Take what you write (`split`,
    /// `advance`). After a [`LinkEvent::Reset`] they are the last bytes for the connection being
    /// closed (an `Error` telling the peer why, or nothing); after [`close`](Self::close), the
    /// `Goodbye`.
    pub fn transmit(&mut self) -> &mut BytesMut {
        &mut self.transmit
    }

    /// The next thing that happened, if any.
    pub fn poll_event(&mut self) -> Option<LinkEvent> {
        self.events.pop_front()
    }

    /// Sends `payload` to the peer: it gets the next sequence number, is written at once if the
    /// association is up (else on the next handshake), and is kept until the peer acknowledges
    /// it.
    ///
    /// # Errors
    ///
    /// The message is handed back: [`LinkSendError::Full`] when the resend buffer is at its bound
    /// (back-pressure: retry after the peer acknowledges), [`LinkSendError::TooLarge`] when it
    /// can never fit, [`LinkSendError::Down`] after [`LinkEvent::Down`] until the next handshake
    /// (and for good after [`close`](Self::close)).
    pub fn send(&mut self, payload: Bytes) -> Result<Seq, LinkSendError> {
        if self.down.is_some() || self.closed {
            return Err(LinkSendError::Down(payload));
        }
        let max_message = self.config.frame_limit() as usize - DATA_OVERHEAD;
        if payload.len() > max_message || payload.len() > self.config.max_unacked_bytes {
            return Err(LinkSendError::TooLarge(payload));
        }
        if self.resend.len() >= self.config.max_unacked_messages
            || self.resend.bytes() + payload.len() > self.config.max_unacked_bytes
        {
            return Err(LinkSendError::Full(payload));
        }
        let seq = self.next_seq;
        self.next_seq = seq.next();
        if self.is_up() {
            self.write_data(seq, payload.clone());
        }
        self.resend.push(seq, payload);
        Ok(seq)
    }

    /// Leaves for good (this node is shutting down): a `Goodbye` is queued in
    /// [`transmit`](Self::transmit) if the association is up, the current connection is let go
    /// of (write the `Goodbye`, then close it), [`LinkEvent::Down`] with
    /// [`DownReason::Closed`] is reported unless the peer was down already, and from now on
    /// nothing is sent, received or connected.
    pub fn close(&mut self, _now: Instant) {
        if self.closed {
            return;
        }
        let goodbye = self.is_up();
        // The bytes already in `transmit` still go out, before the Goodbye.
        let transmit = std::mem::take(&mut self.transmit);
        self.forget_connection();
        self.transmit = transmit;
        if goodbye {
            self.write(LinkFrame::Goodbye {
                ack: self.delivered,
            });
        }
        self.closed = true;
        if self.down.is_none() {
            self.down = Some(DownReason::Closed);
            self.events.push_back(LinkEvent::Down {
                reason: DownReason::Closed,
            });
        }
    }

    /// The next instant at which [`handle_timeout`](Self::handle_timeout) has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let node = (self.down.is_none() && !self.closed)
            .then(|| self.last_heard + self.config.node_timeout);
        let connection = self
            .connection
            .as_ref()
            .map(|c| c.last_heard + self.config.connection_timeout);
        let heartbeat = self.heartbeat.as_ref().map(|h| h.next_tick);
        [node, connection, heartbeat, self.ack_due]
            .into_iter()
            .flatten()
            .min()
    }

    /// Does what is due at `now`: the node timeout (`Down`), the connection timeout (`Reset`),
    /// a standalone `Ack`, a heartbeat `Ping`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.down.is_none() && !self.closed && now >= self.last_heard + self.config.node_timeout
        {
            if self.connection.is_some() {
                self.reset(ResetReason::Down, None);
            }
            self.down = Some(DownReason::Timeout);
            self.events.push_back(LinkEvent::Down {
                reason: DownReason::Timeout,
            });
        }
        if let Some(connection) = &self.connection
            && now >= connection.last_heard + self.config.connection_timeout
        {
            self.reset(ResetReason::Silent, None);
        }
        if self.ack_due.is_some_and(|due| now >= due) {
            self.write(LinkFrame::Ack {
                ack: self.delivered,
            });
        }
        let ping = match &mut self.heartbeat {
            Some(heartbeat) if now >= heartbeat.next_tick => {
                heartbeat.ticks_since_ping += 1;
                let ping = !heartbeat.wrote || heartbeat.ticks_since_ping >= PING_AT_LEAST_EVERY;
                heartbeat.wrote = false;
                heartbeat.next_tick = now + self.config.heartbeat_interval;
                if ping {
                    heartbeat.ticks_since_ping = 0;
                }
                ping
            }
            _ => false,
        };
        if ping {
            let id = self.next_ping_id;
            self.next_ping_id = self.next_ping_id.wrapping_add(1);
            self.ping = Some((id, now));
            self.write(LinkFrame::Ping {
                id,
                ack: self.delivered,
            });
            if let Some(heartbeat) = &mut self.heartbeat {
                heartbeat.wrote = false;
            }
        }
    }

    /// A snapshot for `postbox nodes`.
    pub fn stats(&self) -> LinkStats {
        let state = if self.down.is_some() {
            LinkState::Down
        } else if self.is_up() {
            LinkState::Up
        } else {
            LinkState::Connecting
        };
        LinkStats {
            state,
            peer_incarnation: self.peer_incarnation,
            rtt: self.rtt,
            unacked: self.resend.len(),
            unacked_bytes: self.resend.bytes(),
            retransmissions: self.retransmissions,
            duplicates: self.duplicates,
            delivered: self.delivered.get(),
            last_heard: self.last_heard,
        }
    }

    fn handle_frame(&mut self, now: Instant, frame: LinkFrame) {
        let established = self.connection.as_ref().is_some_and(|c| c.established);
        if !established {
            match frame {
                LinkFrame::Hello(hello) => self.handshake(now, hello),
                LinkFrame::Error(body) => self.reset(ResetReason::PeerError(body), None),
                other => self.violation(format!("a {} frame before the hello", other.kind())),
            }
            return;
        }
        match frame {
            LinkFrame::Hello(_) => self.violation("a second hello on one connection".into()),
            LinkFrame::Data { seq, ack, payload } => {
                if self.acknowledged(ack) {
                    self.receive(now, seq, payload);
                }
            }
            LinkFrame::Ack { ack } => {
                self.acknowledged(ack);
            }
            LinkFrame::Ping { id, ack } => {
                if self.acknowledged(ack) {
                    self.write(LinkFrame::Pong {
                        id,
                        ack: self.delivered,
                    });
                }
            }
            LinkFrame::Pong { id, ack } => {
                if self.acknowledged(ack)
                    && let Some((sent_id, sent_at)) = self.ping
                    && sent_id == id
                {
                    self.ping = None;
                    self.rtt = Some(now.saturating_duration_since(sent_at));
                }
            }
            LinkFrame::Goodbye { ack } => {
                if self.acknowledged(ack) {
                    self.forget_connection();
                    self.down = Some(DownReason::Goodbye);
                    self.events.push_back(LinkEvent::Down {
                        reason: DownReason::Goodbye,
                    });
                }
            }
            LinkFrame::Error(body) => self.reset(ResetReason::PeerError(body), None),
        }
    }

    /// The peer's `Hello`: refuse it, resume the session, or start a new one (fencing the old).
    fn handshake(&mut self, now: Instant, hello: LinkHello) {
        if hello.node != self.peer {
            let reason = ResetReason::WrongNode {
                expected: self.peer.clone(),
                found: hello.node,
            };
            let body = ErrorBody::new(ErrorCode::PROTOCOL_VIOLATION, reason.to_string());
            self.reset(reason, Some(body));
            return;
        }
        if hello.max_frame_len != self.config.frame_limit() {
            let reason = ResetReason::FrameLimitMismatch {
                ours: self.config.frame_limit(),
                theirs: hello.max_frame_len,
            };
            let body = ErrorBody::new(ErrorCode::PROTOCOL_VIOLATION, reason.to_string());
            self.reset(reason, Some(body));
            return;
        }
        let same_peer = self.peer_incarnation == Some(hello.incarnation);
        let resumed = same_peer && hello.known == Some(self.incarnation);
        // The peer knows nothing of this node, and nothing was ever acknowledged or delivered
        // either way: its end of the session never got going (a connection cut before it read
        // this node's Hello). The messages waiting are still numbered from 1: carry on.
        let unstarted = same_peer
            && hello.known.is_none()
            && hello.delivered == Seq::ZERO
            && self.acked == Seq::ZERO
            && self.delivered == Seq::ZERO;
        if resumed {
            if hello.delivered > self.written || hello.delivered < self.acked {
                self.violation(format!(
                    "the hello says message {} was delivered, but {} were written and {} acknowledged",
                    hello.delivered, self.written, self.acked
                ));
                return;
            }
            self.acknowledged(hello.delivered);
        } else if !unstarted && let Some(old) = self.peer_incarnation {
            // A new session: whatever the old one had not settled is failed, never delivered.
            let unsent = self.resend.take_all();
            self.next_seq = Seq::new(1);
            self.acked = Seq::ZERO;
            self.written = Seq::ZERO;
            self.delivered = Seq::ZERO;
            self.unacked_deliveries = 0;
            self.ack_due = None;
            self.events.push_back(LinkEvent::PeerRestarted {
                old,
                new: hello.incarnation,
                unsent,
            });
        }
        self.peer_incarnation = Some(hello.incarnation);
        if let Some(connection) = &mut self.connection {
            connection.established = true;
        }
        if !self.closed {
            self.down = None;
        }
        self.heartbeat = Some(Heartbeat {
            next_tick: now + self.config.heartbeat_interval,
            wrote: false,
            ticks_since_ping: 0,
        });
        self.events.push_back(LinkEvent::Up {
            incarnation: hello.incarnation,
            resumed,
        });
        let pending: Vec<(Seq, Bytes)> = self.resend.iter().cloned().collect();
        for (seq, payload) in pending {
            if seq <= self.written {
                self.retransmissions += 1;
            }
            self.write_data(seq, payload);
        }
    }

    /// The peer acknowledges every message up to `ack`. False (and the connection reset) if it
    /// acknowledges one never written.
    fn acknowledged(&mut self, ack: Seq) -> bool {
        if ack > self.written {
            self.violation(format!(
                "an acknowledgement of message {ack}, but only {} were written",
                self.written
            ));
            return false;
        }
        if ack > self.acked {
            self.acked = ack;
            self.resend.acknowledge(ack);
        }
        true
    }

    /// Data frame `seq`: deliver it if it is the next, drop it if it is old, reset on a gap.
    fn receive(&mut self, now: Instant, seq: Seq, payload: Bytes) {
        let expected = self.delivered.next();
        if seq == expected {
            self.delivered = seq;
            self.events.push_back(LinkEvent::Delivered(payload));
            self.unacked_deliveries += 1;
            if self.unacked_deliveries >= self.config.ack_every {
                self.write(LinkFrame::Ack {
                    ack: self.delivered,
                });
            } else if self.ack_due.is_none() {
                self.ack_due = Some(now + self.config.ack_delay);
            }
        } else if seq < expected {
            self.duplicates += 1;
        } else {
            self.reset(
                ResetReason::Gap {
                    expected: expected.get(),
                    found: seq.get(),
                },
                None,
            );
        }
    }

    fn write_data(&mut self, seq: Seq, payload: Bytes) {
        self.written = self.written.max(seq);
        self.write(LinkFrame::Data {
            seq,
            ack: self.delivered,
            payload,
        });
    }

    /// Queues `frame`; every frame but `Hello` and `Error` carries the acknowledgement, so no
    /// standalone one is owed after it.
    fn write(&mut self, frame: LinkFrame) {
        if !matches!(frame, LinkFrame::Hello(_) | LinkFrame::Error(_)) {
            self.unacked_deliveries = 0;
            self.ack_due = None;
        }
        if let Some(heartbeat) = &mut self.heartbeat {
            heartbeat.wrote = true;
        }
        frame.encode(&mut self.transmit);
    }

    fn violation(&mut self, message: String) {
        let body = ErrorBody::new(ErrorCode::PROTOCOL_VIOLATION, message.clone());
        self.reset(ResetReason::Violation(message), Some(body));
    }

    /// Lets the current connection go and asks the driver to close it, after writing `farewell`
    /// if there is one.
    fn reset(&mut self, reason: ResetReason, farewell: Option<ErrorBody>) {
        let Some(connection) = self.connection() else {
            return;
        };
        self.forget_connection();
        if let Some(body) = farewell {
            LinkFrame::Error(body).encode(&mut self.transmit);
        }
        self.events
            .push_back(LinkEvent::Reset { connection, reason });
    }

    fn forget_connection(&mut self) {
        self.connection = None;
        self.heartbeat = None;
        self.ping = None;
        self.ack_due = None;
        self.transmit.clear();
    }
}

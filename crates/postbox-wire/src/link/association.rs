//! One association: the reliable, ordered, exactly-once channel between this node and one peer.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::heartbeat::Heartbeat;
use super::inbound::{Inbound, Receipt};
use super::link_config::later;
use super::outbound::Outbound;
use super::transmit::Transmit;
use super::{
    Admission, ConnectionId, DownReason, Incarnation, LinkConfig, LinkDecoder, LinkEvent,
    LinkFrame, LinkHello, LinkSendError, LinkState, LinkStats, NodeName, Origin, ResetReason, Seq,
};
use crate::{ErrorBody, ErrorCode};

/// The transport connection an association currently runs on.
#[derive(Debug)]
struct Connection {
    id: ConnectionId,
    origin: Origin,
    /// Set when the peer's `Hello` has arrived on it.
    heartbeat: Option<Heartbeat>,
    /// Bytes received and not yet a whole frame.
    input: BytesMut,
    /// When a valid frame last arrived on it (its start, before any).
    last_heard: Instant,
    /// Data frames go without a checksum: both sides' transports authenticate every byte (this
    /// side's configuration, the peer's `Hello`).
    unchecked: bool,
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
    outbound: Outbound,
    inbound: Inbound,
    connection: Option<Connection>,
    next_connection: u64,
    transmit: Transmit,
    rtt: Option<Duration>,
    last_heard: Instant,
    /// Why the peer is down, once reported (cleared by the next handshake, unless closed).
    down: Option<DownReason>,
    closed: bool,
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
            decoder: if config.authenticated_transport {
                LinkDecoder::new(config.frame_limit()).accepting_unchecked()
            } else {
                LinkDecoder::new(config.frame_limit())
            },
            config,
            local,
            incarnation,
            peer,
            peer_incarnation: None,
            outbound: Outbound::new(),
            inbound: Inbound::new(),
            connection: None,
            next_connection: 1,
            transmit: Transmit::new(),
            rtt: None,
            last_heard: now,
            down: None,
            closed: false,
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
        self.down.is_none() && self.established()
    }

    fn established(&self) -> bool {
        self.connection
            .as_ref()
            .is_some_and(|c| c.heartbeat.is_some())
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
        self.forget_connection();
        let id = ConnectionId(self.next_connection);
        self.next_connection += 1;
        self.connection = Some(Connection {
            id,
            origin,
            heartbeat: None,
            input: BytesMut::new(),
            last_heard: now,
            unchecked: false,
        });
        let hello = LinkHello {
            node: self.local.clone(),
            incarnation: self.incarnation,
            known: self.peer_incarnation,
            delivered: self.inbound.delivered(),
            max_frame_len: self.config.frame_limit(),
            unchecked: self.config.authenticated_transport,
        };
        LinkFrame::Hello(hello).encode(self.transmit.buffer());
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

    /// The bytes to write to the current connection, in order. Take what you write
    /// ([`Transmit::take`], or [`Transmit::split`]). After a [`LinkEvent::Reset`] they are the last bytes for the connection being
    /// closed (an `Error` telling the peer why, or nothing); after [`close`](Self::close), the
    /// `Goodbye`.
    pub fn transmit(&mut self) -> &mut Transmit {
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
        let seq = self.outbound.push(payload.clone(), &self.config)?;
        if self.is_up() {
            self.write_data(seq, payload);
        }
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
        if goodbye {
            self.write(LinkFrame::Goodbye {
                ack: self.inbound.delivered(),
            });
        }
        // What is in `transmit` (the Goodbye last) still goes out.
        let transmit = std::mem::take(&mut self.transmit);
        self.forget_connection();
        self.transmit = transmit;
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
            .then(|| later(self.last_heard, self.config.node_timeout));
        let connection = self
            .connection
            .as_ref()
            .map(|c| later(c.last_heard, self.config.connection_timeout));
        let heartbeat = self
            .connection
            .as_ref()
            .and_then(|c| c.heartbeat.as_ref())
            .map(Heartbeat::next_tick);
        [node, connection, heartbeat, self.inbound.ack_due()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Does what is due at `now`: the node timeout (`Down`), the connection timeout (`Reset`),
    /// a standalone `Ack`, a heartbeat `Ping`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.down.is_none()
            && !self.closed
            && now >= later(self.last_heard, self.config.node_timeout)
        {
            self.reset(ResetReason::Down, None);
            self.down = Some(DownReason::Timeout);
            self.events.push_back(LinkEvent::Down {
                reason: DownReason::Timeout,
            });
        }
        if let Some(connection) = &self.connection
            && now >= later(connection.last_heard, self.config.connection_timeout)
        {
            self.reset(ResetReason::Silent, None);
        }
        if self.inbound.ack_due().is_some_and(|due| now >= due) {
            self.write(LinkFrame::Ack {
                ack: self.inbound.delivered(),
            });
        }
        let interval = self.config.heartbeat_interval;
        if let Some(heartbeat) = self.heartbeat_mut()
            && let Some(id) = heartbeat.tick(now, interval)
        {
            self.write(LinkFrame::Ping {
                id,
                ack: self.inbound.delivered(),
            });
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
            unacked: self.outbound.unacked(),
            unacked_bytes: self.outbound.unacked_bytes(),
            retransmissions: self.outbound.retransmissions(),
            duplicates: self.inbound.duplicates(),
            delivered: self.inbound.delivered().get(),
            last_heard: self.last_heard,
        }
    }

    fn heartbeat_mut(&mut self) -> Option<&mut Heartbeat> {
        self.connection.as_mut()?.heartbeat.as_mut()
    }

    fn handle_frame(&mut self, now: Instant, frame: LinkFrame) {
        if !self.established() {
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
                        ack: self.inbound.delivered(),
                    });
                }
            }
            LinkFrame::Pong { id, ack } => {
                if self.acknowledged(ack)
                    && let Some(rtt) = self.heartbeat_mut().and_then(|h| h.pong(id, now))
                {
                    self.rtt = Some(rtt);
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
            && !self.outbound.any_acknowledged()
            && self.inbound.delivered() == Seq::ZERO;
        if resumed {
            if let Err(message) = self.outbound.resume(hello.delivered) {
                self.violation(message);
                return;
            }
        } else if !unstarted && let Some(old) = self.peer_incarnation {
            // A new session: whatever the old one had not settled is failed, never delivered.
            let unsent = self.outbound.fence();
            self.inbound.restart();
            self.events.push_back(LinkEvent::PeerRestarted {
                old,
                new: hello.incarnation,
                unsent,
            });
        }
        self.peer_incarnation = Some(hello.incarnation);
        if let Some(connection) = &mut self.connection {
            connection.heartbeat = Some(Heartbeat::new(now, self.config.heartbeat_interval));
            connection.unchecked = self.config.authenticated_transport && hello.unchecked;
        }
        if !self.closed {
            self.down = None;
        }
        self.events.push_back(LinkEvent::Up {
            incarnation: hello.incarnation,
            resumed,
        });
        for (seq, payload) in self.outbound.resend_all() {
            self.write_data(seq, payload);
        }
    }

    /// The peer acknowledges every message up to `ack`. False (and the connection reset) if it
    /// acknowledges one never written.
    fn acknowledged(&mut self, ack: Seq) -> bool {
        match self.outbound.acknowledge(ack) {
            Ok(()) => true,
            Err(message) => {
                self.violation(message);
                false
            }
        }
    }

    /// Data frame `seq`: deliver it if it is the next, drop it if it is old, reset on a gap.
    fn receive(&mut self, now: Instant, seq: Seq, payload: Bytes) {
        match self.inbound.receive(seq, now, &self.config) {
            Receipt::Deliver => {
                self.events.push_back(LinkEvent::Delivered(payload));
                if self.inbound.ack_urgent(&self.config) {
                    self.write(LinkFrame::Ack {
                        ack: self.inbound.delivered(),
                    });
                }
            }
            Receipt::Duplicate => {}
            Receipt::Gap { expected } => self.reset(
                ResetReason::Gap {
                    expected: expected.get(),
                    found: seq.get(),
                },
                None,
            ),
        }
    }

    fn write_data(&mut self, seq: Seq, payload: Bytes) {
        self.outbound.wrote(seq);
        self.write(LinkFrame::Data {
            seq,
            ack: self.inbound.delivered(),
            payload,
        });
    }

    /// Queues `frame`; every frame but `Hello` and `Error` carries the acknowledgement, so no
    /// standalone one is owed after it. The heartbeat's own frames (`Ping`, `Pong`) do not make
    /// an interval busy: were they to, each `Ping` would suppress the next and an idle
    /// connection would ping every other interval.
    fn write(&mut self, frame: LinkFrame) {
        if !matches!(frame, LinkFrame::Hello(_) | LinkFrame::Error(_)) {
            self.inbound.acknowledged();
        }
        if !matches!(frame, LinkFrame::Ping { .. } | LinkFrame::Pong { .. })
            && let Some(heartbeat) = self.heartbeat_mut()
        {
            heartbeat.wrote();
        }
        let unchecked = self.connection.as_ref().is_some_and(|c| c.unchecked);
        frame.encode_onto(&mut self.transmit, !unchecked);
    }

    fn violation(&mut self, message: String) {
        let body = ErrorBody::new(ErrorCode::PROTOCOL_VIOLATION, message.clone());
        self.reset(ResetReason::Violation(message), Some(body));
    }

    /// Lets the current connection go and asks the driver to close it, after writing `farewell`
    /// if there is one. Does nothing without a connection.
    fn reset(&mut self, reason: ResetReason, farewell: Option<ErrorBody>) {
        let Some(connection) = self.connection() else {
            return;
        };
        self.forget_connection();
        if let Some(body) = farewell {
            LinkFrame::Error(body).encode(self.transmit.buffer());
        }
        self.events
            .push_back(LinkEvent::Reset { connection, reason });
    }

    /// Drops the connection, what was queued for it, and the acknowledgement timer (the next
    /// `Hello` carries the acknowledgement).
    fn forget_connection(&mut self) {
        self.connection = None;
        self.inbound.acknowledged();
        self.transmit.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::{LinkDecodeError, LinkFrameKind, Origin};

    const A: u64 = 0xa;
    const B: u64 = 0xb;

    fn name(raw: &str) -> NodeName {
        NodeName::new(raw).unwrap()
    }

    fn association(local: &str, incarnation: u64, peer: &str, now: Instant) -> Association {
        let incarnation = Incarnation::new(incarnation).unwrap();
        Association::new(LinkConfig::new(), name(local), incarnation, name(peer), now)
    }

    fn up(association: &mut Association, now: Instant, origin: Origin) -> ConnectionId {
        match association.connection_up(now, origin) {
            Admission::Use(id) => id,
            Admission::Refuse => panic!("refused"),
        }
    }

    /// Two associations on one connection, and the ids each gave it.
    struct Pair {
        now: Instant,
        a: Association,
        b: Association,
        at_a: ConnectionId,
        at_b: ConnectionId,
    }

    impl Pair {
        fn connected() -> Pair {
            let mut pair = Pair::new(association("a", A, "b", Instant::now()));
            pair.pump();
            pair
        }

        fn new(mut a: Association) -> Pair {
            let now = Instant::now();
            let mut b = association("b", B, "a", now);
            let at_a = up(&mut a, now, Origin::Dialed);
            let at_b = up(&mut b, now, Origin::Accepted);
            Pair {
                now,
                a,
                b,
                at_a,
                at_b,
            }
        }

        /// Moves bytes both ways until neither side has any to write.
        fn pump(&mut self) {
            for _ in 0..16 {
                let mut to_b = self.a.transmit().split();
                let mut to_a = self.b.transmit().split();
                if to_a.is_empty() && to_b.is_empty() {
                    return;
                }
                self.b.handle_input(self.now, self.at_b, &mut to_b);
                self.a.handle_input(self.now, self.at_a, &mut to_a);
            }
            panic!("the two sides keep talking");
        }

        fn events(association: &mut Association) -> Vec<LinkEvent> {
            std::iter::from_fn(|| association.poll_event()).collect()
        }
    }

    /// Decodes every frame in `bytes`.
    fn frames(bytes: &[u8]) -> Vec<LinkFrame> {
        let mut bytes = BytesMut::from(bytes);
        let decoder = LinkDecoder::new(LinkConfig::new().frame_limit());
        std::iter::from_fn(|| decoder.decode(&mut bytes).unwrap()).collect()
    }

    fn encoded(frame: LinkFrame) -> BytesMut {
        let mut bytes = BytesMut::new();
        frame.encode(&mut bytes);
        bytes
    }

    /// The bytes of a `Hello` from `node` (incarnation `incarnation`, knowing `known`).
    fn hello(node: &str, incarnation: u64, known: u64, max_frame_len: u32) -> BytesMut {
        encoded(LinkFrame::Hello(LinkHello {
            node: name(node),
            incarnation: Incarnation::new(incarnation).unwrap(),
            known: Incarnation::new(known),
            delivered: Seq::ZERO,
            max_frame_len,
            unchecked: false,
        }))
    }

    fn only_reset(events: Vec<LinkEvent>) -> ResetReason {
        match events.as_slice() {
            [LinkEvent::Reset { reason, .. }] => reason.clone(),
            other => panic!("expected one reset, got {other:?}"),
        }
    }

    #[test]
    fn a_handshake_brings_both_sides_up_and_delivers_what_waited() {
        let mut a = association("a", A, "b", Instant::now());
        a.send(Bytes::from_static(b"early")).unwrap();
        let mut pair = Pair::new(a);
        assert_eq!(pair.a.stats().state, LinkState::Connecting);
        pair.pump();
        let up_b = Incarnation::new(B).unwrap();
        assert_eq!(
            Pair::events(&mut pair.a),
            [LinkEvent::Up {
                incarnation: up_b,
                resumed: false
            }]
        );
        assert_eq!(
            Pair::events(&mut pair.b)[1..],
            [LinkEvent::Delivered(Bytes::from_static(b"early"))]
        );
        assert_eq!(pair.a.stats().state, LinkState::Up);
        assert_eq!(pair.a.stats().peer_incarnation, Some(up_b));
        assert_eq!(pair.a.stats().retransmissions, 0);
    }

    #[test]
    fn a_hello_from_another_node_is_refused_and_told_why() {
        let now = Instant::now();
        let mut a = association("a", A, "b", now);
        let id = up(&mut a, now, Origin::Dialed);
        a.transmit().clear();
        let mut hello = hello("c", 3, 0, LinkConfig::new().frame_limit());
        a.handle_input(now, id, &mut hello);
        assert_eq!(
            only_reset(Pair::events(&mut a)),
            ResetReason::WrongNode {
                expected: name("b"),
                found: name("c")
            }
        );
        let told = frames(&a.transmit().joined());
        assert!(
            matches!(&told[..], [LinkFrame::Error(body)] if body.message().contains("expected node b"))
        );
        assert_eq!(a.connection(), None);
        assert_eq!(a.stats().peer_incarnation, None);
    }

    #[test]
    fn only_the_hello_goes_out_before_the_peers_hello_even_with_messages_waiting() {
        let now = Instant::now();
        let mut a = association("a", A, "b", now);
        a.send(Bytes::from_static(b"waiting")).unwrap();
        up(&mut a, now, Origin::Dialed);
        let written = frames(&a.transmit().split());
        assert!(
            matches!(&written[..], [LinkFrame::Hello(hello)] if hello.node == name("a")),
            "{written:?}"
        );
        a.handle_timeout(now + Duration::from_millis(100));
        let more = frames(&a.transmit().joined());
        assert!(
            more.is_empty(),
            "nothing more until the peer's hello: {more:?}"
        );
    }

    #[test]
    fn a_connection_whose_peer_never_says_hello_is_reset_as_silent() {
        let now = Instant::now();
        let mut a = association("a", A, "b", now);
        let id = up(&mut a, now, Origin::Dialed);
        let timeout = LinkConfig::new().connection_timeout;
        a.handle_timeout(now + timeout - Duration::from_millis(1));
        assert_eq!(
            a.connection(),
            Some(id),
            "still within the connection timeout"
        );
        a.handle_timeout(now + timeout);
        assert_eq!(only_reset(Pair::events(&mut a)), ResetReason::Silent);
        assert_eq!(a.connection(), None);
    }

    #[test]
    fn an_error_from_the_peer_resets_the_connection_before_and_after_the_hello() {
        let told = || {
            encoded(LinkFrame::Error(ErrorBody::new(
                ErrorCode::PROTOCOL_VIOLATION,
                "you broke it",
            )))
        };
        let now = Instant::now();
        let mut a = association("a", A, "b", now);
        let id = up(&mut a, now, Origin::Dialed);
        a.handle_input(now, id, &mut told());
        assert!(matches!(
            only_reset(Pair::events(&mut a)),
            ResetReason::PeerError(body) if body.message() == "you broke it"
        ));

        let mut pair = Pair::connected();
        Pair::events(&mut pair.a);
        pair.a.handle_input(pair.now, pair.at_a, &mut told());
        assert!(matches!(
            only_reset(Pair::events(&mut pair.a)),
            ResetReason::PeerError(body) if body.code() == ErrorCode::PROTOCOL_VIOLATION
        ));
        assert_eq!(pair.a.connection(), None);
    }

    #[test]
    fn a_resuming_hello_claiming_more_than_was_written_is_a_violation() {
        let mut pair = Pair::connected();
        Pair::events(&mut pair.a);
        pair.a.send(Bytes::from_static(b"one")).unwrap();
        pair.pump();
        // The connection breaks; b comes back in the same session claiming message 5, of which
        // a wrote only 1.
        pair.a.connection_lost(pair.now, pair.at_a);
        Pair::events(&mut pair.a);
        let id = up(&mut pair.a, pair.now, Origin::Dialed);
        pair.a.transmit().clear();
        let mut claim = encoded(LinkFrame::Hello(LinkHello {
            node: name("b"),
            incarnation: Incarnation::new(B).unwrap(),
            known: Incarnation::new(A),
            delivered: Seq::new(5),
            max_frame_len: LinkConfig::new().frame_limit(),
            unchecked: false,
        }));
        pair.a.handle_input(pair.now, id, &mut claim);
        assert!(matches!(
            only_reset(Pair::events(&mut pair.a)),
            ResetReason::Violation(_)
        ));
        let told = frames(&pair.a.transmit().joined());
        assert!(
            matches!(&told[..], [LinkFrame::Error(body)] if body.code() == ErrorCode::PROTOCOL_VIOLATION),
            "{told:?}"
        );
    }

    #[test]
    fn a_hello_with_another_frame_limit_is_refused() {
        let now = Instant::now();
        let mut a = association("a", A, "b", now);
        let id = up(&mut a, now, Origin::Dialed);
        a.handle_input(now, id, &mut hello("b", B, 0, 8192));
        assert_eq!(
            only_reset(Pair::events(&mut a)),
            ResetReason::FrameLimitMismatch {
                ours: LinkConfig::new().frame_limit(),
                theirs: 8192
            }
        );
    }

    #[test]
    fn frames_out_of_turn_are_violations() {
        let now = Instant::now();
        let mut a = association("a", A, "b", now);
        let id = up(&mut a, now, Origin::Dialed);
        let mut data = encoded(LinkFrame::Data {
            seq: Seq::new(1),
            ack: Seq::ZERO,
            payload: Bytes::from_static(b"x"),
        });
        a.transmit().clear();
        a.handle_input(now, id, &mut data);
        assert!(matches!(
            only_reset(Pair::events(&mut a)),
            ResetReason::Violation(message) if message.contains("before the hello")
        ));
        let told = frames(&a.transmit().joined());
        assert!(
            matches!(&told[..], [LinkFrame::Error(body)] if body.code() == ErrorCode::PROTOCOL_VIOLATION),
            "{told:?}"
        );

        let mut pair = Pair::connected();
        Pair::events(&mut pair.a);
        let mut again = hello("b", B, A, LinkConfig::new().frame_limit());
        pair.a.handle_input(pair.now, pair.at_a, &mut again);
        assert!(matches!(
            only_reset(Pair::events(&mut pair.a)),
            ResetReason::Violation(message) if message.contains("second hello")
        ));
    }

    #[test]
    fn an_ack_of_a_message_never_written_is_a_violation() {
        let mut pair = Pair::connected();
        Pair::events(&mut pair.a);
        let mut ack = encoded(LinkFrame::Ack { ack: Seq::new(1) });
        pair.a.handle_input(pair.now, pair.at_a, &mut ack);
        assert!(matches!(
            only_reset(Pair::events(&mut pair.a)),
            ResetReason::Violation(message) if message.contains("acknowledgement of message 1")
        ));
    }

    #[test]
    fn a_skipped_sequence_number_resets_the_connection_and_delivers_nothing() {
        let mut pair = Pair::connected();
        Pair::events(&mut pair.b);
        let mut gap = encoded(LinkFrame::Data {
            seq: Seq::new(2),
            ack: Seq::ZERO,
            payload: Bytes::from_static(b"two"),
        });
        pair.b.handle_input(pair.now, pair.at_b, &mut gap);
        assert_eq!(
            only_reset(Pair::events(&mut pair.b)),
            ResetReason::Gap {
                expected: 1,
                found: 2
            }
        );
    }

    #[test]
    fn a_corrupted_frame_resets_the_connection_and_is_never_delivered() {
        let mut pair = Pair::connected();
        Pair::events(&mut pair.b);
        pair.a.send(Bytes::from_static(b"payload")).unwrap();
        let mut wire = pair.a.transmit().split();
        let last = wire.len() - 1;
        wire[last] ^= 0x10;
        pair.b.handle_input(pair.now, pair.at_b, &mut wire);
        assert!(matches!(
            only_reset(Pair::events(&mut pair.b)),
            ResetReason::Corrupt(LinkDecodeError::BadChecksum { .. })
        ));
        assert_eq!(pair.b.stats().delivered, 0);
    }

    #[test]
    fn a_duplicate_is_dropped_and_counted() {
        let mut pair = Pair::connected();
        Pair::events(&mut pair.b);
        pair.a.send(Bytes::from_static(b"once")).unwrap();
        let wire = pair.a.transmit().split();
        for _ in 0..3 {
            pair.b.handle_input(pair.now, pair.at_b, &mut wire.clone());
        }
        assert_eq!(
            Pair::events(&mut pair.b),
            [LinkEvent::Delivered(Bytes::from_static(b"once"))]
        );
        assert_eq!(pair.b.stats().duplicates, 2);
        assert_eq!(pair.b.stats().delivered, 1);
    }

    #[test]
    fn acknowledgements_ride_on_data_or_go_alone_after_the_delay_or_the_count() {
        let mut pair = Pair::connected();
        pair.a.send(Bytes::from_static(b"1")).unwrap();
        pair.pump();
        assert_eq!(pair.a.stats().unacked, 1, "no acknowledgement yet");
        let due = pair.b.poll_timeout().unwrap();
        assert_eq!(due, pair.now + LinkConfig::new().ack_delay);
        pair.b.handle_timeout(due);
        assert!(
            matches!(frames(&pair.b.transmit().joined())[..], [LinkFrame::Ack { ack }] if ack == Seq::new(1))
        );
        pair.pump();
        assert_eq!(pair.a.stats().unacked, 0);

        // Data going the other way carries the acknowledgement: no Ack is owed after it.
        pair.a.send(Bytes::from_static(b"2")).unwrap();
        pair.pump();
        pair.b.send(Bytes::from_static(b"reply")).unwrap();
        assert!(
            matches!(frames(&pair.b.transmit().joined())[..], [LinkFrame::Data { ack, .. }] if ack == Seq::new(2))
        );
        assert_ne!(
            pair.b.poll_timeout(),
            Some(pair.now + LinkConfig::new().ack_delay)
        );
        pair.pump();
        assert_eq!(pair.a.stats().unacked, 0);

        // Thirty-two deliveries send an Ack at once.
        for _ in 0..LinkConfig::new().ack_every {
            pair.a.send(Bytes::from_static(b"n")).unwrap();
        }
        let mut wire = pair.a.transmit().split();
        pair.b.handle_input(pair.now, pair.at_b, &mut wire);
        assert!(
            matches!(frames(&pair.b.transmit().joined())[..], [.., LinkFrame::Ack { ack }] if ack == Seq::new(34))
        );
    }

    #[test]
    fn an_idle_connection_pings_and_the_pong_measures_the_round_trip() {
        let mut pair = Pair::connected();
        let interval = LinkConfig::new().heartbeat_interval;
        let tick = pair.now + interval;
        assert_eq!(pair.a.poll_timeout(), Some(tick));
        pair.a.handle_timeout(tick);
        assert!(matches!(
            frames(&pair.a.transmit().joined())[..],
            [LinkFrame::Ping { .. }]
        ));
        let mut ping = pair.a.transmit().split();
        pair.b.handle_input(tick, pair.at_b, &mut ping);
        let mut pong = pair.b.transmit().split();
        assert!(matches!(frames(&pong)[..], [LinkFrame::Pong { .. }]));
        let later = tick + Duration::from_millis(7);
        pair.a.handle_input(later, pair.at_a, &mut pong);
        assert_eq!(pair.a.stats().rtt, Some(Duration::from_millis(7)));
        assert_eq!(pair.a.stats().last_heard, later);
    }

    #[test]
    fn an_idle_association_pings_every_heartbeat_interval() {
        let mut pair = Pair::connected();
        let interval = LinkConfig::new().heartbeat_interval;
        let start = pair.now;
        let pings = |bytes: &[u8]| {
            frames(bytes)
                .iter()
                .filter(|frame| matches!(frame, LinkFrame::Ping { .. }))
                .count()
        };
        let mut written = Vec::new();
        for n in 1..=8u32 {
            let tick = start + interval * n;
            assert_eq!(pair.a.poll_timeout(), Some(tick), "interval {n}");
            pair.now = tick;
            pair.a.handle_timeout(tick);
            pair.b.handle_timeout(tick);
            let mut to_b = pair.a.transmit().split();
            let mut to_a = pair.b.transmit().split();
            written.push((pings(&to_b), pings(&to_a)));
            // Each side answers the other's Ping; the Pongs must not make the next interval busy.
            pair.b.handle_input(tick, pair.at_b, &mut to_b);
            pair.a.handle_input(tick, pair.at_a, &mut to_a);
            pair.pump();
        }
        assert_eq!(
            written,
            [(1, 1); 8],
            "(pings by a, pings by b) per interval"
        );
        assert_eq!(pair.a.stats().state, LinkState::Up);
    }

    #[test]
    fn data_makes_an_interval_busy_and_suppresses_its_ping() {
        let mut pair = Pair::connected();
        let tick = pair.now + LinkConfig::new().heartbeat_interval;
        pair.a.send(Bytes::from_static(b"traffic")).unwrap();
        pair.pump();
        pair.now = tick;
        pair.a.handle_timeout(tick);
        assert!(
            !frames(&pair.a.transmit().joined())
                .iter()
                .any(|frame| matches!(frame, LinkFrame::Ping { .. })),
            "the interval carried data"
        );
    }

    #[test]
    fn input_and_loss_of_a_forgotten_connection_are_ignored() {
        let mut pair = Pair::connected();
        let old = pair.at_b;
        pair.a
            .send(Bytes::from_static(b"for the old connection"))
            .unwrap();
        let mut stale = pair.a.transmit().split();
        let new = up(&mut pair.b, pair.now, Origin::Accepted);
        Pair::events(&mut pair.b);
        pair.b.handle_input(pair.now, old, &mut stale);
        assert!(stale.is_empty());
        assert_eq!(Pair::events(&mut pair.b), []);
        pair.b.connection_lost(pair.now, old);
        assert_eq!(pair.b.connection(), Some(new));
    }

    #[test]
    fn when_both_dial_at_once_both_keep_the_connection_the_lower_name_dialled() {
        let now = Instant::now();
        let mut a = association("a", A, "b", now);
        let mut b = association("b", B, "a", now);
        assert_eq!(
            (a.preferred_origin(), b.preferred_origin()),
            (Origin::Dialed, Origin::Accepted)
        );
        // In either order of arrival, a keeps what it dialled and b what it accepted.
        let dialled = up(&mut a, now, Origin::Dialed);
        assert_eq!(a.connection_up(now, Origin::Accepted), Admission::Refuse);
        assert_eq!(a.connection(), Some(dialled));
        let _ = up(&mut b, now, Origin::Dialed);
        let accepted = up(&mut b, now, Origin::Accepted);
        assert_eq!(b.connection(), Some(accepted));
        assert_eq!(b.connection_up(now, Origin::Dialed), Admission::Refuse);
        // A newer connection of the preferred origin replaces the current one.
        let again = up(&mut a, now, Origin::Dialed);
        assert_ne!(again, dialled);
    }

    #[test]
    fn a_peer_never_heard_from_is_down_once_after_the_node_timeout() {
        let now = Instant::now();
        let mut a = association("a", A, "b", now);
        let deadline = now + LinkConfig::new().node_timeout;
        assert_eq!(a.poll_timeout(), Some(deadline));
        a.handle_timeout(deadline - Duration::from_millis(1));
        assert_eq!(Pair::events(&mut a), []);
        a.handle_timeout(deadline);
        assert_eq!(
            Pair::events(&mut a),
            [LinkEvent::Down {
                reason: DownReason::Timeout
            }]
        );
        a.handle_timeout(deadline + Duration::from_secs(60));
        assert_eq!(Pair::events(&mut a), []);
        assert_eq!(a.poll_timeout(), None);
        assert_eq!(a.stats().state, LinkState::Down);
    }

    #[test]
    fn a_peer_that_lost_its_state_is_fenced_even_with_the_same_incarnation() {
        let mut pair = Pair::connected();
        pair.a.send(Bytes::from_static(b"acknowledged")).unwrap();
        pair.pump();
        pair.b.handle_timeout(pair.now + Duration::from_secs(1));
        pair.pump();
        pair.a.send(Bytes::from_static(b"in flight")).unwrap();
        Pair::events(&mut pair.a);
        // b's driver drops its association and makes a new one, same incarnation.
        let b = association("b", B, "a", pair.now);
        pair.b = b;
        pair.at_a = up(&mut pair.a, pair.now, Origin::Dialed);
        pair.at_b = up(&mut pair.b, pair.now, Origin::Accepted);
        pair.pump();
        let same = Incarnation::new(B).unwrap();
        assert_eq!(
            Pair::events(&mut pair.a),
            [
                LinkEvent::PeerRestarted {
                    old: same,
                    new: same,
                    unsent: vec![Bytes::from_static(b"in flight")]
                },
                LinkEvent::Up {
                    incarnation: same,
                    resumed: false
                }
            ]
        );
        assert_eq!(pair.a.send(Bytes::from_static(b"new")), Ok(Seq::new(1)));
    }

    #[test]
    fn a_cut_before_the_peer_read_the_hello_does_not_fence() {
        let now = Instant::now();
        let mut a = association("a", A, "b", now);
        let mut b = association("b", B, "a", now);
        a.send(Bytes::from_static(b"m")).unwrap();
        let at_a = up(&mut a, now, Origin::Dialed);
        let _ = up(&mut b, now, Origin::Accepted);
        // Only b's Hello arrives; a is up and writes its message, which is lost with the cut.
        let mut hello = b.transmit().split();
        a.handle_input(now, at_a, &mut hello);
        let mut pair = Pair::new(a);
        pair.b = b;
        pair.at_b = up(&mut pair.b, now, Origin::Accepted);
        pair.pump();
        let a_events = Pair::events(&mut pair.a);
        assert!(
            !a_events
                .iter()
                .any(|e| matches!(e, LinkEvent::PeerRestarted { .. }))
        );
        assert_eq!(
            Pair::events(&mut pair.b).last(),
            Some(&LinkEvent::Delivered(Bytes::from_static(b"m")))
        );
        assert_eq!(pair.a.stats().retransmissions, 1);
    }

    #[test]
    fn close_writes_goodbye_after_pending_data_and_refuses_everything_after() {
        let mut pair = Pair::connected();
        pair.a.send(Bytes::from_static(b"last")).unwrap();
        pair.a.close(pair.now);
        let kinds: Vec<_> = frames(&pair.a.transmit().joined())
            .iter()
            .map(LinkFrame::kind)
            .collect();
        assert_eq!(kinds, [LinkFrameKind::Data, LinkFrameKind::Goodbye]);
        assert_eq!(pair.a.connection(), None);
        assert_eq!(
            pair.a.connection_up(pair.now, Origin::Dialed),
            Admission::Refuse
        );
        assert_eq!(pair.a.poll_timeout(), None);
        assert_eq!(pair.a.stats().state, LinkState::Down);
    }

    /// The header flags of the data frames in `bytes`, and whether each one's checksum is 0.
    fn data_flags(mut bytes: &[u8]) -> Vec<(u16, bool)> {
        let mut found = Vec::new();
        while let Some((header, rest)) = bytes.split_first_chunk::<{ crate::header::HEADER_LEN }>()
        {
            let header = crate::header::Header::from_bytes(header);
            if header.kind == LinkFrameKind::Data.as_u8() {
                found.push((header.flags, header.checksum == 0));
            }
            bytes = &rest[usize::try_from(header.payload_len).unwrap()..];
        }
        found
    }

    /// Sends `message` from an association configured `a_tls` to one configured `b_tls`,
    /// returning the data frames' flags as written and what b delivered.
    fn send_across(
        a_tls: bool,
        b_tls: bool,
        message: &'static [u8],
    ) -> (Vec<(u16, bool)>, Vec<LinkEvent>) {
        let now = Instant::now();
        let config = |tls| LinkConfig {
            authenticated_transport: tls,
            ..LinkConfig::new()
        };
        let mut a = Association::new(
            config(a_tls),
            name("a"),
            Incarnation::new(A).unwrap(),
            name("b"),
            now,
        );
        let mut b = Association::new(
            config(b_tls),
            name("b"),
            Incarnation::new(B).unwrap(),
            name("a"),
            now,
        );
        let at_a = up(&mut a, now, Origin::Dialed);
        let at_b = up(&mut b, now, Origin::Accepted);
        let mut to_a = b.transmit().split();
        a.handle_input(now, at_a, &mut to_a);
        let mut to_b = a.transmit().split();
        b.handle_input(now, at_b, &mut to_b);
        a.send(Bytes::from_static(message)).unwrap();
        let mut to_b = a.transmit().split();
        let flags = data_flags(&to_b);
        b.handle_input(now, at_b, &mut to_b);
        (flags, Pair::events(&mut b))
    }

    #[test]
    fn data_goes_without_a_checksum_only_when_both_transports_authenticate() {
        // A small message is copied after its header, a large one queued as it is: both ways,
        // checksummed or not, the peer gets the same bytes.
        static LARGE: [u8; 4096] = [7; 4096];
        for message in [&b"tls"[..], &LARGE[..]] {
            let delivered = |events: &[LinkEvent]| {
                events.contains(&LinkEvent::Delivered(Bytes::from_static(message)))
            };
            let (flags, events) = send_across(true, true, message);
            assert_eq!(flags, [(crate::link::FLAG_UNCHECKED, true)]);
            assert!(delivered(&events), "{events:?}");
            for (a_tls, b_tls) in [(true, false), (false, true), (false, false)] {
                let (flags, events) = send_across(a_tls, b_tls, message);
                assert_eq!(flags.len(), 1);
                assert_eq!(flags[0].0, 0, "a={a_tls} b={b_tls}: checksummed");
                assert!(delivered(&events), "a={a_tls} b={b_tls}: {events:?}");
            }
        }
    }

    #[test]
    fn an_unchecked_frame_to_a_node_that_did_not_ask_for_it_resets_the_connection() {
        let now = Instant::now();
        let mut b = association("b", B, "a", now);
        let at_b = up(&mut b, now, Origin::Accepted);
        let mut hello = hello("a", A, 0, LinkConfig::new().frame_limit());
        b.handle_input(now, at_b, &mut hello);
        Pair::events(&mut b);
        let mut data = BytesMut::new();
        LinkFrame::Data {
            seq: Seq::new(1),
            ack: Seq::ZERO,
            payload: Bytes::from_static(b"x"),
        }
        .encode_as(&mut data, false);
        b.handle_input(now, at_b, &mut data);
        assert!(matches!(
            only_reset(Pair::events(&mut b)),
            ResetReason::Corrupt(LinkDecodeError::UnknownFlags { .. })
        ));
    }
}

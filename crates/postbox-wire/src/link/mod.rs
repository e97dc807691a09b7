//! Node links: the association between two postbox nodes, sans-IO.
//!
//! Daemons on different machines form one message space. Each pair of nodes has one
//! [`Association`]: a reliable, ordered, exactly-once channel of opaque messages that outlives
//! the transport connections under it — dropped, reset, corrupted — and tells a restarted peer
//! from a reconnected one. Like the client [`session`](crate::session)s it owns every rule and
//! does no I/O: the daemon's driver reports connections, feeds bytes and time in, and writes out
//! what [`Association::transmit`] holds. `docs/protocol.md` ("Node links") specifies every byte.
//!
//! **Identity.** A node has a [`NodeName`] (configured) and an [`Incarnation`] (new at every
//! start). A session is the pair of the two incarnations.
//!
//! **Handshake.** On every new connection each side sends a `Hello` at once: its name, its
//! incarnation, the peer's incarnation as it last knew it, and the last message it delivered
//! from the peer. On the peer's `Hello`:
//! - another node's name, or another frame limit: refused, the connection is reset;
//! - both sides know each other's current incarnation: the session **resumes**: everything the
//!   peer says it delivered leaves the resend buffer, and the rest is written again, in order;
//! - otherwise a new session starts. If there was an old one it is **fenced**:
//!   [`LinkEvent::PeerRestarted`] hands back every unacknowledged message (the driver fails
//!   them `Disconnected`), and sequence numbers restart from 1 both ways. Nothing of the old
//!   session is delivered after the fence: its connections are forgotten, and bytes reported
//!   for a forgotten [`ConnectionId`] are dropped unread.
//!
//! **Data.** [`Association::send`] numbers each message; the receiver delivers message `n` only
//! after `n - 1` ([`LinkEvent::Delivered`]), drops one it already delivered (counted), and
//! treats a skipped number — impossible on a stream without loss — as a corrupt connection:
//! [`LinkEvent::Reset`], after which the driver reconnects and the session resumes. So does a
//! frame failing its checksum or its decoding: it is never delivered. Acknowledgements are
//! cumulative, ride on every frame, and go out alone after [`LinkConfig::ack_delay`] or
//! [`LinkConfig::ack_every`] messages. The resend buffer is bounded in messages and bytes: when
//! full, `send` hands the message back ([`LinkSendError::Full`]).
//!
//! **Liveness.** A `Ping` goes out each heartbeat interval the connection was otherwise idle
//! (and at least every four), and its `Pong` measures the round trip. Any valid frame counts as
//! hearing from the peer. A connection silent for [`LinkConfig::connection_timeout`] is reset; a
//! peer silent for [`LinkConfig::node_timeout`] is reported [`LinkEvent::Down`] once, after
//! which `send` refuses until a handshake brings it up. Down drops nothing: if the same
//! incarnation comes back (a partition healed) the session resumes and every unacknowledged
//! message is delivered exactly once; if a new incarnation comes back, the fence hands them back.
//! A driver giving up on a peer for good drops the association.
//!
//! **Goodbye.** [`Association::close`] writes a `Goodbye`; the peer reports
//! `Down { reason: Goodbye }` after every message that preceded it.
//!
//! **Two connections at once.** Either node may dial. If both do at once, each keeps the
//! connection dialled by the node whose name sorts lower ([`Association::connection_up`]).
//!
//! ```
//! use std::time::Instant;
//! use bytes::{Bytes, BytesMut};
//! use postbox_wire::link::*;
//!
//! let now = Instant::now();
//! let name = |n: &str| NodeName::new(n).unwrap();
//! let incarnation = |n| Incarnation::new(n).unwrap();
//! let mut a = Association::new(LinkConfig::new(), name("a"), incarnation(1), name("b"), now);
//! let mut b = Association::new(LinkConfig::new(), name("b"), incarnation(2), name("a"), now);
//!
//! // A message sent before any connection waits for the handshake.
//! assert_eq!(a.send(Bytes::from("hello b")), Ok(Seq::new(1)));
//!
//! // One connection: a dialled it, b accepted it. Both say Hello.
//! let Admission::Use(at_a) = a.connection_up(now, Origin::Dialed) else { panic!() };
//! let Admission::Use(at_b) = b.connection_up(now, Origin::Accepted) else { panic!() };
//! let mut wire = BytesMut::new();
//! wire.extend_from_slice(&a.transmit().split());
//! b.handle_input(now, at_b, &mut wire);
//! wire.extend_from_slice(&b.transmit().split());
//! a.handle_input(now, at_a, &mut wire);
//! assert!(matches!(a.poll_event(), Some(LinkEvent::Up { resumed: false, .. })));
//!
//! // a's Hello answer carries the waiting message.
//! wire.extend_from_slice(&a.transmit().split());
//! b.handle_input(now, at_b, &mut wire);
//! assert!(matches!(b.poll_event(), Some(LinkEvent::Up { .. })));
//! assert_eq!(b.poll_event(), Some(LinkEvent::Delivered(Bytes::from("hello b"))));
//! assert_eq!(b.stats().state, LinkState::Up);
//! ```

mod association;
mod heartbeat;
mod inbound;
mod link_config;
mod link_decoder;
mod link_event;
mod link_frame;
mod link_stats;
mod node_name;
mod outbound;
mod resend_buffer;
mod transmit;

pub use association::Association;
pub use link_config::LinkConfig;
pub use link_decoder::{LinkDecodeError, LinkDecoder};
pub use link_event::{
    Admission, ConnectionId, DownReason, LinkEvent, LinkSendError, Origin, ResetReason,
};
pub use link_frame::{
    DATA_OVERHEAD, FLAG_UNCHECKED, LINK_MAGIC, LINK_VERSION, LinkFrame, LinkFrameKind, LinkHello,
    Seq,
};
pub use link_stats::{LinkState, LinkStats};
pub use node_name::{Incarnation, InvalidNodeName, MAX_NODE_NAME_LEN, NodeName};
pub use transmit::Transmit;

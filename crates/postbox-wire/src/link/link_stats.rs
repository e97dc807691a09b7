//! What `postbox nodes` shows about one association.

use std::time::{Duration, Instant};

use super::Incarnation;

/// Where an association stands.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum LinkState {
    /// No handshake has completed on the current connection (or there is none), and the peer
    /// is not down: messages sent now wait in the resend buffer.
    Connecting,
    /// A handshake completed on the current connection.
    Up,
    /// The peer is down (silent for the node timeout, said goodbye, or this side closed).
    Down,
}

/// A snapshot of an association's state and counters.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LinkStats {
    /// Where it stands.
    pub state: LinkState,
    /// The peer's incarnation, once a handshake has told it.
    pub peer_incarnation: Option<Incarnation>,
    /// The latest round-trip time measured by a `Ping` and its `Pong`.
    pub rtt: Option<Duration>,
    /// Messages sent and not yet acknowledged.
    pub unacked: usize,
    /// Their bytes.
    pub unacked_bytes: usize,
    /// Data frames written again after a reconnection.
    pub retransmissions: u64,
    /// Data frames received again after delivery, and dropped.
    pub duplicates: u64,
    /// Messages delivered from the peer in the current session.
    pub delivered: u64,
    /// When a valid frame last arrived from the peer (the association's creation, before any).
    pub last_heard: Instant,
}

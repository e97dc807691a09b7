//! What `postbox nodes` shows: this node and every node it links with (`docs/protocol.md` §7.4,
//! `Response::NodeLinks`).
//!
//! Names and addresses travel as strings, checked by whoever shows them: the answer comes from
//! the daemon a client chose to trust, and is only ever displayed.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The answer to `Request::NodeLinks`: this node, and the nodes it links with.
#[derive(Clone, PartialEq, Eq, Default, Debug, Serialize, Deserialize)]
pub struct NodeLinks {
    /// This node, when it takes part in node links (`None` for a daemon started without
    /// `--node-listen` or `--peer`, and for the in-process transport).
    pub local: Option<LocalNode>,
    /// Every node it knows: the configured peers first, then those that connected on their own,
    /// each by name.
    pub peers: Vec<PeerLink>,
}

/// This node, as node links know it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct LocalNode {
    /// Its node name.
    pub name: String,
    /// Its incarnation: new at every start, never 0.
    pub incarnation: u64,
    /// The address its node listener is bound to (the actual port when 0 was asked), if any.
    pub listen: Option<String>,
}

/// One node this node links with.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PeerLink {
    /// Its node name.
    pub name: String,
    /// Where the link stands.
    pub state: PeerState,
    /// Its incarnation, once a handshake has told it.
    pub incarnation: Option<u64>,
    /// The address dialled (a configured peer), or the one it connected from (a node that
    /// connected on its own), if known.
    pub address: Option<String>,
    /// The latest round-trip time measured by a heartbeat.
    pub rtt: Option<Duration>,
    /// Messages sent to it and not yet acknowledged.
    pub unacked: u64,
    /// Messages written to it again after a reconnection.
    pub retransmissions: u64,
    /// Messages received from it again after delivery, and dropped.
    pub duplicates: u64,
    /// How long ago a valid frame last arrived from it; `None` if none ever did.
    pub last_heard: Option<Duration>,
}

/// Where a link with a node stands.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum PeerState {
    /// Not connected yet, or reconnecting: messages wait.
    Connecting,
    /// Connected, handshake done: messages flow.
    Up,
    /// Silent for the node timeout, or it said goodbye: sends are refused until it is back.
    Down,
}

impl PeerState {
    /// The state's name as `postbox nodes` prints it: `connecting`, `up`, `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            PeerState::Connecting => "connecting",
            PeerState::Up => "up",
            PeerState::Down => "down",
        }
    }
}

//! What node links tell the rest of the daemon, and why a send to a node fails.

use bytes::Bytes;
use postbox_wire::link::{DownReason, Incarnation, NodeName};

/// Something that happened on the link with one node, in order for that node.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum NodeEvent {
    /// A handshake completed: the node is up.
    Up {
        /// The node.
        peer: NodeName,
        /// Its incarnation.
        incarnation: Incarnation,
        /// Whether its earlier session carried on (nothing lost, nothing repeated) rather than a
        /// new one starting.
        resumed: bool,
    },
    /// A message from the node: in the order it sent them, exactly once per session.
    Delivered {
        /// The node.
        peer: NodeName,
        /// The message.
        message: Bytes,
    },
    /// The node is down: silent for the node timeout, it said goodbye, or this node is closing.
    /// Sends to it fail [`NodeSendError::Down`] until it is up again.
    Down {
        /// The node.
        peer: NodeName,
        /// Why.
        reason: DownReason,
    },
    /// The node restarted (a new incarnation): the messages sent to its old incarnation and not
    /// acknowledged are handed back, oldest first. Whether they were acted on is unknown; fail
    /// them `Disconnected`.
    PeerRestarted {
        /// The node.
        peer: NodeName,
        /// The old incarnation.
        old: Incarnation,
        /// The new one.
        new: Incarnation,
        /// The messages handed back.
        unsent: Vec<Bytes>,
    },
}

/// Why [`NodeDriver::send`](super::NodeDriver::send) did not take a message; it is handed back.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum NodeSendError {
    /// No node of that name is configured or has connected.
    #[error("node {peer} is not known here: configure it with --peer")]
    UnknownPeer {
        /// The name given.
        peer: NodeName,
        /// The message.
        message: Bytes,
    },
    /// The node is down (until a handshake brings it back).
    #[error("node {peer} is down")]
    Down {
        /// The node.
        peer: NodeName,
        /// The message.
        message: Bytes,
    },
    /// The message can never fit in a link frame.
    #[error("the message is too large for the link with node {peer}")]
    TooLarge {
        /// The node.
        peer: NodeName,
        /// The message.
        message: Bytes,
    },
    /// The node links are shutting down.
    #[error("node links are shutting down")]
    Stopped {
        /// The message (empty if the peer's task was aborted holding it, which only dropping
        /// the driver without [`shut_down`](super::NodeDriver::shut_down) does).
        message: Bytes,
    },
}

impl NodeSendError {
    /// The message that was not sent.
    pub fn into_message(self) -> Bytes {
        match self {
            NodeSendError::UnknownPeer { message, .. }
            | NodeSendError::Down { message, .. }
            | NodeSendError::TooLarge { message, .. }
            | NodeSendError::Stopped { message } => message,
        }
    }
}

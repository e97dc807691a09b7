//! What an association tells its driver, and the small types its methods take and give.

use std::fmt;

use bytes::Bytes;

use super::{Incarnation, LinkDecodeError, NodeName};
use crate::ErrorBody;

/// Names one transport connection offered to an association, so that input and loss reported for
/// a connection it has already let go of are ignored rather than mistaken for the current one's.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ConnectionId(pub(crate) u64);

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connection {}", self.0)
    }
}

/// Which side opened a connection: what the tie-break between two simultaneous connections
/// looks at.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Origin {
    /// This node dialled the peer.
    Dialed,
    /// The peer dialled this node.
    Accepted,
}

/// What [`Association::connection_up`](super::Association::connection_up) decided about a new
/// connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Admission {
    /// The association runs on this connection from now on (its `Hello` is in
    /// [`transmit`](super::Association::transmit)). The connection it replaces, if any, is
    /// forgotten: close it.
    Use(ConnectionId),
    /// The association keeps its current connection (the tie-break favours it): close the new
    /// one without writing to it.
    Refuse,
}

/// Why an association asked for its connection to be closed. The association has already let
/// go of it; write what is left in `transmit` (an `Error` telling the peer why, for some
/// reasons), close it, and reconnect: the association resumes on the next connection.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ResetReason {
    /// The bytes are not valid link frames: corrupted on the way, or not from a postbox node.
    #[error("the connection is corrupt: {0}")]
    Corrupt(LinkDecodeError),
    /// A data frame skipped a sequence number, which a stream without loss cannot do.
    #[error("message {found} arrived where message {expected} was due")]
    Gap {
        /// The sequence number due.
        expected: u64,
        /// The one that arrived.
        found: u64,
    },
    /// A well-formed frame that may not come now (data before the `Hello`, a second `Hello`,
    /// an acknowledgement of a message never sent).
    #[error("the peer broke the link protocol: {0}")]
    Violation(String),
    /// The `Hello` came from another node than this association's peer.
    #[error("expected node {expected}, but {found} answered")]
    WrongNode {
        /// This association's peer.
        expected: NodeName,
        /// The node that said `Hello`.
        found: NodeName,
    },
    /// The peer's frame limit differs from this node's; configure both the same.
    #[error(
        "the peer's frame limit is {theirs} bytes, this node's is {ours}; configure both alike"
    )]
    FrameLimitMismatch {
        /// This node's limit.
        ours: u32,
        /// The peer's.
        theirs: u32,
    },
    /// The peer refused the connection with an `Error` frame.
    #[error("the peer refused the connection: {0}")]
    PeerError(ErrorBody),
    /// Nothing arrived on the connection for the connection timeout: half-open, or a handshake
    /// that never finished.
    #[error("the connection has been silent for too long")]
    Silent,
    /// The association went down (node timeout) while this connection was still open.
    #[error("the peer node is down")]
    Down,
}

/// Why the peer node is reported down.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, thiserror::Error)]
pub enum DownReason {
    /// Nothing was heard from it, on any connection, for the node timeout.
    #[error("nothing heard from the node within the node timeout")]
    Timeout,
    /// It said `Goodbye`: a clean shutdown.
    #[error("the node said goodbye")]
    Goodbye,
    /// This side closed the association ([`close`](super::Association::close)).
    #[error("this node closed the link")]
    Closed,
}

/// What happened on an association, in order.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum LinkEvent {
    /// A handshake completed: the association is up on the current connection.
    Up {
        /// The peer's incarnation.
        incarnation: Incarnation,
        /// Whether it carried on the peer's earlier session (messages resumed where they
        /// stopped) rather than starting a new one.
        resumed: bool,
    },
    /// A message from the peer, in order, exactly once.
    Delivered(Bytes),
    /// The session with the peer ended without a clean close: the peer restarted (new
    /// incarnation) or lost its state of this node. The messages this side had sent and the
    /// peer had not acknowledged are handed back (fail them `Disconnected`): they were not
    /// delivered to the new session, and will never be. Counters restart from 1 both ways.
    PeerRestarted {
        /// The incarnation of the old session.
        old: Incarnation,
        /// The incarnation of the new one (the same as `old` if the peer only lost its state).
        new: Incarnation,
        /// The unacknowledged messages, oldest first.
        unsent: Vec<Bytes>,
    },
    /// Close the connection (it is forgotten already) and reconnect.
    Reset {
        /// The connection to close.
        connection: ConnectionId,
        /// Why.
        reason: ResetReason,
    },
    /// The peer is down. Reported once, until a new handshake brings it up again.
    Down {
        /// Why.
        reason: DownReason,
    },
}

/// Why [`Association::send`](super::Association::send) did not take a message; the message is
/// handed back.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum LinkSendError {
    /// The resend buffer is at its bound (messages or bytes): the peer has not acknowledged
    /// enough yet. Hold the sender and try again after acknowledgements arrive.
    #[error("the link's resend buffer is full")]
    Full(Bytes),
    /// The message is longer than the frame limit allows (8 bytes less than `max_frame_len`),
    /// or on its own larger than the resend buffer's byte bound.
    #[error("the message is too large for the link")]
    TooLarge(Bytes),
    /// The peer is down; nothing is taken until a handshake brings it up again.
    #[error("the peer node is down")]
    Down(Bytes),
}

impl LinkSendError {
    /// The message that was not sent.
    pub fn into_payload(self) -> Bytes {
        match self {
            LinkSendError::Full(payload)
            | LinkSendError::TooLarge(payload)
            | LinkSendError::Down(payload) => payload,
        }
    }
}

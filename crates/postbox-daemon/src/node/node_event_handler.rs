//! Who takes the node links' events in the peers' own tasks.

use std::collections::VecDeque;
use std::sync::{OnceLock, Weak};

use postbox_wire::link::NodeName;
use tokio::sync::mpsc;

use super::peer_queue::SendTag;
use super::{NodeEvent, NodeSendError};

/// Takes the node links' events in the peers' own tasks, as they happen: no queue and no task
/// hand-over between reading a message off the link and acting on it (on a busy CPU, a
/// hand-over costs more than the rest of a message's way through the node).
///
/// Every peer's task calls it, so it is called from several threads at once; one call holds one
/// peer's events, in order, and a peer's calls come in order. It must not wait: it runs in the
/// task that reads and writes that peer's link.
pub(crate) trait NodeEventHandler: Send + Sync {
    /// Takes every event in `events` (of one peer, oldest first), leaving it empty.
    fn handle(&self, events: &mut VecDeque<NodeEvent>);

    /// A message the handler queued for `peer` (through its
    /// [`PeerQueue`](super::peer_queue::PeerQueue)), carrying request `tag`, was not sent:
    /// `error` says why (the peer is down, the message can never fit in a frame, or the links
    /// are shutting down) and holds the message.
    fn unsent(&self, peer: &NodeName, tag: SendTag, error: NodeSendError);
}

/// Where the peers' tasks put their events.
#[derive(Debug)]
pub(crate) enum EventSink {
    /// A bounded queue to a consumer task ([`NodeEvents`](super::NodeEvents)): a peer's task
    /// holds its events while the queue is full, and stops reading the peer past a bound.
    Queue(mpsc::Sender<NodeEvent>),
    /// A handler called in the peers' tasks: set before any peer starts, held weakly (it holds
    /// the driver's status, which holds this), so events after it is gone are dropped.
    Handler(OnceLock<Weak<dyn NodeEventHandler>>),
}

impl std::fmt::Debug for dyn NodeEventHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeEventHandler")
    }
}

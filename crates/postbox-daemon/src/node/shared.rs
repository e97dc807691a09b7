//! What the node links' driver and every peer's task share.

use std::time::Duration;

use postbox_wire::link::{Incarnation, LinkConfig, NodeName};

use super::NodeTls;
use super::node_event_handler::EventSink;

/// What every peer's task shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) local: NodeName,
    pub(crate) incarnation: Incarnation,
    pub(crate) link: LinkConfig,
    pub(crate) tls: NodeTls,
    /// How long a dial or an inbound connection has for TCP, TLS (and inbound, its `Hello`).
    pub(crate) handshake_timeout: Duration,
    pub(crate) events: EventSink,
}

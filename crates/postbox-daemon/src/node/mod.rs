//! Node links: this daemon's associations with other postbox daemons (nodes), over mutual TLS.
//!
//! The protocol is `postbox_wire::link` (sans-IO, `docs/protocol.md` §9); this module is its
//! driver. [`NodeDriver`] runs one task per peer node, which owns that peer's association and
//! moves bytes and time between it and the peer's current TLS connection: it dials configured
//! peers (capped exponential backoff with jitter), takes the connections the node listener
//! accepted for it, closes a connection the association resets and dials again, and sleeps
//! until the association's next timeout. On shutdown every association says `Goodbye`, flushed
//! before the daemon exits, so peers see this node down at once. `docs/nodes.md` is the
//! operator's guide.
//!
//! Identity is the certificate: a node dials a peer expecting a certificate for the peer's
//! name, and accepts a connection only from a certificate signed by the node CA and issued for
//! the name the dialler's `Hello` claims.

mod backoff;
mod lazy_timer;
mod link_connection;
mod node_config;
mod node_driver;
mod node_event;
mod node_event_handler;
mod node_tls;
mod peer_driver;
mod peer_queue;
mod shared;

pub use node_config::{
    DEFAULT_NODE_TIMEOUT, InvalidPeerAddress, MIN_NODE_TIMEOUT, NodeConfig, PeerAddress, host_name,
};
pub(crate) use node_driver::NodeStatus;
pub use node_driver::{MAX_NODES, NodeDriver, NodeEvents};
pub use node_event::{NodeEvent, NodeSendError};
pub(crate) use node_event_handler::NodeEventHandler;
pub use node_tls::NodeTls;
pub(crate) use peer_queue::{PeerQueue, SendTag};

//! Forwarding between nodes: one message space over every node's engine.
//!
//! The home node of a mailbox or process runs its rules; another node acts there for its own
//! processes through *proxies*, as a client acts for itself on a daemon. [`Router`] decides, for
//! each request a connection makes, whether this node's engine carries it out or another node
//! does, and keeps the books of what crossed: `docs/nodes.md` says what users see,
//! `docs/protocol.md` §10 what travels.

mod destination;
mod disconnected;
mod process_list;
mod reserved_ids;
mod router;
mod spanning_select;

pub(crate) use router::{Router, Routing};

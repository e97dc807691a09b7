//! The in-process transport: one engine behind a lock, shared by the threads of this OS process
//! ([`InprocNode`]), and a fast lane per plain mailbox ([`Lane`]) so that a mailbox's two ends
//! contend only with each other.

mod lane;
mod lease_clock;
mod node;

pub(crate) use lane::Lane;
pub use node::InprocNode;

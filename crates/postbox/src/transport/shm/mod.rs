//! The shared-memory flavour: a plain mailbox the daemon lends to a ring, pushed and popped by
//! this process directly (docs/shm.md), beside a `unix://` connection that carries everything
//! else.

mod lane;

pub(crate) use lane::{RingLender, ShmLane};

//! The one interface every benchmarked mechanism implements, so that the harness runs the same
//! workload, with the same checks, over postbox and over each peer.
//!
//! A run has roles (a pinger and a ponger; producers and consumers). The harness prepares the run's
//! shared resources once, then opens each role's [`Endpoint`] in its own process (or, for in-process
//! mechanisms, its own thread), listening roles first. Timing and checking belong to the harness;
//! a mechanism only moves whole messages.

use std::io;
use std::path::Path;

/// What is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// One pinger sends a message, one ponger sends one of the same size back; round-trip latency.
    PingPong,
    /// One producer sends to one consumer as fast as it can; messages and bytes per second.
    Throughput,
    /// `producers` producers send into one queue read by one consumer.
    FanIn {
        /// How many producers.
        producers: usize,
    },
    /// One producer sends into one queue read by `consumers` competing consumers: each message to
    /// exactly one of them.
    Competing {
        /// How many consumers.
        consumers: usize,
    },
}

/// One measurement's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Case {
    /// What is measured.
    pub workload: Workload,
    /// Every message's size in bytes (at least 16: the harness writes a sender id and a sequence
    /// number at the front).
    pub size: usize,
}

/// Which end of a run an endpoint is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sends first and measures round trips (ping-pong).
    Pinger,
    /// Answers each message with one of the same size (ping-pong).
    Ponger,
    /// Sends (throughput, fan-in, competing); `index` counts from 0.
    Producer {
        /// Which producer.
        index: usize,
    },
    /// Receives (throughput, fan-in, competing); `index` counts from 0.
    Consumer {
        /// Which consumer.
        index: usize,
    },
}

impl Role {
    /// Whether this role must be open before the others start (it listens, binds or creates).
    pub fn listens(self) -> bool {
        matches!(self, Role::Ponger | Role::Consumer { .. })
    }
}

/// One role's end of an established run: moves whole messages.
pub trait Endpoint {
    /// Sends one message, blocking while the mechanism has no room.
    fn send(&mut self, message: &[u8]) -> io::Result<()>;
    /// Receives one whole message into `buf`, replacing its contents (so `buf.len()` is the
    /// message's length). Blocks until one arrives.
    fn recv(&mut self, buf: &mut Vec<u8>) -> io::Result<()>;
    /// Hands on whatever [`send`](Self::send) kept back to send together (a mechanism that
    /// batches sends); producers call it after their end markers.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Gives back whatever [`recv`](Self::recv) took ahead and did not hand out (a mechanism
    /// whose receiver keeps a window); competing consumers call it after their end marker, so
    /// that the markers meant for the others reach them.
    fn stop_receiving(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The resources a run shares between its roles, alive until dropped.
pub struct Prepared {
    /// What every role needs to open its end (a socket path, queue names, a URL …).
    pub address: String,
    /// Removes the run's resources (unlinks queues and sockets, stops a daemon) when dropped.
    pub guard: Box<dyn Send>,
}

/// A way of passing messages that the comparison measures.
pub trait Mechanism: Send + Sync {
    /// The name in tables and charts, such as `unix stream` or `postbox unix://`.
    fn name(&self) -> String;
    /// Whether every role runs as a thread of one process (crossbeam, `inproc://`) rather than as
    /// a process of its own.
    fn threads(&self) -> bool {
        false
    }
    /// Why this mechanism cannot run `case` on this machine, if it cannot (a workload it has no
    /// notion of, a kernel limit below `case.size` …). Checked, not guessed.
    fn unsupported(&self, case: &Case) -> Option<String>;
    /// Creates the run's shared resources in the harness, with unique names under `scratch`.
    ///
    /// It runs on the harness's main thread with the CPU affinity the series gives helper
    /// processes (every CPU in the cross-CPU series, the first CPU in the same-CPU series), so
    /// that a helper it starts, such as a daemon, inherits its placement.
    fn prepare(&self, case: &Case, scratch: &Path) -> io::Result<Prepared>;
    /// Opens `role`'s end, in the process (or thread) that plays it. Listening roles are opened
    /// first, and the others only once every listening role has returned from `open`, so a
    /// listening role's `open` must not wait for its peers: it binds, listens or creates, and
    /// accepts on first use.
    fn open(&self, case: &Case, address: &str, role: Role) -> io::Result<Box<dyn Endpoint>>;
}

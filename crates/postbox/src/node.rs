//! The in-process transport: one engine behind a lock, shared by every process handle on it.
//!
//! Every operation runs on the engine under the lock, then the completions it caused are handed
//! to the slots of the operations they complete, still under the lock. So a slot is always
//! registered before its ticket can complete, and a cancel that finds its ticket no longer
//! waiting knows the completion is already in the slot.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Instant;

use postbox_core::{
    Cancelled, Completion, Credentials, Engine, Limits, Pid, RecvError, SelectError, SendError,
    SendErrorKind, Ticket, Timestamp,
};

use crate::clock::{host_credentials, now};
use crate::process::Process;
use crate::slot::Slot;

#[derive(Debug)]
struct State {
    engine: Engine,
    /// The slot of every waiting operation, with the process that waits.
    slots: HashMap<Ticket, (Pid, Arc<Slot>)>,
}

impl State {
    fn dispatch(&mut self) {
        while let Some((ticket, completion)) = self.engine.poll_completion() {
            if let Some((_, slot)) = self.slots.remove(&ticket) {
                slot.fill(completion);
            }
        }
    }
}

/// A waiting operation: its ticket and the slot its completion lands in.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) ticket: Ticket,
    pub(crate) slot: Arc<Slot>,
}

/// How a wait for a [`Pending`] ended.
pub(crate) enum Waited {
    Completed(Completion),
    /// The deadline passed and the operation was withdrawn; a send's message comes back.
    TimedOut(Cancelled),
}

/// An in-process postbox node: an engine that threads of this OS process share.
///
/// Each [`Process`] created from a node is one postbox process with its own pid and inbox.
/// Nodes are independent of each other; `postbox::connect("inproc://NAME")` shares one node per
/// name within the OS process.
#[derive(Debug, Clone)]
pub struct InprocNode {
    shared: Arc<NodeShared>,
}

#[derive(Debug)]
pub(crate) struct NodeShared {
    state: Mutex<State>,
}

impl Default for InprocNode {
    fn default() -> InprocNode {
        InprocNode::new()
    }
}

impl InprocNode {
    /// A node with the default [`Limits`].
    pub fn new() -> InprocNode {
        InprocNode::with_limits(Limits::default())
    }

    /// A node with the given limits.
    pub fn with_limits(limits: Limits) -> InprocNode {
        let state = State {
            engine: Engine::new(limits),
            slots: HashMap::new(),
        };
        InprocNode {
            shared: Arc::new(NodeShared {
                state: Mutex::new(state),
            }),
        }
    }

    /// The node registered under `name` in this OS process, created on first use and kept while
    /// any of its processes lives.
    pub(crate) fn named(name: &str) -> InprocNode {
        static NODES: OnceLock<Mutex<HashMap<String, Weak<NodeShared>>>> = OnceLock::new();
        let nodes = NODES.get_or_init(Default::default);
        let mut nodes = nodes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(shared) = nodes.get(name).and_then(Weak::upgrade) {
            return InprocNode { shared };
        }
        nodes.retain(|_, node| node.strong_count() > 0);
        let node = InprocNode::new();
        nodes.insert(name.to_owned(), Arc::downgrade(&node.shared));
        node
    }

    /// Starts a new process on this node, running as this OS process's uid and gid.
    pub fn process(&self) -> Process {
        self.process_as(host_credentials())
    }

    /// Starts a new process running as `creds` — for tests of permissions, and for servers that
    /// act on behalf of authenticated users.
    pub fn process_as(&self, creds: Credentials) -> Process {
        let pid = self.shared.run(|engine, now| engine.spawn(creds, now));
        Process::new(self.shared.clone(), pid)
    }
}

impl NodeShared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Engine operations do not panic on any input; if one ever did, the engine's state is
        // still the last consistent one, so carrying on is better than poisoning every process.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `op` on the engine and hands out the completions it caused.
    pub(crate) fn run<R>(&self, op: impl FnOnce(&mut Engine, Timestamp) -> R) -> R {
        let mut state = self.lock();
        let result = op(&mut state.engine, now());
        state.dispatch();
        result
    }

    /// Runs `op` for process `pid`; when it returns a ticket (`ticket_of`), registers a slot for
    /// it before any completion can be handed out.
    pub(crate) fn start<R>(
        &self,
        pid: Pid,
        op: impl FnOnce(&mut Engine, Timestamp) -> R,
        ticket_of: impl FnOnce(&R) -> Option<Ticket>,
    ) -> (R, Option<Pending>) {
        let mut state = self.lock();
        let result = op(&mut state.engine, now());
        let pending = ticket_of(&result).map(|ticket| {
            let slot = Arc::new(Slot::default());
            state.slots.insert(ticket, (pid, slot.clone()));
            Pending { ticket, slot }
        });
        state.dispatch();
        (result, pending)
    }

    /// Waits for `pending` to complete, withdrawing it when `deadline` passes first.
    pub(crate) fn wait(&self, pending: &Pending, deadline: Option<Instant>) -> Waited {
        if let Some(done) = pending.slot.wait(deadline) {
            return Waited::Completed(done);
        }
        match self.cancel(pending) {
            Some(cancelled) => Waited::TimedOut(cancelled),
            // It completed while the deadline passed: the completion is already in the slot.
            None => Waited::Completed(
                pending
                    .slot
                    .wait(None)
                    .expect("a completed ticket's slot is filled"),
            ),
        }
    }

    /// Terminates `pid`. Its operations still waiting — on other threads, through its mailbox
    /// handles, selects or futures — are withdrawn first and fail with `Disconnected` (a send's
    /// message handed back, undelivered): the engine would drop them silently, and their
    /// threads would wait forever.
    pub(crate) fn terminate(&self, pid: Pid) {
        let mut state = self.lock();
        let now = now();
        let own: Vec<Ticket> = state
            .slots
            .iter()
            .filter(|(_, (owner, _))| *owner == pid)
            .map(|(&ticket, _)| ticket)
            .collect();
        for ticket in own {
            // An earlier withdrawal may have completed this one (a waiting sender let in).
            let Some((_, slot)) = state.slots.remove(&ticket) else {
                continue;
            };
            slot.fill(match state.engine.cancel(ticket, now) {
                Some(Cancelled::Send(message)) => {
                    Completion::SendFailed(SendError::new(SendErrorKind::Disconnected, message))
                }
                Some(Cancelled::Recv) | None => Completion::RecvFailed(SelectError {
                    branch: 0,
                    error: RecvError::Disconnected,
                }),
            });
            state.dispatch();
        }
        state.engine.terminate(pid, now);
        state.dispatch();
    }

    /// Withdraws `pending` if it is still waiting.
    pub(crate) fn cancel(&self, pending: &Pending) -> Option<Cancelled> {
        let mut state = self.lock();
        let cancelled = state.engine.cancel(pending.ticket, now());
        state.slots.remove(&pending.ticket);
        state.dispatch();
        cancelled
    }
}

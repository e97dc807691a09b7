//! The in-process transport: one engine behind a lock, shared by every process on the node.
//!
//! Every request is carried out on the engine under the lock ([`postbox_wire::apply`], exactly
//! as the daemon does), then the completions it caused are turned into answers and put in the
//! slots of the requests they complete, still under the lock. So a slot is always registered
//! before its ticket can complete, and a withdrawal that finds its ticket no longer waiting knows
//! the answer is already in the slot.

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Instant;

use postbox_core::{
    Cancelled, Credentials, Engine, Limits, Pid, RecvError, SelectError, SendError, SendErrorKind,
    Ticket,
};
use postbox_wire::{Applied, Request, Response, apply, cancelled_response, completion_response};

use crate::clock::{host_credentials, now};
use crate::link::{Answer, Call, Failure, Link, Pending};
use crate::process::Process;
use crate::slot::Slot;

#[derive(Debug)]
struct State {
    engine: Engine,
    /// Waiting requests: their process and their slot.
    slots: FxHashMap<Ticket, (Pid, Arc<Slot>)>,
}

impl State {
    fn dispatch(&mut self) {
        while let Some((ticket, completion)) = self.engine.poll_completion() {
            if let Some((_, slot)) = self.slots.remove(&ticket) {
                slot.fill(Ok(completion_response(completion)));
            }
        }
    }
}

/// An in-process postbox node: an engine that threads of this OS process share.
///
/// Each [`Process`] started on a node is one postbox process with its own pid and inbox. Nodes
/// are independent of each other; `postbox::connect("inproc://NAME")` shares one node per name
/// within the OS process.
#[derive(Debug, Clone)]
pub struct InprocNode {
    shared: Arc<NodeShared>,
}

#[derive(Debug)]
struct NodeShared {
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
            slots: FxHashMap::default(),
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
        let now = now();
        let pid = self.shared.lock().engine.spawn(creds, now);
        Process::new(Arc::new(InprocLink {
            node: self.shared.clone(),
            pid,
        }))
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
}

/// One process's link to an in-process node.
#[derive(Debug)]
struct InprocLink {
    node: Arc<NodeShared>,
    pid: Pid,
}

impl InprocLink {
    /// Withdraws `pending`: the withdrawal's answer, or `None` when the request had already been
    /// answered (the answer is then in the slot).
    fn withdraw(&self, pending: &Pending) -> Option<Response> {
        let now = now();
        let mut state = self.node.lock();
        let ticket = Ticket::from_raw(pending.id);
        let cancelled = state.engine.cancel(ticket, now);
        state.slots.remove(&ticket);
        state.dispatch();
        cancelled.map(cancelled_response)
    }
}

impl Link for InprocLink {
    fn pid(&self) -> Pid {
        self.pid
    }

    fn call(&self, request: Request) -> Call {
        // Read the clock before taking the lock: the lock is the node's one point of contention.
        let now = now();
        let mut state = self.node.lock();
        let call = match apply(&mut state.engine, self.pid, request, now) {
            Applied::Now(response) => Call::Now(Ok(response)),
            Applied::Blocked(ticket) => {
                let slot = Arc::new(Slot::default());
                state.slots.insert(ticket, (self.pid, slot.clone()));
                Call::Pending(Pending {
                    id: ticket.as_raw(),
                    slot,
                })
            }
        };
        state.dispatch();
        call
    }

    fn wait(&self, pending: &Pending, deadline: Option<Instant>) -> Answer {
        if let Some(answer) = pending.slot.wait(deadline) {
            return answer;
        }
        match self.withdraw(pending) {
            Some(response) => Ok(response),
            None => pending.slot.wait(None).unwrap_or(Err(Failure::Protocol)),
        }
    }

    fn abandon(&self, pending: &Pending) {
        self.withdraw(pending);
    }

    fn terminate(&self) {
        let now = now();
        let mut state = self.node.lock();
        let own: Vec<Ticket> = state
            .slots
            .iter()
            .filter(|(_, (owner, _))| *owner == self.pid)
            .map(|(&ticket, _)| ticket)
            .collect();
        for ticket in own {
            // An earlier withdrawal may have completed this one (a waiting sender let in).
            let Some((_, slot)) = state.slots.remove(&ticket) else {
                continue;
            };
            slot.fill(match state.engine.cancel(ticket, now) {
                Some(Cancelled::Send(message)) => Ok(Response::SendFailed(SendError::new(
                    SendErrorKind::Disconnected,
                    message,
                ))),
                Some(Cancelled::Recv) => Ok(Response::RecvFailed(SelectError {
                    branch: 0,
                    error: RecvError::Disconnected,
                })),
                None => Err(Failure::Disconnected),
            });
            state.dispatch();
        }
        state.engine.terminate(self.pid, now);
        state.dispatch();
    }
}

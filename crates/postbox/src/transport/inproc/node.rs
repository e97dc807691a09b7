//! The in-process transport: one engine behind a lock, shared by every process on the node.
//!
//! Every request is carried out on the engine under the lock ([`postbox_wire::apply`], exactly
//! as the daemon does), then the completions it caused are turned into answers and put in the
//! slots of the requests they complete, still under the lock. So a slot is always registered
//! before its ticket can complete, and a withdrawal that finds its ticket no longer waiting knows
//! the answer is already in the slot.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Instant;

use rustc_hash::FxHashMap;

use postbox_core::{
    Branch, CallError, CallErrorKind, Credentials, Delivery, Engine, Limits, MailboxId, OsProcess,
    Pid, RecvError, Selector, SendError, SendErrorKind, Source, Ticket, Timestamp, Wait,
};
use postbox_wire::{Carried, Concerns, EngineDriver, Request, Response, Target, Withdrawal};

use super::lane::{LANE_WAITER, Lane};
use super::lease_clock::{LeaseClock, LeaseHost};
use crate::clock::{host_credentials, now};
use crate::process::Process;
use crate::transport::{Answer, Call, Failure, Flavor, Link, Pending, Slot};

/// A request waiting in the engine.
#[derive(Debug)]
struct Waiting {
    pid: Pid,
    slot: Arc<Slot>,
    /// It waited in a lane first, and is listed in [`State::moved`].
    from_lane: bool,
}

/// The key of a lane waiter's slot in [`State::moved`]: its address, stable while it is shared.
fn slot_key(slot: &Arc<Slot>) -> usize {
    Arc::as_ptr(slot) as usize
}

#[derive(Debug)]
struct State {
    /// The engine, and the slot of each request waiting in it.
    driver: EngineDriver<Waiting>,
    /// The lane of every mailbox some handle has open, lent or not.
    lanes: FxHashMap<MailboxId, Arc<Lane>>,
    /// Lane waiters moved into the engine when their lane was taken back: slot key to ticket.
    moved: FxHashMap<usize, Ticket>,
}

impl State {
    /// When the next lease with a lease time ends.
    fn next_lease_expiry(&self) -> Option<Timestamp> {
        self.driver.engine().next_lease_expiry()
    }

    /// Ends the leases whose time is up at `now`, answering whoever their messages went to.
    fn expire_leases(&mut self, now: Timestamp) {
        if self.next_lease_expiry().is_some_and(|at| at <= now) {
            self.driver.engine_mut().expire_leases(now);
            self.dispatch();
            // A mailbox with no lease left may be lent again.
            self.lend_all();
        }
    }

    /// Answers every request the last engine call completed.
    fn dispatch(&mut self) {
        while let Some((waiting, response)) = self.driver.poll_completion() {
            self.unmove(&waiting);
            waiting.slot.fill(Ok(response));
        }
    }

    /// Forgets a lane waiter's move into the engine, once it is answered.
    fn unmove(&mut self, waiting: &Waiting) {
        if waiting.from_lane {
            self.moved.remove(&slot_key(&waiting.slot));
        }
    }

    /// Withdraws the request waiting under `ticket`: its slot, and what the withdrawal gave back.
    fn withdraw(
        &mut self,
        ticket: Ticket,
        now: Timestamp,
    ) -> Option<(Waiting, Option<Withdrawal>)> {
        let (waiting, withdrawal) = self.driver.withdraw(ticket, now)?;
        self.unmove(&waiting);
        Some((waiting, withdrawal))
    }

    /// Carries out a request that waited in a lane on the engine, for the same slot.
    fn carry_over(&mut self, pid: Pid, slot: Arc<Slot>, request: Request, now: Timestamp) {
        let waiting = || Waiting {
            pid,
            slot: slot.clone(),
            from_lane: true,
        };
        match self.driver.apply(pid, request, now, waiting) {
            Carried::Now(response) => slot.fill(Ok(response)),
            Carried::Waiting(ticket) => {
                self.moved.insert(slot_key(&slot), ticket);
            }
        }
    }

    /// Takes `mailbox`'s lane back, if lent: the engine gets its queue and statistics, and its
    /// waiting operations, in the order they waited.
    fn take_back(&mut self, mailbox: MailboxId, now: Timestamp) {
        let Some(lane) = self.lanes.get(&mailbox) else {
            return;
        };
        let Some(taken) = lane.take_back() else {
            return;
        };
        self.driver.engine_mut().reclaim(mailbox, taken.handback);
        for waiting in taken.senders {
            let request = Request::Send {
                target: Target::Mailbox(mailbox),
                message: waiting.message,
                delivery: Delivery::Queued,
                wait: Wait::Block,
            };
            self.carry_over(waiting.pid, waiting.slot, request, now);
        }
        for waiting in taken.receivers {
            let request = Request::Recv {
                branches: vec![Branch::new(Source::Mailbox(mailbox), Selector::Any)],
                wait: Wait::Block,
            };
            self.carry_over(waiting.pid, waiting.slot, request, now);
        }
    }

    fn take_back_all(&mut self, now: Timestamp) {
        let lent: Vec<MailboxId> = self.lanes.keys().copied().collect();
        for mailbox in lent {
            self.take_back(mailbox, now);
        }
    }

    fn take_back_for(&mut self, concerns: &Concerns, now: Timestamp) {
        match concerns {
            Concerns::Nothing => {}
            Concerns::One(mailbox) => self.take_back(*mailbox, now),
            Concerns::Some(mailboxes) => {
                for &mailbox in mailboxes {
                    self.take_back(mailbox, now);
                }
            }
            Concerns::Everything => self.take_back_all(now),
        }
    }

    /// Lends `mailbox`'s lane if the engine will delegate it now; forgets the lane of a mailbox
    /// that no longer exists.
    fn lend(&mut self, mailbox: MailboxId) {
        let Some(lane) = self.lanes.get(&mailbox) else {
            return;
        };
        let engine = self.driver.engine_mut();
        if !engine.has_mailbox(mailbox) {
            self.lanes.remove(&mailbox);
        } else if !engine.is_delegated(mailbox)
            && let Some(terms) = engine.delegate(mailbox)
        {
            lane.lend(terms);
        }
    }

    fn lend_all(&mut self) {
        let all: Vec<MailboxId> = self.lanes.keys().copied().collect();
        for mailbox in all {
            self.lend(mailbox);
        }
    }

    fn lend_for(&mut self, concerns: &Concerns) {
        match concerns {
            Concerns::Nothing => {}
            Concerns::One(mailbox) => self.lend(*mailbox),
            Concerns::Some(mailboxes) => {
                for &mailbox in mailboxes {
                    self.lend(mailbox);
                }
            }
            Concerns::Everything => self.lend_all(),
        }
    }

    /// Carries out `request`. A send or call refused for the quota while lanes hold
    /// reservations is retried once they are taken back, so reservations never refuse a send the
    /// engine alone would take.
    fn apply(
        &mut self,
        pid: Pid,
        request: Request,
        now: Timestamp,
        waiting: impl Fn() -> Waiting,
    ) -> Carried {
        if let Request::Call { target, wait, .. } = &request {
            let (target, wait) = (*target, *wait);
            let applied = self.driver.apply(pid, request, now, &waiting);
            let request = match applied {
                Carried::Now(Response::CallFailed(error))
                    if error.kind() == CallErrorKind::QuotaExceeded
                        && self.driver.engine().delegated_bytes() > 0 =>
                {
                    match error.into_message() {
                        Some(request) => request,
                        None => {
                            return Carried::Now(Response::CallFailed(CallError::without_message(
                                CallErrorKind::QuotaExceeded,
                            )));
                        }
                    }
                }
                other => return other,
            };
            self.take_back_all(now);
            let request = Request::Call {
                target,
                request,
                wait,
            };
            let applied = self.driver.apply(pid, request, now, waiting);
            self.lend_all();
            return applied;
        }
        let retry = match &request {
            Request::Send {
                target,
                delivery,
                wait,
                ..
            } => Some((*target, *delivery, *wait)),
            _ => None,
        };
        let applied = self.driver.apply(pid, request, now, &waiting);
        let Some((target, delivery, wait)) = retry else {
            return applied;
        };
        let error = match applied {
            Carried::Now(Response::SendFailed(error))
                if error.kind() == SendErrorKind::QuotaExceeded
                    && self.driver.engine().delegated_bytes() > 0 =>
            {
                error
            }
            other => return other,
        };
        let Some(message) = error.into_message() else {
            return Carried::Now(Response::SendFailed(SendError::without_message(
                SendErrorKind::QuotaExceeded,
            )));
        };
        self.take_back_all(now);
        let request = Request::Send {
            target,
            message,
            delivery,
            wait,
        };
        let applied = self.driver.apply(pid, request, now, waiting);
        self.lend_all();
        applied
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
    /// Ends leases whose time is up (the lease clock module).
    lease_clock: LeaseClock,
}

impl LeaseHost for NodeShared {
    fn expire_due(&self, now: Timestamp) -> Option<Timestamp> {
        let mut state = self.lock();
        state.expire_leases(now);
        state.next_lease_expiry()
    }

    fn lease_clock(&self) -> &LeaseClock {
        &self.lease_clock
    }
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
            driver: EngineDriver::new(Engine::new(limits)),
            lanes: FxHashMap::default(),
            moved: FxHashMap::default(),
        };
        InprocNode {
            shared: Arc::new(NodeShared {
                state: Mutex::new(state),
                lease_clock: LeaseClock::default(),
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
    /// act on behalf of authenticated users. The process list shows it as this OS process (its
    /// pid; no command line).
    pub fn process_as(&self, creds: Credentials) -> Process {
        let now = now();
        let os = OsProcess {
            pid: Some(std::process::id()),
            command: None,
        };
        let pid = self
            .shared
            .lock()
            .driver
            .engine_mut()
            .spawn_with(creds, os, now);
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
        let ticket = if pending.id & LANE_WAITER == 0 {
            Ticket::from_raw(pending.id)
        } else {
            let mailbox = MailboxId::from_raw(pending.id & !LANE_WAITER);
            if let Some(lane) = state.lanes.get(&mailbox)
                && let Some(response) = lane.withdraw(&pending.slot, now)
            {
                return Some(response);
            }
            // Moved into the engine with its lane, or answered.
            *state.moved.get(&slot_key(&pending.slot))?
        };
        let withdrawn = state.withdraw(ticket, now);
        state.dispatch();
        withdrawn
            .and_then(|(_, withdrawal)| withdrawal)
            .map(|withdrawal| withdrawal.response(SendErrorKind::Timeout, RecvError::Timeout))
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
        let concerns = request.concerns();
        state.take_back_for(&concerns, now);
        let lease_ended = state.next_lease_expiry();
        let pid = self.pid;
        let waiting = || Waiting {
            pid,
            slot: Arc::new(Slot::default()),
            from_lane: false,
        };
        let applied = state.apply(pid, request, now, waiting);
        let call = match applied {
            Carried::Now(response) => {
                if let Response::Opened { mailbox, .. } = response {
                    // A new opener may send or receive: lend again on fresh terms.
                    let lane = Arc::new(Lane::new(mailbox));
                    state.lanes.entry(mailbox).or_insert(lane);
                    state.take_back(mailbox, now);
                    state.lend(mailbox);
                }
                Call::Now(Ok(response))
            }
            Carried::Waiting(ticket) => match state.driver.waiter(ticket) {
                Some(waiting) => Call::Pending(Pending {
                    id: ticket.as_raw(),
                    slot: waiting.slot.clone(),
                }),
                // Registered in the same step it blocked: cannot be missing.
                None => Call::Now(Err(Failure::Protocol)),
            },
        };
        state.dispatch();
        state.lend_for(&concerns);
        let lease_ends = state.next_lease_expiry();
        drop(state);
        if lease_ends.is_some_and(|at| lease_ended.is_none_or(|before| at < before)) {
            LeaseClock::lease_taken(&self.node);
        }
        call
    }

    fn mailbox_flavor(&self, mailbox: MailboxId) -> Flavor {
        match self.node.lock().lanes.get(&mailbox) {
            Some(lane) => Flavor::Inproc(lane.clone()),
            None => Flavor::Engine,
        }
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
        // Termination touches every mailbox the process had open: run them all on the engine.
        state.take_back_all(now);
        let own: Vec<Ticket> = state
            .driver
            .waiters()
            .filter(|(_, waiting)| waiting.pid == self.pid)
            .map(|(ticket, _)| ticket)
            .collect();
        for ticket in own {
            // An earlier withdrawal may have completed this one (a waiting sender let in).
            let Some((waiting, withdrawal)) = state.withdraw(ticket, now) else {
                continue;
            };
            waiting.slot.fill(match withdrawal {
                Some(withdrawal) => {
                    Ok(withdrawal.response(SendErrorKind::Disconnected, RecvError::Disconnected))
                }
                None => Err(Failure::Disconnected),
            });
            state.dispatch();
        }
        state.driver.engine_mut().terminate(self.pid, now);
        state.dispatch();
        state.lend_all();
        drop(state);
        // Its leases went back: the clock may have nothing left to wait for.
        self.node.lease_clock.nudge();
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use postbox_core::{Capacity, MailboxId, Selector};

    use super::InprocNode;

    fn lent(node: &InprocNode, mailbox: MailboxId) -> bool {
        node.shared.lock().driver.engine().is_delegated(mailbox)
    }

    /// Messages the engine itself holds (a lent mailbox's are in its lane).
    fn engine_queued(node: &InprocNode) -> usize {
        node.shared.lock().driver.engine().stats().queued_messages
    }

    #[test]
    fn plain_traffic_goes_through_the_lane_and_anything_else_through_the_engine() {
        let node = InprocNode::new();
        let owner = node.process();
        let q = owner.mailbox("q").create().unwrap();
        assert!(lent(&node, q.id()), "lent once created");
        q.send(&b"fast"[..]).unwrap();
        assert_eq!(engine_queued(&node), 0, "the lane holds the message");
        assert!(lent(&node, q.id()));
        assert_eq!(q.stat().unwrap().messages, 1);
        assert_eq!(engine_queued(&node), 1, "a stat takes the lane back");
        assert!(
            !lent(&node, q.id()),
            "not lent while the engine holds messages"
        );
        assert_eq!(q.recv().unwrap().payload().as_ref(), b"fast");
        assert!(lent(&node, q.id()), "lent again once idle");
    }

    #[test]
    fn a_receiver_waiting_in_the_engine_keeps_the_mailbox_from_being_lent() {
        let node = InprocNode::new();
        let owner = node.process();
        let sender = node.process();
        let q = owner.mailbox("q").create().unwrap();
        let to_q = sender.mailbox("q").open().unwrap();
        std::thread::scope(|s| {
            let typed = s.spawn(|| q.recv_matching(Selector::Type(5)).unwrap().mtype());
            let give_up = Instant::now() + Duration::from_secs(10);
            while to_q.stat().unwrap().blocked_receivers == 0 {
                assert!(Instant::now() < give_up, "the typed receive never waited");
                std::thread::yield_now();
            }
            assert!(!lent(&node, q.id()));
            to_q.send(postbox_core::Message::new(&b"five"[..]).with_type(5))
                .unwrap();
            assert_eq!(typed.join().unwrap(), 5);
        });
        assert!(
            lent(&node, q.id()),
            "lent again once the waiter is answered"
        );
    }

    #[test]
    fn a_mailbox_that_is_not_plain_is_never_lent() {
        let node = InprocNode::new();
        let owner = node.process();
        let q = owner
            .mailbox("q")
            .capacity(Capacity::Unbounded)
            .create()
            .unwrap();
        q.send(&b"slow"[..]).unwrap();
        assert!(!lent(&node, q.id()));
        assert_eq!(engine_queued(&node), 1);
    }
}

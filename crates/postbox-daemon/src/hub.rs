//! The hub: the one engine every connection shares, and the routing of its completions.
//!
//! The engine sits behind a `std` mutex: every operation on it is short and never waits, so the
//! lock is never held across an `.await`. Each connection is registered with its process's pid
//! and its [`Outbox`]; the engine's waiting requests are kept by an [`EngineDriver`] whose waiter
//! is the connection and request id a ticket answers.
//!
//! After every engine call the hub drains the driver's completions under the same lock, so a
//! waiter is always registered before its ticket can complete, and a withdrawal that finds its
//! ticket no longer waiting knows the completion's answer was already routed. The answers
//! themselves ([`Routed`]) are handed over after the lock is released: to the calling
//! connection's own session directly, to others through their outboxes.
//!
//! A request is answered exactly as the in-process transport answers it: [`postbox_wire::apply`],
//! then the completion's response for a ticket that completes, the withdrawal's `Timeout` for one
//! withdrawn by `Cancel`.
//!
//! A durable mailbox restored with messages left on disk is paged in under the same lock: before
//! a request, what it needs (see [`mod@page_in`]); after it, whatever ran low. The store writer
//! reads for it, after every commit submitted before, so the engine gets every message in order.
//! That is the one wait under the lock: a read of the store (behind the commits queued before
//! it) once per half a resident budget of messages received, or once per whole-queue operation
//! on a mailbox with messages still on disk.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use tokio::sync::Notify;

use postbox_core::{
    CallErrorKind, Census, Credentials, Engine, Limits, MailboxId, OsProcess, PageIn, Pid,
    RecvError, ResidentBudget, SendErrorKind, Ticket, Timestamp,
};
use postbox_shm::{Ring, Segment};
use postbox_wire::{Carried, EngineDriver, ErrorCode, Request, RequestId, Response, RingTerms};

use crate::lent_rings::LentRings;

use crate::outbox::Outbox;
use crate::page_in;
use crate::store::StoredMailbox;
use crate::store_writer::{Held, StoreWriter};

/// A connection, as the hub knows it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct ConnId(u64);

/// An answer for some connection's request, produced under the lock.
#[derive(Debug)]
struct Answer {
    conn: ConnId,
    outbox: Outbox,
    id: RequestId,
    response: Response,
}

/// Answers produced under the lock, for any connection; [`Routed::deliver`] hands them over.
#[derive(Debug, Default)]
#[must_use = "answers are lost unless delivered"]
pub(crate) struct Routed(Vec<Answer>);

impl Routed {
    /// Hands every answer to its connection's outbox.
    pub(crate) fn post(self) {
        for routed in self.0 {
            routed.outbox.answer(routed.id, routed.response);
        }
    }

    /// Hands each answer to its connection: `own`'s to `answer` at once, the others' to their
    /// outboxes.
    pub(crate) fn deliver(self, own: ConnId, mut answer: impl FnMut(RequestId, Response)) {
        for routed in self.0 {
            if routed.conn == own {
                answer(routed.id, routed.response);
            } else {
                routed.outbox.answer(routed.id, routed.response);
            }
        }
    }
}

/// What became of a request.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Answered at once.
    Answered(Response),
    /// Waiting in the engine under this ticket; its answer is routed when it completes.
    Waiting(Ticket),
    /// Not carried out: answer the request with this `Error`.
    Refused(ErrorCode, &'static str),
    /// Answered through the connection's outbox, once the store has what it changed.
    Deferred,
}

#[derive(Debug)]
struct Connection {
    pid: Pid,
    outbox: Outbox,
}

#[derive(Debug)]
struct State {
    driver: EngineDriver<(ConnId, RequestId)>,
    /// Mailboxes lent to shared-memory rings: taken back before anything else touches them.
    rings: LentRings,
    connections: HashMap<ConnId, Connection>,
    next_conn: u64,
    shutting_down: bool,
}

/// The shared engine and its routing. See the module docs.
#[derive(Debug)]
pub(crate) struct Hub {
    state: Mutex<State>,
    /// The store of durable mailboxes, when the daemon has a state directory.
    writer: Option<StoreWriter>,
    /// Told when a lease now ends sooner than the lease clock was waiting for.
    lease_clock: Notify,
}

impl Hub {
    /// A hub around a new engine with `limits`.
    pub(crate) fn new(limits: Limits) -> Hub {
        Hub {
            state: Mutex::new(State {
                driver: EngineDriver::new(Engine::new(limits)),
                rings: LentRings::default(),
                connections: HashMap::new(),
                next_conn: 1,
                shutting_down: false,
            }),
            lease_clock: Notify::new(),
            writer: None,
        }
    }

    /// A hub whose durable mailboxes `writer` keeps, restored from `stored`, keeping `budget`
    /// of each in memory while the rest is on disk.
    ///
    /// # Errors
    ///
    /// When a stored mailbox cannot be restored: the store is not what a daemon wrote.
    pub(crate) fn with_store(
        limits: Limits,
        budget: ResidentBudget,
        writer: StoreWriter,
        stored: Vec<StoredMailbox>,
    ) -> Result<Hub, String> {
        let mut hub = Hub::new(limits);
        hub.writer = Some(writer);
        {
            let state = hub.state.get_mut().unwrap_or_else(|p| p.into_inner());
            let engine = state.driver.engine_mut();
            engine.enable_durability();
            engine.set_resident_budget(budget);
            for mailbox in stored {
                let id = mailbox.record.id;
                engine.restore_with_tail(
                    mailbox.record,
                    mailbox.messages,
                    mailbox.tail,
                    mailbox.next_seq,
                )?;
                engine.restore_producers(id, mailbox.producers)?;
            }
            // Restoring journals nothing; anything it did is already stored.
            let _ = engine.drain_journal();
        }
        Ok(hub)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The engine does not panic on any input; if it ever did, its state is still the last
        // consistent one, and carrying on beats taking every connection down.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a connection: spawns its process with `creds`, recording which OS process it is
    /// (`os`, for `ps`). `None` once shutting down.
    pub(crate) fn connect(
        &self,
        creds: Credentials,
        os: OsProcess,
        outbox: Outbox,
    ) -> Option<(ConnId, Pid)> {
        let mut state = self.lock();
        if state.shutting_down {
            return None;
        }
        let conn = ConnId(state.next_conn);
        state.next_conn += 1;
        let pid = state.driver.engine_mut().spawn_with(creds, os, now());
        state.connections.insert(conn, Connection { pid, outbox });
        Some((conn, pid))
    }

    /// Carries out request `id` of connection `conn`.
    pub(crate) fn request(
        &self,
        conn: ConnId,
        id: RequestId,
        request: Request,
    ) -> (Outcome, Routed) {
        let mut guard = self.lock();
        let state = &mut *guard;
        let Some(connection) = state.connections.get(&conn) else {
            return (
                Outcome::Refused(ErrorCode::SHUTTING_DOWN, GONE),
                Routed::default(),
            );
        };
        if state.shutting_down {
            return (
                Outcome::Refused(ErrorCode::SHUTTING_DOWN, GONE),
                Routed::default(),
            );
        }
        let pid = connection.pid;
        if state.rings.any() {
            state
                .rings
                .reclaim_for(state.driver.engine_mut(), &request.concerns());
        }
        if let Err(refused) = self.page_in_before(state, &request) {
            let routed = state.route_completions();
            return (refused, self.hold_if_stored(state, routed, None).1);
        }
        let lease_ended = state.driver.engine().next_lease_expiry();
        // What lent rings may hold is reserved against the queued-bytes quota; a send the quota
        // refuses only because of reservations is carried out again once they are taken back,
        // so lending never refuses a send the engine alone would take.
        let again = (state.rings.any() && may_hit_the_quota(&request)).then(|| request.clone());
        let mut carried = state.driver.apply(pid, request, now(), || (conn, id));
        if let (Some(request), Carried::Now(response)) = (again, &carried)
            && refused_for_the_quota(response)
            && state.driver.engine().delegated_bytes() > 0
        {
            state.rings.reclaim_all(state.driver.engine_mut());
            carried = state.driver.apply(pid, request, now(), || (conn, id));
        }
        let outcome = match carried {
            Carried::Now(response) => Outcome::Answered(response),
            Carried::Waiting(ticket) => Outcome::Waiting(ticket),
        };
        self.page_in_low(state);
        let lease_ends = state.driver.engine().next_lease_expiry();
        if lease_ends.is_some_and(|at| lease_ended.is_none_or(|before| at < before)) {
            self.lease_clock.notify_one();
        }
        let routed = state.route_completions();
        match outcome {
            Outcome::Answered(response) => {
                let (answer, routed) =
                    self.hold_if_stored(state, routed, Some((conn, id, response)));
                (answer.map_or(Outcome::Deferred, Outcome::Answered), routed)
            }
            waiting => (waiting, self.hold_if_stored(state, routed, None).1),
        }
    }

    /// Pages in what `request` needs of the durable mailboxes it touches (see [`mod@page_in`]),
    /// so that the engine answers it exactly as if they were wholly in memory.
    ///
    /// # Errors
    ///
    /// When the store cannot be read: the request is refused rather than answered from part of
    /// a queue.
    fn page_in_before(&self, state: &mut State, request: &Request) -> Result<(), Outcome> {
        let Some(writer) = &self.writer else {
            return Ok(());
        };
        for (mailbox, need) in page_in::needs(request) {
            let Some(page) = state.driver.engine().page_in_before(mailbox, need) else {
                continue;
            };
            if let Err(why) = page_in(state, writer, page) {
                tracing::error!(mailbox = mailbox.as_raw(), %why, "paging in a durable mailbox failed; the request is refused");
                return Err(Outcome::Refused(ErrorCode::INTERNAL, READ_FAILED));
            }
        }
        Ok(())
    }

    /// Pages in every durable mailbox whose messages in memory ran low. A failure is logged and
    /// tried again after the next request; the mailbox answers from what it holds meanwhile.
    fn page_in_low(&self, state: &mut State) {
        let Some(writer) = &self.writer else {
            return;
        };
        while let Some(page) = state.driver.engine().next_page_in() {
            if let Err(why) = page_in(state, writer, page) {
                tracing::error!(
                    mailbox = page.mailbox.as_raw(),
                    %why,
                    "paging in a durable mailbox failed; it is tried again after the next request"
                );
                return;
            }
        }
    }

    /// When the last engine call changed durable mailboxes: hands the changes to the store
    /// writer with every answer the call produced (`own`: the caller's answer to request
    /// `own.1` of connection `own.0`), to be released once they are durable. Otherwise gives
    /// them back to be delivered now.
    fn hold_if_stored(
        &self,
        state: &mut State,
        routed: Routed,
        own: Option<(ConnId, RequestId, Response)>,
    ) -> (Option<Response>, Routed) {
        let journaled = state.driver.engine().has_journal();
        let (Some(writer), true) = (&self.writer, journaled) else {
            return (own.map(|(_, _, response)| response), routed);
        };
        let changes = state.driver.engine_mut().drain_journal();
        let mut held: Vec<Held> = routed
            .0
            .into_iter()
            .map(|answer| Held {
                outbox: answer.outbox,
                id: answer.id,
                response: answer.response,
            })
            .collect();
        if let Some((conn, id, response)) = own {
            if let Some(connection) = state.connections.get(&conn) {
                held.push(Held {
                    outbox: connection.outbox.clone(),
                    id,
                    response,
                });
            }
        }
        writer.submit(changes, held);
        (None, Routed::default())
    }

    /// Ends the leases whose time is up, answering whoever their messages went to; returns when
    /// the next lease ends, if any does.
    pub(crate) fn expire_leases(&self) -> Option<Timestamp> {
        let mut state = self.lock();
        let now = now();
        let engine = state.driver.engine_mut();
        if engine.next_lease_expiry().is_some_and(|at| at <= now) {
            engine.expire_leases(now);
        }
        let next = state.driver.engine().next_lease_expiry();
        let routed = state.route_completions();
        let routed = self.hold_if_stored(&mut state, routed, None).1;
        drop(state);
        routed.post();
        next
    }

    /// Resolves when a lease was taken that ends sooner than any before it (or already was,
    /// since the last call): the lease clock then looks again.
    pub(crate) async fn lease_taken(&self) {
        self.lease_clock.notified().await;
    }

    /// Withdraws the request waiting under `ticket`: its withdrawal's answer (`Timeout`, a send's
    /// message handed back), or `None` when it no longer waits (its answer was already routed).
    pub(crate) fn cancel(
        &self,
        conn: ConnId,
        id: RequestId,
        ticket: Ticket,
    ) -> (Option<Response>, Routed) {
        let mut guard = self.lock();
        let state = &mut *guard;
        let withdrawn = state.driver.withdraw(ticket, now());
        let answer = withdrawn
            .and_then(|(_, withdrawal)| withdrawal)
            .map(|withdrawal| withdrawal.response(SendErrorKind::Timeout, RecvError::Timeout));
        let routed = state.route_completions();
        self.hold_if_stored(state, routed, answer.map(|response| (conn, id, response)))
    }

    /// Forgets connection `conn` and terminates its process at once: its requests in flight
    /// (`tickets`) are abandoned unanswered, and whoever waits on the process is told
    /// (`PeerGone`, `Gone`, down notifications).
    pub(crate) fn disconnect(
        &self,
        conn: ConnId,
        tickets: impl IntoIterator<Item = Ticket>,
    ) -> Routed {
        let mut state = self.lock();
        let Some(connection) = state.connections.remove(&conn) else {
            return Routed::default();
        };
        for ticket in tickets {
            state.driver.forget(ticket);
        }
        let State { driver, rings, .. } = &mut *state;
        rings.reclaim_naming(driver.engine_mut(), connection.pid);
        driver.engine_mut().terminate(connection.pid, now());
        rings.forget_deleted(driver.engine_mut());
        let routed = state.route_completions();
        self.hold_if_stored(&mut state, routed, None).1
    }

    /// Answers request `id` of connection `conn` through its outbox: for an answer that came
    /// from another node. Dropped if the connection is gone.
    pub(crate) fn answer(&self, conn: ConnId, id: RequestId, response: Response) {
        if let Some(connection) = self.lock().connections.get(&conn) {
            connection.outbox.answer(id, response);
        }
    }

    /// Fails request `id` of connection `conn` with an `Error`, through its outbox.
    pub(crate) fn fail(&self, conn: ConnId, id: RequestId, code: ErrorCode, message: String) {
        if let Some(connection) = self.lock().connections.get(&conn) {
            connection.outbox.fail(id, code, message);
        }
    }

    /// Makes `pid` run as `creds`: a proxy of another node's process, acting with the
    /// credentials its node verified.
    pub(crate) fn set_credentials(&self, pid: Pid, creds: Credentials) {
        let mut state = self.lock();
        let State { driver, rings, .. } = &mut *state;
        rings.reclaim_naming(driver.engine_mut(), pid);
        driver.engine_mut().set_credentials(pid, creds);
    }

    /// Lends `mailbox` to a shared-memory ring for connection `conn`'s process, or hands it the
    /// ring the mailbox is lent to already (see [`LentRings`]): its terms, and the ring whose
    /// descriptor goes beside the answer. `None`: not lent now.
    pub(crate) fn lend_ring(
        &self,
        conn: ConnId,
        mailbox: MailboxId,
    ) -> Option<(RingTerms, Arc<Ring<Segment>>)> {
        let mut state = self.lock();
        if state.shutting_down {
            return None;
        }
        let pid = state.connections.get(&conn)?.pid;
        let State { driver, rings, .. } = &mut *state;
        rings.lend(driver.engine_mut(), mailbox, pid)
    }

    /// Whether `pid` is a live process.
    pub(crate) fn is_alive(&self, pid: Pid) -> bool {
        self.lock().driver.engine().is_alive(pid)
    }

    /// Starts shutting down: no connection or request is accepted any more. Each connection's
    /// task, told to stop, answers its own requests in flight. Returns how many connections are
    /// open.
    pub(crate) fn shut_down(&self) -> usize {
        let mut state = self.lock();
        state.shutting_down = true;
        state.connections.len()
    }

    /// The engine-wide statistics and the first `max_mailboxes` mailboxes' by name, for the
    /// metrics endpoint: see [`Engine::census`].
    pub(crate) fn census(&self, max_mailboxes: usize) -> Census {
        let mut state = self.lock();
        // The statistics must be the engine's own: lent mailboxes come back first (their users
        // are lent them again when they next ask).
        let State { driver, rings, .. } = &mut *state;
        rings.reclaim_all(driver.engine_mut());
        driver.engine().census(max_mailboxes)
    }

    /// Whether [`Hub::shut_down`] was called.
    #[cfg(test)]
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.lock().shutting_down
    }
}

/// Whether `request` may be refused for the queued-bytes quota (it queues a message).
fn may_hit_the_quota(request: &Request) -> bool {
    matches!(
        request,
        Request::Send { .. }
            | Request::ProducerSend { .. }
            | Request::SendBatch { .. }
            | Request::Call { .. }
    )
}

/// Whether `response` refused a message for the queued-bytes quota, having done nothing else (a
/// batch that sent some first is not carried out again: they would be sent twice).
fn refused_for_the_quota(response: &Response) -> bool {
    match response {
        Response::SendFailed(error) => error.kind() == SendErrorKind::QuotaExceeded,
        Response::SentBatch {
            sent: 0,
            failed: Some(error),
            ..
        } => error.kind() == SendErrorKind::QuotaExceeded,
        Response::CallFailed(error) => error.kind() == CallErrorKind::QuotaExceeded,
        _ => false,
    }
}

/// Why a request was not carried out during shutdown.
const GONE: &str = "the daemon is shutting down";

/// Why a request was not carried out when its mailbox could not be paged in.
const READ_FAILED: &str = "the daemon could not read the mailbox's messages from its store (see \
                           its log); try again";

/// Reads what `page` asks for and hands it to the engine.
fn page_in(state: &mut State, writer: &StoreWriter, page: PageIn) -> Result<(), String> {
    let messages = writer.read(page)?;
    state
        .driver
        .engine_mut()
        .page_in(page.mailbox, messages, now())
}

impl State {
    /// Turns every completion the last engine call produced into an answer for its request.
    fn route_completions(&mut self) -> Routed {
        let mut out = Routed::default();
        while let Some(((conn, id), response)) = self.driver.poll_completion() {
            let Some(connection) = self.connections.get(&conn) else {
                continue;
            };
            out.0.push(Answer {
                conn,
                outbox: connection.outbox.clone(),
                id,
                response,
            });
        }
        out
    }
}

/// The current wall-clock time as the engine's timestamp.
pub(crate) fn now() -> Timestamp {
    Timestamp::from_system_time(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use postbox_core::{Branch, Message, RecvError, Selector, Source, Wait};
    use postbox_wire::Target;

    use super::*;
    use crate::outbox::{OutboxReceiver, outbox};

    fn id(raw: u64) -> RequestId {
        RequestId::new(raw).unwrap()
    }

    /// A connection whose outbox the test reads directly.
    fn connect(hub: &Hub) -> (ConnId, Pid, OutboxReceiver) {
        let (outbox, receiver) = outbox();
        let (conn, pid) = hub
            .connect(Credentials::new(1000, 1000), OsProcess::UNKNOWN, outbox)
            .unwrap();
        (conn, pid, receiver)
    }

    fn recv_from(pid: Pid) -> Request {
        Request::Recv {
            branches: vec![Branch::new(Source::Inbox, Selector::From(pid))],
            wait: Wait::Block,
        }
    }

    fn waiting(outcome: Outcome) -> Ticket {
        match outcome {
            Outcome::Waiting(ticket) => ticket,
            other => panic!("expected to wait: {other:?}"),
        }
    }

    #[test]
    fn a_completion_is_routed_to_the_request_that_waited() {
        let hub = Hub::new(Limits::default());
        let (a, a_pid, _a_out) = connect(&hub);
        let (b, b_pid, mut b_out) = connect(&hub);
        let (outcome, routed) = hub.request(b, id(5), recv_from(a_pid));
        waiting(outcome);
        routed.deliver(b, |_, _| panic!("nothing completed yet"));
        let send = Request::Send {
            target: Target::Process(b_pid),
            message: Message::new("hi"),
            delivery: postbox_core::Delivery::Queued,
            wait: Wait::Block,
        };
        let (outcome, routed) = hub.request(a, id(1), send);
        assert!(matches!(outcome, Outcome::Answered(Response::Sent { .. })));
        routed.deliver(a, |_, _| panic!("a's own request was answered at once"));
        let (answered, response) = b_out.try_next().expect("b's recv was routed to b");
        assert_eq!(answered, id(5));
        let crate::outbox::Reply::Answer(response) = response else {
            panic!("{response:?}")
        };
        let Response::Received { message, .. } = *response else {
            panic!("{response:?}")
        };
        assert_eq!(
            (message.sender, message.message.payload.as_ref()),
            (a_pid, &b"hi"[..])
        );
        hub.disconnect(a, []).deliver(a, |_, _| {});
        hub.disconnect(b, []).deliver(b, |_, _| {});
    }

    #[test]
    fn cancel_answers_timeout_and_a_second_cancel_finds_nothing() {
        let hub = Hub::new(Limits::default());
        let (a, a_pid, _a_out) = connect(&hub);
        let (outcome, _) = hub.request(a, id(3), recv_from(a_pid));
        let ticket = waiting(outcome);
        let (answer, _) = hub.cancel(ConnId(0), id(1), ticket);
        let Some(Response::RecvFailed(error)) = answer else {
            panic!("{answer:?}")
        };
        assert_eq!(error.error, RecvError::Timeout);
        assert!(hub.cancel(ConnId(0), id(1), ticket).0.is_none());
        hub.disconnect(a, []).deliver(a, |_, _| {});
    }

    #[test]
    fn shutting_down_refuses_requests_and_newcomers() {
        let hub = Hub::new(Limits::default());
        let (a, _, _a_out) = connect(&hub);
        assert_eq!(hub.shut_down(), 1);
        assert!(hub.is_shutting_down());
        let (outcome, _) = hub.request(a, id(7), Request::NodeStats);
        assert!(matches!(
            outcome,
            Outcome::Refused(ErrorCode::SHUTTING_DOWN, _)
        ));
        let (outbox, _receiver) = outbox();
        assert!(
            hub.connect(Credentials::new(1, 1), OsProcess::UNKNOWN, outbox)
                .is_none()
        );
        hub.disconnect(a, []).deliver(a, |_, _| {});
    }
}

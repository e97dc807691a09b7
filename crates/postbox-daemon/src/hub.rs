//! The hub: the one engine every connection shares, and the routing of its completions.
//!
//! The engine sits behind a `std` mutex: every operation on it is short and never waits, so the
//! lock is never held across an `.await`. Each connection is registered with its process's pid,
//! its [`Outbox`] and its requests in flight (request id → ticket); a table maps each waiting
//! [`Ticket`] back to its connection and request id.
//!
//! After every engine call the hub drains [`Engine::poll_completion`] under the same lock, so a
//! route is always registered before its ticket can complete, and a `Cancel` that finds its
//! ticket no longer waiting knows the completion's answer was already routed. The answers
//! themselves ([`Deliveries`]) are encoded and queued after the lock is released.
//!
//! A request is answered exactly as the in-process transport answers it: [`postbox_wire::apply`],
//! then [`completion_response`] for a ticket that completes, [`cancelled_response`] for one
//! withdrawn by `Cancel`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use postbox_core::{Credentials, Engine, Limits, Pid, Ticket, Timestamp};
use postbox_wire::{
    Applied, ErrorCode, OperationError, Request, RequestId, Response, apply, cancelled_response,
    completion_response,
};

use crate::outbox::Outbox;

/// A connection, as the hub knows it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct ConnId(u64);

/// An answer to queue on a connection, once the lock is released.
#[derive(Debug)]
pub(crate) struct Delivery {
    outbox: Outbox,
    id: RequestId,
    answer: Answer,
}

#[derive(Debug)]
enum Answer {
    Response(Box<Response>),
    Error(ErrorCode, String),
}

/// Answers produced under the lock; [`Deliveries::send`] queues them.
#[derive(Debug, Default)]
#[must_use = "answers are lost unless sent"]
pub(crate) struct Deliveries(Vec<Delivery>);

impl Deliveries {
    /// Adds `other`'s answers after these.
    pub(crate) fn append(&mut self, mut other: Deliveries) {
        self.0.append(&mut other.0);
    }

    /// Queues every answer on its connection's outbox (encoding it there).
    pub(crate) fn send(self) {
        for Delivery { outbox, id, answer } in self.0 {
            match answer {
                Answer::Response(response) => outbox.respond(id, response),
                Answer::Error(code, message) => outbox.error(Some(id), code, message),
            }
        }
    }
}

/// A request the connection must not carry on after.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Violation {
    /// A `Request` reused an id still in flight on its connection.
    DuplicateId(RequestId),
}

#[derive(Debug)]
struct Connection {
    pid: Pid,
    outbox: Outbox,
    in_flight: HashMap<RequestId, Ticket>,
}

#[derive(Debug)]
struct State {
    engine: Engine,
    connections: HashMap<ConnId, Connection>,
    /// Every waiting ticket: whose it is, and which request it answers.
    routes: HashMap<Ticket, (ConnId, RequestId)>,
    next_conn: u64,
    shutting_down: bool,
}

/// The shared engine and its routing table. See the module docs.
#[derive(Debug)]
pub(crate) struct Hub {
    state: Mutex<State>,
    max_in_flight: usize,
}

impl Hub {
    /// A hub around a new engine with `limits`, allowing `max_in_flight` waiting requests per
    /// connection.
    pub(crate) fn new(limits: Limits, max_in_flight: usize) -> Hub {
        Hub {
            state: Mutex::new(State {
                engine: Engine::new(limits),
                connections: HashMap::new(),
                routes: HashMap::new(),
                next_conn: 1,
                shutting_down: false,
            }),
            max_in_flight,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The engine does not panic on any input; if it ever did, its state is still the last
        // consistent one, and carrying on beats taking every connection down.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a connection: spawns its process with `creds`. `None` once shutting down.
    pub(crate) fn connect(&self, creds: Credentials, outbox: Outbox) -> Option<(ConnId, Pid)> {
        let mut state = self.lock();
        if state.shutting_down {
            return None;
        }
        let conn = ConnId(state.next_conn);
        state.next_conn += 1;
        let pid = state.engine.spawn(creds, now());
        let connection = Connection {
            pid,
            outbox,
            in_flight: HashMap::new(),
        };
        state.connections.insert(conn, connection);
        Some((conn, pid))
    }

    /// Carries out request `id` of connection `conn`: `request` is its decoded payload, or why it
    /// could not be decoded (answered `MALFORMED_PAYLOAD`).
    ///
    /// # Errors
    ///
    /// [`Violation::DuplicateId`] if `id` is already in flight: the connection must be closed.
    pub(crate) fn request(
        &self,
        conn: ConnId,
        id: RequestId,
        request: Result<Request, OperationError>,
    ) -> Result<Deliveries, Violation> {
        let mut guard = self.lock();
        let state = &mut *guard;
        let mut out = Deliveries::default();
        let Some(connection) = state.connections.get_mut(&conn) else {
            return Ok(out);
        };
        if connection.in_flight.contains_key(&id) {
            return Err(Violation::DuplicateId(id));
        }
        let refuse = |code, message: String| Delivery {
            outbox: connection.outbox.clone(),
            id,
            answer: Answer::Error(code, message),
        };
        let request = match request {
            _ if state.shutting_down => {
                let message = "the daemon is shutting down".to_owned();
                out.0.push(refuse(ErrorCode::SHUTTING_DOWN, message));
                return Ok(out);
            }
            Err(error) => {
                out.0
                    .push(refuse(ErrorCode::MALFORMED_PAYLOAD, error.to_string()));
                return Ok(out);
            }
            Ok(_) if connection.in_flight.len() >= self.max_in_flight => {
                let message = format!(
                    "{} requests are already in flight on this connection (the limit)",
                    connection.in_flight.len()
                );
                out.0.push(refuse(ErrorCode::LIMIT_EXCEEDED, message));
                return Ok(out);
            }
            Ok(request) => request,
        };
        match apply(&mut state.engine, connection.pid, request, now()) {
            Applied::Now(response) => out.0.push(Delivery {
                outbox: connection.outbox.clone(),
                id,
                answer: Answer::Response(Box::new(response)),
            }),
            Applied::Blocked(ticket) => {
                connection.in_flight.insert(id, ticket);
                state.routes.insert(ticket, (conn, id));
            }
        }
        state.route_completions(&mut out);
        Ok(out)
    }

    /// Withdraws request `id` of connection `conn` if it still waits: it is then answered with
    /// [`cancelled_response`] (`Timeout`, a send's message handed back). An id not in flight is
    /// ignored: its answer was already queued.
    pub(crate) fn cancel(&self, conn: ConnId, id: RequestId) -> Deliveries {
        let mut guard = self.lock();
        let state = &mut *guard;
        let mut out = Deliveries::default();
        let Some(connection) = state.connections.get_mut(&conn) else {
            return out;
        };
        let Some(ticket) = connection.in_flight.remove(&id) else {
            return out;
        };
        state.routes.remove(&ticket);
        if let Some(cancelled) = state.engine.cancel(ticket, now()) {
            out.0.push(Delivery {
                outbox: connection.outbox.clone(),
                id,
                answer: Answer::Response(Box::new(cancelled_response(cancelled))),
            });
        }
        state.route_completions(&mut out);
        out
    }

    /// Forgets connection `conn` and terminates its process at once: its requests in flight are
    /// abandoned unanswered, and whoever waits on the process is told (`PeerGone`, `Gone`, down
    /// notifications).
    pub(crate) fn disconnect(&self, conn: ConnId) -> Deliveries {
        let mut guard = self.lock();
        let state = &mut *guard;
        let mut out = Deliveries::default();
        let Some(connection) = state.connections.remove(&conn) else {
            return out;
        };
        for ticket in connection.in_flight.values() {
            state.routes.remove(ticket);
        }
        state.engine.terminate(connection.pid, now());
        state.route_completions(&mut out);
        out
    }

    /// Starts shutting down: no connection or request is accepted any more, and every connection
    /// is sent `Error SHUTTING_DOWN` for each request in flight, then `Close`, then its writer
    /// finishes. Returns how many connections were told.
    pub(crate) fn shut_down(&self) -> usize {
        let mut told = Vec::new();
        {
            let mut guard = self.lock();
            let state = &mut *guard;
            state.shutting_down = true;
            state.routes.clear();
            for connection in state.connections.values_mut() {
                let ids: Vec<RequestId> = connection.in_flight.drain().map(|(id, _)| id).collect();
                told.push((connection.outbox.clone(), ids));
            }
        }
        let count = told.len();
        for (outbox, ids) in told {
            for id in ids {
                outbox.error(
                    Some(id),
                    ErrorCode::SHUTTING_DOWN,
                    "the daemon is shutting down",
                );
            }
            outbox.push(postbox_wire::Frame::close());
            outbox.finish();
        }
        count
    }

    /// Whether [`Hub::shut_down`] was called.
    #[cfg(test)]
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.lock().shutting_down
    }
}

impl State {
    /// Turns every completion the last engine call produced into an answer for its request.
    fn route_completions(&mut self, out: &mut Deliveries) {
        while let Some((ticket, completion)) = self.engine.poll_completion() {
            let Some((conn, id)) = self.routes.remove(&ticket) else {
                continue;
            };
            let Some(connection) = self.connections.get_mut(&conn) else {
                continue;
            };
            connection.in_flight.remove(&id);
            out.0.push(Delivery {
                outbox: connection.outbox.clone(),
                id,
                answer: Answer::Response(Box::new(completion_response(completion))),
            });
        }
    }
}

/// The current wall-clock time as the engine's timestamp.
fn now() -> Timestamp {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_nanos(u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use postbox_core::{Branch, Message, RecvError, Selector, Source, Wait};
    use postbox_wire::{Frame, FrameKind, Target, decode_response};

    use super::*;
    use crate::outbox::{OutboxReceiver, outbox};

    fn id(raw: u64) -> RequestId {
        RequestId::new(raw).unwrap()
    }

    /// A connection whose outbox the test reads directly.
    fn connect(hub: &Hub) -> (ConnId, Pid, OutboxReceiver) {
        let (outbox, receiver) = outbox();
        let (conn, pid) = hub.connect(Credentials::new(1000, 1000), outbox).unwrap();
        (conn, pid, receiver)
    }

    fn recv_from(pid: Pid) -> Request {
        Request::Recv {
            branches: vec![Branch::new(Source::Inbox, Selector::From(pid))],
            wait: Wait::Block,
        }
    }

    /// The frames queued so far, written out and decoded.
    async fn frames(receiver: OutboxReceiver) -> Vec<Frame> {
        let (ours, mut theirs) = tokio::io::duplex(1 << 20);
        let writer = tokio::spawn(crate::outbox::write_loop(
            ours,
            receiver,
            postbox_wire::FrameEncoder::default(),
        ));
        let mut bytes = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut theirs, &mut bytes)
            .await
            .unwrap();
        writer.await.unwrap();
        let mut bytes = bytes::BytesMut::from(&bytes[..]);
        let mut decoder = postbox_wire::FrameDecoder::default();
        std::iter::from_fn(|| decoder.decode(&mut bytes).unwrap()).collect()
    }

    #[tokio::test]
    async fn a_completion_is_routed_to_the_request_that_waited() {
        let hub = Hub::new(Limits::default(), 8);
        let (a, a_pid, a_out) = connect(&hub);
        let (b, b_pid, b_out) = connect(&hub);
        hub.request(b, id(5), Ok(recv_from(a_pid))).unwrap().send();
        let send = Request::Send {
            target: Target::Process(b_pid),
            message: Message::new("hi"),
            delivery: postbox_core::Delivery::Queued,
            wait: Wait::Block,
        };
        hub.request(a, id(1), Ok(send)).unwrap().send();
        hub.disconnect(a).send();
        hub.disconnect(b).send();
        // Disconnecting drops the hub's outboxes; the writers finish once every sender is gone.
        let b_frames = frames(b_out).await;
        assert_eq!(b_frames.len(), 1);
        assert_eq!(b_frames[0].request_id(), Some(id(5)));
        let Response::Received { message, .. } = decode_response(b_frames[0].payload()).unwrap()
        else {
            panic!("{b_frames:?}")
        };
        assert_eq!(
            (message.sender, message.message.payload.as_ref()),
            (a_pid, &b"hi"[..])
        );
        let a_frames = frames(a_out).await;
        assert_eq!(a_frames.len(), 1);
        assert_eq!(a_frames[0].kind(), FrameKind::Response);
    }

    #[tokio::test]
    async fn cancel_answers_timeout_and_a_second_cancel_is_ignored() {
        let hub = Hub::new(Limits::default(), 8);
        let (a, a_pid, a_out) = connect(&hub);
        hub.request(a, id(3), Ok(recv_from(a_pid))).unwrap().send();
        hub.cancel(a, id(3)).send();
        hub.cancel(a, id(3)).send();
        hub.disconnect(a).send();
        let frames = frames(a_out).await;
        assert_eq!(frames.len(), 1);
        let Response::RecvFailed(error) = decode_response(frames[0].payload()).unwrap() else {
            panic!("{frames:?}")
        };
        assert_eq!(error.error, RecvError::Timeout);
    }

    #[tokio::test]
    async fn duplicate_ids_violate_and_the_limit_refuses_the_excess() {
        let hub = Hub::new(Limits::default(), 1);
        let (a, a_pid, a_out) = connect(&hub);
        hub.request(a, id(1), Ok(recv_from(a_pid))).unwrap().send();
        assert_eq!(
            hub.request(a, id(1), Ok(Request::NodeStats)).unwrap_err(),
            Violation::DuplicateId(id(1))
        );
        hub.request(a, id(2), Ok(Request::NodeStats))
            .unwrap()
            .send();
        hub.disconnect(a).send();
        let frames = frames(a_out).await;
        assert_eq!(frames.len(), 1);
        assert_eq!(
            (frames[0].kind(), frames[0].request_id()),
            (FrameKind::Error, Some(id(2)))
        );
        let body = postbox_wire::ErrorBody::decode(frames[0].payload()).unwrap();
        assert_eq!(body.code(), ErrorCode::LIMIT_EXCEEDED);
    }

    #[tokio::test]
    async fn shutting_down_answers_waiters_then_closes_and_refuses_newcomers() {
        let hub = Hub::new(Limits::default(), 8);
        let (a, a_pid, a_out) = connect(&hub);
        hub.request(a, id(7), Ok(recv_from(a_pid))).unwrap().send();
        assert_eq!(hub.shut_down(), 1);
        assert!(hub.is_shutting_down());
        let (outbox, _receiver) = outbox();
        assert!(hub.connect(Credentials::new(1, 1), outbox).is_none());
        let frames = frames(a_out).await;
        let kinds: Vec<_> = frames.iter().map(|f| (f.kind(), f.request_id())).collect();
        assert_eq!(
            kinds,
            [(FrameKind::Error, Some(id(7))), (FrameKind::Close, None)]
        );
        hub.disconnect(a).send();
    }
}

//! The client session of one daemon connection, shared by the threads that use it: requests go
//! in from any thread, answers come out to the slots of the requests that wait for them.

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use postbox_core::{CallError, CallErrorKind, ReplyError, SendError, SendErrorKind};
use postbox_wire::session::Departure;
use postbox_wire::{
    ClientEvent, ClientSession, Request, RequestError, RequestFailure, RequestId, Response,
};
use rustc_hash::FxHashMap;

use crate::transport::{Answer, Failure, Slot};

/// The session, the slots of its requests in flight, and who writes.
#[derive(Debug)]
struct Inner {
    session: ClientSession,
    slots: FxHashMap<RequestId, Arc<Slot>>,
    /// A thread is writing the session's output; whatever is queued meanwhile, it writes too.
    writing: bool,
    /// An empty buffer with room, traded for the session's output each time a writer takes it,
    /// so that neither side allocates per write.
    spare: BytesMut,
}

/// Bytes a thread has taken on to write, and the attached payloads of frames among them: it is
/// the connection's writer until it has written them and found nothing more queued (see
/// [`SharedSession::written`]).
#[derive(Debug)]
#[must_use = "queued bytes are stranded unless written"]
pub(crate) struct ToWrite(pub(crate) BytesMut, pub(crate) Vec<Departure>);

/// Answers to hand to their slots, outside the session's lock.
#[derive(Debug, Default)]
#[must_use = "waiting requests hang unless their answers are delivered"]
pub(crate) struct Deliveries(Vec<(Arc<Slot>, Answer)>);

impl Deliveries {
    /// Fills every slot.
    pub(crate) fn deliver(self) {
        for (slot, answer) in self.0 {
            slot.fill(answer);
        }
    }
}

/// What [`SharedSession::request`] did.
#[derive(Debug)]
pub(crate) enum Sent {
    /// The request is on its way under this id; its answer lands in the slot.
    Pending(RequestId, Option<ToWrite>),
    /// It was answered without leaving (too large for the connection, or the connection is
    /// gone).
    Now(Answer),
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct SharedSession {
    inner: Mutex<Inner>,
}

impl SharedSession {
    /// Shares an open session.
    pub(crate) fn new(session: ClientSession) -> SharedSession {
        SharedSession {
            inner: Mutex::new(Inner {
                session,
                slots: FxHashMap::default(),
                writing: false,
                spare: BytesMut::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing under this lock panics on any input; carry on after a panic elsewhere.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the connection is over.
    pub(crate) fn is_ended(&self) -> bool {
        self.lock().session.is_ended()
    }

    /// Sends `request`, its answer to land in `slot`.
    pub(crate) fn request(&self, request: Request, slot: &Arc<Slot>) -> Sent {
        let mut inner = self.lock();
        match inner.session.request(&request, None) {
            Ok(id) => {
                inner.slots.insert(id, slot.clone());
                Sent::Pending(id, inner.take_output())
            }
            Err(RequestError::TooLarge { .. }) => Sent::Now(Ok(too_large(request))),
            Err(RequestError::Connecting | RequestError::Closed) => {
                Sent::Now(Err(Failure::Disconnected))
            }
        }
    }

    /// Asks the daemon to withdraw request `id`.
    pub(crate) fn cancel(&self, id: RequestId) -> Option<ToWrite> {
        let mut inner = self.lock();
        inner.session.cancel(id);
        inner.take_output()
    }

    /// Ends this side: `Close` is queued; answers still arriving are delivered.
    pub(crate) fn close(&self) -> Option<ToWrite> {
        let mut inner = self.lock();
        inner.session.close();
        inner.take_output()
    }

    /// Hands bytes read from the daemon to the session: the answers they complete, and any
    /// bytes the session now has to send (an `Error` telling the daemon it broke the protocol).
    /// They are copied straight into the session's buffer, which has room for the frame they
    /// belong to.
    ///
    /// `payloads`: the attached payloads that came with these bytes (mapped from the descriptors
    /// the read carried), or why the read's descriptors were refused.
    pub(crate) fn input(
        &self,
        bytes: &[u8],
        payloads: Result<Vec<Bytes>, String>,
    ) -> (Deliveries, Option<ToWrite>) {
        let mut inner = self.lock();
        inner.session.read_buffer().extend_from_slice(bytes);
        match payloads {
            Ok(payloads) if payloads.is_empty() => {}
            Ok(payloads) => inner.session.handle_attachments(bytes.len(), payloads),
            Err(why) => inner.session.refuse_attachments(why),
        }
        let deliveries = inner.deliveries();
        (deliveries, inner.take_output())
    }

    /// The stream has ended (or could not be read or written): every waiting request is
    /// answered `Disconnected`.
    pub(crate) fn end(&self) -> Deliveries {
        let mut inner = self.lock();
        inner.session.handle_end();
        inner.writing = false;
        inner.deliveries()
    }

    /// Nudges every waiting request's thread, so that one of them takes over reading.
    pub(crate) fn nudge_all(&self) {
        for slot in self.lock().slots.values() {
            slot.nudge();
        }
    }

    /// The writer wrote what it had taken on (`done`, given back for reuse): the next bytes
    /// queued since, or `None` when there are none and it is no longer the writer.
    pub(crate) fn written(&self, done: ToWrite) -> Option<ToWrite> {
        let mut inner = self.lock();
        let ToWrite(mut buffer, _) = done;
        buffer.clear();
        inner.spare = buffer;
        inner.writing = false;
        inner.take_output()
    }
}

impl Inner {
    /// The queued output, if nobody is writing already (the caller then is the writer).
    fn take_output(&mut self) -> Option<ToWrite> {
        if self.writing || self.session.transmit().is_empty() {
            return None;
        }
        self.writing = true;
        let mut output = std::mem::take(&mut self.spare);
        std::mem::swap(&mut output, self.session.transmit());
        let departures = std::iter::from_fn(|| self.session.poll_departure()).collect();
        Some(ToWrite(output, departures))
    }

    /// The answers the session produced, matched to their slots. A request nobody waits for
    /// any more (a dropped future) still has its slot, orphaned: its answer goes to the slot's
    /// handler.
    fn deliveries(&mut self) -> Deliveries {
        let mut out = Deliveries::default();
        while let Some(event) = self.session.poll_event() {
            match event {
                ClientEvent::Answer { id, result } => {
                    if let Some(slot) = self.slots.remove(&id) {
                        out.0.push((slot, answer(result)));
                    }
                }
                ClientEvent::Ended(_) => {
                    // Every request in flight was answered before this event; anything left
                    // had none in flight.
                    out.0.extend(
                        self.slots
                            .drain()
                            .map(|(_, slot)| (slot, Err(Failure::Disconnected))),
                    );
                }
                ClientEvent::Connected(_) | ClientEvent::Event { .. } => {}
            }
        }
        out
    }
}

/// How a request's end reaches its caller.
fn answer(result: Result<Response, RequestFailure>) -> Answer {
    match result {
        Ok(response) => Ok(response),
        Err(RequestFailure::ShuttingDown | RequestFailure::Disconnected) => {
            Err(Failure::Disconnected)
        }
        Err(RequestFailure::Refused(body)) => Err(Failure::Refused(body.message().to_owned())),
        Err(RequestFailure::Malformed(_)) => Err(Failure::Protocol),
    }
}

/// The answer to a request too large for the connection's frame limit: a send fails `TooLarge`
/// with its message handed back, as the engine answers a message over its size limit (a call
/// likewise, and an answer is refused `TooLarge`, its right kept). Only these can be that large
/// (names and branch lists are bounded far below the smallest frame limit).
fn too_large(request: Request) -> Response {
    match request {
        Request::Send { message, .. } | Request::ProducerSend { message, .. } => {
            Response::SendFailed(SendError::new(SendErrorKind::TooLarge, message))
        }
        // The batch as a whole is too large: every message comes back, the first as the failed
        // one (the caller retries a batch refused whole one message at a time).
        Request::SendBatch { messages, .. } => {
            let mut messages = messages.into_iter();
            let failed = match messages.next() {
                Some(first) => SendError::new(SendErrorKind::TooLarge, first),
                None => SendError::without_message(SendErrorKind::TooLarge),
            };
            Response::SentBatch {
                sent: 0,
                failed: Some(failed),
                unsent: messages.collect(),
            }
        }
        Request::Call { request, .. } => {
            Response::CallFailed(CallError::new(CallErrorKind::TooLarge, request))
        }
        Request::Reply { .. } => Response::ReplyFailed(ReplyError::TooLarge),
        _ => Response::SendFailed(SendError::without_message(SendErrorKind::Protocol)),
    }
}

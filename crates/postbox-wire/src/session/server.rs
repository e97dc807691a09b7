//! The server's session: from the client's `Hello` to the end of the connection.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use rustc_hash::FxHashSet;

use super::Ending;
use super::attachments::{Attachments, Departure};
use super::input::{Input, Next};
use crate::{
    ATTACHED, Admission, Capabilities, Codec, EncodeError, ErrorBody, ErrorCode, Frame,
    FrameConfig, FrameKind, HandshakeError, Negotiated, Request, RequestId, Response, ServerConfig,
    ServerHandshake, decode_request_shared, encode_attached, encode_response_into,
};

/// What happened on a server's connection, in order.
#[derive(Debug)]
pub enum ServerEvent {
    /// An acceptable `Hello` arrived: the driver decides, with
    /// [`ServerSession::accept`] (registering the client's process) or
    /// [`ServerSession::reject`].
    Hello(Admission),
    /// The client asks for `request` under `id`, now in flight: end it with
    /// [`ServerSession::respond`] or [`ServerSession::fail`].
    Request {
        /// The request's id.
        id: RequestId,
        /// What it asks.
        request: Request,
    },
    /// The client withdraws request `id`, still in flight: answer it with the withdrawal's
    /// response, or with its real one if that is already on its way.
    Cancel {
        /// The request.
        id: RequestId,
    },
    /// The connection is over: the client's process has ended. Requests still in flight are
    /// abandoned (nothing more is sent for them).
    Ended(Ending),
}

/// What an answer carrying several messages needs beyond their payloads and per-message
/// overhead: its variant and count.
const ANSWER_SLACK: u32 = 64;

#[derive(Debug)]
enum State {
    Handshaking(ServerHandshake),
    /// The `Hello` is admitted and the driver has not decided yet; input waits.
    Deciding(ServerHandshake),
    Open,
    Ended,
}

/// The server's side of a connection, sans-IO. See [the module docs](crate::session).
///
/// It enforces the client's side of the protocol (§5, §6): a request id already in flight, or a
/// frame kind a client may not send, ends the connection with `Error PROTOCOL_VIOLATION`; a
/// request over the in-flight limit is refused `LIMIT_EXCEEDED` and one whose payload cannot be
/// read `MALFORMED_PAYLOAD` (the connection carries on); a `Cancel` for a request not in flight
/// is ignored. A request is in flight from its [`ServerEvent::Request`] until the driver
/// [responds](Self::respond) or [fails](Self::fail) it, and is answered at most once.
#[derive(Debug)]
pub struct ServerSession {
    state: State,
    codec: Codec,
    input: Input,
    transmit: BytesMut,
    /// Bytes queued on `transmit` since the session began: the stream offset of the next frame.
    queued: u64,
    attachments: Attachments,
    max_in_flight: usize,
    in_flight: FxHashSet<RequestId>,
    events: VecDeque<ServerEvent>,
}

impl ServerSession {
    /// Awaits a client's `Hello`, with `config`'s versions, limit and authentication, allowing
    /// `max_in_flight` requests in flight at once after the handshake.
    pub fn new(config: ServerConfig, max_in_flight: usize) -> ServerSession {
        ServerSession {
            state: State::Handshaking(ServerHandshake::new(config)),
            codec: Codec::new(FrameConfig::HANDSHAKE),
            input: Input::default(),
            transmit: BytesMut::new(),
            queued: 0,
            attachments: Attachments::default(),
            max_in_flight,
            in_flight: FxHashSet::default(),
            events: VecDeque::new(),
        }
    }

    /// Whether the handshake has completed and the connection is not over.
    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open)
    }

    /// Whether the connection is over.
    pub fn is_ended(&self) -> bool {
        matches!(self.state, State::Ended)
    }

    /// How many requests are in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// The bytes to write to the client, in order. Take what you write (`split`, `advance`).
    pub fn transmit(&mut self) -> &mut BytesMut {
        &mut self.transmit
    }

    /// The next thing that happened, if any. Frames received are decoded and acted on here, one
    /// at a time, so a request's answer given before the next poll counts before the next frame
    /// is read (the in-flight limit sees requests answered at once as answered). While a `Hello`
    /// awaits the driver's decision, nothing more is read.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Some(event);
            }
            if !matches!(self.state, State::Handshaking(_) | State::Open) {
                return None;
            }
            match self.input.next(&mut self.codec) {
                Next::Frame(frame, at) => self.handle_frame(frame, at),
                Next::Ended => self.end_of_input(),
                Next::Wait => return None,
                Next::Corrupt(error) => {
                    let body = ErrorBody::new(error.code(), error.to_string());
                    self.queue(&body.to_frame(None));
                    self.end(Ending::Corrupt(error));
                }
            }
        }
    }

    /// The buffer the driver may read the client's bytes into directly (instead of
    /// [`handle_input`](Self::handle_input)); they are taken as events are polled.
    pub fn read_buffer(&mut self) -> &mut BytesMut {
        self.input.buffer()
    }

    /// Takes `input`, bytes read from the client (all of them: a partial frame waits for the
    /// rest); what they say comes out of [`poll_event`](Self::poll_event).
    pub fn handle_input(&mut self, input: &mut BytesMut) {
        self.input.take(input);
    }

    /// The client's stream has ended (a read returned 0 or failed, or a write failed). Frames
    /// already received are still carried out first.
    pub fn handle_end(&mut self) {
        self.input.end();
    }

    fn end_of_input(&mut self) {
        match self.state {
            State::Ended => {}
            State::Handshaking(_) | State::Deciding(_) => {
                self.end(Ending::Handshake(HandshakeError::Closed));
            }
            State::Open => self.end(Ending::Lost),
        }
    }

    /// Lets the client in as process `pid`: the `Welcome` is queued and the session returned.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::Finished`] when no `Hello` awaits a decision (nothing is queued).
    pub fn accept(&mut self, admission: Admission, pid: u64) -> Result<Negotiated, HandshakeError> {
        let State::Deciding(handshake) = &mut self.state else {
            return Err(HandshakeError::Finished);
        };
        let negotiated = handshake.accept(admission, pid)?;
        let welcome: Vec<Frame> = std::iter::from_fn(|| handshake.poll_transmit()).collect();
        for frame in &welcome {
            self.queue(frame);
        }
        self.codec.set_config(negotiated.frame_config());
        if negotiated.capabilities.contains(Capabilities::ATTACHMENTS) {
            self.attachments.enable();
        }
        self.state = State::Open;
        // An idle connection keeps nothing of its handshake.
        if self.events.is_empty() {
            self.events = VecDeque::new();
        }
        Ok(negotiated)
    }

    /// Turns the client away with `error` (over the connection limit, shutting down): the
    /// `Error` is queued and the connection is over.
    pub fn reject(&mut self, admission: Admission, error: ErrorBody) {
        let State::Deciding(handshake) = &mut self.state else {
            return;
        };
        handshake.reject(admission, error.clone());
        let refusal: Vec<Frame> = std::iter::from_fn(|| handshake.poll_transmit()).collect();
        for frame in &refusal {
            self.queue(frame);
        }
        self.end(Ending::Refused(error));
    }

    /// Ends the connection on the driver's decision (no `Hello` in time, say): `error` is
    /// queued for the client (request id 0) and the connection is over.
    pub fn refuse(&mut self, error: ErrorBody) {
        if self.is_ended() {
            return;
        }
        self.queue(&error.to_frame(None));
        self.end(Ending::Refused(error));
    }

    /// Ends request `id` with `response`. A response over the negotiated frame limit is replaced
    /// by `Error LIMIT_EXCEEDED` for the request, so it still ends with one final frame. Does
    /// nothing for a request not in flight (already answered, or the connection is over).
    pub fn respond(&mut self, id: RequestId, response: &Response) {
        if !self.in_flight.remove(&id) {
            return;
        }
        let before = self.transmit.len();
        let from = self.attachments.from();
        let mut attached = Vec::new();
        let encoded =
            self.codec
                .encode_with(
                    FrameKind::Response,
                    Some(id),
                    &mut self.transmit,
                    |dst| match from {
                        Some(from) => attached = encode_attached(response, from, dst),
                        None => encode_response_into(response, dst),
                    },
                );
        if encoded.is_ok() {
            self.attachments.depart(self.queued, attached);
        }
        self.queued += (self.transmit.len() - before) as u64;
        if let Err(EncodeError::TooLarge { len, max }) = encoded {
            let message =
                format!("the response is {len} bytes, over the negotiated frame limit of {max}");
            self.queue(&ErrorBody::new(ErrorCode::LIMIT_EXCEEDED, message).to_frame(Some(id)));
        }
    }

    /// Ends request `id` with an `Error` frame (`code`, `message`) instead of a response: the
    /// request could not be carried out as a request (the server is shutting down, say). Does
    /// nothing for a request not in flight.
    pub fn fail(&mut self, id: RequestId, code: ErrorCode, message: impl Into<String>) {
        if self.in_flight.remove(&id) {
            self.queue(&ErrorBody::new(code, message).to_frame(Some(id)));
        }
    }

    /// Sends an `Event` about request `id` (still in flight) or, with `None`, about the
    /// connection. Does nothing once the connection is over or for a request not in flight.
    pub fn send_event(&mut self, id: Option<RequestId>, payload: Bytes) {
        let open = self.is_open() && id.is_none_or(|id| self.in_flight.contains(&id));
        if open {
            // An event too large for the limit is the driver's bug; it is not sent.
            self.queue(&Frame::event(id, payload));
        }
    }

    /// The server is stopping: every request in flight ends with `Error SHUTTING_DOWN`, then
    /// `Close` is queued (during the handshake: an `Error SHUTTING_DOWN`), and the connection is
    /// over.
    pub fn shut_down(&mut self) {
        const MESSAGE: &str = "the daemon is shutting down";
        match self.state {
            State::Ended => return,
            State::Handshaking(_) | State::Deciding(_) => {
                let body = ErrorBody::new(ErrorCode::SHUTTING_DOWN, MESSAGE);
                self.queue(&body.to_frame(None));
            }
            State::Open => {
                let mut ids: Vec<RequestId> = self.in_flight.drain().collect();
                ids.sort_unstable();
                for id in ids {
                    let body = ErrorBody::new(ErrorCode::SHUTTING_DOWN, MESSAGE);
                    self.queue(&body.to_frame(Some(id)));
                }
                self.queue(&Frame::close());
            }
        }
        self.end(Ending::ShuttingDown);
    }

    fn queue(&mut self, frame: &Frame) {
        let before = self.transmit.len();
        // Only the protocol's own small frames are queued this way; they always fit.
        let _ = self.codec.encode(frame, &mut self.transmit);
        self.queued += (self.transmit.len() - before) as u64;
    }

    /// Attached payloads that arrived with the last read: the driver read `read` bytes (into
    /// [`read_buffer`](Self::read_buffer) or through [`handle_input`](Self::handle_input), just
    /// before this call) and, with them, these payloads (mapped from the descriptors the read
    /// carried, in order). The frames that claim them take them as events are polled.
    ///
    /// Payloads on a connection without [`Capabilities::ATTACHMENTS`](crate::Capabilities), or
    /// more than two frames' worth waiting, end the connection with `Error PROTOCOL_VIOLATION`.
    pub fn handle_attachments(&mut self, read: usize, payloads: Vec<Bytes>) {
        if self.is_ended() {
            return;
        }
        let received = self.input.received();
        if let Err(message) = self.attachments.arrived_with_read(received, read, payloads) {
            self.violation(message);
        }
    }

    /// The driver could not take what a read carried (`MSG_CTRUNC`: more descriptors than it
    /// has room for; or a descriptor it refused: not a sealed memfd) — the peer broke §7.5: the
    /// connection ends with `Error PROTOCOL_VIOLATION` saying `why`.
    pub fn refuse_attachments(&mut self, why: impl Into<String>) {
        if !self.is_ended() {
            self.violation(why.into());
        }
    }

    /// The payloads of the next frame queued with attachments, and the stream offset of its
    /// first byte: send them with the write that begins there (protocol.md §7.5). Frames are
    /// queued in stream order, so departures come in increasing `at`.
    pub fn poll_departure(&mut self) -> Option<Departure> {
        self.attachments.poll_departure()
    }

    /// How many bytes this session has queued on [`transmit`](Self::transmit) since it began:
    /// the stream offset just past the last of them, which [`Departure::at`] counts in.
    pub fn queued_total(&self) -> u64 {
        self.queued
    }

    /// Attaches payloads of at least `from` bytes (default [`DEFAULT_ATTACH_FROM`](super::DEFAULT_ATTACH_FROM)) when the
    /// handshake grants [`Capabilities::ATTACHMENTS`](crate::Capabilities).
    pub fn set_attach_from(&mut self, from: usize) {
        self.attachments.set_from(from);
    }

    fn handle_frame(&mut self, frame: Frame, at: u64) {
        if let State::Handshaking(handshake) = &mut self.state {
            let result = handshake.handle_frame(frame);
            let refusal: Vec<Frame> = std::iter::from_fn(|| handshake.poll_transmit()).collect();
            for frame in &refusal {
                self.queue(frame);
            }
            match result {
                Ok(admission) => {
                    // Still handshaking (matched above): the handshake waits for the decision.
                    if let State::Handshaking(handshake) =
                        std::mem::replace(&mut self.state, State::Ended)
                    {
                        self.state = State::Deciding(handshake);
                    }
                    self.events.push_back(ServerEvent::Hello(admission));
                }
                Err(error) => self.end(Ending::Handshake(error)),
            }
            return;
        }
        if let Err(message) = self.attachments.check_unclaimed(at) {
            self.violation(message);
            return;
        }
        match (frame.kind(), frame.request_id()) {
            (FrameKind::Request, Some(id)) => self.handle_request(id, at, frame.payload()),
            (FrameKind::Cancel, Some(id)) => {
                if self.in_flight.contains(&id) {
                    self.events.push_back(ServerEvent::Cancel { id });
                }
            }
            (FrameKind::Close, _) => self.end(Ending::Closed),
            (FrameKind::Error, None) => {
                let body = ErrorBody::decode(frame.payload()).unwrap_or_else(|error| {
                    ErrorBody::new(ErrorCode::MALFORMED_PAYLOAD, error.to_string())
                });
                self.end(Ending::PeerError(body));
            }
            (kind, id) => {
                let with_id = id
                    .map(|id| format!(" with request id {id}"))
                    .unwrap_or_default();
                self.violation(format!("a client may not send a {kind} frame{with_id}"));
            }
        }
    }

    fn handle_request(&mut self, id: RequestId, at: u64, payload: &Bytes) {
        if self.in_flight.contains(&id) {
            self.violation(format!("request id {id} is already in flight"));
            return;
        }
        if self.in_flight.len() >= self.max_in_flight {
            let message = format!(
                "{} requests are already in flight on this connection (the limit)",
                self.in_flight.len()
            );
            let body = ErrorBody::new(ErrorCode::LIMIT_EXCEEDED, message);
            self.queue(&body.to_frame(Some(id)));
            return;
        }
        let decoded = if self.attachments.from().is_some() && payload.first() == Some(&ATTACHED) {
            match self.attachments.fill::<Request>(at, payload) {
                Ok(request) => Ok(request),
                Err(message) => {
                    self.violation(format!("request {id}: {message}"));
                    return;
                }
            }
        } else {
            decode_request_shared(payload)
        };
        match decoded {
            Ok(mut request) => {
                self.fit_to_frame(&mut request);
                self.in_flight.insert(id);
                self.events.push_back(ServerEvent::Request { id, request });
            }
            Err(error) => {
                let body = ErrorBody::new(ErrorCode::MALFORMED_PAYLOAD, error.to_string());
                self.queue(&body.to_frame(Some(id)));
            }
        }
    }

    /// Bounds what a request may ask the answer to hold by the connection's frame limit, so that
    /// a `RecvMany` or `Lease` never takes (and a `Peek` never copies) messages its answer could
    /// not carry.
    fn fit_to_frame(&self, request: &mut Request) {
        if let Request::RecvMany { max_bytes, .. }
        | Request::Lease { max_bytes, .. }
        | Request::Peek { max_bytes, .. } = request
        {
            let room = self
                .codec
                .config()
                .max_frame_len
                .saturating_sub(ANSWER_SLACK);
            *max_bytes = (*max_bytes).min(u64::from(room));
        }
    }

    fn violation(&mut self, message: String) {
        let body = ErrorBody::new(ErrorCode::PROTOCOL_VIOLATION, message.clone());
        self.queue(&body.to_frame(None));
        self.end(Ending::Violation(message));
    }

    fn end(&mut self, ending: Ending) {
        self.state = State::Ended;
        self.in_flight.clear();
        self.attachments.clear();
        self.events.push_back(ServerEvent::Ended(ending));
    }
}

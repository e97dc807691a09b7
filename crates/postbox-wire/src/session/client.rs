//! The client's session: from `Hello` to the end of the connection.

use std::collections::{BTreeSet, VecDeque};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use rustc_hash::FxHashMap;

use super::Ending;
use super::attachments::{Attachments, Departure};
use super::input::{Input, Next};
use crate::{
    ATTACHED, Capabilities, Carrier, ClientConfig, ClientHandshake, Codec, EncodeError, ErrorBody,
    ErrorCode, Frame, FrameConfig, FrameKind, HandshakeError, Negotiated, OperationError, Request,
    RequestId, Response, decode_response_shared, encode_attached, encode_request_into,
};

/// What happened on a client's connection, in order.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ClientEvent {
    /// The handshake completed: requests may be sent from now on.
    Connected(Negotiated),
    /// Request `id` ended: its response, or why it has none. Its id is retired.
    Answer {
        /// The request.
        id: RequestId,
        /// Its response, or why it has none.
        result: Result<Response, RequestFailure>,
    },
    /// The server sent an `Event` (about request `id`, or the connection). Version 1 defines
    /// none; a driver may ignore them.
    Event {
        /// The request it concerns, if any.
        id: Option<RequestId>,
        /// Its payload.
        payload: Bytes,
    },
    /// The connection is over. Every request that was in flight has had its `Answer` first.
    Ended(Ending),
}

/// Why a request ended without a response.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum RequestFailure {
    /// The server refused to carry it out (`Error` with its id): over a limit, an unreadable
    /// payload.
    #[error("refused by the server: {0}")]
    Refused(ErrorBody),
    /// The server is shutting down (`Error SHUTTING_DOWN` with its id).
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The server's response could not be read.
    #[error("unreadable response: {0}")]
    Malformed(OperationError),
    /// The connection ended before the request was answered.
    #[error("the connection ended before an answer")]
    Disconnected,
}

/// Why [`ClientSession::request`] did not send a request.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum RequestError {
    /// The handshake has not completed yet.
    #[error("the connection is not open yet")]
    Connecting,
    /// The connection is closing or over.
    #[error("the connection is closed")]
    Closed,
    /// The encoded request is larger than the frame limit negotiated with the server.
    #[error("the request is {len} bytes, over the connection's frame limit of {max} bytes")]
    TooLarge {
        /// The encoded request's length.
        len: usize,
        /// The negotiated frame limit.
        max: u32,
    },
}

#[derive(Debug)]
enum State {
    Handshaking(ClientHandshake),
    Open,
    /// `Close` is queued; answers still arrive until the server ends the stream.
    Closing,
    Ended,
}

/// A request in flight.
#[derive(Clone, Copy, Debug)]
struct InFlight {
    deadline: Option<Instant>,
    cancelled: bool,
}

/// The client's side of a connection, sans-IO. See [the module docs](crate::session).
///
/// Requests are numbered from 1; every request ends with exactly one [`ClientEvent::Answer`]
/// (its response, the server's refusal, or [`RequestFailure::Disconnected`] when the connection
/// ends first). A request may carry a deadline: once [`handle_timeout`](Self::handle_timeout)
/// sees it pass, the session sends `Cancel`, and the request still ends with one answer — the
/// withdrawal's (a send's message handed back) or the real one if it raced ahead.
///
/// Requests are encoded straight into [`transmit`](Self::transmit), so requests made between two
/// writes leave in one write.
#[derive(Debug)]
pub struct ClientSession {
    state: State,
    codec: Codec,
    input: Input,
    transmit: BytesMut,
    /// Bytes queued on `transmit` since the session began: the stream offset of the next frame.
    queued: u64,
    attachments: Attachments,
    negotiated: Option<Negotiated>,
    next_id: u64,
    in_flight: FxHashMap<RequestId, InFlight>,
    deadlines: BTreeSet<(Instant, RequestId)>,
    events: VecDeque<ClientEvent>,
}

impl ClientSession {
    /// Starts a connection offering what `config` says; the `Hello` is ready in
    /// [`transmit`](Self::transmit).
    pub fn new(config: ClientConfig) -> ClientSession {
        let mut handshake = ClientHandshake::new(config);
        let codec = Codec::new(FrameConfig::HANDSHAKE);
        let mut transmit = BytesMut::new();
        while let Some(frame) = handshake.poll_transmit() {
            // A Hello always fits the handshake's limit (protocol.md §4).
            let _ = codec.encode(&frame, &mut transmit);
        }
        ClientSession {
            state: State::Handshaking(handshake),
            codec,
            input: Input::default(),
            queued: transmit.len() as u64,
            transmit,
            attachments: Attachments::default(),
            negotiated: None,
            next_id: 1,
            in_flight: FxHashMap::default(),
            deadlines: BTreeSet::new(),
            events: VecDeque::new(),
        }
    }

    /// What the handshake negotiated, once it has.
    pub fn negotiated(&self) -> Option<Negotiated> {
        self.negotiated
    }

    /// Whether requests may be sent: the handshake is done and the connection not closing.
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

    /// The bytes to write to the server, in order. Take what you write (`split`, `advance`).
    pub fn transmit(&mut self) -> &mut BytesMut {
        &mut self.transmit
    }

    /// The next thing that happened, if any. Frames received are decoded and acted on here, one
    /// at a time.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Some(event);
            }
            if self.is_ended() {
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

    /// The buffer the driver may read the server's bytes into directly (instead of
    /// [`handle_input`](Self::handle_input)); they are taken as events are polled.
    pub fn read_buffer(&mut self) -> &mut BytesMut {
        self.input.buffer()
    }

    /// Takes `input`, bytes read from the server (all of them: a partial frame waits for the
    /// rest); what they say comes out of [`poll_event`](Self::poll_event).
    pub fn handle_input(&mut self, input: &mut BytesMut) {
        self.input.take(input);
    }

    /// The server's stream has ended (a read returned 0 or failed, or a write failed). Frames
    /// already received are still delivered first.
    pub fn handle_end(&mut self) {
        self.input.end();
    }

    fn end_of_input(&mut self) {
        let ending = match self.state {
            State::Ended => return,
            State::Handshaking(_) => Ending::Handshake(HandshakeError::Closed),
            State::Closing => Ending::Closed,
            State::Open => Ending::Lost,
        };
        self.end(ending);
    }

    /// Sends `request` under a new id, to be cancelled once `deadline` passes (see
    /// [`handle_timeout`](Self::handle_timeout)).
    ///
    /// # Errors
    ///
    /// [`RequestError::TooLarge`] when it does not fit the negotiated frame limit (nothing is
    /// sent, and the connection carries on); [`RequestError::Connecting`] and
    /// [`RequestError::Closed`] when no request may be sent now.
    pub fn request(
        &mut self,
        request: &Request,
        deadline: Option<Instant>,
    ) -> Result<RequestId, RequestError> {
        match self.state {
            State::Open => {}
            State::Handshaking(_) => return Err(RequestError::Connecting),
            State::Closing | State::Ended => return Err(RequestError::Closed),
        }
        let from = self.attachments.from();
        if from.is_some() {
            // Attaching a payload moves it beside the frame; it does not raise the largest
            // message the connection takes, which stays the frame limit.
            let max = self.codec.config().max_frame_len;
            let mut request = request.clone();
            if let Some(len) = request
                .messages_mut()
                .iter()
                .map(|message| message.payload.len())
                .find(|&len| len > max as usize)
            {
                return Err(RequestError::TooLarge { len, max });
            }
        }
        let id = self.fresh_id();
        let before = self.transmit.len();
        let mut attached = Vec::new();
        let encoded =
            self.codec
                .encode_with(
                    FrameKind::Request,
                    Some(id),
                    &mut self.transmit,
                    |dst| match from {
                        Some(from) => attached = encode_attached(request, from, dst),
                        None => encode_request_into(request, dst),
                    },
                );
        if encoded.is_ok() {
            self.attachments.depart(self.queued, attached);
        }
        self.queued += (self.transmit.len() - before) as u64;
        if let Err(EncodeError::TooLarge { len, max }) = encoded {
            return Err(RequestError::TooLarge { len, max });
        }
        self.in_flight.insert(
            id,
            InFlight {
                deadline,
                cancelled: false,
            },
        );
        if let Some(deadline) = deadline {
            self.deadlines.insert((deadline, id));
        }
        Ok(id)
    }

    /// Asks the server to withdraw request `id` (its caller stopped waiting). The request still
    /// ends with one answer. Does nothing for a request not in flight or already cancelled, nor
    /// once this side has closed (nothing may follow `Close`).
    pub fn cancel(&mut self, id: RequestId) {
        if !self.is_open() {
            return;
        }
        let Some(request) = self.in_flight.get_mut(&id) else {
            return;
        };
        if std::mem::replace(&mut request.cancelled, true) {
            return;
        }
        if let Some(deadline) = request.deadline {
            self.deadlines.remove(&(deadline, id));
        }
        self.queue(&Frame::cancel(id));
    }

    /// The earliest deadline of a request in flight and not yet cancelled.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(deadline, _)| deadline)
    }

    /// Cancels every request whose deadline is `now` or earlier.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(deadline, id)) = self.deadlines.first()
            && deadline <= now
        {
            self.deadlines.pop_first();
            self.cancel(id);
        }
    }

    /// Ends this side: `Close` is queued (it is the termination of the client's process), no
    /// request may follow, and answers still arriving are delivered until the server ends the
    /// stream ([`handle_end`](Self::handle_end)).
    pub fn close(&mut self) {
        match self.state {
            State::Open => {
                self.queue(&Frame::close());
                self.state = State::Closing;
            }
            State::Handshaking(_) => self.end(Ending::Closed),
            State::Closing | State::Ended => {}
        }
    }

    fn fresh_id(&mut self) -> RequestId {
        loop {
            let raw = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            if let Some(id) = RequestId::new(raw)
                && !self.in_flight.contains_key(&id)
            {
                return id;
            }
        }
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
                Ok(negotiated) => {
                    self.codec.set_config(negotiated.frame_config());
                    if negotiated.capabilities.contains(Capabilities::ATTACHMENTS) {
                        self.attachments.enable();
                    }
                    self.negotiated = Some(negotiated);
                    self.state = State::Open;
                    self.events.push_back(ClientEvent::Connected(negotiated));
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
            (FrameKind::Response, Some(id)) if self.in_flight.contains_key(&id) => {
                let payload = frame.payload();
                let result =
                    if self.attachments.from().is_some() && payload.first() == Some(&ATTACHED) {
                        match self.attachments.fill::<Response>(at, payload) {
                            Ok(response) => Ok(response),
                            Err(message) => {
                                self.violation(format!("the response to request {id}: {message}"));
                                return;
                            }
                        }
                    } else {
                        decode_response_shared(payload).map_err(RequestFailure::Malformed)
                    };
                self.answer(id, result);
            }
            (FrameKind::Error, Some(id)) if self.in_flight.contains_key(&id) => {
                match ErrorBody::decode(frame.payload()) {
                    Ok(body) if body.code() == ErrorCode::SHUTTING_DOWN => {
                        self.answer(id, Err(RequestFailure::ShuttingDown));
                    }
                    Ok(body) => self.answer(id, Err(RequestFailure::Refused(body))),
                    Err(error) => {
                        self.violation(format!("the Error for request {id} is unreadable: {error}"))
                    }
                }
            }
            (FrameKind::Error, None) => {
                let body = ErrorBody::decode(frame.payload()).unwrap_or_else(|error| {
                    ErrorBody::new(ErrorCode::MALFORMED_PAYLOAD, error.to_string())
                });
                self.end(Ending::PeerError(body));
            }
            (FrameKind::Event, id) => self.events.push_back(ClientEvent::Event {
                id,
                payload: frame.payload().clone(),
            }),
            (FrameKind::Close, _) => self.end(Ending::Closed),
            (kind @ (FrameKind::Response | FrameKind::Error), Some(id)) => {
                self.violation(format!("a {kind} for request {id}, which is not in flight"));
            }
            (kind, _) => self.violation(format!("a server may not send a {kind} frame")),
        }
    }

    fn answer(&mut self, id: RequestId, result: Result<Response, RequestFailure>) {
        if let Some(request) = self.in_flight.remove(&id)
            && let Some(deadline) = request.deadline
        {
            self.deadlines.remove(&(deadline, id));
        }
        self.events.push_back(ClientEvent::Answer { id, result });
    }

    fn violation(&mut self, message: String) {
        let body = ErrorBody::new(ErrorCode::PROTOCOL_VIOLATION, message.clone());
        self.queue(&body.to_frame(None));
        self.end(Ending::Violation(message));
    }

    /// The connection is over: every request in flight is answered `Disconnected`, in id order.
    fn end(&mut self, ending: Ending) {
        self.state = State::Ended;
        self.attachments.clear();
        let mut ids: Vec<RequestId> = self.in_flight.drain().map(|(id, _)| id).collect();
        ids.sort_unstable();
        for id in ids {
            self.events.push_back(ClientEvent::Answer {
                id,
                result: Err(RequestFailure::Disconnected),
            });
        }
        self.deadlines.clear();
        self.events.push_back(ClientEvent::Ended(ending));
    }
}

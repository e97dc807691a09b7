//! The session layer ([`ClientSession`], [`ServerSession`]) end to end, without a socket.
//!
//! - A property test runs a client and a server against each other through an in-memory pipe
//!   that splits and merges writes at random, with requests, cancels, deadlines and answers in
//!   any order, and proves that the conversation of `docs/protocol.md` §4–§5 holds: the handshake
//!   gives the client the pid the server chose; every request reaches the server once, unchanged
//!   (or is refused over the in-flight limit, exactly when the limit is reached), and ends with
//!   exactly one answer at the client — the one the server gave; a deadline or a `cancel` sends
//!   one `Cancel` and no other is ever sent; ids are never reused while in flight; nothing is
//!   taken for a protocol violation; and a client's `Close` ends both sides in order.
//! - Plain tests pin each frame rule of §5, §6 and §8 on each side with crafted, hostile frames:
//!   which end the connection (and with which `Error`), which are refused while the connection
//!   carries on, and which are ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use postbox_core::{
    Cancelled, Delivery, EngineStats, Message, Pid, SendError, SendErrorKind, Wait,
};
use postbox_wire::{
    ClientConfig, ClientEvent, ClientSession, DEFAULT_MAX_FRAME_LEN, Ending, ErrorBody, ErrorCode,
    Frame, FrameConfig, FrameDecoder, FrameEncoder, FrameKind, HandshakeError, Hello, Negotiated,
    Request, RequestError, RequestFailure, RequestId, Response, ServerConfig, ServerEvent,
    ServerSession, Target, Version, Welcome, cancelled_response, decode_request, decode_response,
    encode_request, encode_response,
};
use proptest::prelude::*;
use proptest::sample::{Index, select};

// ---------------------------------------------------------------------------------------------
// Helpers.

/// The pid the server gives the client in the plain tests.
const PID: u64 = 42;

fn id(raw: u64) -> RequestId {
    RequestId::new(raw).expect("not 0")
}

/// Decodes `bytes` as the peer would; they must be whole frames, valid under `config`.
fn decode_all(mut bytes: BytesMut, config: FrameConfig) -> Vec<Frame> {
    let mut decoder = FrameDecoder::new(config);
    let mut frames = Vec::new();
    while let Some(frame) = decoder
        .decode(&mut bytes)
        .expect("a session writes valid frames")
    {
        frames.push(frame);
    }
    assert!(
        bytes.is_empty(),
        "a session wrote part of a frame: {bytes:?}"
    );
    frames
}

/// The bytes of `frames`, as a (possibly hostile) peer writing under `config` would send them.
fn encode_all(frames: &[Frame], config: FrameConfig) -> BytesMut {
    let encoder = FrameEncoder::new(config);
    let mut bytes = BytesMut::new();
    for frame in frames {
        encoder.encode(frame, &mut bytes).expect("within the limit");
    }
    bytes
}

/// The request id and body of an `Error` frame.
fn error_of(frame: &Frame) -> (Option<RequestId>, ErrorBody) {
    assert_eq!(frame.kind(), FrameKind::Error, "not an Error: {frame:?}");
    let body = ErrorBody::decode(frame.payload()).expect("a readable Error");
    (frame.request_id(), body)
}

/// Checks that `frames` is exactly one `Error` with `id` and `code`.
fn assert_one_error(frames: &[Frame], id: Option<RequestId>, code: ErrorCode) {
    assert_eq!(frames.len(), 1, "expected one Error, got {frames:?}");
    let (got, body) = error_of(&frames[0]);
    assert_eq!((got, body.code()), (id, code), "{body}");
}

/// A send of `len` bytes, which may wait: the kind of request `Cancel` withdraws.
fn send(len: usize) -> Request {
    Request::Send {
        target: Target::Process(Pid::from_raw(9)),
        message: Message::new(vec![b'm'; len]),
        delivery: Delivery::Queued,
        wait: Wait::Block,
    }
}

/// The answer a server gives a request it withdraws on `Cancel` (protocol.md §8).
fn withdrawn(request: &Request) -> Response {
    match request {
        Request::Send { message, .. } => cancelled_response(Cancelled::Send(message.clone())),
        _ => cancelled_response(Cancelled::Recv),
    }
}

/// A client and a server past the handshake, nothing queued either way.
struct Connected {
    client: ClientSession,
    server: ServerSession,
    /// What both write and read in from now on.
    config: FrameConfig,
}

impl Connected {
    fn new() -> Connected {
        Connected::with(ClientConfig::new(), 16)
    }

    fn with(client_config: ClientConfig, max_in_flight: usize) -> Connected {
        let mut client = ClientSession::new(client_config);
        let mut server = ServerSession::new(ServerConfig::new(), max_in_flight);
        server.handle_input(&mut client.transmit().split());
        let Some(ServerEvent::Hello(admission)) = server.poll_event() else {
            panic!("the server did not get the Hello")
        };
        let negotiated = server.accept(admission, PID).expect("accepted");
        client.handle_input(&mut server.transmit().split());
        assert_eq!(
            client.poll_event(),
            Some(ClientEvent::Connected(negotiated))
        );
        assert!(client.transmit().is_empty() && server.transmit().is_empty());
        assert!(client.is_open() && server.is_open());
        Connected {
            client,
            server,
            config: negotiated.frame_config(),
        }
    }

    /// Delivers everything the client has written to the server.
    fn deliver_to_server(&mut self) {
        self.server
            .handle_input(&mut self.client.transmit().split());
    }

    /// Delivers everything the server has written to the client.
    fn deliver_to_client(&mut self) {
        self.client
            .handle_input(&mut self.server.transmit().split());
    }

    /// The server reads `frames`, written by a client that may break the rules.
    fn server_reads(&mut self, frames: &[Frame]) {
        self.server
            .handle_input(&mut encode_all(frames, self.config));
    }

    /// The client reads `frames`, written by a server that may break the rules.
    fn client_reads(&mut self, frames: &[Frame]) {
        self.client
            .handle_input(&mut encode_all(frames, self.config));
    }

    /// The frames the server has queued for the client (left queued).
    fn server_queued(&mut self) -> Vec<Frame> {
        decode_all(self.server.transmit().clone(), self.config)
    }

    /// The frames the client has queued for the server (left queued).
    fn client_queued(&mut self) -> Vec<Frame> {
        decode_all(self.client.transmit().clone(), self.config)
    }

    fn server_events(&mut self) -> Vec<ServerEvent> {
        std::iter::from_fn(|| self.server.poll_event()).collect()
    }

    fn client_events(&mut self) -> Vec<ClientEvent> {
        std::iter::from_fn(|| self.client.poll_event()).collect()
    }

    /// The client asks `request` and the server receives it, in flight on both sides.
    fn ask(&mut self, request: &Request) -> RequestId {
        let asked = self.client.request(request, None).expect("sent");
        self.deliver_to_server();
        let events = self.server_events();
        assert!(
            matches!(&events[..], [ServerEvent::Request { id, request: got }] if *id == asked && got == request),
            "{events:?}"
        );
        asked
    }
}

/// Checks that the server ended with `Violation`, queuing `Error PROTOCOL_VIOLATION` with id 0.
fn assert_server_violation(c: &mut Connected, what: &str) {
    let events = c.server_events();
    assert!(
        matches!(&events[..], [ServerEvent::Ended(Ending::Violation(_))]),
        "{what}: {events:?}"
    );
    assert_one_error(&c.server_queued(), None, ErrorCode::PROTOCOL_VIOLATION);
    assert!(c.server.is_ended(), "{what}");
    assert_eq!(c.server.in_flight(), 0, "{what}");
}

// ---------------------------------------------------------------------------------------------
// The property: a client and a server through a pipe that splits and merges writes at random.

/// How much of one direction's bytes in transit the reader gets.
#[derive(Clone, Debug)]
enum Cut {
    Nothing,
    All,
    Part(Index),
}

impl Cut {
    fn of(&self, len: usize) -> usize {
        match self {
            Cut::Nothing => 0,
            Cut::All => len,
            Cut::Part(index) => index.index(len + 1),
        }
    }
}

/// How the server's driver ends a request.
#[derive(Clone, Debug)]
enum Answer {
    Respond(Box<Response>),
    Fail(ErrorCode),
}

#[derive(Clone, Debug)]
enum Step {
    /// The client asks, with a deadline this many milliseconds from now.
    Request(Request, Option<u64>),
    /// The client cancels one of the requests it ever sent (in flight or answered).
    Cancel(Index),
    /// This many milliseconds pass, and the client handles its timeouts.
    Tick(u64),
    /// The server reads part of what the client wrote.
    ToServer(Cut),
    /// The client reads part of what the server wrote.
    ToClient(Cut),
    /// The server's driver ends one of its requests in flight.
    Answer(Index, Answer),
}

fn any_request() -> impl Strategy<Value = Request> {
    // Up to a few KiB: now and then around or over the smallest frame limit (4096), whose
    // edge a send of 4060..4100 bytes straddles.
    let len = prop_oneof![4 => 0..64usize, 1 => 0..6000usize, 1 => 4060..4100usize];
    let send =
        (any::<u64>(), len, any::<u8>(), any::<bool>()).prop_map(|(pid, len, seed, block)| {
            Request::Send {
                target: Target::Process(Pid::from_raw(pid)),
                message: Message::new((0..len).map(|i| seed ^ i as u8).collect::<Vec<u8>>()),
                delivery: Delivery::Queued,
                wait: if block { Wait::Block } else { Wait::Try },
            }
        });
    prop_oneof![
        Just(Request::NodeStats),
        "[a-z]{0,12}".prop_map(|name| Request::Whereis { name }),
        send,
    ]
}

fn any_response() -> impl Strategy<Value = Response> {
    let pid = proptest::option::of(any::<u64>().prop_map(Pid::from_raw));
    prop_oneof![
        Just(Response::Done),
        pid.clone().prop_map(Response::Whereis),
        pid.prop_map(|receiver| Response::Sent { receiver }),
        (any::<usize>(), any::<u64>()).prop_map(|(processes, total_sent)| {
            Response::NodeStats(EngineStats {
                processes,
                total_sent,
                ..EngineStats::default()
            })
        }),
    ]
}

fn any_answer() -> impl Strategy<Value = Answer> {
    let code = select(vec![
        ErrorCode::INTERNAL,
        ErrorCode::SHUTTING_DOWN,
        ErrorCode::CANCELLED,
        ErrorCode::LIMIT_EXCEEDED,
        ErrorCode::new(ErrorCode::FIRST_OPERATION_CODE),
    ]);
    prop_oneof![
        3 => any_response().prop_map(|response| Answer::Respond(Box::new(response))),
        1 => code.prop_map(Answer::Fail),
    ]
}

fn any_cut() -> impl Strategy<Value = Cut> {
    prop_oneof![
        Just(Cut::Nothing),
        Just(Cut::All),
        any::<Index>().prop_map(Cut::Part),
    ]
}

fn any_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (any_request(), proptest::option::of(0..100u64))
            .prop_map(|(request, deadline)| Step::Request(request, deadline)),
        1 => any::<Index>().prop_map(Step::Cancel),
        1 => (0..60u64).prop_map(Step::Tick),
        3 => any_cut().prop_map(Step::ToServer),
        3 => any_cut().prop_map(Step::ToClient),
        2 => (any::<Index>(), any_answer()).prop_map(|(pick, answer)| Step::Answer(pick, answer)),
    ]
}

/// A request the client has sent and has not seen answered.
struct Awaiting {
    deadline: Option<Instant>,
    cancelled: bool,
}

/// Both sessions, the pipe between them, and what each side has done, to check the other by.
///
/// Every write is also decoded on its way into the pipe (sessions write whole frames), so the
/// frames themselves are checked, not only the events.
struct Conversation {
    client: ClientSession,
    server: ServerSession,
    pid: u64,
    max_in_flight: usize,
    now: Instant,
    /// Bytes the client wrote that the server has not read, and read but not yet taken.
    to_server: BytesMut,
    server_input: BytesMut,
    /// Bytes the server wrote that the client has not read, and read but not yet taken.
    to_client: BytesMut,
    client_input: BytesMut,
    /// The configuration the server writes in.
    server_writes: FrameConfig,
    /// What the server accepted, and what the client was told.
    negotiated: Option<Negotiated>,
    connected: Option<Negotiated>,
    hellos: usize,
    closing: bool,
    closes: usize,

    // The client's side.
    /// Every request the client sent, by id.
    sent: BTreeMap<RequestId, Request>,
    awaiting: BTreeMap<RequestId, Awaiting>,
    answers: BTreeMap<RequestId, Result<Response, RequestFailure>>,
    /// The requests that were due one `Cancel`, and the `Cancel` frames actually written.
    cancels_due: BTreeSet<RequestId>,
    cancels_sent: BTreeMap<RequestId, usize>,

    // The server's side.
    /// The requests in flight at the server, as it reported them.
    pending: BTreeMap<RequestId, Request>,
    seen: BTreeSet<RequestId>,
    /// Refused by the session over the in-flight limit, without the driver seeing them.
    refused: BTreeSet<RequestId>,
    /// The answer the server gave each request, as the client should report it.
    expected: BTreeMap<RequestId, Result<Response, RequestFailure>>,
    /// Final frames (`Response`, `Error` with an id) written per request.
    finals: BTreeMap<RequestId, usize>,
}

impl Conversation {
    fn new(pid: u64, client_limit: u32, max_in_flight: usize) -> Conversation {
        let mut conversation = Conversation {
            client: ClientSession::new(ClientConfig::new().with_max_frame_len(client_limit)),
            server: ServerSession::new(ServerConfig::new(), max_in_flight),
            pid,
            max_in_flight,
            now: Instant::now(),
            to_server: BytesMut::new(),
            server_input: BytesMut::new(),
            to_client: BytesMut::new(),
            client_input: BytesMut::new(),
            server_writes: FrameConfig::HANDSHAKE,
            negotiated: None,
            connected: None,
            hellos: 0,
            closing: false,
            closes: 0,
            sent: BTreeMap::new(),
            awaiting: BTreeMap::new(),
            answers: BTreeMap::new(),
            cancels_due: BTreeSet::new(),
            cancels_sent: BTreeMap::new(),
            pending: BTreeMap::new(),
            seen: BTreeSet::new(),
            refused: BTreeSet::new(),
            expected: BTreeMap::new(),
            finals: BTreeMap::new(),
        };
        conversation.flush_client();
        assert_eq!(conversation.hellos, 1, "the client starts with its Hello");
        conversation
    }

    fn run(&mut self, step: Step) {
        match step {
            Step::Request(request, deadline) => {
                let deadline = deadline.map(|ms| self.now + Duration::from_millis(ms));
                self.request(request, deadline);
            }
            Step::Cancel(pick) => {
                if !self.sent.is_empty() {
                    let id = *self.sent.keys().nth(pick.index(self.sent.len())).unwrap();
                    self.cancel(id);
                }
            }
            Step::Tick(ms) => self.tick(Duration::from_millis(ms)),
            Step::ToServer(cut) => self.server_reads(cut.of(self.to_server.len())),
            Step::ToClient(cut) => self.client_reads(cut.of(self.to_client.len())),
            Step::Answer(pick, answer) => {
                if !self.pending.is_empty() {
                    let id = *self
                        .pending
                        .keys()
                        .nth(pick.index(self.pending.len()))
                        .unwrap();
                    self.answer(id, answer);
                }
            }
        }
        self.check();
    }

    /// What must hold between any two steps.
    fn check(&self) {
        assert!(!self.client.is_ended() && !self.server.is_ended());
        assert_eq!(self.client.in_flight(), self.awaiting.len());
        assert_eq!(self.server.in_flight(), self.pending.len());
        assert!(self.pending.len() <= self.max_in_flight);
        let cancelled: BTreeSet<RequestId> = self.cancels_sent.keys().copied().collect();
        assert_eq!(cancelled, self.cancels_due, "Cancel frames sent vs due");
        assert!(
            self.cancels_sent.values().all(|&n| n == 1),
            "{:?}",
            self.cancels_sent
        );
        // The next timeout is no later than the earliest deadline still to cancel, and belongs
        // to a request in flight. (It may be that of a request cancelled by hand: see
        // `client_poll_timeout_skips_requests_already_cancelled`.)
        let due = self
            .awaiting
            .values()
            .filter(|request| !request.cancelled)
            .filter_map(|request| request.deadline)
            .min();
        match (self.client.poll_timeout(), due) {
            (None, None) => {}
            (Some(next), due) => {
                assert!(due.is_none_or(|due| next <= due), "{next:?} after {due:?}");
                assert!(
                    self.awaiting.values().any(|r| r.deadline == Some(next)),
                    "a timeout for no request in flight"
                );
            }
            (None, Some(due)) => panic!("the deadline {due:?} is forgotten"),
        }
    }

    fn request(&mut self, request: Request, deadline: Option<Instant>) {
        let queued = self.client.transmit().len();
        match self.client.request(&request, deadline) {
            Ok(id) => {
                assert!(self.connected.is_some(), "a request before the handshake");
                assert!(!self.awaiting.contains_key(&id), "{id} reused in flight");
                // Stricter than §5 (a retired id may be reused): this model keys requests by
                // id, relying on the session counting them up from 1.
                assert!(self.sent.insert(id, request).is_none(), "{id} issued twice");
                self.awaiting.insert(
                    id,
                    Awaiting {
                        deadline,
                        cancelled: false,
                    },
                );
            }
            Err(RequestError::Connecting) => assert!(self.connected.is_none()),
            Err(RequestError::TooLarge { len, max }) => {
                let limit = self.connected.expect("connected").max_frame_len;
                assert_eq!((len, max), (encode_request(&request).len(), limit));
                assert!(len > max as usize);
                assert_eq!(self.client.transmit().len(), queued, "queued anyway");
            }
            Err(RequestError::Closed) => panic!("closed before close()"),
        }
        self.flush_client();
    }

    fn cancel(&mut self, id: RequestId) {
        if let Some(request) = self.awaiting.get_mut(&id)
            && !request.cancelled
        {
            request.cancelled = true;
            self.cancels_due.insert(id);
        }
        self.client.cancel(id);
        self.flush_client();
    }

    fn tick(&mut self, by: Duration) {
        self.now += by;
        let now = self.now;
        for (&id, request) in &mut self.awaiting {
            if !request.cancelled && request.deadline.is_some_and(|deadline| deadline <= now) {
                request.cancelled = true;
                self.cancels_due.insert(id);
            }
        }
        self.client.handle_timeout(now);
        self.flush_client();
    }

    /// Moves what the client wrote into the pipe, checking each frame.
    fn flush_client(&mut self) {
        let bytes = self.client.transmit().split();
        let config = self
            .client
            .negotiated()
            .map_or(FrameConfig::HANDSHAKE, |n| n.frame_config());
        for frame in decode_all(bytes.clone(), config) {
            match (frame.kind(), frame.request_id()) {
                (FrameKind::Hello, None) => self.hellos += 1,
                (FrameKind::Request, Some(id)) => {
                    let request = self.sent.get(&id).expect("a request the client made");
                    assert_eq!(decode_request(frame.payload()).as_ref(), Ok(request));
                }
                (FrameKind::Cancel, Some(id)) => {
                    assert!(self.cancels_due.contains(&id), "an unasked Cancel of {id}");
                    *self.cancels_sent.entry(id).or_default() += 1;
                }
                (FrameKind::Close, None) if self.closing => self.closes += 1,
                _ => panic!("the client wrote {frame:?}"),
            }
        }
        self.to_server.extend_from_slice(&bytes);
    }

    /// Moves what the server wrote into the pipe, checking each frame.
    fn flush_server(&mut self) {
        let bytes = self.server.transmit().split();
        for frame in decode_all(bytes.clone(), self.server_writes) {
            match (frame.kind(), frame.request_id()) {
                (FrameKind::Welcome, None) => assert!(self.negotiated.is_some()),
                (FrameKind::Response, Some(id)) => {
                    self.final_frame(id);
                    let expected = self.expected.get(&id).expect("a Response nobody gave");
                    let response = decode_response(frame.payload()).expect("readable");
                    assert_eq!(Ok(&response), expected.as_ref(), "the Response to {id}");
                }
                (FrameKind::Error, Some(id)) => {
                    self.final_frame(id);
                    let (_, body) = error_of(&frame);
                    match self.expected.get(&id) {
                        // Refused by the session itself: the only reason is the limit, and
                        // only when it is reached. (Checked right after the session read.)
                        None => {
                            assert_eq!(body.code(), ErrorCode::LIMIT_EXCEEDED, "{body}");
                            assert!(!self.seen.contains(&id));
                            let in_flight = self.server.in_flight();
                            assert_eq!(
                                in_flight, self.max_in_flight,
                                "{id} refused below the limit"
                            );
                            self.refused.insert(id);
                            let failure = RequestFailure::Refused(body);
                            self.expected.insert(id, Err(failure));
                        }
                        // A response over the frame limit, replaced.
                        Some(Ok(response)) => {
                            assert_eq!(body.code(), ErrorCode::LIMIT_EXCEEDED, "{body}");
                            let limit = self.server_writes.max_frame_len as usize;
                            assert!(encode_response(response).len() > limit);
                            let failure = RequestFailure::Refused(body);
                            self.expected.insert(id, Err(failure));
                        }
                        // The driver's own `fail`, compared when it reaches the client.
                        Some(Err(_)) => {}
                    }
                }
                _ => panic!("the server wrote {frame:?}"),
            }
        }
        self.to_client.extend_from_slice(&bytes);
    }

    fn final_frame(&mut self, id: RequestId) {
        let count = self.finals.entry(id).or_default();
        *count += 1;
        assert_eq!(*count, 1, "two final frames for request {id}");
    }

    /// The server reads the first `len` bytes in transit, and its driver acts on the events.
    fn server_reads(&mut self, len: usize) {
        let bytes = self.to_server.split_to(len);
        self.server_input.extend_from_slice(&bytes);
        self.server_handle_input();
    }

    /// The server takes its input and its driver acts on each event as it comes. A session may
    /// act on frames as they are read or as events are polled, so what it writes is checked
    /// after each, before the driver answers anything.
    fn server_handle_input(&mut self) {
        loop {
            self.server.handle_input(&mut self.server_input);
            self.flush_server();
            let mut admitted = false;
            while let Some(event) = self.server.poll_event() {
                self.flush_server();
                admitted |= matches!(event, ServerEvent::Hello(_));
                self.server_event(event);
            }
            self.flush_server();
            // A session that reads at once leaves the input after a `Hello` until `accept`.
            if !admitted || self.server_input.is_empty() {
                break;
            }
        }
    }

    fn server_event(&mut self, event: ServerEvent) {
        match event {
            ServerEvent::Hello(admission) => {
                let negotiated = self.server.accept(admission, self.pid).expect("accepted");
                self.negotiated = Some(negotiated);
                self.flush_server();
                self.server_writes = negotiated.frame_config();
            }
            ServerEvent::Request { id, request } => {
                assert!(self.seen.insert(id), "the server saw request {id} twice");
                assert_eq!(Some(&request), self.sent.get(&id), "request {id} changed");
                self.pending.insert(id, request);
            }
            ServerEvent::Cancel { id } => {
                let request = self
                    .pending
                    .get(&id)
                    .expect("a Cancel of no request in flight");
                let response = withdrawn(request);
                self.answer(id, Answer::Respond(Box::new(response)));
            }
            ServerEvent::Ended(ending) => panic!("the server ended: {ending:?}"),
        }
    }

    fn answer(&mut self, id: RequestId, answer: Answer) {
        assert!(self.pending.remove(&id).is_some());
        match answer {
            Answer::Respond(response) => {
                self.server.respond(id, &response);
                self.expected.insert(id, Ok(*response));
            }
            Answer::Fail(code) => {
                let message = format!("request {id} failed");
                self.server.fail(id, code, message.clone());
                let failure = if code == ErrorCode::SHUTTING_DOWN {
                    RequestFailure::ShuttingDown
                } else {
                    RequestFailure::Refused(ErrorBody::new(code, message))
                };
                self.expected.insert(id, Err(failure));
            }
        }
        self.flush_server();
    }

    /// The client reads the first `len` bytes in transit, and its events are checked.
    fn client_reads(&mut self, len: usize) {
        let bytes = self.to_client.split_to(len);
        self.client_input.extend_from_slice(&bytes);
        self.client.handle_input(&mut self.client_input);
        while let Some(event) = self.client.poll_event() {
            match event {
                ClientEvent::Connected(negotiated) => {
                    assert!(self.connected.is_none(), "connected twice");
                    assert_eq!(Some(negotiated), self.negotiated);
                    assert_eq!(negotiated.pid, self.pid);
                    assert_eq!(self.client.negotiated(), Some(negotiated));
                    self.connected = Some(negotiated);
                }
                ClientEvent::Answer { id, result } => {
                    assert!(self.awaiting.remove(&id).is_some(), "{id} answered twice");
                    assert_eq!(Some(&result), self.expected.get(&id), "the answer to {id}");
                    self.answers.insert(id, result);
                }
                event => panic!("the client reported {event:?}"),
            }
        }
        self.flush_client();
    }

    /// Delivers everything and answers every request, until nothing moves.
    fn finish(&mut self) {
        for _ in 0..10 {
            let ids: Vec<RequestId> = self.pending.keys().copied().collect();
            for id in ids {
                self.answer(id, Answer::Respond(Box::new(Response::Done)));
            }
            self.server_reads(self.to_server.len());
            self.client_reads(self.to_client.len());
            self.check();
            if self.pending.is_empty() && self.to_server.is_empty() && self.to_client.is_empty() {
                break;
            }
        }
        assert!(self.server_input.is_empty() && self.client_input.is_empty());
        assert!(self.pending.is_empty() && self.awaiting.is_empty());
        assert_eq!(self.connected.map(|n| n.pid), Some(self.pid));
        assert_eq!(self.hellos, 1);
        // Every request: one final frame, one answer, and either served or refused.
        let sent: Vec<&RequestId> = self.sent.keys().collect();
        assert_eq!(self.answers.keys().collect::<Vec<_>>(), sent);
        assert_eq!(self.finals.keys().collect::<Vec<_>>(), sent);
        for id in self.sent.keys() {
            assert!(self.seen.contains(id) != self.refused.contains(id), "{id}");
        }
        assert!(self.seen.iter().all(|id| self.sent.contains_key(id)));
    }

    /// The client closes: the server ends `Closed`, then the client does.
    fn close(&mut self) {
        self.closing = true;
        self.client.close();
        assert!(!self.client.is_open() && !self.client.is_ended());
        let refused = self.client.request(&Request::NodeStats, None);
        assert_eq!(refused, Err(RequestError::Closed));
        self.flush_client();
        assert_eq!(self.closes, 1);
        self.server_input.extend_from_slice(&self.to_server.split());
        self.server.handle_input(&mut self.server_input);
        let events: Vec<ServerEvent> = std::iter::from_fn(|| self.server.poll_event()).collect();
        assert!(
            matches!(&events[..], [ServerEvent::Ended(Ending::Closed)]),
            "{events:?}"
        );
        assert!(self.server.is_ended() && self.server.transmit().is_empty());
        self.client.handle_end();
        assert_eq!(
            self.client.poll_event(),
            Some(ClientEvent::Ended(Ending::Closed))
        );
        assert_eq!(self.client.poll_event(), None);
        assert!(self.client.is_ended());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever the order of requests, cancels, deadlines and answers, and however the bytes
    /// are split and merged on the way, the two sessions agree (see the module docs).
    #[test]
    fn a_client_and_a_server_agree_however_the_bytes_travel(
        pid in any::<u64>(),
        client_limit in select(vec![4096u32, 4096, 8192, DEFAULT_MAX_FRAME_LEN]),
        max_in_flight in prop_oneof![1..=4usize, Just(1000)],
        connect_first in any::<bool>(),
        steps in proptest::collection::vec(any_step(), 0..60),
    ) {
        let mut conversation = Conversation::new(pid, client_limit, max_in_flight);
        if connect_first {
            // Otherwise the handshake's bytes travel as randomly as the rest.
            conversation.server_reads(conversation.to_server.len());
            conversation.client_reads(conversation.to_client.len());
            prop_assert!(conversation.connected.is_some());
        }
        for step in steps {
            conversation.run(step);
        }
        conversation.finish();
        conversation.close();
    }
}

// ---------------------------------------------------------------------------------------------
// The server's frame rules (protocol.md §5, §6, §8).

#[test]
fn server_ends_on_a_request_reusing_an_id_in_flight() {
    let mut c = Connected::new();
    let request = Frame::request(id(5), encode_request(&Request::NodeStats));
    c.server_reads(std::slice::from_ref(&request));
    let events = c.server_events();
    assert!(matches!(&events[..], [ServerEvent::Request { id: got, .. }] if *got == id(5)));
    c.server_reads(&[request]);
    assert_server_violation(&mut c, "a reused id");
    // Its requests are abandoned: nothing more is sent for them.
    c.server.transmit().clear();
    c.server.respond(id(5), &Response::Done);
    assert!(c.server.transmit().is_empty());
}

#[test]
fn server_accepts_an_id_again_once_it_is_answered() {
    let mut c = Connected::new();
    let request = Frame::request(id(5), encode_request(&Request::NodeStats));
    c.server_reads(std::slice::from_ref(&request));
    assert_eq!(c.server_events().len(), 1);
    c.server.respond(id(5), &Response::Done);
    c.server_reads(&[request]);
    let events = c.server_events();
    assert!(matches!(&events[..], [ServerEvent::Request { id: got, .. }] if *got == id(5)));
    assert!(c.server.is_open());
}

#[test]
fn server_refuses_a_request_over_the_in_flight_limit_and_carries_on() {
    let mut c = Connected::with(ClientConfig::new(), 2);
    let first = c.ask(&Request::NodeStats);
    c.ask(&Request::ListProcesses);
    let third = c.client.request(&Request::NodeStats, None).unwrap();
    c.deliver_to_server();
    assert!(c.server_events().is_empty(), "the driver never sees it");
    assert_one_error(&c.server_queued(), Some(third), ErrorCode::LIMIT_EXCEEDED);
    assert!(c.server.is_open());
    assert_eq!(c.server.in_flight(), 2);

    // The client hears of it as a refusal of that request alone.
    c.deliver_to_client();
    let events = c.client_events();
    assert!(
        matches!(&events[..], [ClientEvent::Answer { id, result: Err(RequestFailure::Refused(body)) }]
            if *id == third && body.code() == ErrorCode::LIMIT_EXCEEDED),
        "{events:?}"
    );
    assert_eq!(c.client.in_flight(), 2);

    // Once one is answered, the next request is served.
    c.server.respond(first, &Response::Done);
    c.deliver_to_client();
    assert_eq!(c.client_events().len(), 1);
    c.ask(&Request::NodeStats);
    assert!(c.server.is_open() && c.client.is_open());
}

#[test]
fn server_refuses_an_unreadable_request_payload_and_carries_on() {
    let mut c = Connected::new();
    let mut trailing = encode_request(&Request::NodeStats).to_vec();
    trailing.push(0);
    let garbage = [vec![], vec![0xff; 8], trailing];
    for (n, payload) in (100..).zip(garbage) {
        c.server_reads(&[Frame::request(id(n), payload)]);
        assert!(c.server_events().is_empty());
        assert_one_error(
            &c.server_queued(),
            Some(id(n)),
            ErrorCode::MALFORMED_PAYLOAD,
        );
        assert!(c.server.is_open());
        assert_eq!(
            c.server.in_flight(),
            0,
            "a refused request is not in flight"
        );
        c.server.transmit().clear();
    }
    c.ask(&Request::NodeStats);
}

#[test]
fn server_answers_a_request_at_most_once() {
    let mut c = Connected::new();
    let responded = c.ask(&Request::NodeStats);
    let failed = c.ask(&Request::NodeStats);
    c.server.respond(responded, &Response::Done);
    c.server.respond(responded, &Response::Done);
    c.server.fail(responded, ErrorCode::INTERNAL, "again");
    c.server.fail(failed, ErrorCode::INTERNAL, "no");
    c.server.respond(failed, &Response::Done);
    let queued = c.server_queued();
    assert_eq!(queued.len(), 2, "{queued:?}");
    assert_eq!(
        (queued[0].kind(), queued[0].request_id()),
        (FrameKind::Response, Some(responded))
    );
    assert_one_error(&queued[1..], Some(failed), ErrorCode::INTERNAL);
    assert_eq!(c.server.in_flight(), 0);
}

#[test]
fn server_ignores_a_cancel_for_an_id_not_in_flight() {
    let mut c = Connected::new();
    let answered = c.ask(&Request::NodeStats);
    c.server.respond(answered, &Response::Done);
    c.server.transmit().clear();
    c.server_reads(&[Frame::cancel(answered), Frame::cancel(id(77))]);
    let events = c.server_events();
    assert!(events.is_empty(), "{events:?}");
    assert!(c.server.transmit().is_empty());
    assert!(c.server.is_open());
}

#[test]
fn server_reports_a_cancel_for_a_request_in_flight() {
    let mut c = Connected::new();
    let request = send(10);
    let asked = c.ask(&request);
    c.client.cancel(asked);
    c.deliver_to_server();
    let events = c.server_events();
    assert!(
        matches!(&events[..], [ServerEvent::Cancel { id }] if *id == asked),
        "{events:?}"
    );
    assert_eq!(c.server.in_flight(), 1, "still in flight until answered");
    c.server.respond(asked, &withdrawn(&request));
    c.deliver_to_client();
    let answer = ClientEvent::Answer {
        id: asked,
        result: Ok(withdrawn(&request)),
    };
    assert_eq!(c.client_events(), vec![answer]);
}

#[test]
fn server_ends_on_a_frame_only_a_server_may_send() {
    let welcome = Welcome {
        version: Version::V1,
        max_frame_len: 4096,
        pid: 1,
        capabilities: postbox_wire::Capabilities::NONE,
    };
    let hostile = [
        Frame::response(id(1), encode_response(&Response::Done)),
        welcome.to_frame(),
        Hello::new(&[Version::V1], 65536, None).to_frame(),
        Frame::event(None, "tick"),
        Frame::event(Some(id(1)), "tick"),
        ErrorBody::new(ErrorCode::INTERNAL, "oops").to_frame(Some(id(1))),
    ];
    for frame in hostile {
        let mut c = Connected::new();
        // With request 1 in flight, so that even frames about it are refused.
        assert_eq!(c.ask(&Request::NodeStats), id(1));
        c.server_reads(std::slice::from_ref(&frame));
        assert_server_violation(&mut c, &format!("{frame:?}"));
    }
}

#[test]
fn server_ends_closed_on_close_and_abandons_requests() {
    let mut c = Connected::new();
    let asked = c.ask(&Request::NodeStats);
    c.client.close();
    c.deliver_to_server();
    let events = c.server_events();
    assert!(
        matches!(&events[..], [ServerEvent::Ended(Ending::Closed)]),
        "{events:?}"
    );
    assert!(c.server.is_ended());
    assert_eq!(c.server.in_flight(), 0);
    c.server.respond(asked, &Response::Done);
    assert!(
        c.server.transmit().is_empty(),
        "an abandoned request is answered"
    );
    // Nothing after the end is read.
    c.server_reads(&[Frame::request(id(9), encode_request(&Request::NodeStats))]);
    assert!(c.server_events().is_empty());
}

#[test]
fn server_ends_on_an_error_with_id_zero_without_answering() {
    let mut c = Connected::new();
    c.ask(&Request::NodeStats);
    let goodbye = ErrorBody::new(ErrorCode::INTERNAL, "client failed");
    c.server_reads(&[goodbye.to_frame(None)]);
    let events = c.server_events();
    assert!(
        matches!(&events[..], [ServerEvent::Ended(Ending::PeerError(body))] if *body == goodbye),
        "{events:?}"
    );
    assert!(c.server.transmit().is_empty());
}

#[test]
fn server_shut_down_fails_every_request_in_flight_then_closes() {
    let mut c = Connected::new();
    let asked: Vec<RequestId> = (0..10).map(|_| c.ask(&Request::NodeStats)).collect();
    c.server.shut_down();
    let events = c.server_events();
    assert!(
        matches!(&events[..], [ServerEvent::Ended(Ending::ShuttingDown)]),
        "{events:?}"
    );
    let queued = c.server_queued();
    assert_eq!(queued.len(), asked.len() + 1);
    for (frame, &id) in queued.iter().zip(&asked) {
        let (to, body) = error_of(frame);
        assert_eq!((to, body.code()), (Some(id), ErrorCode::SHUTTING_DOWN));
    }
    assert_eq!(queued.last(), Some(&Frame::close()));

    // The client reports each as `ShuttingDown`, then the end.
    c.deliver_to_client();
    let mut expected: Vec<ClientEvent> = asked
        .iter()
        .map(|&id| ClientEvent::Answer {
            id,
            result: Err(RequestFailure::ShuttingDown),
        })
        .collect();
    expected.push(ClientEvent::Ended(Ending::Closed));
    assert_eq!(c.client_events(), expected);
}

#[test]
fn server_replaces_a_response_over_the_frame_limit_with_limit_exceeded() {
    let mut c = Connected::with(ClientConfig::new().with_max_frame_len(4096), 16);
    let max = c.config.max_frame_len;
    assert_eq!(max, 4096);
    let handed_back = |len: usize| {
        let message = Message::new(vec![b'x'; len]);
        Response::SendFailed(SendError::new(SendErrorKind::Timeout, message))
    };
    let at_limit = (0..max as usize)
        .find(|&len| encode_response(&handed_back(len)).len() == max as usize)
        .expect("a response exactly at the limit");
    let fits = c.ask(&Request::NodeStats);
    let over = c.ask(&Request::NodeStats);
    c.server.respond(fits, &handed_back(at_limit));
    c.server.respond(over, &handed_back(at_limit + 1));
    assert_eq!(c.server.in_flight(), 0);
    let queued = c.server_queued();
    assert_eq!(queued.len(), 2, "{queued:?}");
    assert_eq!(queued[0].kind(), FrameKind::Response);
    assert_eq!(queued[0].payload().len(), max as usize);
    assert_one_error(&queued[1..], Some(over), ErrorCode::LIMIT_EXCEEDED);

    c.deliver_to_client();
    let events = c.client_events();
    assert_eq!(
        events[0],
        ClientEvent::Answer {
            id: fits,
            result: Ok(handed_back(at_limit))
        }
    );
    assert!(
        matches!(&events[1..], [ClientEvent::Answer { id, result: Err(RequestFailure::Refused(body)) }]
            if *id == over && body.code() == ErrorCode::LIMIT_EXCEEDED),
        "{events:?}"
    );
    assert!(c.client.is_open() && c.server.is_open());
}

#[test]
fn server_reject_queues_the_error_and_ends_refused() {
    let mut client = ClientSession::new(ClientConfig::new());
    let mut server = ServerSession::new(ServerConfig::new(), 16);
    server.handle_input(&mut client.transmit().split());
    let Some(ServerEvent::Hello(admission)) = server.poll_event() else {
        panic!("the server did not get the Hello")
    };
    let refusal = ErrorBody::new(ErrorCode::LIMIT_EXCEEDED, "too many connections");
    server.reject(admission, refusal.clone());
    assert!(
        matches!(server.poll_event(), Some(ServerEvent::Ended(Ending::Refused(body))) if body == refusal)
    );
    assert!(server.is_ended());
    let queued = decode_all(server.transmit().clone(), FrameConfig::HANDSHAKE);
    assert_one_error(&queued, None, ErrorCode::LIMIT_EXCEEDED);

    client.handle_input(&mut server.transmit().split());
    let failure = HandshakeError::PeerError(refusal);
    assert_eq!(
        client.poll_event(),
        Some(ClientEvent::Ended(Ending::Handshake(failure)))
    );
}

#[test]
fn server_ends_corrupt_on_bytes_that_are_not_frames() {
    let config = Connected::new().config;
    let request = || Frame::request(id(1), encode_request(&Request::NodeStats));
    let mut bad_checksum = encode_all(&[request()], config);
    let last = bad_checksum.len() - 1;
    bad_checksum[last] ^= 1;
    let loose = FrameConfig {
        max_frame_len: config.max_frame_len + 1,
        ..config
    };
    let huge = Frame::request(id(1), vec![0; config.max_frame_len as usize + 1]);
    let v2 = FrameConfig {
        version: Version::new(2).unwrap(),
        ..config
    };
    let cases = [
        (
            BytesMut::from(&b"GET / HTTP/1.1\r\n"[..]),
            ErrorCode::MALFORMED_FRAME,
        ),
        (bad_checksum, ErrorCode::BAD_CHECKSUM),
        (encode_all(&[huge], loose), ErrorCode::FRAME_TOO_LARGE),
        (encode_all(&[request()], v2), ErrorCode::UNSUPPORTED_VERSION),
    ];
    for (mut bytes, code) in cases {
        let mut c = Connected::new();
        c.server.handle_input(&mut bytes);
        let events = c.server_events();
        assert!(
            matches!(&events[..], [ServerEvent::Ended(Ending::Corrupt(error))] if error.code() == code),
            "{code}: {events:?}"
        );
        assert_one_error(&c.server_queued(), None, code);
        assert!(c.server.is_ended());
    }
}

// ---------------------------------------------------------------------------------------------
// The client's frame rules.

#[test]
fn client_request_before_the_handshake_is_connecting() {
    let mut client = ClientSession::new(ClientConfig::new());
    let hello = client.transmit().len();
    assert_eq!(
        client.request(&Request::NodeStats, None),
        Err(RequestError::Connecting)
    );
    assert_eq!(client.transmit().len(), hello);
    assert_eq!(client.in_flight(), 0);
    assert_eq!(client.poll_event(), None);
    let queued = decode_all(client.transmit().clone(), FrameConfig::HANDSHAKE);
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].kind(), FrameKind::Hello);
}

#[test]
fn client_refuses_a_request_over_the_negotiated_limit_and_carries_on() {
    let mut c = Connected::with(ClientConfig::new().with_max_frame_len(4096), 16);
    // A request is queued and not yet written: the refused one must not disturb it.
    let small = c.client.request(&Request::NodeStats, None).unwrap();
    let queued = c.client.transmit().len();
    let big = send(5000);
    let len = encode_request(&big).len();
    assert_eq!(
        c.client.request(&big, None),
        Err(RequestError::TooLarge { len, max: 4096 })
    );
    assert_eq!(c.client.transmit().len(), queued, "nothing is queued");
    assert_eq!(c.client.in_flight(), 1);
    assert!(c.client.is_open());
    assert_eq!(c.client_events(), vec![]);
    c.deliver_to_server();
    let events = c.server_events();
    assert!(
        matches!(&events[..], [ServerEvent::Request { id, .. }] if *id == small),
        "{events:?}"
    );
    c.ask(&send(100));
}

#[test]
fn client_ends_on_a_final_frame_for_an_id_not_in_flight() {
    let strays = [
        Frame::response(id(2), encode_response(&Response::Done)),
        ErrorBody::new(ErrorCode::INTERNAL, "no").to_frame(Some(id(2))),
    ];
    for stray in strays {
        let mut c = Connected::new();
        let asked = c.client.request(&Request::NodeStats, None).unwrap();
        assert_eq!(asked, id(1));
        c.client.transmit().clear();
        c.client_reads(std::slice::from_ref(&stray));
        let events = c.client_events();
        assert!(
            matches!(&events[..], [
                ClientEvent::Answer { id, result: Err(RequestFailure::Disconnected) },
                ClientEvent::Ended(Ending::Violation(_)),
            ] if *id == asked),
            "{stray:?}: {events:?}"
        );
        assert_one_error(&c.client_queued(), None, ErrorCode::PROTOCOL_VIOLATION);
        assert!(c.client.is_ended());
    }
}

#[test]
fn client_ends_on_a_frame_only_a_client_may_send() {
    let hostile = [
        Frame::request(id(1), encode_request(&Request::NodeStats)),
        Frame::cancel(id(1)),
        Hello::new(&[Version::V1], 65536, None).to_frame(),
        Welcome {
            version: Version::V1,
            max_frame_len: 4096,
            pid: 1,
            capabilities: postbox_wire::Capabilities::NONE,
        }
        .to_frame(),
    ];
    for frame in hostile {
        let mut c = Connected::new();
        c.client_reads(std::slice::from_ref(&frame));
        let events = c.client_events();
        assert!(
            matches!(&events[..], [ClientEvent::Ended(Ending::Violation(_))]),
            "{frame:?}: {events:?}"
        );
        assert_one_error(&c.client_queued(), None, ErrorCode::PROTOCOL_VIOLATION);
    }
}

#[test]
fn client_reports_error_shutting_down_as_shutting_down() {
    let mut c = Connected::new();
    let stopping = c.ask(&Request::NodeStats);
    let refused = c.ask(&Request::NodeStats);
    c.server.fail(stopping, ErrorCode::SHUTTING_DOWN, "bye");
    c.server.fail(refused, ErrorCode::INTERNAL, "oops");
    c.deliver_to_client();
    let expected = vec![
        ClientEvent::Answer {
            id: stopping,
            result: Err(RequestFailure::ShuttingDown),
        },
        ClientEvent::Answer {
            id: refused,
            result: Err(RequestFailure::Refused(ErrorBody::new(
                ErrorCode::INTERNAL,
                "oops",
            ))),
        },
    ];
    assert_eq!(c.client_events(), expected);
    assert!(c.client.is_open());
}

#[test]
fn client_answers_every_request_disconnected_in_id_order_when_the_server_closes() {
    let mut c = Connected::new();
    let asked: Vec<RequestId> = (0..20)
        .map(|_| c.client.request(&Request::NodeStats, None).unwrap())
        .collect();
    c.client_reads(&[Frame::close()]);
    let mut expected: Vec<ClientEvent> = asked
        .iter()
        .map(|&id| ClientEvent::Answer {
            id,
            result: Err(RequestFailure::Disconnected),
        })
        .collect();
    expected.push(ClientEvent::Ended(Ending::Closed));
    assert_eq!(c.client_events(), expected);
    assert!(c.client.is_ended());
    assert_eq!(c.client.in_flight(), 0);
    assert_eq!(
        c.client.request(&Request::NodeStats, None),
        Err(RequestError::Closed)
    );
}

#[test]
fn client_ends_on_an_error_with_id_zero_and_disconnects_its_requests() {
    let mut c = Connected::new();
    let asked = c.ask(&Request::NodeStats);
    let goodbye = ErrorBody::new(ErrorCode::INTERNAL, "daemon failed");
    c.client_reads(&[goodbye.to_frame(None)]);
    let expected = vec![
        ClientEvent::Answer {
            id: asked,
            result: Err(RequestFailure::Disconnected),
        },
        ClientEvent::Ended(Ending::PeerError(goodbye)),
    ];
    assert_eq!(c.client_events(), expected);
    assert!(c.client.transmit().is_empty(), "an Error is not answered");
}

#[test]
fn a_stream_ending_without_close_is_lost_on_either_side() {
    let mut c = Connected::new();
    let asked = c.ask(&Request::NodeStats);
    c.client.handle_end();
    c.server.handle_end();
    let expected = vec![
        ClientEvent::Answer {
            id: asked,
            result: Err(RequestFailure::Disconnected),
        },
        ClientEvent::Ended(Ending::Lost),
    ];
    assert_eq!(c.client_events(), expected);
    let events = c.server_events();
    assert!(
        matches!(&events[..], [ServerEvent::Ended(Ending::Lost)]),
        "{events:?}"
    );
}

#[test]
fn client_end_during_the_handshake_is_a_handshake_failure() {
    let mut client = ClientSession::new(ClientConfig::new());
    client.handle_end();
    assert_eq!(
        client.poll_event(),
        Some(ClientEvent::Ended(Ending::Handshake(
            HandshakeError::Closed
        )))
    );
    assert_eq!(client.poll_event(), None);
    assert!(client.is_ended());
    assert_eq!(
        client.request(&Request::NodeStats, None),
        Err(RequestError::Closed)
    );
}

#[test]
fn client_deadline_sends_exactly_one_cancel() {
    let mut c = Connected::new();
    let start = Instant::now();
    let deadline = start + Duration::from_millis(10);
    let request = send(10);
    let timed = c.client.request(&request, Some(deadline)).unwrap();
    let patient = c.client.request(&Request::NodeStats, None).unwrap();
    c.deliver_to_server();
    assert_eq!(c.server_events().len(), 2);
    assert_eq!(c.client.poll_timeout(), Some(deadline));

    c.client.handle_timeout(deadline - Duration::from_millis(1));
    assert!(c.client.transmit().is_empty(), "cancelled early");
    c.client.handle_timeout(deadline);
    assert_eq!(c.client_queued(), vec![Frame::cancel(timed)]);
    c.client.handle_timeout(deadline + Duration::from_secs(1));
    c.client.cancel(timed);
    assert_eq!(
        c.client_queued(),
        vec![Frame::cancel(timed)],
        "cancelled twice"
    );
    assert_eq!(c.client.poll_timeout(), None);
    assert_eq!(c.client.in_flight(), 2, "still in flight until answered");

    // The server withdraws it; the client gets that answer, once.
    c.deliver_to_server();
    let events = c.server_events();
    assert!(
        matches!(&events[..], [ServerEvent::Cancel { id }] if *id == timed),
        "{events:?}"
    );
    c.server.respond(timed, &withdrawn(&request));
    c.deliver_to_client();
    let answer = ClientEvent::Answer {
        id: timed,
        result: Ok(withdrawn(&request)),
    };
    assert_eq!(c.client_events(), vec![answer]);
    assert_eq!(c.client.in_flight(), 1);
    c.server.respond(patient, &Response::Done);
    c.deliver_to_client();
    let answer = ClientEvent::Answer {
        id: patient,
        result: Ok(Response::Done),
    };
    assert_eq!(c.client_events(), vec![answer]);
    assert_eq!(c.client.in_flight(), 0);
}

#[test]
fn client_cancel_of_an_id_not_in_flight_sends_nothing() {
    let mut c = Connected::new();
    let answered = c.ask(&Request::NodeStats);
    c.server.respond(answered, &Response::Done);
    c.deliver_to_client();
    assert_eq!(c.client_events().len(), 1);
    c.client.cancel(answered);
    c.client.cancel(id(999));
    assert!(c.client.transmit().is_empty());
    assert!(c.client.is_open());
}

#[test]
fn client_after_close_refuses_requests_but_delivers_answers() {
    let mut c = Connected::new();
    let answered = c.ask(&Request::NodeStats);
    let abandoned = c.ask(&Request::NodeStats);
    // The answer is on its way when the client closes.
    c.server.respond(answered, &Response::Done);
    c.client.close();
    assert!(!c.client.is_open() && !c.client.is_ended());
    assert_eq!(
        c.client.request(&Request::NodeStats, None),
        Err(RequestError::Closed)
    );
    assert_eq!(c.client_queued(), vec![Frame::close()]);

    c.deliver_to_client();
    let answer = ClientEvent::Answer {
        id: answered,
        result: Ok(Response::Done),
    };
    assert_eq!(c.client_events(), vec![answer]);
    c.deliver_to_server();
    let events = c.server_events();
    assert!(
        matches!(&events[..], [ServerEvent::Ended(Ending::Closed)]),
        "{events:?}"
    );
    c.client.handle_end();
    let expected = vec![
        ClientEvent::Answer {
            id: abandoned,
            result: Err(RequestFailure::Disconnected),
        },
        ClientEvent::Ended(Ending::Closed),
    ];
    assert_eq!(c.client_events(), expected);
}

// ---------------------------------------------------------------------------------------------
// Where the client departs from its documentation or the protocol.

/// `poll_timeout` is documented as "the earliest deadline of a request in flight and not yet
/// cancelled"; a request cancelled by hand keeps its deadline there (a driver then wakes for
/// nothing: `handle_timeout` drops it).
#[test]
fn client_poll_timeout_skips_requests_already_cancelled() {
    let mut c = Connected::new();
    let start = Instant::now();
    let asked = c
        .client
        .request(&send(10), Some(start + Duration::from_millis(10)))
        .unwrap();
    c.deliver_to_server();
    c.client.cancel(asked);
    assert_eq!(c.client_queued(), vec![Frame::cancel(asked)]);
    assert_eq!(c.client.in_flight(), 1);
    assert_eq!(
        c.client.poll_timeout(),
        None,
        "the deadline of a cancelled request"
    );
}

/// `Close` says "the sender will send nothing more" (protocol.md §2, §5), yet a closing client
/// still writes `Cancel` frames after it, for a `cancel` or a deadline passing while answers
/// are still awaited.
#[test]
fn client_sends_nothing_after_close() {
    let mut c = Connected::new();
    let start = Instant::now();
    let timed = c
        .client
        .request(&send(10), Some(start + Duration::from_millis(10)))
        .unwrap();
    let patient = c.client.request(&send(10), None).unwrap();
    c.deliver_to_server();
    assert_eq!(c.server_events().len(), 2);
    c.client.close();
    c.client.cancel(patient);
    c.client.handle_timeout(start + Duration::from_secs(1));
    assert_eq!(
        c.client_queued(),
        vec![Frame::close()],
        "frames after Close"
    );
    // Both requests still end with one answer each: here, the server's `Close` ends them.
    c.client_reads(&[Frame::close()]);
    let events = c.client_events();
    assert!(
        matches!(&events[..], [
            ClientEvent::Answer { id: first, .. },
            ClientEvent::Answer { id: second, .. },
            ClientEvent::Ended(Ending::Closed),
        ] if (*first, *second) == (timed, patient)),
        "{events:?}"
    );
}

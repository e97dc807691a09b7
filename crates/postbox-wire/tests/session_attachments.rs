//! Sessions with attached payloads (protocol.md §7.5): what departs with which frame, what a
//! frame claims of what arrived, and every way a peer can get the descriptors wrong ending the
//! connection with a protocol violation.

use bytes::{Bytes, BytesMut};
use postbox_core::{Delivery, MailboxId, Message, MessageKind, Pid, Received, Timestamp, Wait};
use postbox_wire::{
    Capabilities, ClientConfig, ClientEvent, ClientSession, Ending, RequestId, Response,
    ServerConfig, ServerEvent, ServerSession, Target, session::Departure,
};
use postbox_wire::{Request, encode_request};

const BIG: usize = 100_000;

/// What one side has written and not yet delivered, cut into the reads a Unix socket would give:
/// each departure's payloads arrive with the read that begins at its frame.
struct Wire {
    /// Stream offset of the next byte to deliver.
    at: u64,
}

impl Wire {
    /// Reads, in order: (bytes, payloads that arrived with them).
    fn reads(
        &mut self,
        bytes: &mut BytesMut,
        departures: Vec<Departure>,
    ) -> Vec<(BytesMut, Vec<Bytes>)> {
        let mut reads = Vec::new();
        let mut payloads = Vec::new();
        for departure in departures {
            let before = (departure.at - self.at) as usize;
            if before > 0 {
                reads.push((bytes.split_to(before), std::mem::take(&mut payloads)));
                self.at = departure.at;
            }
            payloads.extend(departure.payloads);
        }
        let rest = bytes.split();
        self.at += rest.len() as u64;
        reads.push((rest, payloads));
        reads
    }
}

struct Pair {
    client: ClientSession,
    server: ServerSession,
    to_server: Wire,
    to_client: Wire,
}

impl Pair {
    fn new(client_caps: Capabilities, server_caps: Capabilities) -> Pair {
        let mut client = ClientSession::new(ClientConfig::new().with_capabilities(client_caps));
        let mut server = ServerSession::new(ServerConfig::new().with_capabilities(server_caps), 16);
        let mut pair = Pair {
            client: ClientSession::new(ClientConfig::new()),
            server: ServerSession::new(ServerConfig::new(), 1),
            to_server: Wire { at: 0 },
            to_client: Wire { at: 0 },
        };
        let hello = client.transmit().split();
        pair.to_server.at = hello.len() as u64;
        server.handle_input(&mut hello.clone());
        let Some(ServerEvent::Hello(admission)) = server.poll_event() else {
            panic!("no Hello");
        };
        server.accept(admission, 7).unwrap();
        let welcome = server.transmit().split();
        pair.to_client.at = welcome.len() as u64;
        client.handle_input(&mut welcome.clone());
        assert!(matches!(
            client.poll_event(),
            Some(ClientEvent::Connected(_))
        ));
        pair.client = client;
        pair.server = server;
        pair
    }

    fn attached() -> Pair {
        Pair::new(Capabilities::ATTACHMENTS, Capabilities::ATTACHMENTS)
    }

    fn deliver_to_server(&mut self) -> Vec<ServerEvent> {
        let departures: Vec<Departure> =
            std::iter::from_fn(|| self.client.poll_departure()).collect();
        let mut bytes = self.client.transmit().split();
        for (mut read, payloads) in self.to_server.reads(&mut bytes, departures) {
            let len = read.len();
            self.server.handle_input(&mut read);
            self.server.handle_attachments(len, payloads);
        }
        std::iter::from_fn(|| self.server.poll_event()).collect()
    }

    fn deliver_to_client(&mut self) -> Vec<ClientEvent> {
        let departures: Vec<Departure> =
            std::iter::from_fn(|| self.server.poll_departure()).collect();
        let mut bytes = self.server.transmit().split();
        for (mut read, payloads) in self.to_client.reads(&mut bytes, departures) {
            let len = read.len();
            self.client.handle_input(&mut read);
            self.client.handle_attachments(len, payloads);
        }
        std::iter::from_fn(|| self.client.poll_event()).collect()
    }
}

fn send(len: usize) -> Request {
    Request::Send {
        target: Target::Mailbox(MailboxId::from_raw(1)),
        message: Message::new(vec![3u8; len]),
        delivery: Delivery::Queued,
        wait: Wait::Block,
    }
}

fn received(payload: Bytes) -> Response {
    Response::Received {
        branch: 0,
        message: Received {
            message: Message::new(payload),
            sender: Pid::from_raw(2),
            seq: 1,
            sent_at: Timestamp::from_nanos(1),
            kind: MessageKind::User,
            attempt: 1,
        },
    }
}

fn violated(ending: Option<&ServerEvent>) -> bool {
    matches!(ending, Some(ServerEvent::Ended(Ending::Violation(_))))
}

#[test]
fn smoke() {
    let mut pair = Pair::attached();
    let id = pair.client.request(&send(BIG), None).unwrap();
    let departure = pair.client.poll_departure().expect("the payload departs");
    assert_eq!(departure.payloads.len(), 1);
    // Delivered by hand, to compare the payload the server gets with the one that departed.
    let sent = departure.payloads[0].clone();
    let mut bytes = pair.client.transmit().split();
    let reads = pair.to_server.reads(&mut bytes, vec![departure]);
    for (mut read, payloads) in reads {
        let len = read.len();
        pair.server.handle_input(&mut read);
        pair.server.handle_attachments(len, payloads);
    }
    let events: Vec<ServerEvent> = std::iter::from_fn(|| pair.server.poll_event()).collect();
    let [ServerEvent::Request { id: got, request }] = &events[..] else {
        panic!("{events:?}");
    };
    assert_eq!((*got, request), (id, &send(BIG)));
    let Request::Send { message, .. } = request else {
        unreachable!()
    };
    assert_eq!(
        message.payload.as_ptr(),
        sent.as_ptr(),
        "the attached bytes, not a copy"
    );

    let answer = Bytes::from(vec![9u8; BIG]);
    pair.server.respond(id, &received(answer.clone()));
    let events = pair.deliver_to_client();
    let [
        ClientEvent::Answer {
            result: Ok(response),
            ..
        },
    ] = &events[..]
    else {
        panic!("{events:?}");
    };
    assert_eq!(response, &received(answer.clone()));
    let Response::Received { message, .. } = response else {
        unreachable!()
    };
    assert_eq!(message.message.payload.as_ptr(), answer.as_ptr());
}

#[test]
fn small_payloads_and_connections_without_the_capability_stay_inline() {
    let mut pair = Pair::attached();
    pair.client.set_attach_from(BIG + 1);
    pair.client.request(&send(BIG), None).unwrap();
    assert_eq!(pair.client.poll_departure(), None);
    let events = pair.deliver_to_server();
    assert!(matches!(&events[..], [ServerEvent::Request { request, .. }] if request == &send(BIG)));

    for (client, server) in [
        (Capabilities::NONE, Capabilities::ATTACHMENTS),
        (Capabilities::ATTACHMENTS, Capabilities::NONE),
    ] {
        let mut pair = Pair::new(client, server);
        let id = pair.client.request(&send(BIG), None).unwrap();
        assert_eq!(pair.client.poll_departure(), None);
        let events = pair.deliver_to_server();
        assert!(
            matches!(&events[..], [ServerEvent::Request { request, .. }] if request == &send(BIG))
        );
        pair.server
            .respond(id, &received(Bytes::from(vec![1; BIG])));
        assert_eq!(pair.server.poll_departure(), None);
    }
}

#[test]
fn many_frames_with_attachments_and_without_interleave() {
    let mut pair = Pair::attached();
    let sizes = [BIG, 10, BIG * 2, 5, 70_000, BIG];
    for &len in &sizes {
        pair.client.request(&send(len), None).unwrap();
    }
    let events = pair.deliver_to_server();
    let got: Vec<Request> = events
        .into_iter()
        .map(|event| match event {
            ServerEvent::Request { request, .. } => request,
            other => panic!("{other:?}"),
        })
        .collect();
    let expected: Vec<Request> = sizes.iter().map(|&len| send(len)).collect();
    assert_eq!(got, expected);
}

/// Writes a request frame the way a hostile client would, with `payloads` arriving beside it.
fn hostile(pair: &mut Pair, payload: Bytes, payloads: Vec<Bytes>) -> Vec<ServerEvent> {
    let mut frame = BytesMut::new();
    let codec = postbox_wire::Codec::new(postbox_wire::FrameConfig {
        version: postbox_wire::Version::V1,
        max_frame_len: postbox_wire::DEFAULT_MAX_FRAME_LEN,
    });
    codec
        .encode(
            &postbox_wire::Frame::request(RequestId::new(5).unwrap(), payload),
            &mut frame,
        )
        .unwrap();
    let len = frame.len();
    pair.server.handle_input(&mut frame);
    pair.server.handle_attachments(len, payloads);
    std::iter::from_fn(|| pair.server.poll_event()).collect()
}

fn table(entries: &[(u32, u64)], operation: &Request) -> Bytes {
    let mut out = vec![postbox_wire::ATTACHED, entries.len() as u8];
    for (message, len) in entries {
        out.extend_from_slice(&message.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
    }
    out.extend_from_slice(&encode_request(operation));
    Bytes::from(out)
}

#[test]
fn missing_extra_wrongly_sized_and_unexpected_payloads_end_the_connection() {
    let stripped = send(0);
    let payload = || Bytes::from(vec![1u8; 10]);

    let mut pair = Pair::attached();
    let events = hostile(&mut pair, table(&[(0, 10)], &stripped), Vec::new());
    assert!(violated(events.last()), "missing: {events:?}");

    let mut pair = Pair::attached();
    let events = hostile(&mut pair, table(&[(0, 11)], &stripped), vec![payload()]);
    assert!(violated(events.last()), "wrong size: {events:?}");

    let mut pair = Pair::attached();
    let events = hostile(&mut pair, encode_request(&send(3)), vec![payload()]);
    assert!(matches!(events.first(), Some(ServerEvent::Request { .. })));
    let events = hostile(&mut pair, encode_request(&send(3)), Vec::new());
    assert!(violated(events.last()), "extra: {events:?}");

    let mut pair = Pair::new(Capabilities::NONE, Capabilities::NONE);
    let events = hostile(&mut pair, encode_request(&send(3)), vec![payload()]);
    assert!(
        violated(events.last()),
        "without the capability: {events:?}"
    );

    let mut pair = Pair::attached();
    let many = (0..200).map(|_| payload()).collect();
    let events = hostile(&mut pair, encode_request(&send(3)), many);
    assert!(violated(events.last()), "too many: {events:?}");

    let mut pair = Pair::attached();
    let events = hostile(&mut pair, table(&[(3, 10)], &stripped), vec![payload()]);
    assert!(violated(events.last()), "a malformed table: {events:?}");

    let mut pair = Pair::attached();
    pair.server
        .refuse_attachments("the read's control data was cut short");
    let events: Vec<ServerEvent> = std::iter::from_fn(|| pair.server.poll_event()).collect();
    assert!(violated(events.last()), "refused: {events:?}");
}

#[test]
fn a_marked_payload_without_the_capability_is_malformed_for_that_request_only() {
    let mut pair = Pair::new(Capabilities::NONE, Capabilities::NONE);
    let events = hostile(&mut pair, table(&[(0, 10)], &send(0)), Vec::new());
    assert!(events.is_empty(), "{events:?}");
    assert!(pair.server.is_open());
    assert!(
        !pair.server.transmit().is_empty(),
        "an Error for the request"
    );
}

//! Rewriting identifiers: every pid, mailbox id and call id in every request and response goes
//! through the map exactly once, as the right kind, and nothing else changes.
//!
//! Each test builds a corpus twice from the same code: once with identifiers drawn from a counter
//! per kind, once with the same identifiers shifted by a per-kind offset. Mapping the first with a
//! map that adds those offsets must give the second (a missed identifier keeps its old value, one
//! mapped twice or as the wrong kind gets the wrong offset), and the map must have seen exactly
//! the identifiers drawn. Variant guards make a new variant fail here until the corpus holds it.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use postbox_core::{
    AdminError, Branch, CallError, CallErrorKind, CallId, Capacity, Credentials, Delivery,
    Dispatch, Durability, EngineStats, LeaseId, MailboxAttrs, MailboxId, MailboxStats, Message,
    MessageKind, MessageSize, Mode, OpenError, Order, Overflow, Owner, Ownership, Pid, ProcessInfo,
    Received, Receivers, RecvError, Redelivery, Reply, ReplyError, SelectError, Selector,
    SendError, SendErrorKind, Settlement, Source, Timestamp, Wait, WaitInfo, WaitKind, WaitTarget,
};
use postbox_wire::{
    IdMap, LocalNode, NodeLinks, PeerLink, PeerState, Request, Response, Target, decode_response,
    encode_response,
};

const PID_SHIFT: u64 = 1 << 40;
const MAILBOX_SHIFT: u64 = 2 << 40;
const CALL_SHIFT: u64 = 3 << 40;

/// Identifiers by kind, as raw values.
#[derive(Default, PartialEq, Eq, Debug)]
struct Seen {
    pids: Vec<u64>,
    mailboxes: Vec<u64>,
    calls: Vec<u64>,
}

impl Seen {
    fn sorted(mut self) -> Seen {
        self.pids.sort_unstable();
        self.mailboxes.sort_unstable();
        self.calls.sort_unstable();
        self
    }
}

/// Hands out identifiers from one counter per kind, shifted or not, and records the unshifted
/// values it handed out.
struct Draw {
    shifted: bool,
    next: u64,
    drawn: Seen,
}

impl Draw {
    fn plain() -> Draw {
        Draw {
            shifted: false,
            next: 1,
            drawn: Seen::default(),
        }
    }

    fn shifted() -> Draw {
        Draw {
            shifted: true,
            ..Draw::plain()
        }
    }

    /// One counter for all kinds, so that no two identifiers of any kinds are equal.
    fn raw(&mut self) -> u64 {
        let raw = self.next;
        self.next += 1;
        raw
    }

    fn pid(&mut self) -> Pid {
        let raw = self.raw();
        self.drawn.pids.push(raw);
        Pid::from_raw(raw + if self.shifted { PID_SHIFT } else { 0 })
    }

    fn mailbox(&mut self) -> MailboxId {
        let raw = self.raw();
        self.drawn.mailboxes.push(raw);
        MailboxId::from_raw(raw + if self.shifted { MAILBOX_SHIFT } else { 0 })
    }

    fn call(&mut self) -> CallId {
        let raw = self.raw();
        self.drawn.calls.push(raw);
        CallId::from_raw(raw + if self.shifted { CALL_SHIFT } else { 0 })
    }
}

/// Adds each kind's offset, and records what it saw.
#[derive(Default)]
struct Shift {
    seen: Seen,
}

impl IdMap for Shift {
    fn pid(&mut self, pid: Pid) -> Pid {
        self.seen.pids.push(pid.as_raw());
        Pid::from_raw(pid.as_raw() + PID_SHIFT)
    }

    fn mailbox(&mut self, id: MailboxId) -> MailboxId {
        self.seen.mailboxes.push(id.as_raw());
        MailboxId::from_raw(id.as_raw() + MAILBOX_SHIFT)
    }

    fn call(&mut self, id: CallId) -> CallId {
        self.seen.calls.push(id.as_raw());
        CallId::from_raw(id.as_raw() + CALL_SHIFT)
    }
}

// Building blocks: every variant of each type that can hold an identifier.

fn targets(ids: &mut Draw) -> Vec<Target> {
    vec![Target::Process(ids.pid()), Target::Mailbox(ids.mailbox())]
}

fn sources(ids: &mut Draw) -> Vec<Source> {
    vec![Source::Inbox, Source::Mailbox(ids.mailbox())]
}

fn selectors(ids: &mut Draw) -> Vec<Selector> {
    vec![
        Selector::Any,
        Selector::Type(3),
        Selector::NotType(4),
        Selector::TypeAtMost(5),
        Selector::From(ids.pid()),
    ]
}

/// Every source with every selector.
fn branches(ids: &mut Draw) -> Vec<Branch> {
    let mut branches = Vec::new();
    for selector in selectors(ids) {
        branches.push(Branch::new(Source::Inbox, selector));
    }
    for selector in selectors(ids) {
        branches.push(Branch::new(Source::Mailbox(ids.mailbox()), selector));
    }
    branches
}

fn message(n: u8) -> Message {
    Message::new(vec![n; usize::from(n)])
        .with_type(i64::from(n) + 1)
        .with_priority(u16::from(n))
}

fn kinds(ids: &mut Draw) -> Vec<MessageKind> {
    vec![
        MessageKind::User,
        MessageKind::Down,
        MessageKind::Request(ids.call()),
    ]
}

/// One received message of every kind; the down notification's payload names a pid in its
/// bytes, which must stay as they are.
fn received(ids: &mut Draw) -> Vec<Received> {
    kinds(ids)
        .into_iter()
        .zip(1u32..)
        .map(|(kind, n)| Received {
            message: match kind {
                MessageKind::Down => Message::new(7u64.to_le_bytes().to_vec()),
                MessageKind::User | MessageKind::Request(_) => message(n as u8),
            },
            sender: ids.pid(),
            seq: u64::from(n) * 10,
            sent_at: Timestamp::from_nanos(u64::from(n) * 1000),
            kind,
            attempt: n,
        })
        .collect()
}

fn owners(ids: &mut Draw) -> Vec<Owner> {
    vec![
        Owner::Process(ids.pid()),
        Owner::System(Credentials::new(1000, 100)),
    ]
}

fn replies() -> Vec<Reply> {
    vec![
        Reply::Answer(message(4)),
        Reply::Failure(Bytes::from_static(b"no such account")),
    ]
}

/// Attributes with a dead-letter mailbox, and without.
fn attrs(ids: &mut Draw) -> Vec<MailboxAttrs> {
    let with_dead_letter = MailboxAttrs {
        capacity: Capacity::bounded(8, 4096),
        size: MessageSize::Fixed(16),
        order: Order::Priority,
        overflow: Overflow::DropOldest,
        ownership: Ownership::System,
        receivers: Receivers::Shared(Dispatch::RoundRobin),
        mode: Mode::new(0o640),
        redelivery: Redelivery {
            lease_time: Some(Duration::from_secs(30)),
            max_deliveries: Some(3),
            dead_letter: Some(ids.mailbox()),
        },
        durability: Durability::Disk,
    };
    vec![with_dead_letter, MailboxAttrs::process_owned()]
}

fn wait_targets(ids: &mut Draw) -> Vec<WaitTarget> {
    vec![
        WaitTarget::Mailbox("jobs".into()),
        WaitTarget::Inbox,
        WaitTarget::Process(ids.pid()),
    ]
}

fn mailbox_stats(ids: &mut Draw) -> Vec<MailboxStats> {
    let owners = owners(ids);
    let attrs = attrs(ids);
    owners
        .into_iter()
        .zip(attrs)
        .zip([true, false])
        .map(|((owner, attrs), busy)| MailboxStats {
            id: ids.mailbox(),
            name: "jobs".into(),
            attrs,
            owner,
            uid: 1000,
            gid: 100,
            mode: attrs.mode,
            messages: 2,
            bytes: 20,
            total_sent: 5,
            total_received: 3,
            dropped: 1,
            last_send: busy.then(|| (ids.pid(), Timestamp::from_nanos(5))),
            last_recv: busy.then(|| (ids.pid(), Timestamp::from_nanos(6))),
            created: Timestamp::from_nanos(1),
            changed: Timestamp::from_nanos(2),
            blocked_senders: 1,
            blocked_receivers: 0,
            openers: 3,
            leased: 1,
            dead_lettered: 0,
            duplicates_dropped: 2,
        })
        .collect()
}

fn processes(ids: &mut Draw) -> Vec<ProcessInfo> {
    let waits = vec![
        WaitInfo {
            kind: WaitKind::Recv,
            on: wait_targets(ids),
            since: Timestamp::from_nanos(9),
        },
        WaitInfo {
            kind: WaitKind::Call,
            on: vec![WaitTarget::Process(ids.pid())],
            since: Timestamp::from_nanos(10),
        },
    ];
    vec![
        ProcessInfo {
            pid: ids.pid(),
            name: Some("server".into()),
            uid: 1000,
            gid: 100,
            inbox_messages: 1,
            owned_mailboxes: 2,
            waiting: 2,
            os_pid: Some(4242),
            command: Some("server --port 0".into()),
            started: Timestamp::from_nanos(3),
            waits,
        },
        ProcessInfo {
            pid: ids.pid(),
            name: None,
            uid: 0,
            gid: 0,
            inbox_messages: 0,
            owned_mailboxes: 0,
            waiting: 0,
            os_pid: None,
            command: None,
            started: Timestamp::ZERO,
            waits: Vec::new(),
        },
    ]
}

fn node_links() -> NodeLinks {
    NodeLinks {
        local: Some(LocalNode {
            name: "a".into(),
            incarnation: 12,
            listen: Some("127.0.0.1:4000".into()),
        }),
        peers: vec![PeerLink {
            name: "b".into(),
            state: PeerState::Up,
            incarnation: Some(13),
            address: Some("127.0.0.1:4001".into()),
            rtt: Some(Duration::from_micros(80)),
            unacked: 1,
            retransmissions: 2,
            duplicates: 3,
            last_heard: Some(Duration::from_millis(5)),
        }],
    }
}

/// Every request variant, each holding every nested variant that can hold an identifier; every
/// identifier drawn afresh where it is used, so that each occurs once.
fn requests(ids: &mut Draw) -> Vec<Request> {
    let mut requests = Vec::new();
    for delivery in [Delivery::Queued, Delivery::Receipt] {
        for target in targets(ids) {
            requests.push(Request::Send {
                target,
                message: message(1),
                delivery,
                wait: Wait::Block,
            });
        }
    }
    for target in targets(ids) {
        requests.push(Request::ProducerSend {
            target,
            message: message(1),
            delivery: Delivery::Queued,
            wait: Wait::Block,
            producer: postbox_core::ProducerId::from_raw(7),
            seq: 3,
        });
    }
    requests.push(Request::LendRing {
        mailbox: ids.mailbox(),
    });
    for target in targets(ids) {
        requests.push(Request::SendBatch {
            target,
            messages: vec![message(1), message(2)],
            wait: Wait::Try,
        });
    }
    for target in targets(ids) {
        requests.push(Request::Call {
            target,
            request: message(3),
            wait: Wait::Block,
        });
    }
    requests.push(Request::Recv {
        branches: branches(ids),
        wait: Wait::Try,
    });
    for attrs in attrs(ids) {
        requests.push(Request::Create {
            name: "jobs".into(),
            attrs,
        });
    }
    for attrs in attrs(ids) {
        requests.push(Request::OpenOrCreate {
            name: "jobs".into(),
            attrs,
        });
    }
    requests.push(Request::Open {
        name: "jobs".into(),
    });
    requests.push(Request::Close {
        mailbox: ids.mailbox(),
    });
    requests.push(Request::Delete {
        mailbox: ids.mailbox(),
    });
    requests.push(Request::SetMode {
        mailbox: ids.mailbox(),
        mode: Mode::new(0o666),
    });
    requests.push(Request::SetMaxBytes {
        mailbox: ids.mailbox(),
        bytes: 1 << 20,
    });
    for owner in owners(ids) {
        requests.push(Request::SetOwner {
            mailbox: ids.mailbox(),
            owner,
        });
    }
    requests.push(Request::GrantReceive {
        mailbox: ids.mailbox(),
        grantee: ids.pid(),
    });
    requests.push(Request::RevokeReceive {
        mailbox: ids.mailbox(),
        grantee: ids.pid(),
    });
    requests.push(Request::Stat {
        mailbox: ids.mailbox(),
    });
    requests.push(Request::ListMailboxes);
    requests.push(Request::Register {
        name: "server".into(),
    });
    requests.push(Request::Whereis {
        name: "server".into(),
    });
    requests.push(Request::Monitor { target: ids.pid() });
    requests.push(Request::Demonitor { target: ids.pid() });
    requests.push(Request::ListProcesses);
    requests.push(Request::NodeStats);
    for branch in branches(ids) {
        requests.push(Request::RecvMany {
            branch,
            max_messages: 16,
            max_bytes: 4096,
            wait: Wait::Block,
        });
    }
    for branch in branches(ids) {
        requests.push(Request::Lease {
            branch,
            max_messages: 8,
            max_bytes: 2048,
            wait: Wait::Try,
        });
    }
    for Branch { source, selector } in branches(ids) {
        requests.push(Request::Peek {
            source,
            selector,
            max_messages: 4,
            max_bytes: 1024,
        });
    }
    for (source, settlement) in sources(ids)
        .into_iter()
        .zip([Settlement::Ack, Settlement::Return])
    {
        requests.push(Request::Settle {
            source,
            leases: vec![
                LeaseId { seq: 3, attempt: 1 },
                LeaseId { seq: 4, attempt: 2 },
            ],
            settlement,
        });
    }
    requests.push(Request::Purge {
        mailbox: ids.mailbox(),
    });
    for reply in replies() {
        requests.push(Request::Reply {
            call: ids.call(),
            reply,
        });
    }
    requests.push(Request::NodeLinks);
    requests.push(Request::AtNode {
        node: "b".into(),
        query: postbox_wire::NodeQuery::NodeStats,
    });
    requests
}

/// Every response variant, each holding every nested variant that can hold an identifier.
fn responses(ids: &mut Draw) -> Vec<Response> {
    let mut responses = vec![
        Response::Sent {
            receiver: Some(ids.pid()),
        },
        Response::Sent { receiver: None },
        Response::SendFailed(SendError::new(SendErrorKind::Full, message(1))),
        Response::SendFailed(SendError::without_message(SendErrorKind::Disconnected)),
    ];
    for (branch, message) in (0..).zip(received(ids)) {
        responses.push(Response::Received { branch, message });
    }
    responses.extend([
        Response::RecvFailed(SelectError {
            branch: 2,
            error: RecvError::PeerGone,
        }),
        Response::Opened {
            mailbox: ids.mailbox(),
            created: true,
        },
        Response::OpenFailed(OpenError::InvalidAttributes("fixed size 0".into())),
        Response::Done,
        Response::AdminFailed(AdminError::InvalidArgument("not bounded".into())),
    ]);
    for stats in mailbox_stats(ids) {
        responses.push(Response::Stat(Box::new(stats)));
    }
    responses.push(Response::Mailboxes(mailbox_stats(ids)));
    responses.push(Response::Whereis(Some(ids.pid())));
    responses.push(Response::Whereis(None));
    responses.push(Response::Processes(processes(ids)));
    responses.push(Response::NodeStats(EngineStats {
        processes: 3,
        mailboxes: 2,
        queued_messages: 5,
        queued_bytes: 50,
        max_queued_bytes: 1 << 30,
        total_sent: 9,
        total_received: 4,
        total_dropped: 1,
        total_dead_lettered: 1,
        total_late_replies: 2,
    }));
    responses.push(Response::SentBatch {
        sent: 1,
        failed: Some(SendError::new(SendErrorKind::Full, message(2))),
        unsent: vec![message(3)],
    });
    responses.push(Response::SentBatch {
        sent: 2,
        failed: None,
        unsent: Vec::new(),
    });
    responses.push(Response::ReceivedMany(received(ids)));
    responses.push(Response::Settled(2));
    responses.push(Response::Peeked(received(ids)));
    responses.push(Response::Purged(7));
    responses.push(Response::Replied(message(5)));
    responses.extend([
        Response::CallFailed(CallError::new(CallErrorKind::Full, message(6))),
        Response::CallFailed(CallError::without_message(CallErrorKind::PeerGone)),
        Response::CallFailed(CallError::failed("overdrawn")),
        Response::ReplyFailed(ReplyError::Revoked),
        Response::NodeLinks(node_links()),
        Response::RingLent(None),
        Response::RingLent(Some(postbox_wire::RingTerms {
            may_send: true,
            may_receive: true,
            size: postbox_core::MessageSize::Variable(8),
            max_message_size: 64,
            first_seq: 9,
        })),
    ]);
    responses
}

// Variant guards: a variant added to any of these types fails to compile here until it is
// given an index, and then fails `assert_covers` until the corpus builds it.

const REQUEST_VARIANTS: usize = 32;

fn request_variant(request: &Request) -> usize {
    match request {
        Request::Send { .. } => 0,
        Request::Recv { .. } => 1,
        Request::Create { .. } => 2,
        Request::Open { .. } => 3,
        Request::OpenOrCreate { .. } => 4,
        Request::Close { .. } => 5,
        Request::Delete { .. } => 6,
        Request::SetMode { .. } => 7,
        Request::SetMaxBytes { .. } => 8,
        Request::SetOwner { .. } => 9,
        Request::GrantReceive { .. } => 10,
        Request::RevokeReceive { .. } => 11,
        Request::Stat { .. } => 12,
        Request::ListMailboxes => 13,
        Request::Register { .. } => 14,
        Request::Whereis { .. } => 15,
        Request::Monitor { .. } => 16,
        Request::Demonitor { .. } => 17,
        Request::ListProcesses => 18,
        Request::NodeStats => 19,
        Request::SendBatch { .. } => 20,
        Request::RecvMany { .. } => 21,
        Request::Lease { .. } => 22,
        Request::Settle { .. } => 23,
        Request::Peek { .. } => 24,
        Request::Purge { .. } => 25,
        Request::Call { .. } => 26,
        Request::Reply { .. } => 27,
        Request::NodeLinks => 28,
        Request::AtNode { .. } => 29,
        Request::ProducerSend { .. } => 30,
        Request::LendRing { .. } => 31,
    }
}

const RESPONSE_VARIANTS: usize = 23;

fn response_variant(response: &Response) -> usize {
    match response {
        Response::Sent { .. } => 0,
        Response::SendFailed(_) => 1,
        Response::Received { .. } => 2,
        Response::RecvFailed(_) => 3,
        Response::Opened { .. } => 4,
        Response::OpenFailed(_) => 5,
        Response::Done => 6,
        Response::AdminFailed(_) => 7,
        Response::Stat(_) => 8,
        Response::Mailboxes(_) => 9,
        Response::Whereis(_) => 10,
        Response::Processes(_) => 11,
        Response::NodeStats(_) => 12,
        Response::SentBatch { .. } => 13,
        Response::ReceivedMany(_) => 14,
        Response::Settled(_) => 15,
        Response::Peeked(_) => 16,
        Response::Purged(_) => 17,
        Response::Replied(_) => 18,
        Response::CallFailed(_) => 19,
        Response::ReplyFailed(_) => 20,
        Response::NodeLinks(_) => 21,
        Response::RingLent(_) => 22,
    }
}

fn target_variant(target: &Target) -> usize {
    match target {
        Target::Process(_) => 0,
        Target::Mailbox(_) => 1,
    }
}

fn source_variant(source: &Source) -> usize {
    match source {
        Source::Inbox => 0,
        Source::Mailbox(_) => 1,
    }
}

fn selector_variant(selector: &Selector) -> usize {
    match selector {
        Selector::Any => 0,
        Selector::Type(_) => 1,
        Selector::NotType(_) => 2,
        Selector::TypeAtMost(_) => 3,
        Selector::From(_) => 4,
    }
}

fn kind_variant(kind: &MessageKind) -> usize {
    match kind {
        MessageKind::User => 0,
        MessageKind::Down => 1,
        MessageKind::Request(_) => 2,
    }
}

fn owner_variant(owner: &Owner) -> usize {
    match owner {
        Owner::Process(_) => 0,
        Owner::System(_) => 1,
    }
}

fn reply_variant(reply: &Reply) -> usize {
    match reply {
        Reply::Answer(_) => 0,
        Reply::Failure(_) => 1,
    }
}

fn wait_target_variant(target: &WaitTarget) -> usize {
    match target {
        WaitTarget::Mailbox(_) => 0,
        WaitTarget::Inbox => 1,
        WaitTarget::Process(_) => 2,
    }
}

fn assert_covers<T>(what: &str, values: &[T], variant: fn(&T) -> usize, count: usize) {
    let built: BTreeSet<usize> = values.iter().map(variant).collect();
    let missing: Vec<usize> = (0..count).filter(|index| !built.contains(index)).collect();
    assert!(
        missing.is_empty(),
        "the corpus builds no {what} variant numbered {missing:?}"
    );
}

#[test]
fn the_corpus_builds_every_variant_that_can_hold_an_identifier() {
    let ids = &mut Draw::plain();
    assert_covers("Request", &requests(ids), request_variant, REQUEST_VARIANTS);
    assert_covers(
        "Response",
        &responses(ids),
        response_variant,
        RESPONSE_VARIANTS,
    );
    assert_covers("Target", &targets(ids), target_variant, 2);
    assert_covers("Source", &sources(ids), source_variant, 2);
    assert_covers("Selector", &selectors(ids), selector_variant, 5);
    assert_covers("MessageKind", &kinds(ids), kind_variant, 3);
    assert_covers("Owner", &owners(ids), owner_variant, 2);
    assert_covers("Reply", &replies(), reply_variant, 2);
    assert_covers("WaitTarget", &wait_targets(ids), wait_target_variant, 3);
}

/// Maps `values` with [`Shift`] and checks them against the shifted construction.
fn check<T: PartialEq + std::fmt::Debug>(
    build: fn(&mut Draw) -> Vec<T>,
    map_ids: fn(&mut T, &mut Shift),
) {
    let mut plain = Draw::plain();
    let mut values = build(&mut plain);
    let mut shifted = Draw::shifted();
    let expected = build(&mut shifted);
    assert_eq!(plain.drawn, shifted.drawn, "both constructions draw alike");

    let mut map = Shift::default();
    for value in &mut values {
        map_ids(value, &mut map);
    }
    for (index, (value, expected)) in values.iter().zip(&expected).enumerate() {
        assert_eq!(value, expected, "value {index} after mapping");
    }
    assert_eq!(values.len(), expected.len());

    let drawn = plain.drawn.sorted();
    assert!(!drawn.pids.is_empty() && !drawn.mailboxes.is_empty() && !drawn.calls.is_empty());
    assert_eq!(
        map.seen.sorted(),
        drawn,
        "the map saw each identifier exactly once"
    );
}

#[test]
fn every_identifier_in_every_request_is_rewritten_exactly_once() {
    check(requests, |request, map| request.map_ids(map));
}

#[test]
fn every_identifier_in_every_response_is_rewritten_exactly_once() {
    check(responses, |response, map| response.map_ids(map));
}

#[test]
fn a_map_behind_a_dyn_reference_rewrites_the_same() {
    let ids = &mut Draw::plain();
    let mut request = Request::GrantReceive {
        mailbox: ids.mailbox(),
        grantee: ids.pid(),
    };
    let mut shift = Shift::default();
    let mut map: &mut dyn IdMap = &mut shift;
    request.map_ids(&mut map);
    assert_eq!(
        request,
        Request::GrantReceive {
            mailbox: MailboxId::from_raw(1 + MAILBOX_SHIFT),
            grantee: Pid::from_raw(2 + PID_SHIFT),
        }
    );
    assert_eq!(shift.seen.sorted(), std::mem::take(&mut ids.drawn).sorted());
}

// `SendError` and `CallError` keep their fields private, so the walk rebuilds them from their
// accessors. These pin that the accessors show everything they hold: a field added to either
// changes its encoding and fails here, until the walk is checked for it.

#[test]
fn a_send_error_holds_only_its_kind_and_its_message() {
    let error = SendError::new(SendErrorKind::Full, message(3));
    assert_eq!(
        postcard::to_allocvec(&error).unwrap(),
        postcard::to_allocvec(&(error.kind(), error.message())).unwrap()
    );
}

#[test]
fn a_call_error_holds_only_its_kind_request_and_failure() {
    for error in [
        CallError::new(CallErrorKind::Full, message(3)),
        CallError::failed("overdrawn"),
    ] {
        assert_eq!(
            postcard::to_allocvec(&error).unwrap(),
            postcard::to_allocvec(&(error.kind(), error.message(), error.failure())).unwrap()
        );
    }
}

/// A call error no constructor makes, holding both a request and failure bytes, comes through
/// unchanged rather than losing either.
#[test]
fn a_call_error_with_both_request_and_failure_comes_through_whole() {
    let bytes = postcard::to_allocvec(&(
        CallErrorKind::Timeout,
        Some(message(2)),
        Some(Bytes::from_static(b"odd")),
    ))
    .unwrap();
    let error: CallError = postcard::from_bytes(&bytes).unwrap();
    let mut response = Response::CallFailed(error.clone());
    response.map_ids(&mut Shift::default());
    assert_eq!(response, Response::CallFailed(error));
}

/// What the map returns is what goes on the wire: a rewritten response encodes with the new
/// identifiers and decodes back equal.
#[test]
fn a_rewritten_response_encodes_its_new_identifiers() {
    let ids = &mut Draw::plain();
    let mut response = Response::Received {
        branch: 0,
        message: received(ids).pop().unwrap(),
    };
    response.map_ids(&mut Shift::default());
    let Response::Received { message, .. } = decode_response(&encode_response(&response)).unwrap()
    else {
        panic!("a Received response decodes as one");
    };
    assert_eq!(message.sender, Pid::from_raw(4 + PID_SHIFT));
    assert_eq!(message.call(), Some(CallId::from_raw(1 + CALL_SHIFT)));
}

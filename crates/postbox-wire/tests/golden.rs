//! Golden bytes for every operation payload: each row of `docs/protocol.md` §7.2 (shared types),
//! §7.3 (`Request`) and §7.4 (`Response`) is pinned to bytes written out by hand from the rules
//! of §7.1 (postcard).
//!
//! The serde derives on `postbox_core`'s types make their variant order and field order part of
//! the protocol: reordering an enum's variants or a struct's fields in the core crate would still
//! round-trip, so only a test against fixed bytes notices that the wire changed under old peers.
//! Values are chosen distinct (1, 2, 3, …) so a swapped field moves a byte, and every variant of
//! every shared enum appears in a table with its documented index.
//!
//! How to read the expected bytes: each string is one group of hex bytes, commented with what it
//! encodes; within a table row `|` separates the groups. Varints are LEB128 (`300` is `ac 02`),
//! `i64`s are zigzagged first (`-3` is `05`), and an enum starts with its variant index.

use std::time::Duration;

use postbox_core::{
    AdminError, Branch, CallError, CallErrorKind, CallId, Capacity, Credentials, Delivery,
    Dispatch, Durability, EngineStats, LeaseId, MailboxAttrs, MailboxId, MailboxStats, Message,
    MessageKind, MessageSize, Mode, OpenError, Order, Overflow, Owner, Ownership, Pid, ProcessInfo,
    Received, Receivers, RecvError, Redelivery, Reply, ReplyError, SelectError, Selector,
    SendError, SendErrorKind, Settlement, Source, Timestamp, Wait, WaitInfo, WaitKind, WaitTarget,
};
use postbox_wire::{
    LocalNode, NodeLinks, PeerLink, PeerState, Request, Response, Target, decode_request,
    decode_response, encode_request, encode_response,
};

/// Parses hand-written hex: groups of two-digit bytes separated by spaces, `|` between groups.
fn hex(groups: &[&str]) -> Vec<u8> {
    groups
        .iter()
        .flat_map(|group| group.split_whitespace())
        .filter(|byte| *byte != "|")
        .map(|byte| {
            assert_eq!(byte.len(), 2, "write each byte as two hex digits: {byte:?}");
            u8::from_str_radix(byte, 16).expect("hex digits")
        })
        .collect()
}

/// Bytes as `00 01 ff`, so a failing assertion shows where the encodings part.
fn show(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Asserts that `request` encodes to exactly `expected` and that those bytes decode back to it.
#[track_caller]
fn pin_request(request: &Request, expected: &[&str]) {
    let expected = hex(expected);
    assert_eq!(
        show(&encode_request(request)),
        show(&expected),
        "encoding of {request:?}"
    );
    assert_eq!(decode_request(&expected).as_ref(), Ok(request));
}

/// Asserts that `response` encodes to exactly `expected` and that those bytes decode back to it.
#[track_caller]
fn pin_response(response: &Response, expected: &[&str]) {
    let expected = hex(expected);
    assert_eq!(
        show(&encode_response(response)),
        show(&expected),
        "encoding of {response:?}"
    );
    assert_eq!(decode_response(&expected).as_ref(), Ok(response));
}

/// The message used throughout: payload "hi", type -3, priority 7.
fn message() -> Message {
    Message::new("hi").with_type(-3).with_priority(7)
}

/// `message()`'s bytes: payload (length 2, "hi"), mtype (zigzag -3 = 5), priority 7.
const MESSAGE: &str = "02 68 69 | 05 | 07";

/// Attributes with every enum at index 0 except the capacity, and no redelivery settings: `02 |
/// 00 01 | 00 | 00 | 00 | 00 | 00 | 00 00 00 | 00`. The attribute tables vary one field at a time
/// from here.
fn base_attrs() -> MailboxAttrs {
    MailboxAttrs {
        capacity: Capacity::Unbounded,
        size: MessageSize::Fixed(1),
        order: Order::Fifo,
        overflow: Overflow::Block,
        ownership: Ownership::Process,
        receivers: Receivers::Owner,
        mode: Mode::new(0),
        redelivery: Redelivery::default(),
        durability: Durability::Memory,
    }
}

// §7.3 `Request`: one test per variant.

#[test]
fn request_0_send() {
    pin_request(
        &Request::Send {
            target: Target::Process(Pid::from_raw(300)),
            message: message(),
            delivery: Delivery::Receipt,
            wait: Wait::Try,
        },
        &[
            "00",    // Request::Send
            "00",    // target: Target::Process
            "ac 02", //   Pid 300
            MESSAGE, // message: payload "hi", mtype -3, priority 7
            "01",    // delivery: Delivery::Receipt
            "00",    // wait: Wait::Try
        ],
    );
}

#[test]
fn request_0_send_the_documented_example() {
    // The example at the end of protocol.md §7.4.
    pin_request(
        &Request::Send {
            target: Target::Mailbox(MailboxId::from_raw(7)),
            message: Message::new("hi"),
            delivery: Delivery::Queued,
            wait: Wait::Block,
        },
        &["00 01 07 02 68 69 02 00 00 01"],
    );
}

#[test]
fn request_1_recv() {
    pin_request(
        &Request::Recv {
            branches: vec![
                Branch::new(Source::Mailbox(MailboxId::from_raw(2)), Selector::Type(3)),
                Branch::new(Source::Inbox, Selector::From(Pid::from_raw(4))),
            ],
            wait: Wait::Block,
        },
        &[
            "01",    // Request::Recv
            "02",    // branches: 2 of them
            "01 02", //   source: Source::Mailbox(MailboxId 2)
            "01 06", //   selector: Selector::Type(3), 3 zigzagged
            "00",    //   source: Source::Inbox
            "04 04", //   selector: Selector::From(Pid 4)
            "01",    // wait: Wait::Block
        ],
    );
}

#[test]
fn request_2_create() {
    pin_request(
        &Request::Create {
            name: "ab".into(),
            attrs: base_attrs(),
        },
        &[
            "02",       // Request::Create
            "02 61 62", // name: length 2, "ab"
            "02",       // attrs.capacity: Capacity::Unbounded
            "00 01",    // attrs.size: MessageSize::Fixed(1)
            "00",       // attrs.order: Order::Fifo
            "00",       // attrs.overflow: Overflow::Block
            "00",       // attrs.ownership: Ownership::Process
            "00",       // attrs.receivers: Receivers::Owner
            "00",       // attrs.mode: 0
            "00 00 00", // attrs.redelivery: no lease time, max deliveries, dead letter
            "00",       // attrs.durability: Durability::Memory
        ],
    );
}

#[test]
fn request_3_open() {
    pin_request(
        &Request::Open { name: "ab".into() },
        &[
            "03",       // Request::Open
            "02 61 62", // name: length 2, "ab"
        ],
    );
}

#[test]
fn request_4_open_or_create() {
    pin_request(
        &Request::OpenOrCreate {
            name: "ab".into(),
            attrs: MailboxAttrs {
                mode: Mode::new(0o640),
                ..base_attrs()
            },
        },
        &[
            "04",                       // Request::OpenOrCreate
            "02 61 62",                 // name: length 2, "ab"
            "02 | 00 01 | 00 00 00 00", // attrs: Unbounded, Fixed(1), then four index-0 enums
            "a0 03",                    // attrs.mode: 0o640 = 416
            "00 00 00",                 // attrs.redelivery: none
            "00",                       // attrs.durability: Memory
        ],
    );
}

#[test]
fn request_5_close() {
    pin_request(
        &Request::Close {
            mailbox: MailboxId::from_raw(7),
        },
        &[
            "05", // Request::Close
            "07", // mailbox: 7
        ],
    );
}

#[test]
fn request_6_delete() {
    pin_request(
        &Request::Delete {
            mailbox: MailboxId::from_raw(8),
        },
        &[
            "06", // Request::Delete
            "08", // mailbox: 8
        ],
    );
}

#[test]
fn request_7_set_mode() {
    pin_request(
        &Request::SetMode {
            mailbox: MailboxId::from_raw(9),
            mode: Mode::new(0o640),
        },
        &[
            "07",    // Request::SetMode
            "09",    // mailbox: 9
            "a0 03", // mode: 0o640 = 416
        ],
    );
}

#[test]
fn request_8_set_max_bytes() {
    pin_request(
        &Request::SetMaxBytes {
            mailbox: MailboxId::from_raw(10),
            bytes: 1 << 20,
        },
        &[
            "08",       // Request::SetMaxBytes
            "0a",       // mailbox: 10
            "80 80 40", // bytes: 1 MiB = 2^20
        ],
    );
}

#[test]
fn request_9_set_owner() {
    pin_request(
        &Request::SetOwner {
            mailbox: MailboxId::from_raw(11),
            owner: Owner::System(Credentials::new(1000, 100)),
        },
        &[
            "09",    // Request::SetOwner
            "0b",    // mailbox: 11
            "01",    // owner: Owner::System
            "e8 07", //   uid: 1000
            "64",    //   gid: 100
        ],
    );
}

#[test]
fn request_10_grant_receive() {
    pin_request(
        &Request::GrantReceive {
            mailbox: MailboxId::from_raw(12),
            grantee: Pid::from_raw(13),
        },
        &[
            "0a", // Request::GrantReceive
            "0c", // mailbox: 12
            "0d", // grantee: 13
        ],
    );
}

#[test]
fn request_11_revoke_receive() {
    pin_request(
        &Request::RevokeReceive {
            mailbox: MailboxId::from_raw(14),
            grantee: Pid::from_raw(15),
        },
        &[
            "0b", // Request::RevokeReceive
            "0e", // mailbox: 14
            "0f", // grantee: 15
        ],
    );
}

#[test]
fn request_12_stat() {
    pin_request(
        &Request::Stat {
            mailbox: MailboxId::from_raw(16),
        },
        &[
            "0c", // Request::Stat
            "10", // mailbox: 16
        ],
    );
}

#[test]
fn request_13_list_mailboxes() {
    pin_request(&Request::ListMailboxes, &["0d"]); // Request::ListMailboxes, no fields
}

#[test]
fn request_14_register() {
    pin_request(
        &Request::Register { name: "r".into() },
        &[
            "0e",    // Request::Register
            "01 72", // name: length 1, "r"
        ],
    );
}

#[test]
fn request_15_whereis() {
    pin_request(
        &Request::Whereis { name: "w".into() },
        &[
            "0f",    // Request::Whereis
            "01 77", // name: length 1, "w"
        ],
    );
}

#[test]
fn request_16_monitor() {
    pin_request(
        &Request::Monitor {
            target: Pid::from_raw(17),
        },
        &[
            "10", // Request::Monitor
            "11", // target: 17
        ],
    );
}

#[test]
fn request_17_demonitor() {
    pin_request(
        &Request::Demonitor {
            target: Pid::from_raw(18),
        },
        &[
            "11", // Request::Demonitor
            "12", // target: 18
        ],
    );
}

#[test]
fn request_18_list_processes() {
    pin_request(&Request::ListProcesses, &["12"]); // Request::ListProcesses, no fields
}

#[test]
fn request_19_node_stats() {
    pin_request(&Request::NodeStats, &["13"]); // Request::NodeStats, no fields
}

#[test]
fn request_20_send_batch() {
    pin_request(
        &Request::SendBatch {
            target: Target::Mailbox(MailboxId::from_raw(7)),
            messages: vec![
                Message::new("hi"),
                Message::new("a").with_type(2).with_priority(3),
            ],
            wait: Wait::Block,
        },
        &[
            "14",       // Request::SendBatch
            "01 07",    // target: Mailbox(7)
            "02",       // two messages
            "02 68 69", // payload "hi"
            "02",       // mtype 1, zigzag
            "00",       // priority 0
            "01 61",    // payload "a"
            "04",       // mtype 2, zigzag
            "03",       // priority 3
            "01",       // wait: Block
        ],
    );
}

#[test]
fn request_21_recv_many() {
    pin_request(
        &Request::RecvMany {
            branch: Branch::new(Source::Mailbox(MailboxId::from_raw(7)), Selector::Any),
            max_messages: 32,
            max_bytes: 300,
            wait: Wait::Block,
        },
        &[
            "15",    // Request::RecvMany
            "01 07", // branch source: Mailbox(7)
            "00",    // branch selector: Any
            "20",    // max_messages: 32
            "ac 02", // max_bytes: 300
            "01",    // wait: Block
        ],
    );
}

#[test]
fn request_22_lease() {
    pin_request(
        &Request::Lease {
            branch: Branch::new(Source::Mailbox(MailboxId::from_raw(7)), Selector::Any),
            max_messages: 32,
            max_bytes: 300,
            wait: Wait::Try,
        },
        &[
            "16",    // Request::Lease
            "01 07", // branch source: Mailbox(7)
            "00",    // branch selector: Any
            "20",    // max_messages: 32
            "ac 02", // max_bytes: 300
            "00",    // wait: Try
        ],
    );
}

#[test]
fn request_23_settle() {
    pin_request(
        &Request::Settle {
            source: Source::Mailbox(MailboxId::from_raw(7)),
            leases: vec![
                LeaseId { seq: 5, attempt: 1 },
                LeaseId {
                    seq: 300,
                    attempt: 2,
                },
            ],
            settlement: Settlement::Ack,
        },
        &[
            "17",       // Request::Settle
            "01 07",    // source: Mailbox(7)
            "02",       // two leases
            "05 01",    // seq 5, attempt 1
            "ac 02 02", // seq 300, attempt 2
            "00",       // settlement: Ack
        ],
    );
    pin_request(
        &Request::Settle {
            source: Source::Inbox,
            leases: vec![],
            settlement: Settlement::Return,
        },
        &[
            "17", // Request::Settle
            "00", // source: Inbox
            "00", // no leases
            "01", // settlement: Return
        ],
    );
}

#[test]
fn request_24_peek() {
    pin_request(
        &Request::Peek {
            source: Source::Mailbox(MailboxId::from_raw(7)),
            selector: Selector::TypeAtMost(-3),
            max_messages: 32,
            max_bytes: 300,
        },
        &[
            "18",    // Request::Peek
            "01 07", // source: Mailbox(7)
            "03 05", // selector: TypeAtMost(-3)
            "20",    // max_messages: 32
            "ac 02", // max_bytes: 300
        ],
    );
    pin_request(
        &Request::Peek {
            source: Source::Inbox,
            selector: Selector::Any,
            max_messages: 1,
            max_bytes: 0,
        },
        &[
            "18", // Request::Peek
            "00", // source: Inbox
            "00", // selector: Any
            "01", // max_messages: 1
            "00", // max_bytes: 0
        ],
    );
}

#[test]
fn request_25_purge() {
    pin_request(
        &Request::Purge {
            mailbox: MailboxId::from_raw(300),
        },
        &[
            "19",    // Request::Purge
            "ac 02", // mailbox: 300
        ],
    );
}

#[test]
fn request_26_call() {
    pin_request(
        &Request::Call {
            target: Target::Process(Pid::from_raw(3)),
            request: message(),
            wait: Wait::Try,
        },
        &[
            "1a",    // Request::Call
            "00 03", // target: Target::Process(3)
            MESSAGE, // request: payload "hi", mtype -3, priority 7
            "00",    // wait: Wait::Try
        ],
    );
    pin_request(
        &Request::Call {
            target: Target::Mailbox(MailboxId::from_raw(300)),
            request: Message::new(""),
            wait: Wait::Block,
        },
        &[
            "1a",       // Request::Call
            "01 ac 02", // target: Target::Mailbox(300)
            "00 02 00", // request: payload "", mtype 1, priority 0
            "01",       // wait: Wait::Block
        ],
    );
}

#[test]
fn request_27_reply() {
    pin_request(
        &Request::Reply {
            call: CallId::from_raw(300),
            reply: Reply::Answer(message()),
        },
        &[
            "1b",    // Request::Reply
            "ac 02", // call: 300
            "00",    // reply: Reply::Answer
            MESSAGE, //   payload "hi", mtype -3, priority 7
        ],
    );
    pin_request(
        &Request::Reply {
            call: CallId::from_raw(5),
            reply: Reply::Failure("no".into()),
        },
        &[
            "1b",       // Request::Reply
            "05",       // call: 5
            "01",       // reply: Reply::Failure
            "02 6e 6f", //   length 2, "no"
        ],
    );
}

#[test]
fn request_28_node_links() {
    pin_request(&Request::NodeLinks, &["1c"]); // Request::NodeLinks, no fields
    pin_request(
        &Request::AtNode {
            node: "b".into(),
            query: postbox_wire::NodeQuery::ListProcesses,
        },
        &[
            "1d",    // Request::AtNode
            "01 62", // node "b"
            "01",    // NodeQuery::ListProcesses
        ],
    );
}

#[test]
fn request_30_producer_send() {
    pin_request(
        &Request::ProducerSend {
            target: Target::Mailbox(MailboxId::from_raw(7)),
            message: Message::new("hi"),
            delivery: Delivery::Queued,
            wait: Wait::Block,
            producer: postbox_core::ProducerId::from_raw(300),
            seq: 5,
        },
        &[
            "1e",       // Request::ProducerSend
            "01 07",    // target: Target::Mailbox(7)
            "02 68 69", // message.payload: length 2, "hi"
            "02 00",    // message.mtype: 1, message.priority: 0
            "00",       // delivery: Delivery::Queued
            "01",       // wait: Wait::Block
            "ac 02",    // producer: 300
            "05",       // seq: 5
        ],
    );
}

#[test]
fn request_31_lend_ring() {
    pin_request(
        &Request::LendRing {
            mailbox: MailboxId::from_raw(7),
        },
        &[
            "1f", // Request::LendRing
            "07", // mailbox 7
        ],
    );
}

// §7.4 `Response`: one test per variant.

#[test]
fn response_0_sent() {
    pin_response(
        &Response::Sent {
            receiver: Some(Pid::from_raw(3)),
        },
        &[
            "00", // Response::Sent
            "01", // receiver: Some
            "03", //   Pid 3
        ],
    );
    pin_response(
        &Response::Sent { receiver: None },
        &[
            "00", // Response::Sent
            "00", // receiver: None
        ],
    );
}

#[test]
fn response_1_send_failed() {
    pin_response(
        &Response::SendFailed(SendError::new(SendErrorKind::TooLarge, message())),
        &[
            "01",    // Response::SendFailed
            "04",    // kind: SendErrorKind::TooLarge
            "01",    // message: Some
            MESSAGE, //   payload "hi", mtype -3, priority 7
        ],
    );
}

#[test]
fn response_2_received() {
    pin_response(
        &Response::Received {
            branch: 1,
            message: Received {
                message: message(),
                sender: Pid::from_raw(8),
                seq: 9,
                sent_at: Timestamp::from_nanos(300),
                kind: MessageKind::Down,
                attempt: 1,
            },
        },
        &[
            "02",    // Response::Received
            "01",    // branch: 1
            MESSAGE, // message.message: payload "hi", mtype -3, priority 7
            "08",    // message.sender: 8
            "09",    // message.seq: 9
            "ac 02", // message.sent_at: 300 ns
            "01",    // message.kind: MessageKind::Down
            "01",    // message.attempt: 1
        ],
    );
}

#[test]
fn response_3_recv_failed() {
    pin_response(
        &Response::RecvFailed(SelectError {
            branch: 2,
            error: RecvError::Timeout,
        }),
        &[
            "03", // Response::RecvFailed
            "02", // branch: 2
            "02", // error: RecvError::Timeout
        ],
    );
}

#[test]
fn response_4_opened() {
    pin_response(
        &Response::Opened {
            mailbox: MailboxId::from_raw(300),
            created: true,
        },
        &[
            "04",    // Response::Opened
            "ac 02", // mailbox: 300
            "01",    // created: true
        ],
    );
    pin_response(
        &Response::Opened {
            mailbox: MailboxId::from_raw(5),
            created: false,
        },
        &[
            "04", // Response::Opened
            "05", // mailbox: 5
            "00", // created: false
        ],
    );
}

#[test]
fn response_5_open_failed() {
    pin_response(
        &Response::OpenFailed(OpenError::InvalidAttributes("bad".into())),
        &[
            "05",          // Response::OpenFailed
            "04",          // OpenError::InvalidAttributes
            "03 62 61 64", //   length 3, "bad"
        ],
    );
}

#[test]
fn response_6_done() {
    pin_response(&Response::Done, &["06"]); // Response::Done, no fields
}

#[test]
fn response_7_admin_failed() {
    pin_response(
        &Response::AdminFailed(AdminError::InvalidArgument("no".into())),
        &[
            "07",       // Response::AdminFailed
            "06",       // AdminError::InvalidArgument
            "02 6e 6f", //   length 2, "no"
        ],
    );
}

/// Mailbox statistics with every number distinct, so any two swapped fields show.
fn full_stats() -> MailboxStats {
    MailboxStats {
        id: MailboxId::from_raw(1),
        name: "s".into(),
        attrs: MailboxAttrs {
            capacity: Capacity::bounded(21, 22),
            size: MessageSize::Variable(23),
            order: Order::Priority,
            overflow: Overflow::Block,
            ownership: Ownership::System,
            receivers: Receivers::Exclusive,
            mode: Mode::new(0o30),
            redelivery: Redelivery {
                lease_time: Some(Duration::new(25, 26)),
                max_deliveries: Some(27),
                dead_letter: Some(MailboxId::from_raw(28)),
            },
            durability: Durability::Disk,
        },
        owner: Owner::System(Credentials::new(2, 3)),
        uid: 4,
        gid: 5,
        mode: Mode::new(6),
        messages: 7,
        bytes: 8,
        total_sent: 9,
        total_received: 10,
        dropped: 11,
        last_send: Some((Pid::from_raw(12), Timestamp::from_nanos(13))),
        last_recv: Some((Pid::from_raw(14), Timestamp::from_nanos(15))),
        created: Timestamp::from_nanos(16),
        changed: Timestamp::from_nanos(17),
        blocked_senders: 18,
        blocked_receivers: 19,
        openers: 20,
        leased: 29,
        dead_lettered: 30,
        duplicates_dropped: 31,
    }
}

#[test]
fn response_8_stat() {
    pin_response(
        &Response::Stat(Box::new(full_stats())),
        &[
            "08",       // Response::Stat
            "01",       // id: 1
            "01 73",    // name: length 1, "s"
            "01 15 16", // attrs.capacity: Capacity::Bounded { messages: 21, bytes: 22 }
            "01 17",    // attrs.size: MessageSize::Variable(23)
            "01",       // attrs.order: Order::Priority
            "00",       // attrs.overflow: Overflow::Block
            "01",       // attrs.ownership: Ownership::System
            "01",       // attrs.receivers: Receivers::Exclusive
            "18",       // attrs.mode: 0o30 = 24
            "01 19 1a", // attrs.redelivery.lease_time: Some(25 s 26 ns)
            "01 1b",    // attrs.redelivery.max_deliveries: Some(27)
            "01 1c",    // attrs.redelivery.dead_letter: Some(28)
            "01",       // attrs.durability: Durability::Disk
            "01 02 03", // owner: Owner::System(Credentials { uid: 2, gid: 3 })
            "04",       // uid: 4
            "05",       // gid: 5
            "06",       // mode: 6
            "07",       // messages: 7
            "08",       // bytes: 8
            "09",       // total_sent: 9
            "0a",       // total_received: 10
            "0b",       // dropped: 11
            "01 0c 0d", // last_send: Some((Pid 12, Timestamp 13))
            "01 0e 0f", // last_recv: Some((Pid 14, Timestamp 15))
            "10",       // created: 16
            "11",       // changed: 17
            "12",       // blocked_senders: 18
            "13",       // blocked_receivers: 19
            "14",       // openers: 20
            "1d",       // leased: 29
            "1e",       // dead_lettered: 30
            "1f",       // duplicates_dropped: 31
        ],
    );
}

#[test]
fn response_9_mailboxes() {
    let fresh = MailboxStats {
        id: MailboxId::from_raw(2),
        name: "t".into(),
        attrs: base_attrs(),
        owner: Owner::Process(Pid::from_raw(3)),
        uid: 1000,
        gid: 100,
        mode: Mode::new(0o600),
        messages: 0,
        bytes: 0,
        total_sent: 0,
        total_received: 0,
        dropped: 0,
        last_send: None,
        last_recv: None,
        created: Timestamp::from_nanos(5),
        changed: Timestamp::from_nanos(6),
        blocked_senders: 0,
        blocked_receivers: 0,
        openers: 1,
        leased: 0,
        dead_lettered: 0,
        duplicates_dropped: 0,
    };
    pin_response(
        &Response::Mailboxes(vec![fresh]),
        &[
            "09",                                            // Response::Mailboxes
            "01",                                            // 1 mailbox
            "02",                                            // id: 2
            "01 74",                                         // name: length 1, "t"
            "02 | 00 01 | 00 00 00 00 | 00 | 00 00 00 | 00", // attrs: base_attrs()
            "00 03",                                         // owner: Owner::Process(Pid 3)
            "e8 07",                                         // uid: 1000
            "64",                                            // gid: 100
            "80 03",                                         // mode: 0o600 = 384
            "00 00",                                         // messages, bytes: 0
            "00 00 00", // total_sent, total_received, dropped: 0
            "00",       // last_send: None
            "00",       // last_recv: None
            "05",       // created: 5
            "06",       // changed: 6
            "00 00",    // blocked_senders, blocked_receivers: 0
            "01",       // openers: 1
            "00 00 00", // leased, dead_lettered, duplicates_dropped: 0
        ],
    );
    pin_response(
        &Response::Mailboxes(Vec::new()),
        &[
            "09", // Response::Mailboxes
            "00", // no mailboxes
        ],
    );
}

#[test]
fn response_10_whereis() {
    pin_response(
        &Response::Whereis(Some(Pid::from_raw(4))),
        &[
            "0a", // Response::Whereis
            "01", // Some
            "04", //   Pid 4
        ],
    );
    pin_response(
        &Response::Whereis(None),
        &[
            "0a", // Response::Whereis
            "00", // None
        ],
    );
}

#[test]
fn response_11_processes() {
    pin_response(
        &Response::Processes(vec![
            ProcessInfo {
                pid: Pid::from_raw(1),
                name: Some("p".into()),
                uid: 2,
                gid: 3,
                inbox_messages: 4,
                owned_mailboxes: 5,
                waiting: 6,
                os_pid: Some(300),
                command: Some("ab".into()),
                started: Timestamp::from_nanos(7),
                waits: vec![
                    WaitInfo {
                        kind: WaitKind::Recv,
                        on: vec![
                            WaitTarget::Mailbox("q".into()),
                            WaitTarget::Inbox,
                            WaitTarget::Process(Pid::from_raw(8)),
                        ],
                        since: Timestamp::from_nanos(9),
                    },
                    WaitInfo {
                        kind: WaitKind::Lease,
                        on: vec![],
                        since: Timestamp::from_nanos(10),
                    },
                    WaitInfo {
                        kind: WaitKind::Send,
                        on: vec![],
                        since: Timestamp::from_nanos(11),
                    },
                    WaitInfo {
                        kind: WaitKind::Receipt,
                        on: vec![],
                        since: Timestamp::from_nanos(12),
                    },
                    WaitInfo {
                        kind: WaitKind::Call,
                        on: vec![],
                        since: Timestamp::from_nanos(13),
                    },
                ],
            },
            ProcessInfo {
                pid: Pid::from_raw(7),
                name: None,
                uid: 8,
                gid: 9,
                inbox_messages: 10,
                owned_mailboxes: 11,
                waiting: 12,
                os_pid: None,
                command: None,
                started: Timestamp::ZERO,
                waits: vec![],
            },
        ]),
        &[
            "0b",          // Response::Processes
            "02",          // 2 processes
            "01",          // pid: 1
            "01 01 70",    // name: Some, length 1, "p"
            "02",          // uid: 2
            "03",          // gid: 3
            "04",          // inbox_messages: 4
            "05",          // owned_mailboxes: 5
            "06",          // waiting: 6
            "01 ac 02",    // os_pid: Some(300)
            "01 02 61 62", // command: Some, length 2, "ab"
            "07",          // started: 7
            "05",          // 5 waits
            "00",          // kind: Recv
            "03",          // on: 3 targets
            "00 01 71",    // Mailbox, length 1, "q"
            "01",          // Inbox
            "02 08",       // Process(8)
            "09",          // since: 9
            "01 00 0a",    // kind: Lease, on: none, since: 10
            "02 00 0b",    // kind: Send, on: none, since: 11
            "03 00 0c",    // kind: Receipt, on: none, since: 12
            "04 00 0d",    // kind: Call, on: none, since: 13
            "07",          // pid: 7
            "00",          // name: None
            "08",          // uid: 8
            "09",          // gid: 9
            "0a",          // inbox_messages: 10
            "0b",          // owned_mailboxes: 11
            "0c",          // waiting: 12
            "00",          // os_pid: None
            "00",          // command: None
            "00",          // started: 0
            "00",          // no waits
        ],
    );
}

#[test]
fn response_12_node_stats() {
    pin_response(
        &Response::NodeStats(EngineStats {
            processes: 1,
            mailboxes: 2,
            queued_messages: 3,
            queued_bytes: 4,
            max_queued_bytes: 1 << 20,
            total_sent: 6,
            total_received: 7,
            total_dropped: 8,
            total_dead_lettered: 9,
            total_late_replies: 10,
        }),
        &[
            "0c",       // Response::NodeStats
            "01",       // processes: 1
            "02",       // mailboxes: 2
            "03",       // queued_messages: 3
            "04",       // queued_bytes: 4
            "80 80 40", // max_queued_bytes: 1 MiB = 2^20
            "06",       // total_sent: 6
            "07",       // total_received: 7
            "08",       // total_dropped: 8
            "09",       // total_dead_lettered: 9
            "0a",       // total_late_replies: 10
        ],
    );
}

#[test]
fn response_13_sent_batch() {
    pin_response(
        &Response::SentBatch {
            sent: 1,
            failed: Some(SendError::new(SendErrorKind::Full, Message::new("b"))),
            unsent: vec![Message::new("c")],
        },
        &[
            "0d",             // Response::SentBatch
            "01",             // sent: 1
            "01",             // failed: Some
            "02",             // kind: Full
            "01 01 62 02 00", // message: Some("b", type 1, priority 0)
            "01",             // one unsent message
            "01 63 02 00",    // "c", type 1, priority 0
        ],
    );
}

#[test]
fn response_14_received_many() {
    pin_response(
        &Response::ReceivedMany(vec![Received {
            message: Message::new("x"),
            sender: Pid::from_raw(5),
            seq: 6,
            sent_at: Timestamp::from_nanos(7),
            kind: MessageKind::User,
            attempt: 3,
        }]),
        &[
            "0e",          // Response::ReceivedMany
            "01",          // one message
            "01 78 02 00", // "x", type 1, priority 0
            "05",          // sender 5
            "06",          // seq 6
            "07",          // sent_at 7
            "00",          // kind: User
            "03",          // attempt 3
        ],
    );
}

#[test]
fn response_15_settled() {
    pin_response(
        &Response::Settled(300),
        &[
            "0f",    // Response::Settled
            "ac 02", // 300 settled
        ],
    );
}

#[test]
fn response_16_peeked() {
    pin_response(
        &Response::Peeked(vec![Received {
            message: message(),
            sender: Pid::from_raw(5),
            seq: 6,
            sent_at: Timestamp::from_nanos(7),
            kind: MessageKind::Down,
            attempt: 1,
        }]),
        &[
            "10",    // Response::Peeked
            "01",    // one message
            MESSAGE, // message
            "05",    // sender 5
            "06",    // seq 6
            "07",    // sent_at 7
            "01",    // kind: Down
            "01",    // attempt 1
        ],
    );
    pin_response(
        &Response::Peeked(vec![]),
        &[
            "10", // Response::Peeked
            "00", // nothing queued matched
        ],
    );
}

#[test]
fn response_17_purged() {
    pin_response(
        &Response::Purged(300),
        &[
            "11",    // Response::Purged
            "ac 02", // 300 dropped
        ],
    );
}

#[test]
fn response_18_replied() {
    pin_response(
        &Response::Replied(message()),
        &[
            "12",    // Response::Replied
            MESSAGE, // payload "hi", mtype -3, priority 7
        ],
    );
}

#[test]
fn response_19_call_failed() {
    pin_response(
        &Response::CallFailed(CallError::new(CallErrorKind::TooLarge, message())),
        &[
            "13",    // Response::CallFailed
            "04",    // kind: CallErrorKind::TooLarge
            "01",    // request: Some
            MESSAGE, //   payload "hi", mtype -3, priority 7
            "00",    // failure: None
        ],
    );
    pin_response(
        &Response::CallFailed(CallError::failed("no")),
        &[
            "13",       // Response::CallFailed
            "0d",       // kind: CallErrorKind::Failed
            "00",       // request: None
            "01",       // failure: Some
            "02 6e 6f", //   length 2, "no"
        ],
    );
}

#[test]
fn response_20_reply_failed() {
    pin_response(
        &Response::ReplyFailed(ReplyError::Revoked),
        &[
            "14", // Response::ReplyFailed
            "01", // ReplyError::Revoked
        ],
    );
}

#[test]
fn call_error_kind_variants() {
    // Response::CallFailed(CallError { kind, request: None, failure: None }): `13` CallFailed |
    // kind | `00` None | `00` None.
    let rows = [
        (CallErrorKind::NotFound, "13 | 00 | 00 00"),
        (CallErrorKind::PermissionDenied, "13 | 01 | 00 00"),
        (CallErrorKind::Full, "13 | 02 | 00 00"),
        (CallErrorKind::Timeout, "13 | 03 | 00 00"),
        (CallErrorKind::TooLarge, "13 | 04 | 00 00"),
        (CallErrorKind::WrongSize, "13 | 05 | 00 00"),
        (CallErrorKind::InvalidType, "13 | 06 | 00 00"),
        (CallErrorKind::Gone, "13 | 07 | 00 00"),
        (CallErrorKind::PeerGone, "13 | 08 | 00 00"),
        (CallErrorKind::Busy, "13 | 09 | 00 00"),
        (CallErrorKind::QuotaExceeded, "13 | 0a | 00 00"),
        (CallErrorKind::Dropped, "13 | 0b | 00 00"),
        (CallErrorKind::NoResponders, "13 | 0c | 00 00"),
        (CallErrorKind::Failed, "13 | 0d | 00 00"),
        (CallErrorKind::Disconnected, "13 | 0e | 00 00"),
        (CallErrorKind::Protocol, "13 | 0f | 00 00"),
    ];
    for (kind, expected) in rows {
        pin_response(
            &Response::CallFailed(CallError::without_message(kind)),
            &[expected],
        );
    }
}

#[test]
fn reply_error_variants() {
    // Response::ReplyFailed(error): `14` ReplyFailed | error.
    let rows = [
        (ReplyError::NoRight, "14 | 00"),
        (ReplyError::Revoked, "14 | 01"),
        (ReplyError::TooLarge, "14 | 02"),
        (ReplyError::InvalidType, "14 | 03"),
        (ReplyError::Disconnected, "14 | 04"),
        (ReplyError::Protocol, "14 | 05"),
    ];
    for (error, expected) in rows {
        pin_response(&Response::ReplyFailed(error), &[expected]);
    }
}

// §7.2 shared enums: every variant at its documented index, inside the operation that carries it.

#[test]
fn selector_and_source_variants() {
    // Request::Recv { branches: [Branch { source, selector }], wait: Try }:
    // `01` Recv | `01` one branch | source | selector | `00` Wait::Try.
    let rows = [
        (Source::Inbox, Selector::Any, "01 | 01 | 00 | 00 | 00"),
        (
            Source::Inbox,
            Selector::Type(1),
            "01 | 01 | 00 | 01 02 | 00",
        ),
        (
            Source::Inbox,
            Selector::NotType(-1),
            "01 | 01 | 00 | 02 01 | 00",
        ),
        (
            Source::Inbox,
            Selector::TypeAtMost(-2),
            "01 | 01 | 00 | 03 03 | 00",
        ),
        (
            Source::Inbox,
            Selector::From(Pid::from_raw(5)),
            "01 | 01 | 00 | 04 05 | 00",
        ),
        (
            Source::Inbox,
            Selector::Type(i64::MAX),
            "01 | 01 | 00 | 01 fe ff ff ff ff ff ff ff ff 01 | 00",
        ),
        (
            Source::Inbox,
            Selector::Type(i64::MIN),
            "01 | 01 | 00 | 01 ff ff ff ff ff ff ff ff ff 01 | 00",
        ),
        (
            Source::Mailbox(MailboxId::from_raw(6)),
            Selector::Any,
            "01 | 01 | 01 06 | 00 | 00",
        ),
        (
            Source::Mailbox(MailboxId::from_raw(u64::MAX)),
            Selector::Any,
            "01 | 01 | 01 ff ff ff ff ff ff ff ff ff 01 | 00 | 00",
        ),
    ];
    for (source, selector, expected) in rows {
        pin_request(
            &Request::Recv {
                branches: vec![Branch::new(source, selector)],
                wait: Wait::Try,
            },
            &[expected],
        );
    }
}

#[test]
fn wait_delivery_and_target_variants() {
    // Request::Send { target, message: "" (type 1, priority 0), delivery, wait }:
    // `00` Send | target | `00 02 00` message | delivery | wait.
    let rows = [
        (
            Target::Process(Pid::from_raw(1)),
            Delivery::Queued,
            Wait::Try,
            "00 | 00 01 | 00 02 00 | 00 | 00",
        ),
        (
            Target::Mailbox(MailboxId::from_raw(2)),
            Delivery::Queued,
            Wait::Try,
            "00 | 01 02 | 00 02 00 | 00 | 00",
        ),
        (
            Target::Process(Pid::from_raw(1)),
            Delivery::Receipt,
            Wait::Try,
            "00 | 00 01 | 00 02 00 | 01 | 00",
        ),
        (
            Target::Process(Pid::from_raw(1)),
            Delivery::Queued,
            Wait::Block,
            "00 | 00 01 | 00 02 00 | 00 | 01",
        ),
    ];
    for (target, delivery, wait, expected) in rows {
        pin_request(
            &Request::Send {
                target,
                message: Message::new(""),
                delivery,
                wait,
            },
            &[expected],
        );
    }
}

#[test]
fn mailbox_attrs_variants() {
    // Request::Create { name: "m", attrs }: `02` Create | `01 6d` name | capacity | size | order
    // | overflow | ownership | receivers | mode | redelivery | durability. Each row changes one
    // field of base_attrs().
    let base = base_attrs();
    let rows = [
        (
            base,
            "02 | 01 6d | 02 | 00 01 | 00 | 00 | 00 | 00 | 00 | 00 00 00 | 00",
        ),
        (
            MailboxAttrs {
                capacity: Capacity::Zero,
                ..base
            },
            "02 | 01 6d | 00 | 00 01 | 00 | 00 | 00 | 00 | 00 | 00 00 00 | 00",
        ),
        (
            MailboxAttrs {
                capacity: Capacity::bounded(2, 3),
                ..base
            },
            "02 | 01 6d | 01 02 03 | 00 01 | 00 | 00 | 00 | 00 | 00 | 00 00 00 | 00",
        ),
        (
            MailboxAttrs {
                size: MessageSize::Variable(4),
                ..base
            },
            "02 | 01 6d | 02 | 01 04 | 00 | 00 | 00 | 00 | 00 | 00 00 00 | 00",
        ),
        (
            MailboxAttrs {
                order: Order::Priority,
                ..base
            },
            "02 | 01 6d | 02 | 00 01 | 01 | 00 | 00 | 00 | 00 | 00 00 00 | 00",
        ),
        (
            MailboxAttrs {
                overflow: Overflow::DropOldest,
                ..base
            },
            "02 | 01 6d | 02 | 00 01 | 00 | 01 | 00 | 00 | 00 | 00 00 00 | 00",
        ),
        (
            MailboxAttrs {
                ownership: Ownership::System,
                ..base
            },
            "02 | 01 6d | 02 | 00 01 | 00 | 00 | 01 | 00 | 00 | 00 00 00 | 00",
        ),
        (
            MailboxAttrs {
                receivers: Receivers::Exclusive,
                ..base
            },
            "02 | 01 6d | 02 | 00 01 | 00 | 00 | 00 | 01 | 00 | 00 00 00 | 00",
        ),
        (
            MailboxAttrs {
                receivers: Receivers::Shared(Dispatch::RoundRobin),
                ..base
            },
            "02 | 01 6d | 02 | 00 01 | 00 | 00 | 00 | 02 00 | 00 | 00 00 00 | 00",
        ),
        (
            MailboxAttrs {
                receivers: Receivers::Shared(Dispatch::FirstWaiting),
                ..base
            },
            "02 | 01 6d | 02 | 00 01 | 00 | 00 | 00 | 02 01 | 00 | 00 00 00 | 00",
        ),
        (
            MailboxAttrs {
                receivers: Receivers::Pair,
                ..base
            },
            "02 | 01 6d | 02 | 00 01 | 00 | 00 | 00 | 03 | 00 | 00 00 00 | 00",
        ),
        (
            MailboxAttrs {
                receivers: Receivers::Broadcast,
                ..base
            },
            "02 | 01 6d | 02 | 00 01 | 00 | 00 | 00 | 04 | 00 | 00 00 00 | 00",
        ),
        (
            MailboxAttrs {
                mode: Mode::new(0o777),
                ..base
            },
            "02 | 01 6d | 02 | 00 01 | 00 | 00 | 00 | 00 | ff 03 | 00 00 00 | 00",
        ),
        (
            MailboxAttrs {
                redelivery: Redelivery {
                    lease_time: Some(Duration::from_secs(30)),
                    max_deliveries: Some(5),
                    dead_letter: Some(MailboxId::from_raw(9)),
                },
                ..base
            },
            // lease_time: Some(30 s, 0 ns) | max_deliveries: Some(5) | dead_letter: Some(9)
            "02 | 01 6d | 02 | 00 01 | 00 | 00 | 00 | 00 | 00 | 01 1e 00 01 05 01 09 | 00",
        ),
    ];
    for (attrs, expected) in rows {
        pin_request(
            &Request::Create {
                name: "m".into(),
                attrs,
            },
            &[expected],
        );
    }
}

#[test]
fn owner_variants() {
    // Request::SetOwner { mailbox: 1, owner }: `09` SetOwner | `01` mailbox | owner.
    let rows = [
        (Owner::Process(Pid::from_raw(2)), "09 | 01 | 00 02"),
        (Owner::System(Credentials::new(3, 4)), "09 | 01 | 01 03 04"),
    ];
    for (owner, expected) in rows {
        pin_request(
            &Request::SetOwner {
                mailbox: MailboxId::from_raw(1),
                owner,
            },
            &[expected],
        );
    }
}

#[test]
fn message_kind_variants() {
    // Response::Received { branch: 0, message }: `02` Received | `00` branch | `00 02 00`
    // message "" (type 1, priority 0) | `05` sender | `06` seq | `07` sent_at | kind | `01`
    // attempt.
    let rows = [
        (
            MessageKind::User,
            "02 | 00 | 00 02 00 | 05 | 06 | 07 | 00 | 01",
        ),
        (
            MessageKind::Down,
            "02 | 00 | 00 02 00 | 05 | 06 | 07 | 01 | 01",
        ),
        (
            MessageKind::Request(CallId::from_raw(300)),
            "02 | 00 | 00 02 00 | 05 | 06 | 07 | 02 ac 02 | 01",
        ),
    ];
    for (kind, expected) in rows {
        pin_response(
            &Response::Received {
                branch: 0,
                message: Received {
                    message: Message::new(""),
                    sender: Pid::from_raw(5),
                    seq: 6,
                    sent_at: Timestamp::from_nanos(7),
                    kind,
                    attempt: 1,
                },
            },
            &[expected],
        );
    }
}

#[test]
fn send_error_kind_variants() {
    // Response::SendFailed(SendError { kind, message: None }): `01` SendFailed | kind | `00` None.
    let rows = [
        (SendErrorKind::NotFound, "01 | 00 | 00"),
        (SendErrorKind::PermissionDenied, "01 | 01 | 00"),
        (SendErrorKind::Full, "01 | 02 | 00"),
        (SendErrorKind::Timeout, "01 | 03 | 00"),
        (SendErrorKind::TooLarge, "01 | 04 | 00"),
        (SendErrorKind::WrongSize, "01 | 05 | 00"),
        (SendErrorKind::InvalidType, "01 | 06 | 00"),
        (SendErrorKind::Gone, "01 | 07 | 00"),
        (SendErrorKind::PeerGone, "01 | 08 | 00"),
        (SendErrorKind::Busy, "01 | 09 | 00"),
        (SendErrorKind::QuotaExceeded, "01 | 0a | 00"),
        (SendErrorKind::Dropped, "01 | 0b | 00"),
        (SendErrorKind::Disconnected, "01 | 0c | 00"),
        (SendErrorKind::Protocol, "01 | 0d | 00"),
    ];
    for (kind, expected) in rows {
        pin_response(
            &Response::SendFailed(SendError::without_message(kind)),
            &[expected],
        );
    }
}

#[test]
fn recv_error_variants() {
    // Response::RecvFailed(SelectError { branch: 9, error }): `03` RecvFailed | `09` | error.
    let rows = [
        (RecvError::PermissionDenied, "03 | 09 | 00"),
        (RecvError::Empty, "03 | 09 | 01"),
        (RecvError::Timeout, "03 | 09 | 02"),
        (RecvError::Gone, "03 | 09 | 03"),
        (RecvError::PeerGone, "03 | 09 | 04"),
        (RecvError::Busy, "03 | 09 | 05"),
        (RecvError::Disconnected, "03 | 09 | 06"),
        (RecvError::Protocol, "03 | 09 | 07"),
        (RecvError::LeaseEnded, "03 | 09 | 08"),
    ];
    for (error, expected) in rows {
        pin_response(
            &Response::RecvFailed(SelectError { branch: 9, error }),
            &[expected],
        );
    }
}

#[test]
fn open_error_variants() {
    // Response::OpenFailed(error): `05` OpenFailed | error.
    let rows = [
        (OpenError::NotFound, "05 | 00"),
        (OpenError::AlreadyExists, "05 | 01"),
        (OpenError::PermissionDenied, "05 | 02"),
        (OpenError::InvalidName, "05 | 03"),
        (OpenError::InvalidAttributes("x".into()), "05 | 04 01 78"),
        (OpenError::QuotaExceeded, "05 | 05"),
        (OpenError::Disconnected, "05 | 06"),
        (OpenError::Protocol, "05 | 07"),
        (OpenError::Refused("x".into()), "05 | 08 01 78"),
    ];
    for (error, expected) in rows {
        pin_response(&Response::OpenFailed(error), &[expected]);
    }
}

#[test]
fn admin_error_variants() {
    // Response::AdminFailed(error): `07` AdminFailed | error.
    let rows = [
        (AdminError::NotFound, "07 | 00"),
        (AdminError::PermissionDenied, "07 | 01"),
        (AdminError::Gone, "07 | 02"),
        (AdminError::PeerGone, "07 | 03"),
        (AdminError::AlreadyExists, "07 | 04"),
        (AdminError::InvalidName, "07 | 05"),
        (AdminError::InvalidArgument("x".into()), "07 | 06 01 78"),
        (AdminError::Disconnected, "07 | 07"),
        (AdminError::Protocol, "07 | 08"),
        (AdminError::Refused("x".into()), "07 | 09 01 78"),
    ];
    for (error, expected) in rows {
        pin_response(&Response::AdminFailed(error), &[expected]);
    }
}

// §7.1 rules not shown by the rows above.

#[test]
fn mode_bits_above_0o777_are_dropped_on_decode() {
    // Request::SetMode { mailbox: 9, mode: 0xffff }, as a peer might send it.
    let sent = hex(&[
        "07",       // Request::SetMode
        "09",       // mailbox: 9
        "ff ff 03", // mode: 0xffff
    ]);
    let request = Request::SetMode {
        mailbox: MailboxId::from_raw(9),
        mode: Mode::new(0o777),
    };
    assert_eq!(decode_request(&sent), Ok(request.clone()));
    pin_request(
        &request,
        &[
            "07",    // Request::SetMode
            "09",    // mailbox: 9
            "ff 03", // mode: 0o777 = 511
        ],
    );
}

#[test]
fn response_21_node_links() {
    pin_response(
        &Response::NodeLinks(NodeLinks {
            local: Some(LocalNode {
                name: "a".to_owned(),
                incarnation: 300,
                listen: Some("h:1".to_owned()),
            }),
            peers: vec![PeerLink {
                name: "b".to_owned(),
                state: PeerState::Up,
                incarnation: Some(2),
                address: None,
                rtt: Some(Duration::new(3, 4)),
                unacked: 5,
                retransmissions: 6,
                duplicates: 7,
                last_heard: None,
            }],
        }),
        &[
            "15",             // Response::NodeLinks
            "01",             // local: Some
            "01 61",          // name "a"
            "ac 02",          // incarnation 300
            "01 03 68 3a 31", // listen: Some("h:1")
            "01",             // peers: 1
            "01 62",          // name "b"
            "01",             // state: PeerState::Up
            "01 02",          // incarnation: Some(2)
            "00",             // address: None
            "01 03 04",       // rtt: Some(3 s 4 ns)
            "05",             // unacked
            "06",             // retransmissions
            "07",             // duplicates
            "00",             // last_heard: None
        ],
    );
}

#[test]
fn response_22_ring_lent() {
    pin_response(&Response::RingLent(None), &["16 00"]); // Response::RingLent, None
    pin_response(
        &Response::RingLent(Some(postbox_wire::RingTerms {
            may_send: true,
            may_receive: false,
            size: postbox_core::MessageSize::Variable(64),
            max_message_size: 1024,
            first_seq: 5,
        })),
        &[
            "16",    // Response::RingLent
            "01",    // Some
            "01",    // may_send: true
            "00",    // may_receive: false
            "01 40", // size: MessageSize::Variable(64)
            "80 08", // max_message_size: 1024
            "05",    // first_seq: 5
        ],
    );
}

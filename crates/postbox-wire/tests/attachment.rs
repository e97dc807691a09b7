//! Operations with attached payloads (protocol.md §7.5): the table's bytes, round trips through
//! every operation that carries messages, the cap per frame, and every malformed table refused.

use bytes::{Bytes, BytesMut};
use postbox_core::{
    CallError, CallErrorKind, CallId, Delivery, MailboxId, Message, MessageKind, Pid, Received,
    Reply, SendError, SendErrorKind, Timestamp, Wait,
};
use postbox_wire::{
    ATTACHED, Attached, AttachedError, Attachment, MAX_ATTACHMENTS, Request, Response, Target,
    encode_attached, encode_request, encode_response,
};

const FROM: usize = 65_536;

fn big(len: usize, fill: u8) -> Message {
    Message::new(vec![fill; len])
}

fn encode<T: postbox_wire::Carrier + Clone>(operation: &T) -> (Bytes, Vec<Bytes>) {
    let mut dst = BytesMut::new();
    let attached = encode_attached(operation, FROM, &mut dst);
    (dst.freeze(), attached)
}

/// Decodes, hands back the attached payloads in order, and checks the lengths claimed.
fn decode<T: postbox_wire::Carrier>(payload: &Bytes, mut attached: Vec<Bytes>) -> T {
    let decoded = Attached::<T>::decode(payload).unwrap();
    assert_eq!(decoded.attachments().len(), attached.len());
    attached.reverse();
    decoded
        .fill(|attachment| {
            let bytes = attached.pop().expect("an attachment");
            assert_eq!(attachment.len, bytes.len() as u64);
            Ok::<_, ()>(bytes)
        })
        .unwrap()
}

fn send(message: Message) -> Request {
    Request::Send {
        target: Target::Mailbox(MailboxId::from_raw(3)),
        message,
        delivery: Delivery::Queued,
        wait: Wait::Block,
    }
}

/// Pins the example of protocol.md §7.5 byte for byte.
#[test]
fn a_send_with_an_attached_payload_is_laid_out_as_documented() {
    let request = send(big(70_000, 7).with_type(4).with_priority(2));
    let (payload, attached) = encode(&request);
    let expected: &[u8] = &[
        0xff, // ATTACHED
        0x01, // one attachment
        0x00, 0x00, 0x00, 0x00, // message 0
        0x70, 0x11, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, // 70000 bytes
        0x00, // Request::Send
        0x01, 0x03, // Target::Mailbox(3)
        0x00, // payload: empty (attached)
        0x08, // mtype 4, zigzagged
        0x02, // priority 2
        0x00, // Delivery::Queued
        0x01, // Wait::Block
    ];
    assert_eq!(&payload[..], expected);
    assert_eq!(attached, vec![Bytes::from(vec![7u8; 70_000])]);
    assert_eq!(decode::<Request>(&payload, attached), request);
    assert_eq!(ATTACHED, 0xff);
}

#[test]
fn below_the_threshold_the_encoding_is_the_plain_one() {
    for request in [
        send(big(FROM - 1, 1)),
        send(Message::new("")),
        Request::ListMailboxes,
    ] {
        let (payload, attached) = encode(&request);
        assert!(attached.is_empty());
        assert_eq!(payload, encode_request(&request));
        assert_eq!(decode::<Request>(&payload, attached), request);
    }
}

#[test]
fn every_operation_that_carries_messages_round_trips() {
    let received = |message: Message| Received {
        message,
        sender: Pid::from_raw(4),
        seq: 5,
        sent_at: Timestamp::from_nanos(6),
        kind: MessageKind::User,
        attempt: 1,
    };
    let requests = [
        send(big(FROM, 1)),
        Request::SendBatch {
            target: Target::Process(Pid::from_raw(2)),
            messages: vec![big(10, 1), big(FROM, 2), big(5, 3), big(FROM + 1, 4)],
            wait: Wait::Try,
        },
        Request::Call {
            target: Target::Mailbox(MailboxId::from_raw(1)),
            request: big(FROM * 2, 5),
            wait: Wait::Block,
        },
        Request::Reply {
            call: CallId::from_raw(8),
            reply: Reply::Answer(big(FROM, 6)),
        },
    ];
    for request in requests {
        let (payload, attached) = encode(&request);
        assert!(!attached.is_empty(), "{request:?}");
        assert_eq!(payload[0], ATTACHED);
        assert_eq!(decode::<Request>(&payload, attached), request);
    }
    let responses = [
        Response::Received {
            branch: 2,
            message: received(big(FROM, 1)),
        },
        Response::ReceivedMany(vec![received(big(3, 1)), received(big(FROM, 2))]),
        Response::Peeked(vec![received(big(FROM, 3))]),
        Response::Replied(big(FROM, 4)),
        // Failures hand their messages back beside the frame too.
        Response::SendFailed(SendError::new(SendErrorKind::TooLarge, big(FROM, 5))),
        Response::CallFailed(CallError::new(CallErrorKind::Gone, big(FROM, 6))),
        Response::SentBatch {
            sent: 1,
            failed: Some(SendError::new(SendErrorKind::Full, big(FROM, 7))),
            unsent: vec![big(2, 8), big(FROM + 3, 9)],
        },
    ];
    for response in responses {
        let (payload, attached) = encode(&response);
        assert!(!attached.is_empty(), "{response:?}");
        assert_eq!(decode::<Response>(&payload, attached), response);
    }
    // A plain response still decodes, with nothing to fill.
    let plain = Response::Sent { receiver: None };
    let payload = encode_response(&plain);
    assert_eq!(decode::<Response>(&payload, Vec::new()), plain);
}

#[test]
fn a_frame_attaches_at_most_the_cap_and_sends_the_rest_inline() {
    let request = Request::SendBatch {
        target: Target::Mailbox(MailboxId::from_raw(1)),
        messages: (0..MAX_ATTACHMENTS + 3)
            .map(|i| big(FROM, i as u8))
            .collect(),
        wait: Wait::Block,
    };
    let (payload, attached) = encode(&request);
    assert_eq!(attached.len(), MAX_ATTACHMENTS);
    assert_eq!(payload[1] as usize, MAX_ATTACHMENTS);
    assert!(payload.len() > 3 * FROM, "three payloads inline");
    assert_eq!(decode::<Request>(&payload, attached), request);
}

fn table(entries: &[(u32, u64)], operation: &[u8]) -> Bytes {
    let mut out = vec![ATTACHED, entries.len() as u8];
    for (message, len) in entries {
        out.extend_from_slice(&message.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
    }
    out.extend_from_slice(operation);
    Bytes::from(out)
}

#[test]
fn malformed_tables_are_refused() {
    let stripped = encode_request(&send(Message::new("")));
    let batch = encode_request(&Request::SendBatch {
        target: Target::Mailbox(MailboxId::from_raw(1)),
        messages: vec![Message::new(""), Message::new("")],
        wait: Wait::Block,
    });
    let refused = |payload: Bytes| Attached::<Request>::decode(&payload).unwrap_err();
    assert!(matches!(
        refused(Bytes::from_static(&[ATTACHED])),
        AttachedError::Table(_)
    ));
    assert_eq!(
        refused(table(&[], &stripped)),
        AttachedError::Count { count: 0 }
    );
    let mut too_many = vec![ATTACHED, 65];
    too_many.extend_from_slice(&[0; 65 * 12]);
    assert_eq!(
        refused(Bytes::from(too_many)),
        AttachedError::Count { count: 65 }
    );
    let mut cut = table(&[(0, 10)], &stripped).to_vec();
    cut.truncate(8);
    assert!(matches!(refused(Bytes::from(cut)), AttachedError::Table(_)));
    assert_eq!(
        refused(table(&[(0, 0)], &stripped)),
        AttachedError::Order { message: 0 }
    );
    assert_eq!(
        refused(table(&[(1, 5), (1, 5)], &batch)),
        AttachedError::Order { message: 1 }
    );
    assert_eq!(
        refused(table(&[(1, 5), (0, 5)], &batch)),
        AttachedError::Order { message: 0 }
    );
    assert_eq!(
        refused(table(&[(1, 5)], &stripped)),
        AttachedError::NoSuchMessage {
            message: 1,
            messages: 1
        }
    );
    assert_eq!(
        refused(table(&[(0, 5)], &encode_request(&Request::ListMailboxes))),
        AttachedError::NoSuchMessage {
            message: 0,
            messages: 0
        }
    );
    assert_eq!(
        refused(table(
            &[(0, 5)],
            &encode_request(&send(Message::new("abc")))
        )),
        AttachedError::InlinePayload { message: 0, len: 3 }
    );
    assert!(matches!(
        refused(table(&[(0, 5)], &[0xff, 0xff])),
        AttachedError::Operation(_)
    ));
    let error = refused(table(&[(4, 5)], &batch));
    assert_eq!(
        error.to_string(),
        "attachment for message 4, but the operation carries 2 messages"
    );
}

#[test]
fn the_drivers_error_when_filling_is_returned() {
    let (payload, _) = encode(&send(big(FROM, 1)));
    let decoded = Attached::<Request>::decode(&payload).unwrap();
    assert_eq!(
        decoded.attachments(),
        &[Attachment {
            message: 0,
            len: FROM as u64
        }]
    );
    assert_eq!(decoded.fill(|_| Err("no descriptor")), Err("no descriptor"));
}

#[test]
fn a_plain_operation_never_starts_with_the_marker() {
    // The marker is a varint continuation byte: no variant index this protocol defines begins
    // with it, so plain decoders refuse it and attachments cannot be confused with an operation.
    assert!(postbox_wire::decode_request(&[ATTACHED, 0x01]).is_err());
    assert!(postbox_wire::decode_response(&[ATTACHED, 0x01]).is_err());
}

//! Golden bytes for every link frame kind of `docs/protocol.md` ("Node links"), written out by
//! hand from the documented layout; the checksums were computed by an independent CRC32C.
//! Each is encoded and compared byte for byte, then decoded back; and frames carrying more than
//! a node of this version knows decode to what it knows.

use bytes::{Bytes, BytesMut};
use postbox_wire::link::{Incarnation, LinkDecoder, LinkFrame, LinkHello, NodeName, Seq};
use postbox_wire::{ErrorBody, ErrorCode};

fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|byte| u8::from_str_radix(byte, 16).expect("hex digits"))
        .collect()
}

fn show(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The header of a link frame: magic, version 1, `kind`, no flags, then `rest` (number, length,
/// checksum), as hex.
fn header(kind: &str, rest: &str) -> String {
    format!("50 4e 01 {kind} 00 00 {rest}")
}

#[track_caller]
fn pin(frame: LinkFrame, expected: &str) {
    let expected = hex(expected);
    let mut wire = BytesMut::new();
    frame.encode(&mut wire);
    assert_eq!(show(&wire), show(&expected), "encoding of {frame:?}");
    let mut input = BytesMut::from(&expected[..]);
    assert_eq!(LinkDecoder::new(4096).decode(&mut input), Ok(Some(frame)));
    assert!(input.is_empty());
}

#[test]
fn hello() {
    let frame = LinkFrame::Hello(LinkHello {
        node: NodeName::new("beta").unwrap(),
        incarnation: Incarnation::new(0x0102_0304_0506_0708).unwrap(),
        known: Incarnation::new(0x1112_1314_1516_1718),
        delivered: Seq::new(0x21),
        max_frame_len: 0x0010_0000,
        unchecked: true,
    });
    let expected = [
        header("01", "00 00 00 00 00 00 00 00"), // number 0
        "22 00 00 00".into(),                    // payload length 34
        "58 0f e4 3c".into(),                    // CRC32C
        "04 62 65 74 61".into(),                 // name length 4, "beta"
        "08 07 06 05 04 03 02 01".into(),        // incarnation
        "18 17 16 15 14 13 12 11".into(),        // the receiver's incarnation as known
        "21 00 00 00 00 00 00 00".into(),        // last delivered from the receiver
        "00 00 10 00".into(),                    // max frame length 1 MiB
        "01".into(),                             // options: takes unchecked data frames
    ];
    pin(frame, &expected.join(" "));
}

/// A data frame without a checksum (flag 1, checksum field 0), as sent to a node whose `Hello`
/// asked for them; only a decoder that accepts them takes it.
#[test]
fn unchecked_data() {
    let expected = hex(&[
        "50 4e 01 02 01 00",       // magic, version 1, kind Data, flags 1 (unchecked)
        "05 00 00 00 00 00 00 00", // sequence number 5
        "0a 00 00 00",             // payload length 10
        "00 00 00 00",             // no checksum
        "03 00 00 00 00 00 00 00", // ack 3
        "68 69",                   // the message, "hi"
    ]
    .join(" "));
    let frame = LinkFrame::Data {
        seq: Seq::new(5),
        ack: Seq::new(3),
        payload: Bytes::from_static(b"hi"),
    };
    let mut input = BytesMut::from(&expected[..]);
    let decoder = LinkDecoder::new(4096).accepting_unchecked();
    assert_eq!(decoder.decode(&mut input), Ok(Some(frame)));
    assert!(input.is_empty());
    let mut input = BytesMut::from(&expected[..]);
    assert!(LinkDecoder::new(4096).decode(&mut input).is_err());
}

#[test]
fn data() {
    let frame = LinkFrame::Data {
        seq: Seq::new(5),
        ack: Seq::new(3),
        payload: Bytes::from_static(b"hi"),
    };
    let expected = [
        header("02", "05 00 00 00 00 00 00 00"), // sequence number 5
        "0a 00 00 00".into(),                    // payload length 10
        "0f e4 6b 11".into(),                    // CRC32C
        "03 00 00 00 00 00 00 00".into(),        // ack 3
        "68 69".into(),                          // the message, "hi"
    ];
    pin(frame, &expected.join(" "));
}

#[test]
fn ack() {
    let expected = [
        header("03", "00 00 00 00 00 00 00 00"),
        "08 00 00 00".into(),
        "e0 03 c5 27".into(),
        "07 00 00 00 00 00 00 00".into(), // ack 7
    ];
    pin(LinkFrame::Ack { ack: Seq::new(7) }, &expected.join(" "));
}

#[test]
fn ping_and_pong() {
    let ping = [
        header("04", "09 00 00 00 00 00 00 00"), // ping id 9
        "08 00 00 00".into(),
        "57 66 83 8b".into(),
        "02 00 00 00 00 00 00 00".into(), // ack 2
    ];
    pin(
        LinkFrame::Ping {
            id: 9,
            ack: Seq::new(2),
        },
        &ping.join(" "),
    );
    let pong = [
        header("05", "09 00 00 00 00 00 00 00"), // echoes id 9
        "08 00 00 00".into(),
        "6f 96 50 fe".into(),
        "02 00 00 00 00 00 00 00".into(),
    ];
    pin(
        LinkFrame::Pong {
            id: 9,
            ack: Seq::new(2),
        },
        &pong.join(" "),
    );
}

#[test]
fn goodbye() {
    let expected = [
        header("06", "00 00 00 00 00 00 00 00"),
        "08 00 00 00".into(),
        "a0 c2 f1 5b".into(),
        "04 00 00 00 00 00 00 00".into(), // ack 4
    ];
    pin(LinkFrame::Goodbye { ack: Seq::new(4) }, &expected.join(" "));
}

#[test]
fn error() {
    let body = ErrorBody::new(ErrorCode::PROTOCOL_VIOLATION, "no");
    let expected = [
        header("07", "00 00 00 00 00 00 00 00"),
        "04 00 00 00".into(),
        "35 3a b0 73".into(),
        "05 00".into(), // PROTOCOL_VIOLATION
        "6e 6f".into(), // "no"
    ];
    pin(LinkFrame::Error(body), &expected.join(" "));
}

/// A link frame of `kind` with frame number `number` and `payload`, checksummed, built by hand.
fn raw_frame(kind: u8, number: u64, payload: &[u8]) -> BytesMut {
    let mut frame = BytesMut::from(&[0x50, 0x4e, 0x01, kind, 0x00, 0x00][..]);
    frame.extend_from_slice(&number.to_le_bytes());
    let length = u32::try_from(payload.len()).expect("a short payload");
    frame.extend_from_slice(&length.to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&frame), payload);
    frame.extend_from_slice(&crc.to_le_bytes());
    frame.extend_from_slice(payload);
    frame
}

#[test]
fn later_versions_room_is_ignored_after_the_fields_a_node_knows() {
    let decode = |mut bytes: BytesMut| {
        let frame = LinkDecoder::new(4096).decode(&mut bytes);
        assert!(bytes.is_empty(), "the whole frame is taken");
        frame
    };
    // Ack, Ping, Pong and Goodbye: bytes after `ack` are ignored.
    let ack_and_more = [&7u64.to_le_bytes()[..], b"later"].concat();
    assert_eq!(
        decode(raw_frame(3, 0, &ack_and_more)),
        Ok(Some(LinkFrame::Ack { ack: Seq::new(7) }))
    );
    assert_eq!(
        decode(raw_frame(4, 9, &ack_and_more)),
        Ok(Some(LinkFrame::Ping {
            id: 9,
            ack: Seq::new(7)
        }))
    );
    assert_eq!(
        decode(raw_frame(5, 9, &ack_and_more)),
        Ok(Some(LinkFrame::Pong {
            id: 9,
            ack: Seq::new(7)
        }))
    );
    assert_eq!(
        decode(raw_frame(6, 0, &ack_and_more)),
        Ok(Some(LinkFrame::Goodbye { ack: Seq::new(7) }))
    );
    // Hello: option bits other than bit 0 are ignored, and so is anything after the options.
    let hello = |options: u8| {
        let mut payload = vec![4];
        payload.extend_from_slice(b"beta");
        payload.extend_from_slice(&5u64.to_le_bytes());
        payload.extend_from_slice(&0u64.to_le_bytes());
        payload.extend_from_slice(&0u64.to_le_bytes());
        payload.extend_from_slice(&4096u32.to_le_bytes());
        payload.push(options);
        payload.extend_from_slice(b"room for later versions");
        raw_frame(1, 0, &payload)
    };
    let expected = |unchecked: bool| {
        Ok(Some(LinkFrame::Hello(LinkHello {
            node: NodeName::new("beta").unwrap(),
            incarnation: Incarnation::new(5).unwrap(),
            known: None,
            delivered: Seq::ZERO,
            max_frame_len: 4096,
            unchecked,
        })))
    };
    assert_eq!(decode(hello(0b1111_1110)), expected(false));
    assert_eq!(decode(hello(0b0000_0011)), expected(true));
}

//! The frames two nodes exchange on a link connection, and how each is laid out.
//!
//! A link frame has the same 22-byte header as a client frame (`docs/protocol.md` §1) with its
//! own magic, `b"PN"`, so that a client dialling a node port (or a node dialling a client port)
//! is refused at its first byte. The header's request-id field carries the frame's *number*: a
//! data frame's sequence number, a ping's id, 0 for the rest.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use super::transmit::{SHARE_FROM, Transmit};
use super::{Incarnation, NodeName};
use crate::ErrorBody;
use crate::header::{HEADER_LEN, Header};

/// The two bytes every link frame starts with ("postbox node").
pub const LINK_MAGIC: [u8; 2] = *b"PN";

/// The link protocol version every link frame's header carries.
pub const LINK_VERSION: u8 = 1;

/// The bytes a data frame's payload spends before the message: the piggybacked acknowledgement.
pub const DATA_OVERHEAD: usize = 8;

/// The header flag of a data frame sent without a checksum (its checksum field is 0), allowed
/// only to a peer whose `Hello` said it takes such frames (see [`LinkHello::unchecked`]).
pub const FLAG_UNCHECKED: u16 = 0x0001;

/// The `Hello` option bit saying "send me data frames without a checksum".
pub(crate) const HELLO_UNCHECKED: u8 = 0x01;

/// The position of a data message in one direction of an association: the first message is 1,
/// and 0 stands for "nothing yet" (as in "the last message delivered").
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct Seq(u64);

impl Seq {
    /// "Nothing yet": before the first message.
    pub const ZERO: Seq = Seq(0);

    /// Wraps a raw sequence number.
    pub const fn new(raw: u64) -> Seq {
        Seq(raw)
    }

    /// The raw number, as it goes on the wire.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The number after this one.
    pub(crate) const fn next(self) -> Seq {
        Seq(self.0.wrapping_add(1))
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What a link frame is for; its wire byte is the header's kind field.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum LinkFrameKind {
    /// The first frame each side sends on a connection: who it is and where it stands.
    Hello,
    /// One message, numbered, with the sender's acknowledgement piggybacked.
    Data,
    /// A standalone acknowledgement, when there is no data to carry it.
    Ack,
    /// A heartbeat asking for an echo (which measures the round trip).
    Ping,
    /// The echo of a `Ping`.
    Pong,
    /// The sender is leaving for good (a clean shutdown); nothing follows it.
    Goodbye,
    /// The sender refuses the connection and says why, then closes it.
    Error,
}

impl LinkFrameKind {
    /// Every kind, in wire order.
    pub const ALL: [LinkFrameKind; 7] = [
        LinkFrameKind::Hello,
        LinkFrameKind::Data,
        LinkFrameKind::Ack,
        LinkFrameKind::Ping,
        LinkFrameKind::Pong,
        LinkFrameKind::Goodbye,
        LinkFrameKind::Error,
    ];

    /// The kind a wire byte names; `None` for 0 and 8..=255.
    pub const fn from_u8(raw: u8) -> Option<LinkFrameKind> {
        Some(match raw {
            1 => LinkFrameKind::Hello,
            2 => LinkFrameKind::Data,
            3 => LinkFrameKind::Ack,
            4 => LinkFrameKind::Ping,
            5 => LinkFrameKind::Pong,
            6 => LinkFrameKind::Goodbye,
            7 => LinkFrameKind::Error,
            _ => return None,
        })
    }

    /// The wire byte for this kind.
    pub const fn as_u8(self) -> u8 {
        match self {
            LinkFrameKind::Hello => 1,
            LinkFrameKind::Data => 2,
            LinkFrameKind::Ack => 3,
            LinkFrameKind::Ping => 4,
            LinkFrameKind::Pong => 5,
            LinkFrameKind::Goodbye => 6,
            LinkFrameKind::Error => 7,
        }
    }

    /// Whether a frame of this kind may carry `number` in its header: data frames a sequence
    /// number of at least 1, pings and pongs any id, every other kind only 0.
    pub(crate) const fn allows_number(self, number: u64) -> bool {
        match self {
            LinkFrameKind::Data => number != 0,
            LinkFrameKind::Ping | LinkFrameKind::Pong => true,
            LinkFrameKind::Hello
            | LinkFrameKind::Ack
            | LinkFrameKind::Goodbye
            | LinkFrameKind::Error => number == 0,
        }
    }
}

impl fmt::Display for LinkFrameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinkFrameKind::Hello => "hello",
            LinkFrameKind::Data => "data",
            LinkFrameKind::Ack => "ack",
            LinkFrameKind::Ping => "ping",
            LinkFrameKind::Pong => "pong",
            LinkFrameKind::Goodbye => "goodbye",
            LinkFrameKind::Error => "error",
        })
    }
}

/// A `Hello`'s payload: who the sender is, and what it knows of the receiver.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LinkHello {
    /// The sender's node name.
    pub node: NodeName,
    /// The sender's incarnation.
    pub incarnation: Incarnation,
    /// The receiver's incarnation as the sender last knew it; `None` (0 on the wire) if it
    /// knows none.
    pub known: Option<Incarnation>,
    /// The last message the sender delivered from the receiver (under `known`); `Seq::ZERO`
    /// if none.
    pub delivered: Seq,
    /// The largest frame payload the sender accepts; both ends must use the same.
    pub max_frame_len: u32,
    /// The sender takes data frames without a checksum: its connections authenticate every
    /// byte (TLS), so a CRC would only check again what the transport already has. Absent (an
    /// older sender) means false.
    pub unchecked: bool,
}

/// One link frame, decoded.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum LinkFrame {
    /// See [`LinkFrameKind::Hello`].
    Hello(LinkHello),
    /// See [`LinkFrameKind::Data`].
    Data {
        /// The message's sequence number, at least 1.
        seq: Seq,
        /// The last message the sender delivered from the receiver.
        ack: Seq,
        /// The message.
        payload: Bytes,
    },
    /// See [`LinkFrameKind::Ack`].
    Ack {
        /// The last message the sender delivered from the receiver.
        ack: Seq,
    },
    /// See [`LinkFrameKind::Ping`].
    Ping {
        /// Chosen by the sender, echoed in the `Pong`.
        id: u64,
        /// The last message the sender delivered from the receiver.
        ack: Seq,
    },
    /// See [`LinkFrameKind::Pong`].
    Pong {
        /// The id of the `Ping` it answers.
        id: u64,
        /// The last message the sender delivered from the receiver.
        ack: Seq,
    },
    /// See [`LinkFrameKind::Goodbye`].
    Goodbye {
        /// The last message the sender delivered from the receiver.
        ack: Seq,
    },
    /// See [`LinkFrameKind::Error`]; the payload is laid out as a client `Error`'s.
    Error(ErrorBody),
}

impl LinkFrame {
    /// The frame's kind.
    pub fn kind(&self) -> LinkFrameKind {
        match self {
            LinkFrame::Hello(_) => LinkFrameKind::Hello,
            LinkFrame::Data { .. } => LinkFrameKind::Data,
            LinkFrame::Ack { .. } => LinkFrameKind::Ack,
            LinkFrame::Ping { .. } => LinkFrameKind::Ping,
            LinkFrame::Pong { .. } => LinkFrameKind::Pong,
            LinkFrame::Goodbye { .. } => LinkFrameKind::Goodbye,
            LinkFrame::Error(_) => LinkFrameKind::Error,
        }
    }

    /// Appends the frame's bytes to `dst`: header, then payload. The caller keeps payloads
    /// within the limit (an association checks messages when they are sent), so this cannot fail;
    /// a payload over `u32::MAX` bytes is a caller bug.
    ///
    /// # Panics
    ///
    /// If a data payload is longer than `u32::MAX - 8` bytes.
    pub fn encode(&self, dst: &mut BytesMut) {
        self.encode_as(dst, true);
    }

    /// As [`encode_as`](Self::encode_as), onto what an association transmits: a large data
    /// message is queued as it is (shared, not copied) after its header.
    pub(crate) fn encode_onto(&self, transmit: &mut Transmit, checksummed: bool) {
        match self {
            LinkFrame::Data { seq, ack, payload } if payload.len() >= SHARE_FROM => {
                let head = ack.get().to_le_bytes();
                let flags = if checksummed { 0 } else { FLAG_UNCHECKED };
                let mut header = header(LinkFrameKind::Data, flags, seq.get(), &head, payload);
                if checksummed {
                    header.checksum =
                        crc32c::crc32c_append(header.compute_checksum(&head), payload);
                }
                write(transmit.buffer(), &header, &head, &[]);
                transmit.push_shared(payload.clone());
            }
            frame => frame.encode_as(transmit.buffer(), checksummed),
        }
    }

    /// As [`encode`](Self::encode); a data frame goes without its checksum (flagged
    /// [`FLAG_UNCHECKED`]) unless `checksummed`. Every other kind always has one.
    pub(crate) fn encode_as(&self, dst: &mut BytesMut, checksummed: bool) {
        match self {
            LinkFrame::Hello(hello) => {
                let mut payload = Vec::with_capacity(29 + hello.node.as_bytes().len());
                let name = hello.node.as_bytes();
                // A NodeName is at most 64 bytes.
                payload.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
                payload.extend_from_slice(name);
                payload.extend_from_slice(&hello.incarnation.get().to_le_bytes());
                payload.extend_from_slice(&hello.known.map_or(0, Incarnation::get).to_le_bytes());
                payload.extend_from_slice(&hello.delivered.get().to_le_bytes());
                payload.extend_from_slice(&hello.max_frame_len.to_le_bytes());
                payload.push(if hello.unchecked { HELLO_UNCHECKED } else { 0 });
                put(dst, LinkFrameKind::Hello, 0, &payload, &[]);
            }
            LinkFrame::Data { seq, ack, payload } => {
                let head = ack.get().to_le_bytes();
                if checksummed {
                    put(dst, LinkFrameKind::Data, seq.get(), &head, payload);
                } else {
                    put_unchecked(dst, LinkFrameKind::Data, seq.get(), &head, payload);
                }
            }
            LinkFrame::Ack { ack } => {
                put(dst, LinkFrameKind::Ack, 0, &ack.get().to_le_bytes(), &[])
            }
            LinkFrame::Ping { id, ack } => {
                put(dst, LinkFrameKind::Ping, *id, &ack.get().to_le_bytes(), &[]);
            }
            LinkFrame::Pong { id, ack } => {
                put(dst, LinkFrameKind::Pong, *id, &ack.get().to_le_bytes(), &[]);
            }
            LinkFrame::Goodbye { ack } => {
                put(
                    dst,
                    LinkFrameKind::Goodbye,
                    0,
                    &ack.get().to_le_bytes(),
                    &[],
                );
            }
            LinkFrame::Error(body) => put(dst, LinkFrameKind::Error, 0, &body.encode(), &[]),
        }
    }
}

/// Writes one frame whose payload is `head` then `tail`, without joining them first (a data
/// frame's message is not copied twice).
fn put(dst: &mut BytesMut, kind: LinkFrameKind, number: u64, head: &[u8], tail: &[u8]) {
    let mut header = header(kind, 0, number, head, tail);
    header.checksum = crc32c::crc32c_append(header.compute_checksum(head), tail);
    write(dst, &header, head, tail);
}

/// As [`put`], without the checksum: flagged [`FLAG_UNCHECKED`], the checksum field 0.
fn put_unchecked(dst: &mut BytesMut, kind: LinkFrameKind, number: u64, head: &[u8], tail: &[u8]) {
    let header = header(kind, FLAG_UNCHECKED, number, head, tail);
    write(dst, &header, head, tail);
}

fn header(kind: LinkFrameKind, flags: u16, number: u64, head: &[u8], tail: &[u8]) -> Header {
    let len = head.len() + tail.len();
    Header {
        magic: LINK_MAGIC,
        version: LINK_VERSION,
        kind: kind.as_u8(),
        flags,
        request_id: number,
        payload_len: u32::try_from(len).expect("a link frame payload fits in u32"),
        checksum: 0,
    }
}

fn write(dst: &mut BytesMut, header: &Header, head: &[u8], tail: &[u8]) {
    dst.reserve(HEADER_LEN + head.len() + tail.len());
    dst.put_slice(&header.to_bytes());
    dst.put_slice(head);
    dst.put_slice(tail);
}

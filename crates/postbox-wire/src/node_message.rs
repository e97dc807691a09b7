//! What one node asks of or tells another over their association: forwarded requests, their
//! answers, withdrawals, and the ends of processes (`docs/protocol.md` §10).
//!
//! A node acts for its local processes on another node as a client acts for itself on a daemon:
//! a request whose mailbox or process lives elsewhere travels to that node, which carries it out
//! as the origin's *proxy* there, and the answer travels back. Each message is one link message,
//! so the association's order and exactly-once delivery carry over: an `Ended` arrives after
//! everything its process sent.
//!
//! **Pids travel relative to the link.** A pid inside a request or response names a process of
//! the node that sent the message, or — with [`PEER_PID`] set — a process of the node receiving
//! it; each side translates to and from its proxy pids. The `origin` and `pid` fields below are
//! plain (a pid of the sending node that has already ended is marked [`ENDED_PID`]): the
//! sender's own process for `Request`, `Cancel` and `Ended`, the receiver's for
//! `Answer` and `Refused`.
//!
//! The operation inside a `Request` or `Answer` is encoded exactly as a client frame's payload
//! (§7), after a short header, so large payloads are shared with the link's buffer, not copied.

use bytes::{Bytes, BytesMut};
use postbox_core::{Credentials, Pid};
use serde::{Deserialize, Serialize};

use crate::error_body::{ErrorCode, MAX_ERROR_MESSAGE_LEN};
use crate::operation::{
    OperationError, Request, Response, encode_request_into, encode_response_into,
};
use crate::shared_payload::{decode_request_shared, decode_response_shared};

/// Set in a pid carried inside a forwarded request or response when it names a process of the
/// node receiving the message rather than of the one sending it. Engines allocate pids from 1
/// upwards and never come near this bit.
pub const PEER_PID: u64 = 1 << 63;

/// Set (without [`PEER_PID`]) in a pid carried inside a forwarded request or response when it
/// names a process of the sending node that has ended: the receiver treats it as a process that
/// is gone (`PeerGone`), not one that never was.
pub const ENDED_PID: u64 = 1 << 62;

/// One message between nodes. See the module docs.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum NodeMessage {
    /// Carry out `request` as the sender's process `origin`, which runs as `credentials` (as its
    /// own node verified them).
    Request {
        /// The process asking, on the sending node.
        origin: Pid,
        /// Who it runs as.
        credentials: Credentials,
        /// Its request id, echoed in the answer.
        id: u64,
        /// The request, its pids relative to the link.
        request: Request,
    },
    /// Withdraw request `id` of `origin`, if it still waits: its answer (a `Timeout`) follows
    /// as any answer does; nothing follows if it was already answered.
    Cancel {
        /// The process that asked, on the sending node.
        origin: Pid,
        /// Its request id.
        id: u64,
    },
    /// The answer to request `id` of the receiving node's process `origin`.
    Answer {
        /// The process that asked, on the receiving node.
        origin: Pid,
        /// Its request id.
        id: u64,
        /// The answer, its pids relative to the link.
        response: Response,
    },
    /// Request `id` of the receiving node's process `origin` was not carried out: answer it
    /// with this `Error`.
    Refused {
        /// The process that asked, on the receiving node.
        origin: Pid,
        /// Its request id.
        id: u64,
        /// Why, as a client `Error` code.
        code: ErrorCode,
        /// Why, in words (at most [`MAX_ERROR_MESSAGE_LEN`] bytes).
        message: String,
    },
    /// The sending node's process `pid` ended: its proxies end, after everything it sent.
    Ended {
        /// The process, on the sending node.
        pid: Pid,
    },
}

/// The fixed part of each message, before the operation's own bytes. Variant order is part of
/// the protocol: append only.
#[derive(Serialize, Deserialize)]
enum Header {
    Request {
        origin: u64,
        uid: u32,
        gid: u32,
        id: u64,
    },
    Cancel {
        origin: u64,
        id: u64,
    },
    Answer {
        origin: u64,
        id: u64,
    },
    Refused {
        origin: u64,
        id: u64,
        code: u16,
        message: String,
    },
    Ended {
        pid: u64,
    },
}

impl NodeMessage {
    /// The message's bytes, for [`Association::send`](crate::link::Association::send).
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::new();
        let header = match self {
            NodeMessage::Request {
                origin,
                credentials,
                id,
                ..
            } => Header::Request {
                origin: origin.as_raw(),
                uid: credentials.uid,
                gid: credentials.gid,
                id: *id,
            },
            NodeMessage::Cancel { origin, id } => Header::Cancel {
                origin: origin.as_raw(),
                id: *id,
            },
            NodeMessage::Answer { origin, id, .. } => Header::Answer {
                origin: origin.as_raw(),
                id: *id,
            },
            NodeMessage::Refused {
                origin,
                id,
                code,
                message,
            } => Header::Refused {
                origin: origin.as_raw(),
                id: *id,
                code: code.get(),
                message: truncated(message).to_owned(),
            },
            NodeMessage::Ended { pid } => Header::Ended { pid: pid.as_raw() },
        };
        // Serializing the header cannot fail: no maps, no unsupported types.
        if let Ok(bytes) = postcard::to_allocvec(&header) {
            out.extend_from_slice(&bytes);
        }
        match self {
            NodeMessage::Request { request, .. } => encode_request_into(request, &mut out),
            NodeMessage::Answer { response, .. } => encode_response_into(response, &mut out),
            _ => {}
        }
        out.freeze()
    }

    /// Decodes one message. Never panics; allocates no more than the bytes' length bounds.
    ///
    /// # Errors
    ///
    /// [`OperationError`] when `bytes` is not exactly one well-formed message.
    pub fn decode(bytes: &Bytes) -> Result<NodeMessage, OperationError> {
        let (header, rest) = postcard::take_from_bytes::<Header>(bytes).map_err(|error| {
            OperationError::Malformed {
                reason: error.to_string(),
            }
        })?;
        let body = bytes.slice(bytes.len() - rest.len()..);
        let none_left = |body: &Bytes| match body.len() {
            0 => Ok(()),
            count => Err(OperationError::TrailingBytes { count }),
        };
        Ok(match header {
            Header::Request {
                origin,
                uid,
                gid,
                id,
            } => NodeMessage::Request {
                origin: Pid::from_raw(origin),
                credentials: Credentials::new(uid, gid),
                id,
                request: decode_request_shared(&body)?,
            },
            Header::Cancel { origin, id } => {
                none_left(&body)?;
                NodeMessage::Cancel {
                    origin: Pid::from_raw(origin),
                    id,
                }
            }
            Header::Answer { origin, id } => NodeMessage::Answer {
                origin: Pid::from_raw(origin),
                id,
                response: decode_response_shared(&body)?,
            },
            Header::Refused {
                origin,
                id,
                code,
                message,
            } => {
                none_left(&body)?;
                NodeMessage::Refused {
                    origin: Pid::from_raw(origin),
                    id,
                    code: ErrorCode::new(code),
                    message,
                }
            }
            Header::Ended { pid } => {
                none_left(&body)?;
                NodeMessage::Ended {
                    pid: Pid::from_raw(pid),
                }
            }
        })
    }
}

/// `message` cut to at most [`MAX_ERROR_MESSAGE_LEN`] bytes, on a character boundary.
fn truncated(message: &str) -> &str {
    let mut end = message.len().min(MAX_ERROR_MESSAGE_LEN);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}

#[cfg(test)]
mod tests {
    use postbox_core::{Delivery, MailboxId, Message, Wait};

    use super::*;
    use crate::operation::Target;

    fn round_trip(message: NodeMessage) {
        let bytes = message.encode();
        assert_eq!(NodeMessage::decode(&bytes), Ok(message));
    }

    #[test]
    fn every_kind_round_trips() {
        let origin = Pid::from_raw(7);
        round_trip(NodeMessage::Request {
            origin,
            credentials: Credentials::new(1000, 100),
            id: 3,
            request: Request::Send {
                target: Target::Mailbox(MailboxId::from_raw(9)),
                message: Message::new(vec![7u8; 10_000]),
                delivery: Delivery::Queued,
                wait: Wait::Block,
            },
        });
        round_trip(NodeMessage::Cancel { origin, id: 3 });
        round_trip(NodeMessage::Answer {
            origin,
            id: 3,
            response: Response::Done,
        });
        round_trip(NodeMessage::Refused {
            origin,
            id: 3,
            code: ErrorCode::LIMIT_EXCEEDED,
            message: "too many".into(),
        });
        round_trip(NodeMessage::Ended { pid: origin });
    }

    #[test]
    fn garbage_and_trailing_bytes_are_errors_not_panics() {
        assert!(NodeMessage::decode(&Bytes::from_static(&[0xff; 12])).is_err());
        assert!(NodeMessage::decode(&Bytes::new()).is_err());
        let mut ended = NodeMessage::Ended {
            pid: Pid::from_raw(1),
        }
        .encode()
        .to_vec();
        ended.push(0);
        assert_eq!(
            NodeMessage::decode(&Bytes::from(ended)),
            Err(OperationError::TrailingBytes { count: 1 })
        );
        // A request header with a truncated request after it.
        let request = NodeMessage::Request {
            origin: Pid::from_raw(1),
            credentials: Credentials::new(1, 1),
            id: 1,
            request: Request::NodeStats,
        }
        .encode();
        assert!(NodeMessage::decode(&request.slice(..request.len() - 1)).is_err());
    }

    #[test]
    fn a_long_refusal_is_cut_on_a_character_boundary() {
        let message = "é".repeat(MAX_ERROR_MESSAGE_LEN);
        let bytes = NodeMessage::Refused {
            origin: Pid::from_raw(1),
            id: 1,
            code: ErrorCode::INTERNAL,
            message,
        }
        .encode();
        let Ok(NodeMessage::Refused { message, .. }) = NodeMessage::decode(&bytes) else {
            panic!("decodes");
        };
        assert!(message.len() <= MAX_ERROR_MESSAGE_LEN && message.starts_with('é'));
    }
}

//! Operations: what a process asks of the engine, and what it answers.
//!
//! These are the payloads of `Request` and `Response` frames, encoded with postcard (see
//! `docs/protocol.md` §7). They mirror the engine's operations one to one, so that every
//! transport — in-process or a daemon's socket — carries exactly the same requests and answers,
//! and errors are the same whatever the transport.

use bytes::{Bytes, BytesMut};
use postbox_core::{
    AdminError, Branch, CallError, CallId, Delivery, EngineStats, LeaseId, MailboxAttrs, MailboxId,
    MailboxStats, Message, Mode, OpenError, Owner, Pid, ProcessInfo, ProducerId, Received, Reply,
    ReplyError, SelectError, Selector, SendError, Settlement, Source, Wait,
};
use serde::{Deserialize, Serialize};

use crate::node_links::NodeLinks;

/// The most branches one select may have: a select is a handful of mailboxes, and the limit keeps
/// one request from making the engine register thousands of waiters.
pub const MAX_BRANCHES: usize = 64;

/// The most messages one `SendBatch` may carry or one `RecvMany` may take: enough to amortise a
/// request over many messages, few enough that one request never holds the engine for long.
pub const MAX_BATCH: usize = 1024;

/// What a `RecvMany` answer adds to each message's payload at most (sender, sequence number,
/// send time, type, priority, kind, length), for the byte budget of one answer.
pub const RECEIVED_OVERHEAD: usize = 64;

/// Where a send goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Target {
    /// The inbox of a process.
    Process(Pid),
    /// An open mailbox.
    Mailbox(MailboxId),
}

/// A request from a process to the engine. Variant order is part of the protocol: append only.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Request {
    /// Send a message.
    Send {
        /// Where to.
        target: Target,
        /// The message.
        message: Message,
        /// Done once queued, or once received.
        delivery: Delivery,
        /// Whether it may wait.
        wait: Wait,
    },
    /// Receive (one branch) or select (several).
    Recv {
        /// What to receive from, in order of preference.
        branches: Vec<Branch>,
        /// Whether it may wait.
        wait: Wait,
    },
    /// Create a mailbox.
    Create {
        /// Its name.
        name: String,
        /// Its attributes.
        attrs: MailboxAttrs,
    },
    /// Open an existing mailbox.
    Open {
        /// Its name.
        name: String,
    },
    /// Open a mailbox, creating it if needed.
    OpenOrCreate {
        /// Its name.
        name: String,
        /// Its attributes, if created.
        attrs: MailboxAttrs,
    },
    /// Close one handle.
    Close {
        /// The mailbox.
        mailbox: MailboxId,
    },
    /// Delete a mailbox.
    Delete {
        /// The mailbox.
        mailbox: MailboxId,
    },
    /// Change permission bits.
    SetMode {
        /// The mailbox.
        mailbox: MailboxId,
        /// The new bits.
        mode: Mode,
    },
    /// Change a bounded mailbox's byte limit.
    SetMaxBytes {
        /// The mailbox.
        mailbox: MailboxId,
        /// The new limit.
        bytes: u64,
    },
    /// Pass ownership on.
    SetOwner {
        /// The mailbox.
        mailbox: MailboxId,
        /// The new owner.
        owner: Owner,
    },
    /// Grant a receive right.
    GrantReceive {
        /// The mailbox.
        mailbox: MailboxId,
        /// Who gets it.
        grantee: Pid,
    },
    /// Revoke a receive right.
    RevokeReceive {
        /// The mailbox.
        mailbox: MailboxId,
        /// Who loses it.
        grantee: Pid,
    },
    /// A mailbox's statistics.
    Stat {
        /// The mailbox.
        mailbox: MailboxId,
    },
    /// Every visible mailbox's statistics.
    ListMailboxes,
    /// Register a name for the calling process.
    Register {
        /// The name.
        name: String,
    },
    /// Look a registered name up.
    Whereis {
        /// The name.
        name: String,
    },
    /// Monitor a process.
    Monitor {
        /// The process.
        target: Pid,
    },
    /// Stop monitoring a process.
    Demonitor {
        /// The process.
        target: Pid,
    },
    /// Every live process.
    ListProcesses,
    /// Node-wide statistics.
    NodeStats,
    /// Send several messages in order, each exactly as a `Send` with `Queued` delivery and
    /// this `wait` would be, one after another; the first that fails stops the batch. With
    /// `Wait::Block`, once one message must wait, it and every one after it wait in order.
    SendBatch {
        /// Where to.
        target: Target,
        /// The messages, in order (at most [`MAX_BATCH`]).
        messages: Vec<Message>,
        /// Whether messages may wait for room.
        wait: Wait,
    },
    /// Receive up to `max_messages` messages from one branch: the first as a `Recv` with `wait`,
    /// then as many more as are ready now (each a `Recv` with `Wait::Try`), while the answer
    /// stays within `max_bytes` of payload plus [`RECEIVED_OVERHEAD`] per message.
    RecvMany {
        /// What to receive from.
        branch: Branch,
        /// The most messages to take (1 to [`MAX_BATCH`]).
        max_messages: u32,
        /// The most payload bytes, with overhead, to take beyond the first message.
        max_bytes: u64,
        /// Whether the first may wait.
        wait: Wait,
    },
    /// Exactly as `RecvMany`, except that the messages are taken on lease: the mailbox keeps
    /// each until a `Settle` acknowledges or returns it, or the process closes the mailbox or
    /// ends (which returns it).
    Lease {
        /// What to receive from.
        branch: Branch,
        /// The most messages to take (1 to [`MAX_BATCH`]).
        max_messages: u32,
        /// The most payload bytes, with overhead, to take beyond the first message.
        max_bytes: u64,
        /// Whether the first may wait.
        wait: Wait,
    },
    /// Acknowledges or returns messages the process holds on lease from `source`, by sequence
    /// number and attempt; leases it does not hold are skipped.
    Settle {
        /// The mailbox (or inbox) they were leased from.
        source: Source,
        /// The leases (at most [`MAX_BATCH`]).
        leases: Vec<LeaseId>,
        /// Acknowledge or return.
        settlement: Settlement,
    },
    /// Copies of up to `max_messages` queued messages of `source` that `selector` matches, in
    /// the order receives would take them, without taking them (System V's `MSG_COPY`): the
    /// first one whatever its size, then more while their payloads plus [`RECEIVED_OVERHEAD`]
    /// each, the first's included, stay within `max_bytes` (as `RecvMany` counts). Needs the
    /// right to receive.
    Peek {
        /// The mailbox (or inbox) to look into.
        source: Source,
        /// Which messages to show.
        selector: Selector,
        /// The most messages to show (1 to [`MAX_BATCH`]).
        max_messages: u32,
        /// The most payload bytes, with overhead, to show (the first message is shown anyway).
        max_bytes: u64,
    },
    /// Drops every queued message of a mailbox (owner or uid 0 only).
    Purge {
        /// The mailbox.
        mailbox: MailboxId,
    },
    /// Sends `request` as a call's request and waits for its answer: `Replied` or `CallFailed`.
    /// `wait` is for the send phase only (`Try`: fail `Full` if it cannot be queued at once).
    Call {
        /// Where to: a process's inbox, or an open mailbox.
        target: Target,
        /// The request.
        request: Message,
        /// Whether the send phase may wait for room.
        wait: Wait,
    },
    /// Answers the request of `call`, which this process received: `Done` or `ReplyFailed`.
    Reply {
        /// The call, as the request's kind named it.
        call: CallId,
        /// The answer, or an application failure.
        reply: Reply,
    },
    /// This node and the nodes it links with (`postbox nodes`). Answered by the daemon, not the
    /// engine: `NodeLinks`.
    NodeLinks,
    /// A node-wide question put to another node (`postbox ls --node b`): answered there exactly
    /// as the plain request would be, or `AdminFailed(NotFound)` when no node of that name is
    /// linked with.
    AtNode {
        /// The node.
        node: String,
        /// The question.
        query: NodeQuery,
    },
    /// Send a message as [`Request::Send`] does, as send number `seq` of `producer`: a send
    /// the target accepted already under that producer and a number not below `seq` is
    /// dropped and answered as that one was (see `docs/semantics.md`, "Idempotent sends").
    /// Sent only on a connection granted
    /// [`Capabilities::IDEMPOTENT_SENDS`](crate::Capabilities::IDEMPOTENT_SENDS).
    ProducerSend {
        /// Where to.
        target: Target,
        /// The message.
        message: Message,
        /// Done once queued, or once received.
        delivery: Delivery,
        /// Whether it may wait.
        wait: Wait,
        /// Who sends.
        producer: ProducerId,
        /// This send's number among the producer's.
        seq: u64,
    },
    /// Lend `mailbox`'s queue to a shared-memory ring that this process uses directly
    /// (docs/shm.md, "Delegated mailboxes"): answered `RingLent(Some(..))` with the ring's
    /// descriptor beside the answer's frame, or `RingLent(None)` when the mailbox cannot be lent
    /// now. Sent only on a connection granted
    /// [`Capabilities::RINGS`](crate::Capabilities::RINGS).
    LendRing {
        /// The mailbox, opened by this process.
        mailbox: MailboxId,
    },
}

/// A node-wide question [`Request::AtNode`] puts to a node. Variant order is part of the
/// protocol: append only.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum NodeQuery {
    /// As [`Request::ListMailboxes`].
    ListMailboxes,
    /// As [`Request::ListProcesses`].
    ListProcesses,
    /// As [`Request::NodeStats`].
    NodeStats,
}

impl NodeQuery {
    /// The plain request this question is.
    pub fn request(self) -> Request {
        match self {
            NodeQuery::ListMailboxes => Request::ListMailboxes,
            NodeQuery::ListProcesses => Request::ListProcesses,
            NodeQuery::NodeStats => Request::NodeStats,
        }
    }
}

/// The engine's answer to one request. Variant order is part of the protocol: append only.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Response {
    /// A send completed; the receiver when known.
    Sent {
        /// Who took the message.
        receiver: Option<Pid>,
    },
    /// A send failed; the message is handed back inside.
    SendFailed(SendError),
    /// A receive got a message from this branch.
    Received {
        /// The branch index.
        branch: u32,
        /// The message.
        message: Received,
    },
    /// A receive failed.
    RecvFailed(SelectError),
    /// A mailbox was opened (and possibly created).
    Opened {
        /// Its id, for later requests.
        mailbox: MailboxId,
        /// Whether this request created it.
        created: bool,
    },
    /// Create/open failed.
    OpenFailed(OpenError),
    /// An administrative request succeeded.
    Done,
    /// An administrative request failed.
    AdminFailed(AdminError),
    /// A mailbox's statistics (boxed: the largest answer by far, and a rare one).
    Stat(Box<MailboxStats>),
    /// Every visible mailbox's statistics.
    Mailboxes(Vec<MailboxStats>),
    /// The pid a name is registered to.
    Whereis(Option<Pid>),
    /// Every live process.
    Processes(Vec<ProcessInfo>),
    /// Node-wide statistics.
    NodeStats(EngineStats),
    /// What a `SendBatch` did: how many messages were sent, and if one failed, why (with that
    /// message handed back) and the messages after it, unsent.
    SentBatch {
        /// Messages sent, from the first.
        sent: u32,
        /// The failure that stopped the batch, with its message.
        failed: Option<SendError>,
        /// The messages after the failed one, not attempted.
        unsent: Vec<Message>,
    },
    /// The messages a `RecvMany` or `Lease` took, in order (at least one).
    ReceivedMany(Vec<Received>),
    /// How many leased messages a `Settle` settled.
    Settled(u32),
    /// What a `Peek` saw, in receive order (possibly none).
    Peeked(Vec<Received>),
    /// How many messages a `Purge` dropped.
    Purged(u64),
    /// A call's answer.
    Replied(Message),
    /// A call failed; the request is handed back inside when no server took it.
    CallFailed(CallError),
    /// A `Reply` was refused.
    ReplyFailed(ReplyError),
    /// This node and the nodes it links with.
    NodeLinks(NodeLinks),
    /// The terms of a ring lent by `LendRing` (its descriptor travels beside this frame), or
    /// `None`: not lent now, use the daemon.
    RingLent(Option<RingTerms>),
}

/// What a process may do with a ring lent to it, and how its messages are numbered: a
/// [`Delegation`](postbox_core::Delegation) as it concerns one process.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RingTerms {
    /// Whether this process may push (send).
    pub may_send: bool,
    /// Whether this process may pop (receive).
    pub may_receive: bool,
    /// The payload size rule: a message it breaks goes to the daemon, which refuses it.
    pub size: postbox_core::MessageSize,
    /// The daemon's payload limit.
    pub max_message_size: u64,
    /// The sequence number of the message at ring position 0.
    pub first_seq: u64,
}

/// Why an operation payload could not be decoded: the peer is broken or hostile.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum OperationError {
    /// The payload is not a well-formed request or response.
    #[error("malformed operation payload: {reason}")]
    Malformed {
        /// What the decoder found wrong.
        reason: String,
    },
    /// The payload has bytes after its one request or response.
    #[error("{count} unexpected bytes after the operation payload")]
    TrailingBytes {
        /// How many bytes were left over.
        count: usize,
    },
}

/// Encodes a request as a frame payload.
pub fn encode_request(request: &Request) -> Bytes {
    encode(request)
}

/// Encodes a response as a frame payload.
pub fn encode_response(response: &Response) -> Bytes {
    encode(response)
}

/// Appends a request's encoding to `dst` (with [`crate::FrameEncoder::encode_with`], a frame's
/// payload written in place): the same bytes as [`encode_request`].
pub fn encode_request_into(request: &Request, dst: &mut BytesMut) {
    encode_into(request, dst);
}

/// Appends a response's encoding to `dst`: the same bytes as [`encode_response`].
pub fn encode_response_into(response: &Response, dst: &mut BytesMut) {
    encode_into(response, dst);
}

/// postcard output straight into a `BytesMut`, payload bytes copied in one go.
struct Append<'a>(&'a mut BytesMut);

impl postcard::ser_flavors::Flavor for Append<'_> {
    type Output = ();

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.extend_from_slice(&[byte]);
        Ok(())
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

fn encode_into<T: Serialize>(value: &T, dst: &mut BytesMut) {
    let start = dst.len();
    // Serializing these types cannot fail (no maps, no unsupported types); if it ever did, the
    // partial output is taken back and the payload is empty, as `encode` gives.
    if postcard::serialize_with_flavor(value, Append(dst)).is_err() {
        dst.truncate(start);
    }
}

fn encode<T: Serialize>(value: &T) -> Bytes {
    // Serializing these types into a Vec cannot fail: no maps, no unsupported types.
    postcard::to_allocvec(value)
        .map(Bytes::from)
        .unwrap_or_default()
}

/// Decodes a request payload. Never panics; never allocates beyond what the payload's length
/// bounds (the frame limit was checked before the payload was read).
///
/// # Errors
///
/// [`OperationError`] when the payload is not exactly one well-formed request.
pub fn decode_request(payload: &[u8]) -> Result<Request, OperationError> {
    decode(payload)
}

/// Decodes a response payload.
///
/// # Errors
///
/// [`OperationError`] when the payload is not exactly one well-formed response.
pub fn decode_response(payload: &[u8]) -> Result<Response, OperationError> {
    decode(payload)
}

/// Decodes exactly one value from `payload`: trailing bytes are an error, as is anything
/// malformed.
pub(crate) fn decode<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, OperationError> {
    match postcard::take_from_bytes(payload) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(OperationError::TrailingBytes { count: rest.len() }),
        Err(error) => Err(OperationError::Malformed {
            reason: error.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use postbox_core::{Message, Wait};

    use super::*;

    /// Pins the example in docs/protocol.md §7 byte for byte.
    #[test]
    fn the_documented_example_encodes_as_documented() {
        let request = Request::Send {
            target: Target::Mailbox(MailboxId::from_raw(7)),
            message: Message::new("hi"),
            delivery: Delivery::Queued,
            wait: Wait::Block,
        };
        let bytes = encode_request(&request);
        assert_eq!(
            bytes.as_ref(),
            [0x00, 0x01, 0x07, 0x02, b'h', b'i', 0x02, 0x00, 0x00, 0x01]
        );
        assert_eq!(decode_request(&bytes), Ok(request));
    }

    #[test]
    fn trailing_bytes_and_garbage_are_errors_not_panics() {
        let mut bytes = encode_request(&Request::NodeStats).to_vec();
        bytes.push(0);
        assert_eq!(
            decode_request(&bytes),
            Err(OperationError::TrailingBytes { count: 1 })
        );
        assert!(matches!(
            decode_request(&[0xff; 9]),
            Err(OperationError::Malformed { .. })
        ));
        assert!(matches!(
            decode_response(&[]),
            Err(OperationError::Malformed { .. })
        ));
    }
}

//! Model-based property test of the engine.
//!
//! Random sequences of operations by several processes run against the real [`Engine`] and
//! against a deliberately plain reference model written in this file from docs/semantics.md and the
//! engine's docs: plain `Vec`s, linear scans, and every ordering rule spelled out as a sort key.
//! After every step the two must agree on the immediate result (including errors and handed-back
//! messages), on the completions each ticket received (compared per ticket), on which tickets
//! still wait, on engine-wide and per-mailbox statistics, and on message conservation: every
//! accepted message is received, dropped, queued, or discarded by a delete or a termination
//! (cancelled sends no longer count as accepted). Each case ends by deleting every mailbox and
//! terminating every process, after which nothing may be queued or waiting.
//!
//! Covered: 3-4 processes under two uids and two gids, their inboxes (a small capacity, so
//! direct senders block too), and 1-3 named mailboxes (re-created under reused names) with random
//! capacity (zero, bounded in messages and bytes, unbounded), size rule (variable, fixed), order
//! (fifo, priority), overflow (block, drop-oldest where valid), ownership (process, system),
//! receivers (owner, exclusive, shared round-robin and first-waiting, pair, broadcast) and mode.
//! Broadcast mailboxes keep one backlog per member (a process joins with its first receive) and a
//! record per message whose sender awaits it; conservation counts each member's copy. Operations:
//! `send` and `send_to` with `Wait::Try`/`Wait::Block` and `Delivery::Queued`/`Delivery::Receipt`
//! (including oversized, wrongly sized and invalid-type messages), `recv` with every selector and
//! both waits, two-branch selects over inboxes and mailboxes, `cancel` of any ticket ever issued,
//! `open`, `close`, `delete`, `create`, `terminate` and `monitor`, calls to mailboxes and
//! processes (both waits; no responders; requests blocked, queued, taken, withdrawn by `cancel`
//! or termination, failed with their mailbox) and answers to them (by the holder or a stranger,
//! answers and failures, oversized and invalid ones, after a revocation: late replies counted),
//! plus the engine-wide queued-bytes quota.
//!
//! Left out: `set_mode`, `set_max_bytes`, `set_owner`, `grant_receive`/`revoke_receive`,
//! `register`/`whereis`, `demonitor`, `open_or_create`, `list`/`lookup`, invalid names and
//! attributes, root callers (a root observer only reads statistics and tears down), the per-uid
//! mailbox quota, and timestamps beyond send times and the last sender and receiver.
//!
//! 3,000 cases by default (a few seconds in debug); `MODEL_CASES=n` runs more. The regression
//! scenarios at the end replay, through the same harness, the engine bugs this model exposed.

use std::cmp::Reverse;
use std::time::Duration;

use postbox_core::{
    AdminError, Branch, CallError, CallErrorKind, CallId, Cancelled, Capacity, Change, Completion,
    Credentials, Delivery, Dispatch, Durability, Engine, EngineStats, LeaseId, Limits,
    MESSAGE_CHARGE, MailboxAttrs, MailboxId, Message, MessageKind, MessageSize, Mode, OpenError,
    Order, Overflow, Owner, Ownership, Pid, ProducerId, ProducerSeq, Received, Receivers,
    RecvError, RecvOutcome, Redelivery, Reply, ReplyError, SelectError, Selector, SendError,
    SendErrorKind, SendOutcome, Settlement, Source, StoredMessage, Ticket, Timestamp, Wait,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

const MAX_MESSAGE_SIZE: usize = 8;
const INBOX_CAPACITY: usize = 2;
/// Room for three messages and 20 payload bytes: each message is charged its payload plus
/// `MESSAGE_CHARGE`, so both the count of small messages and the bytes of large ones bind.
const MAX_QUEUED_BYTES: usize = 3 * MESSAGE_CHARGE + 20;
const NAMES: [&str; 3] = ["mb0", "mb1", "mb2"];

fn limits() -> Limits {
    Limits {
        max_message_size: MAX_MESSAGE_SIZE,
        inbox_capacity: INBOX_CAPACITY,
        max_queued_bytes: MAX_QUEUED_BYTES,
        max_mailboxes_per_uid: 64,
    }
}

// ---------------------------------------------------------------------------------------------
// The reference model
// ---------------------------------------------------------------------------------------------

/// A send's immediate result, with tickets as plain numbers (the model cannot make a `Ticket`).
#[derive(Clone, PartialEq, Eq, Debug)]
enum Sent {
    Done(Option<Pid>),
    Waits(u64),
}

/// A receive's immediate result, with tickets as plain numbers.
#[derive(Clone, PartialEq, Eq, Debug)]
enum Got {
    Message(usize, Received),
    Waits(u64),
}

/// One end of a pair mailbox.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum End {
    Vacant,
    Held(u64),
    Departed,
}

/// A message accepted into a mailbox.
#[derive(Clone, Debug)]
struct Queued {
    message: Message,
    sender: u64,
    seq: u64,
    sent_at: u64,
    /// The ticket of a sender waiting for this message's receipt.
    receipt: Option<u64>,
    kind: MessageKind,
    /// Times handed out on lease and come back.
    deliveries: u32,
}

/// A message on lease.
#[derive(Clone, Debug)]
struct ModelLease {
    holder: u64,
    q: Queued,
    /// When it ends by itself, if the mailbox has a lease time.
    expires: Option<u64>,
}

/// A broadcast message whose sender waits until no member's backlog holds it.
#[derive(Clone, Debug)]
struct Awaited {
    seq: u64,
    ticket: u64,
    sender: u64,
    message: Message,
    /// Whether some member lost its copy (drop-oldest).
    dropped: bool,
}

/// Whether one more message of `len` bytes fits in `queue` under `capacity`.
fn fits(queue: &[Queued], capacity: Capacity, len: usize) -> bool {
    match capacity {
        Capacity::Zero => false,
        Capacity::Unbounded => true,
        Capacity::Bounded { messages, bytes } => {
            queue.len() < messages
                && queue.iter().map(|q| q.message.len()).sum::<usize>() + len <= bytes
        }
    }
}

/// A sender waiting for room (or, with zero capacity, for a receiver).
#[derive(Clone, Debug)]
struct BlockedSender {
    ticket: u64,
    sender: u64,
    message: Message,
    sent_at: u64,
    wants_receipt: bool,
    /// The call whose request this is, if it is one (its ticket is the call's).
    call: Option<u64>,
    /// An idempotent send's producer and number, recorded when it is accepted.
    stamp: Option<(u64, u64)>,
}

/// A call the engine still knows: waiting for its answer, or held with a revoked right.
#[derive(Clone, Debug)]
struct ModelCall {
    id: u64,
    /// The caller's ticket; `None` once it stopped waiting.
    ticket: Option<u64>,
    /// Who took the request.
    holder: Option<u64>,
}

/// One branch of a waiting receive.
#[derive(Clone, Copy, Debug)]
struct Waiting {
    ticket: u64,
    pid: u64,
    selector: Selector,
    branch: usize,
    /// A lease: the message it gets stays with the mailbox until settled.
    leased: bool,
}

/// A mailbox or an inbox (`name == None`).
#[derive(Clone, Debug)]
struct ModelBox {
    name: Option<&'static str>,
    attrs: MailboxAttrs,
    owner: Owner,
    owner_creds: Credentials,
    alive: bool,
    /// In arrival order; receive order is computed when receiving.
    queue: Vec<Queued>,
    senders: Vec<BlockedSender>,
    receivers: Vec<Waiting>,
    /// Messages on lease.
    leases: Vec<ModelLease>,
    /// Open handles per process.
    opens: Vec<(u64, usize)>,
    exclusive: Option<u64>,
    pair_sender: End,
    pair_receiver: End,
    next_seq: u64,
    last_served: Option<u64>,
    /// Broadcast: each member's backlog, by pid.
    members: std::collections::BTreeMap<u64, Vec<Queued>>,
    /// Broadcast: messages whose senders await them.
    awaited: Vec<Awaited>,
    sent: u64,
    received: u64,
    dropped: u64,
    dead_lettered: u64,
    /// Idempotent senders: the highest number accepted, and the receiver it was answered with.
    producers: std::collections::BTreeMap<u64, (u64, Option<u64>)>,
    duplicates_dropped: u64,
    last_send: Option<(u64, u64)>,
    last_recv: Option<(u64, u64)>,
    created: u64,
}

impl ModelBox {
    fn new(
        name: Option<&'static str>,
        attrs: MailboxAttrs,
        owner: Owner,
        owner_creds: Credentials,
        created: u64,
    ) -> ModelBox {
        ModelBox {
            name,
            attrs,
            owner,
            owner_creds,
            alive: true,
            queue: Vec::new(),
            senders: Vec::new(),
            receivers: Vec::new(),
            leases: Vec::new(),
            opens: Vec::new(),
            exclusive: None,
            pair_sender: End::Vacant,
            pair_receiver: End::Vacant,
            next_seq: 0,
            last_served: None,
            members: std::collections::BTreeMap::new(),
            awaited: Vec::new(),
            sent: 0,
            received: 0,
            dropped: 0,
            dead_lettered: 0,
            producers: std::collections::BTreeMap::new(),
            duplicates_dropped: 0,
            last_send: None,
            last_recv: None,
            created,
        }
    }

    fn opens_of(&self, pid: u64) -> usize {
        self.opens
            .iter()
            .find(|(p, _)| *p == pid)
            .map_or(0, |(_, n)| *n)
    }

    fn bytes(&self) -> usize {
        self.queue.iter().map(|q| q.message.len()).sum()
    }

    fn is_broadcast(&self) -> bool {
        self.attrs.receivers == Receivers::Broadcast
    }

    /// Every member's copy.
    fn copies(&self) -> impl Iterator<Item = &Queued> + '_ {
        self.members.values().flatten()
    }

    /// Distinct messages some backlog holds, and their bytes (each once).
    fn owed(&self) -> (usize, usize) {
        let mut seen = std::collections::BTreeMap::new();
        for q in self.copies() {
            seen.insert(q.seq, q.message.len());
        }
        (seen.len(), seen.values().sum())
    }

    fn has_room_for(&self, len: usize) -> bool {
        if self.is_broadcast() {
            return self
                .members
                .values()
                .all(|b| fits(b, self.attrs.capacity, len));
        }
        match self.attrs.capacity {
            Capacity::Zero => false,
            Capacity::Unbounded => true,
            Capacity::Bounded { messages, bytes } => {
                self.queue.len() < messages && self.bytes() + len <= bytes
            }
        }
    }
}

#[derive(Clone, Debug)]
struct ModelProc {
    creds: Credentials,
    alive: bool,
    inbox: u64,
    /// Processes to tell when this one terminates.
    watchers: Vec<u64>,
}

/// The reference model. Pid `p` is `procs[p - 1]`, mailbox id `m` is `boxes[m - 1]` (inboxes and
/// named mailboxes share one id space, as in the engine); tickets are numbered from 1.
#[derive(Clone, Debug, Default)]
struct Model {
    procs: Vec<ModelProc>,
    boxes: Vec<ModelBox>,
    next_ticket: u64,
    completions: Vec<(u64, Completion)>,
    total_sent: u64,
    total_received: u64,
    total_dropped: u64,
    total_dead_lettered: u64,
    /// Accepted messages thrown away by a delete or a termination (some handed back to a sender
    /// awaiting their receipt).
    discarded: u64,
    calls: Vec<ModelCall>,
    /// Every call ever made, to its caller.
    call_callers: std::collections::BTreeMap<u64, u64>,
    next_call: u64,
    late_replies: u64,
    /// Broadcast copies beyond the first of each message: each is received, dropped or
    /// discarded on its own.
    fanned: u64,
}

/// The kind of a message: a user message, or the request of call `call`.
fn kind_of(call: Option<u64>) -> MessageKind {
    match call {
        Some(call) => MessageKind::Request(CallId::from_raw(call)),
        None => MessageKind::User,
    }
}

/// Whether a message of `mtype` from `sender` is one `selector` may take.
fn selects(selector: Selector, mtype: i64, sender: u64) -> bool {
    match selector {
        Selector::Any => true,
        Selector::Type(t) => mtype == t,
        Selector::NotType(t) => mtype != t,
        Selector::TypeAtMost(t) => mtype <= t,
        Selector::From(pid) => pid.as_raw() == sender,
    }
}

/// Which of `items` a receive with `selector` takes: among the matching ones, for `TypeAtMost` the
/// lowest type first; then receive order: highest priority first in a priority mailbox, then the
/// oldest (`age` is the sequence number of a queued message, the ticket of a waiting sender).
fn take_index<T>(
    items: &[T],
    order: Order,
    selector: Selector,
    describe: impl Fn(&T) -> (i64, u64, u16, u64),
) -> Option<usize> {
    items
        .iter()
        .enumerate()
        .filter(|(_, item)| {
            let (mtype, sender, _, _) = describe(item);
            selects(selector, mtype, sender)
        })
        .min_by_key(|(_, item)| {
            let (mtype, _, priority, age) = describe(item);
            let lowest_type = match selector {
                Selector::TypeAtMost(_) => mtype,
                _ => 0,
            };
            let priority = match order {
                Order::Priority => Reverse(priority),
                Order::Fifo => Reverse(0),
            };
            (lowest_type, priority, age)
        })
        .map(|(index, _)| index)
}

fn mode_allows(mode: Mode, who: Credentials, owner: Credentials, want: u16) -> bool {
    if who.uid == 0 {
        return true;
    }
    let shift = if who.uid == owner.uid {
        6
    } else if who.gid == owner.gid {
        3
    } else {
        0
    };
    (mode.bits() >> shift) & want == want
}

/// The owner (for delete): the owning process, any process of the owning uid, or root.
fn owns(b: &ModelBox, pid: u64, creds: Credentials) -> bool {
    creds.uid == 0
        || match b.owner {
            Owner::Process(owner) => owner.as_raw() == pid,
            Owner::System(owner) => owner.uid == creds.uid,
        }
}

fn inbox_attrs() -> MailboxAttrs {
    MailboxAttrs {
        capacity: Capacity::bounded(INBOX_CAPACITY, MAX_QUEUED_BYTES),
        size: MessageSize::Variable(MAX_MESSAGE_SIZE),
        order: Order::Fifo,
        overflow: Overflow::Block,
        ownership: Ownership::Process,
        receivers: Receivers::Owner,
        mode: Mode::new(0o622),
        redelivery: Redelivery::default(),
        durability: Durability::Memory,
    }
}

fn pid(raw: u64) -> Pid {
    Pid::from_raw(raw)
}

fn ts(nanos: u64) -> Timestamp {
    Timestamp::from_nanos(nanos)
}

impl Model {
    fn new() -> Model {
        Model {
            next_ticket: 1,
            next_call: 1,
            ..Model::default()
        }
    }

    // --- lookups ---

    fn live(&self, p: u64) -> Option<&ModelProc> {
        let index = usize::try_from(p).ok()?.checked_sub(1)?;
        self.procs.get(index).filter(|proc_| proc_.alive)
    }

    fn has_terminated(&self, p: u64) -> bool {
        p >= 1 && p <= self.procs.len() as u64 && !self.procs[p as usize - 1].alive
    }

    fn bx(&self, id: u64) -> &ModelBox {
        &self.boxes[id as usize - 1]
    }

    fn bx_mut(&mut self, id: u64) -> &mut ModelBox {
        &mut self.boxes[id as usize - 1]
    }

    fn box_alive(&self, id: u64) -> bool {
        id >= 1 && id <= self.boxes.len() as u64 && self.bx(id).alive
    }

    fn alive_ids(&self) -> Vec<u64> {
        (1..=self.boxes.len() as u64)
            .filter(|&id| self.bx(id).alive)
            .collect()
    }

    fn queued_messages(&self) -> usize {
        self.boxes
            .iter()
            .filter(|b| b.alive)
            .map(|b| b.queue.len() + b.copies().count())
            .sum()
    }

    fn queued_bytes(&self) -> usize {
        self.boxes
            .iter()
            .filter(|b| b.alive)
            .map(|b| b.bytes() + b.copies().map(|q| q.message.len()).sum::<usize>())
            .sum()
    }

    /// What the quota counts: every message held, queued or by a waiting sender, its payload
    /// plus `MESSAGE_CHARGE`.
    fn charged(&self) -> usize {
        let charge = |message: &Message| message.len() + MESSAGE_CHARGE;
        self.boxes
            .iter()
            .filter(|b| b.alive)
            .map(|b| {
                b.queue.iter().map(|q| charge(&q.message)).sum::<usize>()
                    + b.copies().map(|q| charge(&q.message)).sum::<usize>()
                    + b.senders.iter().map(|s| charge(&s.message)).sum::<usize>()
                    + b.leases
                        .iter()
                        .map(|lease| charge(&lease.q.message))
                        .sum::<usize>()
            })
            .sum()
    }

    fn recv_waiting(&self, ticket: u64) -> bool {
        self.boxes
            .iter()
            .filter(|b| b.alive)
            .any(|b| b.receivers.iter().any(|w| w.ticket == ticket))
    }

    fn is_waiting(&self, ticket: u64) -> bool {
        self.recv_waiting(ticket)
            || self.calls.iter().any(|c| c.ticket == Some(ticket))
            || self.boxes.iter().filter(|b| b.alive).any(|b| {
                b.senders.iter().any(|s| s.ticket == ticket)
                    || b.queue.iter().any(|q| q.receipt == Some(ticket))
                    || b.awaited.iter().any(|a| a.ticket == ticket)
            })
    }

    /// The distinct waiting tickets of `p`.
    fn waiting_of(&self, p: u64) -> usize {
        let mut tickets = Vec::new();
        for b in self.boxes.iter().filter(|b| b.alive) {
            tickets.extend(b.receivers.iter().filter(|w| w.pid == p).map(|w| w.ticket));
            tickets.extend(b.senders.iter().filter(|s| s.sender == p).map(|s| s.ticket));
            tickets.extend(
                b.queue
                    .iter()
                    .filter(|q| q.sender == p)
                    .filter_map(|q| q.receipt),
            );
            tickets.extend(b.awaited.iter().filter(|a| a.sender == p).map(|a| a.ticket));
        }
        // A call waits for its answer from its send on, whoever holds its request.
        let held = self.calls.iter().filter(|c| c.holder.is_some());
        for call in held {
            let Some(ticket) = call.ticket else { continue };
            let caller = self.call_callers.get(&call.id).copied();
            if caller == Some(p) {
                tickets.push(ticket);
            }
        }
        tickets.sort_unstable();
        tickets.dedup();
        tickets.len()
    }

    fn new_ticket(&mut self) -> u64 {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        ticket
    }

    fn complete(&mut self, ticket: u64, completion: Completion) {
        self.completions.push((ticket, completion));
    }

    // --- the moves every operation is made of ---

    /// A message enters `id`: it gets the next sequence number and counts as sent.
    fn accept(
        &mut self,
        id: u64,
        sender: u64,
        message: Message,
        sent_at: u64,
        receipt: Option<u64>,
        kind: MessageKind,
    ) -> Queued {
        let b = self.bx_mut(id);
        let seq = b.next_seq;
        b.next_seq += 1;
        b.sent += 1;
        b.last_send = Some((sender, sent_at));
        self.total_sent += 1;
        Queued {
            message,
            sender,
            seq,
            sent_at,
            receipt,
            kind,
            deliveries: 0,
        }
    }

    /// A message leaves `id` for `receiver`; a sender awaiting its receipt learns who took it. A
    /// leased user message stays with the mailbox too.
    fn hand_over(
        &mut self,
        id: u64,
        receiver: u64,
        mut q: Queued,
        now: u64,
        leased: bool,
    ) -> Received {
        q.deliveries += 1;
        let b = self.bx_mut(id);
        b.received += 1;
        b.last_recv = Some((receiver, now));
        b.last_served = Some(receiver);
        self.total_received += 1;
        if let Some(ticket) = q.receipt {
            self.taken(ticket, receiver);
        }
        let received = Received {
            message: q.message.clone(),
            sender: pid(q.sender),
            seq: q.seq,
            sent_at: ts(q.sent_at),
            kind: q.kind,
            attempt: q.deliveries,
        };
        let rendezvous = self.bx(id).attrs.capacity == Capacity::Zero;
        if leased && q.kind == MessageKind::User && !rendezvous {
            let b = self.bx_mut(id);
            let expires = b
                .attrs
                .redelivery
                .lease_time
                .map(|t| now + t.as_nanos() as u64);
            let q = Queued { receipt: None, ..q };
            b.leases.push(ModelLease {
                holder: receiver,
                q,
                expires,
            });
        }
        received
    }

    /// The waiting receiver of `id` that gets a message of `mtype` from `sender`: the
    /// longest-waiting matching one, except that round-robin first picks the process: the next pid
    /// after the last one served (wrapping around), once some process has been served.
    fn choose_receiver(&self, id: u64, mtype: i64, sender: u64) -> Option<Waiting> {
        let b = self.bx(id);
        let matching: Vec<Waiting> = b
            .receivers
            .iter()
            .filter(|w| selects(w.selector, mtype, sender))
            .copied()
            .collect();
        let longest_waiting = |only: Option<u64>| {
            matching
                .iter()
                .filter(|w| only.is_none_or(|p| w.pid == p))
                .min_by_key(|w| (w.ticket, w.branch))
                .copied()
        };
        match (b.attrs.receivers, b.last_served) {
            (Receivers::Shared(Dispatch::RoundRobin), Some(last)) => {
                let mut pids: Vec<u64> = matching.iter().map(|w| w.pid).collect();
                pids.sort_unstable();
                pids.dedup();
                let next = pids.iter().find(|&&p| p > last).or(pids.first())?;
                longest_waiting(Some(*next))
            }
            _ => longest_waiting(None),
        }
    }

    fn forget_recv(&mut self, ticket: u64) {
        for b in &mut self.boxes {
            b.receivers.retain(|w| w.ticket != ticket);
        }
    }

    fn fail_recv(&mut self, ticket: u64, branch: usize, error: RecvError) {
        if self.recv_waiting(ticket) {
            self.forget_recv(ticket);
            self.complete(
                ticket,
                Completion::RecvFailed(SelectError { branch, error }),
            );
        }
    }

    fn deliver(&mut self, id: u64, w: Waiting, q: Queued, now: u64) {
        self.forget_recv(w.ticket);
        let message = self.hand_over(id, w.pid, q, now, w.leased);
        self.complete(
            w.ticket,
            Completion::Received {
                branch: w.branch,
                message,
            },
        );
    }

    fn offer_or_queue(&mut self, id: u64, q: Queued, now: u64) {
        match self.choose_receiver(id, q.message.mtype, q.sender) {
            Some(w) => self.deliver(id, w, q, now),
            None => self.bx_mut(id).queue.push(q),
        }
    }

    /// Lets waiting senders in, longest-waiting first, while the first of them fits.
    fn admit(&mut self, id: u64, now: u64) {
        loop {
            let b = self.bx(id);
            if !b.alive || b.attrs.capacity == Capacity::Zero {
                return;
            }
            let Some(head) = (0..b.senders.len()).min_by_key(|&i| b.senders[i].ticket) else {
                return;
            };
            if !b.has_room_for(b.senders[head].message.len()) {
                return;
            }
            // Charged since it began to wait: admitting it changes nothing in the quota.
            let s = self.bx_mut(id).senders.remove(head);
            self.record_producer(id, s.stamp, None);
            if self.bx(id).is_broadcast() {
                let q = self.accept(id, s.sender, s.message, s.sent_at, None, MessageKind::User);
                if self.fan_out(id, q, s.wants_receipt, Some(s.ticket), now) == Sent::Done(None) {
                    self.complete(s.ticket, Completion::Sent { receiver: None });
                }
                continue;
            }
            let receipt = s.wants_receipt.then_some(s.ticket);
            let q = self.accept(id, s.sender, s.message, s.sent_at, receipt, kind_of(s.call));
            if !s.wants_receipt {
                self.complete(s.ticket, Completion::Sent { receiver: None });
            }
            self.offer_or_queue(id, q, now);
        }
    }

    /// Deletes `id`: waiting receivers get `recv_error`; waiting senders and senders awaiting a
    /// receipt get `send_error` with their message; every queued message is discarded.
    fn destroy(&mut self, id: u64, send_error: SendErrorKind, recv_error: RecvError) {
        let b = self.bx_mut(id);
        let copies = std::mem::take(&mut b.members)
            .into_values()
            .flatten()
            .count();
        let mut awaited = std::mem::take(&mut b.awaited);
        self.discarded += copies as u64;
        awaited.sort_by_key(|a| a.seq);
        for a in awaited {
            self.fail_sender(a.ticket, send_error, a.message);
        }
        let mut receivers = self.bx(id).receivers.clone();
        receivers.sort_by_key(|w| (w.ticket, w.branch));
        for w in receivers {
            self.fail_recv(w.ticket, w.branch, recv_error);
        }
        let b = self.bx_mut(id);
        b.alive = false;
        b.opens.clear();
        let mut senders = std::mem::take(&mut b.senders);
        let queue = std::mem::take(&mut b.queue);
        b.leases.clear();
        senders.sort_by_key(|s| s.ticket);
        for s in senders {
            self.fail_sender(s.ticket, send_error, s.message);
        }
        for q in queue {
            self.discarded += 1;
            if let Some(ticket) = q.receipt {
                self.fail_sender(ticket, send_error, q.message);
            }
        }
    }

    /// `p` no longer has `id` open.
    fn release(&mut self, p: u64, id: u64, now: u64) {
        let b = self.bx_mut(id);
        b.opens.retain(|(holder, _)| *holder != p);
        if b.exclusive == Some(p) {
            b.exclusive = None;
        }
        let sender_left = b.pair_sender == End::Held(p);
        if sender_left {
            b.pair_sender = End::Departed;
        }
        let receiver_left = b.pair_receiver == End::Held(p);
        if receiver_left {
            b.pair_receiver = End::Departed;
        }
        // Its own waiting operations there fail with `Gone`.
        let mut own: Vec<Waiting> = b.receivers.iter().filter(|w| w.pid == p).copied().collect();
        own.sort_by_key(|w| (w.ticket, w.branch));
        for w in own {
            self.fail_recv(w.ticket, w.branch, RecvError::Gone);
        }
        self.fail_senders(id, |s| s.sender == p, SendErrorKind::Gone);
        // A broadcast member's backlog is released, as if taken.
        if let Some(backlog) = self.bx_mut(id).members.remove(&p) {
            for q in backlog {
                self.discarded += 1;
                self.copy_gone(id, q.seq, false);
            }
        }
        // The room its senders held goes to the next waiting senders.
        self.admit(id, now);
        // What it holds on lease goes back.
        let b = self.bx_mut(id);
        let (returned, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut b.leases)
            .into_iter()
            .partition(|lease| lease.holder == p);
        b.leases = kept;
        self.put_back(id, returned.into_iter().map(|lease| lease.q).collect(), now);
        if sender_left && self.bx(id).senders.is_empty() {
            let mut all = self.bx(id).receivers.clone();
            all.sort_by_key(|w| (w.ticket, w.branch));
            for w in all {
                self.fail_recv(w.ticket, w.branch, RecvError::PeerGone);
            }
        }
        if receiver_left {
            self.fail_senders(id, |_| true, SendErrorKind::PeerGone);
            let b = self.bx_mut(id);
            let (withdrawn, kept): (Vec<Queued>, Vec<Queued>) = std::mem::take(&mut b.queue)
                .into_iter()
                .partition(|q| q.receipt.is_some());
            b.queue = kept;
            for q in withdrawn {
                // Withdrawn and handed back: it no longer counts as sent.
                self.bx_mut(id).sent -= 1;
                self.total_sent -= 1;
                let ticket = q.receipt.expect("partitioned");
                self.fail_sender(ticket, SendErrorKind::PeerGone, q.message);
            }
        }
    }

    fn fail_senders(
        &mut self,
        id: u64,
        which: impl Fn(&BlockedSender) -> bool,
        kind: SendErrorKind,
    ) {
        let b = self.bx_mut(id);
        let (mut failed, kept): (Vec<BlockedSender>, Vec<BlockedSender>) =
            std::mem::take(&mut b.senders).into_iter().partition(which);
        b.senders = kept;
        failed.sort_by_key(|s| s.ticket);
        for s in failed {
            self.fail_sender(s.ticket, kind, s.message);
        }
    }

    /// The message a sender waits on (blocked, or awaiting a receipt or an answer) will never be
    /// taken: its send or call fails with `kind`, the message handed back.
    fn fail_sender(&mut self, ticket: u64, kind: SendErrorKind, message: Message) {
        match self.calls.iter().position(|c| c.ticket == Some(ticket)) {
            Some(i) => {
                self.calls.remove(i);
                let error = CallError::new(kind.into(), message);
                self.complete(ticket, Completion::CallFailed(error));
            }
            None => {
                let error = SendError::new(kind, message);
                self.complete(ticket, Completion::SendFailed(error));
            }
        }
    }

    /// The message whose sender waits under `ticket` was taken by `receiver`: a receipt
    /// completes; a call's request is held, with its reply right.
    fn taken(&mut self, ticket: u64, receiver: u64) {
        match self.calls.iter_mut().find(|c| c.ticket == Some(ticket)) {
            Some(call) => call.holder = Some(receiver),
            None => self.complete(
                ticket,
                Completion::Sent {
                    receiver: Some(pid(receiver)),
                },
            ),
        }
    }

    fn deliver_down(&mut self, watcher: u64, dead: u64, now: u64) {
        let inbox = self.procs[watcher as usize - 1].inbox;
        let q = self.accept(
            inbox,
            dead,
            Message::new(Vec::new()),
            now,
            None,
            MessageKind::Down,
        );
        self.offer_or_queue(inbox, q, now);
    }

    // --- operations ---

    fn spawn(&mut self, creds: Credentials) -> u64 {
        let p = self.procs.len() as u64 + 1;
        let inbox = self.boxes.len() as u64 + 1;
        self.boxes.push(ModelBox::new(
            None,
            inbox_attrs(),
            Owner::Process(pid(p)),
            creds,
            0,
        ));
        self.procs.push(ModelProc {
            creds,
            alive: true,
            inbox,
            watchers: Vec::new(),
        });
        p
    }

    fn create(
        &mut self,
        p: u64,
        name: &'static str,
        attrs: MailboxAttrs,
        now: u64,
    ) -> Result<u64, OpenError> {
        let creds = self.live(p).ok_or(OpenError::Disconnected)?.creds;
        if let Some(target) = attrs.redelivery.dead_letter {
            let target = target.as_raw();
            let why = if !self.box_alive(target) || self.bx(target).name.is_none() {
                Some("the dead-letter mailbox does not exist")
            } else if !mode_allows(
                self.bx(target).attrs.mode,
                creds,
                self.bx(target).owner_creds,
                Mode::WRITE,
            ) {
                Some("the dead-letter mailbox does not let its creator send to it")
            } else {
                None
            };
            if let Some(why) = why {
                return Err(OpenError::InvalidAttributes(why.to_owned()));
            }
        }
        if self.boxes.iter().any(|b| b.alive && b.name == Some(name)) {
            return Err(OpenError::AlreadyExists);
        }
        let owner = match attrs.ownership {
            Ownership::Process => Owner::Process(pid(p)),
            Ownership::System => Owner::System(creds),
        };
        let mut b = ModelBox::new(Some(name), attrs, owner, creds, now);
        b.opens.push((p, 1));
        self.boxes.push(b);
        Ok(self.boxes.len() as u64)
    }

    fn open(&mut self, p: u64, name: &'static str) -> Result<u64, OpenError> {
        let creds = self.live(p).ok_or(OpenError::Disconnected)?.creds;
        let id = self
            .alive_ids()
            .into_iter()
            .find(|&id| self.bx(id).name == Some(name))
            .ok_or(OpenError::NotFound)?;
        let b = self.bx_mut(id);
        let may_use = mode_allows(b.attrs.mode, creds, b.owner_creds, Mode::READ)
            || mode_allows(b.attrs.mode, creds, b.owner_creds, Mode::WRITE)
            || owns(b, p, creds);
        if !may_use {
            return Err(OpenError::PermissionDenied);
        }
        match b.opens.iter_mut().find(|(holder, _)| *holder == p) {
            Some((_, count)) => *count += 1,
            None => b.opens.push((p, 1)),
        }
        Ok(id)
    }

    /// `close` is given no time: a receive it causes is stamped with the latest time the mailbox
    /// has recorded (its creation, last send or last receive).
    fn close(&mut self, p: u64, id: u64, now: u64) {
        if !self.box_alive(id) || self.bx(id).opens_of(p) == 0 {
            return;
        }
        let b = self.bx_mut(id);
        let entry = b
            .opens
            .iter_mut()
            .find(|(holder, _)| *holder == p)
            .expect("open");
        entry.1 -= 1;
        if entry.1 == 0 {
            self.release(p, id, now);
        }
    }

    fn delete(&mut self, p: u64, id: u64) -> Result<(), AdminError> {
        let creds = self.live(p).ok_or(AdminError::Disconnected)?.creds;
        if !self.box_alive(id) {
            return Err(AdminError::Gone);
        }
        let b = self.bx(id);
        if b.name.is_none() || !owns(b, p, creds) {
            return Err(AdminError::PermissionDenied);
        }
        self.destroy(id, SendErrorKind::Gone, RecvError::Gone);
        Ok(())
    }

    fn monitor(&mut self, watcher: u64, target: u64, now: u64) -> Result<(), AdminError> {
        if self.live(watcher).is_none() {
            return Err(AdminError::Disconnected);
        }
        if self.has_terminated(target) {
            // At most one notification about a dead process waits in an inbox; with none
            // waiting, one is queued if the inbox has room and the quota allows, and otherwise
            // the answer itself says the target is gone.
            let inbox = self.bx(self.procs[watcher as usize - 1].inbox);
            let queued = inbox
                .queue
                .iter()
                .any(|q| q.kind == MessageKind::Down && q.sender == target);
            if queued {
                return Ok(());
            }
            if inbox.queue.len() >= INBOX_CAPACITY
                || self.charged() + MESSAGE_CHARGE > MAX_QUEUED_BYTES
            {
                return Err(AdminError::PeerGone);
            }
            self.deliver_down(watcher, target, now);
            return Ok(());
        }
        if self.live(target).is_none() {
            return Err(AdminError::NotFound);
        }
        let watchers = &mut self.procs[target as usize - 1].watchers;
        if !watchers.contains(&watcher) {
            watchers.push(watcher);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn send(
        &mut self,
        from: u64,
        id: u64,
        message: Message,
        delivery: Delivery,
        wait: Wait,
        now: u64,
        stamp: Option<(u64, u64)>,
    ) -> Result<Sent, SendError> {
        let Some(creds) = self.live(from).map(|p| p.creds) else {
            return Err(SendError::new(SendErrorKind::Disconnected, message));
        };
        if !self.box_alive(id) {
            return Err(SendError::new(SendErrorKind::Gone, message));
        }
        let b = self.bx_mut(id);
        if b.opens_of(from) == 0 || !mode_allows(b.attrs.mode, creds, b.owner_creds, Mode::WRITE) {
            return Err(SendError::new(SendErrorKind::PermissionDenied, message));
        }
        if b.attrs.receivers == Receivers::Pair {
            // The first process to send holds the sending end, whatever happens next.
            match b.pair_sender {
                End::Vacant => b.pair_sender = End::Held(from),
                End::Held(holder) if holder == from => {}
                End::Held(_) | End::Departed => {
                    return Err(SendError::new(SendErrorKind::Busy, message));
                }
            }
            if b.pair_receiver == End::Departed {
                return Err(SendError::new(SendErrorKind::PeerGone, message));
            }
        }
        let Some(stamp) = stamp else {
            return self.send_checked(from, id, message, delivery, wait, now, None);
        };
        // A first attempt still waiting is withdrawn, answered `Disconnected`.
        let first = self.bx(id).senders.iter().find(|s| s.stamp == Some(stamp));
        if let Some(ticket) = first.map(|s| s.ticket)
            && let Some(Cancelled::Send(message)) = self.cancel(ticket, now)
        {
            let error = SendError::new(SendErrorKind::Disconnected, message);
            self.complete(ticket, Completion::SendFailed(error));
        }
        let b = self.bx_mut(id);
        if let Some(&(seq, receiver)) = b.producers.get(&stamp.0)
            && stamp.1 <= seq
        {
            b.duplicates_dropped += 1;
            return Ok(Sent::Done(receiver.map(pid)));
        }
        let sent = self.send_checked(from, id, message, delivery, wait, now, None)?;
        match sent {
            Sent::Done(receiver) => {
                self.record_producer(id, Some(stamp), receiver.map(|p| p.as_raw()))
            }
            Sent::Waits(ticket) => {
                let b = self.bx_mut(id);
                match b.senders.iter_mut().rev().find(|s| s.ticket == ticket) {
                    Some(waiting) => waiting.stamp = Some(stamp),
                    None => self.record_producer(id, Some(stamp), None),
                }
            }
        }
        Ok(sent)
    }

    /// Records that the send `stamp` (if any) was accepted by `id`, answered with `receiver`.
    fn record_producer(&mut self, id: u64, stamp: Option<(u64, u64)>, receiver: Option<u64>) {
        let Some((producer, seq)) = stamp else {
            return;
        };
        let entry = self
            .bx_mut(id)
            .producers
            .entry(producer)
            .or_insert((seq, receiver));
        if entry.0 < seq {
            *entry = (seq, receiver);
        }
    }

    fn send_to(
        &mut self,
        from: u64,
        to: u64,
        message: Message,
        delivery: Delivery,
        wait: Wait,
        now: u64,
    ) -> Result<Sent, SendError> {
        if self.live(from).is_none() {
            return Err(SendError::new(SendErrorKind::Disconnected, message));
        }
        let inbox = match self.live(to) {
            Some(target) => target.inbox,
            None if self.has_terminated(to) => {
                return Err(SendError::new(SendErrorKind::PeerGone, message));
            }
            None => return Err(SendError::new(SendErrorKind::NotFound, message)),
        };
        self.send_checked(from, inbox, message, delivery, wait, now, None)
    }

    #[allow(clippy::too_many_arguments)]
    fn send_checked(
        &mut self,
        from: u64,
        id: u64,
        message: Message,
        delivery: Delivery,
        wait: Wait,
        now: u64,
        call: Option<(u64, u64)>,
    ) -> Result<Sent, SendError> {
        let b = self.bx(id);
        let len = message.len();
        let broken = if message.mtype < 1 {
            Some(SendErrorKind::InvalidType)
        } else {
            match b.attrs.size {
                MessageSize::Fixed(n) if len != n => Some(SendErrorKind::WrongSize),
                MessageSize::Variable(n) if len > n => Some(SendErrorKind::TooLarge),
                _ if len > MAX_MESSAGE_SIZE => Some(SendErrorKind::TooLarge),
                _ => match b.attrs.capacity {
                    Capacity::Bounded { bytes, .. } if len > bytes => Some(SendErrorKind::TooLarge),
                    _ => None,
                },
            }
        };
        if let Some(kind) = broken {
            return Err(SendError::new(kind, message));
        }
        let capacity = b.attrs.capacity;
        let overflow = b.attrs.overflow;
        if b.is_broadcast() && call.is_none() {
            return self.send_broadcast(from, id, message, delivery, wait, now);
        }
        // A waiting receiver that matches takes the message at once; on lease, the message is
        // still held, so it must fit in the quota.
        if let Some(w) = self.choose_receiver(id, message.mtype, from) {
            if w.leased && self.charged() + len + MESSAGE_CHARGE > MAX_QUEUED_BYTES {
                return Err(SendError::new(SendErrorKind::QuotaExceeded, message));
            }
            let receipt = call.map(|(ticket, _)| ticket);
            let q = self.accept(id, from, message, now, receipt, kind_of(call.map(|c| c.1)));
            self.deliver(id, w, q, now);
            let known = delivery == Delivery::Receipt || capacity == Capacity::Zero;
            return Ok(Sent::Done(known.then_some(pid(w.pid))));
        }
        if capacity == Capacity::Zero {
            return match wait {
                Wait::Try => Err(SendError::new(SendErrorKind::Full, message)),
                Wait::Block => self
                    .block(id, from, message, true, now, call)
                    .map(Sent::Waits),
            };
        }
        let b = self.bx(id);
        let has_room = b.senders.is_empty() && b.has_room_for(len);
        if !has_room && overflow == Overflow::Block {
            return match wait {
                Wait::Try => Err(SendError::new(SendErrorKind::Full, message)),
                Wait::Block => {
                    let wants_receipt = delivery == Delivery::Receipt;
                    self.block(id, from, message, wants_receipt, now, call)
                        .map(Sent::Waits)
                }
            };
        }
        // Drop-oldest discards the oldest messages (of the lowest priority first, in a priority
        // mailbox) until the newest fits; what it frees counts towards the quota.
        let victims = if has_room {
            Vec::new()
        } else {
            self.drop_victims(id, len)
        };
        let freed: usize = self
            .bx(id)
            .queue
            .iter()
            .filter(|q| victims.contains(&q.seq))
            .map(|q| q.message.len() + MESSAGE_CHARGE)
            .sum();
        if self.charged() - freed + len + MESSAGE_CHARGE > MAX_QUEUED_BYTES {
            return Err(SendError::new(SendErrorKind::QuotaExceeded, message));
        }
        for seq in victims {
            let b = self.bx_mut(id);
            let i = b.queue.iter().position(|q| q.seq == seq).expect("victim");
            let q = b.queue.remove(i);
            b.dropped += 1;
            self.total_dropped += 1;
            if let Some(ticket) = q.receipt {
                self.fail_sender(ticket, SendErrorKind::Dropped, q.message);
            }
        }
        if let Some((ticket, call)) = call {
            let q = self.accept(id, from, message, now, Some(ticket), kind_of(Some(call)));
            self.bx_mut(id).queue.push(q);
            return Ok(Sent::Waits(ticket));
        }
        let receipt = (delivery == Delivery::Receipt).then(|| self.new_ticket());
        let q = self.accept(id, from, message, now, receipt, MessageKind::User);
        self.bx_mut(id).queue.push(q);
        Ok(match receipt {
            Some(ticket) => Sent::Waits(ticket),
            None => Sent::Done(None),
        })
    }

    /// A send to a broadcast mailbox: to every member of the moment, the bound per backlog; with
    /// no members it succeeds and the message counts as dropped.
    fn send_broadcast(
        &mut self,
        from: u64,
        id: u64,
        message: Message,
        delivery: Delivery,
        wait: Wait,
        now: u64,
    ) -> Result<Sent, SendError> {
        let b = self.bx(id);
        let len = message.len();
        let rendezvous = b.attrs.capacity == Capacity::Zero;
        let wants_receipt = rendezvous || delivery == Delivery::Receipt;
        if rendezvous {
            let all_waiting = b.members.keys().all(|&m| {
                b.receivers
                    .iter()
                    .any(|w| w.pid == m && selects(w.selector, message.mtype, from))
            });
            if wait == Wait::Try && !all_waiting {
                return Err(SendError::new(SendErrorKind::Full, message));
            }
        } else {
            let has_room = b.senders.is_empty() && b.has_room_for(len);
            if !has_room && b.attrs.overflow == Overflow::Block {
                return match wait {
                    Wait::Try => Err(SendError::new(SendErrorKind::Full, message)),
                    Wait::Block => self
                        .block(id, from, message, wants_receipt, now, None)
                        .map(Sent::Waits),
                };
            }
        }
        if self.charged() + (len + MESSAGE_CHARGE) * b.members.len() > MAX_QUEUED_BYTES {
            return Err(SendError::new(SendErrorKind::QuotaExceeded, message));
        }
        if !rendezvous {
            let capacity = b.attrs.capacity;
            let order = b.attrs.order;
            let members: Vec<u64> = b.members.keys().copied().collect();
            for m in members {
                while !fits(&self.bx(id).members[&m], capacity, len) {
                    let backlog = &self.bx(id).members[&m];
                    let i = (0..backlog.len())
                        .min_by_key(|&i| {
                            let priority = match order {
                                Order::Priority => backlog[i].message.priority,
                                Order::Fifo => 0,
                            };
                            (priority, backlog[i].seq)
                        })
                        .expect("a full backlog holds messages");
                    let b = self.bx_mut(id);
                    let q = b.members.get_mut(&m).expect("member").remove(i);
                    b.dropped += 1;
                    self.total_dropped += 1;
                    self.copy_gone(id, q.seq, true);
                }
            }
        }
        let q = self.accept(id, from, message, now, None, MessageKind::User);
        Ok(self.fan_out(id, q, wants_receipt, None, now))
    }

    /// Gives `q` to every member: a waiting matching receive takes it, the others get a copy in
    /// their backlog. With `wants_receipt` the sender waits until no backlog holds it.
    fn fan_out(
        &mut self,
        id: u64,
        q: Queued,
        wants_receipt: bool,
        ticket: Option<u64>,
        now: u64,
    ) -> Sent {
        let members: Vec<u64> = self.bx(id).members.keys().copied().collect();
        if members.is_empty() {
            self.bx_mut(id).dropped += 1;
            self.total_dropped += 1;
        }
        self.fanned += members.len().saturating_sub(1) as u64;
        let mut copies = 0;
        for m in members {
            let copy = q.clone();
            let waiting = self
                .bx(id)
                .receivers
                .iter()
                .find(|w| w.pid == m && selects(w.selector, q.message.mtype, q.sender))
                .copied();
            match waiting {
                Some(w) => self.deliver(id, w, copy, now),
                None => {
                    self.bx_mut(id)
                        .members
                        .get_mut(&m)
                        .expect("member")
                        .push(copy);
                    copies += 1;
                }
            }
        }
        if !wants_receipt || copies == 0 {
            return Sent::Done(None);
        }
        let ticket = ticket.unwrap_or_else(|| self.new_ticket());
        self.bx_mut(id).awaited.push(Awaited {
            seq: q.seq,
            ticket,
            sender: q.sender,
            message: q.message,
            dropped: false,
        });
        Sent::Waits(ticket)
    }

    /// A copy of broadcast message `seq` left a backlog (`dropped`: lost to overflow). Once no
    /// backlog holds it, a sender awaiting it learns: `Dropped` if a member lost it, else sent.
    fn copy_gone(&mut self, id: u64, seq: u64, dropped: bool) {
        let b = self.bx_mut(id);
        let held = b.copies().any(|q| q.seq == seq);
        let Some(i) = b.awaited.iter().position(|a| a.seq == seq) else {
            return;
        };
        b.awaited[i].dropped |= dropped;
        if held {
            return;
        }
        let a = b.awaited.remove(i);
        if a.dropped {
            self.fail_sender(a.ticket, SendErrorKind::Dropped, a.message);
        } else {
            self.complete(a.ticket, Completion::Sent { receiver: None });
        }
    }

    /// The sequence numbers drop-oldest discards, in order, to make room for `len` bytes.
    fn drop_victims(&self, id: u64, len: usize) -> Vec<u64> {
        let mut b = self.bx(id).clone();
        let mut victims = Vec::new();
        while !b.has_room_for(len) {
            let i = (0..b.queue.len())
                .min_by_key(|&i| {
                    let priority = match b.attrs.order {
                        Order::Priority => b.queue[i].message.priority,
                        Order::Fifo => 0,
                    };
                    (priority, b.queue[i].seq)
                })
                .expect("a full mailbox has messages");
            victims.push(b.queue.remove(i).seq);
        }
        victims
    }

    fn block(
        &mut self,
        id: u64,
        sender: u64,
        message: Message,
        wants_receipt: bool,
        now: u64,
        call: Option<(u64, u64)>,
    ) -> Result<u64, SendError> {
        // A waiting sender holds its message: it must fit in the quota to wait.
        if self.charged() + message.len() + MESSAGE_CHARGE > MAX_QUEUED_BYTES {
            return Err(SendError::new(SendErrorKind::QuotaExceeded, message));
        }
        let ticket = match call {
            Some((ticket, _)) => ticket,
            None => self.new_ticket(),
        };
        self.bx_mut(id).senders.push(BlockedSender {
            ticket,
            sender,
            message,
            sent_at: now,
            wants_receipt: wants_receipt || call.is_some(),
            call: call.map(|(_, id)| id),
            stamp: None,
        });
        Ok(ticket)
    }

    fn may_receive(&mut self, p: u64, creds: Credentials, id: u64) -> Result<(), RecvError> {
        let b = self.bx_mut(id);
        if b.name.is_none() {
            return if b.owner == Owner::Process(pid(p)) {
                Ok(())
            } else {
                Err(RecvError::PermissionDenied)
            };
        }
        if b.opens_of(p) == 0 || !mode_allows(b.attrs.mode, creds, b.owner_creds, Mode::READ) {
            return Err(RecvError::PermissionDenied);
        }
        match b.attrs.receivers {
            Receivers::Owner => {
                let owner = match b.owner {
                    Owner::Process(owner) => owner.as_raw() == p,
                    Owner::System(owner) => owner.uid == creds.uid || creds.uid == 0,
                };
                if owner {
                    Ok(())
                } else {
                    Err(RecvError::PermissionDenied)
                }
            }
            Receivers::Exclusive => match b.exclusive {
                None => {
                    b.exclusive = Some(p);
                    Ok(())
                }
                Some(holder) if holder == p => Ok(()),
                Some(_) => Err(RecvError::Busy),
            },
            Receivers::Shared(_) => Ok(()),
            Receivers::Broadcast => {
                b.members.entry(p).or_default();
                Ok(())
            }
            Receivers::Pair => match b.pair_receiver {
                End::Vacant => {
                    b.pair_receiver = End::Held(p);
                    Ok(())
                }
                End::Held(holder) if holder == p => Ok(()),
                End::Held(_) | End::Departed => Err(RecvError::Busy),
            },
        }
    }

    /// Takes the message `selector` picks from `id` now: from the queue, or with zero capacity
    /// from a waiting sender (whose send then completes with this receiver).
    fn take_now(
        &mut self,
        p: u64,
        id: u64,
        selector: Selector,
        now: u64,
        leased: bool,
    ) -> Option<Received> {
        let b = self.bx(id);
        let order = b.attrs.order;
        if b.is_broadcast() {
            let backlog = &b.members[&p];
            let i = take_index(backlog, order, selector, |q| {
                (q.message.mtype, q.sender, q.message.priority, q.seq)
            })?;
            let q = self
                .bx_mut(id)
                .members
                .get_mut(&p)
                .expect("member")
                .remove(i);
            self.copy_gone(id, q.seq, false);
            let message = self.hand_over(id, p, q, now, false);
            self.admit(id, now);
            return Some(message);
        }
        if let Some(i) = take_index(&b.queue, order, selector, |q| {
            (q.message.mtype, q.sender, q.message.priority, q.seq)
        }) {
            let q = self.bx_mut(id).queue.remove(i);
            let message = self.hand_over(id, p, q, now, leased);
            self.admit(id, now);
            return Some(message);
        }
        if b.attrs.capacity != Capacity::Zero {
            return None;
        }
        let i = take_index(&b.senders, order, selector, |s| {
            (s.message.mtype, s.sender, s.message.priority, s.ticket)
        })?;
        let s = self.bx_mut(id).senders.remove(i);
        self.taken(s.ticket, p);
        self.record_producer(id, s.stamp, Some(p));
        let kind = kind_of(s.call);
        let q = self.accept(id, s.sender, s.message, s.sent_at, None, kind);
        // A rendezvous is taken outright, even on lease.
        Some(self.hand_over(id, p, q, now, false))
    }

    fn never_ready(&self, id: u64, selector: Selector) -> Option<RecvError> {
        if let Selector::From(sender) = selector {
            if self.has_terminated(sender.as_raw()) {
                return Some(RecvError::PeerGone);
            }
        }
        let b = self.bx(id);
        let sender_left = b.attrs.receivers == Receivers::Pair && b.pair_sender == End::Departed;
        (sender_left && b.senders.is_empty()).then_some(RecvError::PeerGone)
    }

    fn recv(
        &mut self,
        p: u64,
        branches: &[Branch],
        wait: Wait,
        now: u64,
        leased: bool,
    ) -> Result<Got, SelectError> {
        let Some(proc_) = self.live(p) else {
            return Err(SelectError {
                branch: 0,
                error: RecvError::Disconnected,
            });
        };
        let (creds, inbox) = (proc_.creds, proc_.inbox);
        let mut ids = Vec::new();
        for (branch, b) in branches.iter().enumerate() {
            let id = match b.source {
                Source::Inbox => inbox,
                Source::Mailbox(m) => m.as_raw(),
            };
            let fail = |error| SelectError { branch, error };
            if !self.box_alive(id) {
                return Err(fail(RecvError::Gone));
            }
            if leased && self.bx(id).is_broadcast() {
                return Err(fail(RecvError::PermissionDenied));
            }
            self.may_receive(p, creds, id).map_err(fail)?;
            ids.push(id);
        }
        for (branch, (&id, b)) in ids.iter().zip(branches).enumerate() {
            if let Some(message) = self.take_now(p, id, b.selector, now, leased) {
                return Ok(Got::Message(branch, message));
            }
        }
        for (branch, (&id, b)) in ids.iter().zip(branches).enumerate() {
            if let Some(error) = self.never_ready(id, b.selector) {
                return Err(SelectError { branch, error });
            }
        }
        if wait == Wait::Try || branches.is_empty() {
            return Err(SelectError {
                branch: 0,
                error: RecvError::Empty,
            });
        }
        let ticket = self.new_ticket();
        for (branch, (&id, b)) in ids.iter().zip(branches).enumerate() {
            self.bx_mut(id).receivers.push(Waiting {
                ticket,
                pid: p,
                selector: b.selector,
                branch,
                leased,
            });
        }
        Ok(Got::Waits(ticket))
    }

    /// Acknowledges or returns what `p` holds on lease from `source` with these numbers.
    fn settle(
        &mut self,
        p: u64,
        source: Source,
        leases: &[LeaseId],
        settlement: Settlement,
        now: u64,
    ) -> Result<usize, RecvError> {
        let Some(proc_) = self.live(p) else {
            return Err(RecvError::Disconnected);
        };
        let id = match source {
            Source::Inbox => proc_.inbox,
            Source::Mailbox(m) => m.as_raw(),
        };
        if !self.box_alive(id) {
            return Err(RecvError::Gone);
        }
        let b = self.bx(id);
        if b.attrs.capacity == Capacity::Zero {
            // Taken outright: acknowledging what the mailbox accepted is settled already.
            return Ok(match settlement {
                Settlement::Ack => leases
                    .iter()
                    .filter(|l| l.seq < b.next_seq && l.attempt == 1)
                    .count(),
                Settlement::Return => 0,
            });
        }
        let mut settled = Vec::new();
        for lease in leases {
            let b = self.bx_mut(id);
            if let Some(i) = b.leases.iter().position(|held| {
                held.holder == p && held.q.seq == lease.seq && held.q.deliveries == lease.attempt
            }) {
                settled.push(b.leases.remove(i).q);
            }
        }
        let count = settled.len();
        if settlement == Settlement::Return {
            self.put_back(id, settled, now);
        }
        Ok(count)
    }

    /// Returned messages: each, by sequence number, to a waiting receiver that matches it, else
    /// back into the queue at its place; none counts as received any more.
    fn put_back(&mut self, id: u64, mut returned: Vec<Queued>, now: u64) {
        returned.sort_by_key(|q| q.seq);
        let n = returned.len() as u64;
        self.bx_mut(id).received -= n;
        self.total_received -= n;
        for q in returned {
            let redelivery = self.bx(id).attrs.redelivery;
            let q = if redelivery
                .max_deliveries
                .is_some_and(|max| q.deliveries >= max)
            {
                match redelivery.dead_letter {
                    None => {
                        self.bx_mut(id).dropped += 1;
                        self.total_dropped += 1;
                        continue;
                    }
                    Some(target) => match self.dead_letter(id, target.as_raw(), q, now) {
                        Ok(()) => {
                            self.bx_mut(id).dead_lettered += 1;
                            self.total_dead_lettered += 1;
                            continue;
                        }
                        Err(q) => q,
                    },
                }
            } else {
                q
            };
            match self.choose_receiver(id, q.message.mtype, q.sender) {
                Some(w) => self.deliver(id, w, q, now),
                None => {
                    let b = self.bx_mut(id);
                    let at = b.queue.partition_point(|queued| queued.seq < q.seq);
                    b.queue.insert(at, q);
                }
            }
        }
    }

    /// A message of `from` delivered its most times moves into `target` if it can take it at
    /// once: a live named mailbox (not `from`) that `from`'s owner may send to, whose rules
    /// the message keeps, with a waiting receiver or room (and quota).
    fn dead_letter(&mut self, from: u64, target: u64, q: Queued, now: u64) -> Result<(), Queued> {
        let creds = self.bx(from).owner_creds;
        if target == from || !self.box_alive(target) {
            return Err(q);
        }
        let t = self.bx(target);
        let len = q.message.len();
        let fits_rules = match t.attrs.size {
            MessageSize::Fixed(n) => len == n,
            MessageSize::Variable(n) => len <= n && len <= MAX_MESSAGE_SIZE,
        } && match t.attrs.capacity {
            Capacity::Bounded { bytes, .. } => len <= bytes,
            _ => true,
        } && q.message.mtype >= 1;
        if t.name.is_none()
            || !mode_allows(t.attrs.mode, creds, t.owner_creds, Mode::WRITE)
            || !fits_rules
        {
            return Err(q);
        }
        let fits_quota = self.charged() + len + MESSAGE_CHARGE <= MAX_QUEUED_BYTES;
        if let Some(w) = self.choose_receiver(target, q.message.mtype, q.sender) {
            if w.leased && !fits_quota {
                return Err(q);
            }
            let fresh = self.accept(target, q.sender, q.message, now, None, MessageKind::User);
            self.deliver(target, w, fresh, now);
            return Ok(());
        }
        let t = self.bx(target);
        let room =
            t.attrs.capacity != Capacity::Zero && t.senders.is_empty() && t.has_room_for(len);
        if !room || !fits_quota {
            return Err(q);
        }
        let fresh = self.accept(target, q.sender, q.message, now, None, MessageKind::User);
        self.bx_mut(target).queue.push(fresh);
        Ok(())
    }

    /// Ends the leases whose time is up, by mailbox (lowest id first), each mailbox's like
    /// returns.
    fn expire_leases(&mut self, now: u64) -> usize {
        let mut count = 0;
        for id in self.alive_ids() {
            let b = self.bx_mut(id);
            let (expired, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut b.leases)
                .into_iter()
                .partition(|lease| lease.expires.is_some_and(|at| at <= now));
            b.leases = kept;
            count += expired.len();
            self.put_back(id, expired.into_iter().map(|lease| lease.q).collect(), now);
        }
        count
    }

    fn cancel(&mut self, ticket: u64, now: u64) -> Option<Cancelled> {
        if let Some(i) = self.calls.iter().position(|c| c.ticket == Some(ticket)) {
            let (cancelled, admit) = self.withdraw_call(i);
            if let Some(id) = admit {
                self.admit(id, now);
            }
            return Some(cancelled);
        }
        if self.recv_waiting(ticket) {
            self.forget_recv(ticket);
            return Some(Cancelled::Recv);
        }
        for id in self.alive_ids() {
            let b = self.bx_mut(id);
            if let Some(i) = b.awaited.iter().position(|a| a.ticket == ticket) {
                // Withdrawn from the backlogs still holding it; members that took it keep it.
                let a = b.awaited.remove(i);
                let mut removed = 0;
                for backlog in b.members.values_mut() {
                    let before = backlog.len();
                    backlog.retain(|q| q.seq != a.seq);
                    removed += before - backlog.len();
                }
                self.discarded += removed as u64;
                self.admit(id, now);
                return Some(Cancelled::Send(a.message));
            }
            if let Some(i) = b.senders.iter().position(|s| s.ticket == ticket) {
                let s = b.senders.remove(i);
                self.admit(id, now);
                return Some(Cancelled::Send(s.message));
            }
            if let Some(i) = b.queue.iter().position(|q| q.receipt == Some(ticket)) {
                // Withdrawn before anyone took it: it no longer counts as sent.
                let q = b.queue.remove(i);
                b.sent -= 1;
                self.total_sent -= 1;
                self.admit(id, now);
                return Some(Cancelled::Send(q.message));
            }
        }
        None
    }

    fn terminate(&mut self, p: u64, now: u64) {
        if self.live(p).is_none() {
            return;
        }
        self.procs[p as usize - 1].alive = false;
        // 1. Its waiting operations vanish, all of them before anything else happens: receives are
        //    withdrawn, blocked sends are withdrawn with their messages (never accepted), and
        //    messages awaiting a receipt stay queued with nobody awaiting it. Then the room the
        //    withdrawn senders held goes to the next waiting senders.
        let mut withdrawn: Vec<(u64, u64)> = Vec::new();
        // Its calls stop waiting: requests not taken are withdrawn, taken ones revoked.
        let mut own: Vec<(u64, usize)> = Vec::new();
        for (i, call) in self.calls.iter().enumerate() {
            if let Some(ticket) = call.ticket
                && self.call_callers.get(&call.id) == Some(&p)
            {
                own.push((ticket, i));
            }
        }
        own.sort_unstable();
        let own_calls: Vec<u64> = own.iter().map(|&(_, i)| self.calls[i].id).collect();
        for call in own_calls {
            let i = self.calls.iter().position(|c| c.id == call).expect("known");
            let ticket = self.calls[i].ticket.expect("waiting");
            if let (_, Some(id)) = self.withdraw_call(i) {
                withdrawn.push((ticket, id));
            }
        }
        for id in self.alive_ids() {
            let b = self.bx_mut(id);
            b.receivers.retain(|w| w.pid != p);
            withdrawn.extend(
                b.senders
                    .iter()
                    .filter(|s| s.sender == p)
                    .map(|s| (s.ticket, id)),
            );
            b.senders.retain(|s| s.sender != p);
            for q in b.queue.iter_mut().filter(|q| q.sender == p) {
                q.receipt = None;
            }
            b.awaited.retain(|a| a.sender != p);
        }
        withdrawn.sort_unstable();
        for (_, id) in withdrawn {
            self.admit(id, now);
        }
        // 2. Its handles close, in mailbox id order.
        for id in self.alive_ids() {
            if self.bx(id).name.is_some() && self.bx(id).opens_of(p) > 0 {
                self.release(p, id, now);
            }
        }
        // 3. Its process-owned mailboxes are deleted, in mailbox id order.
        for id in self.alive_ids() {
            let b = self.bx(id);
            if b.name.is_some() && b.owner == Owner::Process(pid(p)) {
                self.destroy(id, SendErrorKind::Gone, RecvError::Gone);
            }
        }
        // 4. Its inbox goes.
        let inbox = self.procs[p as usize - 1].inbox;
        self.destroy(inbox, SendErrorKind::PeerGone, RecvError::PeerGone);
        // 5. It stops monitoring; its monitors get a down notification.
        for proc_ in &mut self.procs {
            proc_.watchers.retain(|&w| w != p);
        }
        let mut watchers = self.procs[p as usize - 1].watchers.clone();
        watchers.sort_unstable();
        for w in watchers {
            if self.live(w).is_some() {
                self.deliver_down(w, p, now);
            }
        }
        // 6. Receivers still waiting for a message from it never get one.
        let mut from_it: Vec<Waiting> = Vec::new();
        for b in self.boxes.iter().filter(|b| b.alive) {
            from_it.extend(
                b.receivers
                    .iter()
                    .filter(|w| w.selector == Selector::From(pid(p))),
            );
        }
        from_it.sort_by_key(|w| (w.ticket, w.branch));
        for w in from_it {
            self.fail_recv(w.ticket, w.branch, RecvError::PeerGone);
        }
        // 7. Every call whose request it held fails `PeerGone`.
        let (held, kept): (Vec<ModelCall>, Vec<ModelCall>) = std::mem::take(&mut self.calls)
            .into_iter()
            .partition(|c| c.holder == Some(p));
        self.calls = kept;
        for call in held {
            if let Some(ticket) = call.ticket {
                let error = CallError::without_message(CallErrorKind::PeerGone);
                self.complete(ticket, Completion::CallFailed(error));
            }
        }
    }

    // --- calls ---

    /// The caller of `self.calls[i]` stops waiting: a request still blocked or queued is
    /// withdrawn (with the mailbox whose senders then get its room), a held one is revoked.
    fn withdraw_call(&mut self, i: usize) -> (Cancelled, Option<u64>) {
        let ticket = self.calls[i].ticket.expect("a waiting call");
        for id in self.alive_ids() {
            let b = self.bx_mut(id);
            if let Some(j) = b.senders.iter().position(|s| s.ticket == ticket) {
                let s = b.senders.remove(j);
                self.calls.remove(i);
                return (Cancelled::Call(Some(s.message)), Some(id));
            }
            if let Some(j) = b.queue.iter().position(|q| q.receipt == Some(ticket)) {
                let q = b.queue.remove(j);
                b.sent -= 1;
                self.total_sent -= 1;
                self.calls.remove(i);
                return (Cancelled::Call(Some(q.message)), Some(id));
            }
        }
        if self.calls[i].holder.is_some() {
            self.calls[i].ticket = None;
        } else {
            self.calls.remove(i);
        }
        (Cancelled::Call(None), None)
    }

    /// Whether a live process other than `caller` may receive from `id` now.
    fn has_responder(&self, caller: u64, id: u64) -> bool {
        let b = self.bx(id);
        if b.name.is_none() {
            return self.procs.iter().any(|p| p.alive && p.inbox == id);
        }
        b.opens.iter().any(|&(holder, _)| {
            let Some(proc_) = self.live(holder) else {
                return false;
            };
            let creds = proc_.creds;
            holder != caller
                && mode_allows(b.attrs.mode, creds, b.owner_creds, Mode::READ)
                && match b.attrs.receivers {
                    Receivers::Owner => match b.owner {
                        Owner::Process(owner) => owner.as_raw() == holder,
                        Owner::System(owner) => owner.uid == creds.uid || creds.uid == 0,
                    },
                    Receivers::Exclusive => b.exclusive.is_none_or(|h| h == holder),
                    Receivers::Shared(_) | Receivers::Broadcast => true,
                    Receivers::Pair => match b.pair_receiver {
                        End::Vacant => true,
                        End::Held(h) => h == holder,
                        End::Departed => false,
                    },
                }
        })
    }

    fn call(
        &mut self,
        from: u64,
        id: u64,
        request: Message,
        wait: Wait,
        now: u64,
    ) -> Result<u64, CallError> {
        let Some(creds) = self.live(from).map(|p| p.creds) else {
            return Err(CallError::new(CallErrorKind::Disconnected, request));
        };
        if !self.box_alive(id) {
            return Err(CallError::new(CallErrorKind::Gone, request));
        }
        let b = self.bx_mut(id);
        if b.opens_of(from) == 0 || !mode_allows(b.attrs.mode, creds, b.owner_creds, Mode::WRITE) {
            return Err(CallError::new(CallErrorKind::PermissionDenied, request));
        }
        if b.attrs.receivers == Receivers::Pair {
            match b.pair_sender {
                End::Vacant => b.pair_sender = End::Held(from),
                End::Held(holder) if holder == from => {}
                End::Held(_) | End::Departed => {
                    return Err(CallError::new(CallErrorKind::Busy, request));
                }
            }
            if b.pair_receiver == End::Departed {
                return Err(CallError::new(CallErrorKind::PeerGone, request));
            }
        }
        if self.bx(id).is_broadcast() {
            return Err(CallError::new(CallErrorKind::PermissionDenied, request));
        }
        if !self.has_responder(from, id) {
            return Err(CallError::new(CallErrorKind::NoResponders, request));
        }
        self.call_checked(from, id, request, wait, now)
    }

    fn call_to(
        &mut self,
        from: u64,
        to: u64,
        request: Message,
        wait: Wait,
        now: u64,
    ) -> Result<u64, CallError> {
        if self.live(from).is_none() {
            return Err(CallError::new(CallErrorKind::Disconnected, request));
        }
        let inbox = match self.live(to) {
            Some(target) => target.inbox,
            None if self.has_terminated(to) => {
                return Err(CallError::new(CallErrorKind::PeerGone, request));
            }
            None => return Err(CallError::new(CallErrorKind::NotFound, request)),
        };
        self.call_checked(from, inbox, request, wait, now)
    }

    fn call_checked(
        &mut self,
        from: u64,
        id: u64,
        request: Message,
        wait: Wait,
        now: u64,
    ) -> Result<u64, CallError> {
        let ticket = self.new_ticket();
        let call = self.next_call;
        self.next_call += 1;
        self.call_callers.insert(call, from);
        self.calls.push(ModelCall {
            id: call,
            ticket: Some(ticket),
            holder: None,
        });
        match self.send_checked(
            from,
            id,
            request,
            Delivery::Receipt,
            wait,
            now,
            Some((ticket, call)),
        ) {
            Ok(_) => Ok(ticket),
            Err(error) => {
                self.calls.retain(|c| c.id != call);
                let kind = error.kind().into();
                Err(CallError::new(
                    kind,
                    error.into_message().expect("handed back"),
                ))
            }
        }
    }

    fn reply(&mut self, server: u64, call: u64, reply: Reply) -> Result<(), ReplyError> {
        if self.live(server).is_none() {
            return Err(ReplyError::Disconnected);
        }
        let Some(i) = self
            .calls
            .iter()
            .position(|c| c.id == call && c.holder == Some(server))
        else {
            return Err(ReplyError::NoRight);
        };
        match &reply {
            Reply::Answer(answer) if answer.mtype < 1 => return Err(ReplyError::InvalidType),
            Reply::Answer(answer) if answer.len() > MAX_MESSAGE_SIZE => {
                return Err(ReplyError::TooLarge);
            }
            Reply::Failure(bytes) if bytes.len() > MAX_MESSAGE_SIZE => {
                return Err(ReplyError::TooLarge);
            }
            _ => {}
        }
        let held = self.calls.remove(i);
        let Some(ticket) = held.ticket else {
            self.late_replies += 1;
            return Err(ReplyError::Revoked);
        };
        let completion = match reply {
            Reply::Answer(answer) => Completion::Replied(answer),
            Reply::Failure(bytes) => Completion::CallFailed(CallError::failed(bytes)),
        };
        self.complete(ticket, completion);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Generated scenarios
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum LenSpec {
    /// A length the destination's size rule accepts (picked from this number when run).
    Fits(usize),
    /// Exactly this length, fitting or not.
    Exactly(usize),
}

#[derive(Clone, Copy, Debug)]
struct MsgSpec {
    len: LenSpec,
    mtype: i64,
    priority: u16,
}

#[derive(Clone, Copy, Debug)]
enum SelSpec {
    Any,
    Type(i64),
    NotType(i64),
    TypeAtMost(i64),
    /// From the process with this index.
    From(usize),
}

#[derive(Clone, Copy, Debug)]
struct BranchSpec {
    /// `None`: the inbox; `Some(i)`: the i-th mailbox ever created (modulo).
    mailbox: Option<usize>,
    selector: SelSpec,
}

/// Indices are taken modulo the number of processes, mailboxes or tickets when run.
#[derive(Clone, Debug)]
enum Op {
    Send {
        p: usize,
        mailbox: usize,
        msg: MsgSpec,
        receipt: bool,
        block: bool,
        /// An idempotent send's producer and number.
        stamp: Option<(u64, u64)>,
    },
    SendTo {
        p: usize,
        to: usize,
        msg: MsgSpec,
        receipt: bool,
        block: bool,
    },
    Recv {
        p: usize,
        branch: BranchSpec,
        block: bool,
    },
    Lease {
        p: usize,
        branch: BranchSpec,
        block: bool,
    },
    Settle {
        p: usize,
        mailbox: Option<usize>,
        seq: u64,
        attempt: u32,
        ack: bool,
    },
    /// Settles a lease some process was handed (`pick` among all handed out so far, perhaps
    /// settled or ended since): by its holder or a `stranger`, naming its attempt or — `stale`
    /// — the one before it.
    SettleHeld {
        pick: usize,
        stranger: Option<usize>,
        stale: bool,
        ack: bool,
    },
    /// Time passes by `advance` and the driver ends the leases whose time is up.
    Expire {
        advance: u64,
    },
    Select {
        p: usize,
        first: BranchSpec,
        second: BranchSpec,
        block: bool,
    },
    Cancel {
        ticket: usize,
    },
    Open {
        p: usize,
        mailbox: usize,
    },
    Close {
        p: usize,
        mailbox: usize,
    },
    Delete {
        p: usize,
        mailbox: usize,
    },
    Create {
        p: usize,
        name: usize,
        attrs: MailboxAttrs,
    },
    Terminate {
        p: usize,
    },
    Monitor {
        p: usize,
        target: usize,
    },
    /// A call: to mailbox `mailbox` (as `Send` picks it), or with `None` to process `to`.
    Call {
        p: usize,
        mailbox: Option<usize>,
        to: usize,
        msg: MsgSpec,
        block: bool,
    },
    /// Answers a request some process received (`pick` among all received so far, perhaps
    /// answered or revoked since): by its holder, or by `stranger`; with an answer of `msg`, or
    /// with a failure.
    Reply {
        pick: usize,
        stranger: Option<usize>,
        msg: MsgSpec,
        fail: bool,
    },
}

#[derive(Clone, Debug)]
struct Scenario {
    creds: Vec<Credentials>,
    /// Creator index and attributes of the mailboxes named `mb0`, `mb1`, ...
    mailboxes: Vec<(usize, MailboxAttrs)>,
    /// Whether process `p` opens mailbox `m` at the start: `opens[p * 3 + m]`.
    opens: Vec<bool>,
    ops: Vec<Op>,
}

fn creds() -> impl Strategy<Value = Credentials> {
    (
        prop_oneof![Just(1000u32), Just(1001)],
        prop_oneof![Just(100u32), Just(200)],
    )
        .prop_map(|(uid, gid)| Credentials::new(uid, gid))
}

/// Lease times of a few ticks, a few deliveries at most, and a dead-letter mailbox by raw id:
/// any id the scenario may have — an inbox, a named mailbox, or none yet.
fn redelivery() -> impl Strategy<Value = Redelivery> {
    let lease_time =
        prop_oneof![1 => Just(None), 2 => (2u64..30).prop_map(|n| Some(Duration::from_nanos(n)))];
    let max_deliveries = prop_oneof![1 => Just(None), 2 => (1u32..=3).prop_map(Some)];
    let dead_letter =
        prop_oneof![1 => Just(None), 3 => (1u64..=14).prop_map(|id| Some(MailboxId::from_raw(id)))];
    (lease_time, max_deliveries, dead_letter).prop_map(
        |(lease_time, max_deliveries, dead_letter)| Redelivery {
            lease_time,
            max_deliveries,
            dead_letter: dead_letter.filter(|_| max_deliveries.is_some()),
        },
    )
}

fn attrs() -> impl Strategy<Value = MailboxAttrs> {
    let size = prop_oneof![
        4 => (2usize..=6).prop_map(MessageSize::Variable),
        1 => (1usize..=2).prop_map(MessageSize::Fixed),
    ];
    let receivers = prop_oneof![
        1 => Just(Receivers::Owner),
        1 => Just(Receivers::Exclusive),
        3 => Just(Receivers::Shared(Dispatch::RoundRobin)),
        3 => Just(Receivers::Shared(Dispatch::FirstWaiting)),
        1 => Just(Receivers::Pair),
        2 => Just(Receivers::Broadcast),
    ];
    let mode = prop_oneof![
        12 => Just(0o666u16),
        1 => Just(0o660),
        1 => Just(0o640),
        1 => Just(0o600),
    ];
    (
        size,
        prop_oneof![1 => Just(0u8), 2 => Just(1u8), 1 => Just(2u8)],
        1usize..=4,
        prop_oneof![3 => 0usize..=2, 1 => 3usize..=8],
        any::<bool>(),
        prop::bool::weighted(0.4),
        any::<bool>(),
        receivers,
        mode,
        redelivery(),
        any::<bool>(),
    )
        .prop_map(
            |(
                size,
                capacity,
                messages,
                extra,
                priority,
                drop,
                system,
                receivers,
                mode,
                redelivery,
                durable,
            )| {
                let largest = match size {
                    MessageSize::Fixed(n) | MessageSize::Variable(n) => n,
                };
                let capacity = match capacity {
                    0 => Capacity::Zero,
                    1 => Capacity::bounded(messages, largest + extra),
                    _ => Capacity::Unbounded,
                };
                let bounded = matches!(capacity, Capacity::Bounded { .. });
                MailboxAttrs {
                    capacity,
                    size,
                    order: if priority {
                        Order::Priority
                    } else {
                        Order::Fifo
                    },
                    overflow: if drop && bounded {
                        Overflow::DropOldest
                    } else {
                        Overflow::Block
                    },
                    ownership: if system {
                        Ownership::System
                    } else {
                        Ownership::Process
                    },
                    receivers,
                    mode: Mode::new(mode),
                    // A broadcast mailbox has no leases and lives in memory.
                    redelivery: if receivers == Receivers::Broadcast {
                        Redelivery::default()
                    } else {
                        redelivery
                    },
                    durability: if durable
                        && system
                        && capacity != Capacity::Zero
                        && receivers != Receivers::Broadcast
                    {
                        Durability::Disk
                    } else {
                        Durability::Memory
                    },
                }
            },
        )
}

fn msg() -> impl Strategy<Value = MsgSpec> {
    let len = prop_oneof![
        10 => (0usize..16).prop_map(LenSpec::Fits),
        1 => (0usize..=MAX_MESSAGE_SIZE + 1).prop_map(LenSpec::Exactly),
    ];
    let mtype = prop_oneof![30 => 1i64..=3, 1 => Just(0i64)];
    (len, mtype, 0u16..=2).prop_map(|(len, mtype, priority)| MsgSpec {
        len,
        mtype,
        priority,
    })
}

fn selector() -> impl Strategy<Value = SelSpec> {
    prop_oneof![
        Just(SelSpec::Any),
        (1i64..=3).prop_map(SelSpec::Type),
        (1i64..=3).prop_map(SelSpec::NotType),
        (1i64..=3).prop_map(SelSpec::TypeAtMost),
        (0usize..4).prop_map(SelSpec::From),
    ]
}

fn branch() -> impl Strategy<Value = BranchSpec> {
    let mailbox = prop_oneof![1 => Just(None), 3 => (0usize..8).prop_map(Some)];
    (mailbox, selector()).prop_map(|(mailbox, selector)| BranchSpec { mailbox, selector })
}

fn op() -> impl Strategy<Value = Op> {
    let p = || 0usize..4;
    prop_oneof![
        22 => (
            p(),
            0usize..8,
            msg(),
            any::<bool>(),
            prop::bool::weighted(0.7),
            prop::option::weighted(0.3, (0u64..2, 0u64..4)),
        )
            .prop_map(|(p, mailbox, msg, receipt, block, stamp)| Op::Send {
                p,
                mailbox,
                msg,
                receipt,
                block,
                stamp
            }),
        12 => (p(), p(), msg(), any::<bool>(), prop::bool::weighted(0.7)).prop_map(
            |(p, to, msg, receipt, block)| Op::SendTo { p, to, msg, receipt, block }
        ),
        22 => (p(), branch(), prop::bool::weighted(0.7))
            .prop_map(|(p, branch, block)| Op::Recv { p, branch, block }),
        8 => (p(), branch(), prop::bool::weighted(0.7))
            .prop_map(|(p, branch, block)| Op::Lease { p, branch, block }),
        6 => (p(), prop_oneof![1 => Just(None), 3 => (0usize..8).prop_map(Some)], 0u64..6, 1u32..=3, any::<bool>())
            .prop_map(|(p, mailbox, seq, attempt, ack)| Op::Settle { p, mailbox, seq, attempt, ack }),
        10 => (any::<usize>(), prop::option::weighted(0.15, p()), prop::bool::weighted(0.15), any::<bool>())
            .prop_map(|(pick, stranger, stale, ack)| Op::SettleHeld { pick, stranger, stale, ack }),
        4 => (0u64..24).prop_map(|advance| Op::Expire { advance }),
        8 => (p(), branch(), branch(), prop::bool::weighted(0.7)).prop_map(
            |(p, first, second, block)| Op::Select { p, first, second, block }
        ),
        8 => (0usize..64).prop_map(|ticket| Op::Cancel { ticket }),
        6 => (p(), 0usize..8).prop_map(|(p, mailbox)| Op::Open { p, mailbox }),
        4 => (p(), 0usize..8).prop_map(|(p, mailbox)| Op::Close { p, mailbox }),
        2 => (p(), 0usize..8).prop_map(|(p, mailbox)| Op::Delete { p, mailbox }),
        3 => (p(), 0usize..3, attrs()).prop_map(|(p, name, attrs)| Op::Create { p, name, attrs }),
        1 => p().prop_map(|p| Op::Terminate { p }),
        3 => (p(), p()).prop_map(|(p, target)| Op::Monitor { p, target }),
        10 => (p(), prop_oneof![1 => Just(None), 2 => (0usize..8).prop_map(Some)], p(), msg(), prop::bool::weighted(0.8))
            .prop_map(|(p, mailbox, to, msg, block)| Op::Call { p, mailbox, to, msg, block }),
        10 => (any::<usize>(), prop::option::weighted(0.15, p()), msg(), prop::bool::weighted(0.2))
            .prop_map(|(pick, stranger, msg, fail)| Op::Reply { pick, stranger, msg, fail }),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop::collection::vec(creds(), 3..=4),
        prop::collection::vec((0usize..4, attrs()), 1..=3),
        prop::collection::vec(prop::bool::weighted(0.9), 12),
        prop::collection::vec(op(), 1..=60),
    )
        .prop_map(|(creds, mailboxes, opens, ops)| Scenario {
            creds,
            mailboxes,
            opens,
            ops,
        })
}

// ---------------------------------------------------------------------------------------------
// Running a scenario against both
// ---------------------------------------------------------------------------------------------

/// What the observer compares of a mailbox's statistics.
#[derive(Clone, PartialEq, Eq, Debug)]
struct BoxView {
    messages: usize,
    bytes: usize,
    total_sent: u64,
    total_received: u64,
    dropped: u64,
    dead_lettered: u64,
    duplicates_dropped: u64,
    leased: usize,
    last_send: Option<(Pid, Timestamp)>,
    last_recv: Option<(Pid, Timestamp)>,
    blocked_senders: usize,
    blocked_receivers: usize,
    openers: usize,
    owner: Owner,
    created: Timestamp,
}

struct Harness {
    engine: Engine,
    model: Model,
    /// The processes the scenario drives.
    actors: Vec<Pid>,
    /// A passive root process that reads statistics.
    observer: Pid,
    /// Every named mailbox ever created, in creation order.
    mailboxes: Vec<MailboxId>,
    /// Every ticket ever issued, in order.
    tickets: Vec<Ticket>,
    /// Tickets that have completed (each may complete once).
    completed: Vec<u64>,
    now: u64,
    log: Vec<String>,
    /// Every lease handed out: its holder, where from, and its id.
    handed: Vec<(Pid, Source, LeaseId)>,
    /// Waiting lease requests: their process and sources, by ticket.
    lease_waits: std::collections::BTreeMap<u64, (Pid, Vec<Source>)>,
    /// What the engine's journal says durable mailboxes hold: `(mailbox, seq)` to message.
    store: std::collections::BTreeMap<(u64, u64), StoredMessage>,
    /// Every request some process received, in order.
    requests: Vec<CallId>,
}

type Checked = Result<(), TestCaseError>;

impl Harness {
    fn new(scenario: &Scenario) -> Result<Harness, TestCaseError> {
        let mut h = Harness {
            engine: {
                let mut engine = Engine::new(limits());
                engine.enable_durability();
                engine
            },
            model: Model::new(),
            actors: Vec::new(),
            observer: Pid::from_raw(0),
            mailboxes: Vec::new(),
            tickets: Vec::new(),
            completed: Vec::new(),
            now: 0,
            log: Vec::new(),
            store: std::collections::BTreeMap::new(),
            handed: Vec::new(),
            lease_waits: std::collections::BTreeMap::new(),
            requests: Vec::new(),
        };
        for &creds in &scenario.creds {
            let p = h.engine.spawn(creds, ts(0));
            prop_assert_eq!(p.as_raw(), h.model.spawn(creds));
            h.actors.push(p);
        }
        h.observer = h.engine.spawn(Credentials::ROOT, ts(0));
        prop_assert_eq!(h.observer.as_raw(), h.model.spawn(Credentials::ROOT));
        for (index, &(creator, mut attrs)) in scenario.mailboxes.iter().enumerate() {
            // The first always exists, so that every scenario has a mailbox.
            if index == 0 {
                attrs.redelivery.dead_letter = None;
            }
            h.create(creator, index, attrs)?;
        }
        for (p, _) in scenario.creds.iter().enumerate() {
            for m in 0..scenario.mailboxes.len() {
                if scenario.opens[p * 3 + m] {
                    h.open(p, m)?;
                }
            }
        }
        h.check()?;
        Ok(h)
    }

    fn actor(&self, p: usize) -> Pid {
        self.actors[p % self.actors.len()]
    }

    /// Mostly a live mailbox; from 6 up, any mailbox ever created (perhaps deleted).
    fn mailbox(&self, m: usize) -> MailboxId {
        let live: Vec<MailboxId> = self
            .mailboxes
            .iter()
            .copied()
            .filter(|id| self.model.box_alive(id.as_raw()))
            .collect();
        if m < 6 && !live.is_empty() {
            live[m % live.len()]
        } else {
            self.mailboxes[m % self.mailboxes.len()]
        }
    }

    /// The message `spec` describes, for a destination with size rule `size`.
    fn message(&self, spec: MsgSpec, size: MessageSize) -> Message {
        let len = match (spec.len, size) {
            (LenSpec::Exactly(len), _) => len,
            (LenSpec::Fits(_), MessageSize::Fixed(n)) => n,
            (LenSpec::Fits(pick), MessageSize::Variable(max)) => pick % (max + 1),
        };
        let fill = (self.now % 251) as u8;
        Message::new(vec![fill; len])
            .with_type(spec.mtype)
            .with_priority(spec.priority)
    }

    fn selector(&self, spec: SelSpec) -> Selector {
        match spec {
            SelSpec::Any => Selector::Any,
            SelSpec::Type(t) => Selector::Type(t),
            SelSpec::NotType(t) => Selector::NotType(t),
            SelSpec::TypeAtMost(t) => Selector::TypeAtMost(t),
            SelSpec::From(p) => Selector::From(self.actor(p)),
        }
    }

    fn branch(&self, spec: BranchSpec) -> Branch {
        let source = match spec.mailbox {
            None => Source::Inbox,
            Some(m) => Source::Mailbox(self.mailbox(m)),
        };
        Branch::new(source, self.selector(spec.selector))
    }

    fn context(&self) -> String {
        self.log.join("\n")
    }

    fn note_send(&mut self, got: Result<SendOutcome, SendError>) -> Result<Sent, SendError> {
        got.map(|outcome| match outcome {
            SendOutcome::Sent { receiver } => Sent::Done(receiver),
            SendOutcome::Blocked(ticket) => {
                self.tickets.push(ticket);
                Sent::Waits(ticket.as_raw())
            }
        })
    }

    fn note_recv(&mut self, got: Result<RecvOutcome, SelectError>) -> Result<Got, SelectError> {
        got.map(|outcome| match outcome {
            RecvOutcome::Received { branch, message } => Got::Message(branch, message),
            RecvOutcome::Blocked(ticket) => {
                self.tickets.push(ticket);
                Got::Waits(ticket.as_raw())
            }
        })
    }

    fn create(&mut self, p: usize, name: usize, attrs: MailboxAttrs) -> Checked {
        let who = self.actor(p);
        let name = NAMES[name % NAMES.len()];
        let got = self
            .engine
            .create(who, name, attrs, ts(self.now))
            .map(MailboxId::as_raw);
        let want = self.model.create(who.as_raw(), name, attrs, self.now);
        prop_assert_eq!(
            &got,
            &want,
            "create {} by {}\n{}",
            name,
            who,
            self.context()
        );
        if let Ok(id) = got {
            self.mailboxes.push(MailboxId::from_raw(id));
        }
        Ok(())
    }

    fn open(&mut self, p: usize, m: usize) -> Checked {
        let who = self.actor(p);
        let name = self.model.bx(self.mailbox(m).as_raw()).name.expect("named");
        let got = self.engine.open(who, name).map(MailboxId::as_raw);
        let want = self.model.open(who.as_raw(), name);
        prop_assert_eq!(got, want, "open {} by {}\n{}", name, who, self.context());
        Ok(())
    }

    fn step(&mut self, op: &Op) -> Checked {
        self.now += 1;
        let now = self.now;
        self.log.push(format!("{now}: {op:?}"));
        match *op {
            Op::Send {
                p,
                mailbox,
                msg,
                receipt,
                block,
                stamp,
            } => {
                let (from, id) = (self.actor(p), self.mailbox(mailbox));
                let message = self.message(msg, self.model.bx(id.as_raw()).attrs.size);
                let delivery = if receipt {
                    Delivery::Receipt
                } else {
                    Delivery::Queued
                };
                let wait = if block { Wait::Block } else { Wait::Try };
                let got = match stamp {
                    None => self
                        .engine
                        .send(from, id, message.clone(), delivery, wait, ts(now)),
                    Some((producer, seq)) => self.engine.send_idempotent(
                        from,
                        id,
                        message.clone(),
                        delivery,
                        wait,
                        ts(now),
                        ProducerSeq::new(ProducerId::from_raw(producer), seq),
                    ),
                };
                let got = self.note_send(got);
                let want = self.model.send(
                    from.as_raw(),
                    id.as_raw(),
                    message,
                    delivery,
                    wait,
                    now,
                    stamp,
                );
                prop_assert_eq!(got, want, "\n{}", self.context());
            }
            Op::SendTo {
                p,
                to,
                msg,
                receipt,
                block,
            } => {
                let (from, to) = (self.actor(p), self.actor(to));
                let message = self.message(msg, MessageSize::Variable(MAX_MESSAGE_SIZE));
                let delivery = if receipt {
                    Delivery::Receipt
                } else {
                    Delivery::Queued
                };
                let wait = if block { Wait::Block } else { Wait::Try };
                let got = self
                    .engine
                    .send_to(from, to, message.clone(), delivery, wait, ts(now));
                let got = self.note_send(got);
                let want =
                    self.model
                        .send_to(from.as_raw(), to.as_raw(), message, delivery, wait, now);
                prop_assert_eq!(got, want, "\n{}", self.context());
            }
            Op::Recv { p, branch, block } => {
                self.recv(p, &[branch], block, false)?;
            }
            Op::Lease { p, branch, block } => {
                self.recv(p, &[branch], block, true)?;
            }
            Op::Settle {
                p,
                mailbox,
                seq,
                attempt,
                ack,
            } => {
                let who = self.actor(p);
                let source = self
                    .branch(BranchSpec {
                        mailbox,
                        selector: SelSpec::Any,
                    })
                    .source;
                let settlement = if ack {
                    Settlement::Ack
                } else {
                    Settlement::Return
                };
                // Mostly a number the process may hold: sequence numbers start at 0 per mailbox.
                let leases = [
                    LeaseId { seq, attempt },
                    LeaseId {
                        seq: seq + 1,
                        attempt,
                    },
                ];
                let got = self
                    .engine
                    .settle(who, source, &leases, settlement, ts(self.now));
                let want = self
                    .model
                    .settle(who.as_raw(), source, &leases, settlement, self.now);
                prop_assert_eq!(got, want, "settle\n{}", self.context());
            }
            Op::SettleHeld {
                pick,
                stranger,
                stale,
                ack,
            } => {
                let Some(&(holder, source, lease)) =
                    self.handed.get(pick % self.handed.len().max(1))
                else {
                    return self.check();
                };
                let who = stranger.map_or(holder, |p| self.actor(p));
                let lease = LeaseId {
                    attempt: lease.attempt - u32::from(stale && lease.attempt > 1),
                    ..lease
                };
                let settlement = if ack {
                    Settlement::Ack
                } else {
                    Settlement::Return
                };
                let got = self
                    .engine
                    .settle(who, source, &[lease], settlement, ts(self.now));
                let want = self
                    .model
                    .settle(who.as_raw(), source, &[lease], settlement, self.now);
                prop_assert_eq!(got, want, "settle held\n{}", self.context());
            }
            Op::Expire { advance } => {
                self.now += advance;
                let got = self.engine.expire_leases(ts(self.now));
                let want = self.model.expire_leases(self.now);
                prop_assert_eq!(got, want, "expire\n{}", self.context());
            }
            Op::Select {
                p,
                first,
                second,
                block,
            } => {
                self.recv(p, &[first, second], block, false)?;
            }
            Op::Cancel { ticket } => {
                // Mostly a ticket that still waits; from 48 up, any ticket ever issued.
                let waiting: Vec<Ticket> = self
                    .tickets
                    .iter()
                    .copied()
                    .filter(|&t| self.engine.is_waiting(t))
                    .collect();
                let ticket = match (ticket < 48 && !waiting.is_empty(), self.tickets.len()) {
                    (true, _) => waiting[ticket % waiting.len()],
                    (false, 0) => return self.check(),
                    (false, issued) => self.tickets[ticket % issued],
                };
                let got = self.engine.cancel(ticket, ts(now));
                let want = self.model.cancel(ticket.as_raw(), now);
                prop_assert_eq!(got, want, "\n{}", self.context());
            }
            Op::Open { p, mailbox } => self.open(p, mailbox)?,
            Op::Close { p, mailbox } => {
                // Mostly a mailbox the process has open.
                let who = self.actor(p);
                let open: Vec<MailboxId> = self
                    .mailboxes
                    .iter()
                    .copied()
                    .filter(|id| {
                        let b = self.model.bx(id.as_raw());
                        b.alive && b.opens_of(who.as_raw()) > 0
                    })
                    .collect();
                let id = if mailbox < 6 && !open.is_empty() {
                    open[mailbox % open.len()]
                } else {
                    self.mailbox(mailbox)
                };
                self.engine.close(who, id, ts(now));
                self.model.close(who.as_raw(), id.as_raw(), now);
            }
            Op::Delete { p, mailbox } => {
                let (who, id) = (self.actor(p), self.mailbox(mailbox));
                let got = self.engine.delete(who, id);
                let want = self.model.delete(who.as_raw(), id.as_raw());
                prop_assert_eq!(got, want, "\n{}", self.context());
            }
            Op::Create { p, name, attrs } => self.create(p, name, attrs)?,
            Op::Terminate { p } => {
                let who = self.actor(p);
                self.engine.terminate(who, ts(now));
                self.model.terminate(who.as_raw(), now);
            }
            Op::Monitor { p, target } => {
                let (who, target) = (self.actor(p), self.actor(target));
                let got = self.engine.monitor(who, target, ts(now));
                let want = self.model.monitor(who.as_raw(), target.as_raw(), now);
                prop_assert_eq!(got, want, "\n{}", self.context());
            }
            Op::Call {
                p,
                mailbox,
                to,
                msg,
                block,
            } => {
                let from = self.actor(p);
                let wait = if block { Wait::Block } else { Wait::Try };
                let (got, want) = match mailbox {
                    Some(m) => {
                        let id = self.mailbox(m);
                        let request = self.message(msg, self.model.bx(id.as_raw()).attrs.size);
                        let got = self.engine.call(from, id, request.clone(), wait, ts(now));
                        let want = self
                            .model
                            .call(from.as_raw(), id.as_raw(), request, wait, now);
                        (got, want)
                    }
                    None => {
                        let to = self.actor(to);
                        let request = self.message(msg, MessageSize::Variable(MAX_MESSAGE_SIZE));
                        let got = self
                            .engine
                            .call_to(from, to, request.clone(), wait, ts(now));
                        let want =
                            self.model
                                .call_to(from.as_raw(), to.as_raw(), request, wait, now);
                        (got, want)
                    }
                };
                if let Ok(ticket) = got {
                    self.tickets.push(ticket);
                }
                prop_assert_eq!(got.map(Ticket::as_raw), want, "\n{}", self.context());
            }
            Op::Reply {
                pick,
                stranger,
                msg,
                fail,
            } => {
                let call = match self.requests.len() {
                    0 => CallId::from_raw(pick as u64 % 4 + 1),
                    n => self.requests[pick % n],
                };
                let holder = self
                    .model
                    .calls
                    .iter()
                    .find(|c| c.id == call.as_raw())
                    .and_then(|c| c.holder);
                let server = match (stranger, holder) {
                    (None, Some(holder)) => pid(holder),
                    (Some(_), _) | (None, None) => self.actor(stranger.unwrap_or(p_of(pick))),
                };
                let answer = self.message(msg, MessageSize::Variable(MAX_MESSAGE_SIZE + 1));
                let reply = if fail {
                    Reply::Failure(answer.payload.clone())
                } else {
                    Reply::Answer(answer)
                };
                let got = self.engine.reply(server, call, reply.clone(), ts(now));
                let want = self.model.reply(server.as_raw(), call.as_raw(), reply);
                prop_assert_eq!(
                    got,
                    want,
                    "reply to {:?} by {}\n{}",
                    call,
                    server,
                    self.context()
                );
            }
        }
        self.check()
    }

    fn recv(&mut self, p: usize, specs: &[BranchSpec], block: bool, leased: bool) -> Checked {
        let who = self.actor(p);
        let branches: Vec<Branch> = specs.iter().map(|&s| self.branch(s)).collect();
        let wait = if block { Wait::Block } else { Wait::Try };
        let got = if leased {
            self.engine.lease(who, &branches, wait, ts(self.now))
        } else {
            self.engine.recv(who, &branches, wait, ts(self.now))
        };
        let got = self.note_recv(got);
        let want = self
            .model
            .recv(who.as_raw(), &branches, wait, self.now, leased);
        prop_assert_eq!(&got, &want, "{:?}\n{}", branches, self.context());
        let sources = branches.iter().map(|b| b.source).collect::<Vec<_>>();
        if let Ok(Got::Message(_, message)) = &got
            && let Some(call) = message.call()
        {
            self.requests.push(call);
        }
        match got {
            Ok(Got::Message(branch, message)) if leased => {
                self.handed
                    .push((who, sources[branch], LeaseId::from(&message)));
            }
            Ok(Got::Waits(ticket)) if leased => {
                self.lease_waits.insert(ticket, (who, sources));
            }
            _ => {}
        }
        Ok(())
    }

    /// Everything observable must agree after every step.
    fn check(&mut self) -> Checked {
        // Completions, per ticket.
        let mut got = Vec::new();
        while let Some((ticket, completion)) = self.engine.poll_completion() {
            got.push((ticket.as_raw(), completion));
        }
        got.sort_by_key(|(ticket, _)| *ticket);
        let mut want = std::mem::take(&mut self.model.completions);
        want.sort_by_key(|(ticket, _)| *ticket);
        prop_assert_eq!(&got, &want, "completions\n{}", self.context());
        for (ticket, _) in &got {
            prop_assert!(
                !self.completed.contains(ticket),
                "ticket {} completed twice\n{}",
                ticket,
                self.context()
            );
            self.completed.push(*ticket);
        }
        for (_, completion) in &got {
            if let Completion::Received { message, .. } = completion
                && let Some(call) = message.call()
            {
                self.requests.push(call);
            }
        }
        for (ticket, completion) in &got {
            if let (Some((who, sources)), Completion::Received { branch, message }) =
                (self.lease_waits.remove(ticket), completion)
            {
                self.handed
                    .push((who, sources[*branch], LeaseId::from(message)));
            }
        }
        // Which tickets still wait.
        for &ticket in &self.tickets {
            prop_assert_eq!(
                self.engine.is_waiting(ticket),
                self.model.is_waiting(ticket.as_raw()),
                "is_waiting({:?})\n{}",
                ticket,
                self.context()
            );
        }
        // Engine-wide statistics and conservation.
        let stats = self.engine.stats();
        let m = &self.model;
        let want = EngineStats {
            processes: m.procs.iter().filter(|p| p.alive).count(),
            mailboxes: m
                .boxes
                .iter()
                .filter(|b| b.alive && b.name.is_some())
                .count(),
            queued_messages: m.queued_messages(),
            queued_bytes: m.queued_bytes(),
            max_queued_bytes: MAX_QUEUED_BYTES,
            total_sent: m.total_sent,
            total_received: m.total_received,
            total_dropped: m.total_dropped,
            total_dead_lettered: m.total_dead_lettered,
            total_late_replies: m.late_replies,
        };
        prop_assert_eq!(stats, want, "stats\n{}", self.context());
        prop_assert_eq!(
            self.engine.calls_in_flight(),
            m.calls.len(),
            "calls in flight\n{}",
            self.context()
        );
        prop_assert_eq!(
            stats.total_sent + m.fanned,
            stats.total_received
                + stats.total_dropped
                + stats.total_dead_lettered
                + stats.queued_messages as u64
                + m.discarded,
            "conservation\n{}",
            self.context()
        );
        // The journal: applied in order, it holds exactly what each durable mailbox holds —
        // queued or on lease — with each message's delivery count.
        for change in self.engine.drain_journal() {
            match change {
                Change::Mailbox(_) => {}
                Change::Deleted(id) => {
                    let id = id.as_raw();
                    self.store.retain(|&(mailbox, _), _| mailbox != id);
                }
                Change::Stored {
                    mailbox,
                    seq,
                    message,
                } => {
                    self.store.insert((mailbox.as_raw(), seq), message);
                }
                Change::Removed { mailbox, seq } => {
                    self.store.remove(&(mailbox.as_raw(), seq));
                }
                // The model sends no idempotent sends (tests/idempotence.rs pins them).
                Change::Producer { .. } | Change::ProducerForgotten { .. } => {}
            }
        }
        let mut held = std::collections::BTreeMap::new();
        for id in m.alive_ids() {
            let b = m.bx(id);
            if b.attrs.durability != Durability::Disk {
                continue;
            }
            let queued = b.queue.iter().map(|q| (q, q.deliveries));
            let leased = b.leases.iter().map(|l| (&l.q, l.q.deliveries));
            // A request is never stored: it lives and dies with its caller.
            let stored = queued
                .chain(leased)
                .filter(|(q, _)| q.kind == MessageKind::User);
            for (q, deliveries) in stored {
                let stored = StoredMessage {
                    message: q.message.clone(),
                    sender: pid(q.sender),
                    sent_at: ts(q.sent_at),
                    deliveries,
                };
                held.insert((id, q.seq), stored);
            }
        }
        prop_assert_eq!(&self.store, &held, "journal\n{}", self.context());
        // Per-mailbox statistics (while the observer lives).
        let observing = self.engine.is_alive(self.observer);
        for &id in self.mailboxes.iter().filter(|_| observing) {
            let got = self.engine.stat(self.observer, id).map(|s| BoxView {
                messages: s.messages,
                bytes: s.bytes,
                total_sent: s.total_sent,
                total_received: s.total_received,
                dropped: s.dropped,
                dead_lettered: s.dead_lettered,
                duplicates_dropped: s.duplicates_dropped,
                leased: s.leased,
                last_send: s.last_send,
                last_recv: s.last_recv,
                blocked_senders: s.blocked_senders,
                blocked_receivers: s.blocked_receivers,
                openers: s.openers,
                owner: s.owner,
                created: s.created,
            });
            let want = if m.box_alive(id.as_raw()) {
                let b = m.bx(id.as_raw());
                let mut receivers: Vec<u64> = b.receivers.iter().map(|w| w.ticket).collect();
                receivers.sort_unstable();
                receivers.dedup();
                let (owed, owed_bytes) = b.owed();
                Ok(BoxView {
                    messages: b.queue.len() + owed,
                    bytes: b.bytes() + owed_bytes,
                    total_sent: b.sent,
                    total_received: b.received,
                    dropped: b.dropped,
                    dead_lettered: b.dead_lettered,
                    duplicates_dropped: b.duplicates_dropped,
                    leased: b.leases.len(),
                    last_send: b.last_send.map(|(p, t)| (pid(p), ts(t))),
                    last_recv: b.last_recv.map(|(p, t)| (pid(p), ts(t))),
                    blocked_senders: b.senders.len(),
                    blocked_receivers: receivers.len(),
                    openers: b.opens.len(),
                    owner: b.owner,
                    created: ts(b.created),
                })
            } else {
                Err(AdminError::Gone)
            };
            prop_assert_eq!(got, want, "stat {}\n{}", id, self.context());
        }
        // Processes: inbox lengths, owned mailboxes, waiting operations.
        let got: Vec<(Pid, usize, usize, usize)> = self
            .engine
            .processes()
            .into_iter()
            .map(|p| (p.pid, p.inbox_messages, p.owned_mailboxes, p.waiting))
            .collect();
        let want: Vec<(Pid, usize, usize, usize)> = (1..=m.procs.len() as u64)
            .filter(|&p| m.live(p).is_some())
            .map(|p| {
                let inbox = m.bx(m.procs[p as usize - 1].inbox).queue.len();
                let owned = m
                    .boxes
                    .iter()
                    .filter(|b| b.alive && b.name.is_some() && b.owner == Owner::Process(pid(p)))
                    .count();
                (pid(p), inbox, owned, m.waiting_of(p))
            })
            .collect();
        prop_assert_eq!(got, want, "processes\n{}", self.context());
        Ok(())
    }

    /// Deletes every mailbox and terminates every process: afterwards nothing may be queued or
    /// waiting, and every accepted message must have been received, dropped or discarded.
    fn teardown(&mut self) -> Checked {
        self.log.push("teardown".into());
        for id in self.mailboxes.clone() {
            self.now += 1;
            let got = self.engine.delete(self.observer, id);
            let want = self.model.delete(self.observer.as_raw(), id.as_raw());
            prop_assert_eq!(got, want, "teardown delete {}\n{}", id, self.context());
            self.check()?;
        }
        for p in self.actors.clone().into_iter().chain([self.observer]) {
            self.now += 1;
            self.engine.terminate(p, ts(self.now));
            self.model.terminate(p.as_raw(), self.now);
            self.check()?;
        }
        let stats = self.engine.stats();
        prop_assert_eq!(stats.queued_messages, 0);
        prop_assert_eq!(
            stats.total_sent + self.model.fanned,
            stats.total_received
                + stats.total_dropped
                + stats.total_dead_lettered
                + self.model.discarded
        );
        for &ticket in &self.tickets {
            prop_assert!(!self.engine.is_waiting(ticket));
        }
        Ok(())
    }
}

/// A process index from a pick.
fn p_of(pick: usize) -> usize {
    pick % 4
}

fn run(scenario: &Scenario) -> Checked {
    let mut h = Harness::new(scenario)?;
    for op in &scenario.ops {
        h.step(op)?;
    }
    h.teardown()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("MODEL_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(3000),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn engine_agrees_with_the_reference_model(scenario in scenario()) {
        run(&scenario)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Regression scenarios: engine bugs this model found or confirmed, replayed through the same
// harness (so the model checks every step) plus a direct assertion of what each one pins.
// ---------------------------------------------------------------------------------------------

/// Runs `ops` with three processes of one uid and the mailboxes `attrs` (created by process 2,
/// opened by everyone), checking every step against the model; returns the harness.
fn replay(attrs: &[MailboxAttrs], ops: Vec<Op>) -> Harness {
    let scenario = Scenario {
        creds: vec![Credentials::new(1000, 100); 3],
        mailboxes: attrs.iter().map(|&a| (2, a)).collect(),
        opens: vec![true; 12],
        ops,
    };
    let mut h = Harness::new(&scenario).expect("setup agrees with the model");
    for op in &scenario.ops {
        if let Err(error) = h.step(op) {
            panic!("{error}");
        }
    }
    h
}

/// A system-owned shared mailbox holding at most 3 messages and 4 bytes.
fn small_shared() -> MailboxAttrs {
    MailboxAttrs {
        capacity: Capacity::bounded(3, 4),
        size: MessageSize::Variable(4),
        mode: Mode::new(0o666),
        ..MailboxAttrs::system_owned()
    }
}

fn send(p: usize, len: usize, mtype: i64, block: bool) -> Op {
    Op::Send {
        p,
        mailbox: 0,
        msg: MsgSpec {
            len: LenSpec::Exactly(len),
            mtype,
            priority: 0,
        },
        receipt: false,
        block,
        stamp: None,
    }
}

fn recv_on(mailbox: usize, selector: SelSpec) -> BranchSpec {
    BranchSpec {
        mailbox: Some(mailbox),
        selector,
    }
}

#[test]
fn close_hands_the_room_a_withdrawn_sender_waited_for_to_the_next_sender() {
    // 2 of 4 bytes queued; process 0 waits to send 4 bytes, process 1 waits behind it with 1 byte.
    // Process 0 closes: its send fails with `Gone`, and process 1's byte now fits and must go in.
    // It used to stay blocked (and a `Try` send got `Full` with room free) until a receive.
    let h = replay(
        &[small_shared()],
        vec![
            send(2, 2, 2, false),
            send(0, 4, 1, true),
            send(1, 1, 1, true),
            Op::Close { p: 0, mailbox: 0 },
            send(2, 1, 1, false),
        ],
    );
    let stats = h.engine.stats();
    assert_eq!((stats.queued_messages, stats.queued_bytes), (3, 4));
    assert!(!h.engine.is_waiting(h.tickets[1]));
}

#[test]
fn terminate_withdraws_all_its_waiters_before_handing_on_room() {
    // Process 0 waits to send 4 bytes (type 3) and to receive type 1; process 1 waits behind it
    // to send 1 byte of type 1. When process 0 terminates, the room its send held goes to process
    // 1, whose message used to be handed straight to process 0's own dying receive, and lost.
    let h = replay(
        &[small_shared()],
        vec![
            send(2, 2, 2, false),
            send(0, 4, 3, true),
            send(1, 1, 1, true),
            Op::Recv {
                p: 0,
                branch: recv_on(0, SelSpec::Type(1)),
                block: true,
            },
            Op::Terminate { p: 0 },
        ],
    );
    let stats = h.engine.stats();
    assert_eq!((stats.queued_messages, stats.total_received), (2, 0));
}

#[test]
fn terminate_deletes_owned_mailboxes_in_a_fixed_order() {
    // Process 2 owns both mailboxes; process 0 selects over them (the later one first). Process 2
    // terminates: the select fails with `Gone` on the branch of the mailbox deleted first, by id.
    // The engine used to visit them in hash order, so the branch changed from run to run.
    let owned = MailboxAttrs {
        ownership: Ownership::Process,
        receivers: Receivers::Shared(Dispatch::FirstWaiting),
        ..small_shared()
    };
    for _ in 0..32 {
        let h = replay(
            &[owned, owned],
            vec![
                Op::Select {
                    p: 0,
                    first: recv_on(1, SelSpec::Any),
                    second: recv_on(0, SelSpec::Any),
                    block: true,
                },
                Op::Terminate { p: 2 },
            ],
        );
        assert!(!h.engine.is_waiting(h.tickets[0]));
    }
}

#[test]
fn a_select_counts_once_among_a_mailboxs_blocked_receivers() {
    // Process 0 waits for type 1 or type 2 on the same mailbox: one waiting receive, not two.
    let h = replay(
        &[small_shared()],
        vec![Op::Select {
            p: 0,
            first: recv_on(0, SelSpec::Type(1)),
            second: recv_on(0, SelSpec::Type(2)),
            block: true,
        }],
    );
    let stats = h.engine.stat(h.observer, h.mailboxes[0]).expect("live");
    assert_eq!(stats.blocked_receivers, 1);
}

//! The engine: every mailbox, inbox and process, and the rules between them.
//!
//! The engine is a deterministic state machine. Operations either complete at once, fail, or
//! return a [`Ticket`]: the operation now waits inside the engine. Later operations (a send, a
//! termination, a delete, ...) complete waiting tickets; the driver collects those completions
//! with [`Engine::poll_completion`] after every call and wakes whoever waits on them. A driver
//! whose deadline passes calls [`Engine::cancel`], which hands back an unsent message.
//!
//! Time is a parameter (`now`), used only for statistics and send times; deadlines belong to the
//! driver. The engine never blocks, never reads a clock and never does I/O.
//!
//! Invariant kept by every operation: no waiting receiver has a matching message queued in any
//! mailbox it waits on. Every message is offered to waiting receivers before it is queued.

mod broadcast;
mod calls;
mod census;
mod delegation;
mod idempotence;
mod journal;
mod leases;
mod mailboxes;
mod paging;
mod peek;
mod processes;
mod purge;
mod recv;
mod send;
mod usage;
mod waits;

pub use census::Census;
pub use delegation::{Delegation, Handback};
pub use journal::{Change, DurableMailbox, StoredMessage};
pub use leases::{LeaseId, Settlement};
pub use paging::{Need, PageIn, ResidentBudget, keeps_tail_on_disk};

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use rustc_hash::FxHashMap;

use crate::limits::{MESSAGE_CHARGE, message_charge};
use crate::mailbox::{Kind, Mailbox, Taking, WaitingReceiver};
use crate::process::Process;
use crate::queue::Entry;
use crate::{
    CallId, Completion, Credentials, Limits, MailboxId, Message, MessageKind, Name, Pid, Received,
    RecvError, SelectError, SendError, SendErrorKind, Ticket, Timestamp,
};

/// Where a waiting ticket waits, so that it can be found, completed or cancelled; and since
/// when, for `ps`.
#[derive(Debug)]
enum Waiter {
    /// A receive or select, registered in each mailbox of its branches.
    Recv {
        pid: Pid,
        mailboxes: Vec<MailboxId>,
        from: Vec<Pid>,
        since: Timestamp,
    },
    /// A send waiting for room or a rendezvous, in the mailbox's waiting senders.
    Send {
        pid: Pid,
        mailbox: MailboxId,
        since: Timestamp,
    },
    /// A send whose message is queued, waiting for a receiver to take it.
    Receipt {
        pid: Pid,
        mailbox: MailboxId,
        since: Timestamp,
    },
    /// A call, from its send until its answer: its request waits with the senders of `mailbox`,
    /// or is queued there, or a server holds it (see [`calls`]).
    Call {
        pid: Pid,
        call: CallId,
        mailbox: MailboxId,
        since: Timestamp,
    },
}

impl Waiter {
    fn pid(&self) -> Pid {
        match self {
            Waiter::Recv { pid, .. }
            | Waiter::Send { pid, .. }
            | Waiter::Receipt { pid, .. }
            | Waiter::Call { pid, .. } => *pid,
        }
    }
}

/// The mailbox engine. See the module docs.
#[derive(Debug)]
pub struct Engine {
    limits: Limits,
    next_pid: u64,
    next_mailbox: u64,
    next_ticket: u64,
    // Engine-allocated keys take a fast hasher; names, which come from users, keep SipHash.
    processes: FxHashMap<Pid, Process>,
    process_names: HashMap<Name, Pid>,
    mailboxes: FxHashMap<MailboxId, Mailbox>,
    mailbox_names: HashMap<Name, MailboxId>,
    mailboxes_per_uid: FxHashMap<u32, usize>,
    waiters: BTreeMap<Ticket, Waiter>,
    /// Receivers waiting with a `From(pid)` selector, by that pid: `(ticket, branch)`.
    from_index: BTreeMap<Pid, Vec<(Ticket, usize)>>,
    completions: VecDeque<(Ticket, Completion)>,
    queued_messages: usize,
    queued_bytes: usize,
    /// The charge (see [`Limits`]) of the messages waiting senders hold.
    waiting_charge: usize,
    total_sent: u64,
    total_received: u64,
    total_dropped: u64,
    total_dead_lettered: u64,
    /// Delegated mailboxes, with the bytes each reserves against the quota.
    delegated: FxHashMap<MailboxId, usize>,
    /// What the delegated mailboxes reserve against the quota, in all.
    reserved_bytes: usize,
    /// The charge of the messages on lease.
    leased_charge: usize,
    /// Mailboxes some live mailbox names as its dead-letter mailbox, with how many do: never
    /// delegated, so that a message can always be moved in.
    dead_letter_targets: FxHashMap<MailboxId, usize>,
    /// Changes to durable mailboxes not yet drained by the host.
    journal: Vec<Change>,
    /// Whether the host keeps durable mailboxes on disk (a daemon with a state directory).
    durable_store: bool,
    /// Leases with a lease time, by when they end: `(expires, mailbox, seq)`.
    lease_expiries: BTreeSet<(Timestamp, MailboxId, u64)>,
    next_call: u64,
    /// Every call whose request was sent and not yet answered, or whose server still holds a
    /// revoked reply right.
    calls: FxHashMap<CallId, calls::Call>,
    total_late_replies: u64,
    /// Mailboxes with messages on the host's disk rather than here (see [`paging`]).
    tailed: BTreeSet<MailboxId>,
    /// How much of such a mailbox is kept here.
    resident_budget: ResidentBudget,
}

impl Default for Engine {
    fn default() -> Engine {
        Engine::new(Limits::default())
    }
}

impl Engine {
    /// An engine with no processes and no mailboxes.
    pub fn new(limits: Limits) -> Engine {
        Engine {
            limits,
            next_pid: 1,
            next_mailbox: 1,
            next_ticket: 1,
            processes: FxHashMap::default(),
            process_names: HashMap::new(),
            mailboxes: FxHashMap::default(),
            mailbox_names: HashMap::new(),
            mailboxes_per_uid: FxHashMap::default(),
            waiters: BTreeMap::new(),
            from_index: BTreeMap::new(),
            completions: VecDeque::new(),
            queued_messages: 0,
            queued_bytes: 0,
            waiting_charge: 0,
            total_sent: 0,
            total_received: 0,
            total_dropped: 0,
            total_dead_lettered: 0,
            delegated: FxHashMap::default(),
            reserved_bytes: 0,
            leased_charge: 0,
            dead_letter_targets: FxHashMap::default(),
            journal: Vec::new(),
            durable_store: false,
            lease_expiries: BTreeSet::new(),
            next_call: 1,
            calls: FxHashMap::default(),
            total_late_replies: 0,
            tailed: BTreeSet::new(),
            resident_budget: ResidentBudget::DEFAULT,
        }
    }

    /// The limits this engine enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The next completion of a waiting ticket, oldest first. Drivers drain this after every
    /// call that may have changed state.
    pub fn poll_completion(&mut self) -> Option<(Ticket, Completion)> {
        self.completions.pop_front()
    }

    /// Whether `ticket` is still waiting.
    pub fn is_waiting(&self, ticket: Ticket) -> bool {
        self.waiters.contains_key(&ticket)
    }

    /// What the messages the engine holds are charged against the quota now, with what lent
    /// lanes reserve: the accounting rule of [`Limits`].
    fn quota_used(&self) -> usize {
        self.queued_bytes
            .saturating_add(self.queued_messages.saturating_mul(MESSAGE_CHARGE))
            .saturating_add(self.waiting_charge)
            .saturating_add(self.leased_charge)
            .saturating_add(self.reserved_bytes)
    }

    /// Whether `charge` more bytes fit in the quota once `freed` have been released.
    fn quota_fits(&self, charge: usize, freed: usize) -> bool {
        self.quota_used()
            .saturating_sub(freed)
            .saturating_add(charge)
            <= self.limits.max_queued_bytes
    }

    /// A waiting sender's message leaves the engine's waiting senders: its charge is released.
    fn release_waiting(&mut self, message: &Message) {
        self.waiting_charge -= message_charge(message.len());
    }

    fn new_ticket(&mut self) -> Ticket {
        let ticket = Ticket::from_raw(self.next_ticket);
        self.next_ticket += 1;
        ticket
    }

    fn new_mailbox_id(&mut self) -> MailboxId {
        let id = MailboxId::from_raw(self.next_mailbox);
        self.next_mailbox += 1;
        id
    }

    fn creds(&self, pid: Pid) -> Option<Credentials> {
        self.processes.get(&pid).map(|p| p.creds)
    }

    /// Whether `pid` was a process that has terminated (as opposed to one that never existed).
    fn has_terminated(&self, pid: Pid) -> bool {
        pid.as_raw() >= 1 && pid.as_raw() < self.next_pid && !self.processes.contains_key(&pid)
    }

    fn complete(&mut self, ticket: Ticket, completion: Completion) {
        self.completions.push_back((ticket, completion));
    }

    /// Assigns the next sequence number of `mailbox` to a message and counts it as sent.
    fn accept(
        &mut self,
        mailbox: MailboxId,
        sender: Pid,
        message: Message,
        sent_at: Timestamp,
        receipt: Option<Ticket>,
        kind: MessageKind,
    ) -> Entry {
        let mb = live(&mut self.mailboxes, mailbox);
        let seq = mb.take_seq();
        mb.counters.sent += 1;
        mb.counters.last_send = Some((sender, sent_at));
        self.total_sent += 1;
        let entry = Entry {
            message,
            sender,
            seq,
            sent_at,
            receipt,
            kind,
            deliveries: 0,
        };
        self.journal_stored(mailbox, &entry);
        entry
    }

    fn push_entry(&mut self, mailbox: MailboxId, entry: Entry) {
        self.queued_messages += 1;
        self.queued_bytes += entry.message.len();
        let mb = live(&mut self.mailboxes, mailbox);
        mb.queue.push(entry);
    }

    fn remove_entry(&mut self, mailbox: MailboxId, slot: usize) -> Entry {
        let mb = live(&mut self.mailboxes, mailbox);
        let entry = mb.queue.remove(slot);
        self.queued_messages -= 1;
        self.queued_bytes -= entry.message.len();
        self.journal_removed(mailbox, entry.seq);
        entry
    }

    /// A message leaves `mailbox` for `receiver`: statistics, round-robin position, and the
    /// sender's receipt. A leased message stays with the mailbox too, until it is settled.
    fn hand_over(
        &mut self,
        mailbox: MailboxId,
        receiver: Pid,
        mut entry: Entry,
        now: Timestamp,
        taking: Taking,
    ) -> Received {
        let mb = live(&mut self.mailboxes, mailbox);
        mb.counters.received += 1;
        mb.counters.last_recv = Some((receiver, now));
        mb.last_served = Some(receiver);
        let rendezvous = mb.attrs.capacity == crate::Capacity::Zero;
        self.total_received += 1;
        if entry.kind == MessageKind::Down {
            if let Some(process) = self.processes.get_mut(&receiver) {
                process.downs_queued.remove(&entry.sender);
            }
        }
        // Taken: a message that comes back (returned from a lease) has no receipt left to give.
        if let Some(ticket) = entry.receipt.take() {
            self.receipt_taken(ticket, receiver);
        }
        entry.deliveries = entry.deliveries.saturating_add(1);
        let received = |message| Received {
            message,
            sender: entry.sender,
            seq: entry.seq,
            sent_at: entry.sent_at,
            kind: entry.kind,
            attempt: entry.deliveries,
        };
        // A down notification is never leased: it stands for a fact, not work to hand back,
        // and it is bounded by being queued at most once per watcher. Nor is a rendezvous: it
        // completed when the receiver got the message, and there is no queue to return it to.
        match taking {
            Taking::Leased if entry.kind == MessageKind::User && !rendezvous => {
                let copy = received(entry.message.clone());
                self.journal_stored(mailbox, &entry);
                self.keep_leased(mailbox, receiver, entry, now);
                copy
            }
            Taking::Leased | Taking::Outright => {
                self.journal_removed(mailbox, entry.seq);
                received(entry.message)
            }
        }
    }

    /// Gives `entry` to the waiting receiver the dispatch policy picks; hands it back if no
    /// waiting receiver matches. Returns the receiver on success.
    /// A message behind a tail on disk is never offered: older ones must go first.
    fn offer(&mut self, mailbox: MailboxId, entry: Entry, now: Timestamp) -> Result<Pid, Entry> {
        let mb = &self.mailboxes[&mailbox];
        if mb.queue.is_behind_tail(entry.seq) {
            return Err(entry);
        }
        let chosen = mb.choose_receiver(entry.message.mtype, entry.sender);
        match chosen {
            Some(waiter) => {
                self.deliver(mailbox, waiter, entry, now);
                Ok(waiter.pid)
            }
            None => Err(entry),
        }
    }

    fn deliver(
        &mut self,
        mailbox: MailboxId,
        waiter: WaitingReceiver,
        entry: Entry,
        now: Timestamp,
    ) {
        self.forget_recv_waiter(waiter.ticket);
        let message = self.hand_over(mailbox, waiter.pid, entry, now, waiter.taking);
        self.complete(
            waiter.ticket,
            Completion::Received {
                branch: waiter.branch,
                message,
            },
        );
    }

    /// Offers `entry` to waiting receivers and queues it if none takes it.
    fn offer_or_queue(&mut self, mailbox: MailboxId, entry: Entry, now: Timestamp) {
        if let Err(entry) = self.offer(mailbox, entry, now) {
            self.push_entry(mailbox, entry);
        }
    }

    /// Removes a waiting receive from every mailbox it waits on.
    fn forget_recv_waiter(&mut self, ticket: Ticket) {
        let Some(Waiter::Recv {
            mailboxes, from, ..
        }) = self.waiters.remove(&ticket)
        else {
            return;
        };
        for id in mailboxes {
            if let Some(mb) = self.mailboxes.get_mut(&id) {
                mb.forget_receiver(ticket);
            }
        }
        for pid in from {
            if let Some(list) = self.from_index.get_mut(&pid) {
                list.retain(|(t, _)| *t != ticket);
                if list.is_empty() {
                    self.from_index.remove(&pid);
                }
            }
        }
    }

    fn fail_recv_waiter(&mut self, ticket: Ticket, branch: usize, error: RecvError) {
        if self.waiters.contains_key(&ticket) {
            self.forget_recv_waiter(ticket);
            self.complete(
                ticket,
                Completion::RecvFailed(SelectError { branch, error }),
            );
        }
    }

    /// Moves waiting senders into the queue while the first of them fits: strict FIFO among
    /// senders, so a large message is not starved by smaller ones behind it.
    fn admit_waiting_senders(&mut self, mailbox: MailboxId, now: Timestamp) {
        loop {
            let Some(mb) = self.mailboxes.get_mut(&mailbox) else {
                return;
            };
            if mb.attrs.capacity == crate::Capacity::Zero {
                return;
            }
            match mb.blocked_senders.front() {
                Some(head) if mb.has_room_for(head.message.len()) => {}
                _ => return,
            }
            let blocked = mb.blocked_senders.pop_front().expect("front exists");
            if mb.is_broadcast() {
                self.admit_broadcast(mailbox, blocked, now);
                continue;
            }
            // Its charge moves from the waiting senders to the queue: the quota was checked
            // when it began to wait.
            self.release_waiting(&blocked.message);
            let receipt = blocked.wants_receipt.then_some(blocked.ticket);
            let entry = self.accept(
                mailbox,
                blocked.sender,
                blocked.message,
                blocked.sent_at,
                receipt,
                blocked.kind,
            );
            if let Some(stamp) = blocked.stamp {
                self.record_producer(mailbox, stamp, None);
            }
            if let MessageKind::Request(_) = blocked.kind {
                // The call's waiter stays as it is: the request is queued now.
            } else if blocked.wants_receipt {
                let waiter = Waiter::Receipt {
                    pid: blocked.sender,
                    mailbox,
                    since: blocked.sent_at,
                };
                self.waiters.insert(blocked.ticket, waiter);
            } else {
                self.waiters.remove(&blocked.ticket);
                self.complete(blocked.ticket, Completion::Sent { receiver: None });
            }
            self.offer_or_queue(mailbox, entry, now);
        }
    }

    /// Deletes `mailbox`: waiting receivers get `recv_error`, waiting senders and senders awaiting
    /// a receipt get `send_error` with their message back, queued messages are discarded.
    fn destroy(&mut self, mailbox: MailboxId, send_error: SendErrorKind, recv_error: RecvError) {
        self.journal_deleted(mailbox);
        self.clear_broadcast(mailbox, send_error);
        let Some(mut mb) = self.mailboxes.remove(&mailbox) else {
            return;
        };
        if let Some(target) = mb.attrs.redelivery.dead_letter
            && let Some(count) = self.dead_letter_targets.get_mut(&target)
        {
            *count -= 1;
            if *count == 0 {
                self.dead_letter_targets.remove(&target);
            }
        }
        if let Kind::Named(name) = &mb.kind {
            self.mailbox_names.remove(name);
            if let Some(count) = self.mailboxes_per_uid.get_mut(&mb.quota_uid) {
                *count = count.saturating_sub(1);
            }
        }
        if let crate::Owner::Process(owner) = mb.owner {
            if let Some(process) = self.processes.get_mut(&owner) {
                process.owned.remove(&mailbox);
            }
        }
        for pid in mb.opens.keys() {
            if let Some(process) = self.processes.get_mut(pid) {
                process.opened.remove(&mailbox);
            }
        }
        for waiter in std::mem::take(&mut mb.receivers) {
            self.fail_recv_waiter(waiter.ticket, waiter.branch, recv_error);
        }
        for blocked in std::mem::take(&mut mb.blocked_senders) {
            self.release_waiting(&blocked.message);
            self.fail_sender(blocked.ticket, send_error, blocked.message);
        }
        for lease in std::mem::take(&mut mb.leases).into_values() {
            self.leased_charge -= message_charge(lease.entry.message.len());
            if let Some(at) = lease.expires {
                self.lease_expiries.remove(&(at, mailbox, lease.entry.seq));
            }
        }
        if let Some(tail) = mb.queue.tail() {
            // Its stored messages go with the mailbox's record (the journal's `Deleted`).
            self.queued_messages -= tail.messages;
            self.queued_bytes -= tail.bytes;
            self.tailed.remove(&mailbox);
        }
        for entry in mb.queue.drain() {
            self.queued_messages -= 1;
            self.queued_bytes -= entry.message.len();
            if let Some(ticket) = entry.receipt {
                self.fail_sender(ticket, send_error, entry.message);
            }
        }
    }

    /// A message whose sender waits for it to be taken (a receipt, a call) was taken by
    /// `receiver`: a receipt completes; a call's request is now held, and its reply right with it.
    fn receipt_taken(&mut self, ticket: Ticket, receiver: Pid) {
        if let Some(&Waiter::Call { call, .. }) = self.waiters.get(&ticket) {
            self.hold(call, receiver);
            return;
        }
        self.waiters.remove(&ticket);
        self.complete(
            ticket,
            Completion::Sent {
                receiver: Some(receiver),
            },
        );
    }

    /// A message whose sender waits on it (blocked, or awaiting a receipt or an answer) will never
    /// be taken: the send or call fails with `kind`, its message handed back.
    fn fail_sender(&mut self, ticket: Ticket, kind: SendErrorKind, message: Message) {
        match self.waiters.remove(&ticket) {
            Some(Waiter::Call { call, .. }) => {
                self.calls.remove(&call);
                let error = crate::CallError::new(kind.into(), message);
                self.complete(ticket, Completion::CallFailed(error));
            }
            _ => {
                let error = SendError::new(kind, message);
                self.complete(ticket, Completion::SendFailed(error));
            }
        }
    }
}

/// The mailbox `id` names, which the calling operation has already found live.
///
/// Every engine operation looks its mailbox up first (answering `NotFound` when it is gone), and
/// nothing between that lookup and this call deletes it: the engine is single-threaded and
/// finishes one operation before the next. A miss is therefore a bug in the engine, never a
/// consequence of input, and stopping at once is better than going on with tables that disagree.
fn live(mailboxes: &mut FxHashMap<MailboxId, Mailbox>, id: MailboxId) -> &mut Mailbox {
    mailboxes
        .get_mut(&id)
        .expect("an engine operation lost the mailbox it had looked up")
}

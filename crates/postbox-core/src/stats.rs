//! Statistics, in the spirit of System V's `msqid_ds`.

use crate::{MailboxAttrs, MailboxId, Mode, Owner, Pid, Timestamp};

/// A snapshot of one mailbox.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MailboxStats {
    /// The mailbox id.
    pub id: MailboxId,
    /// Its name.
    pub name: String,
    /// Its attributes (mode as currently set; byte capacity as currently set).
    pub attrs: MailboxAttrs,
    /// The current owner.
    pub owner: Owner,
    /// The uid permission checks treat as the owner's.
    pub uid: u32,
    /// The gid permission checks treat as the owner's.
    pub gid: u32,
    /// The current permission bits.
    pub mode: Mode,
    /// Messages queued now.
    pub messages: usize,
    /// Payload bytes queued now.
    pub bytes: usize,
    /// Messages accepted since creation.
    pub total_sent: u64,
    /// Messages received since creation.
    pub total_received: u64,
    /// Messages discarded since creation: by drop-oldest overflow, or after their last
    /// delivery (see [`Redelivery`](crate::Redelivery)) with no dead-letter mailbox to go to.
    pub dropped: u64,
    /// The last process to send, and when.
    pub last_send: Option<(Pid, Timestamp)>,
    /// The last process to receive, and when.
    pub last_recv: Option<(Pid, Timestamp)>,
    /// When the mailbox was created.
    pub created: Timestamp,
    /// When its attributes, owner or rights last changed.
    pub changed: Timestamp,
    /// Senders waiting now (for room, or for a rendezvous).
    pub blocked_senders: usize,
    /// Receivers waiting now.
    pub blocked_receivers: usize,
    /// Processes that have it open now.
    pub openers: usize,
    /// Messages on lease now: handed out, not yet acknowledged (not counted in `messages`).
    pub leased: usize,
    /// Messages moved to the dead-letter mailbox since creation.
    pub dead_lettered: u64,
    /// Idempotent sends dropped since creation because they repeated a send the mailbox had
    /// accepted (a retry whose first answer was lost); not counted in `total_sent`.
    pub duplicates_dropped: u64,
}

/// A snapshot of the whole engine.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EngineStats {
    /// Live processes.
    pub processes: usize,
    /// Named mailboxes.
    pub mailboxes: usize,
    /// Messages queued in mailboxes and inboxes.
    pub queued_messages: usize,
    /// Payload bytes queued in mailboxes and inboxes.
    pub queued_bytes: usize,
    /// The queued-bytes quota.
    pub max_queued_bytes: usize,
    /// Messages accepted since the engine started.
    pub total_sent: u64,
    /// Messages received since the engine started.
    pub total_received: u64,
    /// Messages discarded since the engine started: by drop-oldest overflow, or after their
    /// last delivery with no dead-letter mailbox.
    pub total_dropped: u64,
    /// Messages moved to a dead-letter mailbox since the engine started (each counts as sent
    /// again there).
    pub total_dead_lettered: u64,
    /// Answers dropped since the engine started because their caller had stopped waiting
    /// (timeout, cancel, termination) before they came.
    pub total_late_replies: u64,
}

/// A snapshot of one process, for `ps`.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ProcessInfo {
    /// Its pid.
    pub pid: Pid,
    /// Its registered name.
    pub name: Option<String>,
    /// Its user id.
    pub uid: u32,
    /// Its group id.
    pub gid: u32,
    /// Messages waiting in its inbox.
    pub inbox_messages: usize,
    /// Mailboxes it owns.
    pub owned_mailboxes: usize,
    /// Operations it has waiting.
    pub waiting: usize,
    /// Its OS process id, when its transport knows it (a daemon's local peers).
    pub os_pid: Option<u32>,
    /// Its OS command line, when its transport knows it.
    pub command: Option<String>,
    /// When it started.
    pub started: Timestamp,
    /// What each of its waiting operations waits for, oldest first.
    pub waits: Vec<WaitInfo>,
}

/// One waiting operation of a process, for `ps`.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct WaitInfo {
    /// What kind of operation waits.
    pub kind: WaitKind,
    /// What it waits on: one target, or for a select one per branch, in branch order.
    pub on: Vec<WaitTarget>,
    /// Since when.
    pub since: Timestamp,
}

/// What kind of operation waits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum WaitKind {
    /// A receive, or a select over several sources, for a matching message.
    Recv,
    /// A receive on lease, for a matching message.
    Lease,
    /// A send, for room (bounded) or for a receiver (zero capacity).
    Send,
    /// A send whose message is queued, for a receiver to take it.
    Receipt,
    /// A call, for its request to be taken and answered.
    Call,
}

/// What a waiting operation waits on.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum WaitTarget {
    /// A named mailbox.
    Mailbox(String),
    /// The process's own inbox (a receive there with any selector but `From`).
    Inbox,
    /// Another process: a receive from its messages (`From(pid)` on the inbox), or a send to its
    /// inbox.
    Process(Pid),
}

/// What an engine holds now, counted by walking its tables: the figures its resource bounds are
/// about, for checking them (see [`Engine::usage`](crate::Engine::usage)).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Usage {
    /// Live processes (each with an inbox).
    pub processes: usize,
    /// Registered process names.
    pub names: usize,
    /// Named mailboxes.
    pub mailboxes: usize,
    /// The most named mailboxes charged to one uid.
    pub most_mailboxes_of_one_uid: usize,
    /// Messages queued in mailboxes and inboxes, down notifications included.
    pub queued_messages: usize,
    /// Down notifications among them.
    pub down_notifications: usize,
    /// The most messages other than down notifications queued in one inbox.
    pub fullest_inbox: usize,
    /// Senders waiting for room or a rendezvous, each holding its message.
    pub waiting_senders: usize,
    /// Messages on lease, kept by their mailboxes until settled.
    pub leased: usize,
    /// The charge of every message held, queued, waiting or on lease, by the accounting rule of
    /// [`Limits`](crate::Limits), counted message by message.
    pub held_charge: usize,
    /// The charge of the down notifications among them.
    pub down_charge: usize,
    /// What lent in-process lanes reserve against the quota.
    pub reserved: usize,
    /// What the engine's running totals say is used of the quota: `held_charge + reserved`, or
    /// the totals have drifted.
    pub quota_used: usize,
    /// Operations waiting (tickets).
    pub waiting: usize,
    /// Waiting receives as registered in mailboxes: one per branch.
    pub waiting_branches: usize,
    /// Monitors held by live processes on live processes.
    pub monitors: usize,
    /// Receive rights granted, over all mailboxes.
    pub grants: usize,
    /// Completions not yet collected by the driver.
    pub completions: usize,
}

//! Statistics as C reads them: plain structs of numbers, in the spirit of System V's `msqid_ds`.

use std::ffi::{c_char, c_int};

use postbox_lib::{Capacity, EngineStats, MailboxStats, MessageSize, Owner};

use crate::attrs::{
    PostboxCapacity, PostboxOwnerKind, PostboxSize, order_code, overflow_code, ownership_code,
    receivers_code,
};

/// The longest mailbox name plus its NUL.
const NAME_CAPACITY: usize = 256;

/// A snapshot of one mailbox (`postbox_mailbox_stat`). Plain data: nothing to free. Times are
/// nanoseconds since the Unix epoch; a pid or time of 0 means "none yet".
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PostboxMailboxStats {
    /// The mailbox id: unique on its node, even after the name is reused.
    pub id: u64,
    /// The name, NUL-terminated (names are at most 255 bytes).
    pub name: [c_char; 256],
    /// A `postbox_capacity`.
    pub capacity: c_int,
    /// With `POSTBOX_CAPACITY_BOUNDED`: the most messages queued at once; else 0.
    pub max_messages: usize,
    /// With `POSTBOX_CAPACITY_BOUNDED`: the most payload bytes queued at once (as currently
    /// set); else 0.
    pub max_bytes: usize,
    /// A `postbox_size`.
    pub size: c_int,
    /// The fixed size, or the largest variable size, in bytes.
    pub message_size: usize,
    /// A `postbox_order`.
    pub order: c_int,
    /// A `postbox_overflow`.
    pub overflow: c_int,
    /// A `postbox_ownership`: how it was created.
    pub ownership: c_int,
    /// A `postbox_receivers`.
    pub receivers: c_int,
    /// The lease time in milliseconds; 0: leases last until settled.
    pub lease_time_ms: u64,
    /// The most deliveries of one message; 0: no limit.
    pub max_deliveries: u32,
    /// The dead-letter mailbox's id; 0: none.
    pub dead_letter: u64,
    /// A `postbox_owner_kind`: who owns it now.
    pub owner_kind: c_int,
    /// With `POSTBOX_OWNER_PROCESS`: the owner's pid; else 0.
    pub owner_pid: u64,
    /// The uid permission checks treat as the owner's.
    pub uid: u32,
    /// The gid permission checks treat as the owner's.
    pub gid: u32,
    /// The permission bits (e.g. 0600).
    pub mode: u32,
    /// Messages queued now.
    pub messages: usize,
    /// Payload bytes queued now.
    pub bytes: usize,
    /// Messages accepted since creation.
    pub total_sent: u64,
    /// Messages received since creation.
    pub total_received: u64,
    /// Messages discarded since creation (drop-oldest, or after their last delivery).
    pub dropped: u64,
    /// The last process to send; 0: none yet.
    pub last_send_pid: u64,
    /// When it sent.
    pub last_send_ns: u64,
    /// The last process to receive; 0: none yet.
    pub last_recv_pid: u64,
    /// When it received.
    pub last_recv_ns: u64,
    /// When the mailbox was created.
    pub created_ns: u64,
    /// When its attributes, owner or rights last changed.
    pub changed_ns: u64,
    /// Senders waiting now.
    pub blocked_senders: usize,
    /// Receivers waiting now.
    pub blocked_receivers: usize,
    /// Processes that have it open now.
    pub openers: usize,
    /// Messages on lease now (not counted in `messages`).
    pub leased: usize,
    /// Messages moved to the dead-letter mailbox since creation.
    pub dead_lettered: u64,
}

/// `name` as a NUL-terminated C array (names are at most 255 bytes; a longer one is cut).
pub(crate) fn c_name(name: &str) -> [c_char; NAME_CAPACITY] {
    let mut array = [0; NAME_CAPACITY];
    for (to, from) in array.iter_mut().zip(name.bytes().take(NAME_CAPACITY - 1)) {
        *to = from as c_char;
    }
    array
}

impl PostboxMailboxStats {
    pub(crate) fn new(stats: &MailboxStats) -> PostboxMailboxStats {
        let name = c_name(&stats.name);
        let attrs = &stats.attrs;
        let (capacity, max_messages, max_bytes) = match attrs.capacity {
            Capacity::Zero => (PostboxCapacity::Zero, 0, 0),
            Capacity::Bounded { messages, bytes } => (PostboxCapacity::Bounded, messages, bytes),
            Capacity::Unbounded => (PostboxCapacity::Unbounded, 0, 0),
        };
        let (size, message_size) = match attrs.size {
            MessageSize::Fixed(n) => (PostboxSize::Fixed, n),
            MessageSize::Variable(n) => (PostboxSize::Variable, n),
        };
        let (owner_kind, owner_pid) = match stats.owner {
            Owner::Process(pid) => (PostboxOwnerKind::Process, pid.as_raw()),
            Owner::System(_) => (PostboxOwnerKind::System, 0),
        };
        let redelivery = attrs.redelivery;
        let pid_and_time = |last: Option<(postbox_lib::Pid, postbox_lib::Timestamp)>| {
            last.map_or((0, 0), |(pid, at)| (pid.as_raw(), at.as_nanos()))
        };
        let (last_send_pid, last_send_ns) = pid_and_time(stats.last_send);
        let (last_recv_pid, last_recv_ns) = pid_and_time(stats.last_recv);
        PostboxMailboxStats {
            id: stats.id.as_raw(),
            name,
            capacity: capacity as c_int,
            max_messages,
            max_bytes,
            size: size as c_int,
            message_size,
            order: order_code(attrs.order),
            overflow: overflow_code(attrs.overflow),
            ownership: ownership_code(attrs.ownership),
            receivers: receivers_code(attrs.receivers),
            lease_time_ms: redelivery.lease_time.map_or(0, |time| {
                u64::try_from(time.as_millis()).unwrap_or(u64::MAX)
            }),
            max_deliveries: redelivery.max_deliveries.unwrap_or(0),
            dead_letter: redelivery.dead_letter.map_or(0, |id| id.as_raw()),
            owner_kind: owner_kind as c_int,
            owner_pid,
            uid: stats.uid,
            gid: stats.gid,
            mode: u32::from(stats.mode.bits()),
            messages: stats.messages,
            bytes: stats.bytes,
            total_sent: stats.total_sent,
            total_received: stats.total_received,
            dropped: stats.dropped,
            last_send_pid,
            last_send_ns,
            last_recv_pid,
            last_recv_ns,
            created_ns: stats.created.as_nanos(),
            changed_ns: stats.changed.as_nanos(),
            blocked_senders: stats.blocked_senders,
            blocked_receivers: stats.blocked_receivers,
            openers: stats.openers,
            leased: stats.leased,
            dead_lettered: stats.dead_lettered,
        }
    }
}

/// A snapshot of a whole node (`postbox_process_node_stats`). Plain data: nothing to free.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PostboxNodeStats {
    /// Live processes.
    pub processes: usize,
    /// Named mailboxes.
    pub mailboxes: usize,
    /// Messages queued in mailboxes and inboxes.
    pub queued_messages: usize,
    /// Payload bytes queued in mailboxes and inboxes.
    pub queued_bytes: usize,
    /// The quota of queued bytes.
    pub max_queued_bytes: usize,
    /// Messages accepted since the node started.
    pub total_sent: u64,
    /// Messages received since the node started.
    pub total_received: u64,
    /// Messages discarded since the node started.
    pub total_dropped: u64,
    /// Messages moved to dead-letter mailboxes since the node started.
    pub total_dead_lettered: u64,
}

impl PostboxNodeStats {
    pub(crate) fn new(stats: &EngineStats) -> PostboxNodeStats {
        PostboxNodeStats {
            processes: stats.processes,
            mailboxes: stats.mailboxes,
            queued_messages: stats.queued_messages,
            queued_bytes: stats.queued_bytes,
            max_queued_bytes: stats.max_queued_bytes,
            total_sent: stats.total_sent,
            total_received: stats.total_received,
            total_dropped: stats.total_dropped,
            total_dead_lettered: stats.total_dead_lettered,
        }
    }
}

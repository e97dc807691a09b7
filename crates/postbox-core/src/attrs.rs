//! Mailbox attributes: every axis of the design space as an explicit setting.

use std::fmt;
use std::time::Duration;

use crate::{Credentials, MailboxId, Pid};

/// How many messages a mailbox holds before senders wait.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Capacity {
    /// No buffer: a send completes only when a receiver takes the message (rendezvous).
    Zero,
    /// At most `messages` messages and `bytes` payload bytes queued at once.
    Bounded {
        /// The most messages queued at once (at least 1).
        messages: usize,
        /// The most payload bytes queued at once.
        bytes: usize,
    },
    /// No per-mailbox limit; the engine-wide byte quota still applies.
    Unbounded,
}

impl Capacity {
    /// `Bounded` with the given limits.
    pub const fn bounded(messages: usize, bytes: usize) -> Capacity {
        Capacity::Bounded { messages, bytes }
    }
}

impl Default for Capacity {
    /// 64 messages, 1 MiB.
    fn default() -> Capacity {
        Capacity::bounded(64, 1 << 20)
    }
}

/// The size rule every message of a mailbox must keep.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum MessageSize {
    /// Every payload is exactly this many bytes (others fail with `WrongSize`).
    Fixed(usize),
    /// Payloads are at most this many bytes (others fail with `TooLarge`).
    Variable(usize),
}

impl Default for MessageSize {
    /// Variable, up to 64 KiB.
    fn default() -> MessageSize {
        MessageSize::Variable(64 << 10)
    }
}

/// The order in which queued messages are received.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Order {
    /// First in, first out.
    #[default]
    Fifo,
    /// Highest priority first, first in first out among equal priorities (POSIX `mq`).
    Priority,
}

/// What a send to a full bounded mailbox does.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Overflow {
    /// The sender waits for room (or fails with `Full` when it may not wait).
    #[default]
    Block,
    /// The oldest queued messages are discarded so the newest always fits; discards are counted.
    /// In a priority-ordered mailbox the oldest message of the lowest priority goes first.
    DropOldest,
}

/// Who may receive from a mailbox, and how messages are dispatched among them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Receivers {
    /// The owner alone, and the processes it granted the right to (`grant_receive`). For a
    /// system-owned mailbox the owner is every process running as the owning uid.
    Owner,
    /// One process at a time: the first to receive holds the right until it closes the mailbox or
    /// terminates; others get `Busy`.
    Exclusive,
    /// Every process with read permission; each message goes to exactly one of them.
    Shared(Dispatch),
    /// A link of exactly two processes: the first to send and the first to receive. A third gets
    /// `Busy`; when one end leaves, the other gets `PeerGone`.
    Pair,
    /// Fan-out: every message goes to every member — each process that has received (or tried
    /// to) from the mailbox and still has it open — with the bound applying to each member's own
    /// backlog. See `docs/semantics.md`, "Broadcast".
    Broadcast,
}

/// How a shared mailbox chooses among several waiting receivers.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Dispatch {
    /// Rotate among the waiting processes, in pid order after the last one served.
    RoundRobin,
    /// The receiver that has waited longest.
    #[default]
    FirstWaiting,
}

/// Who a mailbox belongs to, chosen at creation.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Ownership {
    /// Owned by the creating process: deleted when it terminates, its waiters and senders told.
    #[default]
    Process,
    /// Owned by the creator's uid: lives until deleted, whatever happens to processes.
    System,
}

/// The current owner of a mailbox.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Owner {
    /// A process; the mailbox dies with it.
    Process(Pid),
    /// A user and group; the mailbox lives until deleted.
    System(Credentials),
}

/// Permission bits, System V style: owner, group and other triplets where `w` (2) allows sending
/// and `r` (4) allows receiving. `x` is ignored.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(from = "u16", into = "u16"))]
pub struct Mode(u16);

impl From<u16> for Mode {
    /// Keeps only the nine permission bits, so no input can set others.
    fn from(bits: u16) -> Mode {
        Mode::new(bits)
    }
}

impl From<Mode> for u16 {
    fn from(mode: Mode) -> u16 {
        mode.bits()
    }
}

impl Mode {
    /// Send permission within a triplet.
    pub const WRITE: u16 = 0o2;
    /// Receive permission within a triplet.
    pub const READ: u16 = 0o4;

    /// The mode `bits`, keeping only the nine permission bits.
    pub const fn new(bits: u16) -> Mode {
        Mode(bits & 0o777)
    }

    /// The permission bits.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// Whether `who` may do what `want` (`READ` or `WRITE`) asks on an object owned by `owner`.
    pub fn allows(self, who: Credentials, owner: Credentials, want: u16) -> bool {
        if who.is_root() {
            return true;
        }
        let triplet = if who.uid == owner.uid {
            self.0 >> 6
        } else if who.gid == owner.gid {
            self.0 >> 3
        } else {
            self.0
        };
        triplet & want == want
    }
}

impl Default for Mode {
    /// 0600: owner may send and receive.
    fn default() -> Mode {
        Mode(0o600)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

/// Where a mailbox's messages live.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Durability {
    /// In memory: gone when the daemon stops.
    #[default]
    Memory,
    /// On disk as well: a send is answered once its message is on stable storage, and the
    /// mailbox with its messages outlives a restart or crash of the daemon. System-owned
    /// mailboxes only; the engine journals every change (see `Engine::drain_journal`), its host
    /// makes it durable.
    Disk,
}

/// What becomes of leased messages that are not acknowledged: when a lease ends by itself, and
/// where a message goes after too many deliveries. Leases (see `Engine::lease`) are the
/// receiver's promise to acknowledge; this is the mailbox's answer to a receiver that never does.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Redelivery {
    /// How long a lease lasts: a message neither acknowledged nor returned this long after it
    /// was handed out goes back to the queue, as if returned. `None` (the default): a lease
    /// lasts until its holder settles it, closes the mailbox or terminates.
    pub lease_time: Option<Duration>,
    /// The most deliveries of one message: when a message delivered this many times comes back
    /// unacknowledged, it leaves the mailbox — into [`dead_letter`](Self::dead_letter) when set
    /// (and it has room), else dropped and counted. `None` (the default): redelivered forever.
    pub max_deliveries: Option<u32>,
    /// Where messages go after `max_deliveries`: a named mailbox the creator may send to.
    pub dead_letter: Option<MailboxId>,
}

impl Redelivery {
    /// The longest lease time accepted: a week (a lease is a unit of work in progress, not
    /// storage).
    pub const MAX_LEASE_TIME: Duration = Duration::from_secs(7 * 24 * 3600);

    fn validate(&self) -> Result<(), &'static str> {
        match *self {
            Redelivery {
                lease_time: Some(time),
                ..
            } if time.is_zero() || time > Redelivery::MAX_LEASE_TIME => {
                Err("a lease time must be above zero and at most a week")
            }
            Redelivery {
                max_deliveries: Some(0),
                ..
            } => Err("max deliveries must be at least 1"),
            Redelivery {
                max_deliveries: None,
                dead_letter: Some(_),
                ..
            } => Err("a dead-letter mailbox needs max deliveries"),
            _ => Ok(()),
        }
    }
}

/// Everything fixed about a mailbox when it is created.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MailboxAttrs {
    /// How many messages it buffers.
    pub capacity: Capacity,
    /// The size rule for payloads.
    pub size: MessageSize,
    /// The receive order.
    pub order: Order,
    /// What a send to a full mailbox does.
    pub overflow: Overflow,
    /// Process- or system-owned.
    pub ownership: Ownership,
    /// Who may receive.
    pub receivers: Receivers,
    /// Permission bits.
    pub mode: Mode,
    /// What becomes of leased messages never acknowledged.
    pub redelivery: Redelivery,
    /// Memory or disk.
    pub durability: Durability,
}

impl MailboxAttrs {
    /// The defaults for a process-owned mailbox: bounded(64, 1 MiB), variable(64 KiB), fifo, block,
    /// owner-only receive, 0600.
    pub fn process_owned() -> MailboxAttrs {
        MailboxAttrs {
            capacity: Capacity::default(),
            size: MessageSize::default(),
            order: Order::default(),
            overflow: Overflow::default(),
            ownership: Ownership::Process,
            receivers: Receivers::Owner,
            mode: Mode::default(),
            redelivery: Redelivery::default(),
            durability: Durability::Memory,
        }
    }

    /// The defaults for a system-owned mailbox: as [`MailboxAttrs::process_owned`] but shared
    /// first-waiting receive.
    pub fn system_owned() -> MailboxAttrs {
        MailboxAttrs {
            ownership: Ownership::System,
            receivers: Receivers::Shared(Dispatch::FirstWaiting),
            ..MailboxAttrs::process_owned()
        }
    }

    /// Checks that the settings make sense together and within `max_message_size`.
    pub(crate) fn validate(&self, max_message_size: usize) -> Result<(), &'static str> {
        let largest = match self.size {
            MessageSize::Fixed(0) => return Err("fixed message size must be at least 1 byte"),
            MessageSize::Fixed(n) | MessageSize::Variable(n) => n,
        };
        if largest > max_message_size {
            return Err("message size is above the engine's maximum message size");
        }
        self.redelivery.validate()?;
        if self.durability == Durability::Disk {
            if self.ownership != Ownership::System {
                return Err("a durable mailbox must be system-owned");
            }
            if self.capacity == Capacity::Zero {
                return Err("a zero-capacity mailbox holds no messages to keep on disk");
            }
        }
        if self.receivers == Receivers::Broadcast {
            if self.durability == Durability::Disk {
                return Err(
                    "a broadcast mailbox keeps one backlog per member, which lives in \
                            memory only: create it with memory durability",
                );
            }
            if self.redelivery != Redelivery::default() {
                return Err(
                    "a broadcast mailbox has no leases, so no lease time, max deliveries \
                            or dead-letter mailbox",
                );
            }
        }
        match (self.capacity, self.overflow) {
            (Capacity::Bounded { messages: 0, .. }, _) => {
                Err("a bounded capacity holds at least one message")
            }
            (Capacity::Bounded { bytes, .. }, _) if matches!(self.size, MessageSize::Fixed(n) if n > bytes) => {
                Err("a bounded capacity must hold at least one message of the fixed size")
            }
            (Capacity::Zero | Capacity::Unbounded, Overflow::DropOldest) => {
                Err("drop-oldest overflow needs a bounded capacity")
            }
            _ => Ok(()),
        }
    }
}

impl Default for MailboxAttrs {
    fn default() -> MailboxAttrs {
        MailboxAttrs::process_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_picks_the_owner_group_or_other_triplet() {
        let owner = Credentials::new(1000, 100);
        let mode = Mode::new(0o640);
        assert!(mode.allows(owner, owner, Mode::READ | Mode::WRITE));
        let group_member = Credentials::new(1001, 100);
        assert!(mode.allows(group_member, owner, Mode::READ));
        assert!(!mode.allows(group_member, owner, Mode::WRITE));
        let other = Credentials::new(1002, 200);
        assert!(!mode.allows(other, owner, Mode::READ));
        assert!(mode.allows(Credentials::ROOT, owner, Mode::WRITE));
    }

    #[test]
    fn validation_rejects_nonsense_combinations() {
        let ok = MailboxAttrs::default();
        assert!(ok.validate(1 << 20).is_ok());
        let too_big = MailboxAttrs {
            size: MessageSize::Variable(2 << 20),
            ..ok
        };
        assert!(too_big.validate(1 << 20).is_err());
        let drop_zero = MailboxAttrs {
            capacity: Capacity::Zero,
            overflow: Overflow::DropOldest,
            ..ok
        };
        assert!(drop_zero.validate(1 << 20).is_err());
        let no_room = MailboxAttrs {
            capacity: Capacity::bounded(0, 10),
            ..ok
        };
        assert!(no_room.validate(1 << 20).is_err());
        // A byte limit below the size rule caps the message size (`TooLarge`)...
        let tiny = MailboxAttrs {
            capacity: Capacity::bounded(4, 10),
            ..ok
        };
        assert!(tiny.validate(1 << 20).is_ok());
        // ...but a fixed size must fit.
        let fixed_too_big = MailboxAttrs {
            size: MessageSize::Fixed(11),
            ..tiny
        };
        assert!(fixed_too_big.validate(1 << 20).is_err());
        let fixed_zero = MailboxAttrs {
            size: MessageSize::Fixed(0),
            ..ok
        };
        assert!(fixed_zero.validate(1 << 20).is_err());
    }

    #[test]
    fn broadcast_refuses_disk_and_redelivery() {
        let broadcast = MailboxAttrs {
            receivers: Receivers::Broadcast,
            ..MailboxAttrs::system_owned()
        };
        assert!(broadcast.validate(1 << 20).is_ok());
        let on_disk = MailboxAttrs {
            durability: Durability::Disk,
            ..broadcast
        };
        assert!(on_disk.validate(1 << 20).unwrap_err().contains("memory"));
        let leased = MailboxAttrs {
            redelivery: Redelivery {
                max_deliveries: Some(3),
                ..Redelivery::default()
            },
            ..broadcast
        };
        assert!(leased.validate(1 << 20).unwrap_err().contains("leases"));
    }
}

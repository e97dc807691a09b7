//! Identifiers and the engine's notion of time and identity.

use std::fmt;

/// A process: one participant in message passing.
///
/// Pids are allocated by the engine in increasing order and never reused within its lifetime, so a
/// stale pid can always be told apart from a live one (it names a process that has terminated).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Pid(u64);

impl Pid {
    /// Wraps a raw pid value, as received from a transport.
    pub const fn from_raw(raw: u64) -> Pid {
        Pid(raw)
    }

    /// The raw value, for transports and display.
    pub const fn as_raw(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A mailbox (or a process's inbox), as opposed to its name.
///
/// Ids are never reused, so a handle to a deleted mailbox keeps answering `Gone` even after its name
/// has been given to a new mailbox.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MailboxId(u64);

impl MailboxId {
    /// Wraps a raw id value, as received from a transport.
    pub const fn from_raw(raw: u64) -> MailboxId {
        MailboxId(raw)
    }

    /// The raw value, for transports and display.
    pub const fn as_raw(self) -> u64 {
        self.0
    }
}

impl fmt::Display for MailboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One call: names the request a server received, so that it can answer it.
///
/// The id alone grants nothing: the engine keeps the *reply right* itself, held by the process
/// that received the request until it answers, and revoked when the caller stops waiting. Ids are
/// never reused, so an answer meant for an abandoned call can never reach a later one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CallId(u64);

impl CallId {
    /// Wraps a raw call id, as received from a transport.
    pub const fn from_raw(raw: u64) -> CallId {
        CallId(raw)
    }

    /// The raw value, for transports and display.
    pub const fn as_raw(self) -> u64 {
        self.0
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A blocked operation, waiting in the engine for an event to complete it.
///
/// The engine hands out a ticket instead of blocking; the driver waits for the ticket's
/// [`Completion`](crate::Completion) or cancels it when its deadline passes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Ticket(u64);

impl Ticket {
    /// The raw value, for drivers that key their own tables by it.
    pub const fn as_raw(self) -> u64 {
        self.0
    }

    /// Wraps a raw ticket value a driver kept (a ticket that was never issued is simply not
    /// waiting).
    pub const fn from_raw(raw: u64) -> Ticket {
        Ticket(raw)
    }
}

/// A point in time: nanoseconds since the Unix epoch, as read by the driver.
///
/// The engine never reads a clock. Drivers pass the current time into every operation that records
/// one (send times, statistics), which keeps the engine deterministic and testable.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Timestamp(u64);

impl Timestamp {
    /// The epoch itself; used by tests and as "never".
    pub const ZERO: Timestamp = Timestamp(0);

    /// A timestamp `nanos` nanoseconds after the Unix epoch.
    pub const fn from_nanos(nanos: u64) -> Timestamp {
        Timestamp(nanos)
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// `duration` later, or the largest timestamp when that is beyond it.
    pub fn saturating_add(self, duration: std::time::Duration) -> Timestamp {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_add(nanos))
    }

    /// The timestamp of a wall-clock reading: a driver reads the clock (`SystemTime::now()`),
    /// the engine only ever sees the value. Before the epoch is the epoch; beyond `u64`
    /// nanoseconds (the year 2554) is the largest timestamp.
    pub fn from_system_time(time: std::time::SystemTime) -> Timestamp {
        let since_epoch = time
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX))
    }
}

/// Who a process runs as, for permission checks.
///
/// Supplied by the transport (in the daemon, from the socket's peer credentials), never by the
/// process itself.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Credentials {
    /// The user id.
    pub uid: u32,
    /// The primary group id.
    pub gid: u32,
}

impl Credentials {
    /// The superuser, who passes every permission check.
    pub const ROOT: Credentials = Credentials { uid: 0, gid: 0 };

    /// Credentials for `uid` and `gid`.
    pub const fn new(uid: u32, gid: u32) -> Credentials {
        Credentials { uid, gid }
    }

    /// Whether these credentials bypass permission checks.
    pub const fn is_root(self) -> bool {
        self.uid == 0
    }
}

/// Which operating-system process a postbox process is, as far as its transport could tell: for
/// `ps`, never for permission checks (those use [`Credentials`]).
///
/// A daemon learns a local peer's OS pid from its Unix socket (`SO_PEERCRED`) and reads its
/// command line when it connects; over TCP it knows neither. The engine only keeps and reports
/// what the transport passed to [`Engine::spawn_with`](crate::Engine::spawn_with).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct OsProcess {
    /// The OS process id, when known.
    pub pid: Option<u32>,
    /// Its command line, arguments joined by spaces, when known.
    pub command: Option<String>,
}

impl OsProcess {
    /// Nothing known: what [`Engine::spawn`](crate::Engine::spawn) records.
    pub const UNKNOWN: OsProcess = OsProcess {
        pid: None,
        command: None,
    };
}

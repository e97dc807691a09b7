//! What the cases share: the users they run as, observing blocked operations, and skipping a
//! case a transport cannot run, with the reason printed.

use std::time::{Duration, Instant};

use postbox::{
    Credentials, EngineStats, Mailbox, Message, Pid, Process, Received, SendError, SendErrorKind,
};

use crate::{Layout, Transport};

/// An ordinary (non-root) user: the uid most permission cases run as.
pub(crate) const USER: Credentials = Credentials::new(1000, 1000);

/// Another user in [`USER`]'s group: gets the group triplet of the mode.
pub(crate) const GROUP_MEMBER: Credentials = Credentials::new(1001, 1000);

/// A user sharing nothing with [`USER`]: gets the other triplet of the mode.
pub(crate) const STRANGER: Credentials = Credentials::new(2000, 2000);

/// How long a case waits for something that should happen promptly before it fails. Generous:
/// it bounds a failure, never a success.
const PATIENCE: Duration = Duration::from_secs(20);

/// The timeout of operations a case expects to be woken (by a delete, a termination, a change of
/// rights...): a broken transport then fails the case with `Timeout` instead of hanging it.
pub(crate) const LONG: Duration = PATIENCE;

/// A short timeout, for operations that are meant to time out.
pub(crate) const SHORT: Duration = Duration::from_millis(20);

/// Polls `condition` until it holds; panics naming `what` after [`PATIENCE`].
///
/// This observes state (a blocked operation shows in `stat()` or `list_processes()`); it never
/// stands in for synchronisation by sleeping a guessed amount.
pub(crate) fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "gave up waiting until {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Waits until exactly `n` receivers are blocked on `mailbox`.
pub(crate) fn await_blocked_receivers(mailbox: &Mailbox, n: usize) {
    wait_until(
        &format!("{n} receiver(s) block on {}", mailbox.name()),
        || mailbox.stat().expect("stat").blocked_receivers == n,
    );
}

/// Waits until exactly `n` senders are blocked on `mailbox`.
pub(crate) fn await_blocked_senders(mailbox: &Mailbox, n: usize) {
    wait_until(
        &format!("{n} sender(s) block on {}", mailbox.name()),
        || mailbox.stat().expect("stat").blocked_senders == n,
    );
}

/// Waits until `mailbox` holds exactly `n` queued messages.
pub(crate) fn await_queued(mailbox: &Mailbox, n: usize) {
    wait_until(
        &format!("{n} message(s) queue in {}", mailbox.name()),
        || mailbox.stat().expect("stat").messages == n,
    );
}

/// How many operations `pid` has waiting, as `observer` sees in the process list (0 once gone).
pub(crate) fn waiting(observer: &Process, pid: Pid) -> usize {
    observer
        .list_processes()
        .expect("list processes")
        .into_iter()
        .find(|info| info.pid == pid)
        .map_or(0, |info| info.waiting)
}

/// Waits until `pid` has exactly `n` operations waiting (inbox operations do not show in any
/// mailbox's `stat()`, but they do in the process list).
pub(crate) fn await_waiting(observer: &Process, pid: Pid, n: usize) {
    wait_until(
        &format!("process {pid} has {n} operation(s) waiting"),
        || waiting(observer, pid) == n,
    );
}

/// The statistics of everything `observer`'s transport holds, as one node's: on one node its
/// `node_stats()`; split over two nodes (see [`Layout::Split`]), the processes of the
/// processes' node and the sum of both nodes' other counts, with the mailboxes' node's quota.
pub(crate) fn whole_stats<T: Transport>(t: &T, observer: &Process) -> EngineStats {
    let Layout::Split {
        processes,
        mailboxes,
    } = t.layout()
    else {
        return observer.node_stats().expect("node stats");
    };
    let of_processes = observer.node_stats_at(processes).expect("node stats");
    let of_mailboxes = observer.node_stats_at(mailboxes).expect("node stats");
    EngineStats {
        processes: of_processes.processes,
        mailboxes: of_processes.mailboxes + of_mailboxes.mailboxes,
        queued_messages: of_processes.queued_messages + of_mailboxes.queued_messages,
        queued_bytes: of_processes.queued_bytes + of_mailboxes.queued_bytes,
        max_queued_bytes: of_mailboxes.max_queued_bytes,
        total_sent: of_processes.total_sent + of_mailboxes.total_sent,
        total_received: of_processes.total_received + of_mailboxes.total_received,
        total_dropped: of_processes.total_dropped + of_mailboxes.total_dropped,
        total_dead_lettered: of_processes.total_dead_lettered + of_mailboxes.total_dead_lettered,
        total_late_replies: of_processes.total_late_replies + of_mailboxes.total_late_replies,
    }
}

/// The uid `process` runs as, as the node reports it.
pub(crate) fn uid_of(process: &Process) -> u32 {
    process
        .list_processes()
        .expect("list processes")
        .into_iter()
        .find(|info| info.pid == process.pid())
        .expect("a live process is listed")
        .uid
}

/// Reports that `case` does not run on `transport`, and why.
pub(crate) fn skip<T: Transport>(transport: &T, case: &str, reason: &str) {
    eprintln!(
        "conformance: {case} skipped on {}: {reason}",
        transport.name()
    );
}

/// `N` processes of one ordinary (non-root) uid, for cases whose outcome root's bypass would
/// change: [`USER`] when the transport can impersonate, else the transport's own uid when that is
/// not root. `None` (the case is skipped, the reason printed) otherwise.
pub(crate) fn ordinary<T: Transport, const N: usize>(
    transport: &T,
    case: &str,
) -> Option<[Process; N]> {
    let processes: Vec<Process> = match transport.process_as(USER) {
        Some(first) => std::iter::once(first)
            .chain((1..N).map(|_| {
                transport
                    .process_as(USER)
                    .expect("a transport that impersonated once does again")
            }))
            .collect(),
        None => {
            let processes: Vec<Process> = (0..N).map(|_| transport.process()).collect();
            if processes.first().is_some_and(|p| uid_of(p) == 0) {
                skip(
                    transport,
                    case,
                    "processes run as root, whose bypass hides the check, and the transport \
                     cannot start processes as another uid",
                );
                return None;
            }
            processes
        }
    };
    match processes.try_into() {
        Ok(array) => Some(array),
        Err(_) => unreachable!("exactly N processes were started"),
    }
}

/// A process running as `creds`, or `None` with the reason printed when the transport cannot
/// impersonate.
pub(crate) fn process_as<T: Transport>(
    transport: &T,
    creds: Credentials,
    case: &str,
) -> Option<Process> {
    let process = transport.process_as(creds);
    if process.is_none() {
        skip(
            transport,
            case,
            "the transport cannot start processes as another uid",
        );
    }
    process
}

/// The payloads of `received`, as strings, for compact order assertions.
pub(crate) fn texts(received: impl IntoIterator<Item = Received>) -> Vec<String> {
    received
        .into_iter()
        .map(|r| String::from_utf8_lossy(r.payload()).into_owned())
        .collect()
}

/// A message with payload `text` and type `mtype`.
pub(crate) fn typed(text: &'static str, mtype: i64) -> Message {
    Message::new(text).with_type(mtype)
}

/// Takes every message `mailbox` holds now, in receive order.
pub(crate) fn drain(mailbox: &Mailbox) -> Vec<String> {
    texts(std::iter::from_fn(|| mailbox.try_recv().ok()))
}

/// Checks that a failed send handed `original` back — or, for `Disconnected` only, possibly
/// nothing: when a remote transport is lost with the request in flight, nobody can tell whether
/// the message was delivered, and the contract lets it go ("`None` only when it was dropped or
/// lost with the transport"). A different message is never acceptable.
pub(crate) fn assert_handed_back(error: SendError, original: &Message) {
    let kind = error.kind();
    match error.into_message() {
        Some(message) => assert_eq!(&message, original, "{kind:?} hands back another message"),
        None => assert_eq!(
            kind,
            SendErrorKind::Disconnected,
            "{kind:?} kept the message"
        ),
    }
}

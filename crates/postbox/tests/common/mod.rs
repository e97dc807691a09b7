//! Helpers shared by the behaviour tests: deterministic ways to see that a thread is blocked, and
//! bounded joins so that a bug shows up as a failure rather than a hung test run.

// Each test file uses a subset of these.
#![allow(dead_code)]

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use postbox::{Mailbox, MailboxStats, Pid, Process};

/// How long a condition that must become true may take before the test fails. Generous: it is
/// a failure bound, never a synchronisation point.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

/// Spins (yielding) until `done()` holds; panics naming `what` after [`PATIENCE`].
pub(crate) fn spin_until(what: &str, mut done: impl FnMut() -> bool) {
    let give_up = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < give_up, "gave up waiting until {what}");
        std::thread::yield_now();
    }
}

/// The mailbox's statistics, as seen through `mailbox`'s own process.
pub(crate) fn stat(mailbox: &Mailbox) -> MailboxStats {
    mailbox.stat().expect("stat of a live mailbox")
}

/// Waits until exactly `n` senders are blocked on `mailbox`.
pub(crate) fn wait_blocked_senders(mailbox: &Mailbox, n: usize) {
    spin_until(&format!("{n} senders block on {}", mailbox.name()), || {
        stat(mailbox).blocked_senders == n
    });
}

/// Waits until exactly `n` receivers are blocked on `mailbox`.
pub(crate) fn wait_blocked_receivers(mailbox: &Mailbox, n: usize) {
    spin_until(
        &format!("{n} receivers block on {}", mailbox.name()),
        || stat(mailbox).blocked_receivers == n,
    );
}

/// How many operations process `pid` has waiting, as `observer` sees it (0 once it has gone).
pub(crate) fn waiting(observer: &Process, pid: Pid) -> usize {
    observer
        .list_processes()
        .expect("list processes")
        .into_iter()
        .find(|info| info.pid == pid)
        .map_or(0, |info| info.waiting)
}

/// How many messages wait in the inbox of `pid`, as `observer` sees it.
pub(crate) fn inbox_len(observer: &Process, pid: Pid) -> usize {
    observer
        .list_processes()
        .expect("list processes")
        .into_iter()
        .find(|info| info.pid == pid)
        .map_or(0, |info| info.inbox_messages)
}

/// Waits until process `pid` has exactly `n` operations waiting.
pub(crate) fn wait_waiting(observer: &Process, pid: Pid, n: usize) {
    spin_until(&format!("{pid} has {n} operations waiting"), || {
        waiting(observer, pid) == n
    });
}

/// Joins `handle`, failing the test (instead of hanging it) if the thread does not finish
/// within [`PATIENCE`]. For threads that a bug could leave blocked forever.
pub(crate) fn join_soon<T>(handle: JoinHandle<T>) -> T {
    spin_until("the thread finishes", || handle.is_finished());
    handle.join().expect("the thread panicked")
}

//! The lease clock of an in-process node: a thread that ends leases whose time is up (a
//! mailbox's `Redelivery::lease_time`), so that a receiver that lives on but never answers
//! cannot keep its messages from everyone else. It starts with the first lease that has a lease
//! time and ends when no such lease is left, or when its node is gone.

use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::Duration;

use postbox_core::Timestamp;

use crate::clock::now;

/// What the clock needs of its node.
pub(super) trait LeaseHost: Send + Sync + 'static {
    /// Ends the leases whose time is up at `now`, answering whoever their messages went to;
    /// returns when the next lease ends, if any does.
    fn expire_due(&self, now: Timestamp) -> Option<Timestamp>;

    /// The node's clock.
    fn lease_clock(&self) -> &LeaseClock;
}

/// The clock's state, kept by its node.
#[derive(Debug, Default)]
pub(super) struct LeaseClock {
    /// Whether the thread runs, and whether it was woken since it last looked.
    state: Mutex<ClockState>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct ClockState {
    running: bool,
    woken: bool,
}

impl LeaseClock {
    /// After a call that took a lease ending sooner than any before it: starts the clock, or
    /// wakes it to wait for the new time. `host` is the node (held weakly by the thread).
    pub(super) fn lease_taken<H: LeaseHost>(host: &Arc<H>) {
        let clock = host.lease_clock();
        let mut state = clock.state.lock().unwrap_or_else(|p| p.into_inner());
        state.woken = true;
        if state.running {
            clock.wake.notify_one();
            return;
        }
        let weak = Arc::downgrade(host);
        let started = std::thread::Builder::new()
            .name("postbox-lease-clock".into())
            .spawn(move || run(&weak));
        // Without a thread (the OS refused one), the next lease taken tries again.
        state.running = started.is_ok();
    }

    /// Wakes the clock to look again (a process ended: its leases went back).
    pub(super) fn nudge(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.woken = true;
        self.wake.notify_one();
    }
}

/// Ends what is due, then sleeps until the next lease ends or the clock is woken.
fn run<H: LeaseHost>(host: &Weak<H>) {
    loop {
        let Some(node) = host.upgrade() else {
            return;
        };
        let now = now();
        let next = node.expire_due(now);
        let clock = node.lease_clock();
        let mut state = clock.state.lock().unwrap_or_else(|p| p.into_inner());
        if std::mem::take(&mut state.woken) {
            // Something changed while expiring: look again before sleeping.
            continue;
        }
        let Some(next) = next else {
            state.running = false;
            return;
        };
        let wait = Duration::from_nanos(next.as_nanos().saturating_sub(now.as_nanos()));
        let (mut state, _) = clock
            .wake
            .wait_timeout_while(state, wait, |state| !state.woken)
            .unwrap_or_else(|p| p.into_inner());
        state.woken = false;
    }
}

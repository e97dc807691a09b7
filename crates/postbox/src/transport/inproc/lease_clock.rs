//! The lease clock of an in-process node: a thread that ends leases whose time is up (a
//! mailbox's `Redelivery::lease_time`), so that a receiver that lives on but never answers
//! cannot keep its messages from everyone else. It starts with the first lease that has a lease
//! time and ends when no such lease is left.

use std::sync::{Arc, Weak};
use std::time::Duration;

use postbox_core::Timestamp;

use super::node::{NodeShared, State};
use crate::clock::now;

/// After a call: when a lease now ends sooner than any did before it (`before`), starts the
/// clock or wakes it to wait for the new time.
pub(super) fn lease_taken(node: &Arc<NodeShared>, state: &mut State, before: Option<Timestamp>) {
    let Some(next) = state.next_lease_expiry() else {
        return;
    };
    if before.is_some_and(|before| before <= next) {
        return;
    }
    if state.lease_clock_running {
        node.lease_clock.notify_one();
        return;
    }
    let node = Arc::downgrade(node);
    let started = std::thread::Builder::new()
        .name("postbox-lease-clock".into())
        .spawn(move || run(&node));
    // Without a thread (the OS refused one), the next lease taken tries again.
    state.lease_clock_running = started.is_ok();
}

/// Ends what is due, then sleeps until the next lease ends or the clock is woken; returns when
/// no lease with a lease time is left or the node is gone.
fn run(node: &Weak<NodeShared>) {
    while let Some(node) = node.upgrade() {
        let mut state = node.lock();
        let now = now();
        state.expire_leases(now);
        let Some(next) = state.next_lease_expiry() else {
            state.lease_clock_running = false;
            return;
        };
        let wait = Duration::from_nanos(next.as_nanos().saturating_sub(now.as_nanos()));
        drop(node.lease_clock.wait_timeout(state, wait));
    }
}

//! The lease clock: ends leases whose time is up (a mailbox's `Redelivery::lease_time`), so a
//! receiver that lives on but never answers cannot keep its messages from everyone else.

use std::sync::Arc;
use std::time::Duration;

use postbox_core::Timestamp;

use crate::hub::{Hub, now};

/// Runs until dropped: sleeps until the next lease ends, or until a lease is taken that ends
/// sooner, and ends what is due.
pub(crate) async fn run(hub: Arc<Hub>) {
    loop {
        match hub.expire_leases() {
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep(until(at)) => {}
                    () = hub.lease_taken() => {}
                }
            }
            None => hub.lease_taken().await,
        }
    }
}

/// How long from now until `at` (wall clock), zero when past.
fn until(at: Timestamp) -> Duration {
    Duration::from_nanos(at.as_nanos().saturating_sub(now().as_nanos()))
}

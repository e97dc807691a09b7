//! What the chaos tests share: node daemons of each test's own (`node_daemon`, also used by the
//! CLI's node tests), counts from the environment, and distributions of timings.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

mod node_daemon;

use std::time::Duration;

#[allow(unused_imports)]
pub(crate) use node_daemon::{Certs, NodeDaemon, PATIENCE, postbox_bin, postbox_command, run_ok};

/// A count from the environment variable `name`, else `default` (the short form for CI).
pub(crate) fn env_count(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a count")),
        Err(_) => default,
    }
}

/// The minimum, median and maximum of `samples` (sorted in place), as text.
pub(crate) fn distribution(samples: &mut [Duration]) -> String {
    samples.sort();
    match samples {
        [] => "no samples".to_owned(),
        _ => format!(
            "n={} min={:?} p50={:?} max={:?}",
            samples.len(),
            samples[0],
            samples[samples.len() / 2],
            samples[samples.len() - 1]
        ),
    }
}

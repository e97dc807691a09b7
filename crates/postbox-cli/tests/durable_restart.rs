//! How a daemon restarts with many durable messages queued: the time until it answers, and its
//! memory before and after the messages are received. A measurement, not a check run by default:
//!
//! ```text
//! cargo test --release -p postbox-cli --test durable_restart -- --ignored --nocapture
//! ```
//!
//! `POSTBOX_RESTART_MESSAGES` (default 1,000,000) messages of 64 bytes are sent in batches of
//! 1,024 to one durable mailbox (the daemon's quota raised to 2 GiB); the daemon is killed with SIGKILL and started again;
//! `POSTBOX_RESTART_FLAGS` adds daemon flags (`--resident-messages 2000000 --resident-bytes
//! 1GiB` loads everything at start, as daemons did before paging).

mod support;

use std::time::{Duration, Instant};

use support::Daemon;

/// A figure of `/proc/PID/status`, in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

fn memory(pid: u32) -> String {
    format!(
        "VmRSS {} MiB, VmHWM {} MiB",
        status_kib(pid, "VmRSS:") / 1024,
        status_kib(pid, "VmHWM:") / 1024
    )
}

#[test]
#[ignore = "a measurement: minutes in a debug build, see the module docs"]
fn restart_with_a_million_durable_messages() {
    let count: usize = std::env::var("POSTBOX_RESTART_MESSAGES")
        .ok()
        .map_or(1_000_000, |n| n.parse().expect("POSTBOX_RESTART_MESSAGES"));
    let extra = std::env::var("POSTBOX_RESTART_FLAGS").unwrap_or_default();
    // A million messages are charged 320 MB against the quota (payload plus 256 bytes each).
    let mut flags = vec!["--max-queued-bytes", "2GiB"];
    flags.extend(extra.split_whitespace());
    let mut daemon = Daemon::start_with(&flags);
    daemon
        .run(&["create", "jobs", "--durable", "--capacity", "unbounded"])
        .code(0);
    let payload = vec![b'x'; 64];
    let filling = Instant::now();
    {
        let process = postbox::connect(&daemon.url()).unwrap();
        let jobs = process.mailbox("jobs").open().unwrap();
        let mut sent = 0;
        while sent < count {
            let n = (count - sent).min(1024);
            if let Err(error) = jobs.send_batch((0..n).map(|_| payload.clone())) {
                panic!("sending after {sent} messages: {:?}", error.kind());
            }
            sent += n;
        }
    }
    println!(
        "filled {count} messages of 64 B in {:.2} s; daemon: {}",
        filling.elapsed().as_secs_f64(),
        memory(daemon.os_pid())
    );

    let restarting = Instant::now();
    daemon.crash_and_restart();
    let process = postbox::connect(&daemon.url()).unwrap();
    let jobs = process.mailbox("jobs").open().unwrap();
    let queued = jobs.stat().unwrap().messages;
    let answered = restarting.elapsed();
    assert_eq!(queued, count);
    println!(
        "restarted after kill -9: stat answered {queued} queued {:.3} s after the restart began; \
         daemon: {}",
        answered.as_secs_f64(),
        memory(daemon.os_pid())
    );

    let receiving = Instant::now();
    let mut received = 0;
    let mut last_seq = None;
    while received < count {
        for message in jobs
            .recv_many_timeout(1024, Duration::from_secs(60))
            .unwrap()
        {
            assert!(last_seq < Some(message.seq), "in order");
            last_seq = Some(message.seq);
            received += 1;
        }
    }
    assert_eq!(jobs.stat().unwrap().messages, 0);
    println!(
        "received all {received} in {:.2} s; daemon: {}",
        receiving.elapsed().as_secs_f64(),
        memory(daemon.os_pid())
    );
}

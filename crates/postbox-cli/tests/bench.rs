//! `postbox bench` against a real daemon: it reports throughput and latency percentiles and
//! leaves nothing behind.

mod support;

use support::Daemon;

#[test]
fn bench_reports_throughput_and_round_trip_percentiles_and_cleans_up() {
    let daemon = Daemon::start();
    let out = daemon
        .run(&[
            "bench",
            "--messages",
            "300",
            "--size",
            "1KiB",
            "--capacity",
            "4",
            "--round-trips",
            "50",
        ])
        .ok();
    assert!(out.contains("300 messages of 1KiB"), "{out}");
    assert!(
        out.contains("msgs/s") && out.contains("p50") && out.contains("p99"),
        "{out}"
    );
    let left = daemon.run(&["ls", "--json"]).code(0).json();
    assert_eq!(
        left.as_array().map(Vec::len),
        Some(0),
        "the bench mailbox is gone: {left}"
    );
    let node = daemon.run(&["stat", "--json"]).code(0).json();
    assert_eq!(node["total_received"], 300 + 2 * 50);
}

/// Messages over a mailbox's default size rule (64KiB) used to be refused by the bench's own
/// mailbox, and the refused send left the receiving thread waiting forever.
#[test]
fn bench_takes_messages_larger_than_a_default_mailbox_does() {
    let daemon = Daemon::start();
    let out = daemon
        .run(&[
            "bench",
            "--messages",
            "3",
            "--size",
            "100KiB",
            "--round-trips",
            "2",
        ])
        .ok();
    assert!(out.contains("3 messages of 100KiB"), "{out}");
}

#[test]
fn bench_of_messages_over_the_daemons_limit_names_the_limit_and_the_flags() {
    let daemon = Daemon::start_with(&["--max-message-size", "1MiB"]);
    let out = daemon
        .run(&["bench", "--messages", "3", "--size", "2MiB"])
        .code(1);
    for expected in [
        "messages of 2MiB",
        "--size",
        "--max-message-size",
        "8MiB by default",
    ] {
        assert!(out.stderr.contains(expected), "{expected}: {}", out.stderr);
    }
}

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

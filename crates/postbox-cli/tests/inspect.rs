//! `peek` and `purge`: looking at what a mailbox holds without taking it, and emptying it.

mod support;

use serde_json::Value;
use support::{Daemon, can_switch_user};

/// A daemon with mailbox `q` holding `a` (type 1), `b` (type 2), `c` (type 1).
fn with_three() -> Daemon {
    let daemon = Daemon::start();
    daemon.run(&["create", "q", "--mode", "0666"]).code(0);
    for (text, mtype) in [("a", "1"), ("b", "2"), ("c", "1")] {
        daemon.run(&["send", "q", text, "--type", mtype]).code(0);
    }
    daemon
}

#[test]
fn peek_prints_messages_as_recv_does_and_takes_none() {
    let daemon = with_three();
    assert_eq!(daemon.run(&["peek", "q"]).ok(), "a\nb\nc\n");
    assert_eq!(daemon.run(&["peek", "q", "-n", "2"]).ok(), "a\nb\n");
    assert_eq!(daemon.run(&["peek", "q", "--type", "2"]).ok(), "b\n");
    assert_eq!(daemon.run(&["peek", "q", "--not-type", "2"]).ok(), "a\nc\n");
    assert_eq!(daemon.run(&["peek", "q", "--type", "9"]).ok(), "");
    let lines: Vec<Value> = daemon
        .run(&["peek", "q", "--json"])
        .ok()
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1]["payload"], "b");
    assert_eq!(lines[1]["type"], 2);
    assert_eq!(lines[1]["seq"], 1);
    assert_eq!(lines[1]["source"], "mailbox q");
    let stat = daemon.stat("q");
    assert_eq!(
        (stat["messages"].as_u64(), stat["total_received"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(daemon.run(&["recv", "q", "-n", "3"]).ok(), "a\nb\nc\n");
}

#[test]
fn peek_and_purge_report_bad_names_and_flags() {
    let daemon = Daemon::start();
    let missing = daemon.run(&["peek", "nope"]).code(5);
    assert!(
        missing.stderr.contains("cannot peek into mailbox nope"),
        "{}",
        missing.stderr
    );
    daemon.run(&["purge", "nope"]).code(5);
    daemon.run(&["peek", "q", "-n", "0"]).code(2);
    daemon
        .run(&["peek", "q", "--type", "1", "--max-type", "2"])
        .code(2);
    daemon.run(&["purge"]).code(2);
}

#[test]
fn purge_empties_the_mailbox_counts_the_drops_and_says_how_many() {
    let daemon = with_three();
    assert_eq!(
        daemon.run(&["purge", "q"]).ok(),
        "purged 3 messages from q\n"
    );
    let stat = daemon.stat("q");
    assert_eq!(
        (stat["messages"].as_u64(), stat["dropped"].as_u64()),
        (Some(0), Some(3))
    );
    let json = daemon.run(&["purge", "q", "--json"]).code(0).json();
    assert_eq!(json, serde_json::json!({"name": "q", "purged": 0}));
    daemon.run(&["send", "q", "one"]).code(0);
    assert_eq!(
        daemon.run(&["purge", "q"]).ok(),
        "purged 1 message from q\n"
    );
}

#[test]
fn purge_lets_a_waiting_sender_in() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q", "--capacity", "1"]).code(0);
    daemon.run(&["send", "q", "old"]).code(0);
    let sender = daemon.spawn(&["send", "q", "new"]);
    daemon.wait_for_stat("q", "blocked_senders", 1);
    assert_eq!(
        daemon.run(&["purge", "q"]).ok(),
        "purged 1 message from q\n"
    );
    sender.finish().code(0);
    assert_eq!(daemon.run(&["recv", "q", "--nowait"]).ok(), "new\n");
}

#[test]
fn another_user_peeks_with_r_but_never_purges() {
    if !can_switch_user("another_user_peeks_with_r_but_never_purges") {
        return;
    }
    let daemon = Daemon::start_with(&["--mode", "0666"]);
    daemon.open_directory_to_all();
    daemon
        .run(&["create", "readable", "--mode", "0666"])
        .code(0);
    daemon.run(&["create", "dropbox", "--mode", "0622"]).code(0);
    daemon.run(&["send", "readable", "r"]).code(0);
    daemon.run(&["send", "dropbox", "d"]).code(0);
    assert_eq!(daemon.run_as_nobody(&["peek", "readable"]).ok(), "r\n");
    let denied = daemon.run_as_nobody(&["peek", "dropbox"]).code(6);
    assert!(
        denied.stderr.contains("permission denied"),
        "{}",
        denied.stderr
    );
    daemon.run_as_nobody(&["purge", "readable"]).code(6);
    assert_eq!(daemon.stat("readable")["messages"], 1);
}

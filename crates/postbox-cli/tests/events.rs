//! `postbox timer` and `postbox signal` through the real binary against a daemon of the test's
//! own: ticks and signals arrive as typed messages from the announced pid, the commands end on
//! their count, on SIGINT/SIGTERM, and with the mailbox's fate (exit 5 missing, 7 deleted).

mod support;

use std::process::Command;

use serde_json::Value;
use support::{Background, Daemon};

/// Sends `signal` (`-USR1`, `-TERM`, ...) to OS process `pid`.
fn kill(signal: &str, pid: u32) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("cannot run kill");
    assert!(status.success(), "kill {signal} {pid} failed");
}

/// Receives `n` messages from `name` as JSON.
fn recv_json(daemon: &Daemon, name: &str, n: usize) -> Vec<Value> {
    daemon
        .run(&["recv", name, "-n", &n.to_string(), "--json"])
        .ok()
        .lines()
        .map(|line| serde_json::from_str(line).expect("a line of JSON"))
        .collect()
}

/// The tick number and missed count of a tick's payload, `TICK MISSED`.
fn tick(message: &Value) -> (u64, u64) {
    let payload = message["payload"].as_str().expect("a text payload");
    let (tick, missed) = payload.split_once(' ').expect("TICK MISSED");
    (
        tick.parse().expect("a tick number"),
        missed.parse().expect("a missed count"),
    )
}

/// Whether postbox process `pid` is alive on the daemon.
fn alive(daemon: &Daemon, pid: u64) -> bool {
    let out = daemon.run(&["ps", "--json"]).ok();
    let processes: Value = serde_json::from_str(&out).expect("ps --json");
    processes
        .as_array()
        .expect("a list of processes")
        .iter()
        .any(|process| process["pid"] == pid)
}

#[test]
fn a_timer_with_a_count_posts_that_many_ticks_and_exits_0() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    let out = daemon
        .run(&["timer", "q", "--every", "20ms", "--count", "3"])
        .code(0);
    let pid: u64 = out
        .stderr
        .strip_prefix("postbox: pid ")
        .and_then(|rest| rest.split(',').next())
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("no pid announced: {}", out.stderr));
    let ticks = recv_json(&daemon, "q", 3);
    let mut previous = 0;
    for message in &ticks {
        assert_eq!(message["type"], 101, "{message}");
        assert_eq!(message["sender"], pid, "{message}");
        let (number, missed) = tick(message);
        assert_eq!(number, previous + missed + 1, "{ticks:?}");
        previous = number;
    }
    assert_eq!(daemon.stat("q")["messages"], 0, "more than 3 ticks");
    assert!(!alive(&daemon, pid), "the timer's process outlived it");
}

#[test]
fn a_one_shot_timer_posts_one_tick() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    daemon.run(&["timer", "q", "--after", "10ms"]).code(0);
    assert_eq!(daemon.run(&["recv", "q", "--nowait"]).ok(), "1 0\n");
    daemon.run(&["recv", "q", "--nowait"]).code(3);
}

#[test]
fn a_timer_to_a_missing_mailbox_exits_5() {
    let daemon = Daemon::start();
    let out = daemon.run(&["timer", "nowhere", "--after", "1ms"]).code(5);
    assert!(out.stderr.contains("mailbox nowhere"), "{}", out.stderr);
}

#[test]
fn a_timer_whose_mailbox_is_deleted_exits_7() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    let timer = daemon.spawn(&["timer", "q", "--every", "10ms"]);
    timer.announced_pid();
    daemon.run(&["recv", "q"]).code(0);
    daemon.run(&["rm", "q"]).code(0);
    let out = timer.finish().code(7);
    assert!(out.stderr.contains("mailbox q"), "{}", out.stderr);
}

#[test]
fn ctrl_c_stops_a_timer_with_exit_0_and_ends_its_process() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    let timer = daemon.spawn(&["timer", "q", "--every", "10ms"]);
    let pid = timer.announced_pid();
    daemon
        .run(&["recv", "q", "--from", &pid.to_string()])
        .code(0);
    kill("-INT", timer.os_pid());
    timer.finish().code(0);
    assert!(!alive(&daemon, pid));
}

#[test]
fn timer_usage_errors_exit_2() {
    let daemon = Daemon::start();
    for args in [
        &["timer", "q"][..],
        &["timer", "q", "--every", "1s", "--after", "1s"],
        &["timer", "q", "--after", "1s", "--count", "2"],
        &["timer", "q", "--every", "1s", "--count", "0"],
        &["timer", "q", "--every", "1ms"],
    ] {
        daemon.run(args).code(2);
    }
}

/// Starts `postbox signal NAME SIGNALS...` and waits until it announces itself, which it does
/// once its handlers are installed; returns it and its postbox pid.
fn forwarder(daemon: &Daemon, args: &[&str]) -> (Background, u64) {
    let mut all = vec!["signal"];
    all.extend_from_slice(args);
    let forwarder = daemon.spawn(&all);
    let pid = forwarder.announced_pid();
    (forwarder, pid)
}

#[test]
fn named_signals_arrive_in_the_mailbox_until_sigterm() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    let (forwarder, pid) = forwarder(&daemon, &["q", "SIGUSR1", "usr2"]);
    kill("-USR1", forwarder.os_pid());
    let first = recv_json(&daemon, "q", 1);
    kill("-USR2", forwarder.os_pid());
    let second = recv_json(&daemon, "q", 1);
    for (message, name) in [(&first[0], "SIGUSR1"), (&second[0], "SIGUSR2")] {
        assert_eq!(message["type"], 102, "{message}");
        assert_eq!(message["sender"], pid, "{message}");
        let payload = message["payload"].as_str().expect("text");
        let (number, named) = payload.split_once(' ').expect("NUMBER NAME");
        assert!(number.parse::<i32>().is_ok(), "{payload}");
        assert_eq!(named, name);
    }
    kill("-TERM", forwarder.os_pid());
    forwarder.finish().code(0);
    assert!(!alive(&daemon, pid));
    assert_eq!(daemon.stat("q")["messages"], 0, "the stop was forwarded");
}

#[test]
fn a_stopping_signal_that_is_named_is_forwarded_instead() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    let (mut forwarder, _) = forwarder(&daemon, &["q", "INT"]);
    kill("-INT", forwarder.os_pid());
    let payload = recv_json(&daemon, "q", 1)[0]["payload"].clone();
    assert!(
        payload.as_str().is_some_and(|p| p.ends_with(" SIGINT")),
        "{payload}"
    );
    assert!(forwarder.is_running(), "SIGINT stopped it though named");
    kill("-TERM", forwarder.os_pid());
    forwarder.finish().code(0);
}

#[test]
fn the_announcement_names_the_os_pid_to_signal() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    let forwarder = daemon.spawn(&["signal", "q", "HUP"]);
    let line = forwarder.stderr_line();
    assert!(
        line.contains(&format!("OS pid {}", forwarder.os_pid())),
        "{line}"
    );
    assert!(line.contains("SIGINT, SIGTERM, SIGQUIT stop"), "{line}");
    kill("-INT", forwarder.os_pid());
    forwarder.finish().code(0);
}

#[test]
fn signal_usage_errors_exit_2() {
    let daemon = Daemon::start();
    for args in [
        &["signal", "q"][..],
        &["signal", "q", "KILL"],
        &["signal", "q", "SIGSTOP"],
        &["signal", "q", "NOPE"],
    ] {
        daemon.run(args).code(2);
    }
}

#[test]
fn sigterm_stops_a_forwarder_waiting_for_room_and_withdraws_its_post() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q", "--capacity", "1"]).code(0);
    daemon.run(&["send", "q", "filler"]).code(0);
    let (forwarder, pid) = forwarder(&daemon, &["q", "USR1"]);
    kill("-USR1", forwarder.os_pid());
    daemon.wait_for_stat("q", "blocked_senders", 1);
    kill("-TERM", forwarder.os_pid());
    forwarder.finish().code(0);
    assert!(!alive(&daemon, pid));
    assert_eq!(daemon.stat("q")["blocked_senders"], 0);
    assert_eq!(
        daemon
            .run(&["recv", "q", "-n", "2", "--nowait"])
            .code(3)
            .stdout,
        "filler\n"
    );
}

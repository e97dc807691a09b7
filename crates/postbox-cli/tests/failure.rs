//! Termination and deletion: whoever waits on a process or mailbox that goes away is told at once
//! with exit 7, and `monitor` reports the death.

mod support;

use std::time::{Duration, Instant};

use support::{Background, Daemon};

/// Waits for `child` to exit and returns its output and how long after `since` it was seen gone.
fn exit_time(child: Background, since: Instant) -> (support::Out, Duration) {
    let out = child.finish();
    (out, since.elapsed())
}

#[test]
fn kill_9_of_a_process_others_wait_on_ends_their_wait_with_exit_7_within_100ms() {
    let daemon = Daemon::start();
    let mut victim = daemon.spawn(&["recv", "--inbox", "--as", "victim"]);
    let victim_pid = victim.announced_pid();
    let waiter = daemon.spawn(&["recv", "--inbox", "--from", "victim"]);
    let waiter_pid = waiter.announced_pid();
    daemon.wait_until_waiting(waiter_pid);
    daemon.wait_until_waiting(victim_pid);

    let killed = Instant::now();
    victim.kill();
    let (out, after) = exit_time(waiter, killed);
    let out = out.code(7);
    assert!(
        out.stderr.contains("peer process is gone"),
        "{}",
        out.stderr
    );
    eprintln!("recv --from a SIGKILLed process exited 7 {after:?} after the kill");
    assert!(after < Duration::from_millis(100), "took {after:?}");
}

#[test]
fn a_sender_blocked_on_a_killed_owners_mailbox_gets_exit_7() {
    let daemon = Daemon::start();
    let mut owner = daemon.spawn(&["recv", "owned", "--create-owned", "--type", "9"]);
    owner.announced_pid();
    // Fill it (64 messages by default), then one more sender must wait for room.
    let lines: String = (0..64).map(|n| format!("{n}\n")).collect();
    daemon
        .run_with_input(&["send", "owned", "--lines"], &lines)
        .code(0);
    let sender = daemon.spawn(&["send", "owned", "one too many"]);
    daemon.wait_for_stat("owned", "blocked_senders", 1);
    let killed = Instant::now();
    owner.kill();
    let (out, after) = exit_time(sender, killed);
    let out = out.code(7);
    assert!(out.stderr.contains("mailbox is gone"), "{}", out.stderr);
    assert!(after < Duration::from_millis(100), "took {after:?}");
}

#[test]
fn rm_wakes_a_waiting_receiver_with_exit_7() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    let receiver = daemon.spawn(&["recv", "q"]);
    daemon.wait_for_stat("q", "blocked_receivers", 1);
    daemon.run(&["rm", "q"]).code(0);
    let out = receiver.finish().code(7);
    assert!(out.stderr.contains("mailbox is gone"), "{}", out.stderr);
}

#[test]
fn monitor_prints_the_termination_and_exits_0() {
    let daemon = Daemon::start();
    let mut victim = daemon.spawn(&["recv", "--inbox", "--as", "victim"]);
    let victim_pid = victim.announced_pid();
    let monitor = daemon.spawn(&["monitor", "victim"]);
    // The monitor is ready once it waits for the notification.
    support::eventually("the monitor waits", || {
        let processes = daemon.run(&["ps", "--json"]).code(0).json();
        processes
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["pid"] != victim_pid && p["waiting"].as_u64() > Some(0))
            .count()
            == 1
    });
    victim.kill();
    let out = monitor.finish().code(0);
    assert_eq!(
        out.stdout,
        format!("process {victim_pid} (victim) terminated\n")
    );
}

#[test]
fn monitor_of_a_dead_pid_returns_at_once_and_of_an_unknown_one_exit_5() {
    let daemon = Daemon::start();
    let mut victim = daemon.spawn(&["recv", "--inbox"]);
    let pid = victim.announced_pid().to_string();
    victim.kill();
    victim.finish();
    assert_eq!(
        daemon.run(&["monitor", &pid]).ok(),
        format!("process {pid} terminated\n")
    );
    daemon.run(&["monitor", "999999"]).code(5);
    daemon.run(&["monitor", "no-such-name"]).code(5);
}

#[test]
fn monitor_with_a_timeout_gives_up_with_exit_4() {
    let daemon = Daemon::start();
    let alive = daemon.spawn(&["recv", "--inbox", "--as", "alive"]);
    alive.announced_pid();
    daemon
        .run(&["monitor", "alive", "--timeout", "200ms"])
        .code(4);
}

#[test]
fn a_direct_send_to_a_terminated_process_is_exit_7() {
    let daemon = Daemon::start();
    let mut gone = daemon.spawn(&["recv", "--inbox"]);
    let pid = gone.announced_pid().to_string();
    gone.kill();
    gone.finish();
    support::eventually("the process is gone", || {
        daemon.run(&["send", "--to", &pid, "hello?"]).code == 7
    });
}

#[test]
fn sigterm_stops_the_daemon_with_exit_0_and_waiters_get_disconnected_exit_1() {
    let mut daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    let receiver = daemon.spawn(&["recv", "q"]);
    daemon.wait_for_stat("q", "blocked_receivers", 1);
    assert_eq!(daemon.terminate(), 0);
    let out = receiver.finish().code(1);
    assert!(out.stderr.contains("disconnected"), "{}", out.stderr);
}

#[test]
fn a_daemon_killed_outright_ends_waits_with_an_error_exit_1() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    let receiver = daemon.spawn(&["recv", "q"]);
    daemon.wait_for_stat("q", "blocked_receivers", 1);
    drop(daemon); // SIGKILL: the connection drops under the receiver
    let out = receiver.finish().code(1);
    assert!(out.stderr.starts_with("postbox: "), "{}", out.stderr);
}

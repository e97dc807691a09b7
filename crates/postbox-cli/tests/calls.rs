//! `call`, `serve` and `send --as` across real processes.

mod support;

use support::{Daemon, eventually};

/// Waits until a process registered as `name` is listed.
fn await_registered(daemon: &Daemon, name: &str) {
    eventually(&format!("a process is registered as {name}"), || {
        let processes = daemon.run(&["ps", "--json"]).code(0).json();
        processes
            .as_array()
            .expect("ps --json is an array")
            .iter()
            .any(|p| p["name"] == name)
    });
}

#[test]
fn call_prints_the_answer_of_the_command_serve_runs() {
    let daemon = Daemon::start();
    daemon.run(&["create", "svc"]).code(0);
    let server = daemon.spawn(&["serve", "svc", "-n", "2", "--", "tr", "a-z", "A-Z"]);
    daemon.wait_for_stat("svc", "blocked_receivers", 1);
    // The test support reads output by lines, each ending in a newline.
    assert_eq!(daemon.run(&["call", "svc", "hello"]).ok(), "HELLO\n");
    let from_stdin = daemon.run_with_input(&["call", "svc", "--timeout", "20s"], "two\nlines\n");
    assert_eq!(from_stdin.ok(), "TWO\nLINES\n");
    server.finish().code(0);
}

#[test]
fn a_failing_command_fails_the_call_with_its_stderr() {
    let daemon = Daemon::start();
    daemon.run(&["create", "svc"]).code(0);
    let script = "cat >/dev/null; echo no such user >&2; exit 3";
    let server = daemon.spawn(&["serve", "svc", "-n", "1", "--", "sh", "-c", script]);
    daemon.wait_for_stat("svc", "blocked_receivers", 1);
    let out = daemon.run(&["call", "svc", "ada"]).code(1);
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(
        out.stderr
            .contains("call to mailbox svc failed: no such user"),
        "{}",
        out.stderr
    );
    server.finish().code(0);
}

#[test]
fn a_call_nobody_can_answer_exits_5_and_a_late_answer_is_dropped() {
    let daemon = Daemon::start();
    daemon.run(&["create", "nobody"]).code(0);
    let out = daemon.run(&["call", "nobody", "anyone?"]).code(5);
    assert!(out.stderr.contains("no responders"), "{}", out.stderr);

    // The command takes a second: the call has given up by the time it answers.
    let server = daemon.spawn(&["serve", "--as", "slow", "-n", "1", "--", "sleep", "1"]);
    let pid = server.announced_pid();
    daemon.wait_until_waiting(pid);
    let out = daemon
        .run(&["call", "--to", "slow", "--timeout", "100ms", "late"])
        .code(4);
    assert!(out.stderr.contains("timed out"), "{}", out.stderr);
    let line = server.stderr_line();
    assert!(
        line.contains("was answered too late: its caller stopped waiting"),
        "{line}"
    );
    server.finish().code(0);
}

#[test]
fn serve_answers_its_inbox_under_a_name_call_to_reaches() {
    let daemon = Daemon::start();
    let server = daemon.spawn(&["serve", "--as", "echo", "-n", "1", "--", "cat"]);
    let pid = server.announced_pid();
    assert_eq!(daemon.run(&["call", "--to", "echo", "ping"]).ok(), "ping\n");
    server.finish().code(0);
    let out = daemon
        .run(&["call", "--to", &pid.to_string(), "again"])
        .code(7);
    assert!(
        out.stderr.contains("peer process is gone"),
        "{}",
        out.stderr
    );
}

#[test]
fn send_as_a_name_lets_recv_from_that_name_match() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    daemon.run(&["send", "q", "from someone else"]).code(0);
    let sender = daemon.spawn(&["send", "q", "--as", "alice", "--receipt", "hi"]);
    await_registered(&daemon, "alice");
    assert_eq!(daemon.run(&["recv", "q", "--from", "alice"]).ok(), "hi\n");
    sender.finish().code(0);
    assert_eq!(daemon.run(&["recv", "q"]).ok(), "from someone else\n");
}

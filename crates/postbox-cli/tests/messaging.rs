//! `send` and `recv` across real processes: payloads, types, selectors, patience, pipelines,
//! streaming, rendezvous and direct messages.

mod support;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::time::{Duration, Instant};

use support::Daemon;

#[test]
fn smoke() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    daemon.run(&["send", "q", "hello"]).code(0);
    assert_eq!(daemon.run(&["recv", "q"]).ok(), "hello\n");
}

#[test]
fn the_payload_comes_from_stdin_when_no_argument_is_given() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    daemon
        .run_with_input(&["send", "q"], "line one\nline two\n")
        .code(0);
    // One message, bytes exactly as read; recv adds one newline after each payload.
    assert_eq!(daemon.stat("q")["messages"], 1);
    assert_eq!(daemon.run(&["recv", "q"]).ok(), "line one\nline two\n\n");
}

#[test]
fn lines_sends_one_message_per_line() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    daemon
        .run_with_input(&["send", "q", "--lines"], "a\n\nc")
        .code(0);
    assert_eq!(
        daemon.stat("q")["messages"],
        3,
        "an empty line is an empty message"
    );
    assert_eq!(daemon.run(&["recv", "q", "-n", "3"]).ok(), "a\n\nc\n");
}

#[test]
fn lines_sends_each_line_as_it_arrives_so_it_sits_in_a_pipeline() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    let mut producer = daemon.spawn(&["send", "q", "--lines"]);
    producer.write_stdin("first\n");
    // The first line is delivered while the producer's input is still open.
    assert_eq!(
        daemon.run(&["recv", "q", "--timeout", "10s"]).ok(),
        "first\n"
    );
    producer.write_stdin("second\n");
    assert_eq!(
        daemon.run(&["recv", "q", "--timeout", "10s"]).ok(),
        "second\n"
    );
    assert!(producer.is_running());
    producer.close_stdin();
    producer.finish().code(0);
}

#[test]
fn a_shell_pipeline_moves_lines_through_a_mailbox() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q", "--capacity", "4"]).code(0);
    let bin = support::BIN;
    // The producer blocks whenever four are queued; the consumer drains it concurrently.
    let script =
        format!("seq 1 50 | {bin} send q --lines & {bin} recv q -n 50 | sort -n | tail -n 1; wait");
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .env("POSTBOX_URL", daemon.url())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "50\n");
    assert_eq!(daemon.stat("q")["total_received"], 50);
}

#[test]
fn follow_streams_messages_as_they_arrive() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    let follower = daemon.spawn(&["recv", "q", "--follow"]);
    for n in 1..=3 {
        let payload = format!("message {n}");
        daemon.run(&["send", "q", &payload]).code(0);
        assert_eq!(follower.stdout_line(), payload);
    }
}

#[test]
fn follow_with_a_timeout_stops_after_a_quiet_spell_with_exit_4() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    daemon
        .run_with_input(&["send", "q", "--lines"], "a\nb\n")
        .code(0);
    let out = daemon
        .run(&["recv", "q", "--follow", "--timeout", "200ms"])
        .code(4);
    assert_eq!(out.stdout, "a\nb\n");
    assert!(out.stderr.contains("timed out"), "{}", out.stderr);
}

#[test]
fn count_receives_exactly_that_many() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    daemon
        .run_with_input(&["send", "q", "--lines"], "1\n2\n3\n")
        .code(0);
    assert_eq!(daemon.run(&["recv", "q", "-n", "2"]).ok(), "1\n2\n");
    assert_eq!(daemon.stat("q")["messages"], 1);
}

#[test]
fn typed_selective_receive_by_type_not_type_and_max_type() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    for (payload, mtype) in [("five", "5"), ("two", "2"), ("three", "3"), ("one", "1")] {
        daemon.run(&["send", "q", payload, "--type", mtype]).code(0);
    }
    assert_eq!(daemon.run(&["recv", "q", "--type", "3"]).ok(), "three\n");
    assert_eq!(daemon.run(&["recv", "q", "--max-type", "4"]).ok(), "one\n");
    assert_eq!(daemon.run(&["recv", "q", "--not-type", "5"]).ok(), "two\n");
    daemon
        .run(&["recv", "q", "--type", "9", "--nowait"])
        .code(3);
    assert_eq!(daemon.run(&["recv", "q"]).ok(), "five\n");
}

#[test]
fn a_priority_mailbox_delivers_highest_priority_first() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q", "--order", "priority"]).code(0);
    for (payload, priority) in [("low", "1"), ("high", "9"), ("mid", "5")] {
        daemon
            .run(&["send", "q", payload, "--priority", priority])
            .code(0);
    }
    assert_eq!(
        daemon.run(&["recv", "q", "-n", "3"]).ok(),
        "high\nmid\nlow\n"
    );
}

#[test]
fn recv_json_reports_sender_type_priority_and_sequence() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    daemon
        .run(&["send", "q", "hi", "--type", "7", "--priority", "3"])
        .code(0);
    let line = daemon.run(&["recv", "q", "--json"]).ok();
    let message: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(message["payload"], "hi");
    assert_eq!(message["type"], 7);
    assert_eq!(message["priority"], 3);
    assert_eq!(message["source"], "mailbox q");
    assert!(
        message["sender"].as_u64().is_some() && message["seq"].as_u64().is_some(),
        "{message}"
    );
}

#[test]
fn recv_json_gives_a_payload_as_text_or_as_hex_never_both() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    daemon.run(&["send", "q", "text"]).code(0);
    let mut binary = daemon.command(&["send", "q"]);
    binary.arg(OsStr::from_bytes(b"\xff\xfe"));
    support::run_command(binary, None).code(0);
    let out = daemon.run(&["recv", "q", "-n", "2", "--json"]).ok();
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines[0]["payload"], "text", "{out}");
    assert!(lines[0].get("payload_hex").is_none(), "{out}");
    assert_eq!(lines[1]["payload_hex"], "fffe", "{out}");
    assert!(lines[1].get("payload").is_none(), "{out}");
}

#[test]
fn nowait_on_an_empty_or_full_mailbox_is_exit_3() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q", "--capacity", "1"]).code(0);
    let empty = daemon.run(&["recv", "q", "--nowait"]).code(3);
    assert!(empty.stderr.contains("empty"), "{}", empty.stderr);
    daemon.run(&["send", "q", "x", "--nowait"]).code(0);
    let full = daemon.run(&["send", "q", "y", "--nowait"]).code(3);
    assert!(full.stderr.contains("full"), "{}", full.stderr);
}

#[test]
fn timeouts_are_exit_4_and_take_about_as_long_as_asked() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q", "--capacity", "1"]).code(0);
    let started = Instant::now();
    daemon.run(&["recv", "q", "--timeout", "300ms"]).code(4);
    assert!(started.elapsed() >= Duration::from_millis(300));
    daemon.run(&["send", "q", "x"]).code(0);
    let started = Instant::now();
    let out = daemon
        .run(&["send", "q", "y", "--timeout", "300ms"])
        .code(4);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(out.stderr.contains("timed out"), "{}", out.stderr);
    assert_eq!(
        daemon.stat("q")["messages"],
        1,
        "a timed-out send delivers nothing"
    );
}

#[test]
fn a_send_to_a_zero_capacity_mailbox_blocks_until_another_process_receives() {
    let daemon = Daemon::start();
    daemon
        .run(&["create", "meet", "--capacity", "zero"])
        .code(0);
    let mut sender = daemon.spawn(&["send", "meet", "hello", "--receipt"]);
    daemon.wait_for_stat("meet", "blocked_senders", 1);
    assert!(
        sender.is_running(),
        "the sender returned before anyone received"
    );
    assert_eq!(daemon.stat("meet")["messages"], 0, "nothing is buffered");
    let receiver = daemon.spawn(&["recv", "meet", "--as", "taker"]);
    let taker = receiver.announced_pid();
    assert_eq!(receiver.finish().ok(), "hello\n");
    // The rendezvous names the receiver.
    assert_eq!(sender.finish().ok(), format!("{taker}\n"));
}

#[test]
fn a_receiver_blocks_until_a_matching_message_arrives() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    let mut receiver = daemon.spawn(&["recv", "q", "--type", "2"]);
    daemon.wait_for_stat("q", "blocked_receivers", 1);
    daemon
        .run(&["send", "q", "not for you", "--type", "1"])
        .code(0);
    assert!(receiver.is_running());
    daemon.run(&["send", "q", "for you", "--type", "2"]).code(0);
    assert_eq!(receiver.finish().ok(), "for you\n");
}

#[test]
fn receipts_name_the_receiver_of_each_message() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    let receiver = daemon.spawn(&["recv", "q", "-n", "2", "--as", "consumer"]);
    let consumer = receiver.announced_pid();
    let out = daemon
        .run_with_input(&["send", "q", "--lines", "--receipt"], "a\nb\n")
        .ok();
    assert_eq!(out, format!("{consumer}\n{consumer}\n"));
    assert_eq!(receiver.finish().ok(), "a\nb\n");
}

#[test]
fn round_robin_dispatch_rotates_among_waiting_receivers() {
    let daemon = Daemon::start();
    daemon
        .run(&[
            "create",
            "work",
            "--capacity",
            "zero",
            "--receivers",
            "round-robin",
        ])
        .code(0);
    let workers: Vec<_> = ["w1", "w2"]
        .iter()
        .map(|name| daemon.spawn(&["recv", "work", "-n", "2", "--as", name]))
        .collect();
    let pids: Vec<u64> = workers.iter().map(|w| w.announced_pid()).collect();
    daemon.wait_for_stat("work", "blocked_receivers", 2);
    let receipts = daemon
        .run_with_input(&["send", "work", "--lines", "--receipt"], "1\n2\n3\n4\n")
        .ok();
    let receivers: Vec<u64> = receipts.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(receivers.len(), 4, "{receipts}");
    for pid in &pids {
        assert_eq!(
            receivers.iter().filter(|r| *r == pid).count(),
            2,
            "{receipts}"
        );
    }
    assert_ne!(
        receivers[0], receivers[1],
        "consecutive messages go to different workers"
    );
    for worker in workers {
        assert_eq!(worker.finish().ok().lines().count(), 2);
    }
}

#[test]
fn recv_on_several_mailboxes_takes_from_whichever_has_a_message() {
    let daemon = Daemon::start();
    daemon.run(&["create", "a"]).code(0);
    daemon.run(&["create", "b"]).code(0);
    let receiver = daemon.spawn(&["recv", "a", "b", "--json"]);
    daemon.wait_for_stat("b", "blocked_receivers", 1);
    daemon.run(&["send", "b", "from b"]).code(0);
    let out = receiver.finish().ok();
    let message: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (message["source"].as_str(), message["payload"].as_str()),
        (Some("mailbox b"), Some("from b"))
    );
}

#[test]
fn direct_messages_reach_a_process_inbox_by_name_or_pid() {
    let daemon = Daemon::start();
    let receiver = daemon.spawn(&["recv", "--inbox", "--as", "server", "-n", "2"]);
    let pid = receiver.announced_pid().to_string();
    daemon.run(&["send", "--to", "server", "by name"]).code(0);
    daemon
        .run_with_input(&["send", "--to", &pid], "by pid")
        .code(0);
    assert_eq!(receiver.finish().ok(), "by name\nby pid\n");
}

#[test]
fn recv_from_takes_only_that_senders_messages_and_fails_once_it_is_gone() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    let mut a = daemon.spawn(&["send", "q", "--lines"]);
    a.write_stdin("a1\n");
    daemon.wait_for_stat("q", "messages", 1);
    let mut b = daemon.spawn(&["send", "q", "--lines"]);
    b.write_stdin("b1\nb2\n");
    daemon.wait_for_stat("q", "messages", 3);
    let first = daemon.run(&["recv", "q", "--json"]).ok();
    let first: serde_json::Value = serde_json::from_str(first.trim()).unwrap();
    assert_eq!(first["payload"], "a1");
    let a_pid = first["sender"].as_u64().unwrap().to_string();
    a.write_stdin("a2\n");
    daemon.wait_for_stat("q", "messages", 3);
    // b1 and b2 are ahead of it in the queue.
    assert_eq!(daemon.run(&["recv", "q", "--from", &a_pid]).ok(), "a2\n");
    a.close_stdin();
    a.finish().code(0);
    // A has terminated and none of its messages remain: not empty, gone.
    let gone = daemon
        .run(&["recv", "q", "--from", &a_pid, "--nowait"])
        .code(7);
    assert!(
        gone.stderr.contains("peer process is gone"),
        "{}",
        gone.stderr
    );
    b.close_stdin();
    b.finish().code(0);
    assert_eq!(daemon.run(&["recv", "q", "-n", "2"]).ok(), "b1\nb2\n");
    let unknown = daemon
        .run(&["recv", "--inbox", "--from", "nobody-here"])
        .code(5);
    assert!(unknown.stderr.contains("nobody-here"), "{}", unknown.stderr);
}

#[test]
fn create_owned_mailboxes_live_exactly_as_long_as_the_command() {
    let daemon = Daemon::start();
    let mut owner = daemon.spawn(&["recv", "mine", "--create-owned", "--follow"]);
    owner.announced_pid();
    assert_eq!(daemon.stat("mine")["attrs"]["ownership"], "Process");
    daemon.run(&["send", "mine", "hello"]).code(0);
    assert_eq!(owner.stdout_line(), "hello");
    owner.kill();
    owner.finish();
    support::eventually("the owned mailbox is deleted", || {
        daemon.run(&["stat", "mine"]).code == 5
    });
    daemon.run(&["send", "mine", "too late"]).code(5);
}

#[test]
fn size_rules_and_unknown_destinations_have_their_exit_codes() {
    let daemon = Daemon::start();
    daemon
        .run(&["create", "fixed", "--size", "fixed:4"])
        .code(0);
    daemon.run(&["send", "fixed", "1234"]).code(0);
    let wrong = daemon.run(&["send", "fixed", "12345"]).code(1);
    assert!(wrong.stderr.contains("wrong size"), "{}", wrong.stderr);
    daemon.run(&["create", "small", "--size", "max:4"]).code(0);
    let large = daemon.run(&["send", "small", "12345"]).code(1);
    assert!(large.stderr.contains("too large"), "{}", large.stderr);
    daemon.run(&["send", "missing", "x"]).code(5);
    daemon.run(&["recv", "missing"]).code(5);
    daemon.run(&["send", "--to", "no-such-name", "x"]).code(5);
    daemon.run(&["send", "--to", "999999", "x"]).code(5);
}

/// A message larger than a connection's frames used to lose the connection ("disconnected"); it
/// is refused as too large, saying which limit it broke and what raises it.
#[test]
fn a_message_over_every_limit_is_too_large_naming_the_limit_not_disconnected() {
    let daemon = Daemon::start();
    daemon
        .run(&[
            "create",
            "big",
            "--size",
            "max:8MiB",
            "--max-bytes",
            "64MiB",
        ])
        .code(0);
    let ten_mib = "x".repeat(10 << 20);
    let over_mailbox = daemon.run_with_input(&["send", "big"], &ten_mib).code(1);
    for expected in [
        "10485760 bytes",
        "largest message of 8388608",
        "--size max:",
        "too large",
    ] {
        assert!(
            over_mailbox.stderr.contains(expected),
            "{}",
            over_mailbox.stderr
        );
    }
    assert!(!over_mailbox.stderr.contains("disconnected"));

    // To an inbox only the daemon's own limit applies (checked before anything is sent, so the
    // pid need not exist).
    let direct = daemon
        .run_with_input(&["send", "--to", "1"], &ten_mib)
        .code(1);
    assert!(
        direct.stderr.contains(
            "--max-message-size BYTES` raises the daemon's largest message, 8MiB by default"
        ),
        "{}",
        direct.stderr
    );

    // Nothing was lost on the way: the daemon still takes the largest message it allows.
    daemon
        .run_with_input(&["send", "big"], &"y".repeat(8 << 20))
        .code(0);
    assert_eq!(daemon.run(&["recv", "big"]).ok().len(), (8 << 20) + 1);
}

#[test]
fn an_exclusive_mailbox_refuses_a_second_receiver_with_exit_1() {
    let daemon = Daemon::start();
    daemon
        .run(&["create", "solo", "--receivers", "exclusive"])
        .code(0);
    let _holder = daemon.spawn(&["recv", "solo"]);
    daemon.wait_for_stat("solo", "blocked_receivers", 1);
    let busy = daemon.run(&["recv", "solo", "--nowait"]).code(1);
    assert!(busy.stderr.contains("busy"), "{}", busy.stderr);
}

#[test]
fn a_reader_that_stops_reading_is_not_an_error() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    daemon.run(&["send", "q", "unread"]).code(0);
    let mut command = daemon.command(&["recv", "q"]);
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    drop(child.stdout.take()); // like `| head -0`: the write meets a closed pipe
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn recv_follow_into_a_reader_that_stops_consumes_only_what_it_wrote() {
    use std::io::{BufRead as _, BufReader};
    use std::process::Stdio;

    let daemon = Daemon::start();
    daemon.run(&["create", "box"]).code(0);
    let mut follower = daemon
        .command(&["recv", "box", "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start recv --follow");
    // What `| head -3` does: read three lines, then close the pipe.
    let mut lines = BufReader::new(follower.stdout.take().expect("piped")).lines();
    for n in 0..3 {
        daemon.run(&["send", "box", &format!("m{n}")]).code(0);
        let line = lines.next().expect("a line").expect("readable");
        assert_eq!(line, format!("m{n}"));
    }
    drop(lines);
    // The fourth cannot be written: it must go back to the mailbox, not be lost.
    daemon.run(&["send", "box", "m3"]).code(0);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = follower.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = follower.kill();
            panic!("recv --follow did not end once its reader had gone");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(
        status.success(),
        "a closed reader is not a failure: {status}"
    );
    let rest = daemon.run(&["recv", "box", "--nowait"]).ok();
    assert_eq!(
        rest, "m3\n",
        "the message that could not be written is still there"
    );
}

#[test]
fn a_broadcast_mailbox_gives_every_follower_every_message() {
    let daemon = Daemon::start();
    daemon
        .run(&["create", "room", "--receivers", "broadcast"])
        .code(0);
    assert_eq!(daemon.stat("room")["attrs"]["receivers"], "Broadcast");
    let first = daemon.spawn(&["recv", "room", "--follow"]);
    let second = daemon.spawn(&["recv", "room", "--follow"]);
    daemon.wait_for_stat("room", "blocked_receivers", 2);
    for n in 1..=2 {
        let payload = format!("hello {n}");
        daemon.run(&["send", "room", &payload]).code(0);
        assert_eq!(first.stdout_line(), payload);
        assert_eq!(second.stdout_line(), payload);
    }
    let refused = daemon
        .run(&[
            "create",
            "feed",
            "--receivers",
            "broadcast",
            "--lease-time",
            "10s",
        ])
        .code(1);
    assert!(refused.stderr.contains("no leases"), "{}", refused.stderr);
}

//! Nodes from the shell, through the real binary: two node daemons (a dialling b, mutual TLS)
//! and commands run against each — `send jobs@b` from a received on b with its sender, `recv
//! jobs@b` from a, a `?node=b` URL, `send --to alice@b`, `monitor alice@b`, `call svc@b`
//! against `serve` on b, a chat on a in a room on b (and the chat example's library in its
//! place); and the errors: an unknown node (exit 5), a node that is down
//! (exit 1, `Disconnected`, said to be down), `NAME@NODE` where only local names make sense
//! (exit 2). Every wait polls or reads with a deadline; every process is killed when its test
//! ends.

mod support;

use std::time::Instant;

use postbox_examples::chat::Member;
use serde_json::Value;
use support::nodes::Pair;

/// The process `pid` in `ps --json` of a node, if listed.
fn process(ps: &Value, pid: u64) -> Option<&Value> {
    ps.as_array()?.iter().find(|p| p["pid"] == pid)
}

#[test]
fn a_message_sent_to_jobs_at_b_is_received_on_b_from_the_senders_stand_in() {
    let nodes = Pair::start();
    nodes.b.run(&["create", "jobs"]).code(0);
    // The sender stays alive (reading more lines) while b looks at who sent.
    let mut sender = nodes.a.spawn_command(&["send", "--lines", "jobs@b"]);
    sender.write_stdin("hi\n");
    let received = nodes.b.run(&["recv", "jobs", "--json"]).code(0).json();
    assert_eq!(received["payload"], "hi");
    let proxy = received["sender"].as_u64().expect("a sender pid");
    // On b the sender is a stand-in for a's process: listed as PID@a, that pid a's sender.
    let on_b = nodes.b.run(&["ps", "--json"]).code(0).json();
    let stand_in = process(&on_b, proxy).expect("the sender is listed on b");
    let command = stand_in["command"].as_str().expect("a command");
    let (pid_on_a, node) = command.split_once('@').expect("PID@NODE");
    assert_eq!(node, "a", "{stand_in}");
    let on_a = nodes.a.run(&["ps", "--json"]).code(0).json();
    let pid_on_a: u64 = pid_on_a.parse().expect("a pid");
    let original = process(&on_a, pid_on_a).expect("the sender is listed on a");
    assert!(
        original["command"]
            .as_str()
            .is_some_and(|c| c.contains("send --lines jobs@b")),
        "{original}"
    );
    sender.close_stdin();
    sender.finish().code(0);
}

#[test]
fn recv_jobs_at_b_from_a_and_a_node_url_take_b_s_messages() {
    let nodes = Pair::start();
    nodes.b.run(&["create", "jobs"]).code(0);
    nodes.b.run(&["send", "jobs", "first"]).code(0);
    let out = nodes.a.run(&["recv", "jobs@b", "--timeout", "10s"]).ok();
    assert_eq!(out, "first\n");
    // A receive waiting on a is woken by a send on b.
    let waiting = nodes
        .a
        .spawn_command(&["recv", "jobs@b", "--timeout", "20s"]);
    nodes.b.wait_for_stat_field("jobs", "blocked_receivers", 1);
    nodes.b.run(&["send", "jobs", "second"]).code(0);
    assert_eq!(waiting.finish().code(0).stdout, "second\n");
    // `?node=b`: plain names are b's.
    let mut send = support::command(&["send", "jobs", "via-url"]);
    send.env("POSTBOX_URL", format!("{}?node=b", nodes.a.url()));
    support::run_command(send, None).code(0);
    assert_eq!(nodes.b.run(&["recv", "jobs", "--nowait"]).ok(), "via-url\n");
    // What a created on b is b's: listed there, and gone when a deletes it.
    nodes.a.run(&["create", "made-by-a@b"]).code(0);
    assert!(nodes.b.run(&["ls"]).ok().contains("made-by-a"));
    nodes.a.run(&["rm", "made-by-a@b"]).code(0);
    assert!(!nodes.b.run(&["ls"]).ok().contains("made-by-a"));
}

#[test]
fn send_to_alice_at_b_reaches_the_process_registered_as_alice_on_b() {
    let nodes = Pair::start();
    let alice = nodes
        .b
        .spawn_command(&["recv", "--inbox", "--as", "alice", "--timeout", "20s"]);
    alice.announced_pid();
    nodes
        .a
        .run(&["send", "--to", "alice@b", "hello alice"])
        .code(0);
    assert_eq!(alice.finish().code(0).stdout, "hello alice\n");
    // She has gone: nobody is registered as alice on b any more.
    let out = nodes.a.run(&["send", "--to", "alice@b", "again"]).code(5);
    assert!(
        out.stderr
            .contains("no process is registered as \"alice@b\""),
        "{out:?}"
    );
}

#[test]
fn monitor_alice_at_b_sees_her_end_on_b() {
    let nodes = Pair::start();
    let alice = nodes
        .b
        .spawn_command(&["recv", "--inbox", "--as", "alice", "--timeout", "20s"]);
    alice.announced_pid();
    let monitor = nodes
        .a
        .spawn_command(&["monitor", "alice@b", "--timeout", "20s"]);
    // Watching: its wait for the end shows on a before alice is let go.
    support::eventually("the monitor waits", || {
        let ps = nodes.a.run(&["ps", "--json"]).code(0).json();
        ps.as_array().is_some_and(|all| {
            all.iter().any(|p| {
                p["command"].as_str().is_some_and(|c| c.contains("monitor"))
                    && p["waiting"].as_u64() > Some(0)
            })
        })
    });
    nodes.a.run(&["send", "--to", "alice@b", "bye"]).code(0);
    alice.finish().code(0);
    let out = monitor.finish().code(0);
    assert!(out.stdout.contains("(alice@b) terminated"), "{out:?}");
}

#[test]
fn call_svc_at_b_is_answered_by_serve_on_b() {
    let nodes = Pair::start();
    nodes.b.run(&["create", "svc"]).code(0);
    let serve = nodes
        .b
        .spawn_command(&["serve", "svc", "--count", "1", "--", "cat"]);
    // Serving: a call before it opened svc would find nobody to answer.
    nodes.b.wait_for_stat_field("svc", "blocked_receivers", 1);
    let answer = nodes
        .a
        .run(&["call", "svc@b", "ping", "--timeout", "20s"])
        .ok();
    assert_eq!(answer, "ping\n");
    serve.finish().code(0);
    // And a process registered on b, called by name.
    let by_name = nodes
        .b
        .spawn_command(&["serve", "--as", "echo", "--count", "1", "--", "cat"]);
    by_name.announced_pid();
    let answer = nodes
        .a
        .run_with_input(&["call", "--to", "echo@b", "--timeout", "20s"], "pong");
    assert_eq!(answer.ok(), "pong\n");
    by_name.finish().code(0);
}

#[test]
fn a_chat_on_a_in_a_room_on_b_talks_with_a_chat_on_b() {
    let nodes = Pair::start();
    let mut dave = nodes.b.spawn_command(&["chat", "dave", "--room", "lobby"]);
    wait_for_line(&dave, "dave joined");
    let mut carol = nodes
        .a
        .spawn_command(&["chat", "carol", "--room", "lobby@b"]);
    wait_for_line(&carol, "carol joined");
    wait_for_line(&dave, "carol joined");
    carol.write_stdin("hello from a\n");
    wait_for_line(&dave, "carol: hello from a");
    dave.write_stdin("hello from b\n");
    wait_for_line(&carol, "dave: hello from b");
    carol.close_stdin();
    wait_for_line(&dave, "carol left");
    dave.close_stdin();
}

#[test]
fn the_chat_example_on_a_in_a_room_on_b_talks_with_a_chat_on_b() {
    let nodes = Pair::start();
    let mut dave = nodes.b.spawn_command(&["chat", "dave", "--room", "lobby"]);
    wait_for_line(&dave, "dave joined");
    let process = postbox::connect(&nodes.a.url()).expect("connect to a");
    let mut alice = Member::join(process, "alice", "lobby@b").expect("alice joins lobby@b");
    wait_for_line(&dave, "alice joined");
    alice
        .say("hello from the library")
        .expect("alice says a line");
    wait_for_line(&dave, "alice: hello from the library");
    dave.write_stdin("hello from b\n");
    // Dave's name reaches alice in his answer to her announcement, before his line.
    let shown = shown_until(&mut alice, "dave: hello from b");
    assert!(
        shown.iter().any(|line| line == "* dave is here"),
        "{shown:?}"
    );
    // A newcomer learns alice's name from her answer to its announcement, sent as she is shown
    // it.
    let mut carol = nodes.b.spawn_command(&["chat", "carol", "--room", "lobby"]);
    shown_until(&mut alice, "* carol joined");
    wait_for_line(&carol, "alice is here");
    drop(alice);
    wait_for_line(&dave, "alice left");
    wait_for_line(&carol, "alice left");
    dave.close_stdin();
    carol.close_stdin();
}

/// What `member` is shown, up to and including `line`, within the support's patience.
#[track_caller]
fn shown_until(member: &mut Member, line: &str) -> Vec<String> {
    let deadline = Instant::now() + support::PATIENCE;
    let mut shown = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match member.next_shown(left) {
            Ok(Some(next)) if next == line => {
                shown.push(next);
                return shown;
            }
            Ok(Some(next)) => shown.push(next),
            Ok(None) => panic!(
                "{line:?} not shown within {:?}; shown: {shown:?}",
                support::PATIENCE
            ),
            Err(error) => panic!("waiting for {line:?}: {error}; shown: {shown:?}"),
        }
    }
}

/// Reads `chat`'s stdout until a line holds `text` (each line within the support's patience).
#[track_caller]
fn wait_for_line(chat: &support::Background, text: &str) {
    loop {
        if chat.stdout_line().contains(text) {
            return;
        }
    }
}

#[test]
fn a_node_this_daemon_does_not_link_with_is_not_found_and_says_so() {
    let nodes = Pair::start();
    for args in [
        &["send", "jobs@nowhere", "hi"][..],
        &["recv", "jobs@nowhere", "--nowait"],
        &["call", "svc@nowhere", "ping"],
        &["send", "--to", "alice@nowhere", "hi"],
        &["stat", "jobs@nowhere"],
    ] {
        let out = nodes.a.run(args).code(5);
        assert!(
            out.stderr
                .contains("node nowhere is not linked with this daemon (node a)"),
            "{args:?}: {out:?}"
        );
    }
    // A daemon with no node links at all says that.
    let lone = support::Daemon::start();
    let out = lone.run(&["send", "jobs@b", "hi"]).code(5);
    assert!(out.stderr.contains("which has no node links"), "{out:?}");
}

#[test]
fn names_that_are_no_address_or_only_local_are_usage_errors() {
    let nodes = Pair::start();
    for args in [
        &["send", "jobs@", "hi"][..],
        &["send", "jobs@b@c", "hi"],
        &["recv", "@b"],
        &["send", "--to", "alice@", "hi"],
    ] {
        let out = nodes.a.run(args).code(2);
        assert!(out.stderr.contains("invalid"), "{args:?}: {out:?}");
    }
    // A process registers on the node it is connected to.
    let out = nodes.a.run(&["recv", "--inbox", "--as", "alice@b"]).code(2);
    assert!(
        out.stderr
            .contains("a process registers its name on the node it is connected to"),
        "{out:?}"
    );
}

#[test]
fn a_node_that_is_down_fails_disconnected_in_flight_and_after() {
    let mut nodes = Pair::start();
    nodes.b.run(&["create", "jobs"]).code(0);
    let waiting = nodes
        .a
        .spawn_command(&["recv", "jobs@b", "--timeout", "20s"]);
    nodes.b.wait_for_stat_field("jobs", "blocked_receivers", 1);
    nodes.b.kill();
    // In flight: the receive fails once a declares b down (within the node timeout).
    let out = waiting.finish().code(1);
    assert!(out.stderr.contains("node b is down"), "{out:?}");
    assert!(out.stderr.ends_with("disconnected\n"), "{out:?}");
    // After: a new request fails at once, the same way.
    nodes.a.wait_for_peer("b", "down", |_| true);
    let out = nodes.a.run(&["send", "jobs@b", "hi"]).code(1);
    assert!(out.stderr.contains("node b is down"), "{out:?}");
    assert!(out.stderr.ends_with("disconnected\n"), "{out:?}");
}

#[test]
fn ls_ps_and_stat_with_node_show_the_other_nodes_lists() {
    let nodes = Pair::start();
    nodes.b.run(&["create", "only-on-b"]).code(0);
    let here = nodes.a.run(&["ls", "--json"]).code(0).json();
    assert!(
        here.as_array()
            .expect("a list")
            .iter()
            .all(|m| m["name"] != "only-on-b"),
        "{here}"
    );
    let there = nodes.a.run(&["ls", "--node", "b", "--json"]).code(0).json();
    assert!(
        there
            .as_array()
            .expect("a list")
            .iter()
            .any(|m| m["name"] == "only-on-b"),
        "{there}"
    );
    // The ls itself acted on b through a stand-in, which b's process list shows.
    let ps = nodes.a.run(&["ps", "--node", "b", "--json"]).code(0).json();
    assert!(
        ps.as_array()
            .expect("a list")
            .iter()
            .any(|p| p["command"].as_str().is_some_and(|c| c.ends_with("@a"))),
        "{ps}"
    );
    let stats = nodes
        .a
        .run(&["stat", "--node", "b", "--json"])
        .code(0)
        .json();
    assert!(
        stats["mailboxes"].as_u64().is_some_and(|n| n >= 1),
        "{stats}"
    );
    nodes.a.run(&["ls", "--node", "nowhere"]).code(5);
    nodes.a.run(&["stat", "jobs", "--node", "b"]).code(2);
}

#[test]
fn a_dead_letter_mailbox_named_plainly_for_a_mailbox_of_b_is_b_s() {
    let nodes = Pair::start();
    nodes.b.run(&["create", "dl"]).code(0);
    let create = |dead_letter: &str| {
        nodes.a.run(&[
            "create",
            "jobs@b",
            "--max-deliveries",
            "2",
            "--dead-letter",
            dead_letter,
        ])
    };
    create("dl").code(0);
    let on_b = |name: &str| nodes.b.run(&["stat", name, "--json"]).code(0).json();
    assert_eq!(
        on_b("jobs")["attrs"]["redelivery"]["dead_letter"],
        on_b("dl")["id"],
        "dl is b's"
    );
    let refused = nodes
        .a
        .run(&[
            "create",
            "other@b",
            "--max-deliveries",
            "2",
            "--dead-letter",
            "dl@c",
        ])
        .code(2);
    assert!(
        refused
            .stderr
            .contains("the dead-letter mailbox dl@c is on node c, but other@b is on node b"),
        "{}",
        refused.stderr
    );
}

/// How many processes of node a the memory test makes act on b.
const STAND_INS: usize = 400;

#[test]
fn a_stand_in_costs_node_b_a_few_kilobytes() {
    let nodes = Pair::start();
    nodes.b.run(&["create", "sink"]).code(0);
    // Warm up: the first stand-ins grow tables and the allocator's arenas once.
    let warm: Vec<postbox::Process> = (0..32).map(|_| connect_and_act(&nodes)).collect();
    let before = nodes.b.resident_bytes();
    let acting: Vec<postbox::Process> = (0..STAND_INS).map(|_| connect_and_act(&nodes)).collect();
    let after = nodes.b.resident_bytes();
    let per_stand_in = after.saturating_sub(before) / STAND_INS as u64;
    eprintln!(
        "node b: {before} bytes resident before, {after} after {STAND_INS} stand-ins: \
         {per_stand_in} bytes each"
    );
    // An engine process, its inbox, a hub entry and the router's maps: a few kilobytes. The
    // bound is generous (the allocator keeps what it takes), and would catch a per-stand-in
    // buffer or task.
    assert!(
        per_stand_in < 32 * 1024,
        "{per_stand_in} bytes per stand-in"
    );
    drop(acting);
    drop(warm);
}

/// A process of node a that has acted on b (opened `sink@b`), so b holds a stand-in for it.
fn connect_and_act(nodes: &Pair) -> postbox::Process {
    let process = postbox::connect(&nodes.a.url()).expect("connect to a");
    process.mailbox("sink@b").open().expect("open sink@b");
    process
}

#[test]
fn an_idle_association_costs_a_node_well_under_a_megabyte() {
    let certs = support::nodes::Certs::new(&["a", "b"]);
    let b = support::nodes::NodeDaemon::start("b", "127.0.0.1:0", certs.flags("b"), None);
    // b has served one client (`postbox nodes`, for its port): settle that first.
    let _ = b.nodes();
    let alone = b.resident_bytes();
    let mut a_flags = certs.flags("a");
    a_flags.extend([
        "--peer".to_owned(),
        format!("b=127.0.0.1:{}", b.node_port()),
    ]);
    let a = support::nodes::NodeDaemon::start("a", "127.0.0.1:0", a_flags, None);
    a.wait_for_peer("b", "up", |_| true);
    b.wait_for_peer("a", "up", |_| true);
    let linked = b.resident_bytes();
    let association = linked.saturating_sub(alone);
    eprintln!(
        "node b: {alone} bytes resident alone, {linked} linked with a: {association} for the idle association"
    );
    // The TLS connection's buffers, the peer's task and an empty resend buffer (which may hold
    // up to 4096 messages and 16 MiB when the peer does not acknowledge).
    assert!(
        association < 1 << 20,
        "{association} bytes for one idle association"
    );
}

#[test]
fn stat_jobs_at_b_from_a_shows_b_s_mailbox() {
    let nodes = Pair::start();
    nodes.b.run(&["create", "jobs"]).code(0);
    nodes.b.run(&["send", "jobs", "one"]).code(0);
    nodes.a.run(&["send", "jobs@b", "two"]).code(0);
    let stats = nodes.a.run(&["stat", "jobs@b", "--json"]).code(0).json();
    assert_eq!(stats["messages"], 2, "{stats}");
    let on_b = nodes.b.run(&["stat", "jobs", "--json"]).code(0).json();
    // The same mailbox (its id, to a, is one of the range a hands out for other nodes').
    assert_eq!(stats["created"], on_b["created"], "{stats} / {on_b}");
    assert_eq!(stats["total_sent"], on_b["total_sent"], "{stats} / {on_b}");
}

#[test]
fn ps_on_a_whose_process_waits_on_b_answers_within_the_node_timeout_when_b_dies() {
    let mut nodes = Pair::start();
    nodes.b.run(&["create", "jobs"]).code(0);
    // A process of a waiting on b: a's `ps` asks b for its stand-in's entry.
    let waiting = nodes
        .a
        .spawn_command(&["recv", "jobs@b", "--timeout", "30s"]);
    nodes.b.wait_for_stat_field("jobs", "blocked_receivers", 1);
    let shown = nodes.a.run(&["ps", "--json"]).code(0).json();
    assert!(shown.to_string().contains("jobs@b"), "{shown}");
    // b dies without a word: `ps` on a waits for b's answer at most until b is declared down
    // (3 s), then lists what a has; the receive fails, its node gone.
    nodes.b.kill();
    let started = std::time::Instant::now();
    nodes.a.run(&["ps", "--json"]).code(0);
    let took = started.elapsed();
    assert!(
        took <= std::time::Duration::from_millis(4000),
        "ps took {took:?}"
    );
    let failed = waiting.finish().code(1);
    assert!(failed.stderr.contains("node b is down"), "{failed:?}");
}

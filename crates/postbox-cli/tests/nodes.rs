//! Node links through the real binary: daemons peered over mutual TLS with certificates from
//! `postbox certs`, watched with `postbox nodes --json` — up with each other's incarnation, down
//! within the node timeout after `kill -9` (the dead node's stand-ins ended), up again with a new
//! incarnation after a restart and reached again, a request under way failing `Disconnected`
//! when the node restarts before it is seen down, down at once after SIGTERM or SIGINT, down
//! sooner with a shorter `--node-timeout` (and one below 500 ms refused at start); a node
//! whose certificate is for another name (dialling or dialled) or from another CA, refused; and
//! a node given a fixed identity (`--peer-identity`) acting as it. Every wait polls with a
//! deadline; every daemon is killed when its test ends.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::nodes::{Certs, NodeDaemon, Pair};

#[test]
fn peered_nodes_see_each_other_up_down_restarted_and_leaving() {
    let certs = Certs::new(&["a", "b"]);
    let mut b = NodeDaemon::start("b", "127.0.0.1:0", certs.flags("b"), None);
    let b_port = b.node_port();
    let mut a_flags = certs.flags("a");
    a_flags.extend(["--peer".to_owned(), format!("b=127.0.0.1:{b_port}")]);
    let a = NodeDaemon::start("a", "127.0.0.1:0", a_flags, None);

    // Each shows the other up, with the other's own incarnation (b learnt a on first use).
    let b_first = b.incarnation();
    a.wait_for_peer("b", "up", |peer| peer["incarnation"] == b_first.as_str());
    let a_incarnation = a.incarnation();
    b.wait_for_peer("a", "up", |peer| {
        peer["incarnation"] == a_incarnation.as_str()
    });
    let shown = a.peer("b").unwrap();
    assert_eq!(shown["address"], format!("127.0.0.1:{b_port}"));
    assert!(shown["rtt_ms"].is_number() || shown["rtt_ms"].is_null());
    assert_eq!(shown["unacked"], 0);
    // b, which has no --peer for a, lists it with the address it connected from.
    let learnt = b.peer("a").unwrap();
    assert!(
        learnt["address"]
            .as_str()
            .is_some_and(|address| address.starts_with("127.0.0.1:")),
        "{learnt}"
    );

    // A process of b acting on a has a stand-in there, listed by a as PID@b while it lives.
    a.run(&["create", "jobs"]).code(0);
    let mut from_b = b.spawn_command(&["send", "--lines", "jobs@a"]);
    from_b.write_stdin("from b\n");
    let stand_in = a.run(&["recv", "jobs", "--json"]).code(0).json()["sender"].clone();
    let listed = |pid: &Value| {
        let ps = a.run(&["ps", "--json"]).code(0).json();
        ps.as_array()
            .and_then(|all| all.iter().find(|p| p["pid"] == *pid))
            .map(|p| p["command"].as_str().unwrap_or_default().to_owned())
    };
    assert!(
        listed(&stand_in).is_some_and(|command| command.ends_with("@b")),
        "{:?}",
        listed(&stand_in)
    );

    // kill -9 b: a reports it down within the node timeout (3 s) and a little.
    b.kill();
    let down = a.wait_for_peer("b", "down", |_| true);
    println!("kill -9: a saw b down after {down:?}");
    assert!(down <= Duration::from_millis(3500), "down after {down:?}");
    // b's processes are gone with it: their stand-ins on a end.
    support::eventually("b's stand-in on a ends", || listed(&stand_in).is_none());
    drop(from_b);

    // b again, on the same port: a sees it up with a new incarnation.
    b.listen_on(&format!("127.0.0.1:{b_port}"));
    b.spawn();
    let b_second = b.incarnation();
    assert_ne!(b_second, b_first, "a new incarnation at every start");
    let up = a.wait_for_peer("b", "up", |peer| peer["incarnation"] == b_second.as_str());
    println!("restart: a saw b up again after {up:?}");
    assert!(
        a.log().contains("node b is up (new session)"),
        "{}",
        a.log()
    );
    // Up again, b is reached again: a forwards to the new b.
    b.run(&["create", "jobs"]).code(0);
    a.run(&["send", "jobs@b", "after the restart"]).code(0);
    assert_eq!(b.run(&["recv", "jobs"]).ok(), "after the restart\n");

    // b restarted before a could see it down: a's request under way there (a receive waiting
    // on b) fails `Disconnected`, and a logs the restart with both incarnations.
    let waiting = a.spawn_command(&["recv", "jobs@b", "--timeout", "30s"]);
    b.wait_for_stat_field("jobs", "blocked_receivers", 1);
    b.kill();
    b.spawn();
    let b_third = b.incarnation();
    a.wait_for_peer("b", "up", |peer| peer["incarnation"] == b_third.as_str());
    let failed = waiting.finish().code(1);
    assert!(failed.stderr.contains("disconnected"), "{failed:?}");
    a.wait_for_log(&format!("node b restarted ({b_second} became {b_third})"));

    // SIGTERM b: its Goodbye makes a see it down at once.
    b.terminate();
    let down = a.wait_for_peer("b", "down", |_| true);
    println!("SIGTERM: a saw b down after {down:?}");
    assert!(down <= Duration::from_secs(1), "down after {down:?}");
    assert_eq!(b.wait(), 0, "a clean shutdown");
    assert!(
        a.log().contains("node b is down: the node said goodbye"),
        "{}",
        a.log()
    );
}

#[test]
fn a_shorter_node_timeout_sees_a_killed_node_down_sooner_and_too_short_a_one_is_refused() {
    let mut nodes = Pair::start_with(&["--node-timeout", "1s"], &[]);
    let (a, b) = (&nodes.a, &mut nodes.b);
    b.kill();
    let down = a.wait_for_peer("b", "down", |_| true);
    println!("kill -9 with --node-timeout 1s: a saw b down after {down:?}");
    assert!(down <= Duration::from_millis(1500), "down after {down:?}");

    // Below the minimum of 500 ms the daemon does not start, and says why.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let socket = dir.path().join("postbox.sock").display().to_string();
    let mut flags = vec!["daemon", "--socket", &socket, "--node", "c"];
    flags.extend(["--node-listen", "127.0.0.1:0", "--node-timeout", "400ms"]);
    let certs_c = Certs::new(&["c"]);
    let c_flags = certs_c.flags("c");
    flags.extend(c_flags.iter().map(String::as_str));
    let refused = support::run_command(support::command(&flags), None);
    assert_ne!(refused.code, 0, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("the node timeout must be at least 500ms, not 400ms"),
        "{refused:?}"
    );
}

#[test]
fn a_node_whose_certificate_is_for_another_name_is_refused() {
    let certs = Certs::new(&["a", "mallory"]);
    let a = NodeDaemon::start("a", "127.0.0.1:0", certs.flags("a"), None);
    // It says it is b, with mallory's certificate.
    let mut flags = certs.flags("mallory");
    flags.extend([
        "--peer".to_owned(),
        format!("a=127.0.0.1:{}", a.node_port()),
    ]);
    let impostor = NodeDaemon::start("b", "127.0.0.1:0", flags, None);
    a.wait_for_log("it says it is node b, but its certificate is not for node b");
    assert_eq!(
        a.nodes()["peers"],
        Value::Array(Vec::new()),
        "a never links with it"
    );
    assert_ne!(impostor.peer("a").unwrap()["state"], "up");
}

#[test]
fn a_node_dialled_that_shows_a_certificate_for_another_name_is_refused() {
    let certs = Certs::new(&["a", "mallory"]);
    // It listens as b, with mallory's certificate; a dials it as b.
    let impostor = NodeDaemon::start("b", "127.0.0.1:0", certs.flags("mallory"), None);
    let mut flags = certs.flags("a");
    flags.extend([
        "--peer".to_owned(),
        format!("b=127.0.0.1:{}", impostor.node_port()),
    ]);
    let a = NodeDaemon::start("a", "127.0.0.1:0", flags, None);
    a.wait_for_log("cannot link with node b: the TLS handshake");
    assert_ne!(a.peer("b").unwrap()["state"], "up");
    assert_eq!(
        impostor.nodes()["peers"],
        Value::Array(Vec::new()),
        "the impostor never links with a"
    );
}

#[test]
fn a_node_stopped_with_sigint_says_goodbye_too() {
    let mut nodes = Pair::start();
    let (a, b) = (&nodes.a, &mut nodes.b);
    let status = std::process::Command::new("kill")
        .args(["-INT", &b.pid().to_string()])
        .status();
    assert!(status.is_ok_and(|s| s.success()), "cannot signal b");
    let down = a.wait_for_peer("b", "down", |_| true);
    assert!(down <= Duration::from_secs(1), "down after {down:?}");
    assert_eq!(b.wait(), 0, "a clean shutdown");
    assert!(
        a.log().contains("node b is down: the node said goodbye"),
        "{}",
        a.log()
    );
}

#[test]
fn a_node_whose_certificate_is_from_another_ca_is_refused() {
    let certs = Certs::new(&["a"]);
    let theirs = Certs::new(&["x"]);
    let a = NodeDaemon::start("a", "127.0.0.1:0", certs.flags("a"), None);
    let mut flags = theirs.flags("x");
    flags.extend([
        "--peer".to_owned(),
        format!("a=127.0.0.1:{}", a.node_port()),
    ]);
    let stranger = NodeDaemon::start("x", "127.0.0.1:0", flags, None);
    a.wait_for_log("refused a node connection from 127.0.0.1");
    stranger.wait_for_log("cannot link with node a: the TLS handshake");
    assert_eq!(
        a.nodes()["peers"],
        Value::Array(Vec::new()),
        "a never links with it"
    );
    assert_ne!(stranger.peer("a").unwrap()["state"], "up");
}

/// The cells of a table line, as (start, end) byte offsets: text between runs of two or more
/// spaces (a cell such as `15ms ago` has single spaces only).
fn cells(line: &str) -> Vec<(usize, usize)> {
    let mut found: Vec<(usize, usize)> = Vec::new();
    let mut spaces = 2;
    for (i, byte) in line.bytes().enumerate() {
        if byte == b' ' {
            spaces += 1;
            continue;
        }
        match found.last_mut() {
            Some(cell) if spaces < 2 => cell.1 = i + 1,
            _ => found.push((i, i + 1)),
        }
        spaces = 0;
    }
    found
}

#[test]
fn the_nodes_table_puts_every_value_under_its_title() {
    let certs = Certs::new(&["a", "b"]);
    let b = NodeDaemon::start("b", "127.0.0.1:0", certs.flags("b"), None);
    let mut a_flags = certs.flags("a");
    // c is never started: it stays connecting, with no incarnation, round trip or last word.
    a_flags.extend([
        "--peer".to_owned(),
        format!("b=127.0.0.1:{}", b.node_port()),
        "--peer".to_owned(),
        "c=127.0.0.1:1".to_owned(),
    ]);
    let a = NodeDaemon::start("a", "127.0.0.1:0", a_flags, None);
    a.wait_for_peer("b", "up", |_| true);
    b.wait_for_peer("a", "up", |_| true);
    for table in [a.run(&["nodes"]), b.run(&["nodes"])].map(|out| out.code(0).stdout) {
        let lines: Vec<&str> = table.lines().collect();
        let header = cells(lines[1]);
        let titles: Vec<&str> = header
            .iter()
            .map(|&(from, to)| &lines[1][from..to])
            .collect();
        assert_eq!(
            titles,
            [
                "NODE",
                "STATE",
                "INCARNATION",
                "ADDRESS",
                "RTT",
                "UNACKED",
                "RETRANS",
                "DUPS",
                "HEARD"
            ]
        );
        for row in &lines[2..] {
            let values = cells(row);
            assert_eq!(values.len(), header.len(), "one value per title:\n{table}");
            for (column, (title, value)) in header.iter().zip(&values).enumerate() {
                // Text columns start under their title, number columns end under it.
                let aligned = if column < 4 {
                    title.0 == value.0
                } else {
                    title.1 == value.1
                };
                assert!(
                    aligned,
                    "{} is not under its title:\n{table}",
                    titles[column]
                );
            }
        }
    }
}

#[test]
fn without_node_links_nodes_says_so() {
    let daemon = support::Daemon::start();
    let nodes = daemon.run(&["nodes", "--json"]).code(0).json();
    assert_eq!(nodes["node"], Value::Null);
    assert_eq!(nodes["peers"], Value::Array(Vec::new()));
    let table = daemon.run(&["nodes"]).code(0).stdout;
    assert!(table.contains("no node links"), "{table}");
}

/// Processes of `a` acting on `b`, where `b` gives `a` the fixed identity `identity` (if any):
/// whether a send from a to b's mailbox `private` (mode 0600, made by this test's user on b)
/// is let through, and how b's process list shows a's sender.
fn send_from_a_to_a_private_mailbox_on_b(identity: Option<&str>) -> (support::Out, Value) {
    let b_more = identity.map(|identity| format!("a={identity}"));
    let b_more: Vec<&str> = match &b_more {
        Some(identity) => vec!["--peer-identity", identity],
        None => Vec::new(),
    };
    let Pair { a, b, .. } = &Pair::start_with(&[], &b_more);
    b.run(&["create", "private", "--mode", "0600"]).code(0);
    b.run(&["create", "open", "--mode", "0666"]).code(0);
    let private = a.run(&["send", "private@b", "secret"]);
    // The sender's stand-in on b lives as long as the sender: it stays, reading more lines,
    // while b's mailbox `open` names the stand-in as sender and b's process list shows it.
    let mut sender = a.spawn_command(&["send", "--lines", "open@b"]);
    sender.write_stdin("hello\n");
    let received = b.run(&["recv", "open", "--json"]).code(0).json();
    let ps = b.run(&["ps", "--json"]).code(0).json();
    let shown = ps
        .as_array()
        .and_then(|all| all.iter().find(|p| p["pid"] == received["sender"]))
        .cloned()
        .unwrap_or(Value::Null);
    sender.close_stdin();
    sender.finish().code(0);
    (private, shown)
}

#[test]
fn a_node_given_a_fixed_identity_acts_as_it_whatever_it_says() {
    // Without one, a's process acts on b as the user a verified: this test's own, the owner
    // of `private`.
    let (private, stand_in) = send_from_a_to_a_private_mailbox_on_b(None);
    private.code(0);
    assert_eq!(
        stand_in["uid"],
        u64::from(rustix::process::getuid().as_raw()),
        "{stand_in}"
    );
    // With one, it acts as uid 65534, whom mode 0600 refuses (exit 6: permission denied).
    let (private, stand_in) = send_from_a_to_a_private_mailbox_on_b(Some("65534:65534"));
    let private = private.code(6);
    assert!(
        private.stderr.contains("cannot send to mailbox private@b"),
        "{private:?}"
    );
    assert_eq!(
        stand_in["uid"], 65534,
        "a's sender as b lists it: {stand_in}"
    );
}

//! Node links through the real binary: daemons peered over mutual TLS with certificates from
//! `postbox certs`, watched with `postbox nodes --json` — up with each other's incarnation, down
//! within the node timeout after `kill -9`, up again with a new incarnation after a restart,
//! down at once after SIGTERM; and a node whose certificate is for another name, or from another
//! CA, refused. Every wait polls with a deadline; every daemon is killed when its test ends.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::nodes::{Certs, NodeDaemon};

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

    // kill -9 b: a reports it down within the node timeout (3 s) and a little.
    b.kill();
    let down = a.wait_for_peer("b", "down", |_| true);
    println!("kill -9: a saw b down after {down:?}");
    assert!(down <= Duration::from_millis(3500), "down after {down:?}");

    // b again, on the same port: a sees it up with a new incarnation.
    b.listen_on(&format!("127.0.0.1:{b_port}"));
    b.spawn();
    let b_second = b.incarnation();
    assert_ne!(b_second, b_first, "a new incarnation at every start");
    let up = a.wait_for_peer("b", "up", |peer| peer["incarnation"] == b_second.as_str());
    println!("restart: a saw b up again after {up:?}");

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

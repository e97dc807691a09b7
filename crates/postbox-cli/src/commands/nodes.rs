//! `postbox nodes`: the nodes this daemon links with, as a table or JSON.

use std::io::{self, Write as _};

use anyhow::Context as _;
use postbox::{NodeLinks, PeerLink};
use serde_json::{Value, json};

use crate::args::NodesArgs;
use crate::node::Node;
use crate::output::{self, Align, Table};

/// `postbox nodes [--json]`: this node, then each node it links with — name, state
/// (connecting, up, down), incarnation, address, round-trip time, messages unacknowledged,
/// retransmissions, duplicates dropped, and how long ago it was last heard from.
///
/// # Errors
///
/// Connecting; asking; writing to stdout.
pub(crate) fn run(node: &Node, args: &NodesArgs) -> anyhow::Result<()> {
    let process = node.connect()?;
    let links = process.node_links().context("cannot list the node links")?;
    let mut out = io::stdout().lock();
    if args.json {
        output::json(&mut out, &to_json(&links))?;
    } else {
        write_table(&mut out, &links)?;
    }
    Ok(out.flush()?)
}

/// An incarnation as logs show it: 16 hex digits.
fn incarnation(raw: u64) -> String {
    format!("{raw:#018x}")
}

/// Text from the daemon, with control characters made visible so a terminal never acts on them.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The JSON of `postbox nodes --json` (documented in docs/cli.md).
fn to_json(links: &NodeLinks) -> Value {
    let millis = |d: Option<std::time::Duration>| d.map(|d| d.as_secs_f64() * 1000.0);
    let node = links.local.as_ref().map(|local| {
        json!({
            "name": local.name,
            "incarnation": incarnation(local.incarnation),
            "listen": local.listen,
        })
    });
    let peers: Vec<Value> = links
        .peers
        .iter()
        .map(|peer: &PeerLink| {
            json!({
                "name": peer.name,
                "state": peer.state.as_str(),
                "incarnation": peer.incarnation.map(incarnation),
                "address": peer.address,
                "rtt_ms": millis(peer.rtt),
                "unacked": peer.unacked,
                "retransmissions": peer.retransmissions,
                "duplicates": peer.duplicates,
                "last_heard_ms": millis(peer.last_heard),
            })
        })
        .collect();
    json!({ "node": node, "peers": peers })
}

/// The table: a line about this node, then one row per peer.
fn write_table(out: &mut impl io::Write, links: &NodeLinks) -> io::Result<()> {
    let Some(local) = &links.local else {
        return writeln!(
            out,
            "this daemon has no node links (start it with --node-listen or --peer)"
        );
    };
    let listen = local.listen.as_deref().map_or_else(
        || "not listening".to_owned(),
        |a| format!("listening on {}", printable(a)),
    );
    writeln!(
        out,
        "node {} (incarnation {}), {listen}",
        printable(&local.name),
        incarnation(local.incarnation)
    )?;
    let mut table = Table::new(&[
        ("NODE", Align::Left),
        ("STATE", Align::Left),
        ("INCARNATION", Align::Left),
        ("ADDRESS", Align::Left),
        ("RTT", Align::Right),
        ("UNACKED", Align::Right),
        ("RETRANS", Align::Right),
        ("DUPS", Align::Right),
        ("HEARD", Align::Right),
    ]);
    let dash = || "-".to_owned();
    for peer in &links.peers {
        table.row(vec![
            printable(&peer.name),
            peer.state.as_str().to_owned(),
            peer.incarnation.map_or_else(dash, incarnation),
            peer.address.as_deref().map_or_else(dash, printable),
            peer.rtt.map_or_else(dash, rtt),
            peer.unacked.to_string(),
            peer.retransmissions.to_string(),
            peer.duplicates.to_string(),
            peer.last_heard
                .map_or_else(dash, |ago| format!("{} ago", output::duration(ago))),
        ]);
    }
    table.write(out)
}

/// A round-trip time to a tenth of a millisecond.
fn rtt(rtt: std::time::Duration) -> String {
    format!("{:.1}ms", rtt.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use postbox::{LocalNode, PeerState};

    use super::*;

    fn links() -> NodeLinks {
        NodeLinks {
            local: Some(LocalNode {
                name: "a".to_owned(),
                incarnation: 0xab,
                listen: Some("127.0.0.1:7071".to_owned()),
            }),
            peers: vec![PeerLink {
                name: "b\x1b".to_owned(),
                state: PeerState::Up,
                incarnation: Some(0xcd),
                address: Some("10.0.0.2:7071".to_owned()),
                rtt: Some(Duration::from_micros(1250)),
                unacked: 3,
                retransmissions: 4,
                duplicates: 5,
                last_heard: Some(Duration::from_millis(200)),
            }],
        }
    }

    #[test]
    fn the_table_shows_this_node_then_each_peer() {
        let mut out = Vec::new();
        write_table(&mut out, &links()).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "node a (incarnation 0x00000000000000ab), listening on 127.0.0.1:7071"
        );
        assert!(lines[1].starts_with("NODE  STATE  INCARNATION"), "{text}");
        let row: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(
            row,
            [
                "b?",
                "up",
                "0x00000000000000cd",
                "10.0.0.2:7071",
                "1.2ms",
                "3",
                "4",
                "5",
                "200ms",
                "ago"
            ]
        );
        let mut out = Vec::new();
        write_table(&mut out, &NodeLinks::default()).unwrap();
        assert!(String::from_utf8(out).unwrap().contains("no node links"));
    }

    #[test]
    fn every_column_of_a_row_starts_under_its_header() {
        let mut out = Vec::new();
        write_table(&mut out, &links()).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let (header, row) = (lines[1], lines[2]);
        for (title, value) in [
            ("NODE", "b?"),
            ("STATE", "up"),
            ("ADDRESS", "10.0.0.2:7071"),
        ] {
            assert_eq!(header.find(title), row.find(value), "{title}:\n{text}");
        }
    }

    #[test]
    fn the_json_names_every_field() {
        let value = to_json(&links());
        assert_eq!(value["node"]["incarnation"], "0x00000000000000ab");
        let peer = &value["peers"][0];
        assert_eq!(peer["state"], "up");
        assert_eq!(peer["incarnation"], "0x00000000000000cd");
        assert_eq!(peer["rtt_ms"], 1.25);
        assert_eq!(peer["last_heard_ms"], 200.0);
        assert_eq!(
            (
                &peer["unacked"],
                &peer["retransmissions"],
                &peer["duplicates"]
            ),
            (&json!(3), &json!(4), &json!(5))
        );
        assert_eq!(to_json(&NodeLinks::default())["node"], Value::Null);
    }
}

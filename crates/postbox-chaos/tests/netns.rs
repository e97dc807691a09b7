//! The network-namespace harness itself: two hosts that reach each other over their veth pair,
//! a partition that stops that and a heal that restores it, and nothing left behind when the
//! pair is dropped, also after a panic. Needs root (CAP_NET_ADMIN), `ip` and `nft`: without
//! them these tests fail, saying why.

use std::net::TcpListener;
use std::process::Command;

use postbox_chaos::NetnsPair;

fn pair() -> NetnsPair {
    NetnsPair::create().unwrap_or_else(|error| {
        panic!("this test needs network namespaces, and they could not be made: {error}")
    })
}

fn namespaces() -> String {
    let output = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What a TCP connection attempt from inside host a met.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Probe {
    /// Someone accepted it.
    Accepted,
    /// The host answered with a reset: reachable, nobody listening.
    Refused,
    /// Nothing answered within a second: the packets were dropped.
    Silent,
}

/// Dials `address:port` from inside host a (bash's `/dev/tcp`, so no extra tool is needed).
fn probe_from_a(pair: &NetnsPair, address: &str, port: u16) -> Probe {
    let status = pair
        .a
        .command("timeout")
        .args([
            "1",
            "bash",
            "-c",
            &format!("exec 3<>/dev/tcp/{address}/{port}"),
        ])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    match status.code() {
        Some(0) => Probe::Accepted,
        Some(124) => Probe::Silent,
        _ => Probe::Refused,
    }
}

#[test]
fn the_hosts_reach_each_other_until_partitioned_and_again_once_healed() {
    let mut pair = pair();
    let b = NetnsPair::B_ADDRESS.to_string();
    // A closed port on b answers with a reset, which shows b is reachable.
    assert_eq!(probe_from_a(&pair, &b, 7399), Probe::Refused);
    pair.partition().unwrap();
    assert!(pair.is_partitioned());
    assert_eq!(probe_from_a(&pair, &b, 7399), Probe::Silent);
    pair.heal().unwrap();
    assert!(!pair.is_partitioned());
    assert_eq!(probe_from_a(&pair, &b, 7399), Probe::Refused);
}

#[test]
fn the_hosts_are_cut_off_from_the_test_s_own_network() {
    let pair = pair();
    // This process's loopback listener is not reachable from inside a: its loopback is its own.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    assert_eq!(probe_from_a(&pair, "127.0.0.1", port), Probe::Refused);
}

#[test]
fn dropping_a_pair_removes_its_namespaces_also_after_a_panic() {
    let names = |pair: &NetnsPair| (pair.a.name().to_owned(), pair.b.name().to_owned());
    let pair = pair();
    let (a, b) = names(&pair);
    assert!(namespaces().contains(&a) && namespaces().contains(&b));
    drop(pair);
    assert!(!namespaces().contains(&a) && !namespaces().contains(&b));

    let made = std::panic::catch_unwind(|| {
        let mut pair = self::pair();
        pair.partition().unwrap();
        let made = names(&pair);
        std::panic::panic_any(made);
    });
    let (a, b) = *made.unwrap_err().downcast::<(String, String)>().unwrap();
    let left = namespaces();
    assert!(!left.contains(&a) && !left.contains(&b), "{left}");
}

#[test]
fn pairs_made_at_once_get_names_of_their_own() {
    let first = pair();
    let second = pair();
    let names = [
        first.a.name(),
        first.b.name(),
        second.a.name(),
        second.b.name(),
    ];
    for (i, name) in names.iter().enumerate() {
        assert!(!names[i + 1..].contains(name), "{names:?}");
    }
}

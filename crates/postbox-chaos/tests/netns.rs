//! The network-namespace harness itself: two hosts that reach each other over their veth pair,
//! a partition that stops that and a heal that restores it, a cut that resets both ends of a
//! connection, a schedule played on them, and nothing left behind when the pair is dropped,
//! also after a panic. Needs root (CAP_NET_ADMIN), `ip`, `ss`, `nft`, and `python3` for the
//! cut's two ends: without them these tests fail, saying why.

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use postbox_chaos::{Cut, Fault, NetnsError, NetnsFaults, NetnsPair, Step};

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

/// A Python one-liner run inside `netns`, its standard output piped.
fn python(netns: &postbox_chaos::Netns, script: &str) -> std::process::Child {
    netns
        .command("python3")
        .args(["-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .expect("cannot start python3 (install it: apt-get install python3)")
}

#[test]
fn a_cut_resets_both_ends_of_an_established_connection() {
    let pair = pair();
    assert_eq!(pair.cut().unwrap(), 0, "nothing to cut yet");
    let b = NetnsPair::B_ADDRESS;
    // b accepts one connection and says so, then reports how its read ended; a dials, says so,
    // and reports the same. Each waits at most 30 s, so a cut that does nothing fails.
    let mut server = python(
        &pair.b,
        &format!(
            "import socket\n\
             s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
             s.bind(('{b}', 7398)); s.listen(); print('listening', flush=True)\n\
             c, _ = s.accept(); c.settimeout(30); print('accepted', flush=True)\n\
             try:\n    print('read', c.recv(1), flush=True)\n\
             except Exception as e:\n    print(type(e).__name__, flush=True)\n"
        ),
    );
    let mut server_out = BufReader::new(server.stdout.take().unwrap()).lines();
    assert_eq!(server_out.next().unwrap().unwrap(), "listening");
    let mut client = python(
        &pair.a,
        &format!(
            "import socket\n\
             c = socket.create_connection(('{b}', 7398)); c.settimeout(30)\n\
             print('connected', flush=True)\n\
             try:\n    print('read', c.recv(1), flush=True)\n\
             except Exception as e:\n    print(type(e).__name__, flush=True)\n"
        ),
    );
    let mut client_out = BufReader::new(client.stdout.take().unwrap()).lines();
    assert_eq!(client_out.next().unwrap().unwrap(), "connected");
    assert_eq!(server_out.next().unwrap().unwrap(), "accepted");
    assert_eq!(pair.cut().unwrap(), 1);
    assert_eq!(
        client_out.next().unwrap().unwrap(),
        "ConnectionAbortedError"
    );
    assert_eq!(server_out.next().unwrap().unwrap(), "ConnectionResetError");
    assert!(client.wait().unwrap().success());
    assert!(server.wait().unwrap().success());
}

#[test]
fn a_played_partition_is_counted_and_healed_and_a_fault_namespaces_cannot_make_is_refused() {
    let mut pair = pair();
    let faults = NetnsFaults::new();
    let step = |fault| Step {
        after: Duration::ZERO,
        fault,
    };
    let steps = [
        step(Fault::Cut(Cut::Reset)),
        step(Fault::Partition(Duration::from_millis(20))),
        step(Fault::Stall(Duration::from_millis(20))),
    ];
    let error = faults.play(&mut pair, steps).unwrap_err();
    assert!(
        matches!(
            error,
            NetnsError::Unsupported {
                fault: Fault::Stall(_)
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("FaultProxy"), "{error}");
    let counts = faults.counts();
    assert_eq!((counts.cuts(), counts.partitions), (0, 1), "{counts}");
    assert!(!pair.is_partitioned());
    let b = NetnsPair::B_ADDRESS.to_string();
    assert_eq!(probe_from_a(&pair, &b, 7399), Probe::Refused, "healed");
}

#[test]
fn stop_ends_a_play_at_once_and_heals_a_partition_under_way() {
    let mut pair = pair();
    let faults = NetnsFaults::new();
    let long = Step {
        after: Duration::ZERO,
        fault: Fault::Partition(Duration::from_secs(600)),
    };
    let played = std::thread::scope(|scope| {
        let player = scope.spawn(|| faults.play(&mut pair, std::iter::repeat(long)));
        // A player that failed (no nft, say) ends without ever counting a partition.
        while faults.counts().partitions == 0 && !player.is_finished() {
            std::thread::yield_now();
        }
        faults.stop();
        player.join().unwrap()
    });
    assert_eq!(played.expect("the partition was played"), 1);
    assert!(!pair.is_partitioned());
}

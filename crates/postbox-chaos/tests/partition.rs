//! How fast a partition is seen: two node daemons, each in a network namespace of its own,
//! linked over a veth pair; nftables drops everything between them; each side's `postbox
//! nodes --json` must report the other down within the node timeout (3 s by default, 3.5 s
//! allowed for polling), and up again — the same incarnation, the session resumed — once the
//! partition heals. `POSTBOX_CHAOS_TRIALS` trials (5 by default; 20 or more for a distribution
//! worth quoting), printed as min, p50 and max (`-- --nocapture`).
//!
//! Needs root, `ip` (iproute2) and `nft` (nftables): without them it fails, saying why.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{Certs, NodeDaemon, distribution, env_count};
use postbox_chaos::NetnsPair;

/// The most a side may take to see the other down: the default node timeout, plus polling.
const DOWN_WITHIN: Duration = Duration::from_millis(3500);

#[test]
fn a_partition_is_seen_down_on_both_sides_within_the_node_timeout_and_heals() {
    let trials = env_count("POSTBOX_CHAOS_TRIALS", 5);
    let mut pair = NetnsPair::create().unwrap_or_else(|error| {
        panic!("this test needs network namespaces, and they could not be made: {error}")
    });
    let certs = Certs::new(&["a", "b"]);
    let b = NodeDaemon::start(
        "b",
        &format!("{}:0", NetnsPair::B_ADDRESS),
        certs.flags("b"),
        Some(&pair.b),
    );
    let mut a_flags = certs.flags("a");
    a_flags.extend([
        "--peer".to_owned(),
        format!("b={}:{}", NetnsPair::B_ADDRESS, b.node_port()),
    ]);
    let a = NodeDaemon::start(
        "a",
        &format!("{}:0", NetnsPair::A_ADDRESS),
        a_flags,
        Some(&pair.a),
    );
    let (a_incarnation, b_incarnation) = (a.incarnation(), b.incarnation());
    let up_as_before = |daemon: &NodeDaemon, peer: &str, incarnation: &str| {
        daemon.wait_for_peer(peer, "up", |p| p["incarnation"] == incarnation)
    };
    up_as_before(&a, "b", &b_incarnation);
    up_as_before(&b, "a", &a_incarnation);

    let (mut a_down, mut b_down, mut a_up, mut b_up) = (vec![], vec![], vec![], vec![]);
    for trial in 0..trials {
        pair.partition().unwrap();
        let partitioned = Instant::now();
        let (seen_by_a, seen_by_b) = thread::scope(|scope| {
            let by_a = scope.spawn(|| {
                a.wait_for_peer("b", "down", |_| true);
                partitioned.elapsed()
            });
            let by_b = scope.spawn(|| {
                b.wait_for_peer("a", "down", |_| true);
                partitioned.elapsed()
            });
            (by_a.join().unwrap(), by_b.join().unwrap())
        });
        println!(
            "trial {trial}: a saw b down after {seen_by_a:?}, b saw a down after {seen_by_b:?}"
        );
        assert!(
            seen_by_a <= DOWN_WITHIN,
            "trial {trial}: a saw b down after {seen_by_a:?}"
        );
        assert!(
            seen_by_b <= DOWN_WITHIN,
            "trial {trial}: b saw a down after {seen_by_b:?}"
        );
        a_down.push(seen_by_a);
        b_down.push(seen_by_b);

        pair.heal().unwrap();
        let healed = Instant::now();
        up_as_before(&a, "b", &b_incarnation);
        a_up.push(healed.elapsed());
        up_as_before(&b, "a", &a_incarnation);
        b_up.push(healed.elapsed());
    }
    // Neither side restarted: both still carry the incarnations they started with.
    assert_eq!(a.incarnation(), a_incarnation);
    assert_eq!(b.incarnation(), b_incarnation);
    let a_log = a.log();
    if trials > 0 {
        assert!(a_log.contains("node b is down: nothing heard"), "{a_log}");
        assert!(a_log.contains("session resumed"), "{a_log}");
    }
    println!("partition -> a sees b down: {}", distribution(&mut a_down));
    println!("partition -> b sees a down: {}", distribution(&mut b_down));
    println!("heal -> a sees b up:        {}", distribution(&mut a_up));
    println!("heal -> b sees a up:        {}", distribution(&mut b_up));
}

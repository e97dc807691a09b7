//! Two node daemons linked through a [`FaultProxy`] (a dials the proxy, the proxy dials b's
//! node listener) while a seeded schedule cuts the connection (RST or FIN), stalls it,
//! partitions it, and delays, flips, drops and duplicates chunks of its TLS stream. After
//! every fault the association must come back up, both sides still agreeing on each other's
//! incarnation (the session resumed, nobody fenced), and both daemons must still answer
//! `postbox nodes`. `POSTBOX_CHAOS_CUTS` cuts (20 by default; 100 or more for the full storm);
//! the seed is printed, and `POSTBOX_CHAOS_SEED` replays it.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Certs, NodeDaemon, PATIENCE, env_count};
use postbox_chaos::{Fault, FaultCounts, FaultMix, FaultProxy, Schedule, Seed};

#[test]
fn the_association_comes_back_after_every_fault_with_the_same_incarnations() {
    let seed = Seed::from_env().unwrap();
    let cuts = env_count("POSTBOX_CHAOS_CUTS", 20);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let certs = Certs::new(&["a", "b"]);
    let b = NodeDaemon::start("b", "127.0.0.1:0", certs.flags("b"), None);
    let proxy = {
        let _runtime = runtime.enter();
        FaultProxy::start(SocketAddr::from(([127, 0, 0, 1], b.node_port()))).unwrap()
    };
    let mut a_flags = certs.flags("a");
    a_flags.extend(["--peer".to_owned(), format!("b={}", proxy.address())]);
    let a = NodeDaemon::start("a", "127.0.0.1:0", a_flags, None);
    let (a_incarnation, b_incarnation) = (a.incarnation(), b.incarnation());
    let both_up = || {
        a.wait_for_peer("b", "up", |p| p["incarnation"] == b_incarnation.as_str());
        b.wait_for_peer("a", "up", |p| p["incarnation"] == a_incarnation.as_str());
    };
    both_up();

    let mix = FaultMix {
        partition: 1,
        ..FaultMix::default()
    };
    let started = Instant::now();
    let (mut steps, mut cut_steps) = (0, 0);
    for step in Schedule::new(seed, mix) {
        if proxy.counts().cuts() >= cuts {
            break;
        }
        let before = proxy.counts();
        proxy.inject(step.fault);
        steps += 1;
        cut_steps += u64::from(matches!(step.fault, Fault::Cut(_)));
        // Wait for the fault to take: after a cut a dials again through the proxy (a new
        // connection); a chunk fault waits for the next chunk its way (a heartbeat at the
        // latest). Then both must be up again.
        let taken = |now: &FaultCounts| match step.fault {
            Fault::Cut(_) => now.connections > before.connections,
            Fault::Stall(_) | Fault::Partition(_) => true,
            _ => now.delays + now.damaged() > before.delays + before.damaged(),
        };
        let deadline = Instant::now() + PATIENCE;
        let mut armed_with = before.connections;
        while !taken(&proxy.counts()) {
            // A chunk fault is armed on the connections open when it is injected and dropped
            // with them: a link that was in fact between connections ("up" until its timeout)
            // takes it on none. Arm it again on the connection that came since.
            let connections = proxy.counts().connections;
            let chunk_fault = !matches!(
                step.fault,
                Fault::Cut(_) | Fault::Stall(_) | Fault::Partition(_)
            );
            if chunk_fault && connections > armed_with {
                proxy.inject(step.fault);
                armed_with = connections;
            }
            assert!(
                Instant::now() < deadline,
                "seed {seed}: {} (step {steps}) never took: {}\na: {}\nb: {}\na's log:\n{}\nb's log:\n{}",
                step.fault,
                proxy.counts(),
                a.nodes(),
                b.nodes(),
                a.log(),
                b.log()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        both_up();
    }
    let counts = proxy.counts();
    println!(
        "seed {seed}: {steps} faults in {:?}: {counts}",
        started.elapsed()
    );
    assert!(counts.cuts() >= cuts, "seed {seed}: {counts}");
    assert!(
        counts.connections > cut_steps,
        "a reconnection after every cut: {counts}"
    );

    // Still the same session both ways: resumed every time, never fenced.
    assert_eq!(a.incarnation(), a_incarnation);
    assert_eq!(b.incarnation(), b_incarnation);
    let (a_log, b_log) = (a.log(), b.log());
    assert!(a_log.contains("node b is up (session resumed)"), "{a_log}");
    for log in [&a_log, &b_log] {
        assert!(
            !log.contains("restarted"),
            "seed {seed}: a session was fenced\n{log}"
        );
    }
    for (daemon, peer) in [(&a, "b"), (&b, "a")] {
        let shown = daemon.peer(peer).unwrap();
        println!("{peer} as its peer sees it: {shown}");
        assert_eq!(shown["unacked"], 0, "nothing left unacknowledged: {shown}");
    }
    let mut a = a;
    let mut b = b;
    a.assert_healthy();
    b.assert_healthy();
}

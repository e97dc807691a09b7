//! End to end through two nodes, each daemon in a network namespace of its own (a
//! [`NetnsPair`]): a client on node a sends numbered messages to the mailbox `sink@b` on node b
//! while [`NetnsFaults`] plays a seeded schedule on the link between them — cuts (`ss -K`: both
//! ends reset; at least `POSTBOX_CHAOS_CUTS`, 20 by default) and partitions (nftables drops
//! every packet either way; at least `POSTBOX_CHAOS_PARTITIONS`, 2 by default) — and a receiver
//! on b records what arrives. The [`Checker`] must find every one of `POSTBOX_CHAOS_MESSAGES`
//! (5,000 by default) delivered once, in order, and nothing else; every send must succeed.
//!
//! The schedule is spaced so that the link always comes back: each partition is shorter than
//! the connection timeout (1.5 s), let alone the node timeout (3 s), and is followed by a second
//! to recover; cuts come at least 100 ms apart, longer than a reconnection takes, so they cannot
//! land on every handshake. Node b is therefore never down, and node a must never say it was.
//!
//! The defaults are the short form for CI; the target is
//! `POSTBOX_CHAOS_MESSAGES=100000 POSTBOX_CHAOS_CUTS=100 POSTBOX_CHAOS_PARTITIONS=10 cargo test
//! -p postbox-chaos --test mailbox_chaos -- --nocapture`. The seed is printed;
//! `POSTBOX_CHAOS_SEED` replays the faults. Needs root, `ip`, `ss` (iproute2) and `nft`
//! (nftables): without them it fails, saying why.
//!
//! The faults come from the kernel rather than a [`FaultProxy`](postbox_chaos::FaultProxy):
//! the proxy's sockets live in the test's own network namespace, from which neither host is
//! reachable (the hosts are cut off from it by design), so it cannot sit between them.

mod common;

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{Certs, NodeDaemon, PATIENCE, env_count};
use postbox_chaos::{Checker, FaultMix, NetnsFaults, NetnsPair, Schedule, Seed, Spacing};

/// This client's sender id, in every payload beside the sequence number.
const SENDER: u64 = 1;

#[test]
fn numbered_messages_reach_a_mailbox_on_another_node_once_in_order_through_cuts_and_partitions() {
    let seed = Seed::from_env().unwrap();
    let messages = env_count("POSTBOX_CHAOS_MESSAGES", 5_000);
    let cuts = env_count("POSTBOX_CHAOS_CUTS", 20);
    let partitions = env_count("POSTBOX_CHAOS_PARTITIONS", 2);
    // Declared before the daemons, so that it outlives them.
    let mut pair = NetnsPair::create().unwrap_or_else(|error| {
        panic!("this test needs network namespaces, and they could not be made: {error}")
    });
    let certs = Certs::new(&["a", "b"]);
    let mut b = NodeDaemon::start(
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
    let mut a = NodeDaemon::start(
        "a",
        &format!("{}:0", NetnsPair::A_ADDRESS),
        a_flags,
        Some(&pair.a),
    );
    a.wait_for_peer("b", "up", |_| true);
    b.wait_for_peer("a", "up", |_| true);

    // The receiver on b: its own mailbox `sink`, every payload recorded in order of receipt.
    let receiver_process = postbox::connect(&b.url()).expect("cannot connect to node b");
    let sink = receiver_process
        .mailbox("sink")
        .create()
        .expect("cannot create sink on node b");
    let receiver = thread::spawn(move || {
        let mut received = Vec::new();
        while (received.len() as u64) < messages {
            let Ok(got) = sink.recv_timeout(PATIENCE) else {
                break;
            };
            let payload = &got.message.payload;
            let field = |at: usize| u64::from_be_bytes(payload[at..at + 8].try_into().unwrap());
            received.push((field(0), field(8)));
        }
        received
    });

    // The sender on a: `sink@b`, opened within a deadline so that a hang fails as one.
    let url = a.url();
    let (opened, open) = mpsc::channel();
    thread::spawn(move || {
        let result = postbox::connect(&url).map(|process| {
            let mailbox = process.mailbox("sink@b").open();
            (process, mailbox)
        });
        let _ = opened.send(result);
    });
    let (_sender_process, target) = match open.recv_timeout(PATIENCE) {
        Ok(Ok((process, Ok(mailbox)))) => (process, mailbox),
        Ok(Ok((_, Err(error)))) => panic!("cannot open sink@b from node a: {error}"),
        Ok(Err(error)) => panic!("cannot connect to node a: {error}"),
        Err(_) => panic!("opening sink@b from node a hung for {PATIENCE:?}"),
    };

    let mix = FaultMix {
        cut: 10,
        partition: 1,
        gap: (Duration::from_millis(100), Duration::from_millis(250)),
        partition_for: (Duration::from_millis(300), Duration::from_millis(1200)),
        after_outage: Spacing::Recover(Duration::from_secs(1)),
        ..FaultMix::cuts_only()
    };
    let faults = NetnsFaults::new();
    let mut checker = Checker::new();
    let started = Instant::now();
    let played = thread::scope(|scope| {
        let player = scope.spawn(|| faults.play(&mut pair, Schedule::new(seed, mix)));
        let batches = cuts.max(partitions).max(1);
        let per_batch = (messages / batches).max(1);
        for seq in 1..=messages {
            // Spread the messages over the faults: each share waits for its cuts and partitions.
            if seq % per_batch == 0 {
                let batch = seq / per_batch;
                let deadline = Instant::now() + PATIENCE;
                while faults.counts().cuts() < batch * cuts / batches
                    || faults.counts().partitions < batch * partitions / batches
                {
                    if Instant::now() >= deadline || player.is_finished() {
                        faults.stop();
                        panic!(
                            "seed {seed}: the faults fell behind: {}; {:?}",
                            faults.counts(),
                            player.join()
                        );
                    }
                    thread::sleep(Duration::from_millis(1));
                }
            }
            let mut payload = SENDER.to_be_bytes().to_vec();
            payload.extend_from_slice(&seq.to_be_bytes());
            if let Err(error) = target.send(payload) {
                faults.stop();
                panic!(
                    "seed {seed}: message {seq} to sink@b failed: {error}\n{}",
                    a.log()
                );
            }
            checker.sent(SENDER, seq);
        }
        faults.stop();
        player.join().unwrap()
    });
    let played = played.unwrap_or_else(|error| panic!("seed {seed}: {error}"));
    for (sender, seq) in receiver.join().unwrap() {
        checker.received(sender, seq);
    }
    let elapsed = started.elapsed();
    let report = checker.report();
    let counts = faults.counts();
    println!(
        "seed {seed}: {messages} messages in {elapsed:?} through {played} faults: {} \
         connections cut, {} partitions; {report}",
        counts.cuts(),
        counts.partitions
    );
    a.assert_healthy();
    b.assert_healthy();
    assert!(report.is_clean(), "seed {seed}: {report}");
    assert_eq!(
        report.total.delivered_once, messages,
        "seed {seed}: {report}"
    );
    assert!(
        counts.cuts() >= cuts && counts.partitions >= partitions,
        "seed {seed}: {counts}"
    );
    let a_log = a.log();
    assert!(
        !a_log.contains("node b is down"),
        "seed {seed}: a partition shorter than the node timeout made b down\n{a_log}"
    );
}

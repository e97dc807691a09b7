//! Messages between two nodes' link drivers (`postbox_daemon::NodeDriver`, in process, over
//! real mutual TLS) through a [`FaultProxy`] playing a seeded schedule of cuts, stalls and
//! damaged chunks: the [`Checker`] must find every message delivered exactly once and in order,
//! and the link's statistics must show the resends that took. This is what the daemons do
//! under the `send jobs@b` forwarding to come, without it.
//!
//! `POSTBOX_CHAOS_MESSAGES` messages (20,000 by default) spread over at least
//! `POSTBOX_CHAOS_CUTS` cuts (20 by default); the seed is printed, `POSTBOX_CHAOS_SEED`
//! replays it.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Certs, PATIENCE, env_count};
use postbox_chaos::{Checker, Cut, Fault, FaultMix, FaultProxy, Schedule, Seed};
use postbox_daemon::{
    NodeConfig, NodeDriver, NodeEvent, NodeEvents, NodeSendError, NodeTls, PeerAddress,
};
use postbox_wire::PeerState;
use postbox_wire::link::NodeName;
use tokio::time::{sleep, timeout};

/// How many messages end the run stranded in a stalled connection that is then cut.
const STRANDED: u64 = 16;

/// Waits until a's link with b is up with nothing unacknowledged, then stalls the proxy: what a
/// sends next is written but neither delivered nor acknowledged until the stall ends.
async fn strand(a: &NodeDriver, b: &NodeName, proxy: &FaultProxy, seed: Seed) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let links = a.links();
        let settled = links
            .peers
            .iter()
            .any(|p| p.name == b.as_str() && p.state == PeerState::Up && p.unacked == 0);
        if settled {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "seed {seed}: the link never settled: {links:?}"
        );
        sleep(Duration::from_millis(1)).await;
    }
    proxy.inject(Fault::Stall(Duration::from_secs(2)));
}

fn node(certs: &Certs, name: &str, peers: Vec<PeerAddress>) -> (NodeDriver, NodeEvents) {
    let (cert, key, ca) = certs.files(name);
    let tls = NodeTls::from_files(&cert, &key, &ca).unwrap();
    let mut config = NodeConfig::new(NodeName::new(name).unwrap(), tls);
    config.listen = Some("127.0.0.1:0".parse().unwrap());
    config.peers = peers;
    NodeDriver::start(config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_arrives_once_and_in_order_through_a_storm_of_faults() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let seed = Seed::from_env().unwrap();
    let messages = env_count("POSTBOX_CHAOS_MESSAGES", 20_000);
    let cuts = env_count("POSTBOX_CHAOS_CUTS", 20).max(1);
    let certs = Certs::new(&["a", "b"]);
    let (b, mut b_events) = node(&certs, "b", Vec::new());
    let proxy = FaultProxy::start(b.local_addr().unwrap()).unwrap();
    let (a, mut a_events) = node(
        &certs,
        "a",
        vec![PeerAddress {
            name: NodeName::new("b").unwrap(),
            address: proxy.address().to_string(),
        }],
    );
    let b_name = NodeName::new("b").unwrap();
    let checker = Arc::new(Mutex::new(Checker::new()));

    // a's own events: every Up after the first must resume the session; nothing fenced.
    let a_watch = tokio::spawn(async move {
        let (mut ups, mut fresh, mut restarts) = (0u64, 0u64, 0u64);
        while let Some(event) = a_events.recv().await {
            match event {
                NodeEvent::Up { resumed, .. } => {
                    ups += 1;
                    fresh += u64::from(!resumed);
                }
                NodeEvent::PeerRestarted { .. } => restarts += 1,
                _ => {}
            }
        }
        (ups, fresh, restarts)
    });
    let receiver = {
        let checker = checker.clone();
        tokio::spawn(async move {
            let mut delivered = 0;
            while delivered < messages {
                let Ok(Some(event)) = timeout(PATIENCE, b_events.recv()).await else {
                    break;
                };
                if let NodeEvent::Delivered { peer, message } = event {
                    let seq = u64::from_be_bytes(message[..].try_into().expect("8 bytes"));
                    checker.lock().unwrap().received(peer.to_string(), seq);
                    delivered += 1;
                }
            }
            (delivered, b_events)
        })
    };

    let mix = FaultMix {
        // Often enough that a cut finds messages unacknowledged in flight, seldom enough
        // that a new connection gets through its TLS handshake between two faults.
        gap: (Duration::from_millis(30), Duration::from_millis(200)),
        stall_for: (Duration::from_millis(20), Duration::from_millis(300)),
        ..FaultMix::default()
    };
    let started = Instant::now();
    let player = proxy.play(Schedule::new(seed, mix));
    // The last few messages are sent into a stalled connection that is then cut, so that at
    // least one resend is certain whatever the schedule's timing: a random cut may find every
    // message already acknowledged, the faster the link the likelier.
    let stranded = messages.min(STRANDED);
    let scheduled = messages - stranded;
    let per_cut = (scheduled / cuts).max(1);
    for seq in 1..=messages {
        if seq == scheduled + 1 {
            player.abort();
            strand(&a, &b_name, &proxy, seed).await;
        }
        // Spread the messages over the cuts: each share waits for its cut.
        if seq <= scheduled && seq % per_cut == 0 {
            let deadline = Instant::now() + PATIENCE;
            while proxy.counts().cuts() < seq / per_cut {
                assert!(
                    Instant::now() < deadline,
                    "seed {seed}: no cut: {}",
                    proxy.counts()
                );
                sleep(Duration::from_millis(1)).await;
            }
        }
        let mut message = Bytes::copy_from_slice(&seq.to_be_bytes());
        let deadline = Instant::now() + PATIENCE;
        loop {
            match a.send(&b_name, message).await {
                Ok(()) => break,
                // Down for a moment (a partition, a long stall): the message comes back; again.
                Err(NodeSendError::Down { message: back, .. }) => {
                    assert!(
                        Instant::now() < deadline,
                        "seed {seed}: b down for good at message {seq}: {:?}\n{:?}\nproxy: {}",
                        a.links(),
                        b.links(),
                        proxy.counts()
                    );
                    message = back;
                    sleep(Duration::from_millis(5)).await;
                }
                Err(other) => panic!("seed {seed}: message {seq} refused: {other}"),
            }
        }
        checker.lock().unwrap().sent("a".to_owned(), seq);
    }
    player.abort();
    if stranded > 0 {
        // Cut the stalled connection under the stranded messages: they must be sent again.
        proxy.inject(Fault::Cut(Cut::Reset));
    }
    let (delivered, _b_events) = receiver.await.unwrap();
    let elapsed = started.elapsed();
    let report = checker.lock().unwrap().report();
    let counts = proxy.counts();
    let links = a.links();
    let to_b = links.peers.iter().find(|p| p.name == "b").unwrap().clone();
    let b_links = b.links();
    let from_a = b_links
        .peers
        .iter()
        .find(|p| p.name == "a")
        .unwrap()
        .clone();
    println!("seed {seed}: {delivered} delivered in {elapsed:?}; {report}");
    println!("proxy: {counts}");
    println!(
        "a -> b: {} retransmissions, {} unacked; b: {} duplicates dropped",
        to_b.retransmissions, to_b.unacked, from_a.duplicates
    );
    a.shut_down().await;
    b.shut_down().await;
    let (ups, fresh, restarts) = a_watch.await.unwrap();
    println!("a saw b up {ups} times ({fresh} new sessions), {restarts} restarts");

    assert!(report.is_clean(), "seed {seed}: {report}");
    assert_eq!(
        report.total.delivered_once, messages,
        "seed {seed}: {report}"
    );
    assert!(counts.cuts() >= cuts, "seed {seed}: {counts}");
    assert!(
        to_b.retransmissions > 0,
        "seed {seed}: no resend under {counts}"
    );
    assert_eq!(
        (fresh, restarts),
        (1, 0),
        "seed {seed}: one session, never fenced"
    );
    // Every share of the messages waited for its cut and was then delivered: the link came
    // back after each; the Ups say it resumed the one session every time.
    assert!(ups > 1, "seed {seed}: never up again ({ups} ups)");
}

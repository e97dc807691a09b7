//! The node links' driver, two in-process nodes over real mutual TLS on 127.0.0.1: the seam the
//! rest of the daemon uses (`send`, `NodeEvents`) carries every message once and in order, through
//! back-pressure and through a TCP connection cut underneath mid-stream; and a node whose
//! certificate does not match its claimed name is refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use postbox_daemon::{NodeConfig, NodeDriver, NodeEvent, NodeEvents, NodeTls, PeerAddress};
use postbox_wire::PeerState;
use postbox_wire::link::NodeName;
use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

/// How long anything may take before the test gives up.
const PATIENCE: Duration = Duration::from_secs(30);

/// How many messages go from a to b.
const MESSAGES: u32 = 10_000;

/// A cluster CA in a temporary directory, issuing node certificates.
struct Cluster {
    dir: tempfile::TempDir,
    ca: PathBuf,
    issuer: Issuer<'static, KeyPair>,
}

impl Cluster {
    fn new() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        let ca = write(dir.path(), "ca.pem", &cert.pem());
        let issuer = Issuer::from_ca_cert_pem(&cert.pem(), key).unwrap();
        Cluster { dir, ca, issuer }
    }

    /// TLS for a node whose certificate is for `cert_name`.
    fn tls(&self, cert_name: &str) -> NodeTls {
        let mut params = CertificateParams::new(vec![cert_name.to_owned()]).unwrap();
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let cert_path = write(self.dir.path(), &format!("{cert_name}.pem"), &cert.pem());
        let key_path = write(
            self.dir.path(),
            &format!("{cert_name}.key"),
            &key.serialize_pem(),
        );
        NodeTls::from_files(&cert_path, &key_path, &self.ca).unwrap()
    }

    /// Node `name` with a certificate for `cert_name`, listening on port 0, dialling `peers`.
    fn node(
        &self,
        name: &str,
        cert_name: &str,
        peers: &[(&str, String)],
    ) -> (NodeDriver, NodeEvents) {
        let mut config = NodeConfig::new(NodeName::new(name).unwrap(), self.tls(cert_name));
        config.listen = Some("127.0.0.1:0".parse().unwrap());
        config.peers = peers
            .iter()
            .map(|(peer, address)| PeerAddress {
                name: NodeName::new(peer).unwrap(),
                address: address.clone(),
            })
            .collect();
        NodeDriver::start(config).unwrap()
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn name(text: &str) -> NodeName {
    NodeName::new(text).unwrap()
}

/// The next event that is not a `Delivered`, within [`PATIENCE`].
async fn next_state(events: &mut NodeEvents) -> NodeEvent {
    loop {
        let event = timeout(PATIENCE, events.recv()).await.unwrap().unwrap();
        if !matches!(event, NodeEvent::Delivered { .. }) {
            return event;
        }
    }
}

/// Sends `MESSAGES` numbered messages from `a` to `b` while `b`'s consumer checks each arrives
/// once and in order; `during` runs once the first quarter has been delivered.
async fn push_through(a: &NodeDriver, b_events: &mut NodeEvents, during: impl FnOnce()) {
    let b = name("b");
    let sending = async {
        for n in 0..MESSAGES {
            a.send(&b, Bytes::from(n.to_be_bytes().to_vec()))
                .await
                .unwrap();
        }
    };
    let receiving = async {
        let mut during = Some(during);
        let mut expected = 0u32;
        while expected < MESSAGES {
            match timeout(PATIENCE, b_events.recv()).await.unwrap().unwrap() {
                NodeEvent::Delivered { peer, message } => {
                    assert_eq!(peer.as_str(), "a");
                    let n = u32::from_be_bytes(message[..].try_into().unwrap());
                    assert_eq!(n, expected, "in order, exactly once");
                    expected += 1;
                    if expected == MESSAGES / 4
                        && let Some(during) = during.take()
                    {
                        during();
                    }
                }
                NodeEvent::Up { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    };
    tokio::join!(sending, receiving);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_messages_arrive_once_and_in_order_over_tls() {
    let cluster = Cluster::new();
    let (b, mut b_events) = cluster.node("b", "b", &[]);
    let b_addr = b.local_addr().unwrap().to_string();
    let (a, mut a_events) = cluster.node("a", "a", &[("b", b_addr)]);

    let NodeEvent::Up {
        peer,
        incarnation,
        resumed: false,
    } = next_state(&mut a_events).await
    else {
        panic!("a first sees b up");
    };
    assert_eq!((peer.as_str(), incarnation), ("b", b.incarnation()));
    let started = std::time::Instant::now();
    push_through(&a, &mut b_events, || {}).await;
    let took = started.elapsed();
    println!(
        "{MESSAGES} messages a to b in {took:?}: {:.0} messages/s",
        f64::from(MESSAGES) / took.as_secs_f64()
    );

    // b learnt a on first use; both show the other up, with its incarnation.
    let links = b.links();
    assert_eq!(links.local.as_ref().unwrap().name, "b");
    let seen = &links.peers[0];
    assert_eq!((seen.name.as_str(), seen.state), ("a", PeerState::Up));
    assert_eq!(seen.incarnation, Some(a.incarnation().get()));
    assert_eq!(a.links().peers[0].incarnation, Some(b.incarnation().get()));

    // Shutting b down says goodbye: a sees it down at once, long before its node timeout.
    let started = std::time::Instant::now();
    b.shut_down().await;
    let NodeEvent::Down { peer, .. } = next_state(&mut a_events).await else {
        panic!("a sees b down");
    };
    assert_eq!(peer.as_str(), "b");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    a.shut_down().await;
}

/// A TCP relay from a listener to `to`, whose connections are all cut when `cut` is set.
async fn relay(to: String, cut: Arc<AtomicBool>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                return;
            };
            let Ok(mut outbound) = TcpStream::connect(&to).await else {
                continue;
            };
            let cut = cut.clone();
            tokio::spawn(async move {
                let copying = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
                let cutting = async {
                    while !cut.swap(false, Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                };
                tokio::select! {
                    _ = copying => {}
                    () = cutting => {}
                }
                // Dropping both sockets here cuts the connection in the middle of the stream.
            });
        }
    });
    address
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cut_mid_stream_resumes_without_loss_or_repeat() {
    let cluster = Cluster::new();
    let (b, mut b_events) = cluster.node("b", "b", &[]);
    let cut = Arc::new(AtomicBool::new(false));
    let through = relay(b.local_addr().unwrap().to_string(), cut.clone()).await;
    let (a, mut a_events) = cluster.node("a", "a", &[("b", through)]);
    assert!(matches!(
        next_state(&mut a_events).await,
        NodeEvent::Up { .. }
    ));

    push_through(&a, &mut b_events, || cut.store(true, Ordering::SeqCst)).await;
    // The cut happened (the relay took it) and the session resumed rather than restarting.
    assert!(!cut.load(Ordering::SeqCst));
    let NodeEvent::Up { resumed: true, .. } = next_state(&mut a_events).await else {
        panic!("a reconnects and resumes");
    };
    let stats = &a.links().peers[0];
    assert_eq!(stats.state, PeerState::Up);
    a.shut_down().await;
    b.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_certificate_is_for_another_name_is_refused() {
    let cluster = Cluster::new();
    let (a, _a_events) = cluster.node("a", "a", &[]);
    let a_addr = a.local_addr().unwrap().to_string();
    // It says it is b, but its certificate is for mallory.
    let (impostor, mut impostor_events) = cluster.node("b", "mallory", &[("a", a_addr)]);
    // The impostor dials and is cut off after its Hello, again and again; never up.
    let waited = timeout(Duration::from_secs(2), next_state(&mut impostor_events)).await;
    assert!(waited.is_err() || !matches!(waited, Ok(NodeEvent::Up { .. })));
    assert!(
        a.links().peers.is_empty(),
        "a never links with it: {:?}",
        a.links()
    );
    impostor.shut_down().await;
    a.shut_down().await;
}

/// How many messages each of two nodes sends the other.
const BOTH_WAYS: u32 = 1000;

/// Sends `BOTH_WAYS` numbered messages from `from` to node `to`.
async fn send_numbered(from: &NodeDriver, to: &str) {
    for n in 0..BOTH_WAYS {
        let message = Bytes::from(n.to_be_bytes().to_vec());
        from.send(&name(to), message).await.unwrap();
    }
}

/// Receives `BOTH_WAYS` numbered messages, checking each arrives once and in order, taking
/// every event waiting at once (as the router does).
async fn receive_numbered(events: &mut NodeEvents) {
    let mut expected = 0;
    let mut batch = Vec::new();
    while expected < BOTH_WAYS {
        let taken = timeout(PATIENCE, events.recv_many(&mut batch, 64))
            .await
            .unwrap();
        assert!(taken > 0 && taken <= 64 && batch.len() == taken, "{taken}");
        for event in batch.drain(..) {
            match event {
                NodeEvent::Delivered { message, .. } => {
                    assert_eq!(
                        u32::from_be_bytes(message[..].try_into().unwrap()),
                        expected
                    );
                    expected += 1;
                }
                NodeEvent::Up { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_dialling_each_other_keep_one_link_both_ways() {
    let cluster = Cluster::new();
    // Each listens first, then both dial each other at once.
    let a_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let b_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a_addr = a_listener.local_addr().unwrap().to_string();
    let b_addr = b_listener.local_addr().unwrap().to_string();
    let start = |me: &str, peer: &str, address: String, listener: std::net::TcpListener| {
        listener.set_nonblocking(true).unwrap();
        let mut config = NodeConfig::new(name(me), cluster.tls(me));
        config.peers = vec![PeerAddress {
            name: name(peer),
            address,
        }];
        NodeDriver::start_on(config, Some(listener)).unwrap()
    };
    let (a, mut a_events) = start("a", "b", b_addr, a_listener);
    let (b, mut b_events) = start("b", "a", a_addr, b_listener);
    assert!(matches!(
        next_state(&mut a_events).await,
        NodeEvent::Up { .. }
    ));
    assert!(matches!(
        next_state(&mut b_events).await,
        NodeEvent::Up { .. }
    ));

    // Both ways at once, each in order and once.
    tokio::join!(
        send_numbered(&a, "b"),
        send_numbered(&b, "a"),
        receive_numbered(&mut a_events),
        receive_numbered(&mut b_events)
    );
    assert_eq!(
        a.links().peers.len(),
        1,
        "one peer, however many connections"
    );
    a.shut_down().await;
    b.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_unacknowledged_by_a_peer_that_restarts_are_handed_back() {
    let cluster = Cluster::new();
    let (b, b_events) = cluster.node("b", "b", &[]);
    let b_addr = b.local_addr().unwrap();
    let (a, mut a_events) = cluster.node("a", "a", &[("b", b_addr.to_string())]);
    assert!(matches!(
        next_state(&mut a_events).await,
        NodeEvent::Up { .. }
    ));
    let old = b.incarnation();

    // b vanishes without a goodbye; a keeps what it sends meanwhile, unacknowledged.
    drop(b);
    drop(b_events);
    for n in 0..10u8 {
        a.send(&name("b"), Bytes::from(vec![n])).await.unwrap();
    }

    // A new b on the same address: a new incarnation, so the ten come back as failed.
    let listener = timeout(PATIENCE, async {
        loop {
            match std::net::TcpListener::bind(b_addr) {
                Ok(listener) => break listener,
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    })
    .await
    .unwrap();
    listener.set_nonblocking(true).unwrap();
    let mut config = NodeConfig::new(name("b"), cluster.tls("b"));
    config.listen = Some(b_addr);
    let (b, mut b_events) = NodeDriver::start_on(config, Some(listener)).unwrap();
    let restarted = loop {
        match next_state(&mut a_events).await {
            NodeEvent::PeerRestarted {
                old: was,
                new,
                unsent,
                ..
            } => break (was, new, unsent),
            NodeEvent::Down { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!((restarted.0, restarted.1), (old, b.incarnation()));
    let unsent: Vec<u8> = restarted.2.iter().map(|m| m[0]).collect();
    assert_eq!(unsent, (0..10).collect::<Vec<u8>>(), "oldest first");
    // None of them reaches the new b; what a sends now does.
    a.send(&name("b"), Bytes::from_static(b"after"))
        .await
        .unwrap();
    loop {
        match timeout(PATIENCE, b_events.recv()).await.unwrap().unwrap() {
            NodeEvent::Delivered { message, .. } => {
                assert_eq!(&message[..], b"after");
                break;
            }
            NodeEvent::Up { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    a.shut_down().await;
    b.shut_down().await;
}

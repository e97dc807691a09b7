//! Admission: a crowd that never authenticates cannot lock anyone out. Connections in their
//! handshake have their own places, per listener and per peer; only a `Hello` that is accepted
//! takes a process place; whoever is refused is told `LIMIT_EXCEEDED` and why, not reset.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::{Client, TestDaemon, raise_fd_limit};
use postbox_daemon::{DaemonConfig, TcpListen};
use postbox_wire::{ClientConfig, ErrorCode, HandshakeError, Token};
use tokio::net::{TcpSocket, TcpStream};

/// The strangers each test holds, as in the report that found the hole.
const STRANGERS: usize = 2000;

fn token() -> Token {
    Token::new("the token strangers do not have").unwrap()
}

/// A daemon on TCP too, whose handshakes do not time out while a test runs.
fn with_tcp(config: DaemonConfig) -> DaemonConfig {
    let mut config = config.with_tcp(TcpListen::new("127.0.0.1:0".parse().unwrap(), token()));
    config.handshake_timeout = Duration::from_secs(60);
    config
}

/// A TCP connection to `server` from the loopback address `127.0.0.<host>`.
async fn connect_from(host: u8, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    let source = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)), 0);
    socket.bind(source).unwrap();
    socket.connect(server).await.unwrap()
}

/// Asserts that the daemon told this connection `LIMIT_EXCEEDED` (with a message containing
/// `why`) and closed it.
async fn assert_refused(stream: TcpStream, why: &str) {
    let mut refused = Client::new(stream);
    let (id, body) = refused.error().await;
    assert_eq!(
        (id, body.code()),
        (None, ErrorCode::LIMIT_EXCEEDED),
        "{body}"
    );
    assert!(body.message().contains(why), "{body}");
    refused.expect_end().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_clients_are_served_while_2000_tcp_strangers_hold_connections() {
    assert!(raise_fd_limit(3 * STRANGERS as u64 + 256) > 2 * STRANGERS as u64 + 128);
    let daemon = TestDaemon::start_with("tcp-strangers", with_tcp);
    let server = daemon.tcp.unwrap();

    // A crowd from one address: a few get handshake places, the rest are told at once.
    let mut strangers = Vec::with_capacity(STRANGERS);
    for _ in 0..STRANGERS {
        strangers.push(connect_from(1, server).await);
    }
    let mut local = daemon.client().await;
    assert_eq!(local.node_stats().await.processes, 1);

    // An honest client elsewhere on the network gets in with the token.
    let mut honest = Client::new(connect_from(2, server).await);
    honest
        .hello(ClientConfig::new().with_token(token()))
        .await
        .expect("admitted beside the crowd");
    assert_eq!(local.node_stats().await.processes, 2);

    // The last stranger was told why it was turned away.
    let last = strangers.pop().unwrap();
    assert_refused(last, "too many connections from 127.0.0.1").await;
    drop((local, honest, strangers));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_from_many_addresses_fills_only_the_tcp_handshake_places() {
    assert!(raise_fd_limit(3 * STRANGERS as u64 + 256) > 2 * STRANGERS as u64 + 128);
    let daemon = TestDaemon::start_with("tcp-crowd", with_tcp);
    let server = daemon.tcp.unwrap();

    // 2,000 strangers from 125 addresses, 16 each: more than the TCP handshake places.
    let mut strangers = Vec::with_capacity(STRANGERS);
    for index in 0..STRANGERS {
        strangers.push(connect_from(10 + (index / 16) as u8, server).await);
    }
    // The Unix socket has its own places: local clients come and go as usual. One stays to
    // watch the others go, so that each is seen gone before the next comes.
    let mut watcher = daemon.client().await;
    for _ in 0..3 {
        let local = daemon.client().await;
        assert_eq!(watcher.node_stats().await.processes, 2);
        drop(local);
        watcher.wait_for_processes(1).await;
    }
    // A TCP newcomer finds every TCP handshake place taken, and is told so.
    let newcomer = connect_from(200, server).await;
    assert_refused(newcomer, "too many connections are opening at once").await;
    drop((watcher, strangers));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hello_over_the_process_limit_is_refused_in_the_handshake_with_the_reason() {
    let daemon = TestDaemon::start_with("process-limit", |mut config| {
        config.max_connections = 1;
        config
    });
    let mut first = daemon.client().await;
    let mut second = Client::connect(&daemon.path).await;
    let Err(HandshakeError::PeerError(body)) = second.hello(ClientConfig::new()).await else {
        panic!("refused")
    };
    assert_eq!(body.code(), ErrorCode::LIMIT_EXCEEDED);
    assert!(body.message().contains("--max-connections"), "{body}");
    assert_eq!(first.node_stats().await.processes, 1);
    drop(first);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_uid_holds_at_most_its_share_of_connections() {
    let daemon = TestDaemon::start_with("per-uid", |mut config| {
        config.own_user = postbox_daemon::OwnUser::Limited;
        config.max_connections_per_peer = 3;
        config.max_handshakes_per_peer = 2;
        config.handshake_timeout = Duration::from_secs(60);
        config
    });
    let uid = common::own_ids().0;
    // Two silent connections hold this uid's handshake places: a third is told at once.
    let silent = [
        Client::connect(&daemon.path).await,
        Client::connect(&daemon.path).await,
    ];
    let mut third = Client::connect(&daemon.path).await;
    let (_, body) = third.error().await;
    assert_eq!(body.code(), ErrorCode::LIMIT_EXCEEDED);
    assert!(
        body.message()
            .contains(&format!("too many connections from uid {uid} are opening")),
        "{body}"
    );
    drop(silent);
    // Connections past their handshake count too: three in all.
    let mut clients = Vec::new();
    let deadline = std::time::Instant::now() + common::STEP;
    while clients.len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the silent connections' places are never given back"
        );
        let mut client = Client::connect(&daemon.path).await;
        // A place held by a silent connection may not be free yet: try again until it is.
        if client.hello(ClientConfig::new()).await.is_ok() {
            clients.push(client);
        }
    }
    let mut fourth = Client::connect(&daemon.path).await;
    let hello = fourth.hello(ClientConfig::new()).await;
    let Err(HandshakeError::PeerError(body)) = hello else {
        panic!("a fourth connection of the uid was not told it is refused: {hello:?}")
    };
    assert!(
        body.message().contains(&format!(
            "too many connections from uid {uid} (3, the limit)"
        )),
        "{body}"
    );
    drop(clients);
    daemon.stop().await;
}

//! TCP: only when asked, only with the token, and clients run as the configured identity.

mod common;

use std::net::SocketAddr;

use common::{Client, TestDaemon, own_ids, recv};
use postbox_core::{Credentials, Delivery, Message, Selector, Wait};
use postbox_daemon::{TcpIdentity, TcpListen};
use postbox_wire::{ClientConfig, ErrorCode, HandshakeError, Request, Response, Target, Token};
use tokio::net::TcpStream;

fn token() -> Token {
    Token::new("correct horse battery staple").unwrap()
}

fn with_tcp(
    identity: TcpIdentity,
) -> impl FnOnce(postbox_daemon::DaemonConfig) -> postbox_daemon::DaemonConfig {
    move |config| {
        let mut tcp = TcpListen::new("127.0.0.1:0".parse().unwrap(), token());
        tcp.identity = identity;
        config.with_tcp(tcp)
    }
}

async fn tcp_client(address: SocketAddr) -> Client<TcpStream> {
    Client::new(TcpStream::connect(address).await.unwrap())
}

async fn uid_of<S>(client: &mut Client<S>) -> (u32, u32)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let Response::Processes(processes) = client.call(&Request::ListProcesses).await else {
        panic!("a process list")
    };
    let me = processes.iter().find(|p| p.pid == client.pid).unwrap();
    (me.uid, me.gid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn there_is_no_tcp_listener_unless_asked() {
    let daemon = TestDaemon::start("no-tcp");
    assert_eq!(daemon.tcp, None);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_token_gets_in_and_talks_to_unix_clients() {
    let daemon = TestDaemon::start_with("tcp-ok", with_tcp(TcpIdentity::DaemonUser));
    let address = daemon.tcp.expect("a TCP listener");
    assert!(address.ip().is_loopback() && address.port() != 0);

    let mut remote = tcp_client(address).await;
    remote
        .hello(ClientConfig::new().with_token(token()))
        .await
        .expect("admitted");
    assert_eq!(
        uid_of(&mut remote).await,
        own_ids(),
        "the daemon's own user"
    );

    let mut local = daemon.client().await;
    let waiting = local.request(&recv(Selector::From(remote.pid))).await;
    let send = Request::Send {
        target: Target::Process(local.pid),
        message: Message::new("over tcp"),
        delivery: Delivery::Queued,
        wait: Wait::Block,
    };
    assert_eq!(remote.call(&send).await, Response::Sent { receiver: None });
    let Response::Received { message, .. } = local.response(waiting).await else {
        panic!("the unix client receives")
    };
    assert_eq!(message.message.payload.as_ref(), b"over tcp");
    drop((remote, local));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_missing_token_is_refused() {
    let daemon = TestDaemon::start_with("tcp-refused", with_tcp(TcpIdentity::DaemonUser));
    let address = daemon.tcp.unwrap();
    let mut observer = daemon.client().await;
    let attempts = [
        ClientConfig::new().with_token(Token::new("correct horse battery stapleX").unwrap()),
        ClientConfig::new().with_token(Token::new("Correct horse battery staple").unwrap()),
        ClientConfig::new(),
    ];
    for config in attempts {
        let mut intruder = tcp_client(address).await;
        let Err(HandshakeError::PeerError(body)) = intruder.hello(config).await else {
            panic!("refused")
        };
        assert_eq!(body.code(), ErrorCode::UNAUTHORIZED);
        intruder.expect_end().await;
    }
    assert_eq!(
        observer.node_stats().await.processes,
        1,
        "no process was spawned"
    );
    drop(observer);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_clients_can_run_as_a_configured_identity() {
    let nobody = Credentials::new(65534, 65534);
    let daemon = TestDaemon::start_with("tcp-identity", with_tcp(TcpIdentity::Fixed(nobody)));
    let mut remote = tcp_client(daemon.tcp.unwrap()).await;
    remote
        .hello(ClientConfig::new().with_token(token()))
        .await
        .unwrap();
    assert_eq!(uid_of(&mut remote).await, (65534, 65534));
    drop(remote);
    daemon.stop().await;
}

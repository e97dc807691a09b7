//! Every limit is reported as a clear error, and the connection (or daemon) carries on.

mod common;

use std::time::{Duration, Instant};

use common::{Client, STEP, TestDaemon, recv};
use postbox_core::{Delivery, Message, Selector, SendErrorKind, Wait};
use postbox_wire::{ClientConfig, ErrorCode, Frame, HandshakeError, Request, Response, Target};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_in_flight_limit_are_refused_for_their_id_only() {
    let daemon = TestDaemon::start_with("in-flight", |mut config| {
        config.max_in_flight = 2;
        config
    });
    let mut client = daemon.client().await;
    let first = client.request(&recv(Selector::Any)).await;
    let second = client.request(&recv(Selector::Type(7))).await;
    let third = client.request(&Request::NodeStats).await;
    let (id, body) = client.error().await;
    assert_eq!(
        (id, body.code()),
        (Some(third), ErrorCode::LIMIT_EXCEEDED),
        "{body}"
    );

    // Withdrawing one makes room again.
    client.send(&Frame::cancel(second)).await;
    assert!(matches!(
        client.response(second).await,
        Response::RecvFailed(_)
    ));
    assert_eq!(client.node_stats().await.processes, 1);
    client.send(&Frame::cancel(first)).await;
    assert!(matches!(
        client.response(first).await,
        Response::RecvFailed(_)
    ));
    drop(client);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_limit_are_refused_until_one_closes() {
    let daemon = TestDaemon::start_with("connections", |mut config| {
        config.max_connections = 2;
        config
    });
    let first = daemon.client().await;
    let mut second = daemon.client().await;
    let mut third = Client::connect(&daemon.path).await;
    let Err(HandshakeError::PeerError(body)) = third.hello(ClientConfig::new()).await else {
        panic!("refused")
    };
    assert_eq!(body.code(), ErrorCode::LIMIT_EXCEEDED);
    third.expect_end().await;
    assert_eq!(second.node_stats().await.processes, 2);

    drop(first);
    let deadline = Instant::now() + STEP;
    loop {
        let mut next = Client::connect(&daemon.path).await;
        if next.hello(ClientConfig::new()).await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the freed slot is never reused");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(second);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_says_hello_is_timed_out() {
    let daemon = TestDaemon::start_with("hello-timeout", |mut config| {
        config.handshake_timeout = Duration::from_millis(100);
        config
    });
    let mut silent = Client::connect(&daemon.path).await;
    let (id, body) = silent.error().await;
    assert_eq!(
        (id, body.code()),
        (None, ErrorCode::PROTOCOL_VIOLATION),
        "{body}"
    );
    silent.expect_end().await;
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_size_limit_is_handed_back_too_large() {
    let daemon = TestDaemon::start_with("too-large", |mut config| {
        config.limits.max_message_size = 100;
        config
    });
    let mut client = daemon.client().await;
    let send = Request::Send {
        target: Target::Process(client.pid),
        message: Message::new(vec![7u8; 101]),
        delivery: Delivery::Queued,
        wait: Wait::Block,
    };
    let Response::SendFailed(error) = client.call(&send).await else {
        panic!("refused")
    };
    assert_eq!(error.kind(), SendErrorKind::TooLarge);
    assert_eq!(error.message().map(Message::len), Some(101));
    drop(client);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_too_large_for_the_negotiated_frame_limit_is_refused_for_its_id() {
    let daemon = TestDaemon::start("answer-too-large");
    let mut small = Client::connect(&daemon.path).await;
    small
        .hello(ClientConfig::new().with_max_frame_len(4096))
        .await
        .unwrap();
    let mut big = daemon.client().await;
    let send = Request::Send {
        target: Target::Process(small.pid),
        message: Message::new(vec![1u8; 8000]),
        delivery: Delivery::Queued,
        wait: Wait::Block,
    };
    assert_eq!(big.call(&send).await, Response::Sent { receiver: None });
    let id = small.request(&recv(Selector::Any)).await;
    let (answered, body) = small.error().await;
    assert_eq!(
        (answered, body.code()),
        (Some(id), ErrorCode::LIMIT_EXCEEDED),
        "{body}"
    );
    assert_eq!(
        small.node_stats().await.processes,
        2,
        "the connection stays open"
    );
    drop((small, big));
    daemon.stop().await;
}

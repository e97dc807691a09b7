//! Every limit is reported as a clear error, and the connection (or daemon) carries on.

mod common;

use std::time::{Duration, Instant};

use common::{Client, STEP, TestDaemon, recv};
use postbox_core::{
    Capacity, Delivery, MESSAGE_CHARGE, MailboxAttrs, MailboxId, Message, RecvError, Selector,
    SendErrorKind, Wait,
};
use postbox_wire::{
    ClientConfig, ErrorCode, Frame, HandshakeError, Request, RequestId, Response, Target,
    encode_request,
};

/// Creates an unbounded mailbox called `name`.
async fn unbounded<S>(client: &mut Client<S>, name: &str) -> MailboxId
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let create = Request::Create {
        name: name.to_owned(),
        attrs: MailboxAttrs {
            capacity: Capacity::Unbounded,
            ..MailboxAttrs::process_owned()
        },
    };
    match client.call(&create).await {
        Response::Opened { mailbox, .. } => mailbox,
        other => panic!("{other:?}"),
    }
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_messages_are_refused_quota_exceeded_at_the_configured_bound() {
    // Room for exactly 4096 empty messages: each is charged MESSAGE_CHARGE bytes.
    let daemon = TestDaemon::start_with("small-messages", |mut config| {
        config.limits.max_queued_bytes = 4096 * MESSAGE_CHARGE;
        config
    });
    let mut client = daemon.client().await;
    let mailbox = unbounded(&mut client, "z").await;
    let mut sent = 0;
    let failed = loop {
        let batch = Request::SendBatch {
            target: Target::Mailbox(mailbox),
            messages: vec![Message::new(""); 1024],
            wait: Wait::Try,
        };
        let Response::SentBatch {
            sent: now, failed, ..
        } = client.call(&batch).await
        else {
            panic!("a batch answer")
        };
        sent += now as usize;
        if let Some(failed) = failed {
            break failed;
        }
        assert!(sent <= 4096, "the quota does not bound empty messages");
    };
    assert_eq!(failed.kind(), SendErrorKind::QuotaExceeded);
    assert_eq!(sent, 4096);
    let stats = client.node_stats().await;
    assert_eq!((stats.queued_messages, stats.queued_bytes), (4096, 0));
    drop(client);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_monitors_of_a_dead_process_leave_one_notification() {
    let daemon = TestDaemon::start("dead-monitors");
    let mut watcher = daemon.client().await;
    let dead = daemon.client().await.pid;
    watcher.wait_for_processes(1).await;

    // 5,000 monitors in flight at once, far past the inbox's capacity of 1024.
    let frames: Vec<Frame> = (1..=5000)
        .map(|id| {
            let monitor = Request::Monitor { target: dead };
            Frame::request(RequestId::new(id).unwrap(), encode_request(&monitor))
        })
        .collect();
    watcher.send_all(&frames).await;
    for id in 1..=5000 {
        let answer = watcher.response(RequestId::new(id).unwrap()).await;
        assert_eq!(answer, Response::Done);
    }
    let stats = {
        watcher
            .request_with(RequestId::new(1).unwrap(), &Request::NodeStats)
            .await;
        match watcher.response(RequestId::new(1).unwrap()).await {
            Response::NodeStats(stats) => stats,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(stats.queued_messages, 1, "one down notification, not 5,000");
    let take = Request::Recv {
        branches: vec![postbox_core::Branch::new(
            postbox_core::Source::Inbox,
            Selector::Any,
        )],
        wait: Wait::Try,
    };
    watcher
        .request_with(RequestId::new(2).unwrap(), &take)
        .await;
    let Response::Received { message, .. } = watcher.response(RequestId::new(2).unwrap()).await
    else {
        panic!("the down notification")
    };
    assert!(message.is_down());
    watcher
        .request_with(RequestId::new(3).unwrap(), &take)
        .await;
    let Response::RecvFailed(error) = watcher.response(RequestId::new(3).unwrap()).await else {
        panic!("nothing more")
    };
    assert_eq!(error.error, RecvError::Empty);
    drop(watcher);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn senders_left_waiting_are_charged_and_refused_at_the_quota() {
    // Room for ten 1 KiB messages, queued or waiting.
    let daemon = TestDaemon::start_with("waiting-senders", |mut config| {
        config.limits.max_queued_bytes = 10 * (1024 + MESSAGE_CHARGE);
        config
    });
    let mut owner = daemon.client().await;
    let create = Request::Create {
        name: "one".to_owned(),
        attrs: MailboxAttrs {
            capacity: Capacity::bounded(1, 1 << 20),
            ..MailboxAttrs::process_owned()
        },
    };
    let Response::Opened { mailbox, .. } = owner.call(&create).await else {
        panic!("created")
    };
    let send = Request::Send {
        target: Target::Mailbox(mailbox),
        message: Message::new(vec![7u8; 1024]),
        delivery: Delivery::Queued,
        wait: Wait::Block,
    };
    // One queued, nine waiting for room: the tenth charge fills the quota.
    assert_eq!(owner.call(&send).await, Response::Sent { receiver: None });
    let frames: Vec<Frame> = (1..=10)
        .map(|id| Frame::request(RequestId::new(id).unwrap(), encode_request(&send)))
        .collect();
    owner.send_all(&frames).await;
    // Nine wait; the tenth, which could not even wait within the quota, is refused at once.
    let Response::SendFailed(error) = owner.response(RequestId::new(10).unwrap()).await else {
        panic!("refused")
    };
    assert_eq!(error.kind(), SendErrorKind::QuotaExceeded);
    assert_eq!(error.message().map(Message::len), Some(1024));
    drop(owner);
    daemon.stop().await;
}

/// Whether a mailbox called `name` exists, as another client sees it.
async fn exists<S>(client: &mut Client<S>, name: &str) -> bool
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    match client
        .call(&Request::Open {
            name: name.to_owned(),
        })
        .await
    {
        Response::Opened { .. } => true,
        Response::OpenFailed(postbox_core::OpenError::NotFound) => false,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_already_read_wait_while_a_client_does_not_read_its_answers() {
    let daemon = TestDaemon::start("unread-answers");
    let mut observer = daemon.client().await;
    let mut hoarder = daemon.client().await;
    // 250 mailboxes with long names: each list of them is an answer of about 90 KB.
    for index in 0..250 {
        let name = format!("{index:03}-{}", "n".repeat(250));
        unbounded(&mut hoarder, &name).await;
    }
    // One small write: a creation, 100 lists (about 9 MB of answers), another creation.
    let create = |name: &str| Request::Create {
        name: name.to_owned(),
        attrs: MailboxAttrs::process_owned(),
    };
    let mut frames = vec![Frame::request(
        RequestId::new(1).unwrap(),
        encode_request(&create("first")),
    )];
    for id in 2..=101 {
        frames.push(Frame::request(
            RequestId::new(id).unwrap(),
            encode_request(&Request::ListMailboxes),
        ));
    }
    frames.push(Frame::request(
        RequestId::new(102).unwrap(),
        encode_request(&create("marker")),
    ));
    hoarder.send_all(&frames).await;

    // The daemon carries the pipeline out in order until 4 MiB of answers wait, then stops:
    // the creation behind the lists is not carried out while the hoarder does not read.
    let deadline = Instant::now() + STEP;
    while !exists(&mut observer, "first").await {
        assert!(Instant::now() < deadline, "the pipeline is never started");
    }
    assert!(
        !exists(&mut observer, "marker").await,
        "requests were carried out past the answer backlog"
    );
    // Reading the answers lets the rest through.
    for id in 1..=102 {
        let frame = hoarder.next_frame().await.expect("an answer");
        assert_eq!(frame.request_id(), RequestId::new(id));
    }
    assert!(exists(&mut observer, "marker").await);
    drop((observer, hoarder));
    daemon.stop().await;
}

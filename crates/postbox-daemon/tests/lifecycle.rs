//! Starting and stopping: the socket's directory and mode, stale sockets, a second daemon, and
//! the shutdown that answers every waiter and removes the socket.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use common::{Client, TestDaemon, config_in, recv, unique_dir};
use postbox_core::Selector;
use postbox_daemon::{Daemon, DaemonError};
use postbox_wire::{ErrorCode, FrameKind};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_directory_is_created_0700_and_the_socket_is_0600() {
    let daemon = TestDaemon::start("modes");
    let dir_mode = std::fs::metadata(&daemon.dir).unwrap().mode() & 0o7777;
    let sock_mode = std::fs::symlink_metadata(&daemon.path).unwrap().mode() & 0o7777;
    assert_eq!((dir_mode, sock_mode), (0o700, 0o600));
    daemon.stop().await;

    let daemon = TestDaemon::start_with("mode-660", |mut config| {
        config.socket_mode = 0o660;
        config
    });
    let sock_mode = std::fs::symlink_metadata(&daemon.path).unwrap().mode() & 0o7777;
    assert_eq!(sock_mode, 0o660);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_on_the_same_socket_refuses_to_start() {
    let daemon = TestDaemon::start("twice");
    let second = Daemon::bind(config_in(&daemon.dir));
    assert!(
        matches!(second, Err(DaemonError::AlreadyRunning { ref path }) if *path == daemon.path),
        "{second:?}"
    );
    // The first one is unharmed.
    let mut client = daemon.client().await;
    assert_eq!(client.node_stats().await.processes, 1);
    drop(client);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_socket_is_removed_and_a_regular_file_is_not() {
    let dir = unique_dir("stale");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let path = dir.join("postbox.sock");
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(postbox_daemon::serve(config_in(&dir), async {
        let _ = stopped.await;
    }));
    // `serve` binds on its first poll; until then the stale socket refuses connections.
    let deadline = std::time::Instant::now() + common::STEP;
    let mut client = loop {
        if let Ok(stream) = tokio::net::UnixStream::connect(&path).await {
            break Client::new(stream);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon never listens"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    client
        .hello(postbox_wire::ClientConfig::new())
        .await
        .unwrap();
    drop(client);
    stop.send(()).unwrap();
    serving.await.unwrap().unwrap();
    assert!(!path.exists());

    std::fs::write(&path, b"precious").unwrap();
    let refused = Daemon::bind(config_in(&dir));
    assert!(
        matches!(refused, Err(DaemonError::NotASocket { .. })),
        "{refused:?}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_every_waiter_closes_every_connection_and_removes_the_socket() {
    let mut daemon = TestDaemon::start("shutdown");
    let mut waiter = daemon.client().await;
    let mut idle = daemon.client().await;
    let first = waiter.request(&recv(Selector::Any)).await;
    let second = waiter.request(&recv(Selector::Type(3))).await;
    assert_eq!(waiter.node_stats().await.processes, 2);

    daemon.begin_stop();
    let mut failed = Vec::new();
    for _ in 0..2 {
        let (id, body) = waiter.error().await;
        assert_eq!(body.code(), ErrorCode::SHUTTING_DOWN, "{body}");
        failed.push(id.unwrap());
    }
    failed.sort();
    assert_eq!(failed, [first, second]);
    let close = waiter.next_frame().await.expect("a Close frame");
    assert_eq!(close.kind(), FrameKind::Close);
    waiter.expect_end().await;

    assert_eq!(
        idle.next_frame().await.map(|f| f.kind()),
        Some(FrameKind::Close)
    );
    idle.expect_end().await;

    daemon.join().await;
    assert!(!daemon.path.exists(), "the socket is removed");
    assert!(tokio::net::UnixStream::connect(&daemon.path).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_configurations_are_refused_before_anything_is_created() {
    let dir = unique_dir("invalid");
    let mut config = config_in(&dir);
    config.max_connections = 0;
    assert!(matches!(
        Daemon::bind(config),
        Err(DaemonError::Config { .. })
    ));
    assert!(!dir.exists());
}

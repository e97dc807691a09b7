//! `run`, end to end: SIGTERM stops it cleanly. Alone in its file, because the signal handler it
//! installs is process-wide.

mod common;

use std::time::{Duration, Instant};

use common::{Client, STEP, config_in, recv, unique_dir};
use postbox_core::Selector;
use postbox_wire::{ClientConfig, ErrorCode, FrameKind};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_waiters_removes_the_socket_and_run_returns_ok() {
    let dir = unique_dir("sigterm");
    let config = config_in(&dir);
    let path = config.socket_path.clone();
    let daemon = std::thread::spawn(move || postbox_daemon::run(config));

    // `run` installs its signal handlers before it binds: once connected, SIGTERM is safe.
    let deadline = Instant::now() + STEP;
    let mut client = loop {
        if let Ok(stream) = tokio::net::UnixStream::connect(&path).await {
            break Client::new(stream);
        }
        assert!(Instant::now() < deadline, "the daemon never listens");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    client.hello(ClientConfig::new()).await.unwrap();
    let waiting = client.request(&recv(Selector::Any)).await;
    assert_eq!(client.node_stats().await.processes, 1);

    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());

    let (id, body) = client.error().await;
    assert_eq!((id, body.code()), (Some(waiting), ErrorCode::SHUTTING_DOWN));
    assert_eq!(
        client.next_frame().await.map(|f| f.kind()),
        Some(FrameKind::Close)
    );
    client.expect_end().await;

    let result = tokio::task::spawn_blocking(move || daemon.join())
        .await
        .unwrap()
        .expect("run does not panic");
    assert!(result.is_ok(), "{result:?}");
    assert!(!path.exists(), "the socket is removed");
    std::fs::remove_dir_all(&dir).unwrap();
}

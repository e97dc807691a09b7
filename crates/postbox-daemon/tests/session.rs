//! One daemon, a few clients: the handshake, requests between connections, many requests in
//! flight on one connection, cancel, peer credentials and termination on disconnect.

mod common;

use std::time::{Duration, Instant};

use common::{Client, TestDaemon, own_ids, recv};
use postbox_core::{Delivery, Message, RecvError, Selector, Wait};
use postbox_wire::{ClientConfig, DEFAULT_MAX_FRAME_LEN, Request, Response, Target};

fn send_to(pid: postbox_core::Pid, payload: &'static str) -> Request {
    Request::Send {
        target: Target::Process(pid),
        message: Message::new(payload),
        delivery: Delivery::Queued,
        wait: Wait::Block,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke() {
    let daemon = TestDaemon::start("smoke");
    let mut client = Client::connect(&daemon.path).await;
    let session = client.hello(ClientConfig::new()).await.unwrap();
    assert_eq!(session.max_frame_len, DEFAULT_MAX_FRAME_LEN);
    assert!(session.pid >= 1);
    let stats = client.node_stats().await;
    assert_eq!(stats.processes, 1);
    drop(client);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_smaller_frame_limit_is_negotiated_and_every_client_gets_its_own_pid() {
    let daemon = TestDaemon::start("negotiate");
    let mut first = Client::connect(&daemon.path).await;
    let session = first
        .hello(ClientConfig::new().with_max_frame_len(8192))
        .await
        .unwrap();
    assert_eq!(session.max_frame_len, 8192);
    let second = daemon.client().await;
    assert_ne!(first.pid, second.pid);
    drop((first, second));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sent_by_one_connection_is_received_by_another() {
    let daemon = TestDaemon::start("send-recv");
    let mut alice = daemon.client().await;
    let mut bob = daemon.client().await;

    let waiting = bob.request(&recv(Selector::Any)).await;
    assert_eq!(
        alice.call(&send_to(bob.pid, "hello bob")).await,
        Response::Sent { receiver: None }
    );
    let Response::Received { branch, message } = bob.response(waiting).await else {
        panic!("expected a message")
    };
    assert_eq!(branch, 0);
    assert_eq!(message.sender, alice.pid);
    assert_eq!(message.message.payload.as_ref(), b"hello bob");

    // Queued first, received later works too.
    alice.call(&send_to(bob.pid, "second")).await;
    let Response::Received { message, .. } = bob.call(&recv(Selector::From(alice.pid))).await
    else {
        panic!("expected a message")
    };
    assert_eq!(message.message.payload.as_ref(), b"second");
    drop((alice, bob));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_recv_does_not_hold_up_requests_behind_it_on_the_same_connection() {
    let daemon = TestDaemon::start("in-flight");
    let mut alice = daemon.client().await;
    let mut bob = daemon.client().await;

    // Alice waits for Bob, then — on the same connection — sends to Bob and asks for stats.
    let waiting = alice.request(&recv(Selector::From(bob.pid))).await;
    let sent = alice.request(&send_to(bob.pid, "not blocked")).await;
    assert_eq!(
        alice.response(sent).await,
        Response::Sent { receiver: None }
    );
    let stats = alice.request(&Request::NodeStats).await;
    assert!(matches!(
        alice.response(stats).await,
        Response::NodeStats(_)
    ));

    let Response::Received { message, .. } = bob.call(&recv(Selector::Any)).await else {
        panic!("bob gets alice's message")
    };
    assert_eq!(message.message.payload.as_ref(), b"not blocked");

    // Bob answers; Alice's first request completes last.
    bob.call(&send_to(alice.pid, "reply")).await;
    let Response::Received { message, .. } = alice.response(waiting).await else {
        panic!("the blocked recv completes")
    };
    assert_eq!(
        (message.sender, message.message.payload.as_ref()),
        (bob.pid, &b"reply"[..])
    );
    drop((alice, bob));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_pipelined_in_one_write_are_all_answered_in_order() {
    // More frames in one write than the daemon carries out per batch, so several batches.
    const COUNT: u64 = 150;
    let daemon = TestDaemon::start("pipelined");
    let mut alice = daemon.client().await;
    let mut frames = Vec::new();
    for n in 1..=COUNT {
        let payload = format!("message {n}");
        let send = Request::Send {
            target: postbox_wire::Target::Process(alice.pid),
            message: Message::new(payload),
            delivery: Delivery::Queued,
            wait: Wait::Block,
        };
        frames.push(postbox_wire::Frame::request(
            postbox_wire::RequestId::new(n).unwrap(),
            postbox_wire::encode_request(&send),
        ));
    }
    for n in 1..=COUNT {
        frames.push(postbox_wire::Frame::request(
            postbox_wire::RequestId::new(COUNT + n).unwrap(),
            postbox_wire::encode_request(&recv(Selector::Any)),
        ));
    }
    alice.send_all(&frames).await;
    for n in 1..=COUNT {
        let id = postbox_wire::RequestId::new(n).unwrap();
        assert_eq!(alice.response(id).await, Response::Sent { receiver: None });
    }
    for n in 1..=COUNT {
        let id = postbox_wire::RequestId::new(COUNT + n).unwrap();
        let Response::Received { message, .. } = alice.response(id).await else {
            panic!("receive {n} gets a message")
        };
        assert_eq!(message.message.payload, format!("message {n}").as_bytes());
    }
    drop(alice);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_withdraws_a_blocked_recv_which_is_answered_timeout() {
    let daemon = TestDaemon::start("cancel");
    let mut client = daemon.client().await;
    let waiting = client.request(&recv(Selector::Any)).await;
    client.send(&postbox_wire::Frame::cancel(waiting)).await;
    let Response::RecvFailed(error) = client.response(waiting).await else {
        panic!("a cancelled recv fails")
    };
    assert_eq!(error.error, RecvError::Timeout);

    // A second cancel of the same id (no longer in flight) is ignored; the connection goes on.
    client.send(&postbox_wire::Frame::cancel(waiting)).await;
    assert_eq!(client.node_stats().await.processes, 1);

    // The withdrawn recv no longer waits: a message sent now stays queued.
    let mut other = daemon.client().await;
    other.call(&send_to(client.pid, "queued")).await;
    let probe = Request::Recv {
        branches: vec![postbox_core::Branch::new(
            postbox_core::Source::Inbox,
            Selector::Any,
        )],
        wait: Wait::Try,
    };
    assert!(matches!(
        client.call(&probe).await,
        Response::Received { .. }
    ));
    drop((client, other));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_runs_with_the_uid_the_socket_reports() {
    let daemon = TestDaemon::start("creds");
    let mut client = daemon.client().await;
    let Response::Processes(processes) = client.call(&Request::ListProcesses).await else {
        panic!("a process list")
    };
    let me = processes
        .iter()
        .find(|p| p.pid == client.pid)
        .expect("the client's process is listed");
    assert_eq!((me.uid, me.gid), own_ids());
    drop(client);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_connection_wakes_a_peer_waiting_on_it_with_peer_gone() {
    let daemon = TestDaemon::start("drop");
    let doomed = daemon.client().await;
    let mut waiter = daemon.client().await;
    let waiting = waiter.request(&recv(Selector::From(doomed.pid))).await;
    // The recv is registered once a later request on the same connection is answered.
    assert_eq!(waiter.node_stats().await.processes, 2);

    drop(doomed);
    let Response::RecvFailed(error) = waiter.response(waiting).await else {
        panic!("the waiter is told")
    };
    assert_eq!(error.error, RecvError::PeerGone);
    assert_eq!(waiter.node_stats().await.processes, 1);
    drop(waiter);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_client_with_sigkill_terminates_its_process_at_once() {
    use std::os::fd::OwnedFd;
    use std::process::{Command, Stdio};

    let daemon = TestDaemon::start("kill");
    let victim = daemon.client().await;
    let victim_pid = victim.pid;
    let mut waiter = daemon.client().await;
    let waiting = waiter.request(&recv(Selector::From(victim_pid))).await;
    assert_eq!(waiter.node_stats().await.processes, 2);

    // Hand the victim's socket to a child process as its stdin, keep no copy here, kill -9 it.
    let stream = victim.into_stream().into_std().unwrap();
    let mut child = Command::new("sleep")
        .arg("30")
        .stdin(Stdio::from(OwnedFd::from(stream)))
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn sleep");
    let killed = Instant::now();
    child.kill().unwrap();
    let Response::RecvFailed(error) = waiter.response(waiting).await else {
        panic!("the waiter is told")
    };
    let elapsed = killed.elapsed();
    child.wait().unwrap();
    assert_eq!(error.error, RecvError::PeerGone);
    assert!(
        elapsed < Duration::from_millis(100),
        "the waiter learned of the kill after {elapsed:?}"
    );
    drop(waiter);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_from_the_client_terminates_its_process_without_an_answer() {
    let daemon = TestDaemon::start("close");
    let mut leaving = daemon.client().await;
    let mut observer = daemon.client().await;
    let _abandoned = leaving.request(&recv(Selector::Any)).await;
    leaving.send(&postbox_wire::Frame::close()).await;
    leaving.expect_end().await;
    observer.wait_for_processes(1).await;
    drop((leaving, observer));
    daemon.stop().await;
}

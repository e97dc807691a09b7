//! A producer's send whose answer is lost: the daemon carried the send out, the fault proxy
//! dropped the answer and then cut the connection. The producer reconnects and sends again under
//! the same number; the mailbox must hold the message exactly once, and count the retry as a
//! duplicate dropped.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use postbox::{Mailbox, Producer, Retry};
use postbox_chaos::{Cut, Direction, Fault, FaultProxy};
use postbox_daemon::{Daemon, DaemonConfig, TcpListen};
use postbox_wire::Token;

/// How long anything may take before the test gives up on it.
const PATIENCE: Duration = Duration::from_secs(30);

const TOKEN: &[u8] = b"producer-test-token";

/// A daemon on a runtime of its own: a Unix socket in a fresh directory, and TCP on a free port.
struct HostedDaemon {
    socket: std::path::PathBuf,
    tcp: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl HostedDaemon {
    fn start() -> HostedDaemon {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("postbox.sock");
        let tcp = TcpListen::new(
            "127.0.0.1:0".parse().unwrap(),
            Token::new(TOKEN.to_vec()).unwrap(),
        );
        let config = DaemonConfig::new().with_socket_path(&socket).with_tcp(tcp);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready, bound) = mpsc::channel();
        let thread = thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let daemon = Daemon::bind(config).unwrap();
                ready.send(daemon.local_tcp_addr().unwrap()).unwrap();
                let shutdown = async {
                    let _ = stopped.await;
                };
                daemon.serve(shutdown).await.unwrap();
            });
        });
        let tcp = bound.recv().expect("the daemon binds its listeners");
        HostedDaemon {
            socket,
            tcp,
            stop: Some(stop),
            thread: Some(thread),
            _dir: dir,
        }
    }

    fn unix_url(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

impl Drop for HostedDaemon {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Polls `check` until it holds, within [`PATIENCE`].
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "never {what}");
        thread::sleep(Duration::from_millis(2));
    }
}

fn queued(mailbox: &Mailbox) -> usize {
    mailbox.stat().expect("stat").messages
}

#[test]
fn a_send_whose_answer_was_lost_is_retried_and_arrives_exactly_once() {
    let daemon = HostedDaemon::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let proxy = {
        let _inside = runtime.enter();
        FaultProxy::start(daemon.tcp).unwrap()
    };
    let owner = postbox::connect(&daemon.unix_url()).unwrap();
    let jobs = owner.mailbox("jobs").create().unwrap();

    let retry = Retry {
        first_pause: Duration::from_millis(1),
        ..Retry::default()
    };
    let mut producer = Producer::builder(&format!("tcp://{}", proxy.address()), "jobs")
        .token(TOKEN)
        .retry(retry)
        .connect()
        .unwrap();
    producer.send("one").unwrap();

    // The answer to the next send is dropped on its way back: the daemon has the message, the
    // producer does not know it.
    proxy.inject(Fault::Drop(Direction::Downstream));
    let sender = thread::spawn(move || {
        let sent = producer.send("two");
        (sent, producer)
    });
    eventually("the second message arrived", || queued(&jobs) == 2);
    eventually("the answer was dropped", || proxy.counts().drops == 1);
    // Now the connection breaks: the send's answer is lost for good.
    proxy.inject(Fault::Cut(Cut::Reset));

    let (sent, producer) = sender.join().unwrap();
    sent.expect("the producer retried over a new connection and was answered");
    assert!(
        proxy.counts().connections >= 2,
        "it reconnected: {}",
        proxy.counts()
    );
    let stats = jobs.stat().unwrap();
    assert_eq!(stats.messages, 2, "exactly once: {stats:?}");
    assert_eq!(stats.duplicates_dropped, 1, "{stats:?}");
    assert_eq!(stats.total_sent, 2);
    let payloads: Vec<_> = (0..2)
        .map(|_| jobs.try_recv().unwrap().message.payload)
        .collect();
    assert_eq!(payloads, [&b"one"[..], &b"two"[..]]);
    assert_eq!(producer.next_seq(), 3, "the retry kept its number");
}

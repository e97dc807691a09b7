//! Shared by the daemon's tests: a daemon on a unique socket in a fresh temporary directory, and
//! a raw client speaking the protocol through `postbox_wire`'s session and codec (not the
//! `postbox` library).

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use postbox_core::{Branch, EngineStats, Pid, Selector, Source, Wait};
use postbox_daemon::{Daemon, DaemonConfig, DaemonError};
use postbox_wire::{
    ClientConfig, ClientEvent, ClientSession, Codec, Ending, ErrorBody, ErrorCode, Frame,
    FrameKind, HandshakeError, Negotiated, Request, RequestFailure, RequestId, Response,
    decode_response, encode_request,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long any single step of a test may take before it counts as hung.
pub const STEP: Duration = Duration::from_secs(10);

/// A fresh directory under the system's temporary directory, unique to this test run.
pub fn unique_dir(name: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("pbd-{}-{name}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A configuration listening on `dir/postbox.sock`.
pub fn config_in(dir: &Path) -> DaemonConfig {
    DaemonConfig::new().with_socket_path(dir.join("postbox.sock"))
}

/// A daemon serving in this test's runtime until [`TestDaemon::stop`].
pub struct TestDaemon {
    pub path: PathBuf,
    pub dir: PathBuf,
    pub tcp: Option<std::net::SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), DaemonError>>>,
}

impl TestDaemon {
    /// A daemon with the default configuration in a fresh directory.
    pub fn start(name: &str) -> TestDaemon {
        TestDaemon::start_with(name, |config| config)
    }

    /// A daemon in a fresh directory, with the configuration adjusted by `adjust`.
    pub fn start_with(name: &str, adjust: impl FnOnce(DaemonConfig) -> DaemonConfig) -> TestDaemon {
        let dir = unique_dir(name);
        let config = adjust(config_in(&dir));
        let daemon = Daemon::bind(config).expect("the daemon binds");
        let path = daemon.socket_path().to_owned();
        let tcp = daemon.local_tcp_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(daemon.serve(async {
            let _ = stopped.await;
        }));
        TestDaemon {
            path,
            dir,
            tcp,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// A client connected and through the handshake.
    pub async fn client(&self) -> Client<UnixStream> {
        let mut client = Client::connect(&self.path).await;
        client.hello(ClientConfig::new()).await.expect("handshake");
        client
    }

    /// Starts the shutdown without waiting for it.
    pub fn begin_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits for `serve` to return, which it must do with `Ok`.
    pub async fn join(&mut self) {
        let task = self.task.take().expect("not joined yet");
        let result = tokio::time::timeout(STEP, task)
            .await
            .expect("serve returns after shutdown")
            .expect("serve does not panic");
        result.expect("serve returns Ok");
    }

    /// Shuts the daemon down, checks it stopped cleanly and removed its socket, and removes the
    /// directory.
    pub async fn stop(mut self) {
        self.begin_stop();
        self.join().await;
        assert!(
            !self.path.exists(),
            "the socket file is removed on shutdown"
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        // A failed test still stops its daemon (the runtime then cancels the task).
        if let Some(task) = &self.task {
            task.abort();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A raw protocol client.
///
/// The ordinary conversation — the handshake, request ids, matching each answer to its request —
/// is a [`ClientSession`] that this client drives: it writes what the session transmits and hands
/// it what it reads.
///
/// Tests that step outside the protocol have a raw path: [`Client::send_all`],
/// [`Client::write_raw`] and [`Client::send`] (of anything but a `Cancel`) write frames or bytes
/// as they are, which a session would refuse to produce; [`Client::next_frame`] and
/// [`Client::expect_end`] read the daemon's frames as they are. Either way the session could no
/// longer account for the conversation, so the client leaves it: every later read is raw,
/// starting with what the session had received and not yet decoded. Reads are raw before [`Client::hello`] and
/// after the session has ended, too.
pub struct Client<S> {
    stream: S,
    /// The conversation, from a successful `hello` until it ends or the test leaves it.
    session: Option<ClientSession>,
    /// The raw path: bytes read and not yet decoded, and the codec of the negotiated limits.
    buffer: BytesMut,
    codec: Codec,
    /// The pid the daemon assigned, after the handshake.
    pub pid: Pid,
}

impl Client<UnixStream> {
    /// Connects without a handshake.
    pub async fn connect(path: &Path) -> Client<UnixStream> {
        Client::new(UnixStream::connect(path).await.expect("connect"))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// A client on a connected stream, before the handshake.
    pub fn new(stream: S) -> Client<S> {
        Client {
            stream,
            session: None,
            buffer: BytesMut::new(),
            codec: Codec::default(),
            pid: Pid::from_raw(0),
        }
    }

    /// Runs the client's side of the handshake, in a new session.
    pub async fn hello(&mut self, config: ClientConfig) -> Result<Negotiated, HandshakeError> {
        let mut session = ClientSession::new(config);
        session.handle_input(&mut self.buffer);
        self.session = Some(session);
        match self.next_event().await {
            ClientEvent::Connected(negotiated) => {
                self.codec.set_config(negotiated.frame_config());
                self.pid = Pid::from_raw(negotiated.pid);
                Ok(negotiated)
            }
            ClientEvent::Ended(Ending::Handshake(error)) => Err(error),
            other => panic!("the handshake ended with {other:?}"),
        }
    }

    /// The session's next event: writes what it has to send, reads until it has something to
    /// say. After [`ClientEvent::Ended`], the client reads raw frames.
    ///
    /// # Panics
    ///
    /// Outside the session, or if nothing happens within [`STEP`].
    async fn next_event(&mut self) -> ClientEvent {
        let Client {
            stream, session, ..
        } = self;
        let session = session.as_mut().expect("in the session");
        let next = async {
            loop {
                let event = session.poll_event();
                let output = session.transmit().split();
                // A failed write does not end the conversation: a daemon that refuses a
                // connection at `accept` writes why and closes at once, so a `Hello` written
                // after that fails while the refusal waits to be read. The reads tell how the
                // conversation ended.
                if !output.is_empty() {
                    let _ = stream.write_all(&output).await;
                }
                if let Some(event) = event {
                    return event;
                }
                match stream.read_buf(session.read_buffer()).await {
                    Ok(0) | Err(_) => session.handle_end(),
                    Ok(_) => {}
                }
            }
        };
        let event = tokio::time::timeout(STEP, next)
            .await
            .expect("the daemon answers in time");
        if matches!(event, ClientEvent::Ended(_)) {
            self.leave_session();
        }
        event
    }

    /// Writes what the session has queued.
    async fn flush(&mut self) {
        if let Some(session) = &mut self.session {
            let output = session.transmit().split();
            self.stream.write_all(&output).await.expect("write");
        }
    }

    /// Goes on without the session: what it had received and not yet decoded is read raw.
    fn leave_session(&mut self) {
        if let Some(mut session) = self.session.take() {
            assert!(
                self.buffer.is_empty(),
                "raw bytes are read only outside the session"
            );
            self.buffer = session.read_buffer().split();
        }
    }

    /// Writes one frame as it is. A `Cancel` stays in the session: for a request in flight the
    /// session sends it (the same frame), and any other asks nothing of the daemon. Any other
    /// frame leaves the session.
    pub async fn send(&mut self, frame: &Frame) {
        if frame.kind() == FrameKind::Cancel
            && let Some(id) = frame.request_id()
            && let Some(session) = &mut self.session
        {
            session.cancel(id);
            if !session.transmit().is_empty() {
                return self.flush().await;
            }
        } else {
            self.leave_session();
        }
        self.write_frames(std::slice::from_ref(frame)).await;
    }

    /// Writes `frames` in one write, as a pipelining client does. Leaves the session.
    pub async fn send_all(&mut self, frames: &[Frame]) {
        self.leave_session();
        self.write_frames(frames).await;
    }

    /// Writes `frames` as they are, in one write.
    async fn write_frames(&mut self, frames: &[Frame]) {
        let mut bytes = BytesMut::new();
        for frame in frames {
            self.codec.encode(frame, &mut bytes).expect("encodable");
        }
        self.stream.write_all(&bytes).await.expect("write");
    }

    /// Writes raw bytes. Leaves the session.
    pub async fn write_raw(&mut self, bytes: &[u8]) {
        self.try_write_raw(bytes).await.expect("write");
    }

    /// Tries to write raw bytes (the daemon may already have closed). Leaves the session.
    pub async fn try_write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.leave_session();
        self.stream.write_all(bytes).await
    }

    /// Closes the write half.
    pub async fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown().await;
    }

    /// Sends `request` under the session's next id.
    ///
    /// # Panics
    ///
    /// Outside the session: before `hello`, or once the test has left it (a hand-made request
    /// goes through [`Client::send`]).
    pub async fn request(&mut self, request: &Request) -> RequestId {
        let session = self
            .session
            .as_mut()
            .expect("requests go through the session: after hello, before any raw frame");
        let id = session
            .request(request, None)
            .expect("the session sends the request");
        self.flush().await;
        id
    }

    /// Sends `request` under `id`, a frame made by hand. Leaves the session.
    pub async fn request_with(&mut self, id: RequestId, request: &Request) {
        self.send(&Frame::request(id, encode_request(request)))
            .await;
    }

    /// The next frame as the daemon sent it, or `None` at the end of the stream (or a reset).
    /// Leaves the session.
    ///
    /// # Panics
    ///
    /// If nothing arrives within [`STEP`], or the bytes are not valid frames.
    pub async fn next_frame(&mut self) -> Option<Frame> {
        self.leave_session();
        let read = async {
            loop {
                if let Some(frame) = self.codec.decode(&mut self.buffer).expect("valid frames") {
                    return Some(frame);
                }
                match self.stream.read_buf(&mut self.buffer).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
            }
        };
        tokio::time::timeout(STEP, read)
            .await
            .expect("the daemon answers in time")
    }

    /// The response to `id`, which must be the next thing the daemon says.
    pub async fn response(&mut self, id: RequestId) -> Response {
        if self.session.is_none() {
            let frame = self.next_frame().await.expect("a frame, not the end");
            assert_eq!(
                (frame.kind(), frame.request_id()),
                (FrameKind::Response, Some(id)),
                "{frame:?}"
            );
            return decode_response(frame.payload()).expect("a valid response");
        }
        match self.next_event().await {
            ClientEvent::Answer {
                id: answered,
                result: Ok(response),
            } if answered == id => response,
            other => panic!("expected the response to request {id}, got {other:?}"),
        }
    }

    /// The next thing the daemon says, which must be an `Error`; its request id and body.
    ///
    /// In the session, a `SHUTTING_DOWN` refusal of a request comes without its message (the
    /// session keeps only that the server is shutting down), so its body here has a stand-in.
    pub async fn error(&mut self) -> (Option<RequestId>, ErrorBody) {
        if self.session.is_none() {
            let frame = self.next_frame().await.expect("a frame, not the end");
            assert_eq!(frame.kind(), FrameKind::Error, "{frame:?}");
            let body = ErrorBody::decode(frame.payload()).expect("a valid error body");
            return (frame.request_id(), body);
        }
        match self.next_event().await {
            ClientEvent::Answer {
                id,
                result: Err(RequestFailure::Refused(body)),
            } => (Some(id), body),
            ClientEvent::Answer {
                id,
                result: Err(RequestFailure::ShuttingDown),
            } => (
                Some(id),
                ErrorBody::new(ErrorCode::SHUTTING_DOWN, "the server is shutting down"),
            ),
            ClientEvent::Ended(Ending::PeerError(body)) => (None, body),
            other => panic!("expected an Error, got {other:?}"),
        }
    }

    /// Sends `request` and waits for its answer (nothing else may arrive in between).
    pub async fn call(&mut self, request: &Request) -> Response {
        let id = self.request(request).await;
        self.response(id).await
    }

    /// The daemon's node statistics.
    pub async fn node_stats(&mut self) -> EngineStats {
        match self.call(&Request::NodeStats).await {
            Response::NodeStats(stats) => stats,
            other => panic!("{other:?}"),
        }
    }

    /// Polls the daemon's process count until it is `n`, for at most [`STEP`].
    pub async fn wait_for_processes(&mut self, n: usize) {
        let deadline = Instant::now() + STEP;
        loop {
            let processes = self.node_stats().await.processes;
            if processes == n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon still has {processes} processes, not {n}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The stream, for tests that hand it elsewhere.
    pub fn into_stream(self) -> S {
        self.stream
    }

    /// Asserts that the daemon closes the stream without sending anything more. Leaves the
    /// session.
    pub async fn expect_end(&mut self) {
        if let Some(frame) = self.next_frame().await {
            panic!("expected the end of the stream, got {frame:?}");
        }
    }
}

/// A blocking receive from this process's inbox.
pub fn recv(selector: Selector) -> Request {
    Request::Recv {
        branches: vec![Branch::new(Source::Inbox, selector)],
        wait: Wait::Block,
    }
}

/// This test process's uid and gid, as the kernel sees them.
pub fn own_ids() -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata("/proc/self").expect("/proc/self");
    (meta.uid(), meta.gid())
}

/// Raises this test process's open-file limit (the soft one, up to the hard one) so that
/// `wanted` descriptors fit, for tests that hold thousands of sockets. Returns the limit now in
/// force; the test checks that it is enough.
pub fn raise_fd_limit(wanted: u64) -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let current = limit.current.unwrap_or(u64::MAX);
    if current >= wanted {
        return current;
    }
    let raised = limit.maximum.map_or(wanted, |hard| hard.min(wanted));
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(raised),
            maximum: limit.maximum,
        },
    );
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

//! Shared by the daemon's tests: a daemon on a unique socket in a fresh temporary directory, and
//! a raw client speaking the protocol through `postbox_wire`'s codec (not the `postbox` library).

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use postbox_core::{Branch, EngineStats, Pid, Selector, Source, Wait};
use postbox_daemon::{Daemon, DaemonConfig, DaemonError};
use postbox_wire::{
    ClientConfig, ClientHandshake, ErrorBody, Frame, FrameDecoder, FrameEncoder, FrameKind,
    HandshakeError, Negotiated, Request, RequestId, Response, decode_response, encode_request,
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
pub struct Client<S> {
    stream: S,
    buffer: BytesMut,
    decoder: FrameDecoder,
    encoder: FrameEncoder,
    next_id: u64,
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
            buffer: BytesMut::new(),
            decoder: FrameDecoder::default(),
            encoder: FrameEncoder::default(),
            next_id: 1,
            pid: Pid::from_raw(0),
        }
    }

    /// Runs the client's side of the handshake.
    pub async fn hello(&mut self, config: ClientConfig) -> Result<Negotiated, HandshakeError> {
        let mut handshake = ClientHandshake::new(config);
        while let Some(frame) = handshake.poll_transmit() {
            self.send(&frame).await;
        }
        let answer = self.next_frame().await.ok_or(HandshakeError::Closed)?;
        let session = handshake.handle_frame(answer)?;
        self.decoder.set_config(session.frame_config());
        self.encoder.set_config(session.frame_config());
        self.pid = Pid::from_raw(session.pid);
        Ok(session)
    }

    /// Writes one frame.
    pub async fn send(&mut self, frame: &Frame) {
        let mut bytes = BytesMut::new();
        self.encoder.encode(frame, &mut bytes).expect("encodable");
        self.write_raw(&bytes).await;
    }

    /// Writes `frames` in one write, as a pipelining client does.
    pub async fn send_all(&mut self, frames: &[Frame]) {
        let mut bytes = BytesMut::new();
        for frame in frames {
            self.encoder.encode(frame, &mut bytes).expect("encodable");
        }
        self.write_raw(&bytes).await;
    }

    /// Writes raw bytes.
    pub async fn write_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Tries to write raw bytes (the daemon may already have closed).
    pub async fn try_write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Closes the write half.
    pub async fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown().await;
    }

    /// Sends `request` under a fresh id.
    pub async fn request(&mut self, request: &Request) -> RequestId {
        let id = RequestId::new(self.next_id).expect("non-zero");
        self.next_id += 1;
        self.request_with(id, request).await;
        id
    }

    /// Sends `request` under `id`.
    pub async fn request_with(&mut self, id: RequestId, request: &Request) {
        self.send(&Frame::request(id, encode_request(request)))
            .await;
    }

    /// The next frame, or `None` at the end of the stream (or a reset).
    ///
    /// # Panics
    ///
    /// If nothing arrives within [`STEP`], or the bytes are not valid frames.
    pub async fn next_frame(&mut self) -> Option<Frame> {
        let read = async {
            loop {
                if let Some(frame) = self.decoder.decode(&mut self.buffer).expect("valid frames") {
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

    /// The next frame, which must be the `Response` to `id`.
    pub async fn response(&mut self, id: RequestId) -> Response {
        let frame = self.next_frame().await.expect("a frame, not the end");
        assert_eq!(
            (frame.kind(), frame.request_id()),
            (FrameKind::Response, Some(id)),
            "{frame:?}"
        );
        decode_response(frame.payload()).expect("a valid response")
    }

    /// The next frame, which must be an `Error`; its request id and body.
    pub async fn error(&mut self) -> (Option<RequestId>, ErrorBody) {
        let frame = self.next_frame().await.expect("a frame, not the end");
        assert_eq!(frame.kind(), FrameKind::Error, "{frame:?}");
        let body = ErrorBody::decode(frame.payload()).expect("a valid error body");
        (frame.request_id(), body)
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

    /// Asserts that the daemon closes the stream without sending anything more.
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

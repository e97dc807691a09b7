//! Hostile input: a thousand malformed frames and a thousand random byte streams, each on its own
//! connection, as fast as the daemon takes them, while a well-behaved client keeps working.
//!
//! This file holds a single test, so that it can count the test process's open file descriptors:
//! every connection the daemon accepted must be closed again.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use common::{Client, STEP, TestDaemon, recv};
use postbox_core::{Delivery, Message, Selector, Wait};
use postbox_wire::{
    ClientConfig, ErrorCode, Frame, FrameEncoder, FrameKind, HEADER_LEN, RequestId, Response,
    Target,
};
use tokio::task::JoinSet;

const MALFORMED: u64 = 1000;
const RANDOM: u64 = 1000;
const PARALLEL: usize = 32;

/// xorshift64*: deterministic, so a failure can be replayed from its index.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn id(raw: u64) -> RequestId {
    RequestId::new(raw).unwrap()
}

fn encoded(frame: &Frame) -> BytesMut {
    let mut bytes = BytesMut::new();
    FrameEncoder::default().encode(frame, &mut bytes).unwrap();
    bytes
}

/// What the daemon must answer to one malformed input.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// An `Error` with id 0 and this code, then the end of the stream.
    ErrorThenEnd(ErrorCode),
    /// An `Error` with this code for request 1; the connection stays open.
    RequestError(ErrorCode),
    /// The end of the stream, nothing else.
    End,
}

/// One malformed input: whether to handshake first, the bytes, and the daemon's answer.
fn malformed(index: u64) -> (bool, Vec<u8>, Expect) {
    let mut rng = Rng::new(index);
    // A payload no request decodes from: postcard variant 200 does not exist.
    let mut garbage = rng.bytes(8);
    garbage[0] = 200;
    let request = encoded(&Frame::request(id(1), garbage));
    let header_patch = |offset: usize, value: &[u8]| {
        let mut bytes = request.clone();
        bytes[offset..offset + value.len()].copy_from_slice(value);
        bytes.to_vec()
    };
    use ErrorCode as C;
    use Expect::*;
    let session = rng.below(2) == 0;
    match index % 12 {
        0 => {
            let len = 1 + rng.below(64) as usize;
            let mut bytes = rng.bytes(len);
            bytes[0] = b'Q';
            (session, bytes, ErrorThenEnd(C::MALFORMED_FRAME))
        }
        1 => {
            let mut bytes = request.to_vec();
            let at = rng.below(bytes.len() as u64) as usize;
            // Any flipped bit in the payload or the checksum itself is a checksum mismatch.
            let at = at.max(18);
            bytes[at] ^= 1 << rng.below(8);
            (session, bytes, ErrorThenEnd(C::BAD_CHECKSUM))
        }
        2 => {
            let kind = [0u8, 9, 42, 255][rng.below(4) as usize];
            (
                session,
                header_patch(3, &[kind]),
                ErrorThenEnd(C::MALFORMED_FRAME),
            )
        }
        3 => {
            let flags = (1 + rng.below(u16::MAX as u64)) as u16;
            (
                session,
                header_patch(4, &flags.to_le_bytes()),
                ErrorThenEnd(C::MALFORMED_FRAME),
            )
        }
        4 => (
            session,
            header_patch(2, &[2 + rng.below(250) as u8]),
            ErrorThenEnd(C::UNSUPPORTED_VERSION),
        ),
        5 => {
            let len = (1 << 20) + 1 + rng.below(1 << 30) as u32;
            (
                session,
                header_patch(14, &len.to_le_bytes())[..HEADER_LEN].to_vec(),
                ErrorThenEnd(C::FRAME_TOO_LARGE),
            )
        }
        6 => (
            session,
            header_patch(6, &[0; 8]),
            ErrorThenEnd(C::MALFORMED_FRAME),
        ),
        7 => {
            // A well-formed frame whose payload is no request: refused for that request only.
            (true, request.to_vec(), RequestError(C::MALFORMED_PAYLOAD))
        }
        8 => {
            // The same id twice while the first waits.
            let wait = postbox_wire::encode_request(&recv(Selector::Any));
            let mut bytes = encoded(&Frame::request(id(1), wait.clone()));
            bytes.extend_from_slice(&encoded(&Frame::request(id(1), wait)));
            (true, bytes.to_vec(), ErrorThenEnd(C::PROTOCOL_VIOLATION))
        }
        9 => {
            let kind = [
                FrameKind::Response,
                FrameKind::Event,
                FrameKind::Welcome,
                FrameKind::Hello,
            ][rng.below(4) as usize];
            let raw = match kind {
                FrameKind::Welcome | FrameKind::Hello => 0,
                _ => 1 + rng.below(100),
            };
            let frame = Frame::new(kind, raw, rng.bytes(4)).unwrap();
            (
                true,
                encoded(&frame).to_vec(),
                ErrorThenEnd(C::PROTOCOL_VIOLATION),
            )
        }
        10 => {
            // Before the handshake: anything but a Hello, or a Hello that cannot be read.
            if rng.below(2) == 0 {
                (false, request.to_vec(), ErrorThenEnd(C::PROTOCOL_VIOLATION))
            } else {
                let hello = Frame::new(FrameKind::Hello, 0, vec![0u8]).unwrap();
                (
                    false,
                    encoded(&hello).to_vec(),
                    ErrorThenEnd(C::MALFORMED_PAYLOAD),
                )
            }
        }
        _ => {
            // A frame cut short, then the end of the stream.
            let cut = 1 + rng.below(request.len() as u64 - 1) as usize;
            (session, request[..cut].to_vec(), End)
        }
    }
}

/// Sends one malformed input on a fresh connection and checks the daemon's answer.
async fn attack(path: std::path::PathBuf, index: u64) {
    let (session, bytes, expect) = malformed(index);
    let mut client = Client::connect(&path).await;
    if session {
        client.hello(ClientConfig::new()).await.unwrap();
    }
    // The daemon may close before reading everything; a failed write is part of the game.
    let _ = client.try_write_raw(&bytes).await;
    if expect == Expect::End {
        client.shutdown_write().await;
    }
    match expect {
        Expect::ErrorThenEnd(code) => {
            let (request, body) = client.error().await;
            assert_eq!(
                (request, body.code()),
                (None, code),
                "input {index}: {body}"
            );
            client.expect_end().await;
        }
        Expect::RequestError(code) => {
            let (request, body) = client.error().await;
            assert_eq!(
                (request, body.code()),
                (Some(id(1)), code),
                "input {index}: {body}"
            );
            // Still open: a good request is answered.
            let stats = postbox_wire::encode_request(&postbox_wire::Request::NodeStats);
            client.send(&Frame::request(id(2), stats)).await;
            assert!(matches!(
                client.response(id(2)).await,
                Response::NodeStats(_)
            ));
        }
        Expect::End => client.expect_end().await,
    }
}

/// Sends random bytes (half of them after a plausible header start) and reads until the end.
async fn noise(path: std::path::PathBuf, index: u64) {
    let mut rng = Rng::new(1_000_000 + index);
    let len = 1 + rng.below(4096) as usize;
    let mut bytes = rng.bytes(len);
    if index % 2 == 0 && len >= 3 {
        bytes[..3].copy_from_slice(&[b'P', b'B', 1]);
    }
    let mut client = Client::connect(&path).await;
    let _ = client.try_write_raw(&bytes).await;
    client.shutdown_write().await;
    while let Some(frame) = client.next_frame().await {
        assert_eq!(frame.kind(), FrameKind::Error, "input {index}: {frame:?}");
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_frames_and_random_bytes_never_hurt_the_daemon_or_other_clients() {
    let daemon = TestDaemon::start("hostile");
    let mut good = daemon.client().await;
    let baseline = good.node_stats().await.processes;
    assert_eq!(baseline, 1);
    let fds_before = open_fds();

    // A well-behaved client keeps talking to itself throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicU64::new(0));
    let mut steady = daemon.client().await;
    let steady_task = tokio::spawn({
        let (stop, rounds) = (stop.clone(), rounds.clone());
        async move {
            while !stop.load(Ordering::Relaxed) {
                let send = postbox_wire::Request::Send {
                    target: Target::Process(steady.pid),
                    message: Message::new("still here"),
                    delivery: Delivery::Queued,
                    wait: Wait::Block,
                };
                assert_eq!(steady.call(&send).await, Response::Sent { receiver: None });
                let Response::Received { message, .. } = steady.call(&recv(Selector::Any)).await
                else {
                    panic!("the steady client gets its message")
                };
                assert_eq!(message.message.payload.as_ref(), b"still here");
                rounds.fetch_add(1, Ordering::Relaxed);
            }
            steady
        }
    });

    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for index in 0..MALFORMED + RANDOM {
        if tasks.len() >= PARALLEL {
            tasks
                .join_next()
                .await
                .unwrap()
                .expect("input handled as expected");
        }
        let path = daemon.path.clone();
        if index < MALFORMED {
            tasks.spawn(attack(path, index));
        } else {
            tasks.spawn(noise(path, index - MALFORMED));
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("input handled as expected");
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed < STEP * 6,
        "2000 hostile connections took {elapsed:?}"
    );

    stop.store(true, Ordering::Relaxed);
    let steady = steady_task.await.expect("the steady client never failed");
    assert!(rounds.load(Ordering::Relaxed) > 0);
    drop(steady);

    // Every hostile connection's process is gone, and so is every socket.
    good.wait_for_processes(baseline).await;
    let deadline = Instant::now() + STEP;
    loop {
        let fds = open_fds();
        // The steady client's two ends are gone now, so the count is at most the baseline.
        if fds <= fds_before {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{fds} descriptors open, {fds_before} before"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(matches!(
        good.call(&postbox_wire::Request::NodeStats).await,
        Response::NodeStats(_)
    ));
    drop(good);
    daemon.stop().await;
}

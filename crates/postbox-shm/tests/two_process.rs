//! A ring shared by two processes: the memfd passed by `SCM_RIGHTS`, a million messages checked
//! for loss, duplication and reordering, and a writer process that really dies mid-write.
//!
//! The child is this test binary again, running the ignored `child` entry with its role and
//! socket in the environment.

// Real memory, threads and processes: not part of the loom build (see tests/loom.rs).
#![cfg(not(loom))]

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use postbox_shm::{Geometry, Meta, PopError, Ring, Segment, SegmentKind, recv_fd, send_fd};

const MESSAGES: u64 = 1_000_000;
const ROLE: &str = "POSTBOX_SHM_TEST_ROLE";
const SOCKET: &str = "POSTBOX_SHM_TEST_SOCKET";
const PID: u64 = 4242;

/// Kills the child when the test ends, however it ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the child in `role`, hands it `segment` and returns the child and the connection.
fn spawn_child(role: &str, segment: &Segment) -> (Reaped, UnixStream, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("child.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, role)
        .env(SOCKET, &path)
        .spawn()
        .unwrap();
    let child = Reaped(child);
    let (stream, _) = listener.accept().unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    send_fd(&stream, segment.fd()).unwrap();
    (child, stream, dir)
}

fn payload(i: u64) -> [u8; 24] {
    let mut bytes = [0u8; 24];
    bytes[..8].copy_from_slice(&i.to_le_bytes());
    bytes[8..16].copy_from_slice(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
    bytes[16..].copy_from_slice(&(!i).to_le_bytes());
    bytes
}

fn ring_segment(capacity: usize) -> Ring<Segment> {
    let geometry = Geometry::new(capacity, 64).unwrap();
    let segment = Segment::create("two-process", SegmentKind::Ring, geometry.bytes()).unwrap();
    Ring::create(segment, geometry).unwrap()
}

#[test]
fn a_million_messages_cross_processes_none_lost_duplicated_or_reordered() {
    let ring = ring_segment(1024);
    let (child, mut stream, _dir) = spawn_child("consume", ring.memory());
    let deadline = Instant::now() + Duration::from_secs(300);
    for i in 0..MESSAGES {
        let meta = Meta {
            sender: PID,
            mtype: (i % 7 + 1) as i64,
            priority: (i % 3) as u16,
            sent_at: 0,
        };
        ring.push(&payload(i), meta, Some(deadline)).unwrap();
    }
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert_eq!(answer, format!("ok {MESSAGES}"));
    drop(child);
    let stats = ring.stats();
    assert_eq!(
        (stats.pushed, stats.popped, stats.queued),
        (MESSAGES, MESSAGES, 0)
    );
}

#[test]
fn a_writer_process_killed_mid_write_leaves_only_a_torn_slot() {
    let ring = ring_segment(16);
    let (mut child, mut stream, _dir) = spawn_child("die-mid-write", ring.memory());
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = child.0.wait().unwrap();
    assert!(
        !status.success(),
        "the child was to abort, it exited with {status}"
    );
    assert_eq!(answer, "claimed");
    // The reader cannot pass the dead writer's slot...
    let deadline = Instant::now() + Duration::from_millis(20);
    assert_eq!(ring.pop(Some(deadline)).unwrap().payload, payload(0));
    assert_eq!(
        ring.pop(Some(Instant::now() + Duration::from_millis(20))),
        Err(PopError::Stalled)
    );
    // ...and the reclaimer recovers everything complete behind it, in order.
    let reclaimed = ring.reclaim().unwrap();
    let got: Vec<Vec<u8>> = reclaimed.messages.into_iter().map(|m| m.payload).collect();
    assert_eq!(got, [payload(2).to_vec(), payload(3).to_vec()]);
    assert_eq!(reclaimed.torn, 1);
}

/// The child's side (run by the tests above in a separate process, never on its own).
#[test]
#[ignore = "the child process of the two-process tests"]
fn child() {
    let stream = UnixStream::connect(std::env::var_os(SOCKET).expect("run by the parent")).unwrap();
    let ring = Ring::attach(Segment::attach(recv_fd(&stream).unwrap()).unwrap()).unwrap();
    let mut stream = stream;
    match std::env::var(ROLE).unwrap().as_str() {
        "consume" => {
            let deadline = Instant::now() + Duration::from_secs(300);
            let mut buf = Vec::new();
            for i in 0..MESSAGES {
                let message = ring.pop(Some(deadline)).unwrap();
                buf.clear();
                buf.extend_from_slice(&message.payload);
                assert_eq!(buf, payload(i), "message {i} lost, duplicated or reordered");
                assert_eq!(message.meta.sender, PID);
                assert_eq!(message.meta.mtype, (i % 7 + 1) as i64);
                assert_eq!(message.meta.priority, (i % 3) as u16);
            }
            assert_eq!(ring.try_pop(), Ok(None));
            write!(stream, "ok {MESSAGES}").unwrap();
        }
        "die-mid-write" => {
            let meta = Meta {
                sender: PID,
                mtype: 1,
                priority: 0,
                sent_at: 0,
            };
            ring.try_push(&payload(0), meta).unwrap();
            let claim = ring.try_claim(&payload(1), meta).unwrap();
            ring.try_push(&payload(2), meta).unwrap();
            ring.try_push(&payload(3), meta).unwrap();
            write!(stream, "claimed").unwrap();
            drop(stream);
            // Dies holding the claim: no destructor runs.
            let _claim = claim;
            std::process::abort();
        }
        other => panic!("unknown role {other}"),
    }
}

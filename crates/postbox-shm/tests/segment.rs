//! Segments and descriptor passing: what an attacher accepts, what it refuses, and read-only
//! views of frozen payloads.

// Real memory, threads and processes: not part of the loom build (see tests/loom.rs).
#![cfg(not(loom))]

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;

use postbox_shm::{
    AttachSegmentError, CreateSegmentError, OutOfBounds, ReadOnlySegment, RecvFdError, Segment,
    SegmentKind, recv_fd, send_fd,
};
use rustix::fs::{MemfdFlags, SealFlags};

fn pass(fd: impl AsFd) -> OwnedFd {
    let (a, b) = UnixStream::pair().unwrap();
    send_fd(&a, fd.as_fd()).unwrap();
    recv_fd(&b).unwrap()
}

#[test]
fn smoke() {
    let segment = Segment::create("payload", SegmentKind::Payload, 100).unwrap();
    segment.write_at(10, b"hello").unwrap();
    let attached = Segment::attach(pass(segment.fd())).unwrap();
    assert_eq!(
        (attached.kind(), attached.body_len()),
        (SegmentKind::Payload, 100)
    );
    let mut buf = [0; 5];
    attached.read_at(10, &mut buf).unwrap();
    assert_eq!(&buf, b"hello");
    attached.write_at(0, b"back").unwrap();
    let mut buf = [0; 4];
    segment.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"back");
}

#[test]
fn out_of_bounds_is_refused() {
    let segment = Segment::create("payload", SegmentKind::Payload, 16).unwrap();
    assert_eq!(
        segment.write_at(10, &[0; 7]),
        Err(OutOfBounds {
            offset: 10,
            len: 7,
            body: 16
        })
    );
    assert!(segment.write_at(usize::MAX, &[0; 1]).is_err());
    let mut buf = [0; 17];
    assert!(segment.read_at(0, &mut buf).is_err());
    assert!(segment.read_at(usize::MAX - 2, &mut buf[..4]).is_err());
    segment.read_at(0, &mut buf[..16]).unwrap();
}

#[test]
fn size_limits() {
    assert!(matches!(
        Segment::create("x", SegmentKind::Ring, 0),
        Err(CreateSegmentError::Size { body: 0 })
    ));
    assert!(matches!(
        Segment::create("x", SegmentKind::Ring, 1 << 35),
        Err(CreateSegmentError::Size { .. })
    ));
}

#[test]
fn frozen_segment_is_read_only_for_everyone_after() {
    let segment = Segment::create("payload", SegmentKind::Payload, 64).unwrap();
    segment.write_at(0, b"frozen").unwrap();
    segment.freeze().unwrap();
    // The writer's own mapping keeps its access; nobody can map it writable any more.
    segment.write_at(6, b"!").unwrap();
    assert!(matches!(
        Segment::attach(pass(segment.fd())),
        Err(AttachSegmentError::Map(_))
    ));
    let view = ReadOnlySegment::attach(pass(segment.fd())).unwrap();
    let mut buf = [0; 7];
    view.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"frozen!");
    assert_eq!(view.kind(), SegmentKind::Payload);
    // A ring segment is sealed for good at creation: it cannot be frozen.
    let ring = Segment::create("ring", SegmentKind::Ring, 64).unwrap();
    assert!(ring.freeze().is_err());
}

fn memfd_with(len: u64, seals: SealFlags, contents: &[u8]) -> OwnedFd {
    let fd = rustix::fs::memfd_create("hostile", MemfdFlags::ALLOW_SEALING).unwrap();
    rustix::fs::ftruncate(&fd, len).unwrap();
    let mut file = std::fs::File::from(fd.try_clone().unwrap());
    file.write_all(contents).unwrap();
    if !seals.is_empty() {
        rustix::fs::fcntl_add_seals(&fd, seals).unwrap();
    }
    fd
}

fn header(magic: &[u8; 8], version: u64, kind: u64, len: u64) -> Vec<u8> {
    let mut bytes = magic.to_vec();
    for word in [version, kind, len] {
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    bytes
}

#[test]
fn attach_refuses_what_a_hostile_peer_could_pass() {
    let good = header(b"PBXSEGM1", 1, 2, 128);
    // Not a memfd at all.
    let file = tempfile::tempfile().unwrap();
    assert!(matches!(
        Segment::attach(OwnedFd::from(file)),
        Err(AttachSegmentError::NotMemfd(_))
    ));
    // Unsealed: the peer could shrink it under us.
    assert!(matches!(
        Segment::attach(memfd_with(128, SealFlags::empty(), &good)),
        Err(AttachSegmentError::NotSealed)
    ));
    let sealed = SealFlags::SHRINK | SealFlags::GROW;
    assert!(matches!(
        Segment::attach(memfd_with(64, sealed, &[])),
        Err(AttachSegmentError::Size { len: 64 })
    ));
    assert!(matches!(
        Segment::attach(memfd_with(128, sealed, &header(b"NOTPBOX!", 1, 2, 128))),
        Err(AttachSegmentError::Magic { .. })
    ));
    assert!(matches!(
        Segment::attach(memfd_with(128, sealed, &header(b"PBXSEGM1", 9, 2, 128))),
        Err(AttachSegmentError::Version { found: 9 })
    ));
    assert!(matches!(
        Segment::attach(memfd_with(128, sealed, &header(b"PBXSEGM1", 1, 7, 128))),
        Err(AttachSegmentError::Kind { found: 7 })
    ));
    assert!(matches!(
        Segment::attach(memfd_with(128, sealed, &header(b"PBXSEGM1", 1, 2, 4096))),
        Err(AttachSegmentError::Length {
            header: 4096,
            file: 128
        })
    ));
    let segment = Segment::attach(memfd_with(128, sealed, &good)).unwrap();
    assert_eq!(segment.body_len(), 64);
}

#[test]
fn recv_fd_reports_a_closed_peer_and_a_missing_descriptor() {
    let (a, b) = UnixStream::pair().unwrap();
    (&a).write_all(b"F").unwrap();
    assert!(matches!(recv_fd(&b), Err(RecvFdError::NoDescriptor)));
    drop(a);
    assert!(matches!(recv_fd(&b), Err(RecvFdError::Disconnected)));
}

//! Sealed payload files: written once, immutable after, attached only when every seal and the
//! claimed length check out, and recognised again behind the `Bytes` that view them.

// Real memory and descriptors: not part of the loom build (see tests/loom.rs).
#![cfg(not(loom))]

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;

use postbox_shm::{
    AttachPayloadError, CreatePayloadError, PayloadBuffer, Prefault, SealedPayload, recv_fd,
    send_fd,
};
use rustix::fs::{MemfdFlags, SealFlags};

fn pass(fd: impl AsFd) -> OwnedFd {
    let (a, b) = UnixStream::pair().unwrap();
    send_fd(&a, fd.as_fd()).unwrap();
    recv_fd(&b).unwrap()
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn smoke() {
    let sent = SealedPayload::copy_of(&pattern(100_000)).unwrap();
    let received = SealedPayload::attach(pass(sent.fd()), 100_000).unwrap();
    assert_eq!(received.as_slice(), &pattern(100_000)[..]);
    assert_eq!(received.len(), 100_000);
}

#[test]
fn a_loaned_buffer_is_written_in_place_then_sealed() {
    let mut buffer = PayloadBuffer::create(5000).unwrap();
    assert!(buffer.iter().all(|&b| b == 0));
    buffer[..5].copy_from_slice(b"hello");
    buffer[4999] = 9;
    let sealed = buffer.seal().unwrap();
    assert_eq!(&sealed.as_slice()[..5], b"hello");
    assert_eq!(sealed.as_slice()[4999], 9);
}

#[test]
fn a_sealed_file_can_never_change() {
    let sealed = SealedPayload::copy_of(b"fixed").unwrap();
    let fd = pass(sealed.fd());
    assert!(rustix::io::pwrite(&fd, b"X", 0).is_err(), "write");
    assert!(rustix::fs::ftruncate(&fd, 1).is_err(), "shrink");
    assert!(rustix::fs::ftruncate(&fd, 8192).is_err(), "grow");
    assert!(
        rustix::fs::fcntl_add_seals(&fd, SealFlags::FUTURE_WRITE).is_err(),
        "more seals"
    );
    assert_eq!(sealed.as_slice(), b"fixed");
}

#[test]
fn sizes_out_of_range_are_refused() {
    assert!(matches!(
        PayloadBuffer::create(0),
        Err(CreatePayloadError::Size { len: 0 })
    ));
    assert!(matches!(
        SealedPayload::copy_of(&[]),
        Err(CreatePayloadError::Size { len: 0 })
    ));
    assert!(matches!(
        PayloadBuffer::create(1 << 35),
        Err(CreatePayloadError::Size { .. })
    ));
}

fn memfd_with(len: u64, seals: SealFlags) -> OwnedFd {
    let fd = rustix::fs::memfd_create("hostile", MemfdFlags::ALLOW_SEALING).unwrap();
    rustix::fs::ftruncate(&fd, len).unwrap();
    if !seals.is_empty() {
        rustix::fs::fcntl_add_seals(&fd, seals).unwrap();
    }
    fd
}

#[test]
fn a_file_that_is_not_a_memfd_is_refused() {
    let (socket, _peer) = UnixStream::pair().unwrap();
    assert!(matches!(
        SealedPayload::attach(OwnedFd::from(socket), 10),
        Err(AttachPayloadError::NotMemfd(_))
    ));
}

#[test]
fn a_file_missing_any_seal_is_refused() {
    let all = SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL;
    for missing in [
        SealFlags::WRITE,
        SealFlags::SHRINK,
        SealFlags::GROW,
        SealFlags::SEAL,
        all,
    ] {
        let fd = memfd_with(4096, all - missing);
        match SealedPayload::attach(fd, 4096) {
            Err(AttachPayloadError::NotSealed { missing: found }) => assert_eq!(found, missing),
            other => panic!("{missing:?}: {other:?}"),
        }
    }
    // Writable mappings and future-write seals are not the same promise: F_SEAL_FUTURE_WRITE lets
    // an existing writable mapping go on writing.
    let fd = memfd_with(
        4096,
        SealFlags::FUTURE_WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL,
    );
    assert!(matches!(
        SealedPayload::attach(fd, 4096),
        Err(AttachPayloadError::NotSealed { .. })
    ));
}

#[test]
fn a_length_other_than_the_claim_is_refused() {
    let sent = SealedPayload::copy_of(&pattern(4096)).unwrap();
    for claimed in [0, 4095, 4097, usize::MAX] {
        match SealedPayload::attach(pass(sent.fd()), claimed) {
            Err(AttachPayloadError::Length { claimed: c, file }) => {
                assert_eq!((c, file), (claimed, 4096));
            }
            other => panic!("{claimed}: {other:?}"),
        }
    }
    let error = SealedPayload::attach(pass(sent.fd()), 4097).unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot read an attached payload: the message claims 4097 bytes but the file has 4096"
    );
}

#[test]
fn bytes_view_the_mapping_and_lead_back_to_the_payload() {
    let sent = SealedPayload::copy_of(&pattern(70_000)).unwrap();
    let address = sent.as_slice().as_ptr();
    let bytes = sent.into_bytes();
    assert_eq!(bytes.as_ptr(), address, "no copy");
    assert_eq!(&bytes[..], &pattern(70_000)[..]);

    let clone = bytes.clone();
    drop(bytes);
    let found = SealedPayload::of(&clone).expect("found behind a clone");
    assert_eq!(found.as_slice().as_ptr(), address);
    let again = SealedPayload::attach(pass(found.fd()), 70_000).unwrap();
    assert_eq!(again.as_slice(), &pattern(70_000)[..]);

    assert!(SealedPayload::of(&clone.slice(1..)).is_none(), "a slice");
    assert!(SealedPayload::of(&clone.slice(..100)).is_none(), "a prefix");
    let copy = bytes::Bytes::copy_from_slice(&clone);
    assert!(SealedPayload::of(&copy).is_none(), "a copy");
}

#[test]
fn a_dropped_payload_is_forgotten() {
    let bytes = SealedPayload::copy_of(&pattern(8192)).unwrap().into_bytes();
    let view = bytes.slice(..);
    drop(bytes);
    assert!(SealedPayload::of(&view).is_some());
    drop(view);
    // The mapping is gone; a new payload may reuse its address, and is found as itself.
    for len in [8192, 4096, 12_288] {
        let next = SealedPayload::copy_of(&pattern(len)).unwrap().into_bytes();
        assert_eq!(SealedPayload::of(&next).unwrap().len(), len);
    }
}

#[test]
fn a_receiver_takes_any_length_up_to_its_limit() {
    let sent = SealedPayload::copy_of(&pattern(9000)).unwrap();
    let received = SealedPayload::receive(pass(sent.fd()), 9000, Prefault::Now).unwrap();
    assert_eq!(received.as_slice(), &pattern(9000)[..]);
    assert!(matches!(
        SealedPayload::receive(pass(sent.fd()), 8999, Prefault::Now),
        Err(AttachPayloadError::TooLarge {
            len: 9000,
            max: 8999
        })
    ));
    let unsealed = memfd_with(10, SealFlags::SHRINK);
    assert!(matches!(
        SealedPayload::receive(unsealed, 100, Prefault::OnTouch),
        Err(AttachPayloadError::NotSealed { .. })
    ));
}

#[test]
fn live_payloads_are_counted() {
    // Other tests run in parallel threads and create payloads too: compare with a margin of
    // what this test alone holds.
    let held: Vec<SealedPayload> = (0..50)
        .map(|_| SealedPayload::copy_of(b"x").unwrap())
        .collect();
    assert!(SealedPayload::live() >= 50);
    drop(held);
}

#[test]
fn descriptors_travel_with_the_bytes_they_were_sent_with() {
    use postbox_shm::{recv_with_fds, send_with_fds};
    let (a, b) = UnixStream::pair().unwrap();
    let one = SealedPayload::copy_of(b"one").unwrap();
    let two = SealedPayload::copy_of(b"two!").unwrap();
    assert_eq!(send_with_fds(a.as_fd(), b"plain", &[]).unwrap(), 5);
    assert_eq!(
        send_with_fds(a.as_fd(), b"frame", &[one.fd(), two.fd()]).unwrap(),
        5
    );
    let mut buf = [0u8; 64];
    let mut total = Vec::new();
    let mut fds = Vec::new();
    while total.len() < 10 {
        let read = recv_with_fds(b.as_fd(), &mut buf).unwrap();
        assert!(!read.truncated);
        total.extend_from_slice(&buf[..read.bytes]);
        fds.extend(read.fds);
    }
    assert_eq!(total, b"plainframe");
    let lens: Vec<usize> = fds
        .into_iter()
        .map(|fd| {
            SealedPayload::receive(fd, 100, Prefault::Now)
                .unwrap()
                .len()
        })
        .collect();
    assert_eq!(lens, [3, 4]);
    assert!(send_with_fds(a.as_fd(), b"", &[one.fd()]).is_err());
}

#[test]
fn a_buffer_becomes_bytes_in_place_and_is_recognised() {
    let mut buffer = PayloadBuffer::create(70_000).unwrap();
    buffer.copy_from_slice(&pattern(70_000));
    let bytes = buffer.into_bytes();
    assert_eq!(&bytes[..], &pattern(70_000)[..]);
    let sealed = SealedPayload::of(&bytes).expect("a sealed payload");
    assert_eq!(sealed.len(), 70_000);
    let again = SealedPayload::attach(pass(sealed.fd()), 70_000).unwrap();
    assert_eq!(again.as_slice(), &pattern(70_000)[..]);
}

//! Pooled payload slots: recycled only once every copy of a message's token is closed, read-only
//! for everyone but their maker, refused from another user or without their token.

use std::os::fd::{BorrowedFd, OwnedFd};

use bytes::Bytes;
use postbox_shm::{
    Arrival, Outgoing, PayloadPool, PoolLimits, PooledPayload, Prefault, Receiving, SealedPayload,
    receive_attached,
};

const KIB: usize = 1024;

fn own_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// How a receiver of this process's user takes payloads of up to `max` bytes.
fn taking(max: usize, trusted_uid: u32) -> Receiving {
    Receiving {
        max,
        prefault: Prefault::Now,
        trusted_uid,
        keep_mapped: false,
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed))
        .collect()
}

/// Copies of `fds`, as another process would hold them after they were passed.
fn passed(fds: &[BorrowedFd<'_>]) -> Vec<OwnedFd> {
    fds.iter()
        .map(|fd| fd.try_clone_to_owned().unwrap())
        .collect()
}

/// What `fds` arrive as in a receiver of this process's user, each a payload.
fn received(fds: Vec<OwnedFd>) -> Vec<Bytes> {
    receive_attached(fds, taking(1 << 20, own_uid()))
        .unwrap()
        .into_iter()
        .map(|arrival| match arrival {
            Arrival::Payload(payload) => payload,
            Arrival::Other(fd) => panic!("not a payload: {fd:?}"),
        })
        .collect()
}

#[test]
fn a_slot_is_reused_only_once_every_holder_has_let_go() {
    let pool = PayloadPool::new(PoolLimits::default());
    let mut loan = pool.loan(100 * KIB).unwrap();
    loan.copy_from_slice(&pattern(100 * KIB, 1));
    let sent = loan.into_payload();
    assert_eq!(
        (pool.slots(), pool.bytes()),
        (1, 128 * KIB),
        "a 128 KiB class"
    );

    // Passed to a receiver, then dropped by its writer: the receiver still holds the token.
    let theirs = received(passed(&sent.fds()));
    drop(sent);
    assert_eq!(
        theirs[0].len(),
        128 * KIB,
        "the whole slot; a frame trims it"
    );
    assert_eq!(&theirs[0][..100 * KIB], &pattern(100 * KIB, 1)[..]);
    let next = pool.loan(100 * KIB).unwrap();
    assert_eq!(pool.slots(), 2, "the held slot is not lent again");
    drop(next);

    // Once the receiver lets go, its slot is free again: no third slot is made.
    drop(theirs);
    let a = pool.loan(100 * KIB).unwrap();
    let b = pool.loan(100 * KIB).unwrap();
    assert_eq!(pool.slots(), 2);
    drop((a, b));
}

#[test]
fn a_loan_from_a_recycled_slot_starts_zeroed() {
    let pool = PayloadPool::new(PoolLimits::default());
    let first = pool.copy_of(&[0xAB; 64 * KIB]).unwrap();
    drop(first);
    let loan = pool.loan(64 * KIB).unwrap();
    assert_eq!(pool.slots(), 1, "recycled");
    assert!(loan.iter().all(|&byte| byte == 0));
}

#[test]
fn a_loan_never_sent_goes_back_free() {
    let pool = PayloadPool::new(PoolLimits::default());
    drop(pool.loan(5000).unwrap());
    drop(pool.loan(5000).unwrap());
    assert_eq!(pool.slots(), 1);
}

#[test]
fn the_pool_stays_within_its_limits_and_makes_room_from_free_slots() {
    let limits = PoolLimits {
        max_bytes: 256 * KIB,
        max_slots: 3,
        max_payload: 128 * KIB,
    };
    let pool = PayloadPool::new(limits);
    assert!(pool.loan(0).is_none());
    assert!(
        pool.loan(128 * KIB + 1).is_none(),
        "above the largest pooled"
    );
    let held: Vec<_> = (0..2)
        .map(|_| pool.copy_of(&[1; 128 * KIB]).unwrap())
        .collect();
    assert!(pool.loan(4 * KIB).is_none(), "256 KiB held");
    drop(held);
    // Free slots of another size give way to the one asked for.
    let small: Vec<_> = (0..3).map(|_| pool.loan(4 * KIB).unwrap()).collect();
    assert_eq!(pool.slots(), 3);
    assert!(pool.loan(4 * KIB).is_none(), "three slots at most");
    drop(small);
}

#[test]
fn a_receiver_maps_the_slot_read_only_and_cannot_resize_or_write_it() {
    let pool = PayloadPool::new(PoolLimits::default());
    let sent = pool.copy_of(&pattern(5000, 3)).unwrap();
    let [slot, _token] = &passed(&sent.fds())[..] else {
        panic!("two descriptors")
    };
    let seals = rustix::fs::fcntl_get_seals(slot).unwrap();
    use rustix::fs::SealFlags;
    assert!(
        seals.contains(
            SealFlags::FUTURE_WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL
        )
    );
    assert!(rustix::io::write(slot, b"scribble").is_err(), "write(2)");
    assert!(rustix::fs::ftruncate(slot, 1).is_err(), "shrink");
    assert!(rustix::fs::ftruncate(slot, 1 << 20).is_err(), "grow");
    assert!(
        rustix::fs::fcntl_add_seals(slot, SealFlags::WRITE).is_err(),
        "no further seal"
    );
    assert_eq!(sent.as_slice(), &pattern(5000, 3)[..]);
}

#[test]
fn a_slot_from_another_user_or_without_its_token_is_refused() {
    let pool = PayloadPool::new(PoolLimits::default());
    let sent = pool.copy_of(&pattern(5000, 4)).unwrap();
    let other_user = own_uid().wrapping_add(1);
    let refused = receive_attached(passed(&sent.fds()), taking(1 << 20, other_user));
    assert!(refused.unwrap_err().contains("must be sealed immutable"));

    let slot_alone = passed(&sent.fds()[..1]);
    let refused = receive_attached(slot_alone, taking(1 << 20, own_uid()));
    assert!(refused.unwrap_err().contains("without its token"));

    let sealed = SealedPayload::copy_of(b"not a token").unwrap();
    let fds = passed(&[sent.fds()[0], sealed.fd()]);
    assert!(receive_attached(fds, taking(1 << 20, own_uid())).is_err());

    let too_long = receive_attached(passed(&sent.fds()), taking(4096, own_uid()));
    assert!(too_long.is_err(), "an 8 KiB slot past a 4 KiB limit");
}

#[test]
fn a_ring_segment_is_set_aside_and_sealed_and_pooled_payloads_arrive_in_order() {
    let pool = PayloadPool::new(PoolLimits::default());
    let pooled = pool.copy_of(&pattern(5000, 5)).unwrap();
    let sealed = SealedPayload::copy_of(&pattern(6000, 6)).unwrap();
    let segment =
        postbox_shm::Segment::create("ring", postbox_shm::SegmentKind::Ring, 4096).unwrap();
    let mut fds = passed(&[sealed.fd()]);
    fds.extend(passed(&pooled.fds()));
    fds.extend(passed(&[segment.fd()]));
    let arrivals = receive_attached(fds, taking(1 << 20, own_uid())).unwrap();
    match &arrivals[..] {
        [
            Arrival::Payload(first),
            Arrival::Payload(second),
            Arrival::Other(_),
        ] => {
            assert_eq!(&first[..], &pattern(6000, 6)[..]);
            assert_eq!(&second[..5000], &pattern(5000, 5)[..]);
            assert!(PooledPayload::of(second).is_some());
            assert!(
                PooledPayload::of(&second.slice(..5000)).is_some(),
                "a prefix"
            );
            assert!(
                PooledPayload::of(&second.slice(1..)).is_none(),
                "not from the start"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn outgoing_payloads_keep_their_file_unless_a_slot_would_reach_another_user() {
    let pool = PayloadPool::new(PoolLimits::default());
    let pooled = pool.copy_of(&pattern(5000, 7)).unwrap().into_bytes();
    let sealed = SealedPayload::copy_of(&pattern(5000, 8))
        .unwrap()
        .into_bytes();
    let plain = Bytes::from(pattern(5000, 9));

    let as_is = |payload: &Bytes, uid| Outgoing::of(payload, uid, Some(&pool)).unwrap();
    assert!(matches!(as_is(&pooled, None), Outgoing::Pooled(_)));
    assert!(matches!(
        as_is(&pooled, Some(own_uid())),
        Outgoing::Pooled(_)
    ));
    assert!(matches!(as_is(&sealed, Some(42)), Outgoing::Sealed(_)));
    assert!(
        matches!(as_is(&plain, None), Outgoing::Pooled(_)),
        "copied to a slot"
    );
    match Outgoing::of(&pooled, Some(own_uid().wrapping_add(1)), None).unwrap() {
        Outgoing::Sealed(copy) => assert_eq!(copy.as_slice(), &pattern(5000, 7)[..]),
        Outgoing::Pooled(_) => panic!("a slot must not reach another user"),
    }
    assert_eq!(as_is(&pooled, None).fds().len(), 2);
    assert_eq!(as_is(&sealed, None).fds().len(), 1);
}

#[test]
fn a_slot_held_by_a_process_killed_with_sigkill_is_freed() {
    // The kernel closes a dead process's descriptors: a child holding the slot and the token
    // (as its stdin and stdout) is killed, and the slot is free again.
    let pool = PayloadPool::new(PoolLimits::default());
    let sent = pool.copy_of(&pattern(5000, 10)).unwrap();
    let mut fds = passed(&sent.fds()).into_iter();
    let (slot, token) = (fds.next().unwrap(), fds.next().unwrap());
    let mut child = std::process::Command::new("sleep")
        .arg("600")
        .stdin(std::process::Stdio::from(slot))
        .stdout(std::process::Stdio::from(token))
        .spawn()
        .unwrap();
    drop(sent);

    let while_held = pool.loan(5000).unwrap();
    assert_eq!(pool.slots(), 2, "the child holds the first slot");
    drop(while_held);
    child.kill().unwrap();
    child.wait().unwrap();
    let _first = pool.loan(5000).unwrap();
    let _second = pool.loan(5000).unwrap();
    assert_eq!(
        pool.slots(),
        2,
        "both reused: the dead child's slot is free"
    );
}

#[test]
fn a_receiver_keeps_a_slot_mapped_for_its_next_message_and_the_slot_still_recycles() {
    let pool = PayloadPool::new(PoolLimits::default());
    let keep = Receiving {
        keep_mapped: true,
        ..taking(1 << 20, own_uid())
    };
    let take = |fds| match receive_attached(fds, keep).unwrap().pop() {
        Some(Arrival::Payload(payload)) => payload,
        other => panic!("{other:?}"),
    };
    let first = pool.copy_of(&pattern(5000, 11)).unwrap();
    let got = take(passed(&first.fds()));
    let address = got.as_ptr();
    drop((first, got));

    let second = pool.copy_of(&pattern(5000, 12)).unwrap();
    assert_eq!(
        pool.slots(),
        1,
        "recycled, though the receiver keeps it mapped"
    );
    let got = take(passed(&second.fds()));
    assert_eq!(got.as_ptr(), address, "the mapping kept");
    assert_eq!(&got[..5000], &pattern(5000, 12)[..]);
}

#[test]
fn a_loan_for_overwrite_holds_only_zeros_or_this_process_s_earlier_bytes() {
    let pool = PayloadPool::new(PoolLimits::default());
    drop(pool.copy_of(&[0xAB; 64 * KIB]).unwrap());
    let loan = pool.loan_for_overwrite(64 * KIB).unwrap();
    assert_eq!(pool.slots(), 1, "recycled");
    assert!(loan.iter().all(|&byte| byte == 0 || byte == 0xAB));
}

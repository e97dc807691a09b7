//! System V queue identifiers: a mailbox id as a non-negative `int`.
//!
//! A queue on the node the process is connected to has its mailbox's id, which must be below
//! 2^30. A queue on another node is seen through this node with a reserved 64-bit id (bit 62,
//! the peer's index on this node in bits 40 to 61, the mailbox's id there below; see
//! docs/nodes.md), which an `int` cannot hold. Its identifier is bit 30, the peer's index in
//! bits 24 to 29, and the id on that node in bits 0 to 23: derived from the id alone, so the
//! same in every process connected to this daemon, and giving back the reserved id without a
//! table. A queue that does not fit — a local id from 2^30, a peer index from 64 (the daemon
//! numbers peers as it first forwards to each), an id there from 2^24 — gets no identifier
//! (`ENOSPC`).

use std::ffi::c_int;

/// Set in the identifier of a queue on another node.
const REMOTE: u32 = 1 << 30;
/// Where the peer's index starts in such an identifier.
const PEER_SHIFT: u32 = 24;
/// The most peers whose queues have identifiers.
const MAX_PEERS: u64 = 1 << (30 - PEER_SHIFT);
/// The ids on another node that fit.
const REMOTE_ID_MASK: u64 = (1 << PEER_SHIFT) - 1;

/// Set in every reserved (another node's) mailbox id.
const RESERVED: u64 = 1 << 62;
/// Where the peer's index starts in a reserved id.
const RESERVED_PEER_SHIFT: u32 = 40;
/// The id on the peer, in a reserved id.
const RESERVED_ID_MASK: u64 = (1 << RESERVED_PEER_SHIFT) - 1;

/// Where an identifier's queue is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// On the node the process is connected to.
    Here,
    /// On another node.
    Remote,
}

/// The identifier of the mailbox whose id (as this node hands it out) is `raw`; `ENOSPC` when
/// it does not fit.
pub(crate) fn of_mailbox(raw: u64) -> Result<c_int, c_int> {
    let encoded = if raw & RESERVED != 0 && raw >> 63 == 0 {
        let peer = (raw & !RESERVED) >> RESERVED_PEER_SHIFT;
        let id = raw & RESERVED_ID_MASK;
        if peer >= MAX_PEERS || id > REMOTE_ID_MASK {
            return Err(libc::ENOSPC);
        }
        u64::from(REMOTE) | (peer << PEER_SHIFT) | id
    } else if raw < u64::from(REMOTE) {
        raw
    } else {
        return Err(libc::ENOSPC);
    };
    c_int::try_from(encoded).map_err(|_| libc::ENOSPC)
}

/// The mailbox id (as this node hands it out) of identifier `msqid`; `EINVAL` for a negative
/// one.
pub(crate) fn mailbox_id(msqid: c_int) -> Result<u64, c_int> {
    let raw = u64::try_from(msqid).map_err(|_| libc::EINVAL)?;
    if raw & u64::from(REMOTE) == 0 {
        return Ok(raw);
    }
    let peer = (raw & !u64::from(REMOTE)) >> PEER_SHIFT;
    Ok(RESERVED | (peer << RESERVED_PEER_SHIFT) | (raw & REMOTE_ID_MASK))
}

/// Where the queue of identifier `msqid` is; `EINVAL` for a negative one.
pub(crate) fn place(msqid: c_int) -> Result<Place, c_int> {
    let raw = u64::try_from(msqid).map_err(|_| libc::EINVAL)?;
    Ok(if raw & u64::from(REMOTE) == 0 {
        Place::Here
    } else {
        Place::Remote
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reserved(peer: u64, id: u64) -> u64 {
        RESERVED | (peer << RESERVED_PEER_SHIFT) | id
    }

    #[test]
    fn identifiers_round_trip_and_say_where_their_queue_is() {
        for raw in [0, 1, 42, u64::from(REMOTE) - 1] {
            let msqid = of_mailbox(raw).unwrap();
            assert_eq!(u64::try_from(msqid).unwrap(), raw);
            assert_eq!(mailbox_id(msqid), Ok(raw));
            assert_eq!(place(msqid), Ok(Place::Here));
        }
        for (peer, id) in [(0, 1), (3, 42), (MAX_PEERS - 1, REMOTE_ID_MASK)] {
            let msqid = of_mailbox(reserved(peer, id)).unwrap();
            assert!(msqid > 0);
            assert_eq!(mailbox_id(msqid), Ok(reserved(peer, id)));
            assert_eq!(place(msqid), Ok(Place::Remote));
        }
        assert_eq!(
            of_mailbox(reserved(1, 7)).unwrap(),
            (1 << 30) | (1 << 24) | 7
        );
        assert_eq!(mailbox_id(-1), Err(libc::EINVAL));
        assert_eq!(place(-1), Err(libc::EINVAL));
    }

    #[test]
    fn what_does_not_fit_is_enospc() {
        assert_eq!(of_mailbox(u64::from(REMOTE)), Err(libc::ENOSPC));
        assert_eq!(of_mailbox(1 << 40), Err(libc::ENOSPC));
        assert_eq!(of_mailbox(reserved(MAX_PEERS, 1)), Err(libc::ENOSPC));
        assert_eq!(
            of_mailbox(reserved(0, REMOTE_ID_MASK + 1)),
            Err(libc::ENOSPC)
        );
        assert_eq!(of_mailbox(u64::MAX), Err(libc::ENOSPC));
    }
}

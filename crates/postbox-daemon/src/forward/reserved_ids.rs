//! Mailbox and call ids of other nodes, as this node hands them to its clients.
//!
//! A client that opens `jobs@b` gets a mailbox id from a range no engine allocates from: bit 62
//! set, the peer's index on this node in bits 40 to 61, and the id on the peer below. The id
//! alone then says where a later request on it goes, with no table to keep or to clean up. A
//! call id a client received in a request from another node's mailbox is encoded the same way,
//! so that its `Reply` goes back to that node.

/// Set in every reserved id.
const RESERVED: u64 = 1 << 62;
/// Where the peer's index starts.
const PEER_SHIFT: u32 = 40;
/// The ids a peer's own may use: below 2^40 (a trillion mailboxes or calls).
const ID_MASK: u64 = (1 << PEER_SHIFT) - 1;
/// The most peers: indexes fill bits 40 to 61.
pub(crate) const MAX_PEERS: usize = 1 << (62 - PEER_SHIFT);

/// The reserved id of `id` on peer `peer`, or `None` when `id` or `peer` does not fit.
pub(crate) fn reserve(peer: usize, id: u64) -> Option<u64> {
    let peer = u64::try_from(peer).ok().filter(|&p| p < MAX_PEERS as u64)?;
    (id <= ID_MASK).then_some(RESERVED | (peer << PEER_SHIFT) | id)
}

/// The peer and its id, when `raw` is a reserved id.
pub(crate) fn resolve(raw: u64) -> Option<(usize, u64)> {
    if raw & RESERVED == 0 || raw >> 63 != 0 {
        return None;
    }
    let peer = usize::try_from((raw & !RESERVED) >> PEER_SHIFT).ok()?;
    Some((peer, raw & ID_MASK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_ids_round_trip_and_local_ids_are_not_reserved() {
        for (peer, id) in [(0, 1), (3, 42), (MAX_PEERS - 1, ID_MASK)] {
            let raw = reserve(peer, id).expect("fits");
            assert_eq!(resolve(raw), Some((peer, id)));
        }
        assert_eq!(reserve(MAX_PEERS, 1), None);
        assert_eq!(reserve(0, ID_MASK + 1), None);
        assert_eq!(resolve(1), None);
        assert_eq!(resolve(RESERVED - 1), None);
        assert_eq!(resolve(u64::MAX), None);
    }
}

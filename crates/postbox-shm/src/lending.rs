//! A mailbox lent to a ring: the ring's shape for the engine's terms, and the translation of
//! the ring's messages and counts into the engine's, so that a delegated mailbox answers
//! exactly as the engine would.
//!
//! The engine lends a plain mailbox with [`Engine::delegate`](postbox_core::Engine::delegate)
//! and takes it back with [`Engine::reclaim`](postbox_core::Engine::reclaim). In between, its
//! users push and pop the ring directly: [`meta`] is what a sender writes beside the payload,
//! [`received`] what a receiver makes of what it took, and [`handback`] what the daemon gives
//! the engine when it reclaims the ring. Sequence numbers are positions: the message at ring
//! position `p` has the number `terms.next_seq + p`, the numbers the engine would have given in
//! the same order (a claim its writer abandoned leaves one unused).

use bytes::Bytes;
use postbox_core::{
    Delegation, Handback, Message as EngineMessage, MessageKind, MessageSize, Pid, Received,
    Timestamp,
};

use crate::geometry::{Geometry, MAX_CAPACITY};
use crate::message::{Bounds, Message, Meta};
use crate::ring::Reclaimed;

/// The largest ring a mailbox is lent to: beyond it the mailbox stays with the daemon (its
/// bounds would map more memory than a fast path is worth).
pub const MAX_LENT_RING_BYTES: usize = 64 << 20;

/// The shape and bounds of the ring for a mailbox lent under `terms`, with slots of at most
/// `slot_limit` bytes (larger messages go through the daemon, which takes the ring back first);
/// `None` when the ring would be larger than [`MAX_LENT_RING_BYTES`] or have more slots than a
/// ring may.
pub fn plan(terms: &Delegation, slot_limit: usize) -> Option<(Geometry, Bounds)> {
    let largest = match terms.size {
        MessageSize::Fixed(len) | MessageSize::Variable(len) => len,
    };
    let slot_payload = largest
        .min(terms.max_message_size)
        .min(terms.bytes)
        .min(slot_limit)
        .max(8);
    let capacity = terms.messages.max(2).checked_next_power_of_two()?;
    if capacity > MAX_CAPACITY {
        return None;
    }
    let geometry = Geometry::new(capacity, slot_payload).ok()?;
    if geometry.bytes() > MAX_LENT_RING_BYTES {
        return None;
    }
    let bounds = Bounds {
        messages: terms.messages as u64,
        bytes: terms.bytes as u64,
    };
    Some((geometry, bounds))
}

/// What a sender writes beside `message`'s payload: its pid, the message's type and priority,
/// and when it is sent.
pub fn meta(sender: Pid, message: &EngineMessage, now: Timestamp) -> Meta {
    Meta {
        sender: sender.as_raw(),
        mtype: message.mtype,
        priority: message.priority,
        sent_at: now.as_nanos(),
    }
}

/// The engine's form of a message taken from (or reclaimed with) a ring lent under a delegation
/// whose first sequence number was `first_seq`.
pub fn received(message: Message, first_seq: u64) -> Received {
    Received {
        message: EngineMessage {
            payload: Bytes::from(message.payload),
            mtype: message.meta.mtype,
            priority: message.meta.priority,
        },
        sender: Pid::from_raw(message.meta.sender),
        seq: first_seq.saturating_add(message.pos),
        sent_at: Timestamp::from_nanos(message.meta.sent_at),
        kind: MessageKind::User,
        attempt: 1,
    }
}

/// What the engine takes back with a ring lent under a delegation whose first sequence number
/// was `first_seq`: the queue in order, the messages sent and received meanwhile, the last of
/// each, and the next sequence number.
///
/// Every claimed position was either committed (a message), abandoned or torn; of the committed
/// ones, those not queued were received.
pub fn handback(reclaimed: Reclaimed, first_seq: u64) -> Handback {
    let committed = reclaimed
        .next_pos
        .saturating_sub(reclaimed.abandoned_total)
        .saturating_sub(reclaimed.torn);
    let queued = reclaimed.messages.len() as u64;
    Handback {
        sent: committed,
        received: committed.saturating_sub(queued),
        last_send: reclaimed.last_sent.map(|meta| {
            (
                Pid::from_raw(meta.sender),
                Timestamp::from_nanos(meta.sent_at),
            )
        }),
        last_recv: reclaimed.last_receipt.map(|receipt| {
            (
                Pid::from_raw(receipt.receiver),
                Timestamp::from_nanos(receipt.at),
            )
        }),
        next_seq: first_seq.saturating_add(reclaimed.next_pos),
        queued: reclaimed
            .messages
            .into_iter()
            .map(|message| received(message, first_seq))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(messages: usize, bytes: usize, size: MessageSize) -> Delegation {
        Delegation {
            messages,
            bytes,
            size,
            max_message_size: 1 << 20,
            senders: Vec::new(),
            receivers: Vec::new(),
            next_seq: 0,
        }
    }

    #[test]
    fn the_ring_holds_the_mailbox_and_no_more() {
        let (geometry, bounds) = plan(&terms(100, 6400, MessageSize::Variable(64)), 4096).unwrap();
        assert_eq!((geometry.capacity(), geometry.slot_payload()), (128, 64));
        assert_eq!((bounds.messages, bounds.bytes), (100, 6400));
        // Slots no larger than the limit, nor than the mailbox's bytes; at least 8.
        let (geometry, _) = plan(&terms(4, 100, MessageSize::Variable(1 << 20)), 4096).unwrap();
        assert_eq!(geometry.slot_payload(), 104);
        let (geometry, _) = plan(&terms(1, 0, MessageSize::Fixed(0)), 4096).unwrap();
        assert_eq!((geometry.capacity(), geometry.slot_payload()), (2, 8));
        // Too large to lend.
        assert!(
            plan(
                &terms(1 << 20, usize::MAX, MessageSize::Variable(4096)),
                4096
            )
            .is_none()
        );
        assert!(plan(&terms(usize::MAX, 1, MessageSize::Variable(8)), 8).is_none());
    }

    #[test]
    fn counts_come_from_positions() {
        let message = |pos: u64, sender: u64| Message {
            payload: vec![1, 2],
            meta: Meta {
                sender,
                mtype: 3,
                priority: 4,
                sent_at: 50 + pos,
            },
            pos,
        };
        // Positions 0..6: 0 and 1 received, 2 abandoned, 3 torn, 4 and 5 queued.
        let reclaimed = Reclaimed {
            messages: vec![message(4, 7), message(5, 8)],
            torn: 1,
            abandoned: 0,
            next_pos: 6,
            abandoned_total: 1,
            last_sent: Some(message(5, 8).meta),
            last_receipt: None,
        };
        let back = handback(reclaimed, 10);
        assert_eq!((back.sent, back.received, back.next_seq), (4, 2, 16));
        assert_eq!(
            back.last_send,
            Some((Pid::from_raw(8), Timestamp::from_nanos(55)))
        );
        assert_eq!(back.last_recv, None);
        let seqs: Vec<u64> = back.queued.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [14, 15]);
        assert_eq!(back.queued[0].sender, Pid::from_raw(7));
        assert_eq!(
            (
                back.queued[0].message.mtype,
                back.queued[0].message.priority
            ),
            (3, 4)
        );
    }
}

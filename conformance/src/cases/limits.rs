//! Node-wide limits, read from [`Transport::limits`]: the queued-bytes quota (which keeps
//! unbounded mailboxes from taking unbounded memory) and the per-uid mailbox quota. Each is
//! reported as a clear error and recovers once room is made.

use postbox::{Bytes, Capacity, MESSAGE_CHARGE, MessageSize, OpenError, SendErrorKind};

use crate::Transport;
use crate::support::skip;

/// More sends or creations than this to reach a limit are not attempted (they would only be
/// slow); the case is skipped instead.
const MAX_STEPS: usize = 10_000;

/// Queued messages across the node stop at the quota, each charged its payload plus
/// `MESSAGE_CHARGE`: the send that would pass it fails with `QuotaExceeded`, message back, and
/// succeeds once a receive makes room.
pub fn the_queued_bytes_quota_is_enforced<T: Transport>(t: &T) {
    let limits = t.limits();
    let chunk = limits
        .max_message_size
        .min(limits.max_queued_bytes.saturating_sub(MESSAGE_CHARGE))
        .max(1);
    let charge = chunk + MESSAGE_CHARGE;
    if limits.max_queued_bytes / charge > MAX_STEPS {
        skip(
            t,
            "limits::the_queued_bytes_quota_is_enforced",
            "the quota is too large to fill",
        );
        return;
    }
    let p = t.process();
    let hoard = p
        .mailbox("hoard")
        .capacity(Capacity::Unbounded)
        .size(MessageSize::Variable(chunk))
        .create()
        .expect("create");
    // One allocation, shared by every message: `Bytes` clones share their buffer.
    let payload = Bytes::from(vec![0u8; chunk]);
    let mut accepted = 0;
    let error = loop {
        match hoard.try_send(payload.clone()) {
            Ok(_) => accepted += 1,
            Err(error) => break error,
        }
        assert!(
            accepted <= MAX_STEPS + 1,
            "the quota never stopped the sends"
        );
    };
    assert_eq!(error.kind(), SendErrorKind::QuotaExceeded);
    assert_eq!(error.into_message().map(|m| m.len()), Some(chunk));
    assert_eq!(accepted, limits.max_queued_bytes / charge);
    let stats = p.node_stats().expect("node stats");
    assert!(stats.queued_bytes + stats.queued_messages * MESSAGE_CHARGE <= limits.max_queued_bytes);
    assert_eq!(stats.max_queued_bytes, limits.max_queued_bytes);
    hoard.recv().expect("recv");
    hoard.try_send(payload).expect("room again");
}

/// A uid may have at most `max_mailboxes_per_uid` mailboxes: the next `create` fails with
/// `QuotaExceeded`; a delete makes room.
pub fn the_mailboxes_per_uid_quota_is_enforced<T: Transport>(t: &T) {
    let max = t.limits().max_mailboxes_per_uid;
    if max > MAX_STEPS {
        skip(
            t,
            "limits::the_mailboxes_per_uid_quota_is_enforced",
            "the quota is too large to fill",
        );
        return;
    }
    let p = t.process();
    let mailboxes: Vec<_> = (0..max)
        .map(|i| {
            p.mailbox(&format!("quota/{i}"))
                .create()
                .expect("under the quota")
        })
        .collect();
    assert_eq!(
        p.mailbox("quota/over").create().unwrap_err(),
        OpenError::QuotaExceeded
    );
    assert_eq!(
        p.mailbox("quota/over").open_or_create().unwrap_err(),
        OpenError::QuotaExceeded
    );
    let other = t.process();
    assert_eq!(
        other.mailbox("quota/over").create().unwrap_err(),
        OpenError::QuotaExceeded,
        "the quota is per uid, not per process"
    );
    mailboxes[0].delete().expect("delete");
    p.mailbox("quota/over").create().expect("room again");
}

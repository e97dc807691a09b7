//! Counting what the engine holds, table by table, for checking its resource bounds.

use super::Engine;
use crate::limits::message_charge;
use crate::mailbox::Kind;
use crate::{MessageKind, Usage};

impl Engine {
    /// What the engine holds now, counted by walking every table rather than read from its
    /// running totals — so that a test can hold the two against each other and against the
    /// [`Limits`](crate::Limits). Costs a pass over everything; meant for tests and diagnostics.
    pub fn usage(&self) -> Usage {
        let mut usage = Usage {
            processes: self.processes.len(),
            names: self.process_names.len(),
            mailboxes: self.mailbox_names.len(),
            most_mailboxes_of_one_uid: self.mailboxes_per_uid.values().copied().max().unwrap_or(0),
            reserved: self.reserved_bytes,
            quota_used: self.quota_used(),
            waiting: self.waiters.len(),
            completions: self.completions.len(),
            ..Usage::default()
        };
        for mb in self.mailboxes.values() {
            let mut users = 0;
            if let Some(tail) = mb.queue.tail() {
                usage.queued_messages += tail.messages;
                usage.held_charge += tail.bytes + tail.messages * crate::MESSAGE_CHARGE;
            }
            for (_, entry) in mb.queue.iter() {
                let charge = message_charge(entry.message.len());
                usage.queued_messages += 1;
                usage.held_charge += charge;
                if entry.kind == MessageKind::Down {
                    usage.down_notifications += 1;
                    usage.down_charge += charge;
                } else {
                    users += 1;
                }
            }
            if matches!(mb.kind, Kind::Inbox(_)) {
                usage.fullest_inbox = usage.fullest_inbox.max(users);
            }
            usage.waiting_senders += mb.blocked_senders.len();
            usage.held_charge += mb
                .blocked_senders
                .iter()
                .map(|blocked| message_charge(blocked.message.len()))
                .sum::<usize>();
            for lease in mb.leases.values() {
                usage.leased += 1;
                usage.held_charge += message_charge(lease.entry.message.len());
            }
            usage.waiting_branches += mb.receivers.len();
            usage.grants += mb.grants.len();
        }
        usage.monitors = self.processes.values().map(|p| p.monitoring.len()).sum();
        usage
    }
}

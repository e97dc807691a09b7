//! A census for monitoring: the engine-wide figures and a bounded number of mailboxes' own.

use std::collections::BinaryHeap;

use super::Engine;
use super::mailboxes::snapshot;
use crate::{EngineStats, MailboxStats, Name};

/// What a monitoring scrape reports: see [`Engine::census`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Census {
    /// The engine-wide statistics, covering every mailbox and inbox.
    pub stats: EngineStats,
    /// Bytes of the queued-bytes quota in use: every message held (queued, waiting to be sent,
    /// on lease) at its payload plus [`MESSAGE_CHARGE`](crate::MESSAGE_CHARGE), and what lent
    /// lanes reserve.
    pub quota_used: usize,
    /// The first mailboxes by name, at most as many as asked, with their statistics.
    pub mailboxes: Vec<MailboxStats>,
    /// Named mailboxes left out of [`mailboxes`](Self::mailboxes) by the bound.
    pub mailboxes_omitted: usize,
}

impl Engine {
    /// The engine-wide statistics and those of the first `max_mailboxes` named mailboxes by
    /// name, whoever owns them (an operator's view: no permission applies).
    ///
    /// Costs one pass over the mailbox names (keeping the `max_mailboxes` smallest) and a
    /// snapshot of each mailbox reported, so that a scrape stays bounded in what it returns
    /// however many mailboxes there are.
    pub fn census(&self, max_mailboxes: usize) -> Census {
        let mut first: BinaryHeap<&Name> = BinaryHeap::with_capacity(max_mailboxes + 1);
        for name in self.mailbox_names.keys() {
            if first.len() < max_mailboxes {
                first.push(name);
            } else if first.peek().is_some_and(|largest| name < *largest) {
                first.pop();
                first.push(name);
            }
        }
        let mailboxes: Vec<MailboxStats> = first
            .into_sorted_vec()
            .into_iter()
            .filter_map(|name| self.mailbox_names.get(name))
            .filter_map(|id| self.mailboxes.get(id))
            .map(snapshot)
            .collect();
        Census {
            stats: self.stats(),
            quota_used: self.quota_used(),
            mailboxes_omitted: self.mailbox_names.len() - mailboxes.len(),
            mailboxes,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{
        Credentials, Delivery, Engine, Limits, MESSAGE_CHARGE, MailboxAttrs, Message, Timestamp,
        Wait,
    };

    #[test]
    fn the_census_reports_the_first_mailboxes_by_name_and_counts_the_rest() {
        let mut engine = Engine::new(Limits::default());
        let now = Timestamp::from_nanos(1);
        let pid = engine.spawn(Credentials::new(1000, 1000), now);
        let mut ids = Vec::new();
        for name in ["m", "c", "x", "a", "q"] {
            ids.push(
                engine
                    .create(pid, name, MailboxAttrs::system_owned(), now)
                    .unwrap(),
            );
        }
        let a = ids[3];
        engine
            .send(
                pid,
                a,
                Message::new("0123456789"),
                Delivery::Queued,
                Wait::Try,
                now,
            )
            .unwrap();
        let census = engine.census(3);
        let names: Vec<&str> = census.mailboxes.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a", "c", "m"]);
        assert_eq!(
            (census.mailboxes[0].messages, census.mailboxes[0].bytes),
            (1, 10)
        );
        assert_eq!(census.mailboxes_omitted, 2);
        assert_eq!(census.stats.mailboxes, 5);
        assert_eq!(census.quota_used, 10 + MESSAGE_CHARGE);
        assert_eq!(engine.census(0).mailboxes_omitted, 5);
        assert_eq!(engine.census(10).mailboxes.len(), 5);
    }
}

//! What `postbox top` shows, computed from what the node reports — no terminal here, so all of it
//! is tested by plain unit tests (the terminal driver is `commands::top`).
//!
//! Rates come from two successive snapshots: a mailbox's messages sent (received) per second is
//! the growth of its `total_sent` (`total_received`) over the time between them. Mailboxes are
//! matched by id, not name, so a mailbox deleted and created again under the same name starts
//! afresh; one with no earlier snapshot has no rate yet. Counters that went down (a withdrawn
//! receipt no longer counts as sent, a returned lease as received) count as no activity.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::time::Duration;

use postbox_core::{EngineStats, MailboxId, MailboxStats, Pid, ProcessInfo, Timestamp};

use crate::output;

/// What the node reported at one moment.
#[derive(Clone, Debug)]
pub(crate) struct Snapshot {
    /// When, on a monotonic clock (time since `top` started).
    pub(crate) at: Duration,
    /// The wall-clock time, for how long operations have waited.
    pub(crate) now: Timestamp,
    /// Node-wide statistics.
    pub(crate) node: EngineStats,
    /// Every mailbox the user may see.
    pub(crate) mailboxes: Vec<MailboxStats>,
    /// Every live process.
    pub(crate) processes: Vec<ProcessInfo>,
}

/// Messages per second, sent and received.
#[derive(Clone, Copy, PartialEq, Debug, Default)]
pub(crate) struct Rates {
    /// Sent (accepted) per second.
    pub(crate) sent: f64,
    /// Received per second.
    pub(crate) received: f64,
}

impl Rates {
    /// The growth of `(sent, received)` from `before` to `after` over `elapsed`; `None` when no
    /// time passed.
    fn between(before: (u64, u64), after: (u64, u64), elapsed: Duration) -> Option<Rates> {
        let seconds = elapsed.as_secs_f64();
        if seconds <= 0.0 {
            return None;
        }
        // Counts far beyond 2^53 lose precision as f64, harmlessly for a display.
        #[expect(clippy::cast_precision_loss, reason = "a rate for display")]
        let per_second = |from: u64, to: u64| to.saturating_sub(from) as f64 / seconds;
        Some(Rates {
            sent: per_second(before.0, after.0),
            received: per_second(before.1, after.1),
        })
    }

    /// How busy this is, for sorting.
    fn activity(self) -> f64 {
        self.sent + self.received
    }
}

/// One mailbox's line.
#[derive(Clone, PartialEq, Debug)]
pub(crate) struct MailboxRow {
    /// Its name.
    pub(crate) name: String,
    /// Messages queued.
    pub(crate) messages: usize,
    /// Payload bytes queued.
    pub(crate) bytes: usize,
    /// Its rates, once there are two snapshots of it.
    pub(crate) rates: Option<Rates>,
    /// Senders waiting.
    pub(crate) blocked_senders: usize,
    /// Receivers waiting.
    pub(crate) blocked_receivers: usize,
}

/// One process's line.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct ProcessRow {
    /// Its postbox pid.
    pub(crate) pid: Pid,
    /// Its OS pid, if known.
    pub(crate) os_pid: Option<u32>,
    /// Its registered name, if any.
    pub(crate) name: Option<String>,
    /// Messages in its inbox.
    pub(crate) inbox: usize,
    /// What its waiting operations wait for, as `ps` writes them.
    pub(crate) waits: Vec<String>,
    /// Its command line, if known, with the program's directory left out (see [`short_command`]).
    pub(crate) command: Option<String>,
}

/// Everything one frame of `top` shows.
#[derive(Clone, PartialEq, Debug)]
pub(crate) struct View {
    /// Node-wide statistics.
    pub(crate) node: EngineStats,
    /// Node-wide rates, once there are two snapshots.
    pub(crate) node_rates: Option<Rates>,
    /// Mailboxes, busiest first.
    pub(crate) mailboxes: Vec<MailboxRow>,
    /// Processes, busiest first.
    pub(crate) processes: Vec<ProcessRow>,
}

impl View {
    /// The view of `current`, with rates since `previous` when there is one.
    pub(crate) fn new(previous: Option<&Snapshot>, current: &Snapshot) -> View {
        let elapsed = previous.map(|before| current.at.saturating_sub(before.at));
        let earlier: HashMap<MailboxId, &MailboxStats> = previous
            .map(|before| before.mailboxes.iter().map(|m| (m.id, m)).collect())
            .unwrap_or_default();
        let counts = |m: &MailboxStats| (m.total_sent, m.total_received);
        let mut mailboxes: Vec<MailboxRow> = current
            .mailboxes
            .iter()
            .map(|mailbox| MailboxRow {
                name: mailbox.name.clone(),
                messages: mailbox.messages,
                bytes: mailbox.bytes,
                rates: earlier
                    .get(&mailbox.id)
                    .zip(elapsed)
                    .and_then(|(before, elapsed)| {
                        Rates::between(counts(before), counts(mailbox), elapsed)
                    }),
                blocked_senders: mailbox.blocked_senders,
                blocked_receivers: mailbox.blocked_receivers,
            })
            .collect();
        // Busiest first: by rate, then by what is queued and waiting, then by name.
        mailboxes.sort_by(|a, b| {
            let rate = |row: &MailboxRow| row.rates.map_or(0.0, Rates::activity);
            rate(b)
                .total_cmp(&rate(a))
                .then_with(|| b.messages.cmp(&a.messages))
                .then_with(|| {
                    (b.blocked_senders + b.blocked_receivers)
                        .cmp(&(a.blocked_senders + a.blocked_receivers))
                })
                .then_with(|| a.name.cmp(&b.name))
        });
        let mut processes: Vec<ProcessRow> = current
            .processes
            .iter()
            .map(|process| ProcessRow {
                pid: process.pid,
                os_pid: process.os_pid,
                name: process.name.clone(),
                inbox: process.inbox_messages,
                waits: process
                    .waits
                    .iter()
                    .map(|wait| output::wait(wait, current.now))
                    .collect(),
                command: process.command.as_deref().map(short_command),
            })
            .collect();
        // Busiest first: by what waits in its inbox and what it waits for, then by pid.
        processes.sort_by_key(|row| (Reverse(row.inbox + row.waits.len()), row.pid));
        let node_counts = |node: &EngineStats| (node.total_sent, node.total_received);
        View {
            node: current.node,
            node_rates: previous.zip(elapsed).and_then(|(before, elapsed)| {
                Rates::between(
                    node_counts(&before.node),
                    node_counts(&current.node),
                    elapsed,
                )
            }),
            mailboxes,
            processes,
        }
    }
}

/// A rate as `top` prints it: `-` before it is known, else one decimal.
pub(crate) fn rate(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".to_owned(), |rate| format!("{rate:.1}"))
}

/// `command` with its program named by file name only: `top`'s column is narrow, and a long
/// install or build path would push out the arguments, which tell the processes apart.
fn short_command(command: &str) -> String {
    let (program, arguments) = command.split_once(' ').unwrap_or((command, ""));
    let program = program.rsplit_once('/').map_or(program, |(_, name)| name);
    if arguments.is_empty() {
        program.to_owned()
    } else {
        format!("{program} {arguments}")
    }
}

#[cfg(test)]
mod tests {
    use postbox_core::{MailboxAttrs, Owner, WaitInfo, WaitKind, WaitTarget};

    use super::*;

    fn mailbox(id: u64, name: &str, sent: u64, received: u64, messages: usize) -> MailboxStats {
        MailboxStats {
            id: MailboxId::from_raw(id),
            name: name.to_owned(),
            attrs: MailboxAttrs::system_owned(),
            owner: Owner::Process(Pid::from_raw(1)),
            uid: 0,
            gid: 0,
            mode: postbox_core::Mode::default(),
            messages,
            bytes: messages * 10,
            total_sent: sent,
            total_received: received,
            dropped: 0,
            last_send: None,
            last_recv: None,
            created: Timestamp::ZERO,
            changed: Timestamp::ZERO,
            blocked_senders: 0,
            blocked_receivers: 0,
            openers: 1,
            leased: 0,
            dead_lettered: 0,
            duplicates_dropped: 0,
        }
    }

    fn process(pid: u64, inbox: usize, waits: Vec<WaitInfo>) -> ProcessInfo {
        ProcessInfo {
            pid: Pid::from_raw(pid),
            name: None,
            uid: 0,
            gid: 0,
            inbox_messages: inbox,
            owned_mailboxes: 0,
            waiting: waits.len(),
            os_pid: Some(1000 + u32::try_from(pid).unwrap()),
            command: Some(format!("worker {pid}")),
            started: Timestamp::ZERO,
            waits,
        }
    }

    fn snapshot(at_ms: u64, mailboxes: Vec<MailboxStats>, sent: u64) -> Snapshot {
        Snapshot {
            at: Duration::from_millis(at_ms),
            now: Timestamp::from_nanos(5_000_000_000),
            node: EngineStats {
                total_sent: sent,
                total_received: sent / 2,
                ..EngineStats::default()
            },
            mailboxes,
            processes: Vec::new(),
        }
    }

    #[test]
    fn rates_are_growth_per_second_between_snapshots() {
        let before = snapshot(1_000, vec![mailbox(1, "jobs", 10, 4, 6)], 10);
        let after = snapshot(3_000, vec![mailbox(1, "jobs", 50, 24, 26)], 50);
        let view = View::new(Some(&before), &after);
        assert_eq!(
            view.mailboxes[0].rates,
            Some(Rates {
                sent: 20.0,
                received: 10.0
            })
        );
        assert_eq!(
            view.node_rates,
            Some(Rates {
                sent: 20.0,
                received: 10.0
            })
        );
        assert_eq!(view.mailboxes[0].messages, 26);
    }

    #[test]
    fn no_rate_without_an_earlier_snapshot_of_the_same_mailbox_or_without_time() {
        let first = snapshot(0, vec![mailbox(1, "jobs", 10, 0, 10)], 10);
        assert_eq!(View::new(None, &first).mailboxes[0].rates, None);
        assert_eq!(View::new(None, &first).node_rates, None);
        // Deleted and created again under the same name: a new id, a fresh start.
        let again = snapshot(1_000, vec![mailbox(2, "jobs", 3, 0, 3)], 13);
        assert_eq!(View::new(Some(&first), &again).mailboxes[0].rates, None);
        let same_instant = snapshot(0, vec![mailbox(1, "jobs", 12, 0, 12)], 12);
        assert_eq!(
            View::new(Some(&first), &same_instant).mailboxes[0].rates,
            None
        );
    }

    #[test]
    fn counters_that_went_down_are_no_activity() {
        let before = snapshot(0, vec![mailbox(1, "jobs", 10, 10, 0)], 10);
        let after = snapshot(1_000, vec![mailbox(1, "jobs", 9, 8, 1)], 9);
        let rates = View::new(Some(&before), &after).mailboxes[0].rates;
        assert_eq!(rates, Some(Rates::default()));
    }

    #[test]
    fn mailboxes_sort_busiest_first_then_by_queue_then_by_name() {
        let before = snapshot(
            0,
            vec![
                mailbox(1, "idle", 0, 0, 0),
                mailbox(2, "busy", 0, 0, 0),
                mailbox(3, "backlog", 5, 0, 5),
                mailbox(4, "also-idle", 0, 0, 0),
            ],
            0,
        );
        let after = snapshot(
            1_000,
            vec![
                mailbox(1, "idle", 0, 0, 0),
                mailbox(2, "busy", 100, 100, 0),
                mailbox(3, "backlog", 5, 0, 5),
                mailbox(4, "also-idle", 0, 0, 0),
                mailbox(5, "new", 1, 0, 1),
            ],
            0,
        );
        let names: Vec<String> = View::new(Some(&before), &after)
            .mailboxes
            .into_iter()
            .map(|row| row.name)
            .collect();
        assert_eq!(names, ["busy", "backlog", "new", "also-idle", "idle"]);
    }

    #[test]
    fn processes_sort_by_inbox_and_waits_and_describe_their_waits() {
        let recv = WaitInfo {
            kind: WaitKind::Recv,
            on: vec![WaitTarget::Mailbox("jobs".into())],
            since: Timestamp::from_nanos(2_000_000_000),
        };
        let mut current = snapshot(0, Vec::new(), 0);
        current.processes = vec![
            process(1, 0, Vec::new()),
            process(2, 0, vec![recv]),
            process(3, 5, Vec::new()),
            process(4, 0, Vec::new()),
        ];
        let view = View::new(None, &current);
        let pids: Vec<u64> = view.processes.iter().map(|p| p.pid.as_raw()).collect();
        assert_eq!(pids, [3, 2, 1, 4]);
        assert_eq!(view.processes[1].waits, ["recv jobs 3s"]);
        assert_eq!(view.processes[1].os_pid, Some(1002));
        assert_eq!(view.processes[1].command.as_deref(), Some("worker 2"));
    }

    #[test]
    fn commands_name_their_program_without_its_directory() {
        let long = "/tmp/a/very/long/build/tree/target/debug/postbox recv replies";
        assert_eq!(short_command(long), "postbox recv replies");
        assert_eq!(short_command("/usr/bin/worker"), "worker");
        assert_eq!(short_command("worker --id /a/b"), "worker --id /a/b");
        assert_eq!(short_command(""), "");
    }

    #[test]
    fn rates_print_with_one_decimal_or_a_dash() {
        assert_eq!(rate(None), "-");
        assert_eq!(rate(Some(12.345)), "12.3");
        assert_eq!(rate(Some(0.0)), "0.0");
    }
}

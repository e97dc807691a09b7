//! Resource bounds under hostile use: random sequences of what a hostile client can ask — floods
//! of empty and large messages into unbounded mailboxes, senders left waiting, monitors of dead
//! processes asked again and again, grants to processes that come and go, names, selects and
//! cancels — run against the engine, which after every step reports what it holds
//! ([`Engine::usage`]). Its running totals must agree with a count of its tables, and every count
//! must stay within the configured [`Limits`]:
//!
//! - the quota: every message held (queued, or by a waiting sender) charged its payload plus
//!   `MESSAGE_CHARGE`, down notifications aside, never passes `max_queued_bytes`;
//! - no inbox holds more than its capacity of messages other than down notifications, and there
//!   is at most one down notification per live watcher and dead process;
//! - no uid has more mailboxes than `max_mailboxes_per_uid`;
//! - grants, monitors and waiting receivers stay within the live processes and the tickets.
//!
//! 256 cases by default; `BOUNDS_CASES=n` runs more.

use postbox_core::{
    Branch, Capacity, Credentials, Delivery, Engine, LeaseId, Limits, MESSAGE_CHARGE, MailboxAttrs,
    MailboxId, Message, Ownership, Pid, Receivers, Selector, Settlement, Source, Ticket, Timestamp,
    Wait,
};
use proptest::prelude::*;

const MAX_LIVE: usize = 6;
const INBOX_CAPACITY: usize = 3;
const MAX_MAILBOXES_PER_UID: usize = 2;
const MAX_QUEUED_BYTES: usize = 5 * MESSAGE_CHARGE + 64;
const NAMES: [&str; 3] = ["a", "b", "c"];

fn limits() -> Limits {
    Limits {
        max_message_size: 32,
        inbox_capacity: INBOX_CAPACITY,
        max_queued_bytes: MAX_QUEUED_BYTES,
        max_mailboxes_per_uid: MAX_MAILBOXES_PER_UID,
    }
}

/// One thing a hostile client asks; indices pick among what exists, modulo its count.
#[derive(Clone, Debug)]
enum Op {
    Spawn {
        uid: u32,
    },
    Terminate {
        who: usize,
    },
    Create {
        who: usize,
        name: usize,
        capacity: u8,
    },
    Open {
        who: usize,
        name: usize,
    },
    Send {
        who: usize,
        to: usize,
        len: usize,
        block: bool,
        receipt: bool,
    },
    SendTo {
        who: usize,
        to: usize,
        len: usize,
        block: bool,
    },
    Recv {
        who: usize,
        from: usize,
        block: bool,
        lease: bool,
    },
    Settle {
        who: usize,
        from: usize,
        seq: u64,
        ack: bool,
    },
    Close {
        who: usize,
        mailbox: usize,
    },
    Select {
        who: usize,
        from: usize,
    },
    Cancel {
        ticket: usize,
    },
    Monitor {
        who: usize,
        target: usize,
    },
    Demonitor {
        who: usize,
        target: usize,
    },
    Grant {
        who: usize,
        mailbox: usize,
        grantee: usize,
    },
    Register {
        who: usize,
        name: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let i = || 0usize..16;
    // Mostly empty messages: the flood the quota must bound by count.
    let len = || prop_oneof![3 => Just(0usize), 1 => 0usize..=40];
    prop_oneof![
        1 => (1000u32..1003).prop_map(|uid| Op::Spawn { uid }),
        1 => i().prop_map(|who| Op::Terminate { who }),
        1 => (i(), i(), 0u8..3).prop_map(|(who, name, capacity)| Op::Create { who, name, capacity }),
        1 => (i(), i()).prop_map(|(who, name)| Op::Open { who, name }),
        4 => (i(), i(), len(), any::<bool>(), any::<bool>())
            .prop_map(|(who, to, len, block, receipt)| Op::Send { who, to, len, block, receipt }),
        3 => (i(), i(), len(), any::<bool>())
            .prop_map(|(who, to, len, block)| Op::SendTo { who, to, len, block }),
        2 => (i(), i(), any::<bool>(), any::<bool>())
            .prop_map(|(who, from, block, lease)| Op::Recv { who, from, block, lease }),
        1 => (i(), i(), 0u64..8, any::<bool>())
            .prop_map(|(who, from, seq, ack)| Op::Settle { who, from, seq, ack }),
        1 => (i(), i()).prop_map(|(who, mailbox)| Op::Close { who, mailbox }),
        1 => (i(), i()).prop_map(|(who, from)| Op::Select { who, from }),
        1 => (0usize..64).prop_map(|ticket| Op::Cancel { ticket }),
        3 => (i(), 0usize..32).prop_map(|(who, target)| Op::Monitor { who, target }),
        1 => (i(), 0usize..32).prop_map(|(who, target)| Op::Demonitor { who, target }),
        1 => (i(), i(), 0usize..32).prop_map(|(who, mailbox, grantee)| Op::Grant { who, mailbox, grantee }),
        1 => (i(), i()).prop_map(|(who, name)| Op::Register { who, name }),
    ]
}

/// The engine and what the test knows of it: live and dead pids, mailboxes, tickets issued.
struct Run {
    engine: Engine,
    live: Vec<Pid>,
    dead: Vec<Pid>,
    mailboxes: Vec<MailboxId>,
    tickets: Vec<Ticket>,
    now: u64,
}

impl Run {
    fn now(&mut self) -> Timestamp {
        self.now += 1;
        Timestamp::from_nanos(self.now)
    }

    fn pick<T: Copy>(items: &[T], index: usize) -> Option<T> {
        (!items.is_empty()).then(|| items[index % items.len()])
    }

    /// Any pid that ever existed (live or dead), or one that never did.
    fn any_pid(&self, index: usize) -> Pid {
        let all: Vec<Pid> = self.live.iter().chain(&self.dead).copied().collect();
        Run::pick(&all, index).unwrap_or(Pid::from_raw(999))
    }

    fn apply(&mut self, op: Op) {
        let now = self.now();
        let live = self.live.clone();
        let who = |index: usize| Run::pick(&live, index);
        match op {
            Op::Spawn { uid } => {
                if self.live.len() < MAX_LIVE {
                    let pid = self.engine.spawn(Credentials::new(uid, uid), now);
                    self.live.push(pid);
                }
            }
            Op::Terminate { who: index } => {
                if let Some(pid) = who(index) {
                    self.engine.terminate(pid, now);
                    self.live.retain(|&p| p != pid);
                    self.dead.push(pid);
                }
            }
            Op::Create {
                who: index,
                name,
                capacity,
            } => {
                let Some(pid) = who(index) else { return };
                let capacity = match capacity {
                    0 => Capacity::Unbounded,
                    1 => Capacity::Zero,
                    _ => Capacity::bounded(2, 48),
                };
                let attrs = MailboxAttrs {
                    capacity,
                    ownership: Ownership::System,
                    receivers: Receivers::Owner,
                    ..MailboxAttrs::system_owned()
                };
                let name = NAMES[name % NAMES.len()];
                if let Ok(id) = self.engine.create(pid, name, attrs, now) {
                    self.mailboxes.push(id);
                }
            }
            Op::Open { who: index, name } => {
                if let Some(pid) = who(index) {
                    let _ = self.engine.open(pid, NAMES[name % NAMES.len()]);
                }
            }
            Op::Send {
                who: index,
                to,
                len,
                block,
                receipt,
            } => {
                let (Some(pid), Some(mailbox)) = (who(index), Run::pick(&self.mailboxes, to))
                else {
                    return;
                };
                let delivery = if receipt {
                    Delivery::Receipt
                } else {
                    Delivery::Queued
                };
                let wait = if block { Wait::Block } else { Wait::Try };
                let message = Message::new(vec![0u8; len]);
                if let Ok(postbox_core::SendOutcome::Blocked(ticket)) =
                    self.engine.send(pid, mailbox, message, delivery, wait, now)
                {
                    self.tickets.push(ticket);
                }
            }
            Op::SendTo {
                who: index,
                to,
                len,
                block,
            } => {
                let Some(pid) = who(index) else { return };
                let target = self.any_pid(to);
                let wait = if block { Wait::Block } else { Wait::Try };
                let message = Message::new(vec![0u8; len]);
                if let Ok(postbox_core::SendOutcome::Blocked(ticket)) =
                    self.engine
                        .send_to(pid, target, message, Delivery::Queued, wait, now)
                {
                    self.tickets.push(ticket);
                }
            }
            Op::Recv {
                who: index,
                from,
                block,
                lease,
            } => {
                let Some(pid) = who(index) else { return };
                let source = match Run::pick(&self.mailboxes, from) {
                    Some(mailbox) if from % 2 == 0 => Source::Mailbox(mailbox),
                    _ => Source::Inbox,
                };
                let wait = if block { Wait::Block } else { Wait::Try };
                let branch = Branch::new(source, Selector::Any);
                let outcome = if lease {
                    self.engine.lease(pid, &[branch], wait, now)
                } else {
                    self.engine.recv(pid, &[branch], wait, now)
                };
                if let Ok(postbox_core::RecvOutcome::Blocked(ticket)) = outcome {
                    self.tickets.push(ticket);
                }
            }
            Op::Settle {
                who: index,
                from,
                seq,
                ack,
            } => {
                let (Some(pid), Some(mailbox)) = (who(index), Run::pick(&self.mailboxes, from))
                else {
                    return;
                };
                let settlement = if ack {
                    Settlement::Ack
                } else {
                    Settlement::Return
                };
                let source = Source::Mailbox(mailbox);
                let lease = LeaseId { seq, attempt: 1 };
                let _ = self.engine.settle(pid, source, &[lease], settlement, now);
            }
            Op::Close {
                who: index,
                mailbox,
            } => {
                if let (Some(pid), Some(mailbox)) =
                    (who(index), Run::pick(&self.mailboxes, mailbox))
                {
                    self.engine.close(pid, mailbox, now);
                }
            }
            Op::Select { who: index, from } => {
                let Some(pid) = who(index) else { return };
                let sender = self.any_pid(from);
                let mut branches = vec![Branch::new(Source::Inbox, Selector::From(sender))];
                if let Some(mailbox) = Run::pick(&self.mailboxes, from) {
                    branches.push(Branch::new(Source::Mailbox(mailbox), Selector::Type(7)));
                }
                if let Ok(postbox_core::RecvOutcome::Blocked(ticket)) =
                    self.engine.recv(pid, &branches, Wait::Block, now)
                {
                    self.tickets.push(ticket);
                }
            }
            Op::Cancel { ticket } => {
                if let Some(ticket) = Run::pick(&self.tickets, ticket) {
                    let _ = self.engine.cancel(ticket, now);
                }
            }
            Op::Monitor { who: index, target } => {
                if let Some(pid) = who(index) {
                    let _ = self.engine.monitor(pid, self.any_pid(target), now);
                }
            }
            Op::Demonitor { who: index, target } => {
                if let Some(pid) = who(index) {
                    let _ = self.engine.demonitor(pid, self.any_pid(target));
                }
            }
            Op::Grant {
                who: index,
                mailbox,
                grantee,
            } => {
                let (Some(pid), Some(mailbox)) = (who(index), Run::pick(&self.mailboxes, mailbox))
                else {
                    return;
                };
                let _ = self
                    .engine
                    .grant_receive(pid, mailbox, self.any_pid(grantee), now);
            }
            Op::Register { who: index, name } => {
                if let Some(pid) = who(index) {
                    let _ = self.engine.register(pid, NAMES[name % NAMES.len()]);
                }
            }
        }
        // The driver's part: every completion is collected after every call.
        while self.engine.poll_completion().is_some() {}
    }

    /// Every bound the engine promises, against its own report.
    fn check(&self) -> Result<(), TestCaseError> {
        let usage = self.engine.usage();
        prop_assert_eq!(
            usage.quota_used,
            usage.held_charge + usage.reserved,
            "the running totals drifted from the tables: {:?}",
            usage
        );
        prop_assert!(
            usage.held_charge - usage.down_charge <= MAX_QUEUED_BYTES,
            "messages past the quota: {:?}",
            usage
        );
        prop_assert!(usage.fullest_inbox <= INBOX_CAPACITY, "{:?}", usage);
        prop_assert!(
            usage.down_notifications <= self.live.len() * self.dead.len(),
            "more than one down notification per watcher and dead process: {:?}",
            usage
        );
        prop_assert!(usage.most_mailboxes_of_one_uid <= MAX_MAILBOXES_PER_UID);
        prop_assert_eq!(usage.processes, self.live.len());
        prop_assert!(usage.names <= usage.processes);
        prop_assert!(usage.monitors <= usage.processes * usage.processes);
        // Grants are pruned as new ones are made: at most the processes alive at some grant.
        prop_assert!(
            usage.grants <= usage.mailboxes * (MAX_LIVE + 1),
            "{:?}",
            usage
        );
        prop_assert!(usage.waiting_senders <= usage.waiting);
        prop_assert!(usage.waiting_branches <= 2 * usage.waiting);
        prop_assert_eq!(usage.completions, 0);
        Ok(())
    }
}

fn cases() -> u32 {
    std::env::var("BOUNDS_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn hostile_sequences_stay_within_the_limits(ops in prop::collection::vec(op(), 1..200)) {
        let mut run = Run {
            engine: Engine::new(limits()),
            live: Vec::new(),
            dead: Vec::new(),
            mailboxes: Vec::new(),
            tickets: Vec::new(),
            now: 0,
        };
        for uid in [1000, 1001] {
            let pid = run.engine.spawn(Credentials::new(uid, uid), Timestamp::ZERO);
            run.live.push(pid);
        }
        for op in ops {
            run.apply(op);
            run.check()?;
        }
        for pid in run.live.clone() {
            run.engine.terminate(pid, Timestamp::ZERO);
        }
        while run.engine.poll_completion().is_some() {}
        let usage = run.engine.usage();
        prop_assert_eq!(usage.quota_used, 0, "{:?}", usage);
        prop_assert_eq!(usage.waiting, 0);
    }
}

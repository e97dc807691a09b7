//! The in-process fast lane changes speed, never behaviour: a property test that runs the same
//! random sequence of operations on two nodes and requires identical answers at every step.
//!
//! On node A the mailbox is plain (owner-received, bounded, FIFO, blocking), so its lane is lent
//! whenever it is idle and plain sends and receives run there. On node B the mailbox is shared
//! round-robin, which the engine never lends, so every operation runs in the engine. With one
//! receiver the two are the same mailbox to their users. The operations interleave plain
//! traffic with everything that takes a lane back (typed receives, stats, mode and size
//! changes, closing and reopening, quota pressure from an unbounded mailbox), so each hand-over
//! in both directions is compared: results, errors, sequence numbers, senders and statistics.
//!
//! Single-threaded by design (`try_` operations only): a difference is then a bug, never timing.

use postbox::{
    Capacity, Credentials, Dispatch, InprocNode, Limits, Mailbox, MailboxStats, Message,
    MessageSize, Mode, Pid, Process, Received, Receivers, RecvError, Selector, SendError,
    SendErrorKind, Sent,
};
use proptest::prelude::*;

/// The mailbox's bounds at creation; `SetMaxBytes` moves the byte bound around this.
const MESSAGES: usize = 4;
const BYTES: usize = 100;
/// The largest payload the mailbox's size rule admits; `Send` goes past it at times.
const MAX_SIZE: usize = 40;
/// The node's byte quota: tight enough that the unbounded spill mailbox reaches it, while the
/// plain mailbox's lent capacity is reserved against it on node A.
const QUOTA: usize = 180;
/// Process 0 owns and receives; 1 and 2 send under another uid, subject to the mode.
const PROCESSES: usize = 3;

#[derive(Clone, Debug)]
enum Op {
    Send {
        who: usize,
        len: usize,
        mtype: i64,
    },
    Recv,
    RecvType(i64),
    /// A batch that may not wait: several messages, some possibly breaking the size rule.
    SendBatch {
        who: usize,
        lens: Vec<usize>,
    },
    /// Up to this many messages at once.
    RecvMany(usize),
    Stat,
    Spill {
        len: usize,
    },
    Unspill,
    /// Others may write (0o622) or not (0o600).
    SetMode {
        others_write: bool,
    },
    SetMaxBytes(usize),
    Close {
        who: usize,
    },
    Reopen {
        who: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..PROCESSES, 0..=MAX_SIZE + 5, 1..4i64)
            .prop_map(|(who, len, mtype)| Op::Send { who, len, mtype }),
        5 => Just(Op::Recv),
        2 => (1..4i64).prop_map(Op::RecvType),
        2 => (0..PROCESSES, proptest::collection::vec(0..=MAX_SIZE + 5, 0..6))
            .prop_map(|(who, lens)| Op::SendBatch { who, lens }),
        2 => (1..6usize).prop_map(Op::RecvMany),
        2 => Just(Op::Stat),
        2 => (1..=60usize).prop_map(|len| Op::Spill { len }),
        1 => Just(Op::Unspill),
        1 => any::<bool>().prop_map(|others_write| Op::SetMode { others_write }),
        1 => (30..=160usize).prop_map(Op::SetMaxBytes),
        1 => (1..PROCESSES).prop_map(|who| Op::Close { who }),
        1 => (1..PROCESSES).prop_map(|who| Op::Reopen { who }),
    ]
}

/// One node under test: its processes, their handles on the mailbox, and the spill mailbox.
struct Side {
    _node: InprocNode,
    processes: Vec<Process>,
    handles: Vec<Option<Mailbox>>,
    spill: Mailbox,
}

impl Side {
    fn new(receivers: Receivers) -> Side {
        let node = InprocNode::with_limits(Limits {
            max_queued_bytes: QUOTA,
            ..Limits::default()
        });
        let owner = node.process_as(Credentials {
            uid: 1000,
            gid: 1000,
        });
        let others = (1..PROCESSES).map(|_| {
            node.process_as(Credentials {
                uid: 2000,
                gid: 2000,
            })
        });
        let processes: Vec<Process> = std::iter::once(owner).chain(others).collect();
        let mailbox = processes[0]
            .mailbox("jobs")
            .capacity(Capacity::bounded(MESSAGES, BYTES))
            .size(MessageSize::Variable(MAX_SIZE))
            .receivers(receivers)
            .mode(Mode::new(0o622))
            .create()
            .expect("create the mailbox");
        let spill = processes[0]
            .mailbox("spill")
            .capacity(Capacity::Unbounded)
            .create()
            .expect("create the spill mailbox");
        let mut handles = vec![Some(mailbox)];
        for process in &processes[1..] {
            handles.push(Some(process.mailbox("jobs").open().expect("open")));
        }
        Side {
            _node: node,
            processes,
            handles,
            spill,
        }
    }

    /// The index of `pid` among this side's processes: pids are compared by role, not value.
    fn who(&self, pid: Pid) -> usize {
        self.processes
            .iter()
            .position(|p| p.pid() == pid)
            .unwrap_or(usize::MAX)
    }

    fn sent(&self, sent: Result<Sent, SendError>) -> Outcome {
        Outcome::Sent(
            sent.map(|sent| sent.receiver.map(|pid| self.who(pid)))
                .map_err(|e| e.kind()),
        )
    }

    fn received(&self, got: Result<Received, RecvError>) -> Outcome {
        Outcome::Received(got.map(|r| (r.payload().to_vec(), r.mtype(), self.who(r.sender), r.seq)))
    }

    fn stats(&self, stats: &MailboxStats) -> Outcome {
        Outcome::Stats {
            messages: stats.messages,
            bytes: stats.bytes,
            total_sent: stats.total_sent,
            total_received: stats.total_received,
            dropped: stats.dropped,
            blocked: (stats.blocked_senders, stats.blocked_receivers),
            openers: stats.openers,
            last_send: stats.last_send.map(|(pid, _)| self.who(pid)),
            last_recv: stats.last_recv.map(|(pid, _)| self.who(pid)),
        }
    }

    fn apply(&mut self, op: &Op) -> Outcome {
        let owner = self.handles[0].as_ref().expect("the owner never closes");
        match *op {
            Op::Send { who, len, mtype } => match &self.handles[who] {
                None => Outcome::Closed,
                Some(handle) => {
                    let message = Message::new(vec![who as u8; len]).with_type(mtype);
                    self.sent(handle.try_send(message))
                }
            },
            Op::SendBatch { who, ref lens } => match &self.handles[who] {
                None => Outcome::Closed,
                Some(handle) => {
                    let batch = lens.iter().map(|&len| Message::new(vec![who as u8; len]));
                    Outcome::Batch(handle.try_send_batch(batch).map_err(|e| {
                        let unsent: Vec<usize> = e.unsent.iter().map(Message::len).collect();
                        (e.sent, e.kind(), unsent)
                    }))
                }
            },
            Op::RecvMany(max) => Outcome::Many(owner.try_recv_many(max).map(|all| {
                all.iter()
                    .map(|r| (r.payload().to_vec(), r.mtype(), self.who(r.sender), r.seq))
                    .collect()
            })),
            Op::Recv => self.received(owner.try_recv()),
            Op::RecvType(mtype) => self.received(owner.try_recv_matching(Selector::Type(mtype))),
            Op::Stat => match owner.stat() {
                Ok(stats) => self.stats(&stats),
                Err(e) => Outcome::Admin(format!("{e:?}")),
            },
            Op::Spill { len } => self.sent(self.spill.try_send(vec![0u8; len])),
            Op::Unspill => self.received(self.spill.try_recv()),
            Op::SetMode { others_write } => {
                let mode = Mode::new(if others_write { 0o622 } else { 0o600 });
                Outcome::Admin(format!("{:?}", owner.set_mode(mode)))
            }
            Op::SetMaxBytes(bytes) => Outcome::Admin(format!("{:?}", owner.set_max_bytes(bytes))),
            Op::Close { who } => {
                self.handles[who] = None;
                Outcome::Closed
            }
            Op::Reopen { who } => {
                let opened = self.processes[who].mailbox("jobs").open();
                let outcome = Outcome::Admin(format!("{:?}", opened.as_ref().err()));
                self.handles[who] = opened.ok();
                outcome
            }
        }
    }
}

/// A received message as compared: payload, type, sender's index, sequence number.
type Got = (Vec<u8>, i64, usize, u64);

/// What one operation answered, with pids as process indices and timestamps left out.
#[derive(Debug, PartialEq)]
enum Outcome {
    Sent(Result<Option<usize>, SendErrorKind>),
    Received(Result<Got, RecvError>),
    Batch(Result<(), (usize, SendErrorKind, Vec<usize>)>),
    Many(Result<Vec<Got>, RecvError>),
    Stats {
        messages: usize,
        bytes: usize,
        total_sent: u64,
        total_received: u64,
        dropped: u64,
        blocked: (usize, usize),
        openers: usize,
        last_send: Option<usize>,
        last_recv: Option<usize>,
    },
    Admin(String),
    Closed,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn the_lane_answers_exactly_as_the_engine_does(ops in prop::collection::vec(op(), 1..80)) {
        let mut lane = Side::new(Receivers::Owner);
        let mut engine = Side::new(Receivers::Shared(Dispatch::RoundRobin));
        for (step, op) in ops.iter().enumerate() {
            let (a, b) = (lane.apply(op), engine.apply(op));
            prop_assert_eq!(a, b, "step {}: {:?}", step, op);
        }
        // The final state too, whatever the sequence ended with.
        let (a, b) = (lane.apply(&Op::Stat), engine.apply(&Op::Stat));
        prop_assert_eq!(a, b, "final statistics");
    }
}

//! A mailbox lent to a ring answers exactly as the engine would: a property test that runs the
//! same random operations on two engines and requires identical answers at every step.
//!
//! On engine A the mailbox is lent to a ring whenever the engine will delegate it (idle, plain),
//! and plain sends and receives of the processes the terms name go through the ring, translated
//! by `postbox_shm::lending`; anything else takes the ring back first, as the daemon does. On
//! engine B nothing is ever lent. Results, errors, sequence numbers, senders, send times and
//! statistics must agree, across every hand-over in both directions, with the ring's bounds
//! (fewer messages than slots, a byte bound that binds) doing the refusing while lent.
//!
//! Single-threaded by design (`try_` operations only): a difference is then a bug, never timing.

#![cfg(not(loom))]

use std::sync::Arc;

use postbox_core::{
    Branch, Capacity, Credentials, Delegation, Delivery, Engine, MailboxAttrs, MailboxId, Message,
    MessageSize, Mode, Pid, Received, RecvError, RecvOutcome, Selector, SendErrorKind, SendOutcome,
    Source, Timestamp, Wait,
};
use postbox_shm::lending::{handback, meta, plan, received};
use postbox_shm::{HeapMemory, Receipt, Ring, TryPopError, TryPushError};
use proptest::prelude::*;

/// The mailbox's bounds: 3 messages (a ring of 4 slots) and 60 bytes (binding: 3 × 40 > 60).
const MESSAGES: usize = 3;
const BYTES: usize = 60;
/// The largest payload the size rule admits; sends go past it at times.
const MAX_SIZE: usize = 40;
/// Process 0 owns and receives; 1 sends as the same user; 2 as another, subject to the mode.
const PROCESSES: usize = 3;

#[derive(Clone, Debug)]
enum Op {
    Send {
        who: usize,
        len: usize,
        mtype: i64,
    },
    Recv {
        who: usize,
    },
    RecvType(i64),
    Stat,
    /// Others may write (0o622) or not (0o600).
    SetMode {
        others_write: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..PROCESSES, 0..=MAX_SIZE + 4, 1..4i64)
            .prop_map(|(who, len, mtype)| Op::Send { who, len, mtype }),
        5 => (0..PROCESSES).prop_map(|who| Op::Recv { who }),
        1 => (1..4i64).prop_map(Op::RecvType),
        1 => Just(Op::Stat),
        1 => any::<bool>().prop_map(|others_write| Op::SetMode { others_write }),
    ]
}

/// An answer, in a form both engines' answers compare in.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Sent,
    SendFailed(SendErrorKind),
    Received {
        payload: Vec<u8>,
        mtype: i64,
        sender: Pid,
        seq: u64,
        sent_at: Timestamp,
        attempt: u32,
    },
    RecvFailed(RecvError),
    Stat(String),
    Admin(String),
}

fn received_answer(message: Received) -> Answer {
    Answer::Received {
        payload: message.message.payload.to_vec(),
        mtype: message.message.mtype,
        sender: message.sender,
        seq: message.seq,
        sent_at: message.sent_at,
        attempt: message.attempt,
    }
}

struct Lent {
    ring: Arc<Ring<HeapMemory>>,
    terms: Delegation,
}

/// One engine, its processes and mailbox, and (engine A) the ring the mailbox is lent to.
struct Side {
    engine: Engine,
    pids: Vec<Pid>,
    mailbox: MailboxId,
    lends: bool,
    lent: Option<Lent>,
    /// Hand-overs each way, to check the test exercises them.
    lent_count: usize,
}

impl Side {
    fn new(lends: bool) -> Side {
        let mut engine = Engine::default();
        let user = Credentials::new(1000, 1000);
        let owner = engine.spawn(user, Timestamp::ZERO);
        let same = engine.spawn(user, Timestamp::ZERO);
        let other = engine.spawn(Credentials::new(2000, 2000), Timestamp::ZERO);
        let attrs = MailboxAttrs {
            capacity: Capacity::Bounded {
                messages: MESSAGES,
                bytes: BYTES,
            },
            size: MessageSize::Variable(MAX_SIZE),
            mode: Mode::new(0o622),
            ..MailboxAttrs::process_owned()
        };
        let mailbox = engine
            .create(owner, "q", attrs, Timestamp::ZERO)
            .expect("create");
        engine.open(same, "q").expect("open");
        engine.open(other, "q").expect("open");
        let mut side = Side {
            engine,
            pids: vec![owner, same, other],
            mailbox,
            lends,
            lent: None,
            lent_count: 0,
        };
        side.lend();
        side
    }

    /// Lends the mailbox to a new ring if the engine will delegate it now.
    fn lend(&mut self) {
        if !self.lends || self.lent.is_some() {
            return;
        }
        let Some(terms) = self.engine.delegate(self.mailbox) else {
            return;
        };
        let (geometry, bounds) = plan(&terms, 4096).expect("a small ring");
        let memory = HeapMemory::new(geometry.bytes());
        let ring = Ring::create_bounded(memory, geometry, bounds).expect("ring");
        self.lent = Some(Lent {
            ring: Arc::new(ring),
            terms,
        });
        self.lent_count += 1;
    }

    /// Takes the ring back, as the daemon does before anything else touches the mailbox.
    fn reclaim(&mut self) {
        if let Some(lent) = self.lent.take() {
            let reclaimed = lent.ring.reclaim().expect("an honest ring");
            let back = handback(reclaimed, lent.terms.next_seq);
            self.engine.reclaim(self.mailbox, back);
        }
    }

    fn apply(&mut self, op: &Op, now: Timestamp) -> Answer {
        let answer = match *op {
            Op::Send { who, len, mtype } => {
                let pid = self.pids[who];
                let message = Message::new(vec![who as u8; len]).with_type(mtype);
                self.send(pid, message, now)
            }
            Op::Recv { who } => self.recv(self.pids[who], now),
            Op::RecvType(mtype) => {
                self.reclaim();
                let branch = Branch::new(Source::Mailbox(self.mailbox), Selector::Type(mtype));
                self.engine_recv(self.pids[0], branch, now)
            }
            Op::Stat => {
                self.reclaim();
                Answer::Stat(format!(
                    "{:?}",
                    self.engine.stat(self.pids[0], self.mailbox)
                ))
            }
            Op::SetMode { others_write } => {
                self.reclaim();
                let mode = Mode::new(if others_write { 0o622 } else { 0o600 });
                let result = self.engine.set_mode(self.pids[0], self.mailbox, mode, now);
                Answer::Admin(format!("{result:?}"))
            }
        };
        self.lend();
        answer
    }

    fn send(&mut self, pid: Pid, message: Message, now: Timestamp) -> Answer {
        if let Some(lent) = &self.lent {
            let fits = message.payload.len() <= lent.ring.geometry().slot_payload();
            if lent.terms.senders.contains(&pid) && lent.terms.admits(&message) && fits {
                match lent
                    .ring
                    .try_push(&message.payload, meta(pid, &message, now))
                {
                    Ok(()) => return Answer::Sent,
                    Err(TryPushError::Full) => return Answer::SendFailed(SendErrorKind::Full),
                    Err(other) => panic!("an honest ring refused a push: {other}"),
                }
            }
        }
        self.reclaim();
        let sent = self
            .engine
            .send(pid, self.mailbox, message, Delivery::Queued, Wait::Try, now);
        match sent {
            Ok(SendOutcome::Sent { .. }) => Answer::Sent,
            Ok(SendOutcome::Blocked(_)) => panic!("a try send blocked"),
            Err(error) => Answer::SendFailed(error.kind()),
        }
    }

    fn recv(&mut self, pid: Pid, now: Timestamp) -> Answer {
        if let Some(lent) = &self.lent {
            if lent.terms.receivers.contains(&pid) {
                return match lent.ring.try_pop() {
                    Ok(Some(message)) => {
                        lent.ring.note_receipt(Receipt {
                            receiver: pid.as_raw(),
                            at: now.as_nanos(),
                        });
                        received_answer(received(message, lent.terms.next_seq))
                    }
                    Ok(None) => Answer::RecvFailed(RecvError::Empty),
                    Err(TryPopError::Incomplete) => panic!("nobody is writing"),
                    Err(other) => panic!("an honest ring refused a pop: {other}"),
                };
            }
        }
        self.reclaim();
        let branch = Branch::new(Source::Mailbox(self.mailbox), Selector::Any);
        self.engine_recv(pid, branch, now)
    }

    fn engine_recv(&mut self, pid: Pid, branch: Branch, now: Timestamp) -> Answer {
        match self.engine.recv(pid, &[branch], Wait::Try, now) {
            Ok(RecvOutcome::Received { message, .. }) => received_answer(message),
            Ok(RecvOutcome::Blocked(_)) => panic!("a try receive blocked"),
            Err(error) => Answer::RecvFailed(error.error),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_lent_mailbox_answers_as_the_engine(ops in proptest::collection::vec(op(), 1..80)) {
        let mut lending = Side::new(true);
        let mut plain = Side::new(false);
        for (step, op) in ops.iter().enumerate() {
            let now = Timestamp::from_nanos(step as u64 + 1);
            let a = lending.apply(op, now);
            let b = plain.apply(op, now);
            prop_assert_eq!(a, b, "step {}: {:?}", step, op);
        }
        lending.reclaim();
        let stat = |side: &Side| format!("{:?}", side.engine.stat(side.pids[0], side.mailbox));
        prop_assert_eq!(stat(&lending), stat(&plain));
        prop_assert_eq!(
            format!("{:?}", lending.engine.stats()),
            format!("{:?}", plain.engine.stats())
        );
        prop_assert!(lending.lent_count >= 1);
    }
}

/// The property test's hand-overs really happen: a fixed sequence lends, takes back on a typed
/// receive, and lends again, with the ring doing the refusing at both bounds meanwhile.
#[test]
fn a_fixed_sequence_crosses_every_hand_over() {
    let ops = [
        Op::Send {
            who: 1,
            len: 30,
            mtype: 1,
        },
        Op::Send {
            who: 1,
            len: 30,
            mtype: 2,
        },
        // Past the byte bound (60), in the ring.
        Op::Send {
            who: 1,
            len: 1,
            mtype: 1,
        },
        Op::Recv { who: 0 },
        Op::Send {
            who: 2,
            len: 0,
            mtype: 3,
        },
        Op::Send {
            who: 2,
            len: 0,
            mtype: 3,
        },
        // Past the message bound (3), in the ring.
        Op::Send {
            who: 2,
            len: 0,
            mtype: 3,
        },
        Op::RecvType(3),
        Op::Stat,
        Op::Recv { who: 0 },
        Op::Recv { who: 0 },
        Op::Recv { who: 0 },
        Op::Send {
            who: 1,
            len: 5,
            mtype: 1,
        },
        Op::Recv { who: 0 },
        Op::Stat,
    ];
    let mut lending = Side::new(true);
    let mut plain = Side::new(false);
    let mut answers = Vec::new();
    for (step, op) in ops.iter().enumerate() {
        let now = Timestamp::from_nanos(step as u64 + 1);
        let a = lending.apply(op, now);
        assert_eq!(a, plain.apply(op, now), "step {step}: {op:?}");
        answers.push(a);
    }
    assert_eq!(answers[2], Answer::SendFailed(SendErrorKind::Full));
    assert_eq!(answers[6], Answer::SendFailed(SendErrorKind::Full));
    assert!(lending.lent_count >= 3, "lent {} times", lending.lent_count);
}

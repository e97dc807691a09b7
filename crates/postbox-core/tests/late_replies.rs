//! A late reply is never delivered to a later call.
//!
//! Callers call servers (by pid, or through a shared mailbox) while, at random, servers take
//! requests and answer them late or never, callers stop waiting (a deadline: `cancel`), and
//! servers and callers die and are replaced. Every request carries its call's own number and
//! every answer echoes the request it answers, so an answer that reaches any call but its own is
//! seen: it is counted as misdelivered, as is an answer completing a ticket that no longer waits.
//! The run prints its totals; it must make at least 10,000 calls and misdeliver none, and the
//! engine's count of late replies must equal the answers it refused as `Revoked`.

use std::cell::Cell;
use std::collections::BTreeMap;

use postbox_core::{
    CallErrorKind, CallId, Capacity, Completion, Credentials, Dispatch, Engine, Limits,
    MailboxAttrs, MailboxId, Message, Pid, Receivers, Reply, ReplyError, Selector, Source, Ticket,
    Timestamp, Wait,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const CALLERS: usize = 3;
const SERVERS: usize = 3;
const CREDS: Credentials = Credentials::new(1000, 1000);

#[derive(Clone, Debug)]
enum Op {
    /// Caller `caller` calls server `server`, or with `shared` the mailbox all servers serve.
    Call {
        caller: usize,
        server: usize,
        shared: bool,
    },
    /// Server `server` takes a request if one is there.
    Take { server: usize, shared: bool },
    /// Server `server` answers one of the requests it took (`pick`), perhaps long ago.
    Answer {
        server: usize,
        pick: usize,
        fail: bool,
    },
    /// Caller `caller`'s deadline passes for one of its calls.
    Cancel { caller: usize, pick: usize },
    /// Server `server` dies and is replaced.
    KillServer { server: usize },
    /// Caller `caller` dies and is replaced.
    KillCaller { caller: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (0..CALLERS, 0..SERVERS, any::<bool>())
            .prop_map(|(caller, server, shared)| Op::Call { caller, server, shared }),
        10 => (0..SERVERS, any::<bool>()).prop_map(|(server, shared)| Op::Take { server, shared }),
        10 => (0..SERVERS, any::<usize>(), prop::bool::weighted(0.2))
            .prop_map(|(server, pick, fail)| Op::Answer { server, pick, fail }),
        5 => (0..CALLERS, any::<usize>()).prop_map(|(caller, pick)| Op::Cancel { caller, pick }),
        1 => (0..SERVERS).prop_map(|server| Op::KillServer { server }),
        1 => (0..CALLERS).prop_map(|caller| Op::KillCaller { caller }),
    ]
}

/// What one run counted.
#[derive(Default)]
struct Totals {
    calls: u64,
    answered: u64,
    late: u64,
    peer_gone: u64,
    misdelivered: u64,
}

struct World {
    engine: Engine,
    now: u64,
    callers: Vec<Pid>,
    servers: Vec<Pid>,
    /// The shared mailbox, and each server's handle on it (opened by every server).
    svc: MailboxId,
    /// Each waiting call: its caller and its number.
    waiting: BTreeMap<Ticket, (Pid, u64)>,
    /// The requests each server took: their call ids and the numbers they carry.
    held: BTreeMap<Pid, Vec<(CallId, u64)>>,
    next_number: u64,
    totals: Totals,
}

impl World {
    fn new() -> World {
        let mut engine = Engine::new(Limits::default());
        let now = Timestamp::from_nanos(1);
        let owner = engine.spawn(CREDS, now);
        let attrs = MailboxAttrs {
            capacity: Capacity::bounded(4, 1024),
            receivers: Receivers::Shared(Dispatch::FirstWaiting),
            ownership: postbox_core::Ownership::System,
            ..MailboxAttrs::default()
        };
        let svc = engine.create(owner, "svc", attrs, now).expect("create");
        let mut world = World {
            engine,
            now: 1,
            callers: Vec::new(),
            servers: Vec::new(),
            svc,
            waiting: BTreeMap::new(),
            held: BTreeMap::new(),
            next_number: 0,
            totals: Totals::default(),
        };
        for _ in 0..CALLERS {
            let caller = world.spawn();
            world.callers.push(caller);
        }
        for _ in 0..SERVERS {
            let server = world.spawn();
            world.servers.push(server);
        }
        world
    }

    fn now(&mut self) -> Timestamp {
        self.now += 1;
        Timestamp::from_nanos(self.now)
    }

    /// A new process with the shared mailbox open.
    fn spawn(&mut self) -> Pid {
        let now = self.now();
        let pid = self.engine.spawn(CREDS, now);
        self.engine.open(pid, "svc").expect("open");
        pid
    }

    fn step(&mut self, op: &Op) {
        let now = self.now();
        match *op {
            Op::Call {
                caller,
                server,
                shared,
            } => {
                let from = self.callers[caller];
                let number = self.next_number;
                self.next_number += 1;
                let request = Message::new(number.to_be_bytes().to_vec());
                let called = if shared {
                    self.engine.call(from, self.svc, request, Wait::Block, now)
                } else {
                    let to = self.servers[server];
                    self.engine.call_to(from, to, request, Wait::Block, now)
                };
                self.totals.calls += 1;
                if let Ok(ticket) = called {
                    self.waiting.insert(ticket, (from, number));
                }
            }
            Op::Take { server, shared } => {
                let pid = self.servers[server];
                let source = if shared {
                    Source::Mailbox(self.svc)
                } else {
                    Source::Inbox
                };
                let branch = [postbox_core::Branch::new(source, Selector::Any)];
                if let Ok(postbox_core::RecvOutcome::Received { message, .. }) =
                    self.engine.recv(pid, &branch, Wait::Try, now)
                {
                    let call = message.call().expect("only requests are sent here");
                    let number =
                        u64::from_be_bytes(message.payload()[..8].try_into().expect("eight bytes"));
                    self.held.entry(pid).or_default().push((call, number));
                }
            }
            Op::Answer { server, pick, fail } => {
                let pid = self.servers[server];
                let Some(held) = self.held.get_mut(&pid).filter(|held| !held.is_empty()) else {
                    return;
                };
                let (call, number) = held.remove(pick % held.len());
                let echo = number.to_be_bytes().to_vec();
                let reply = if fail {
                    Reply::Failure(echo.into())
                } else {
                    Reply::Answer(Message::new(echo))
                };
                match self.engine.reply(pid, call, reply, now) {
                    Ok(()) => {}
                    Err(ReplyError::Revoked) => self.totals.late += 1,
                    Err(other) => panic!("answer refused: {other}"),
                }
            }
            Op::Cancel { caller, pick } => {
                let from = self.callers[caller];
                let mine: Vec<Ticket> = self
                    .waiting
                    .iter()
                    .filter(|(_, (pid, _))| *pid == from)
                    .map(|(&ticket, _)| ticket)
                    .collect();
                if let Some(&ticket) = mine.get(pick % mine.len().max(1)) {
                    self.engine.cancel(ticket, now);
                    self.waiting.remove(&ticket);
                }
            }
            Op::KillServer { server } => {
                let pid = self.servers[server];
                self.engine.terminate(pid, now);
                self.held.remove(&pid);
                self.servers[server] = self.spawn();
            }
            Op::KillCaller { caller } => {
                let pid = self.callers[caller];
                self.engine.terminate(pid, now);
                self.waiting.retain(|_, (from, _)| *from != pid);
                self.callers[caller] = self.spawn();
            }
        }
        self.collect();
    }

    /// Every completion: an answer must carry its own call's number and complete a call that
    /// still waits.
    fn collect(&mut self) {
        while let Some((ticket, completion)) = self.engine.poll_completion() {
            let Some((_, number)) = self.waiting.remove(&ticket) else {
                // Only calls are made here: any completion is an answer to a call.
                self.totals.misdelivered += 1;
                continue;
            };
            let echoed = match completion {
                Completion::Replied(answer) => Some(answer.payload),
                Completion::CallFailed(error) if error.kind() == CallErrorKind::Failed => {
                    error.failure().cloned()
                }
                Completion::CallFailed(error) => {
                    if error.kind() == CallErrorKind::PeerGone {
                        self.totals.peer_gone += 1;
                    }
                    None
                }
                _ => {
                    self.totals.misdelivered += 1;
                    None
                }
            };
            if let Some(echoed) = echoed {
                self.totals.answered += 1;
                if echoed.as_ref() != number.to_be_bytes() {
                    self.totals.misdelivered += 1;
                }
            }
        }
    }
}

#[test]
fn a_late_reply_is_never_delivered_to_a_later_call() {
    let totals = Cell::new(Totals::default());
    let mut runner = TestRunner::new(Config {
        cases: 80,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&prop::collection::vec(op(), 400..800), |ops| {
        let mut world = World::new();
        for op in &ops {
            world.step(op);
        }
        let late = world.engine.stats().total_late_replies;
        prop_assert_eq!(late, world.totals.late, "late replies counted");
        prop_assert_eq!(world.totals.misdelivered, 0);
        let mut sum = totals.take();
        sum.calls += world.totals.calls;
        sum.answered += world.totals.answered;
        sum.late += world.totals.late;
        sum.peer_gone += world.totals.peer_gone;
        totals.set(sum);
        Ok(())
    });
    let totals = totals.take();
    println!(
        "{} calls: {} answered, {} late replies dropped, {} failed by a server's death, {} \
         misdelivered",
        totals.calls, totals.answered, totals.late, totals.peer_gone, totals.misdelivered
    );
    result.expect("no answer reaches another call");
    assert!(totals.calls >= 10_000, "only {} calls", totals.calls);
    assert!(totals.late > 0 && totals.peer_gone > 0 && totals.answered > 0);
}

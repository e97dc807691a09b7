//! Carrying out a request on the engine: the one place where requests meet the engine, shared by
//! the in-process transport and the daemon, so both answer every request identically.

use postbox_core::{
    AdminError, Branch, CallError, CallErrorKind, Cancelled, Completion, Delivery, Engine, Message,
    Pid, ProducerSeq, RecvError, RecvOutcome, SelectError, Selector, SendError, SendErrorKind,
    SendOutcome, Source, Ticket, Timestamp, Wait,
};

use crate::node_links::NodeLinks;
use crate::operation::{MAX_BATCH, MAX_BRANCHES, RECEIVED_OVERHEAD, Request, Response, Target};

/// What carrying out a request gave.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Applied {
    /// The answer, now.
    Now(Response),
    /// The request waits in the engine under this ticket; its answer is
    /// [`completion_response`] of the ticket's completion, or [`cancelled_response`] if the
    /// driver cancels it.
    Blocked(Ticket),
    /// A send batch waits: some of its messages wait in the engine, each under its own ticket,
    /// in batch order. [`EngineDriver`](crate::EngineDriver) turns their completions into the
    /// batch's one answer.
    BlockedBatch(BatchWait),
}

/// A send batch some of whose messages wait in the engine.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BatchWait {
    /// Messages sent before the first one had to wait.
    pub sent: u32,
    /// From the first message that waited on, in batch order: its ticket, or `None` for one
    /// that was sent at once.
    pub waiting: Vec<Option<Ticket>>,
    /// The failure that stopped the batch while the rest were being sent, with the messages
    /// after the failed one.
    pub stopped: Option<(SendError, Vec<Message>)>,
}

/// Carries out `request` for process `pid` at time `now`.
pub fn apply(engine: &mut Engine, pid: Pid, request: Request, now: Timestamp) -> Applied {
    let done = |result: Result<(), AdminError>| match result {
        Ok(()) => Response::Done,
        Err(error) => Response::AdminFailed(error),
    };
    let response = match request {
        Request::Send {
            target,
            message,
            delivery,
            wait,
        } => {
            let result = match target {
                Target::Process(to) => engine.send_to(pid, to, message, delivery, wait, now),
                Target::Mailbox(id) => engine.send(pid, id, message, delivery, wait, now),
            };
            match result {
                Ok(SendOutcome::Sent { receiver }) => Response::Sent { receiver },
                Ok(SendOutcome::Blocked(ticket)) => return Applied::Blocked(ticket),
                Err(error) => Response::SendFailed(error),
            }
        }
        Request::ProducerSend {
            target,
            message,
            delivery,
            wait,
            producer,
            seq,
        } => {
            let stamp = ProducerSeq::new(producer, seq);
            let result = match target {
                Target::Process(to) => {
                    engine.send_to_idempotent(pid, to, message, delivery, wait, now, stamp)
                }
                Target::Mailbox(id) => {
                    engine.send_idempotent(pid, id, message, delivery, wait, now, stamp)
                }
            };
            match result {
                Ok(SendOutcome::Sent { receiver }) => Response::Sent { receiver },
                Ok(SendOutcome::Blocked(ticket)) => return Applied::Blocked(ticket),
                Err(error) => Response::SendFailed(error),
            }
        }
        Request::Recv { branches, .. } if branches.len() > MAX_BRANCHES => {
            let error = SelectError {
                branch: MAX_BRANCHES,
                error: RecvError::Protocol,
            };
            Response::RecvFailed(error)
        }
        Request::Recv { branches, wait } => match engine.recv(pid, &branches, wait, now) {
            Ok(RecvOutcome::Received { branch, message }) => received(branch, message),
            Ok(RecvOutcome::Blocked(ticket)) => return Applied::Blocked(ticket),
            Err(error) => Response::RecvFailed(error),
        },
        Request::Create { name, attrs } => match engine.create(pid, &name, attrs, now) {
            Ok(mailbox) => Response::Opened {
                mailbox,
                created: true,
            },
            Err(error) => Response::OpenFailed(error),
        },
        Request::Open { name } => match engine.open(pid, &name) {
            Ok(mailbox) => Response::Opened {
                mailbox,
                created: false,
            },
            Err(error) => Response::OpenFailed(error),
        },
        Request::OpenOrCreate { name, attrs } => {
            match engine.open_or_create(pid, &name, attrs, now) {
                Ok((mailbox, created)) => Response::Opened { mailbox, created },
                Err(error) => Response::OpenFailed(error),
            }
        }
        Request::Close { mailbox } => {
            engine.close(pid, mailbox, now);
            Response::Done
        }
        Request::Delete { mailbox } => done(engine.delete(pid, mailbox)),
        Request::SetMode { mailbox, mode } => done(engine.set_mode(pid, mailbox, mode, now)),
        Request::SetMaxBytes { mailbox, bytes } => {
            let bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
            done(engine.set_max_bytes(pid, mailbox, bytes, now))
        }
        Request::SetOwner { mailbox, owner } => done(engine.set_owner(pid, mailbox, owner, now)),
        Request::GrantReceive { mailbox, grantee } => {
            done(engine.grant_receive(pid, mailbox, grantee, now))
        }
        Request::RevokeReceive { mailbox, grantee } => {
            done(engine.revoke_receive(pid, mailbox, grantee, now))
        }
        Request::Stat { mailbox } => match engine.stat(pid, mailbox) {
            Ok(stats) => Response::Stat(Box::new(stats)),
            Err(error) => Response::AdminFailed(error),
        },
        Request::ListMailboxes => match engine.list(pid) {
            Ok(all) => Response::Mailboxes(all),
            Err(error) => Response::AdminFailed(error),
        },
        Request::Register { name } => done(engine.register(pid, &name)),
        Request::Whereis { name } => Response::Whereis(engine.whereis(&name)),
        Request::Monitor { target } => done(engine.monitor(pid, target, now)),
        Request::Demonitor { target } => done(engine.demonitor(pid, target)),
        Request::ListProcesses => Response::Processes(engine.processes()),
        Request::NodeStats => Response::NodeStats(engine.stats()),
        Request::SendBatch {
            target,
            messages,
            wait,
        } => return send_batch(engine, pid, target, messages, wait, now),
        Request::RecvMany {
            branch,
            max_messages,
            max_bytes,
            wait,
        } => {
            let many = Many::new(branch, max_messages, max_bytes, wait, Take::Outright);
            return recv_many(engine, pid, many, now);
        }
        Request::Lease {
            branch,
            max_messages,
            max_bytes,
            wait,
        } => {
            let many = Many::new(branch, max_messages, max_bytes, wait, Take::Leased);
            return recv_many(engine, pid, many, now);
        }
        Request::Settle { leases, .. } if leases.len() > MAX_BATCH => {
            Response::RecvFailed(SelectError {
                branch: 0,
                error: RecvError::Protocol,
            })
        }
        Request::Settle {
            source,
            leases,
            settlement,
        } => match engine.settle(pid, source, &leases, settlement, now) {
            // At most MAX_BATCH, far inside u32.
            Ok(count) => Response::Settled(u32::try_from(count).unwrap_or(u32::MAX)),
            Err(error) => Response::RecvFailed(SelectError { branch: 0, error }),
        },
        Request::Peek {
            source,
            selector,
            max_messages,
            max_bytes,
        } => peek(engine, pid, source, selector, max_messages, max_bytes),
        // Node links are the daemon's, which answers this itself; the engine alone has none.
        Request::NodeLinks => Response::NodeLinks(NodeLinks::default()),
        // An engine alone links with no node; a daemon with node links routes these itself.
        Request::AtNode { .. } => Response::AdminFailed(AdminError::NotFound),
        // Rings are the daemon's, which answers this itself when it lends them; an engine alone
        // lends none.
        Request::LendRing { .. } => Response::RingLent(None),
        Request::Purge { mailbox } => match engine.purge(pid, mailbox, now) {
            Ok(count) => Response::Purged(u64::try_from(count).unwrap_or(u64::MAX)),
            Err(error) => Response::AdminFailed(error),
        },
        Request::Call {
            target,
            request,
            wait,
        } => {
            let result = match target {
                Target::Process(to) => engine.call_to(pid, to, request, wait, now),
                Target::Mailbox(id) => engine.call(pid, id, request, wait, now),
            };
            match result {
                Ok(ticket) => return Applied::Blocked(ticket),
                Err(error) => Response::CallFailed(error),
            }
        }
        Request::Reply { call, reply } => match engine.reply(pid, call, reply, now) {
            Ok(()) => Response::Done,
            Err(error) => Response::ReplyFailed(error),
        },
    };
    Applied::Now(response)
}

/// Sends `messages` in order as single queued sends would be, until one fails: without waiting
/// while each fits, then — once one must wait and `wait` allows it — that one and the rest
/// waiting in order behind it.
fn send_batch(
    engine: &mut Engine,
    pid: Pid,
    target: Target,
    messages: Vec<Message>,
    wait: Wait,
    now: Timestamp,
) -> Applied {
    if messages.len() > MAX_BATCH {
        return Applied::Now(Response::SentBatch {
            sent: 0,
            failed: Some(SendError::without_message(SendErrorKind::Protocol)),
            unsent: messages,
        });
    }
    let mut send = |message, wait| match target {
        Target::Process(to) => engine.send_to(pid, to, message, Delivery::Queued, wait, now),
        Target::Mailbox(id) => engine.send(pid, id, message, Delivery::Queued, wait, now),
    };
    let mut sent = 0;
    let mut waiting: Vec<Option<Ticket>> = Vec::new();
    let mut stopped = None;
    let mut rest = messages.into_iter();
    while let Some(message) = rest.next() {
        let first_to_wait = waiting.is_empty();
        let mut result = send(
            message,
            if first_to_wait {
                Wait::Try
            } else {
                Wait::Block
            },
        );
        if first_to_wait && wait == Wait::Block {
            result = match result {
                Err(full) if full.kind() == SendErrorKind::Full => match full.into_message() {
                    Some(message) => send(message, Wait::Block),
                    None => Err(SendError::without_message(SendErrorKind::Full)),
                },
                other => other,
            };
        }
        match result {
            Ok(SendOutcome::Sent { .. }) if waiting.is_empty() => sent += 1,
            Ok(SendOutcome::Sent { .. }) => waiting.push(None),
            Ok(SendOutcome::Blocked(ticket)) => waiting.push(Some(ticket)),
            Err(error) => {
                stopped = Some((error, rest.collect()));
                break;
            }
        }
    }
    if waiting.is_empty() {
        let (failed, unsent) = match stopped {
            Some((error, unsent)) => (Some(error), unsent),
            None => (None, Vec::new()),
        };
        return Applied::Now(Response::SentBatch {
            sent,
            failed,
            unsent,
        });
    }
    Applied::BlockedBatch(BatchWait {
        sent,
        waiting,
        stopped,
    })
}

/// How `recv_many` takes its messages.
#[derive(Clone, Copy)]
enum Take {
    Outright,
    Leased,
}

/// A receive of many (`RecvMany` or `Lease`), its limits in the engine's units.
struct Many {
    branch: Branch,
    max_messages: usize,
    max_bytes: usize,
    wait: Wait,
    take: Take,
}

impl Many {
    fn new(branch: Branch, max_messages: u32, max_bytes: u64, wait: Wait, take: Take) -> Many {
        Many {
            branch,
            max_messages: usize::try_from(max_messages).unwrap_or(usize::MAX),
            max_bytes: usize::try_from(max_bytes).unwrap_or(usize::MAX),
            wait,
            take,
        }
    }
}

/// Takes the first message as a receive with `wait`, then as many more as are ready and fit.
fn recv_many(engine: &mut Engine, pid: Pid, many: Many, now: Timestamp) -> Applied {
    let Many {
        branch,
        max_messages,
        max_bytes,
        wait,
        take,
    } = many;
    if max_messages == 0 || max_messages > MAX_BATCH {
        let error = SelectError {
            branch: 0,
            error: RecvError::Protocol,
        };
        return Applied::Now(Response::RecvFailed(error));
    }
    let branches = [branch];
    let receive = |engine: &mut Engine, wait| match take {
        Take::Outright => engine.recv(pid, &branches, wait, now),
        Take::Leased => engine.lease(pid, &branches, wait, now),
    };
    let first = match receive(engine, wait) {
        Ok(RecvOutcome::Received { message, .. }) => message,
        Ok(RecvOutcome::Blocked(ticket)) => return Applied::Blocked(ticket),
        Err(error) => return Applied::Now(Response::RecvFailed(error)),
    };
    let mut budget = max_bytes.saturating_sub(first.message.len() + RECEIVED_OVERHEAD);
    let mut taken = vec![first];
    while taken.len() < max_messages {
        let fits = engine
            .next_len(pid, &branches[0])
            .is_some_and(|len| len + RECEIVED_OVERHEAD <= budget);
        if !fits {
            break;
        }
        match receive(engine, Wait::Try) {
            Ok(RecvOutcome::Received { message, .. }) => {
                budget -= message.message.len() + RECEIVED_OVERHEAD;
                taken.push(message);
            }
            Ok(RecvOutcome::Blocked(_)) | Err(_) => break,
        }
    }
    Applied::Now(Response::ReceivedMany(taken))
}

/// Copies of up to `max_messages` messages a receive of `selector` on `source` would take, the
/// first always, the others while they fit in `max_bytes` beyond it.
fn peek(
    engine: &Engine,
    pid: Pid,
    source: Source,
    selector: Selector,
    max_messages: u32,
    max_bytes: u64,
) -> Response {
    let max_messages = usize::try_from(max_messages).unwrap_or(usize::MAX);
    if max_messages == 0 || max_messages > MAX_BATCH {
        return Response::AdminFailed(AdminError::Protocol);
    }
    let mut seen = match engine.peek(pid, source, selector, max_messages) {
        Ok(seen) => seen,
        Err(error) => return Response::AdminFailed(error),
    };
    let mut budget = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    let fitting = seen
        .iter()
        .enumerate()
        .take_while(|(index, message)| {
            let cost = message.message.len() + RECEIVED_OVERHEAD;
            let fits = *index == 0 || cost <= budget;
            budget = budget.saturating_sub(cost);
            fits
        })
        .count();
    seen.truncate(fitting);
    Response::Peeked(seen)
}

fn received(branch: usize, message: postbox_core::Received) -> Response {
    // Branch indexes are below MAX_BRANCHES, far inside u32.
    Response::Received {
        branch: u32::try_from(branch).unwrap_or(u32::MAX),
        message,
    }
}

/// The answer to a blocked request, from its ticket's completion.
pub fn completion_response(completion: Completion) -> Response {
    match completion {
        Completion::Sent { receiver } => Response::Sent { receiver },
        Completion::SendFailed(error) => Response::SendFailed(error),
        Completion::Received { branch, message } => received(branch, message),
        Completion::RecvFailed(error) => Response::RecvFailed(error),
        Completion::Replied(answer) => Response::Replied(answer),
        Completion::CallFailed(error) => Response::CallFailed(error),
    }
}

/// The answer to a blocked request the driver withdrew because its deadline passed: `Timeout`,
/// with a send's message handed back.
pub fn cancelled_response(cancelled: Cancelled) -> Response {
    match cancelled {
        Cancelled::Send(message) => {
            Response::SendFailed(SendError::new(SendErrorKind::Timeout, message))
        }
        Cancelled::Recv => Response::RecvFailed(SelectError {
            branch: 0,
            error: RecvError::Timeout,
        }),
        Cancelled::Call(request) => {
            Response::CallFailed(call_error(CallErrorKind::Timeout, request))
        }
    }
}

/// A call's failure, its request handed back when there is one.
pub(crate) fn call_error(kind: CallErrorKind, request: Option<Message>) -> CallError {
    match request {
        Some(request) => CallError::new(kind, request),
        None => CallError::without_message(kind),
    }
}

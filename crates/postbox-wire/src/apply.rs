//! Carrying out a request on the engine: the one place where requests meet the engine, shared by
//! the in-process transport and the daemon, so both answer every request identically.

use postbox_core::{
    AdminError, Cancelled, Completion, Engine, Pid, RecvError, RecvOutcome, SelectError, SendError,
    SendErrorKind, SendOutcome, Ticket, Timestamp,
};

use crate::operation::{MAX_BRANCHES, Request, Response, Target};

/// What carrying out a request gave.
#[derive(Clone, PartialEq, Eq, Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "returned by value once per request and never stored; boxing would allocate per request"
)]
pub enum Applied {
    /// The answer, now.
    Now(Response),
    /// The request waits in the engine under this ticket; its answer is
    /// [`completion_response`] of the ticket's completion, or [`cancelled_response`] if the
    /// driver cancels it.
    Blocked(Ticket),
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
            Ok(stats) => Response::Stat(stats),
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
    };
    Applied::Now(response)
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
    }
}

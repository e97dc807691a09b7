//! Shared setup for the engine behaviour tests: a user, timestamps, and one-line wrappers around
//! the engine calls the tests repeat.

#![allow(dead_code)]

use postbox_core::{
    Branch, Completion, Credentials, Delivery, Engine, MailboxAttrs, MailboxId, Message, Pid,
    Received, RecvError, RecvOutcome, Selector, SendError, SendOutcome, Source, Ticket, Timestamp,
    Wait,
};

/// The user most test processes run as.
pub(crate) const USER: Credentials = Credentials::new(1000, 1000);

/// The time `n` nanoseconds after the epoch.
pub(crate) fn at(n: u64) -> Timestamp {
    Timestamp::from_nanos(n)
}

/// A process running as [`USER`].
pub(crate) fn spawn(engine: &mut Engine) -> Pid {
    engine.spawn(USER, Timestamp::ZERO)
}

/// Creates `name` with `attrs` for `owner`, which must succeed.
pub(crate) fn create(
    engine: &mut Engine,
    owner: Pid,
    name: &str,
    attrs: MailboxAttrs,
) -> MailboxId {
    engine
        .create(owner, name, attrs, Timestamp::ZERO)
        .expect("create")
}

/// A branch on `mailbox` with `selector`.
pub(crate) fn on(mailbox: MailboxId, selector: Selector) -> Branch {
    Branch::new(Source::Mailbox(mailbox), selector)
}

/// A branch on the caller's inbox with `selector`.
pub(crate) fn inbox(selector: Selector) -> Branch {
    Branch::new(Source::Inbox, selector)
}

/// A blocking, queued send that must not fail.
pub(crate) fn send(
    engine: &mut Engine,
    from: Pid,
    mailbox: MailboxId,
    message: impl Into<Message>,
) -> SendOutcome {
    engine
        .send(
            from,
            mailbox,
            message.into(),
            Delivery::Queued,
            Wait::Block,
            Timestamp::ZERO,
        )
        .expect("send")
}

/// A non-blocking, queued send.
pub(crate) fn try_send(
    engine: &mut Engine,
    from: Pid,
    mailbox: MailboxId,
    message: impl Into<Message>,
) -> Result<SendOutcome, SendError> {
    engine.send(
        from,
        mailbox,
        message.into(),
        Delivery::Queued,
        Wait::Try,
        Timestamp::ZERO,
    )
}

/// A blocking send with `delivery` that must wait: its ticket.
pub(crate) fn send_blocked(
    engine: &mut Engine,
    from: Pid,
    mailbox: MailboxId,
    message: impl Into<Message>,
    delivery: Delivery,
) -> Ticket {
    match engine.send(
        from,
        mailbox,
        message.into(),
        delivery,
        Wait::Block,
        Timestamp::ZERO,
    ) {
        Ok(SendOutcome::Blocked(ticket)) => ticket,
        other => panic!("expected the send to wait, got {other:?}"),
    }
}

/// A blocking, queued direct send that must not fail.
pub(crate) fn send_to(
    engine: &mut Engine,
    from: Pid,
    to: Pid,
    message: impl Into<Message>,
) -> SendOutcome {
    engine
        .send_to(
            from,
            to,
            message.into(),
            Delivery::Queued,
            Wait::Block,
            Timestamp::ZERO,
        )
        .expect("send_to")
}

/// A non-blocking receive on `branches`: the message, or the error.
pub(crate) fn try_recv_on(
    engine: &mut Engine,
    pid: Pid,
    branches: &[Branch],
) -> Result<(usize, Received), (usize, RecvError)> {
    match engine.recv(pid, branches, Wait::Try, Timestamp::ZERO) {
        Ok(RecvOutcome::Received { branch, message }) => Ok((branch, message)),
        Ok(RecvOutcome::Blocked(ticket)) => panic!("Wait::Try blocked with {ticket:?}"),
        Err(error) => Err((error.branch, error.error)),
    }
}

/// A non-blocking receive on one branch.
pub(crate) fn try_recv(
    engine: &mut Engine,
    pid: Pid,
    branch: Branch,
) -> Result<Received, RecvError> {
    try_recv_on(engine, pid, &[branch])
        .map(|(_, message)| message)
        .map_err(|(_, error)| error)
}

/// The payload of the message a non-blocking receive on `branch` must take.
pub(crate) fn take(engine: &mut Engine, pid: Pid, branch: Branch) -> Vec<u8> {
    payload(&try_recv(engine, pid, branch).expect("a message is ready"))
}

/// A blocking receive on `branches` that must wait: its ticket.
pub(crate) fn recv_blocked(engine: &mut Engine, pid: Pid, branches: &[Branch]) -> Ticket {
    match engine.recv(pid, branches, Wait::Block, Timestamp::ZERO) {
        Ok(RecvOutcome::Blocked(ticket)) => ticket,
        other => panic!("expected the receive to wait, got {other:?}"),
    }
}

/// Every completion produced so far, oldest first.
pub(crate) fn completions(engine: &mut Engine) -> Vec<(Ticket, Completion)> {
    std::iter::from_fn(|| engine.poll_completion()).collect()
}

/// The single completion produced so far, which must be for `ticket`.
pub(crate) fn only_completion(engine: &mut Engine, ticket: Ticket) -> Completion {
    let mut all = completions(engine);
    assert_eq!(all.len(), 1, "expected exactly one completion: {all:?}");
    let (done, completion) = all.pop().expect("one");
    assert_eq!(done, ticket, "the completion is for another ticket");
    completion
}

/// The branch and message of a `Received` completion.
pub(crate) fn received(completion: Completion) -> (usize, Received) {
    match completion {
        Completion::Received { branch, message } => (branch, message),
        other => panic!("expected a received message, got {other:?}"),
    }
}

/// The payload bytes of a received message.
pub(crate) fn payload(message: &Received) -> Vec<u8> {
    message.payload().to_vec()
}

/// The error of a `RecvFailed` completion, with its branch.
pub(crate) fn recv_failed(completion: Completion) -> (usize, RecvError) {
    match completion {
        Completion::RecvFailed(error) => (error.branch, error.error),
        other => panic!("expected a failed receive, got {other:?}"),
    }
}

/// The error of a `SendFailed` completion.
pub(crate) fn send_failed(completion: Completion) -> SendError {
    match completion {
        Completion::SendFailed(error) => error,
        other => panic!("expected a failed send, got {other:?}"),
    }
}

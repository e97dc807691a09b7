//! Calls: a request sent, taken by a server, and answered exactly once.
//!
//! A call is a send whose sender keeps waiting, under one ticket, until the answer comes. Its
//! request is a message of kind [`MessageKind::Request`](crate::MessageKind::Request), sent by the ordinary rules (size,
//! rights, room; a full mailbox makes the call's send phase wait), and taken by an ordinary
//! receive. The process that takes it holds the call's **reply right**: the engine lets that
//! process, and no other, answer once ([`Engine::reply`]). The right is revoked when the caller
//! stops waiting — its deadline passes ([`Engine::cancel`]) or it terminates — so a late answer
//! is dropped and counted, never delivered: call ids are never reused, and a revoked call's
//! answer has nowhere to go.
//!
//! The caller watches the server for the duration of the call: once a process holds the request,
//! its termination fails the call with `PeerGone` at once. Before that, the request shares the
//! fate of a queued message whose sender awaits a receipt: the mailbox deleted (`Gone`, or
//! `PeerGone` for an inbox whose process terminated) or purged / overflowed (`Dropped`) fails the
//! call with the request handed back, so no caller waits on a request that can no longer be taken.

use super::{Engine, Waiter, live};
use crate::mailbox::{End, Kind, Mailbox};
use crate::{
    CallError, CallErrorKind, CallId, Cancelled, Completion, Delivery, MailboxId, Message, Mode,
    Pid, Receivers, Reply, ReplyError, SendErrorKind, Ticket, Timestamp, Wait,
};

/// One call the engine still knows.
#[derive(Debug)]
pub(super) struct Call {
    /// The caller's waiting ticket; `None` once it stopped waiting (the right is revoked).
    ticket: Option<Ticket>,
    /// The process that took the request and holds the reply right.
    holder: Option<Pid>,
}

impl Engine {
    /// Calls the open mailbox `mailbox` from `from`: sends `request` and waits for the answer
    /// under the ticket returned. The ticket completes with [`Completion::Replied`] or
    /// [`Completion::CallFailed`]; cancelling it ([`Cancelled::Call`]) hands the request back
    /// while nobody took it, and revokes the reply right after.
    ///
    /// With [`Wait::Try`] the request must be queued or taken at once (`Full` otherwise); the
    /// answer is still awaited.
    ///
    /// # Errors
    ///
    /// Every failure hands the request back: as [`Engine::send`] (`Disconnected`, `Gone`,
    /// `PermissionDenied`, `Busy`, `PeerGone`, `InvalidType`, `TooLarge`, `WrongSize`, `Full`,
    /// `QuotaExceeded`), plus `NoResponders` when no live process but the caller holds a right
    /// to receive from the mailbox.
    pub fn call(
        &mut self,
        from: Pid,
        mailbox: MailboxId,
        request: Message,
        wait: Wait,
        now: Timestamp,
    ) -> Result<Ticket, CallError> {
        let Some(creds) = self.creds(from) else {
            return Err(CallError::new(CallErrorKind::Disconnected, request));
        };
        if !self.mailboxes.contains_key(&mailbox) {
            return Err(CallError::new(CallErrorKind::Gone, request));
        }
        if let Err(kind) = self.may_send(from, creds, mailbox) {
            return Err(CallError::new(kind.into(), request));
        }
        if self.mailboxes[&mailbox].is_broadcast() {
            // A request has exactly one server; a broadcast would make every member one.
            return Err(CallError::new(CallErrorKind::PermissionDenied, request));
        }
        if !self.has_responder(from, &self.mailboxes[&mailbox]) {
            return Err(CallError::new(CallErrorKind::NoResponders, request));
        }
        self.call_checked(from, mailbox, request, wait, now)
    }

    /// Calls the process `to`: its inbox receives the request. As [`Engine::call`].
    ///
    /// # Errors
    ///
    /// As [`Engine::call`], with `NotFound` (no such process ever existed) and `PeerGone` (it
    /// has terminated) instead of the mailbox's errors.
    pub fn call_to(
        &mut self,
        from: Pid,
        to: Pid,
        request: Message,
        wait: Wait,
        now: Timestamp,
    ) -> Result<Ticket, CallError> {
        if !self.processes.contains_key(&from) {
            return Err(CallError::new(CallErrorKind::Disconnected, request));
        }
        let inbox = match self.processes.get(&to) {
            Some(target) => target.inbox,
            None if self.has_terminated(to) => {
                return Err(CallError::new(CallErrorKind::PeerGone, request));
            }
            None => return Err(CallError::new(CallErrorKind::NotFound, request)),
        };
        self.call_checked(from, inbox, request, wait, now)
    }

    fn call_checked(
        &mut self,
        from: Pid,
        mailbox: MailboxId,
        request: Message,
        wait: Wait,
        now: Timestamp,
    ) -> Result<Ticket, CallError> {
        let ticket = self.new_ticket();
        let call = CallId::from_raw(self.next_call);
        self.next_call += 1;
        // Registered first: a receiver waiting now takes the request within the send, and
        // taking it makes it held under this call.
        self.waiters.insert(
            ticket,
            Waiter::Call {
                pid: from,
                call,
                mailbox,
                since: now,
            },
        );
        self.calls.insert(
            call,
            Call {
                ticket: Some(ticket),
                holder: None,
            },
        );
        let sent = self.send_checked(
            from,
            mailbox,
            request,
            Delivery::Receipt,
            wait,
            now,
            Some((ticket, call)),
        );
        match sent {
            Ok(_) => Ok(ticket),
            Err(error) => {
                self.waiters.remove(&ticket);
                self.calls.remove(&call);
                let kind = error.kind().into();
                Err(match error.into_message() {
                    Some(request) => CallError::new(kind, request),
                    None => CallError::without_message(kind),
                })
            }
        }
    }

    /// Answers the request of `call`, which `server` received: the caller's call returns the
    /// answer, or fails with [`CallErrorKind::Failed`] carrying a [`Reply::Failure`]'s bytes.
    /// Never waits.
    ///
    /// # Errors
    ///
    /// `Disconnected` (`server` is not a live process), `NoRight` (it did not receive this
    /// request, or answered it already), `Revoked` (the caller stopped waiting: the answer is
    /// dropped and counted in [`EngineStats::total_late_replies`](crate::EngineStats)),
    /// `TooLarge` / `InvalidType` (the answer breaks the engine's message rules; the right is
    /// kept).
    pub fn reply(
        &mut self,
        server: Pid,
        call: CallId,
        reply: Reply,
        _now: Timestamp,
    ) -> Result<(), ReplyError> {
        if !self.processes.contains_key(&server) {
            return Err(ReplyError::Disconnected);
        }
        let holds = self
            .calls
            .get(&call)
            .is_some_and(|held| held.holder == Some(server));
        if !holds {
            return Err(ReplyError::NoRight);
        }
        match &reply {
            Reply::Answer(answer) if answer.mtype < 1 => return Err(ReplyError::InvalidType),
            Reply::Answer(answer) if answer.len() > self.limits.max_message_size => {
                return Err(ReplyError::TooLarge);
            }
            Reply::Failure(bytes) if bytes.len() > self.limits.max_message_size => {
                return Err(ReplyError::TooLarge);
            }
            _ => {}
        }
        let held = self.calls.remove(&call).expect("checked above");
        if let Some(process) = self.processes.get_mut(&server) {
            process.holding.remove(&call);
        }
        let Some(ticket) = held.ticket else {
            self.total_late_replies += 1;
            return Err(ReplyError::Revoked);
        };
        self.waiters.remove(&ticket);
        let completion = match reply {
            Reply::Answer(answer) => Completion::Replied(answer),
            Reply::Failure(bytes) => Completion::CallFailed(CallError::failed(bytes)),
        };
        self.complete(ticket, completion);
        Ok(())
    }

    /// How many calls are known: waiting for an answer, or held by a server with a revoked right.
    pub fn calls_in_flight(&self) -> usize {
        self.calls.len()
    }

    /// The request of `call` was taken by `receiver`, which now holds the reply right.
    pub(super) fn hold(&mut self, call: CallId, receiver: Pid) {
        if let Some(held) = self.calls.get_mut(&call) {
            held.holder = Some(receiver);
        }
        if let Some(process) = self.processes.get_mut(&receiver) {
            process.holding.insert(call);
        }
    }

    /// The caller of `call` stops waiting under `ticket` (its deadline, or its termination): a
    /// request still waiting to be sent or queued in `mailbox` is withdrawn and handed back; a
    /// taken one's reply right is revoked. The caller admits `mailbox`'s waiting senders after.
    pub(super) fn withdraw_call(
        &mut self,
        ticket: Ticket,
        call: CallId,
        mailbox: MailboxId,
    ) -> Cancelled {
        self.waiters.remove(&ticket);
        if let Some(mb) = self.mailboxes.get_mut(&mailbox) {
            if let Some(index) = mb.blocked_senders.iter().position(|b| b.ticket == ticket) {
                let blocked = mb.blocked_senders.remove(index).expect("index is in range");
                self.release_waiting(&blocked.message);
                self.calls.remove(&call);
                return Cancelled::Call(Some(blocked.message));
            }
            if let Some(slot) = mb.queue.find_receipt(ticket) {
                let entry = self.remove_entry(mailbox, slot);
                // Withdrawn before anyone took it: it no longer counts as sent.
                let mb = live(&mut self.mailboxes, mailbox);
                mb.counters.sent -= 1;
                self.total_sent -= 1;
                self.calls.remove(&call);
                return Cancelled::Call(Some(entry.message));
            }
        }
        match self.calls.get_mut(&call) {
            Some(held) if held.holder.is_some() => held.ticket = None,
            _ => {
                self.calls.remove(&call);
            }
        }
        Cancelled::Call(None)
    }

    /// `holder` terminated holding these reply rights: their callers fail with `PeerGone` now.
    pub(super) fn drop_held_calls(&mut self, held: &std::collections::BTreeSet<CallId>) {
        for call in held {
            let Some(Call {
                ticket: Some(ticket),
                ..
            }) = self.calls.remove(call)
            else {
                continue;
            };
            self.waiters.remove(&ticket);
            let error = CallError::without_message(SendErrorKind::PeerGone.into());
            self.complete(ticket, Completion::CallFailed(error));
        }
    }

    /// Whether a live process other than `caller` may receive from `mb` now (NATS's "no
    /// responders" when none may): it has the mailbox open, its mode lets it read, and no other
    /// process holds the exclusive or pair receive right.
    fn has_responder(&self, caller: Pid, mb: &Mailbox) -> bool {
        if let Kind::Inbox(owner) = mb.kind {
            return self.processes.contains_key(&owner);
        }
        mb.opens.keys().any(|&pid| {
            let Some(process) = self.processes.get(&pid) else {
                return false;
            };
            let creds = process.creds;
            pid != caller
                && mb.attrs.mode.allows(creds, mb.owner_creds, Mode::READ)
                && match mb.attrs.receivers {
                    Receivers::Owner => mb.owns_or_granted(pid, creds),
                    Receivers::Exclusive => mb.exclusive.is_none_or(|holder| holder == pid),
                    Receivers::Shared(_) | Receivers::Broadcast => true,
                    Receivers::Pair => match mb.pair_receiver {
                        End::Vacant => true,
                        End::Held(holder) => holder == pid,
                        End::Departed => false,
                    },
                }
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::{
        Branch, CallErrorKind, Completion, Credentials, Engine, Limits, MailboxAttrs, Message,
        Receivers, RecvOutcome, Reply, ReplyError, Selector, Source, Ticket, Timestamp, Wait,
    };

    const NOW: Timestamp = Timestamp::ZERO;
    const USER: Credentials = Credentials::new(1000, 1000);

    fn take(engine: &mut Engine, server: crate::Pid, source: Source) -> crate::CallId {
        let branch = [Branch::new(source, Selector::Any)];
        match engine.recv(server, &branch, Wait::Try, NOW) {
            Ok(RecvOutcome::Received { message, .. }) => message.call().expect("a request"),
            other => panic!("no request: {other:?}"),
        }
    }

    fn completions(engine: &mut Engine) -> Vec<(Ticket, Completion)> {
        std::iter::from_fn(|| engine.poll_completion()).collect()
    }

    #[test]
    fn an_exclusive_right_the_caller_holds_leaves_no_responder() {
        let mut engine = Engine::new(Limits::default());
        let (owner, other, caller) = (
            engine.spawn(USER, NOW),
            engine.spawn(USER, NOW),
            engine.spawn(USER, NOW),
        );
        let attrs = MailboxAttrs {
            receivers: Receivers::Exclusive,
            ownership: crate::Ownership::System,
            ..MailboxAttrs::default()
        };
        let id = engine.create(owner, "x", attrs, NOW).expect("create");
        engine.close(owner, id, NOW);
        engine.open(caller, "x").expect("open");
        let alone = engine.call(caller, id, Message::new("q"), Wait::Block, NOW);
        assert_eq!(alone.unwrap_err().kind(), CallErrorKind::NoResponders);
        // The caller claims the exclusive right (its receive finds nothing); another opener
        // may then not receive, so it cannot answer either.
        let branch = [Branch::new(Source::Mailbox(id), Selector::Any)];
        assert!(engine.recv(caller, &branch, Wait::Try, NOW).is_err());
        engine.open(other, "x").expect("open");
        let held = engine.call(caller, id, Message::new("q"), Wait::Block, NOW);
        assert_eq!(held.unwrap_err().kind(), CallErrorKind::NoResponders);
        // Closing gives the right up: the other opener may take the request now.
        engine.close(caller, id, NOW);
        engine.open(caller, "x").expect("open");
        assert!(
            engine
                .call(caller, id, Message::new("q"), Wait::Block, NOW)
                .is_ok()
        );
        take(&mut engine, other, Source::Mailbox(id));
    }

    #[test]
    fn a_refused_answer_keeps_the_right() {
        let mut engine = Engine::new(Limits {
            max_message_size: 4,
            ..Limits::default()
        });
        let (server, caller) = (engine.spawn(USER, NOW), engine.spawn(USER, NOW));
        let ticket = engine
            .call_to(caller, server, Message::new("q"), Wait::Block, NOW)
            .expect("call");
        let call = take(&mut engine, server, Source::Inbox);
        let big = Reply::Answer(Message::new("too big"));
        assert_eq!(
            engine.reply(server, call, big, NOW),
            Err(ReplyError::TooLarge)
        );
        let untyped = Reply::Answer(Message::new("ok").with_type(0));
        assert_eq!(
            engine.reply(server, call, untyped, NOW),
            Err(ReplyError::InvalidType)
        );
        let answer = Reply::Answer(Message::new("ok"));
        assert_eq!(engine.reply(server, call, answer, NOW), Ok(()));
        assert_eq!(
            completions(&mut engine),
            [(ticket, Completion::Replied(Message::new("ok")))]
        );
        assert_eq!(engine.calls_in_flight(), 0);
    }

    #[test]
    fn a_server_dying_with_several_requests_fails_them_all() {
        let mut engine = Engine::new(Limits::default());
        let (server, a, b) = (
            engine.spawn(USER, NOW),
            engine.spawn(USER, NOW),
            engine.spawn(USER, NOW),
        );
        let first = engine.call_to(a, server, Message::new("1"), Wait::Block, NOW);
        let second = engine.call_to(b, server, Message::new("2"), Wait::Block, NOW);
        take(&mut engine, server, Source::Inbox);
        take(&mut engine, server, Source::Inbox);
        engine.terminate(server, NOW);
        let mut failed: Vec<(Ticket, CallErrorKind)> = completions(&mut engine)
            .into_iter()
            .map(|(ticket, completion)| match completion {
                Completion::CallFailed(error) => (ticket, error.kind()),
                other => panic!("{other:?}"),
            })
            .collect();
        failed.sort_by_key(|(ticket, _)| *ticket);
        let want = [
            (first.expect("call"), CallErrorKind::PeerGone),
            (second.expect("call"), CallErrorKind::PeerGone),
        ];
        assert_eq!(failed, want);
        assert_eq!(engine.calls_in_flight(), 0);
    }

    #[test]
    fn a_process_calling_itself_and_dying_leaves_nothing_behind() {
        let mut engine = Engine::new(Limits::default());
        let p = engine.spawn(USER, NOW);
        engine
            .call_to(p, p, Message::new("me"), Wait::Block, NOW)
            .expect("call");
        take(&mut engine, p, Source::Inbox);
        engine.terminate(p, NOW);
        assert!(
            completions(&mut engine).is_empty(),
            "nobody is left to tell"
        );
        assert_eq!(engine.calls_in_flight(), 0);
        assert_eq!(engine.stats().total_late_replies, 0);
    }
}

//! Receiving: from one source or from the first ready of several (select), and cancellation.

use smallvec::SmallVec;

use super::{Engine, Waiter, live};
use crate::mailbox::{BlockedSend, End, Kind, Taking, WaitingReceiver};
use crate::{
    Branch, Cancelled, Capacity, Credentials, MailboxId, Mode, Order, Pid, Received, Receivers,
    RecvError, RecvOutcome, SelectError, Selector, Source, Ticket, Timestamp, Wait,
};

impl Engine {
    /// Receives one message for `pid` from the first of `branches` that has a matching one
    /// (a plain receive is a select with one branch).
    ///
    /// Branches are tried in order; exactly one message is taken. With [`Wait::Block`] and nothing
    /// ready, the receive waits on every branch at once and returns a ticket; the first matching
    /// message on any branch completes it.
    ///
    /// # Errors
    ///
    /// A [`SelectError`] naming the branch: `Disconnected` (the caller is not a live process),
    /// `Gone`, `PermissionDenied` (mode, receive rights, or not open), `Busy` (exclusive or pair
    /// right held by another), `PeerGone` (a `From` selector's process, or a pair's sending end,
    /// has gone and nothing of it remains), `Empty` ([`Wait::Try`], or no branches at all).
    pub fn recv(
        &mut self,
        pid: Pid,
        branches: &[Branch],
        wait: Wait,
        now: Timestamp,
    ) -> Result<RecvOutcome, SelectError> {
        self.receive(pid, branches, wait, now, Taking::Outright)
    }

    /// [`Engine::recv`] and [`Engine::lease`]: they differ only in how the message is taken.
    pub(super) fn receive(
        &mut self,
        pid: Pid,
        branches: &[Branch],
        wait: Wait,
        now: Timestamp,
        taking: Taking,
    ) -> Result<RecvOutcome, SelectError> {
        let Some(process) = self.processes.get(&pid) else {
            return Err(SelectError {
                branch: 0,
                error: RecvError::Disconnected,
            });
        };
        let creds = process.creds;
        let inbox = process.inbox;
        // Most receives have one branch: keep them off the heap.
        let mut sources: SmallVec<[MailboxId; 4]> = SmallVec::with_capacity(branches.len());
        for (index, branch) in branches.iter().enumerate() {
            let mailbox = match branch.source {
                Source::Inbox => inbox,
                Source::Mailbox(id) => id,
            };
            let fail = |error| SelectError {
                branch: index,
                error,
            };
            if !self.mailboxes.contains_key(&mailbox) {
                return Err(fail(RecvError::Gone));
            }
            if taking == Taking::Leased && self.mailboxes[&mailbox].is_broadcast() {
                // A member's copy has no shared queue to go back to.
                return Err(fail(RecvError::PermissionDenied));
            }
            self.may_receive(pid, creds, mailbox).map_err(fail)?;
            sources.push(mailbox);
        }
        for (index, (&mailbox, branch)) in sources.iter().zip(branches).enumerate() {
            if let Some(message) = self.take_now(pid, mailbox, branch.selector, now, taking) {
                return Ok(RecvOutcome::Received {
                    branch: index,
                    message,
                });
            }
        }
        for (index, (&mailbox, branch)) in sources.iter().zip(branches).enumerate() {
            if let Some(error) = self.never_ready(mailbox, branch.selector) {
                return Err(SelectError {
                    branch: index,
                    error,
                });
            }
        }
        if wait == Wait::Try || branches.is_empty() {
            return Err(SelectError {
                branch: 0,
                error: RecvError::Empty,
            });
        }
        let ticket = self.new_ticket();
        let mut from = Vec::new();
        for (index, (&mailbox, branch)) in sources.iter().zip(branches).enumerate() {
            let selector = branch.selector;
            let waiter = WaitingReceiver {
                ticket,
                pid,
                selector,
                branch: index,
                taking,
            };
            live(&mut self.mailboxes, mailbox).receivers.push(waiter);
            if let Selector::From(sender) = selector {
                self.from_index
                    .entry(sender)
                    .or_default()
                    .push((ticket, index));
                from.push(sender);
            }
        }
        sources.sort_unstable();
        sources.dedup();
        self.waiters.insert(
            ticket,
            Waiter::Recv {
                pid,
                mailboxes: sources.into_vec(),
                from,
                since: now,
            },
        );
        Ok(RecvOutcome::Blocked(ticket))
    }

    /// Cancels a waiting ticket, typically because the driver's deadline passed.
    ///
    /// Returns what the operation gives back — for a send, its message, which no receiver took —
    /// or `None` when the ticket is not waiting (it completed, failed, or never existed).
    pub fn cancel(&mut self, ticket: Ticket, now: Timestamp) -> Option<Cancelled> {
        match *self.waiters.get(&ticket)? {
            Waiter::Recv { .. } => {
                self.forget_recv_waiter(ticket);
                Some(Cancelled::Recv)
            }
            Waiter::Send { mailbox, .. } => {
                self.waiters.remove(&ticket);
                let mb = live(&mut self.mailboxes, mailbox);
                let index = mb.blocked_senders.iter().position(|b| b.ticket == ticket)?;
                let blocked = mb.blocked_senders.remove(index).expect("index is in range");
                self.release_waiting(&blocked.message);
                self.admit_waiting_senders(mailbox, now);
                Some(Cancelled::Send(blocked.message))
            }
            Waiter::Receipt { mailbox, .. } => {
                self.waiters.remove(&ticket);
                if self.mailboxes[&mailbox].is_broadcast() {
                    let message = self.withdraw_broadcast(mailbox, ticket)?;
                    self.admit_waiting_senders(mailbox, now);
                    return Some(Cancelled::Send(message));
                }
                let slot = self.mailboxes[&mailbox].queue.find_receipt(ticket)?;
                let entry = self.remove_entry(mailbox, slot);
                // Withdrawn before anyone took it: it no longer counts as sent.
                let mb = live(&mut self.mailboxes, mailbox);
                mb.counters.sent -= 1;
                self.total_sent -= 1;
                self.admit_waiting_senders(mailbox, now);
                Some(Cancelled::Send(entry.message))
            }
            Waiter::Call { call, mailbox, .. } => {
                let cancelled = self.withdraw_call(ticket, call, mailbox);
                self.admit_waiting_senders(mailbox, now);
                Some(cancelled)
            }
        }
    }

    /// Checks `pid`'s right to receive from `mailbox`, claiming an exclusive or pair right.
    fn may_receive(
        &mut self,
        pid: Pid,
        creds: Credentials,
        mailbox: MailboxId,
    ) -> Result<(), RecvError> {
        let mb = live(&mut self.mailboxes, mailbox);
        if let Kind::Inbox(owner) = mb.kind {
            return if owner == pid {
                Ok(())
            } else {
                Err(RecvError::PermissionDenied)
            };
        }
        if !mb.opens.contains_key(&pid) || !mb.attrs.mode.allows(creds, mb.owner_creds, Mode::READ)
        {
            return Err(RecvError::PermissionDenied);
        }
        match mb.attrs.receivers {
            Receivers::Owner => {
                if mb.owns_or_granted(pid, creds) {
                    Ok(())
                } else {
                    Err(RecvError::PermissionDenied)
                }
            }
            Receivers::Exclusive => match mb.exclusive {
                None => {
                    mb.exclusive = Some(pid);
                    Ok(())
                }
                Some(holder) if holder == pid => Ok(()),
                Some(_) => Err(RecvError::Busy),
            },
            Receivers::Shared(_) => Ok(()),
            Receivers::Broadcast => {
                mb.members.join(pid, mb.attrs.order);
                Ok(())
            }
            Receivers::Pair => match mb.pair_receiver {
                End::Vacant => {
                    mb.pair_receiver = End::Held(pid);
                    Ok(())
                }
                End::Held(holder) if holder == pid => Ok(()),
                End::Held(_) | End::Departed => Err(RecvError::Busy),
            },
        }
    }

    /// Takes the message `selector` picks from `mailbox` now, if there is one: from the queue or,
    /// with zero capacity, from a waiting sender (whose send then completes).
    fn take_now(
        &mut self,
        pid: Pid,
        mailbox: MailboxId,
        selector: Selector,
        now: Timestamp,
        taking: Taking,
    ) -> Option<Received> {
        let mb = &self.mailboxes[&mailbox];
        if mb.is_broadcast() {
            return self.take_broadcast(pid, mailbox, selector, now);
        }
        if let Some(slot) = mb.queue.find(selector) {
            let entry = self.remove_entry(mailbox, slot);
            let message = self.hand_over(mailbox, pid, entry, now, taking);
            self.admit_waiting_senders(mailbox, now);
            return Some(message);
        }
        if mb.attrs.capacity != Capacity::Zero {
            return None;
        }
        let index = pick_waiting_sender(&mb.blocked_senders, selector, mb.attrs.order)?;
        let mb = live(&mut self.mailboxes, mailbox);
        let blocked = mb.blocked_senders.remove(index).expect("index is in range");
        self.release_waiting(&blocked.message);
        self.receipt_taken(blocked.ticket, pid);
        let entry = self.accept(
            mailbox,
            blocked.sender,
            blocked.message,
            blocked.sent_at,
            None,
            blocked.kind,
        );
        if let Some(stamp) = blocked.stamp {
            self.record_producer(mailbox, stamp, Some(pid));
        }
        // A rendezvous is complete once the receiver has the message, so there is nothing to
        // lease: the message is taken outright.
        Some(self.hand_over(mailbox, pid, entry, now, Taking::Outright))
    }

    /// The payload length of the message a receive of `branch` by `pid` would take now, if one is
    /// ready — without taking it or checking the right to (the receive itself does), so that a
    /// driver taking several messages into one answer can stop before one that would not fit.
    pub fn next_len(&self, pid: Pid, branch: &Branch) -> Option<usize> {
        let mailbox = match branch.source {
            Source::Inbox => self.processes.get(&pid)?.inbox,
            Source::Mailbox(id) => id,
        };
        let mb = self.mailboxes.get(&mailbox)?;
        if mb.is_broadcast() {
            let backlog = mb.members.backlog(pid)?;
            return Some(backlog.entry(backlog.find(branch.selector)?).message.len());
        }
        if let Some(slot) = mb.queue.find(branch.selector) {
            return Some(mb.queue.entry(slot).message.len());
        }
        if mb.attrs.capacity != Capacity::Zero {
            return None;
        }
        let index = pick_waiting_sender(&mb.blocked_senders, branch.selector, mb.attrs.order)?;
        Some(mb.blocked_senders.get(index)?.message.len())
    }

    /// Why a receive on `mailbox` with `selector` can never be satisfied, when nothing matches now.
    fn never_ready(&self, mailbox: MailboxId, selector: Selector) -> Option<RecvError> {
        if let Selector::From(sender) = selector {
            if self.has_terminated(sender) {
                return Some(RecvError::PeerGone);
            }
        }
        let mb = &self.mailboxes[&mailbox];
        let sender_left = mb.attrs.receivers == Receivers::Pair && mb.pair_sender == End::Departed;
        (sender_left && mb.blocked_senders.is_empty()).then_some(RecvError::PeerGone)
    }
}

/// The waiting rendezvous sender a receive with `selector` takes: in queue order (by priority
/// first when the mailbox is priority-ordered, then longest-waiting), and for `TypeAtMost` the
/// lowest type first.
fn pick_waiting_sender(
    senders: &std::collections::VecDeque<BlockedSend>,
    selector: Selector,
    order: Order,
) -> Option<usize> {
    senders
        .iter()
        .enumerate()
        .filter(|(_, b)| selector.matches(b.message.mtype, b.sender))
        .min_by_key(|(index, b)| {
            let lowest_type = match selector {
                Selector::TypeAtMost(_) => b.message.mtype,
                _ => 0,
            };
            let priority_rank = match order {
                Order::Priority => u16::MAX - b.message.priority,
                Order::Fifo => 0,
            };
            (lowest_type, priority_rank, *index)
        })
        .map(|(index, _)| index)
}

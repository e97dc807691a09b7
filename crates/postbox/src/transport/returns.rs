//! Handing back what a dropped receive took: a process's returns.
//!
//! A waiting `*_async` receive that is dropped withdraws its request, but the node may have
//! completed it first (a message arrived meanwhile): through a daemon the answer is already on its
//! way, in process it is already in the slot. That message was taken from its mailbox and must
//! not be lost, so the future orphans its slot ([`Slot::orphan`](super::Slot::orphan)) with a
//! handler that gives the message back ([`hand_back`]):
//!
//! - A receive of one branch (every mailbox or inbox receive, a select of one branch, `lease`)
//!   asks the engine for its messages *on lease* ([`Taking::Acked`],
//!   [`Taking::Leased`]): a future that returns them to its caller acknowledges them then (one
//!   fire-and-forget `Settle`, pipelined), and a late answer's messages are returned instead — to
//!   their old place at the front of the queue, offered to waiting receivers first, no longer
//!   counted as received. Order and statistics stay exact, and any receiver may get them.
//! - What the engine never leases cannot go back: a message from a zero-capacity mailbox (the
//!   rendezvous completed, its sender was told this process took it) and a down notification (a
//!   fact about this process's inbox). A select of several branches cannot lease at all (a lease
//!   has one branch) and takes its message outright ([`Taking::Outright`]); so does a receive of
//!   many, the throughput path, which an acknowledgement per answer would slow measurably. These are *kept* here,
//!   per process, and the next receive of this process that matches one — same source, selector
//!   matching — gets it first, ahead of anything queued. The message counts as received once,
//!   when it was taken.
//!
//! Which of the two a late message needs is learned from the engine: returning a message taken
//! outright settles nothing, and acknowledging it — possible only for a rendezvous — then tells it
//! from a lease that had already ended by itself (its message went back alone).
//!
//! Until every late answer of the process has been handed back, a receive of the process first
//! waits for that (one round trip at most, only after a dropped receive): so a receive that
//! follows the drop, on any thread of the process, finds the message — back in its mailbox, or
//! kept here. A process that ends with messages kept here ends with them, as with any message it
//! had received.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};

use postbox_core::{Branch, LeaseId, Received, Selector, Settlement, Source};
use postbox_wire::{Request, Response};

use super::answer::Answer;
use super::link::Link;
use super::pending::Call;

/// How a receive future takes its messages, and so what a late answer's messages need.
#[derive(Clone, Debug)]
pub(crate) enum Taking {
    /// On lease from `source`, for a receive that hands them to its caller: acknowledged when
    /// the future returns them.
    Acked(Source),
    /// On lease from `source`, for the caller to settle (`lease_async`).
    Leased(Source),
    /// Outright, by a select of these branches' sources.
    Outright(Vec<Source>),
}

/// A message kept for the process's next matching receive.
#[derive(Debug)]
struct Kept {
    source: Source,
    message: Received,
}

#[derive(Debug, Default)]
struct State {
    kept: VecDeque<Kept>,
    /// Late answers still being handed back.
    in_flight: usize,
}

/// A process's returns: see the module docs.
#[derive(Debug, Default)]
pub(crate) struct Returns {
    /// Whether anything is kept or in flight: the one thing a receive looks at otherwise.
    busy: AtomicBool,
    state: Mutex<State>,
    /// Signalled when a late answer has been handed back.
    handed: Condvar,
}

/// One late answer being handed back: counted in flight until dropped.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Returns>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.in_flight -= 1;
        self.0.update(&state);
        drop(state);
        self.0.handed.notify_all();
    }
}

impl Returns {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing under this lock panics; carry on after a panic elsewhere.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update(&self, state: &State) {
        let busy = state.in_flight > 0 || !state.kept.is_empty();
        self.busy.store(busy, Ordering::Release);
    }

    /// A late answer is coming: counted until the returned guard drops.
    pub(crate) fn begin(self: &Arc<Self>) -> InFlight {
        let mut state = self.lock();
        state.in_flight += 1;
        self.update(&state);
        InFlight(self.clone())
    }

    fn keep(&self, source: Source, message: Received) {
        let mut state = self.lock();
        state.kept.push_back(Kept { source, message });
        self.update(&state);
    }

    /// Before a receive on `branches`: waits until every late answer has been handed back, then
    /// takes the first kept message a branch matches — its branch's index and the message.
    pub(crate) fn take(&self, branches: &[Branch]) -> Option<(usize, Received)> {
        if !self.busy.load(Ordering::Acquire) {
            return None;
        }
        let mut state = self.lock();
        while state.in_flight > 0 {
            state = self.handed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        let (at, branch) = state.kept.iter().enumerate().find_map(|(at, kept)| {
            let branch = branches.iter().position(|branch| {
                branch.source == kept.source
                    && matches(branch.selector, &kept.message, &state.kept, branch.source)
            })?;
            Some((at, branch))
        })?;
        let kept = state.kept.remove(at)?;
        self.update(&state);
        Some((branch, kept.message))
    }

    /// As [`Returns::take`], for a receive of one source with `selector`.
    pub(crate) fn take_one(&self, source: Source, selector: Selector) -> Option<Received> {
        self.take(&[Branch::new(source, selector)])
            .map(|(_, message)| message)
    }
}

/// Whether `selector` takes `message` among the messages kept from `source`: for `TypeAtMost`,
/// only the lowest type, first among equals (as the engine chooses).
fn matches(selector: Selector, message: &Received, kept: &VecDeque<Kept>, source: Source) -> bool {
    if !selector.matches(message.mtype(), message.sender) {
        return false;
    }
    match selector {
        Selector::TypeAtMost(t) => kept
            .iter()
            .filter(|k| k.source == source && k.message.mtype() <= t)
            .map(|k| k.message.mtype())
            .min()
            .is_none_or(|lowest| lowest == message.mtype()),
        _ => true,
    }
}

/// The messages an answer carries, if any.
fn messages(answer: Answer) -> Vec<(usize, Received)> {
    match answer {
        Ok(Response::ReceivedMany(messages)) => messages.into_iter().map(|m| (0, m)).collect(),
        Ok(Response::Received { branch, message }) => {
            vec![(usize::try_from(branch).unwrap_or(usize::MAX), message)]
        }
        _ => Vec::new(),
    }
}

/// Acknowledges the leases in `answer`, a receive's answer taken [`Taking::Acked`], without
/// waiting for the settlement's answer: its caller has the messages now. Down notifications are
/// never leased, and are skipped.
pub(crate) fn acknowledge(link: &dyn Link, source: Source, answer: &Answer) {
    let leases: Vec<LeaseId> = match answer {
        Ok(Response::ReceivedMany(messages)) => messages
            .iter()
            .filter(|m| !m.is_down())
            .map(LeaseId::from)
            .collect(),
        Ok(Response::Received { message, .. }) if !message.is_down() => {
            vec![LeaseId::from(message)]
        }
        _ => return,
    };
    if leases.is_empty() {
        return;
    }
    // Fire and forget: nothing waits for the answer, which lands in a slot nobody holds. A
    // failure (the mailbox deleted, the process gone) took the lease with it anyway.
    let _ = link.call(Request::Settle {
        source,
        leases,
        settlement: Settlement::Ack,
    });
}

/// Carries `request` and hands its answer to `then` — at once, or when it comes (on the thread
/// that reads it), nobody waiting for it.
fn call_then(link: &dyn Link, request: Request, then: impl FnOnce(Answer) + Send + 'static) {
    match link.call(request) {
        Call::Now(answer) => then(answer),
        Call::Pending(pending) => pending.slot.orphan(Box::new(then)),
    }
}

fn settled(answer: &Answer) -> Option<usize> {
    match answer {
        Ok(Response::Settled(count)) => usize::try_from(*count).ok(),
        _ => None,
    }
}

/// Hands back the messages of `answer`, the late answer of a dropped receive taken as `taking`
/// (see the module docs). `in_flight` is dropped once they are back or kept.
pub(crate) fn hand_back(
    link: Weak<dyn Link>,
    returns: Arc<Returns>,
    taking: Taking,
    answer: Answer,
    in_flight: InFlight,
) {
    let taken = messages(answer);
    if taken.is_empty() {
        return;
    }
    let source = match taking {
        Taking::Outright(sources) => {
            for (branch, message) in taken {
                if let Some(&source) = sources.get(branch) {
                    returns.keep(source, message);
                }
            }
            return;
        }
        Taking::Acked(source) | Taking::Leased(source) => source,
    };
    let mut users = Vec::with_capacity(taken.len());
    for (_, message) in taken {
        // Neither a down notification nor a request is ever leased (a request's reply right
        // cannot go back): they are kept for the process's next receive.
        if message.is_down() || message.call().is_some() {
            returns.keep(source, message);
        } else {
            users.push(message);
        }
    }
    let Some(link) = link.upgrade() else {
        return;
    };
    if users.is_empty() {
        return;
    }
    let leases: Vec<LeaseId> = users.iter().map(LeaseId::from).collect();
    let settle = |settlement| Request::Settle {
        source,
        leases: leases.clone(),
        settlement,
    };
    let (returning, probe) = (settle(Settlement::Return), settle(Settlement::Ack));
    let weak = Arc::downgrade(&link);
    call_then(&*link, returning, move |returned| {
        // All went back; or some did and the others' leases had ended by themselves (a
        // zero-capacity mailbox returns none): nothing more to do.
        if settled(&returned) != Some(0) {
            return;
        }
        // None went back: taken outright from a zero-capacity mailbox (acknowledging them
        // settles them all), or their leases had all ended already (it settles none).
        let Some(link) = weak.upgrade() else {
            return;
        };
        call_then(&*link, probe, move |acked| {
            if settled(&acked) == Some(users.len()) {
                for message in users {
                    returns.keep(source, message);
                }
            }
            drop(in_flight);
        });
    });
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use postbox_core::{Branch, MailboxId, Message, MessageKind, Pid, Received, Selector, Source};

    use super::Returns;

    fn message(mtype: i64, seq: u64) -> Received {
        Received {
            message: Message::new(seq.to_string()).with_type(mtype),
            sender: Pid::from_raw(7),
            seq,
            sent_at: postbox_core::Timestamp::from_nanos(0),
            kind: MessageKind::User,
            attempt: 1,
        }
    }

    const A: Source = Source::Inbox;

    fn b() -> Source {
        Source::Mailbox(MailboxId::from_raw(2))
    }

    #[test]
    fn nothing_kept_takes_nothing() {
        let returns = Returns::default();
        assert!(returns.take_one(A, Selector::Any).is_none());
    }

    #[test]
    fn a_kept_message_goes_to_a_matching_receive_of_its_source_only() {
        let returns = Returns::default();
        returns.keep(b(), message(3, 1));
        assert!(
            returns.take_one(A, Selector::Any).is_none(),
            "another source"
        );
        assert!(
            returns.take_one(b(), Selector::Type(4)).is_none(),
            "no match"
        );
        let branches = [
            Branch::new(A, Selector::Any),
            Branch::new(b(), Selector::Type(3)),
        ];
        let (branch, got) = returns.take(&branches).expect("the second branch matches");
        assert_eq!((branch, got.seq), (1, 1));
        assert!(returns.take_one(b(), Selector::Any).is_none(), "taken once");
    }

    #[test]
    fn kept_messages_go_in_order_and_type_at_most_takes_the_lowest() {
        let returns = Returns::default();
        returns.keep(b(), message(5, 1));
        returns.keep(b(), message(2, 2));
        returns.keep(b(), message(2, 3));
        let lowest = returns
            .take_one(b(), Selector::TypeAtMost(9))
            .expect("kept");
        assert_eq!(lowest.seq, 2);
        assert_eq!(returns.take_one(b(), Selector::Any).expect("kept").seq, 1);
        assert_eq!(returns.take_one(b(), Selector::Any).expect("kept").seq, 3);
    }

    #[test]
    fn a_receive_waits_for_late_answers_in_flight() {
        let returns = Arc::new(Returns::default());
        let in_flight = returns.begin();
        std::thread::scope(|s| {
            let taker = s.spawn(|| returns.take_one(b(), Selector::Any));
            // Whether the taker has started waiting yet or not, it must see the message kept
            // before the guard drops: the pause only makes it likelier that it waits first (the
            // case this pins), it synchronises nothing.
            std::thread::sleep(Duration::from_millis(10));
            returns.keep(b(), message(1, 9));
            drop(in_flight);
            assert_eq!(taker.join().expect("taker").expect("kept").seq, 9);
        });
    }
}

//! A mailbox's shared-memory lane: the ring the daemon lends it to, used directly.
//!
//! While the daemon lends a plain mailbox to a ring (docs/shm.md, "Delegated mailboxes"), this
//! process pushes and pops it in shared memory: no request, no daemon round trip per message.
//! The lane asks for the ring on first use ([`RingLender::lend`]), keeps it while the daemon
//! does, and gives it up the moment the ring says it was reclaimed (the daemon took the mailbox
//! back because something else was asked of it). Everything the ring does not carry — a message
//! the size rule refuses, one larger than a slot, a process without the right — goes through the
//! daemon, which takes the ring back first and answers exactly as the engine does. After a
//! refusal the lane asks again only after a pause that doubles, so a mailbox that cannot be lent
//! costs a round trip now and then, not one per message.

use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use postbox_core::{
    Delegation, MailboxId, Message, Pid, Received, RecvError, SelectError, SendError, SendErrorKind,
};
use postbox_shm::lending::{meta, received};
use postbox_shm::{
    PopError, PushError, Receipt, Ring, Segment, SegmentKind, TryPopError, TryPushError,
};
use postbox_wire::RingTerms;

use crate::clock::now;
use crate::wait::Patience;

/// Who lends rings: the daemon, through this process's connection.
pub(crate) trait RingLender: Send + Sync + std::fmt::Debug {
    /// Asks for `mailbox`'s ring: its terms for this process and its segment's descriptor, or
    /// `None` when the daemon does not lend it now.
    fn lend(&self, mailbox: MailboxId) -> Option<(RingTerms, OwnedFd)>;

    /// Whether the connection to the daemon still stands: a wait in the ring looks at least
    /// every [`CHECK_EVERY`], so a daemon that dies never leaves a waiter asleep.
    fn is_open(&self) -> bool;
}

/// How long a wait in the ring sleeps before it checks that the daemon is still there.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// The first pause before asking again for a ring the daemon would not lend.
const FIRST_PAUSE: Duration = Duration::from_millis(1);
/// The longest pause.
const LONGEST_PAUSE: Duration = Duration::from_millis(200);

/// A ring lent to this process, and what it may do with it.
#[derive(Debug)]
struct Lent {
    ring: Ring<Segment>,
    terms: RingTerms,
    /// The mailbox's rules as the engine lent them, for [`Delegation::admits`].
    rules: Delegation,
}

#[derive(Debug)]
struct State {
    lent: Option<Arc<Lent>>,
    /// When to ask again after a refusal.
    ask_after: Option<Instant>,
    pause: Duration,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct ShmLane {
    mailbox: MailboxId,
    lender: Arc<dyn RingLender>,
    /// Payloads this large or larger travel by reference through the daemon (a sealed memfd
    /// the receiver maps), not copied through the ring.
    attach_from: usize,
    state: Mutex<State>,
}

/// What a lane does with an operation it cannot finish on the ring.
enum Step<T> {
    Done(T),
    /// The ring was taken back: try again on the next one, if the daemon lends it.
    Again,
    /// Through the daemon.
    Declined,
}

impl ShmLane {
    pub(crate) fn new(
        mailbox: MailboxId,
        lender: Arc<dyn RingLender>,
        attach_from: usize,
    ) -> ShmLane {
        ShmLane {
            mailbox,
            lender,
            attach_from,
            state: Mutex::new(State {
                lent: None,
                ask_after: None,
                pause: FIRST_PAUSE,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The ring, asking the daemon for it unless a refusal was recent.
    fn lent(&self) -> Option<Arc<Lent>> {
        let mut state = self.lock();
        if let Some(lent) = &state.lent {
            return Some(lent.clone());
        }
        if state.ask_after.is_some_and(|after| Instant::now() < after) {
            return None;
        }
        match self.lender.lend(self.mailbox).and_then(attach) {
            Some(lent) => {
                let lent = Arc::new(lent);
                state.lent = Some(lent.clone());
                state.ask_after = None;
                state.pause = FIRST_PAUSE;
                Some(lent)
            }
            None => {
                state.ask_after = Some(Instant::now() + state.pause);
                state.pause = (state.pause * 2).min(LONGEST_PAUSE);
                None
            }
        }
    }

    /// The ring taken back (or broken): forget it; the next operation asks for the next one.
    fn forget(&self, lent: &Arc<Lent>) {
        let mut state = self.lock();
        if state
            .lent
            .as_ref()
            .is_some_and(|held| Arc::ptr_eq(held, lent))
        {
            state.lent = None;
        }
    }

    /// A plain send of `message` from `pid` on the ring, waiting as `patience` allows: its
    /// result, or the message back when it must go through the daemon.
    pub(crate) fn send_plain(
        &self,
        pid: Pid,
        message: Message,
        patience: Patience,
    ) -> Result<Result<Option<Pid>, SendError>, Message> {
        // At most twice: a ring taken back is asked for once more.
        for _ in 0..2 {
            let Some(lent) = self.lent() else {
                return Err(message);
            };
            if !lent.terms.may_send || !self.carries(&lent, &message) {
                return Err(message);
            }
            match self.push(&lent, pid, &message, patience) {
                Step::Done(Ok(())) => return Ok(Ok(None)),
                Step::Done(Err(kind)) => return Ok(Err(SendError::new(kind, message))),
                Step::Again => self.forget(&lent),
                Step::Declined => {
                    self.forget(&lent);
                    return Err(message);
                }
            }
        }
        Err(message)
    }

    /// Whether `message` goes through the ring: it fits a slot, is small enough not to travel
    /// by reference, and the mailbox's rules admit it (else the daemon answers with the rule's
    /// exact error).
    fn carries(&self, lent: &Lent, message: &Message) -> bool {
        let len = message.payload.len();
        len <= lent.ring.geometry().slot_payload()
            && len < self.attach_from
            && lent.rules.admits(message)
    }

    fn push(
        &self,
        lent: &Lent,
        pid: Pid,
        message: &Message,
        patience: Patience,
    ) -> Step<Result<(), SendErrorKind>> {
        let meta = meta(pid, message, now());
        let payload = &message.payload[..];
        // Once without a deadline: a send that finds room, the common case, reads no clock.
        match lent.ring.try_push(payload, meta) {
            Ok(()) => return Step::Done(Ok(())),
            Err(TryPushError::Full) => {}
            Err(TryPushError::Reclaimed) => return Step::Again,
            Err(TryPushError::TooLarge { .. } | TryPushError::Corrupt(_)) => {
                return Step::Declined;
            }
        }
        let Some(deadline) = wait_limit(patience) else {
            return Step::Done(Err(SendErrorKind::Full));
        };
        loop {
            let slice = slice_of(deadline);
            match lent.ring.push(payload, meta, Some(slice)) {
                Ok(()) => return Step::Done(Ok(())),
                Err(PushError::Timeout) => {
                    if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                        return Step::Done(Err(SendErrorKind::Timeout));
                    }
                    if !self.lender.is_open() {
                        return Step::Done(Err(SendErrorKind::Disconnected));
                    }
                }
                Err(PushError::Reclaimed) => return Step::Again,
                Err(PushError::TooLarge { .. } | PushError::Corrupt(_)) => return Step::Declined,
            }
        }
    }

    /// Sends as many of `messages` from `pid` as the ring takes now, in order, taking them off
    /// the front: how many.
    pub(crate) fn send_many(
        &self,
        pid: Pid,
        messages: &mut std::collections::VecDeque<Message>,
    ) -> usize {
        let Some(lent) = self.lent() else {
            return 0;
        };
        if !lent.terms.may_send {
            return 0;
        }
        let mut sent = 0;
        let now = now();
        while let Some(message) = messages.front() {
            if !self.carries(&lent, message) {
                break;
            }
            match lent
                .ring
                .try_push(&message.payload, meta(pid, message, now))
            {
                Ok(()) => {
                    messages.pop_front();
                    sent += 1;
                }
                Err(TryPushError::Full) => break,
                Err(_) => {
                    self.forget(&lent);
                    break;
                }
            }
        }
        sent
    }

    /// A plain receive for `pid` on the ring, waiting as `patience` allows: its result, or
    /// `None` when it must go through the daemon.
    pub(crate) fn recv_plain(
        &self,
        pid: Pid,
        patience: Patience,
    ) -> Option<Result<Received, SelectError>> {
        let fail = |error| SelectError { branch: 0, error };
        for _ in 0..2 {
            let lent = self.lent()?;
            if !lent.terms.may_receive {
                return None;
            }
            match self.pop(&lent, patience) {
                Step::Done(Ok(message)) => return Some(Ok(self.take(&lent, pid, message))),
                Step::Done(Err(error)) => return Some(Err(fail(error))),
                Step::Again => self.forget(&lent),
                Step::Declined => {
                    self.forget(&lent);
                    return None;
                }
            }
        }
        None
    }

    fn pop(
        &self,
        lent: &Lent,
        patience: Patience,
    ) -> Step<Result<postbox_shm::Message, RecvError>> {
        // Once without a deadline: a receive that finds a message reads no clock.
        match lent.ring.try_pop() {
            Ok(Some(message)) => return Step::Done(Ok(message)),
            // A message still being written is not sent yet.
            Ok(None) | Err(TryPopError::Incomplete) => {}
            Err(TryPopError::Reclaimed) => return Step::Again,
            Err(TryPopError::Corrupt(_)) => return Step::Declined,
        }
        let Some(deadline) = wait_limit(patience) else {
            return Step::Done(Err(RecvError::Empty));
        };
        loop {
            let slice = slice_of(deadline);
            match lent.ring.pop(Some(slice)) {
                Ok(message) => return Step::Done(Ok(message)),
                // A writer stuck or dead: the daemon takes the ring back when it is dead.
                Err(PopError::Timeout | PopError::Stalled) => {
                    if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                        return Step::Done(Err(RecvError::Timeout));
                    }
                    if !self.lender.is_open() {
                        return Step::Done(Err(RecvError::Disconnected));
                    }
                }
                Err(PopError::Reclaimed) => return Step::Again,
                Err(PopError::Corrupt(_)) => return Step::Declined,
            }
        }
    }

    /// The engine's form of a message `pid` took, its receipt reported for the statistics.
    fn take(&self, lent: &Lent, pid: Pid, message: postbox_shm::Message) -> Received {
        lent.ring.note_receipt(Receipt {
            receiver: pid.as_raw(),
            at: now().as_nanos(),
        });
        received(message, lent.terms.first_seq)
    }

    /// Takes up to `max` messages ready on the ring, without waiting; `None` when receives go
    /// through the daemon.
    pub(crate) fn recv_many(&self, pid: Pid, max: usize) -> Option<Vec<Received>> {
        let lent = self.lent()?;
        if !lent.terms.may_receive {
            return None;
        }
        let mut taken = Vec::new();
        while taken.len() < max {
            match lent.ring.try_pop() {
                Ok(Some(message)) => taken.push(self.take(&lent, pid, message)),
                Ok(None) | Err(TryPopError::Incomplete) => break,
                Err(_) => {
                    self.forget(&lent);
                    break;
                }
            }
        }
        Some(taken)
    }
}

/// Maps a lent ring's segment: `None` (through the daemon) if it is not a valid ring.
fn attach((terms, fd): (RingTerms, OwnedFd)) -> Option<Lent> {
    let segment = Segment::attach(fd).ok()?;
    if segment.kind() != SegmentKind::Ring {
        return None;
    }
    let ring = Ring::attach(segment).ok()?;
    let bounds = ring.bounds();
    let rules = Delegation {
        messages: usize::try_from(bounds.messages).unwrap_or(usize::MAX),
        bytes: usize::try_from(bounds.bytes).unwrap_or(usize::MAX),
        size: terms.size,
        max_message_size: usize::try_from(terms.max_message_size).unwrap_or(usize::MAX),
        senders: Vec::new(),
        receivers: Vec::new(),
        next_seq: terms.first_seq,
    };
    Some(Lent { ring, terms, rules })
}

/// `None` for an operation that may not wait; else its deadline (`Some(None)`: none).
fn wait_limit(patience: Patience) -> Option<Option<Instant>> {
    match patience {
        Patience::None => None,
        Patience::Forever => Some(None),
        Patience::Until(deadline) => Some(Some(deadline)),
    }
}

/// The end of the next slice of a wait until `deadline`.
fn slice_of(deadline: Option<Instant>) -> Instant {
    let check = Instant::now() + CHECK_EVERY;
    deadline.map_or(check, |deadline| deadline.min(check))
}

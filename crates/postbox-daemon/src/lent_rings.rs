//! The mailboxes this daemon has lent to shared-memory rings (docs/shm.md, "Delegated
//! mailboxes"), and taking them back.
//!
//! A `unix://` client asks for a mailbox's ring (`LendRing`); the daemon asks the engine to
//! delegate the mailbox (plain and idle only), sizes a ring for its terms, and hands the ring's
//! segment to every process the terms name as it asks. From then on those processes push and
//! pop it without the daemon. The daemon takes the mailbox back — the ring closed, its queue,
//! numbers and statistics returned to the engine in order — before anything else touches it:
//! any request that concerns the mailbox, the disconnection or change of identity of a process
//! the terms name, a listing or census. A ring is never handed to a process the terms do not
//! name: one that opened the mailbox since takes the ring back and the mailbox is lent anew,
//! when it is idle.

use std::sync::Arc;

use postbox_core::{Delegation, Engine, MailboxId, Pid};
use postbox_shm::lending::{handback, plan};
use postbox_shm::{ReclaimError, Reclaimed, Ring, Segment, SegmentKind};
use postbox_wire::{Concerns, RingTerms};
use rustc_hash::FxHashMap;

/// The largest payload a ring's slot holds: a larger message goes through the daemon (which
/// takes the ring back first). 4 KiB keeps a ring of a thousand messages at 4 MiB.
pub(crate) const RING_SLOT_LIMIT: usize = 4096;

/// A mailbox lent to a ring.
#[derive(Debug)]
struct Lent {
    ring: Arc<Ring<Segment>>,
    terms: Delegation,
}

impl Lent {
    fn names(&self, pid: Pid) -> bool {
        self.terms.senders.contains(&pid) || self.terms.receivers.contains(&pid)
    }

    fn terms_for(&self, pid: Pid) -> RingTerms {
        RingTerms {
            may_send: self.terms.senders.contains(&pid),
            may_receive: self.terms.receivers.contains(&pid),
            size: self.terms.size,
            max_message_size: self.terms.max_message_size as u64,
            first_seq: self.terms.next_seq,
        }
    }
}

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct LentRings {
    lent: FxHashMap<MailboxId, Lent>,
}

impl LentRings {
    /// Lends `mailbox` to a ring for `pid`, or hands it the ring it is already lent to: the
    /// terms for `pid` and the ring, whose segment's descriptor goes beside the answer. `None`
    /// when the mailbox cannot be lent now (the caller keeps using the daemon).
    pub(crate) fn lend(
        &mut self,
        engine: &mut Engine,
        mailbox: MailboxId,
        pid: Pid,
    ) -> Option<(RingTerms, Arc<Ring<Segment>>)> {
        if let Some(lent) = self.lent.get(&mailbox) {
            if lent.names(pid) {
                return Some((lent.terms_for(pid), lent.ring.clone()));
            }
            // Opened since it was lent: lend it anew, with terms that name this process.
            self.reclaim(engine, mailbox);
        }
        let terms = engine.delegate(mailbox)?;
        let lent = match ring_for(&terms) {
            Some(ring) => Lent {
                ring: Arc::new(ring),
                terms,
            },
            None => {
                engine.reclaim(mailbox, handback(Reclaimed::default(), terms.next_seq));
                return None;
            }
        };
        if !lent.names(pid) {
            engine.reclaim(mailbox, handback(Reclaimed::default(), lent.terms.next_seq));
            return None;
        }
        let answer = (lent.terms_for(pid), lent.ring.clone());
        self.lent.insert(mailbox, lent);
        Some(answer)
    }

    /// Takes `mailbox` back, if lent: the ring is closed (its users are told `Reclaimed`) and
    /// the engine gets its queue, numbers and statistics.
    pub(crate) fn reclaim(&mut self, engine: &mut Engine, mailbox: MailboxId) {
        let Some(lent) = self.lent.remove(&mailbox) else {
            return;
        };
        let reclaimed = match lent.ring.reclaim() {
            Ok(reclaimed) => reclaimed,
            Err(ReclaimError::Corrupt {
                corruption,
                recovered,
            }) => {
                // Only a process the terms named could write the ring: it broke its own mailbox.
                tracing::warn!(
                    mailbox = mailbox.as_raw(),
                    "a lent ring was found corrupt when taken back ({corruption}); \
                     {} messages recovered in order, the rest of its queue is lost",
                    recovered.len()
                );
                let next_pos = recovered.last().map_or(0, |message| message.pos + 1);
                Reclaimed {
                    messages: recovered,
                    next_pos,
                    ..Reclaimed::default()
                }
            }
        };
        engine.reclaim(mailbox, handback(reclaimed, lent.terms.next_seq));
    }

    /// Takes back every mailbox `concerns` names.
    pub(crate) fn reclaim_for(&mut self, engine: &mut Engine, concerns: &Concerns) {
        match concerns {
            Concerns::Nothing => {}
            Concerns::One(mailbox) => self.reclaim(engine, *mailbox),
            Concerns::Some(mailboxes) => {
                for &mailbox in mailboxes {
                    self.reclaim(engine, mailbox);
                }
            }
            Concerns::Everything => self.reclaim_all(engine),
        }
    }

    /// Takes back every mailbox whose terms name `pid` (it is going, or changing identity).
    pub(crate) fn reclaim_naming(&mut self, engine: &mut Engine, pid: Pid) {
        let named: Vec<MailboxId> = self
            .lent
            .iter()
            .filter(|(_, lent)| lent.names(pid))
            .map(|(&mailbox, _)| mailbox)
            .collect();
        for mailbox in named {
            self.reclaim(engine, mailbox);
        }
    }

    /// Whether any mailbox is lent now.
    pub(crate) fn any(&self) -> bool {
        !self.lent.is_empty()
    }

    /// Takes back every lent mailbox.
    pub(crate) fn reclaim_all(&mut self, engine: &mut Engine) {
        let all: Vec<MailboxId> = self.lent.keys().copied().collect();
        for mailbox in all {
            self.reclaim(engine, mailbox);
        }
    }

    /// Closes the rings of mailboxes that no longer exist (their owner terminated): their users
    /// are told `Reclaimed`, and learn from the daemon that the mailbox is gone.
    pub(crate) fn forget_deleted(&mut self, engine: &mut Engine) {
        let gone: Vec<MailboxId> = self
            .lent
            .keys()
            .copied()
            .filter(|&mailbox| !engine.has_mailbox(mailbox))
            .collect();
        for mailbox in gone {
            self.reclaim(engine, mailbox);
        }
    }
}

/// A ring for a mailbox lent under `terms`, in a new sealed memfd; `None` when it would be too
/// large or the memory cannot be had (the mailbox stays with the daemon).
fn ring_for(terms: &Delegation) -> Option<Ring<Segment>> {
    let (geometry, bounds) = plan(terms, RING_SLOT_LIMIT)?;
    let segment = Segment::create("postbox-ring", SegmentKind::Ring, geometry.bytes())
        .map_err(|error| tracing::warn!("cannot make a ring for a mailbox: {error}"))
        .ok()?;
    Ring::create_bounded(segment, geometry, bounds)
        .map_err(|error| tracing::warn!("cannot make a ring for a mailbox: {error}"))
        .ok()
}

//! Mailbox lifecycle and administration: create, open, close, delete, set, rights, statistics.

use super::{Engine, live};
use crate::mailbox::{End, Kind, Mailbox};
use crate::{
    AdminError, Capacity, Credentials, EngineStats, MailboxAttrs, MailboxId, MailboxStats, Mode,
    Name, OpenError, Owner, Ownership, Pid, Receivers, RecvError, SendErrorKind, Timestamp,
};

impl Engine {
    /// Creates the mailbox `name`, owned by `pid` (process ownership) or by its uid (system
    /// ownership), and opens it for `pid`.
    ///
    /// # Errors
    ///
    /// `Disconnected`, `InvalidName`, `InvalidAttributes` (contradictory settings, or a size above
    /// the engine's maximum), `AlreadyExists`, `QuotaExceeded` (the uid's mailbox limit).
    pub fn create(
        &mut self,
        pid: Pid,
        name: &str,
        attrs: MailboxAttrs,
        now: Timestamp,
    ) -> Result<MailboxId, OpenError> {
        let creds = self.creds(pid).ok_or(OpenError::Disconnected)?;
        let name = Name::new(name).map_err(|_| OpenError::InvalidName)?;
        attrs
            .validate(self.limits.max_message_size)
            .map_err(|why| OpenError::InvalidAttributes(why.to_owned()))?;
        if attrs.durability == crate::Durability::Disk && !self.durable_store {
            return Err(OpenError::InvalidAttributes(
                "durable mailboxes need a daemon with a state directory; this node keeps \
                 everything in memory"
                    .to_owned(),
            ));
        }
        if let Some(target) = attrs.redelivery.dead_letter {
            self.check_dead_letter(creds, target)?;
        }
        if self.mailbox_names.contains_key(&name) {
            return Err(OpenError::AlreadyExists);
        }
        let count = self.mailboxes_per_uid.entry(creds.uid).or_default();
        if *count >= self.limits.max_mailboxes_per_uid {
            return Err(OpenError::QuotaExceeded);
        }
        *count += 1;
        if let Some(target) = attrs.redelivery.dead_letter {
            *self.dead_letter_targets.entry(target).or_default() += 1;
        }
        let id = self.new_mailbox_id();
        let owner = match attrs.ownership {
            Ownership::Process => Owner::Process(pid),
            Ownership::System => Owner::System(creds),
        };
        let mut mailbox = Mailbox::new(id, Kind::Named(name.clone()), attrs, owner, creds, now);
        mailbox.opens.insert(pid, 1);
        self.mailboxes.insert(id, mailbox);
        self.mailbox_names.insert(name, id);
        let process = self.processes.get_mut(&pid).expect("caller is live");
        process.opened.insert(id);
        if attrs.ownership == Ownership::Process {
            process.owned.insert(id);
        }
        self.journal_mailbox(id);
        Ok(id)
    }

    /// Checks that a mailbox created by `creds` may name `target` as its dead-letter mailbox:
    /// a named mailbox they may send to.
    fn check_dead_letter(&self, creds: Credentials, target: MailboxId) -> Result<(), OpenError> {
        let invalid = |why: &str| Err(OpenError::InvalidAttributes(why.to_owned()));
        match self.mailboxes.get(&target) {
            Some(mb) if matches!(mb.kind, Kind::Named(_)) => {
                if mb.attrs.mode.allows(creds, mb.owner_creds, Mode::WRITE) {
                    Ok(())
                } else {
                    invalid("the dead-letter mailbox does not let its creator send to it")
                }
            }
            _ => invalid("the dead-letter mailbox does not exist"),
        }
    }

    /// Opens the existing mailbox `name` for `pid`. Each open is a handle; [`Engine::close`]
    /// releases one.
    ///
    /// # Errors
    ///
    /// `Disconnected`, `InvalidName`, `NotFound`, `PermissionDenied` (the mode grants neither
    /// send nor receive, and `pid` is not the owner).
    pub fn open(&mut self, pid: Pid, name: &str) -> Result<MailboxId, OpenError> {
        let creds = self.creds(pid).ok_or(OpenError::Disconnected)?;
        let name = Name::new(name).map_err(|_| OpenError::InvalidName)?;
        let id = *self.mailbox_names.get(&name).ok_or(OpenError::NotFound)?;
        let mb = self
            .mailboxes
            .get_mut(&id)
            .expect("named mailboxes are live");
        let mode = mb.attrs.mode;
        let may_use = mode.allows(creds, mb.owner_creds, Mode::READ)
            || mode.allows(creds, mb.owner_creds, Mode::WRITE)
            || is_owner(mb, pid, creds);
        if !may_use {
            return Err(OpenError::PermissionDenied);
        }
        *mb.opens.entry(pid).or_default() += 1;
        self.processes
            .get_mut(&pid)
            .expect("caller is live")
            .opened
            .insert(id);
        Ok(id)
    }

    /// Opens `name`, creating it with `attrs` if it does not exist. Among racing callers exactly
    /// one creates; the others open what it created. Returns whether this call created it.
    ///
    /// # Errors
    ///
    /// As [`Engine::open`] and [`Engine::create`].
    pub fn open_or_create(
        &mut self,
        pid: Pid,
        name: &str,
        attrs: MailboxAttrs,
        now: Timestamp,
    ) -> Result<(MailboxId, bool), OpenError> {
        match self.open(pid, name) {
            Ok(id) => Ok((id, false)),
            Err(OpenError::NotFound) => self.create(pid, name, attrs, now).map(|id| (id, true)),
            Err(error) => Err(error),
        }
    }

    /// Releases one handle of `pid` on `mailbox`. With its last handle, `pid` gives up any
    /// exclusive receive right and its end of a pair (the other end then gets `PeerGone`).
    pub fn close(&mut self, pid: Pid, mailbox: MailboxId, now: Timestamp) {
        let Some(mb) = self.mailboxes.get_mut(&mailbox) else {
            return;
        };
        let Some(count) = mb.opens.get_mut(&pid) else {
            return;
        };
        *count -= 1;
        if *count == 0 {
            self.release(pid, mailbox, now);
            if let Some(process) = self.processes.get_mut(&pid) {
                process.opened.remove(&mailbox);
            }
        }
    }

    /// `pid` no longer has `mailbox` open: its rights go, its own waiters there fail with `Gone`
    /// (the room its senders waited for goes to the next waiting senders), what it holds on lease
    /// goes back to the queue, and a pair's other end learns that the link is broken.
    pub(super) fn release(&mut self, pid: Pid, mailbox: MailboxId, now: Timestamp) {
        let Some(mb) = self.mailboxes.get_mut(&mailbox) else {
            return;
        };
        mb.opens.remove(&pid);
        if mb.exclusive == Some(pid) {
            mb.exclusive = None;
        }
        let sender_left = mb.pair_sender == End::Held(pid);
        if sender_left {
            mb.pair_sender = End::Departed;
        }
        let receiver_left = mb.pair_receiver == End::Held(pid);
        if receiver_left {
            mb.pair_receiver = End::Departed;
        }
        self.fail_receivers(mailbox, |waiter| waiter == pid, RecvError::Gone);
        self.fail_waiting_senders(mailbox, |sender| sender == pid, SendErrorKind::Gone);
        self.leave_broadcast(pid, mailbox);
        self.admit_waiting_senders(mailbox, now);
        self.return_leases(pid, mailbox, now);
        if sender_left && self.mailboxes[&mailbox].blocked_senders.is_empty() {
            self.fail_receivers(mailbox, |_| true, RecvError::PeerGone);
        }
        if receiver_left {
            self.fail_waiting_senders(mailbox, |_| true, SendErrorKind::PeerGone);
            self.fail_receipts(mailbox, SendErrorKind::PeerGone);
        }
    }

    /// Fails with `error` every receive waiting on `mailbox` by a process `which` picks.
    fn fail_receivers(
        &mut self,
        mailbox: MailboxId,
        which: impl Fn(Pid) -> bool,
        error: RecvError,
    ) {
        let failing: Vec<_> = self.mailboxes[&mailbox]
            .receivers
            .iter()
            .filter(|w| which(w.pid))
            .map(|w| (w.ticket, w.branch))
            .collect();
        for (ticket, branch) in failing {
            self.fail_recv_waiter(ticket, branch, error);
        }
    }

    fn fail_waiting_senders(
        &mut self,
        mailbox: MailboxId,
        which: impl Fn(Pid) -> bool,
        kind: SendErrorKind,
    ) {
        let mb = live(&mut self.mailboxes, mailbox);
        let (failed, kept): (std::collections::VecDeque<_>, _) =
            std::mem::take(&mut mb.blocked_senders)
                .into_iter()
                .partition(|b| which(b.sender));
        mb.blocked_senders = kept;
        for blocked in failed {
            self.release_waiting(&blocked.message);
            self.fail_sender(blocked.ticket, kind, blocked.message);
        }
    }

    /// Withdraws every queued message whose sender awaits a receipt, failing those sends and
    /// handing their messages back.
    fn fail_receipts(&mut self, mailbox: MailboxId, kind: SendErrorKind) {
        let slots: Vec<usize> = self.mailboxes[&mailbox]
            .queue
            .iter()
            .filter(|(_, entry)| entry.receipt.is_some())
            .map(|(slot, _)| slot)
            .collect();
        for slot in slots {
            let entry = self.remove_entry(mailbox, slot);
            let ticket = entry.receipt.expect("filtered on receipts");
            // Withdrawn before anyone took it: it no longer counts as sent.
            let mb = live(&mut self.mailboxes, mailbox);
            mb.counters.sent -= 1;
            self.total_sent -= 1;
            self.fail_sender(ticket, kind, entry.message);
        }
    }

    /// The id of the mailbox called `name`, if there is one.
    pub fn lookup(&self, name: &str) -> Option<MailboxId> {
        Name::new(name)
            .ok()
            .and_then(|name| self.mailbox_names.get(&name).copied())
    }

    /// Deletes `mailbox`. Every waiter on it and every later operation on its handles gets
    /// `Gone`; its name is free for a new mailbox at once.
    ///
    /// # Errors
    ///
    /// `Disconnected`, `Gone`, `PermissionDenied` (only the owner or uid 0 may delete).
    pub fn delete(&mut self, pid: Pid, mailbox: MailboxId) -> Result<(), AdminError> {
        self.check_owner(pid, mailbox)?;
        self.destroy(mailbox, SendErrorKind::Gone, RecvError::Gone);
        Ok(())
    }

    /// Changes the permission bits of `mailbox`. Waiting receives of processes the new mode no
    /// longer lets receive fail with `PermissionDenied`.
    ///
    /// # Errors
    ///
    /// `Disconnected`, `Gone`, `PermissionDenied` (owner or uid 0 only).
    pub fn set_mode(
        &mut self,
        pid: Pid,
        mailbox: MailboxId,
        mode: Mode,
        now: Timestamp,
    ) -> Result<(), AdminError> {
        self.check_owner(pid, mailbox)?;
        let mb = live(&mut self.mailboxes, mailbox);
        mb.attrs.mode = mode;
        mb.counters.changed = now;
        self.journal_mailbox(mailbox);
        self.fail_unentitled_receivers(mailbox, now);
        Ok(())
    }

    /// Changes the byte limit of a bounded mailbox. Lowering it below what is queued keeps the
    /// queued messages; new sends wait until they fit. Raising it lets waiting senders in.
    /// Waiting senders whose message is larger than the new limit fail with `TooLarge` (their
    /// message handed back), as a new send of it would, rather than wait for room that never comes.
    ///
    /// # Errors
    ///
    /// `Disconnected`, `Gone`, `PermissionDenied`, `InvalidArgument` (not bounded, or below a
    /// fixed-size mailbox's message size).
    pub fn set_max_bytes(
        &mut self,
        pid: Pid,
        mailbox: MailboxId,
        bytes: usize,
        now: Timestamp,
    ) -> Result<(), AdminError> {
        self.check_owner(pid, mailbox)?;
        let mb = live(&mut self.mailboxes, mailbox);
        let Capacity::Bounded { messages, .. } = mb.attrs.capacity else {
            return Err(AdminError::InvalidArgument(
                "only a bounded mailbox has a byte limit".into(),
            ));
        };
        if let crate::MessageSize::Fixed(size) = mb.attrs.size {
            if bytes < size {
                return Err(AdminError::InvalidArgument(
                    "the byte limit must hold at least one message of the fixed size".into(),
                ));
            }
        }
        mb.attrs.capacity = Capacity::Bounded { messages, bytes };
        mb.counters.changed = now;
        self.journal_mailbox(mailbox);
        let mb = live(&mut self.mailboxes, mailbox);
        let (too_large, kept): (std::collections::VecDeque<_>, _) =
            std::mem::take(&mut mb.blocked_senders)
                .into_iter()
                .partition(|b| b.message.len() > bytes);
        mb.blocked_senders = kept;
        for blocked in too_large {
            self.release_waiting(&blocked.message);
            self.fail_sender(blocked.ticket, SendErrorKind::TooLarge, blocked.message);
        }
        self.admit_waiting_senders(mailbox, now);
        Ok(())
    }

    /// Passes ownership of `mailbox` on: to another live process (the mailbox then dies with
    /// that process) or to a uid and gid (it then lives until deleted). Waiting receives of
    /// processes that lose the right to receive with it (an old owner, under owner-only receive)
    /// fail with `PermissionDenied`.
    ///
    /// # Errors
    ///
    /// `Disconnected`, `Gone`, `PermissionDenied` (owner or uid 0 only), `NotFound` / `PeerGone`
    /// (the new owner process never existed / has terminated).
    pub fn set_owner(
        &mut self,
        pid: Pid,
        mailbox: MailboxId,
        owner: Owner,
        now: Timestamp,
    ) -> Result<(), AdminError> {
        self.check_owner(pid, mailbox)?;
        let durable = self.mailboxes[&mailbox].attrs.durability == crate::Durability::Disk;
        if durable && matches!(owner, Owner::Process(_)) {
            return Err(AdminError::InvalidArgument(
                "a durable mailbox stays system-owned: give it to a uid and gid".into(),
            ));
        }
        let owner_creds = match owner {
            Owner::Process(new) => match self.processes.get(&new) {
                Some(process) => process.creds,
                None if self.has_terminated(new) => return Err(AdminError::PeerGone),
                None => return Err(AdminError::NotFound),
            },
            Owner::System(creds) => creds,
        };
        let mb = live(&mut self.mailboxes, mailbox);
        let old = std::mem::replace(&mut mb.owner, owner);
        mb.owner_creds = owner_creds;
        mb.attrs.ownership = match owner {
            Owner::Process(_) => Ownership::Process,
            Owner::System(_) => Ownership::System,
        };
        mb.counters.changed = now;
        self.journal_mailbox(mailbox);
        if let Owner::Process(old) = old {
            if let Some(process) = self.processes.get_mut(&old) {
                process.owned.remove(&mailbox);
            }
        }
        if let Owner::Process(new) = owner {
            self.processes
                .get_mut(&new)
                .expect("checked live")
                .owned
                .insert(mailbox);
        }
        self.fail_unentitled_receivers(mailbox, now);
        Ok(())
    }

    /// Fails, with `PermissionDenied`, the waiting receives on `mailbox` of processes whose
    /// right to receive a change of mode or owner took away (as `revoke_receive` does). Such a
    /// broadcast member leaves: its backlog is released, so that it holds up no sender.
    fn fail_unentitled_receivers(&mut self, mailbox: MailboxId, now: Timestamp) {
        let mb = &self.mailboxes[&mailbox];
        let entitled = |pid: Pid| {
            let Some(creds) = self.creds(pid) else {
                return true;
            };
            let by_policy = match (mb.attrs.receivers, mb.owner) {
                (Receivers::Owner, Owner::Process(owner)) => owner == pid,
                (Receivers::Owner, Owner::System(owner)) => {
                    owner.uid == creds.uid || creds.is_root()
                }
                _ => true,
            };
            mb.attrs.mode.allows(creds, mb.owner_creds, Mode::READ)
                && (by_policy || mb.grants.contains(&pid))
        };
        let denied: Vec<Pid> = mb
            .receivers
            .iter()
            .map(|w| w.pid)
            .filter(|&p| !entitled(p))
            .collect();
        let lapsed: Vec<Pid> = mb
            .members
            .pids()
            .into_iter()
            .filter(|&p| !entitled(p))
            .collect();
        self.fail_receivers(
            mailbox,
            |waiter| denied.contains(&waiter),
            RecvError::PermissionDenied,
        );
        for pid in lapsed {
            self.leave_broadcast(pid, mailbox);
        }
        self.admit_waiting_senders(mailbox, now);
    }

    /// Lets `grantee` receive from an owner-receive mailbox (the mode must still allow it).
    ///
    /// # Errors
    ///
    /// `Disconnected`, `Gone`, `PermissionDenied` (owner or uid 0 only), `InvalidArgument` (the
    /// mailbox's receivers policy is not `Owner`), `NotFound` / `PeerGone` (the grantee).
    pub fn grant_receive(
        &mut self,
        pid: Pid,
        mailbox: MailboxId,
        grantee: Pid,
        now: Timestamp,
    ) -> Result<(), AdminError> {
        self.check_owner(pid, mailbox)?;
        self.check_owner_policy(mailbox)?;
        if !self.processes.contains_key(&grantee) {
            return Err(if self.has_terminated(grantee) {
                AdminError::PeerGone
            } else {
                AdminError::NotFound
            });
        }
        let processes = &self.processes;
        let mb = live(&mut self.mailboxes, mailbox);
        // Grants of terminated processes go first, so that the set stays within the live
        // processes however many come and go.
        mb.grants.retain(|pid| processes.contains_key(pid));
        mb.grants.insert(grantee);
        mb.counters.changed = now;
        Ok(())
    }

    /// Takes back a right given by [`Engine::grant_receive`]. The grantee's waiting receives on
    /// the mailbox fail with `PermissionDenied`.
    ///
    /// # Errors
    ///
    /// As [`Engine::grant_receive`], except that the grantee need not be alive.
    pub fn revoke_receive(
        &mut self,
        pid: Pid,
        mailbox: MailboxId,
        grantee: Pid,
        now: Timestamp,
    ) -> Result<(), AdminError> {
        self.check_owner(pid, mailbox)?;
        self.check_owner_policy(mailbox)?;
        let mb = live(&mut self.mailboxes, mailbox);
        mb.grants.remove(&grantee);
        mb.counters.changed = now;
        let still_allowed = match mb.owner {
            Owner::Process(owner) => owner == grantee,
            Owner::System(creds) => self
                .processes
                .get(&grantee)
                .is_some_and(|p| p.creds.uid == creds.uid || p.creds.is_root()),
        };
        if !still_allowed {
            self.fail_receivers(
                mailbox,
                |waiter| waiter == grantee,
                RecvError::PermissionDenied,
            );
        }
        Ok(())
    }

    /// A snapshot of `mailbox`'s statistics.
    ///
    /// # Errors
    ///
    /// `Disconnected`, `Gone`, `PermissionDenied` (the caller may neither send, receive nor own).
    pub fn stat(&self, pid: Pid, mailbox: MailboxId) -> Result<MailboxStats, AdminError> {
        let creds = self.creds(pid).ok_or(AdminError::Disconnected)?;
        let mb = self
            .mailboxes
            .get(&mailbox)
            .filter(|mb| !mb.is_inbox())
            .ok_or(AdminError::Gone)?;
        if !may_see(mb, pid, creds) {
            return Err(AdminError::PermissionDenied);
        }
        Ok(snapshot(mb))
    }

    /// Statistics of every named mailbox `pid` may see, by name.
    ///
    /// # Errors
    ///
    /// `Disconnected`.
    pub fn list(&self, pid: Pid) -> Result<Vec<MailboxStats>, AdminError> {
        let creds = self.creds(pid).ok_or(AdminError::Disconnected)?;
        let mut all: Vec<MailboxStats> = self
            .mailboxes
            .values()
            .filter(|mb| !mb.is_inbox() && may_see(mb, pid, creds))
            .map(snapshot)
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    /// Engine-wide statistics.
    pub fn stats(&self) -> EngineStats {
        EngineStats {
            processes: self.processes.len(),
            mailboxes: self.mailbox_names.len(),
            queued_messages: self.queued_messages,
            queued_bytes: self.queued_bytes,
            max_queued_bytes: self.limits.max_queued_bytes,
            total_sent: self.total_sent,
            total_received: self.total_received,
            total_dropped: self.total_dropped,
            total_dead_lettered: self.total_dead_lettered,
            total_late_replies: self.total_late_replies,
        }
    }

    pub(super) fn check_owner(&self, pid: Pid, mailbox: MailboxId) -> Result<(), AdminError> {
        let creds = self.creds(pid).ok_or(AdminError::Disconnected)?;
        let mb = self.mailboxes.get(&mailbox).ok_or(AdminError::Gone)?;
        if mb.is_inbox() || !is_owner(mb, pid, creds) {
            return Err(AdminError::PermissionDenied);
        }
        Ok(())
    }

    fn check_owner_policy(&self, mailbox: MailboxId) -> Result<(), AdminError> {
        if self.mailboxes[&mailbox].attrs.receivers != Receivers::Owner {
            return Err(AdminError::InvalidArgument(
                "receive rights are granted only on owner-receive mailboxes".into(),
            ));
        }
        Ok(())
    }
}

/// The owner: the owning process, any process of the owning uid, or root.
fn is_owner(mb: &Mailbox, pid: Pid, creds: Credentials) -> bool {
    creds.is_root()
        || match mb.owner {
            Owner::Process(owner) => owner == pid,
            Owner::System(owner) => owner.uid == creds.uid,
        }
}

fn may_see(mb: &Mailbox, pid: Pid, creds: Credentials) -> bool {
    let mode = mb.attrs.mode;
    is_owner(mb, pid, creds)
        || mode.allows(creds, mb.owner_creds, Mode::READ)
        || mode.allows(creds, mb.owner_creds, Mode::WRITE)
}

/// Receives waiting on `mb`: one per ticket, however many of a select's branches wait here.
fn waiting_receives(mb: &Mailbox) -> usize {
    let mut tickets: Vec<_> = mb.receivers.iter().map(|w| w.ticket).collect();
    tickets.sort_unstable();
    tickets.dedup();
    tickets.len()
}

/// A mailbox's statistics now.
pub(super) fn snapshot(mb: &Mailbox) -> MailboxStats {
    let name = match &mb.kind {
        Kind::Named(name) => name.to_string(),
        Kind::Inbox(pid) => format!("inbox of {pid}"),
    };
    MailboxStats {
        id: mb.id,
        name,
        attrs: mb.attrs,
        owner: mb.owner,
        uid: mb.owner_creds.uid,
        gid: mb.owner_creds.gid,
        mode: mb.attrs.mode,
        messages: mb.queue.len() + mb.members.messages(),
        bytes: mb.queue.bytes() + mb.members.bytes(),
        total_sent: mb.counters.sent,
        total_received: mb.counters.received,
        dropped: mb.counters.dropped,
        last_send: mb.counters.last_send,
        last_recv: mb.counters.last_recv,
        created: mb.counters.created,
        changed: mb.counters.changed,
        blocked_senders: mb.blocked_senders.len(),
        blocked_receivers: waiting_receives(mb),
        openers: mb.opens.len(),
        leased: mb.leases.len(),
        dead_lettered: mb.counters.dead_lettered,
        duplicates_dropped: mb.counters.duplicates_dropped,
    }
}

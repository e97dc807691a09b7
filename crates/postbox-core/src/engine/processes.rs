//! Processes: spawning, names, monitors and termination.

use super::{Engine, Waiter, live};
use crate::limits::message_charge;
use crate::mailbox::{Kind, Mailbox};
use crate::process::Process;
use crate::{
    AdminError, Capacity, Credentials, MailboxAttrs, Message, MessageKind, MessageSize, Mode, Name,
    Order, OsProcess, Overflow, Owner, Ownership, Pid, ProcessInfo, Receivers, RecvError,
    Redelivery, SendErrorKind, Timestamp, WaitInfo,
};
use rustc_hash::FxHashMap;

impl Engine {
    /// Starts a new process running as `creds`, with an empty inbox. Its pid has never been used.
    pub fn spawn(&mut self, creds: Credentials, now: Timestamp) -> Pid {
        self.spawn_with(creds, OsProcess::UNKNOWN, now)
    }

    /// As [`Engine::spawn`], recording which OS process the new process is (for
    /// [`Engine::processes`] only: permissions go by `creds`).
    pub fn spawn_with(&mut self, creds: Credentials, os: OsProcess, now: Timestamp) -> Pid {
        let pid = Pid::from_raw(self.next_pid);
        self.next_pid += 1;
        let inbox = self.new_mailbox_id();
        let attrs = MailboxAttrs {
            capacity: Capacity::Bounded {
                messages: self.limits.inbox_capacity,
                bytes: self.limits.max_queued_bytes,
            },
            size: MessageSize::Variable(self.limits.max_message_size),
            order: Order::Fifo,
            overflow: Overflow::Block,
            ownership: Ownership::Process,
            receivers: Receivers::Owner,
            mode: Mode::new(0o622),
            redelivery: Redelivery::default(),
            durability: crate::Durability::Memory,
        };
        let mailbox = Mailbox::new(
            inbox,
            Kind::Inbox(pid),
            attrs,
            Owner::Process(pid),
            creds,
            now,
        );
        self.mailboxes.insert(inbox, mailbox);
        self.processes
            .insert(pid, Process::new(creds, os, inbox, now));
        pid
    }

    /// Whether `pid` is a live process.
    pub fn is_alive(&self, pid: Pid) -> bool {
        self.processes.contains_key(&pid)
    }

    /// The credentials `pid` runs as, while it lives.
    pub fn credentials(&self, pid: Pid) -> Option<Credentials> {
        self.creds(pid)
    }

    /// Makes `pid` run as `creds` from now on, its inbox's owner included: for a process whose
    /// credentials were not known when it was spawned (a node's proxy for another node's
    /// process, first seen as a name in a message, then acting). Does nothing to a pid not alive.
    pub fn set_credentials(&mut self, pid: Pid, creds: Credentials) {
        let Some(process) = self.processes.get_mut(&pid) else {
            return;
        };
        process.creds = creds;
        let inbox = process.inbox;
        if let Some(mailbox) = self.mailboxes.get_mut(&inbox) {
            mailbox.owner_creds = creds;
        }
    }

    /// Registers `name` for `pid`, for its lifetime: others can then find it with
    /// [`Engine::whereis`].
    ///
    /// # Errors
    ///
    /// `Disconnected`, `InvalidName`, `AlreadyExists` (the name is taken, or `pid` already has a
    /// name).
    pub fn register(&mut self, pid: Pid, name: &str) -> Result<(), AdminError> {
        let name = Name::new(name).map_err(|_| AdminError::InvalidName)?;
        let process = self
            .processes
            .get_mut(&pid)
            .ok_or(AdminError::Disconnected)?;
        if process.name.is_some() || self.process_names.contains_key(&name) {
            return Err(AdminError::AlreadyExists);
        }
        process.name = Some(name.clone());
        self.process_names.insert(name, pid);
        Ok(())
    }

    /// The live process registered as `name`.
    pub fn whereis(&self, name: &str) -> Option<Pid> {
        Name::new(name)
            .ok()
            .and_then(|name| self.process_names.get(&name).copied())
    }

    /// Makes `watcher` receive a down notification in its inbox when `target` terminates — at
    /// once if it already has.
    ///
    /// Idempotent: monitoring a live target twice still gives one notification, and monitoring a
    /// dead one while its notification is still queued adds none.
    ///
    /// # Errors
    ///
    /// `Disconnected` (the watcher is not live), `NotFound` (`target` never existed), `PeerGone`
    /// (`target` has terminated and no notification could be queued: the watcher's inbox is full,
    /// or the quota spent — the answer itself says it is gone).
    pub fn monitor(&mut self, watcher: Pid, target: Pid, now: Timestamp) -> Result<(), AdminError> {
        let Some(process) = self.processes.get(&watcher) else {
            return Err(AdminError::Disconnected);
        };
        if self.has_terminated(target) {
            if process.downs_queued.contains(&target) {
                return Ok(());
            }
            let full = self.mailboxes[&process.inbox].queue.len() >= self.limits.inbox_capacity;
            if full || !self.quota_fits(message_charge(0), 0) {
                return Err(AdminError::PeerGone);
            }
            self.deliver_down(watcher, target, now);
            return Ok(());
        }
        let process = self
            .processes
            .get_mut(&target)
            .ok_or(AdminError::NotFound)?;
        process.monitored_by.insert(watcher);
        self.processes
            .get_mut(&watcher)
            .expect("checked")
            .monitoring
            .insert(target);
        Ok(())
    }

    /// Stops monitoring `target`. A down notification already delivered stays in the inbox.
    ///
    /// # Errors
    ///
    /// `Disconnected` (the watcher is not live).
    pub fn demonitor(&mut self, watcher: Pid, target: Pid) -> Result<(), AdminError> {
        let process = self
            .processes
            .get_mut(&watcher)
            .ok_or(AdminError::Disconnected)?;
        process.monitoring.remove(&target);
        if let Some(target) = self.processes.get_mut(&target) {
            target.monitored_by.remove(&watcher);
        }
        Ok(())
    }

    /// Every live process, by pid, with what each of its waiting operations waits for.
    pub fn processes(&self) -> Vec<ProcessInfo> {
        let mut waits: FxHashMap<Pid, Vec<WaitInfo>> = FxHashMap::default();
        // By ticket: oldest first.
        for (&ticket, waiter) in &self.waiters {
            let info = self.describe_wait(ticket, waiter);
            waits.entry(waiter.pid()).or_default().push(info);
        }
        let mut all: Vec<ProcessInfo> = self
            .processes
            .iter()
            .map(|(&pid, process)| {
                let waits = waits.remove(&pid).unwrap_or_default();
                ProcessInfo {
                    pid,
                    name: process.name.as_ref().map(|name| name.to_string()),
                    uid: process.creds.uid,
                    gid: process.creds.gid,
                    inbox_messages: self.mailboxes[&process.inbox].queue.len(),
                    owned_mailboxes: process.owned.len(),
                    waiting: waits.len(),
                    os_pid: process.os.pid,
                    command: process.os.command.clone(),
                    started: process.started,
                    waits,
                }
            })
            .collect();
        all.sort_by_key(|info| info.pid);
        all
    }

    /// Terminates `pid`, with every effect the contract lists:
    ///
    /// - its own waiting operations vanish (their messages with them);
    /// - its handles close: exclusive rights are released, pair peers get `PeerGone`;
    /// - its process-owned mailboxes are deleted: their waiters and later senders get `Gone`;
    /// - its inbox goes: senders waiting on it, and later `send_to` it, get `PeerGone`;
    /// - its monitors get a down notification, after every message it sent them;
    /// - every receiver waiting with `From(pid)` gets `PeerGone` (unless the down notification
    ///   satisfied it);
    /// - its own calls stop waiting: a request not yet taken is withdrawn, a taken one's reply
    ///   right is revoked;
    /// - every call whose request it had taken and not answered fails with `PeerGone`.
    ///
    /// Messages it sent before terminating stay queued and are delivered. Terminating a process
    /// that is not live does nothing.
    pub fn terminate(&mut self, pid: Pid, now: Timestamp) {
        let Some(process) = self.processes.remove(&pid) else {
            return;
        };
        if let Some(name) = &process.name {
            self.process_names.remove(name);
        }
        let own: Vec<_> = self
            .waiters
            .iter()
            .filter(|(_, w)| w.pid() == pid)
            .map(|(&t, _)| t)
            .collect();
        // All of them vanish before the room its senders held is handed on: otherwise that room
        // could admit a message into one of its own receives, or admit another of its sends.
        let mut freed = Vec::new();
        for ticket in own {
            freed.extend(self.vanish(ticket));
        }
        for mailbox in freed {
            self.admit_waiting_senders(mailbox, now);
        }
        for &mailbox in &process.opened {
            self.release(pid, mailbox, now);
        }
        for &mailbox in &process.owned {
            self.destroy(mailbox, SendErrorKind::Gone, RecvError::Gone);
        }
        self.destroy(process.inbox, SendErrorKind::PeerGone, RecvError::PeerGone);
        for target in &process.monitoring {
            if let Some(target) = self.processes.get_mut(target) {
                target.monitored_by.remove(&pid);
            }
        }
        for &watcher in &process.monitored_by {
            if let Some(watcher) = self.processes.get_mut(&watcher) {
                watcher.monitoring.remove(&pid);
            }
            self.deliver_down(watcher, pid, now);
        }
        for (ticket, branch) in self.from_index.remove(&pid).unwrap_or_default() {
            self.fail_recv_waiter(ticket, branch, RecvError::PeerGone);
        }
        self.drop_held_calls(&process.holding);
    }

    /// Removes a waiting operation of a terminating process without completing it. Returns the
    /// mailbox of a withdrawn send, whose waiting senders the caller then admits.
    fn vanish(&mut self, ticket: crate::Ticket) -> Option<crate::MailboxId> {
        match self.waiters.get(&ticket) {
            Some(Waiter::Recv { .. }) => self.forget_recv_waiter(ticket),
            Some(&Waiter::Send { mailbox, .. }) => {
                self.waiters.remove(&ticket);
                if let Some(mb) = self.mailboxes.get_mut(&mailbox) {
                    let index = mb.blocked_senders.iter().position(|b| b.ticket == ticket);
                    if let Some(blocked) = index.and_then(|i| mb.blocked_senders.remove(i)) {
                        self.release_waiting(&blocked.message);
                    }
                }
                return Some(mailbox);
            }
            Some(&Waiter::Receipt { mailbox, .. }) => {
                // The message stays queued for its receiver; nobody awaits the receipt any more.
                self.waiters.remove(&ticket);
                if let Some(mb) = self.mailboxes.get_mut(&mailbox)
                    && let Some(seq) = mb.members.seq_of_receipt(ticket)
                    && let Some(owed) = mb.members.owed_mut(seq)
                {
                    owed.receipt = None;
                }
                if let Some(slot) = self
                    .mailboxes
                    .get(&mailbox)
                    .and_then(|mb| mb.queue.find_receipt(ticket))
                {
                    live(&mut self.mailboxes, mailbox)
                        .queue
                        .entry_mut(slot)
                        .receipt = None;
                }
            }
            Some(&Waiter::Call { call, mailbox, .. }) => {
                self.withdraw_call(ticket, call, mailbox);
                return Some(mailbox);
            }
            None => {}
        }
        None
    }

    /// Puts a down notification about `dead` into `watcher`'s inbox. When `dead` terminates, its
    /// monitors' notifications bypass the inbox's capacity and the quota — they are never lost,
    /// and there is at most one per monitor, so they are bounded by the monitors of live processes
    /// — but they count in both like any message.
    fn deliver_down(&mut self, watcher: Pid, dead: Pid, now: Timestamp) {
        let Some(inbox) = self.processes.get(&watcher).map(|p| p.inbox) else {
            return;
        };
        let entry = self.accept(
            inbox,
            dead,
            Message::new(Vec::new()),
            now,
            None,
            MessageKind::Down,
        );
        if let Err(entry) = self.offer(inbox, entry, now) {
            self.push_entry(inbox, entry);
            if let Some(process) = self.processes.get_mut(&watcher) {
                process.downs_queued.insert(dead);
            }
        }
    }
}

//! mq_notify(3): telling a process that a message has arrived on an empty queue.
//!
//! Linux keeps one registration per queue, in the kernel. postbox has no such thing, so the
//! shim builds it from two postbox pieces, in the registering process:
//!
//! - **Who is registered** is a *lock mailbox*, `posix.NAME/notify` (a queue's own mailbox
//!   name never holds a `/`), created process-owned by a connection made for the registration.
//!   Creating it fails with `AlreadyExists` while any process holds the registration (`EBUSY`);
//!   deleting it (unregistering, or notifying) frees it at once, and if the process dies its
//!   connection closes and the daemon deletes the mailbox with it.
//! - **Noticing the message** is a *watcher* thread on that connection. It looks at the queue's
//!   statistics every [`SLICE`], never touching its messages: when the count of messages ever
//!   sent has grown since a look that found the queue empty with no receiver waiting, a message
//!   arrived on the empty queue. Unless a receiver had been waiting on it since before the last
//!   send (the daemon reports every wait and since when) — the case where Linux hands the
//!   message to that receiver and notifies nobody — the watcher deletes the lock and notifies:
//!   a signal sent to this process (`si_code` `SI_MESGQ`, the sender's pid and uid,
//!   `sigev_value`), or `sigev_notify_function` called on a new thread, or nothing
//!   (`SIGEV_NONE`). One-shot: the registration ends there. A message received at once is
//!   still noticed (the count tells), and the queue's contents are never disturbed; the price is
//!   a notification up to [`SLICE`] late, and a look (one round trip) per [`SLICE`] while
//!   registered.
//!
//! `mq_notify(mqdes, NULL)` and `mq_close` on the queue end this process's registration: the
//! watcher is told to stop and joined (it wakes within [`SLICE`]). A forked child does not
//! inherit a registration (its watcher thread does not exist there), as on Linux.

use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use postbox::{
    AdminError, Mailbox, Ownership, Pid, Process, ProcessInfo, Timestamp, WaitKind, WaitTarget,
};

use crate::sys::{self, Sigevent};

/// How often a watcher looks at its queue.
const SLICE: Duration = Duration::from_millis(20);

/// How long a registration waits for one that is ending before it answers `EBUSY`.
const GRACE: Duration = Duration::from_millis(100);

/// One registration this process made.
#[derive(Debug)]
struct Registration {
    /// The OS process that registered (a forked child ignores its parent's).
    os_pid: u32,
    /// The queue's mailbox.
    queue: String,
    /// Set to make the watcher stop without notifying.
    stop: Arc<AtomicBool>,
    /// Set by the watcher once it has ended (notified, stopped, or the queue is gone).
    ended: Arc<AtomicBool>,
    watcher: Option<JoinHandle<()>>,
}

static REGISTRATIONS: Mutex<Vec<Registration>> = Mutex::new(Vec::new());

fn registrations() -> MutexGuard<'static, Vec<Registration>> {
    REGISTRATIONS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The lock mailbox of queue mailbox `queue`, on the queue's node when the queue is another
/// node's (`posix.NAME@NODE` has `posix.NAME/notify@NODE`).
fn lock_name(queue: &str) -> String {
    match split_node(queue) {
        (name, Some(node)) => format!("{name}/notify@{node}"),
        (name, None) => format!("{name}/notify"),
    }
}

/// A queue mailbox's name on its node, and that node when it is another one (a POSIX queue's
/// mailbox name never holds an `@`: it is written `_40`).
fn split_node(queue: &str) -> (&str, Option<&str>) {
    match queue.rsplit_once('@') {
        Some((name, node)) => (name, Some(node)),
        None => (queue, None),
    }
}

/// Takes this process's registration for `queue` out of the table, if it has one; a forked
/// child's inherited entries and ended ones are cleared on the way.
fn take(queue: &str) -> Option<Registration> {
    let me = std::process::id();
    let mut table = registrations();
    let mut found = None;
    let mut index = 0;
    while index < table.len() {
        let entry = &table[index];
        if entry.os_pid != me {
            std::mem::forget(table.swap_remove(index)); // the parent's thread: not ours to join
        } else if entry.queue == queue {
            found = Some(table.swap_remove(index));
        } else {
            index += 1;
        }
    }
    found
}

/// Stops a registration's watcher and waits for it (it deletes the lock as it ends).
fn end(mut registration: Registration) {
    registration.stop.store(true, Ordering::SeqCst);
    if let Some(watcher) = registration.watcher.take() {
        let _ = watcher.join();
    }
}

/// `mq_notify(mqdes, NULL)`, and `mq_close`: ends this process's registration for `queue`.
pub(crate) fn unregister(queue: &str) {
    if let Some(registration) = take(queue) {
        end(registration);
    }
}

/// `mq_notify(mqdes, sevp)`: registers this process for one notification on `queue`. `EBUSY`
/// when a process (this one included) is registered already.
pub(crate) fn register(queue: &str, how: How) -> Result<(), c_int> {
    // A registration whose message has just arrived ends a moment later here than on Linux
    // (where it ends inside `mq_send`): give it that moment before answering `EBUSY`.
    let deadline = Instant::now() + GRACE;
    loop {
        match try_register(queue, how) {
            Err(libc::EBUSY) if Instant::now() < deadline => std::thread::sleep(GRACE / 10),
            other => return other,
        }
    }
}

fn try_register(queue: &str, how: How) -> Result<(), c_int> {
    if let Some(registration) = take(queue) {
        if !registration.ended.load(Ordering::SeqCst) {
            registrations().push(registration);
            return Err(libc::EBUSY);
        }
        end(registration);
    }
    // The watcher's connection, and its thread, with every signal blocked: they never take the
    // program's signals (see `wait`).
    let caller = sys::block_signals();
    let started = start(queue, how);
    sys::set_signal_mask(&caller);
    registrations().push(started?);
    Ok(())
}

fn start(queue: &str, how: How) -> Result<Registration, c_int> {
    let process = postbox::connect_default().map_err(|_| libc::ECONNREFUSED)?;
    let mailbox = process.mailbox(queue).open().map_err(|error| match error {
        postbox::OpenError::NotFound => libc::EBADF,
        postbox::OpenError::PermissionDenied => libc::EACCES,
        _ => libc::EIO,
    })?;
    let lock = process
        .mailbox(&lock_name(queue))
        .ownership(Ownership::Process)
        .create()
        .map_err(|error| match error {
            postbox::OpenError::AlreadyExists => libc::EBUSY,
            _ => libc::EIO,
        })?;
    let at_registration = mailbox.stat().map_err(|_| libc::EBADF)?;
    let stop = Arc::new(AtomicBool::new(false));
    let ended = Arc::new(AtomicBool::new(false));
    let watcher = Watcher {
        empty_at_registration: at_registration.messages == 0
            && at_registration.blocked_receivers == 0,
        sent_at_registration: at_registration.total_sent,
        process,
        mailbox,
        lock,
        how,
        stop: stop.clone(),
        ended: ended.clone(),
    };
    let thread = std::thread::Builder::new()
        .name("postbox-mq-notify".to_owned())
        .spawn(move || watcher.run())
        .map_err(|_| libc::EAGAIN)?;
    Ok(Registration {
        os_pid: std::process::id(),
        queue: queue.to_owned(),
        stop,
        ended,
        watcher: Some(thread),
    })
}

/// What a notification does.
#[derive(Clone, Copy, Debug)]
pub(crate) enum How {
    /// `SIGEV_NONE`: nothing (the registration still ends).
    Nothing,
    /// `SIGEV_SIGNAL`.
    Signal { signo: c_int, value: usize },
    /// `SIGEV_THREAD` (`sigev_notify_attributes` is not used: the thread has default ones).
    Thread {
        function: extern "C" fn(libc::sigval),
        value: usize,
    },
}

impl How {
    /// What `event` asks for; `EINVAL` for a `sigev_notify` or signal that is not valid.
    pub(crate) fn of(event: Sigevent) -> Result<How, c_int> {
        match event.notify {
            libc::SIGEV_NONE => Ok(How::Nothing),
            libc::SIGEV_SIGNAL if (1..=libc::SIGRTMAX()).contains(&event.signo) => {
                Ok(How::Signal {
                    signo: event.signo,
                    value: event.value,
                })
            }
            libc::SIGEV_THREAD => match event.function {
                Some(function) => Ok(How::Thread {
                    function,
                    value: event.value,
                }),
                None => Err(libc::EINVAL),
            },
            _ => Err(libc::EINVAL),
        }
    }
}

/// A registration's watcher: its own postbox process, the queue, and the lock it holds.
struct Watcher {
    /// Whether the queue was empty, and no receiver waiting, when the registration was made.
    empty_at_registration: bool,
    /// How many messages had been sent to the queue then.
    sent_at_registration: u64,
    process: Process,
    mailbox: Mailbox,
    lock: Mailbox,
    how: How,
    stop: Arc<AtomicBool>,
    ended: Arc<AtomicBool>,
}

impl Watcher {
    fn run(self) {
        let sender = self.watch();
        // Free the registration before notifying, so that a handler may register again.
        let _ = self.lock.delete();
        self.ended.store(true, Ordering::SeqCst);
        if let Some(sender) = sender {
            self.notify(sender);
        }
    }

    /// Waits for a message to arrive on the empty queue with no receiver waiting; its sender's
    /// (OS pid, uid) — 0 for a sender that has gone already, which Linux would name — or `None`
    /// when told to stop or the queue is gone.
    fn watch(&self) -> Option<(libc::pid_t, u32)> {
        // Whether the queue was empty, with no receiver waiting, when last seen; and how many
        // messages had been sent to it then.
        let mut armed = self.empty_at_registration;
        let mut last_sent = self.sent_at_registration;
        while !self.stop.load(Ordering::SeqCst) {
            let stats = self.mailbox.stat().ok()?;
            if armed && stats.total_sent > last_sent {
                // A message arrived on the empty queue since the last look (it may have been
                // received already).
                if let Some((sender, at)) = stats.last_send {
                    if !self.receiver_waited_since_before(at) {
                        return Some(self.sender(Some(sender)));
                    }
                }
            }
            last_sent = stats.total_sent;
            armed = stats.messages == 0 && stats.blocked_receivers == 0;
            std::thread::sleep(SLICE);
        }
        None
    }

    /// Whether a receiver other than this watcher has been waiting on the queue since before
    /// `at` (then a message arriving at `at` was its, and Linux notifies nobody).
    fn receiver_waited_since_before(&self, at: Timestamp) -> bool {
        let me = self.process.pid();
        let (name, node) = split_node(self.mailbox.name());
        let queue = WaitTarget::Mailbox(name.to_owned());
        // On another node, the watcher is a stand-in there, whose pid is not `me`; but it never
        // receives, so it never waits on the queue.
        self.list_processes(node).is_ok_and(|all| {
            all.iter().filter(|info| info.pid != me).any(|info| {
                info.waits.iter().any(|wait| {
                    matches!(wait.kind, WaitKind::Recv | WaitKind::Lease)
                        && wait.on.contains(&queue)
                        && wait.since <= at
                })
            })
        })
    }

    /// The OS pid and uid of postbox process `sender` (0 and this process's uid when unknown;
    /// the pid 0 as well on another node's queue).
    fn sender(&self, sender: Option<Pid>) -> (libc::pid_t, u32) {
        let (_, node) = split_node(self.mailbox.name());
        let info = sender.and_then(|sender| {
            self.list_processes(node)
                .ok()
                .and_then(|all| all.into_iter().find(|info| info.pid == sender))
        });
        // Another node's process has another machine's OS pid: no use to this one.
        let os_pid = info
            .as_ref()
            .filter(|_| node.is_none())
            .and_then(|info| info.os_pid)
            .and_then(|os| libc::pid_t::try_from(os).ok())
            .unwrap_or(0);
        (os_pid, info.map_or_else(sys::uid, |info| info.uid))
    }

    /// The processes of the queue's node: `node`, or the one connected to.
    fn list_processes(&self, node: Option<&str>) -> Result<Vec<ProcessInfo>, AdminError> {
        match node {
            Some(node) => self.process.list_processes_at(node),
            None => self.process.list_processes(),
        }
    }

    fn notify(&self, (pid, uid): (libc::pid_t, u32)) {
        match self.how {
            How::Nothing => {}
            How::Signal { signo, value } => sys::queue_signal(signo, value, pid, uid),
            How::Thread { function, value } => {
                let _ = std::thread::Builder::new()
                    .name("postbox-mq-notify-fn".to_owned())
                    .spawn(move || sys::call_notify_function(function, value));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_of_another_nodes_queue_is_on_that_node() {
        assert_eq!(lock_name("posix.jobs"), "posix.jobs/notify");
        assert_eq!(lock_name("posix.jobs@b"), "posix.jobs/notify@b");
        assert_eq!(split_node("posix.jobs@b"), ("posix.jobs", Some("b")));
        assert_eq!(split_node("posix.a_40b"), ("posix.a_40b", None));
    }
}

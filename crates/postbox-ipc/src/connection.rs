//! This OS process's postbox process, and the queues it has open.
//!
//! One connection per OS process, made on first use. After `fork` the child must not use the
//! parent's connection (both would write to one socket), so each call checks the OS pid: a
//! child leaves the inherited state alone (forgotten, never dropped: dropping would close the
//! parent's process) and connects anew.
//!
//! The lock is held only to find or add a handle, never while an operation waits, so a
//! blocked `msgrcv` on one thread never stops another thread's `msgsnd`.

use std::collections::HashMap;
use std::ffi::c_int;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use libc::key_t;
use postbox::{Mailbox, MailboxStats, Process};

use crate::msqid::{self, Place};
use crate::names;

/// An open queue: its mailbox, the key it was made for, and the node it lives on when a
/// mapping put it on another one.
#[derive(Debug)]
pub(crate) struct Queue {
    pub(crate) mailbox: Mailbox,
    pub(crate) key: key_t,
    pub(crate) node: Option<String>,
}

#[derive(Debug)]
struct Connection {
    /// The OS process that connected.
    os_pid: u32,
    process: Arc<Process>,
    /// Open queues by identifier.
    queues: HashMap<c_int, Arc<Queue>>,
}

static STATE: Mutex<Option<Connection>> = Mutex::new(None);

fn state() -> MutexGuard<'static, Option<Connection>> {
    STATE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// This OS process's connection, made (or made anew after a fork) if need be.
fn connected(state: &mut Option<Connection>) -> Result<&mut Connection, c_int> {
    let os_pid = std::process::id();
    if state.as_ref().is_some_and(|c| c.os_pid != os_pid) {
        // A forked child: the parent's connection is not this process's to use or to close.
        std::mem::forget(state.take());
    }
    if state.is_none() {
        // The connection's reader thread inherits this thread's signal mask: with every signal
        // blocked, it never takes a signal meant for the program's own threads (crate::wait).
        let caller = crate::sys::block_signals();
        let connected = postbox::connect_default();
        crate::sys::set_signal_mask(&caller);
        let process = connected.map_err(|_| libc::ECONNREFUSED)?;
        *state = Some(Connection {
            os_pid,
            process: Arc::new(process),
            queues: HashMap::new(),
        });
    }
    state.as_mut().ok_or(libc::EIO)
}

/// This OS process's postbox process.
pub(crate) fn process() -> Result<Arc<Process>, c_int> {
    Ok(connected(&mut state())?.process.clone())
}

/// Keeps `queue` open as `msqid` (an already open one wins: the new handle is closed).
pub(crate) fn remember(msqid: c_int, queue: Queue) {
    let mut state = state();
    if let Ok(connection) = connected(&mut state) {
        connection
            .queues
            .entry(msqid)
            .or_insert_with(|| Arc::new(queue));
    }
}

/// Closes `msqid` for this process (after `IPC_RMID`, or once it is found gone).
pub(crate) fn forget(msqid: c_int) {
    let removed = state().as_mut().and_then(|c| c.queues.remove(&msqid));
    drop(removed); // outside the lock: closing is a round trip
}

/// The queue `msqid`: open already, or found by its id (an identifier this process got from
/// another one) among the mailboxes of the node it names — this node's, or for another node's
/// queue each linked node's in turn — and opened. `EINVAL` when there is none, `EIO` when a node
/// cannot be asked.
pub(crate) fn queue(msqid: c_int) -> Result<Arc<Queue>, c_int> {
    let process = {
        let mut state = state();
        let connection = connected(&mut state)?;
        if let Some(queue) = connection.queues.get(&msqid) {
            return Ok(queue.clone());
        }
        connection.process.clone()
    };
    let id = msqid::mailbox_id(msqid)?;
    let queue = match msqid::place(msqid)? {
        Place::Here => {
            let all = process.list_mailboxes().map_err(|_| libc::EIO)?;
            open_found(&process, &all, id, None)?
        }
        Place::Remote => {
            let links = process.node_links().map_err(|_| libc::EIO)?;
            let mut found = Err(libc::EINVAL);
            for peer in &links.peers {
                let all = match process.list_mailboxes_at(&peer.name) {
                    Ok(all) => all,
                    Err(_) => {
                        // A node that is down may hold it: say so rather than "no such queue".
                        found = found.or(Err(libc::EIO));
                        continue;
                    }
                };
                match open_found(&process, &all, id, Some(&peer.name)) {
                    Ok(queue) => {
                        found = Ok(queue);
                        break;
                    }
                    Err(libc::EINVAL) => {}
                    Err(errno) => found = Err(errno),
                }
            }
            found?
        }
    };
    remember(msqid, queue);
    let mut state = state();
    let connection = connected(&mut state)?;
    connection.queues.get(&msqid).cloned().ok_or(libc::EINVAL)
}

/// Opens the System V queue whose mailbox is listed in `all` with id `id`, on `node` when given
/// (the daemon lists another node's mailboxes with the ids it hands out for them), checking
/// that the mailbox opened by its name has that id still; `EINVAL` when it is not there.
fn open_found(
    process: &Process,
    all: &[MailboxStats],
    id: u64,
    node: Option<&str>,
) -> Result<Queue, c_int> {
    let found = all
        .iter()
        .find(|stats| stats.id.as_raw() == id)
        .ok_or(libc::EINVAL)?;
    let key = names::key_of(&found.name).ok_or(libc::EINVAL)?;
    let name = names::on_node(found.name.clone(), node);
    let mailbox = process.mailbox(&name).open().map_err(|error| match error {
        postbox::OpenError::PermissionDenied => libc::EACCES,
        postbox::OpenError::Disconnected => libc::EIO,
        _ => libc::EINVAL,
    })?;
    if mailbox.id().as_raw() != id {
        return Err(libc::EINVAL); // removed, and its name reused, meanwhile; or another node's
    }
    Ok(Queue {
        mailbox,
        key,
        node: node.map(str::to_owned),
    })
}

//! msgget(2): a queue identifier for a key, creating the queue when asked.

// Exports C symbols (`#[unsafe(no_mangle)]`); unsafe blocks stay in `sys` (tests/unsafe_audit.rs).
#![allow(unsafe_code)]

use std::ffi::c_int;

use libc::key_t;
use postbox::{Capacity, Dispatch, MessageSize, Mode, OpenError, Ownership, Receivers};

use crate::connection::{self, Queue};
use crate::errno::{self, entry};
use crate::limits::{msgmax, msgmnb, msgmni};
use crate::names;
use crate::{msqid, node_map};

/// How many fresh names an `IPC_PRIVATE` queue tries before giving up with `ENOSPC`.
const PRIVATE_TRIES: usize = 8;

/// msgget(2): the identifier of the queue for `key`.
///
/// `IPC_PRIVATE` always creates a new queue. Otherwise `IPC_CREAT` creates the queue when there
/// is none (`IPC_CREAT | IPC_EXCL`: fails with `EEXIST` when there is one), and without it a
/// missing queue is `ENOENT`. The low 9 bits of `msgflg` are a new queue's permissions.
#[unsafe(no_mangle)]
pub extern "C" fn msgget(key: key_t, msgflg: c_int) -> c_int {
    entry(|| get(key, msgflg))
}

fn get(key: key_t, msgflg: c_int) -> Result<c_int, c_int> {
    let process = connection::process()?;
    let node = node_map::loaded()?.node_of_key(key);
    let mode = Mode::new((msgflg & 0o777) as u16);
    let builder = |name: &str| {
        process
            .mailbox(name)
            .capacity(Capacity::bounded(msgmnb(), msgmnb()))
            .size(MessageSize::Variable(msgmax()))
            .ownership(Ownership::System)
            .receivers(Receivers::Shared(Dispatch::FirstWaiting))
            .mode(mode)
    };
    let creating = msgflg & libc::IPC_CREAT != 0;
    let exclusive = msgflg & libc::IPC_EXCL != 0;
    let opened = if key == libc::IPC_PRIVATE {
        room_for_one_more(&process, node)?;
        let mut tries = 0;
        loop {
            match builder(&names::on_node(names::private(), node)).create() {
                Err(OpenError::AlreadyExists) if tries < PRIVATE_TRIES => tries += 1,
                Err(OpenError::AlreadyExists) => break Err(libc::ENOSPC),
                other => break other.map_err(|e| errno::open(&e)),
            }
        }
    } else {
        let name = names::on_node(names::of_key(key), node);
        let opened = match (creating, exclusive) {
            (true, true) => {
                room_for_one_more(&process, node)?;
                builder(&name).create()
            }
            (true, false) => match builder(&name).open() {
                Err(OpenError::NotFound) => {
                    room_for_one_more(&process, node)?;
                    builder(&name).open_or_create()
                }
                other => other,
            },
            (false, _) => builder(&name).open(),
        };
        opened.map_err(|e| errno::open(&e))
    };
    let mailbox = opened?;
    let msqid = match msqid::of_mailbox(mailbox.id().as_raw()) {
        Ok(msqid) => msqid,
        Err(errno) => {
            if key == libc::IPC_PRIVATE {
                let _ = mailbox.delete(); // nobody else can know of it
            }
            return Err(errno);
        }
    };
    let node = node.map(str::to_owned);
    connection::remember(msqid, Queue { mailbox, key, node });
    Ok(msqid)
}

/// `ENOSPC` when the node the queue goes to (`node`, else the one connected to) holds `msgmni`
/// System V queues already (/proc/sys/kernel/msgmni, as the kernel counts its own).
fn room_for_one_more(process: &postbox::Process, node: Option<&str>) -> Result<(), c_int> {
    let all = match node {
        Some(node) => process.list_mailboxes_at(node),
        None => process.list_mailboxes(),
    }
    .map_err(|error| match error {
        // A node the daemon does not link with: no queue there, as `open` says.
        postbox::AdminError::NotFound => libc::ENOENT,
        _ => libc::EIO,
    })?;
    let queues = all
        .iter()
        .filter(|stats| names::key_of(&stats.name).is_some())
        .count();
    if queues >= msgmni() {
        return Err(libc::ENOSPC);
    }
    Ok(())
}

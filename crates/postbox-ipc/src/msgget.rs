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
        room_for_one_more(&process)?;
        let mut tries = 0;
        loop {
            match builder(&names::private()).create() {
                Err(OpenError::AlreadyExists) if tries < PRIVATE_TRIES => tries += 1,
                Err(OpenError::AlreadyExists) => break Err(libc::ENOSPC),
                other => break other.map_err(|e| errno::open(&e)),
            }
        }
    } else {
        let name = names::of_key(key);
        let opened = match (creating, exclusive) {
            (true, true) => {
                room_for_one_more(&process)?;
                builder(&name).create()
            }
            (true, false) => match builder(&name).open() {
                Err(OpenError::NotFound) => {
                    room_for_one_more(&process)?;
                    builder(&name).open_or_create()
                }
                other => other,
            },
            (false, _) => builder(&name).open(),
        };
        opened.map_err(|e| errno::open(&e))
    };
    let mailbox = opened?;
    let msqid = c_int::try_from(mailbox.id().as_raw()).map_err(|_| libc::ENOSPC)?;
    connection::remember(msqid, Queue { mailbox, key });
    Ok(msqid)
}

/// `ENOSPC` when the daemon holds `msgmni` System V queues already (/proc/sys/kernel/msgmni, as
/// the kernel counts its own).
fn room_for_one_more(process: &postbox::Process) -> Result<(), c_int> {
    let all = process.list_mailboxes().map_err(|_| libc::EIO)?;
    let queues = all
        .iter()
        .filter(|stats| names::key_of(&stats.name).is_some())
        .count();
    if queues >= msgmni() {
        return Err(libc::ENOSPC);
    }
    Ok(())
}

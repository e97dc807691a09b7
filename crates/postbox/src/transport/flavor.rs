//! How a mailbox's plain sends and receives travel, per transport: a private enum in the manner
//! of crossbeam-channel's flavours, so that a handle's send is a match with one line per flavour
//! and each flavour's details stay in its own folder.

use std::collections::VecDeque;
use std::sync::Arc;

use postbox_core::{Message, Pid, Received, SelectError, SendError};

use super::inproc::Lane;
use super::pending::WaitFor;
use super::shm::ShmLane;
use crate::wait::Patience;

/// The path a mailbox's plain (FIFO, any-message) sends and receives take.
#[derive(Debug)]
pub(crate) enum Flavor {
    /// As requests to the engine, like every other operation.
    Engine,
    /// Through the in-process node's fast lane for this mailbox, while the engine lends it one.
    Inproc(Arc<Lane>),
    /// Through a ring in shared memory, while the daemon lends the mailbox to one.
    Shm(Arc<ShmLane>),
}

impl Flavor {
    /// Carries a plain send of `message` from `pid` on the flavour's own path: its result, or the
    /// message back when the send must go through the engine.
    pub(crate) fn send(
        &self,
        wait: WaitFor<'_>,
        pid: Pid,
        message: Message,
        patience: Patience,
    ) -> Result<Result<Option<Pid>, SendError>, Message> {
        match self {
            Flavor::Engine => Err(message),
            Flavor::Inproc(lane) => lane.send_plain(wait, pid, message, patience),
            Flavor::Shm(lane) => lane.send_plain(pid, message, patience),
        }
    }

    /// Whether a send that must wait for room waits on the flavour's own path (a ring in shared
    /// memory) rather than in the engine: a blocking batch then waits there too.
    pub(crate) fn waits_in_place(&self) -> bool {
        matches!(self, Flavor::Shm(_))
    }

    /// Sends as many of `messages` as the flavour's own path takes now without waiting, in
    /// order, taking them off the front: how many. The rest go through the engine.
    pub(crate) fn send_many(&self, pid: Pid, messages: &mut VecDeque<Message>) -> usize {
        match self {
            Flavor::Engine => 0,
            Flavor::Inproc(lane) => lane.send_many(pid, messages),
            Flavor::Shm(lane) => lane.send_many(pid, messages),
        }
    }

    /// Takes up to `max` messages ready on the flavour's own path, without waiting; `None` when
    /// receives must go through the engine.
    pub(crate) fn recv_many(&self, pid: Pid, max: usize) -> Option<Vec<Received>> {
        match self {
            Flavor::Engine => None,
            Flavor::Inproc(lane) => lane.recv_many(pid, max),
            Flavor::Shm(lane) => lane.recv_many(pid, max),
        }
    }

    /// Carries a plain receive for `pid` on the flavour's own path: its result, or `None` when the
    /// receive must go through the engine.
    pub(crate) fn recv(
        &self,
        wait: WaitFor<'_>,
        pid: Pid,
        patience: Patience,
    ) -> Option<Result<Received, SelectError>> {
        match self {
            Flavor::Engine => None,
            Flavor::Inproc(lane) => lane.recv_plain(wait, pid, patience),
            Flavor::Shm(lane) => lane.recv_plain(pid, patience),
        }
    }
}

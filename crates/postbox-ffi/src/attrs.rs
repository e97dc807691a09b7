//! Mailbox attributes as C names them: one enum per setting, passed as an `int`.
//!
//! C may pass any `int`, so the library never takes these enums by value from C (an unknown
//! value would be undefined behaviour in Rust): it takes `int`s and converts them here, failing
//! with `POSTBOX_STATUS_INVALID_ARGUMENT` on a value the enum does not name.

use std::ffi::c_int;

use postbox_lib::{Dispatch, Order, Overflow, Ownership, Receivers};

use crate::status::{Error, Outcome};

/// How many messages a mailbox buffers (`postbox_mailbox_options_set_capacity`).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PostboxCapacity {
    /// No buffer: a send completes when a receiver takes the message (rendezvous).
    Zero = 0,
    /// At most so many messages and payload bytes queued (default: 64 messages, 1 MiB).
    Bounded = 1,
    /// No per-mailbox limit; the node-wide quota of queued bytes still applies.
    Unbounded = 2,
}

/// The size rule of a mailbox's messages (`postbox_mailbox_options_set_size`).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PostboxSize {
    /// Every payload is exactly so many bytes; others fail with `POSTBOX_STATUS_WRONG_SIZE`.
    Fixed = 0,
    /// Payloads are at most so many bytes (default 64 KiB); others fail with
    /// `POSTBOX_STATUS_TOO_LARGE`.
    Variable = 1,
}

/// The order in which queued messages are received.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PostboxOrder {
    /// First in, first out (the default).
    Fifo = 0,
    /// Highest priority first, first in first out among equals (POSIX `mq`).
    Priority = 1,
}

/// What a send to a full bounded mailbox does.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PostboxOverflow {
    /// The sender waits for room, or fails with `POSTBOX_STATUS_FULL` when it may not wait (default).
    Block = 0,
    /// The oldest queued messages are discarded so that the newest always fits (counted in the
    /// statistics' `dropped`).
    DropOldest = 1,
}

/// Who a mailbox belongs to.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PostboxOwnership {
    /// The creating process: deleted when it terminates, its waiters and senders told (default).
    Process = 0,
    /// The creator's uid: lives until deleted.
    System = 1,
}

/// Who may receive from a mailbox, and how messages are dispatched among them.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PostboxReceivers {
    /// The owner alone, and processes it grants the right (default for process-owned).
    Owner = 0,
    /// One process at a time: the first to receive holds the right until it closes the mailbox
    /// or terminates; others get `POSTBOX_STATUS_BUSY`.
    Exclusive = 1,
    /// Every process with read permission, each message to the one that has waited longest
    /// (default for system-owned).
    SharedFirstWaiting = 2,
    /// Every process with read permission, rotating among the waiting ones.
    SharedRoundRobin = 3,
    /// A link of exactly two processes: the first to send and the first to receive.
    Pair = 4,
    /// Fan-out: every message to every process that receives from the mailbox.
    Broadcast = 5,
}

/// Who owns a mailbox now (`postbox_mailbox_stats.owner_kind`).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PostboxOwnerKind {
    /// A process, named by `owner_pid`.
    Process = 0,
    /// A user and group, `uid` and `gid`.
    System = 1,
}

fn unknown(what: &str, value: c_int) -> Error {
    Error::invalid(format!("{value} is not a {what}"))
}

pub(crate) fn order(value: c_int) -> Outcome<Order> {
    match value {
        0 => Ok(Order::Fifo),
        1 => Ok(Order::Priority),
        other => Err(unknown("postbox_order", other)),
    }
}

pub(crate) fn order_code(order: Order) -> c_int {
    match order {
        Order::Fifo => PostboxOrder::Fifo as c_int,
        Order::Priority => PostboxOrder::Priority as c_int,
    }
}

pub(crate) fn overflow(value: c_int) -> Outcome<Overflow> {
    match value {
        0 => Ok(Overflow::Block),
        1 => Ok(Overflow::DropOldest),
        other => Err(unknown("postbox_overflow", other)),
    }
}

pub(crate) fn overflow_code(overflow: Overflow) -> c_int {
    match overflow {
        Overflow::Block => PostboxOverflow::Block as c_int,
        Overflow::DropOldest => PostboxOverflow::DropOldest as c_int,
    }
}

pub(crate) fn ownership(value: c_int) -> Outcome<Ownership> {
    match value {
        0 => Ok(Ownership::Process),
        1 => Ok(Ownership::System),
        other => Err(unknown("postbox_ownership", other)),
    }
}

pub(crate) fn ownership_code(ownership: Ownership) -> c_int {
    match ownership {
        Ownership::Process => PostboxOwnership::Process as c_int,
        Ownership::System => PostboxOwnership::System as c_int,
    }
}

pub(crate) fn receivers(value: c_int) -> Outcome<Receivers> {
    match value {
        0 => Ok(Receivers::Owner),
        1 => Ok(Receivers::Exclusive),
        2 => Ok(Receivers::Shared(Dispatch::FirstWaiting)),
        3 => Ok(Receivers::Shared(Dispatch::RoundRobin)),
        4 => Ok(Receivers::Pair),
        5 => Ok(Receivers::Broadcast),
        other => Err(unknown("postbox_receivers", other)),
    }
}

pub(crate) fn receivers_code(receivers: Receivers) -> c_int {
    let code = match receivers {
        Receivers::Owner => PostboxReceivers::Owner,
        Receivers::Exclusive => PostboxReceivers::Exclusive,
        Receivers::Shared(Dispatch::FirstWaiting) => PostboxReceivers::SharedFirstWaiting,
        Receivers::Shared(Dispatch::RoundRobin) => PostboxReceivers::SharedRoundRobin,
        Receivers::Pair => PostboxReceivers::Pair,
        Receivers::Broadcast => PostboxReceivers::Broadcast,
    };
    code as c_int
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_survives_the_round_trip_and_strangers_are_refused() {
        for code in 0..2 {
            assert_eq!(order_code(order(code).unwrap()), code);
            assert_eq!(overflow_code(overflow(code).unwrap()), code);
            assert_eq!(ownership_code(ownership(code).unwrap()), code);
        }
        for code in 0..6 {
            assert_eq!(receivers_code(receivers(code).unwrap()), code);
        }
        assert_eq!(order(2).unwrap_err().text, "2 is not a postbox_order");
        assert!(overflow(-1).is_err());
        assert!(ownership(7).is_err());
        assert!(receivers(6).is_err());
    }
}

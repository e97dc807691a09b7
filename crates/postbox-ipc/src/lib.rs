//! libpostbox_ipc: System V message queues on postbox, for programs that do not change.
//!
//! Loaded with `LD_PRELOAD`, this library's `msgget`, `msgsnd`, `msgrcv` and `msgctl` replace the
//! C library's: a program written against the System V man pages then uses postbox mailboxes
//! instead of kernel queues — visible with `postbox ls`, subject to postbox's limits, and (once
//! nodes exist) able to span machines — while `ipcs -q` stays empty.
//!
//! - A key names the mailbox `sysv.KKKKKKKK` (the key in 8 hex digits); `IPC_PRIVATE` creates a
//!   fresh `sysv.private.*` one. Queues are system-owned mailboxes (they outlive their creator
//!   until `IPC_RMID`), shared among receivers, bounded as this machine's kernel queues are
//!   (/proc/sys/kernel/msgmnb bytes and messages, msgmax bytes per message, at most 1 MiB), with
//!   the permission bits of `msgflg`.
//! - A queue identifier is the mailbox's id, the same in every process of the daemon; a process
//!   given one (by fork, argv, a file) finds the mailbox by it.
//! - Each OS process is one postbox process, connected on first use to `postbox::default_url()`
//!   (`$POSTBOX_URL`, else the local daemon's socket); a child after `fork` connects anew.
//! - Errors are `-1` with `errno` as the man pages say (see docs/compat.md for what differs).
//!
//! `unsafe` blocks live in the `sys` module alone: reading and writing the caller's `msgbuf` and
//! `msqid_ds`, and setting `errno`.

mod connection;
mod errno;
mod limits;
mod msgctl;
mod msgget;
mod msgop;
mod names;
mod sys;

pub use msgctl::msgctl;
pub use msgget::msgget;
pub use msgop::{msgrcv, msgsnd};

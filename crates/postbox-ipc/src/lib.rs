//! libpostbox_ipc: System V and POSIX message queues on postbox, for programs that do not
//! change.
//!
//! Loaded with `LD_PRELOAD`, this library's `msgget`, `msgsnd`, `msgrcv`, `msgctl` and `mq_*`
//! functions replace the C library's: a program written against those man pages then uses
//! postbox mailboxes instead of kernel queues — visible with `postbox ls`, subject to postbox's
//! limits, and, where `POSTBOX_IPC_MAP` puts them on another node (`node_map`), spanning
//! machines — while `ipcs -q` stays empty. The POSIX
//! side is in `mq` (queue `/NAME` is the priority-ordered mailbox `posix.NAME`); what follows is
//! the System V side. docs/compat.md lists every known difference from Linux.
//!
//! - A key names the mailbox `sysv.KKKKKKKK` (the key in 8 hex digits); `IPC_PRIVATE` creates a
//!   fresh `sysv.private.*` one. Queues are system-owned mailboxes (they outlive their creator
//!   until `IPC_RMID`), shared among receivers, bounded as this machine's kernel queues are
//!   (/proc/sys/kernel/msgmnb bytes and messages, msgmax bytes per message, at most 1 MiB), with
//!   the permission bits of `msgflg`.
//! - A queue identifier is the mailbox's id (for another node's queue, an encoding of the id
//!   this daemon hands out for it: `msqid`), the same in every process of the daemon; a process
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
mod mq;
mod mq_table;
mod msgctl;
mod msgget;
mod msgop;
mod msqid;
mod names;
mod node_map;
mod notify;
mod sys;
mod wait;

pub use mq::{
    mq_close, mq_getattr, mq_notify, mq_open, mq_receive, mq_send, mq_setattr, mq_timedreceive,
    mq_timedsend, mq_unlink,
};
pub use msgctl::msgctl;
pub use msgget::msgget;
pub use msgop::{msgrcv, msgsnd};

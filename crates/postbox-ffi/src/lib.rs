//! libpostbox: postbox's API for C (and anything that calls C).
//!
//! This crate builds `libpostbox.so` and `libpostbox.a`; `include/postbox.h`, generated from it by
//! cbindgen, is the C documentation, and docs/c.md the guide. Every function of the `postbox`
//! library crate is here in C's idiom:
//!
//! - **Status codes**: every function returns an `int` — `POSTBOX_STATUS_OK` (0) or a
//!   `postbox_status` — and `postbox_last_error()` has the text (per thread, like `errno`).
//! - **Handles** are small structs holding a number, never pointers: a freed, forged or
//!   mixed-up handle is `POSTBOX_STATUS_BAD_HANDLE`, not memory corruption ([`registry`]).
//! - **Flavours** are functions: `postbox_mailbox_send` (blocks), `postbox_mailbox_try_send`
//!   (`POSTBOX_STATUS_FULL` at once), `postbox_mailbox_send_timeout` (milliseconds).
//! - **Received messages** are plain structs whose payload the library keeps until
//!   `postbox_message_free`.
//! - **No panic crosses into C**: every entry point runs under `catch_unwind` ([`guard`]); a bug
//!   is `POSTBOX_STATUS_INTERNAL`.
//! - **Unsafe** code lives in [`sys`] alone: pointer and length to slice, C strings, writes
//!   through out-pointers — each checked for null (and alignment) first.

mod attrs;
mod connect;
mod guard;
mod lease;
mod library;
mod listing;
mod mailbox;
mod mailbox_handle;
mod mailbox_many;
mod mailbox_recv;
mod mailbox_send;
mod message;
mod options;
mod process;
mod registry;
mod select;
mod selector;
mod stats;
mod status;
mod sys;
mod wait;

// The C API: every type and function C sees (cbindgen reads them from the modules).
pub use attrs::*;
pub use connect::*;
pub use lease::*;
pub use library::*;
pub use listing::*;
pub use mailbox::*;
pub use mailbox_many::*;
pub use mailbox_recv::*;
pub use mailbox_send::*;
pub use message::*;
pub use options::*;
pub use process::*;
pub use select::*;
pub use selector::*;
pub use stats::*;
pub use status::PostboxStatus;

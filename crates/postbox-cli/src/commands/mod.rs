//! The commands, one module per group: each takes its parsed arguments and the node, does its
//! work, and returns an error whose chain carries the library's error kind (see [`crate::exit`]).

pub(crate) mod admin;
pub(crate) mod bench;
pub(crate) mod call;
pub(crate) mod certs;
pub(crate) mod chat;
pub(crate) mod daemon;
pub(crate) mod docs;
pub(crate) mod list;
pub(crate) mod monitor;
pub(crate) mod nodes;
pub(crate) mod peek;
pub(crate) mod purge;
pub(crate) mod recv;
pub(crate) mod send;
pub(crate) mod serve;
pub(crate) mod signal;
pub(crate) mod source;
pub(crate) mod timer;
pub(crate) mod top;

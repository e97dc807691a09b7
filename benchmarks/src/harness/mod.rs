//! The harness: runs each case between real processes (or threads), pinned to CPUs, with every
//! message checked.
//!
//! For one run, the parent ([`Runner`]) prepares the mechanism's shared resources, then starts a
//! child of this program (the hidden [`ROLE_SUBCOMMAND`], [`run_child`]) per role — or one child
//! for every role, as threads, for a mechanism whose roles must share a process. Each child pins
//! itself before opening its endpoint. Listening roles start first; the others start only once
//! every listening role is ready; then every child is told `go` at once, plays its role
//! ([`play`]) and reports one line of JSON ([`protocol`]). The parent checks the reports against
//! each other ([`measure`]) and kills every child before the next run.

mod child;
mod measurement;
pub mod protocol;
mod role;
mod run;

pub use child::{RoleArgs, run_child};
pub use measurement::{MeasureError, Measurement, Throughput, measure};
pub use role::{RoleError, play};
pub use run::{ROLE_SUBCOMMAND, Runner};

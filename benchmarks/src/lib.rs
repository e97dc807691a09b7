//! The postbox comparison benchmarks: the same workloads, run between real processes, over postbox
//! and over the mechanisms people already use, so the results can be read as ratios.
//!
//! This crate is the library of the `compare` program (and of the daemon scale and durable send
//! benchmarks), not an API: its orchestration reports errors with `anyhow`, as a binary does.
//!
//! - [`mechanism`]: the interface every compared mechanism implements; [`peers`]: the mechanisms.
//! - [`plan`]: what is run (series, workloads, sizes, counts); [`harness`]: how, between pinned
//!   processes; [`message`], [`check`] and [`check_error`]: every message numbered and checked;
//!   [`stats`]: the arithmetic; [`report`]: tables, targets, JSON and charts.
//! - [`child_process`], [`cpu`], [`clock`]: helper processes that never outlive the harness, CPU
//!   pinning, the clock every process shares.

pub mod check;
pub mod check_error;
pub mod child_process;
pub mod clock;
pub mod cpu;
pub mod harness;
pub mod mechanism;
pub mod message;
pub mod peers;
pub mod plan;
pub mod report;
pub mod stats;

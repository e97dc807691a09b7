//! Faults for postbox node links, to test that an association survives them.
//!
//! - [`FaultProxy`]: a TCP proxy placed between two node daemons (one dials the proxy, the
//!   proxy dials the other's node listener) that cuts connections (RST or FIN, both sides),
//!   stalls them, partitions them, and delays, flips a byte in, drops or duplicates chunks —
//!   on command or on a [`Schedule`] drawn from a [`Seed`]. Node links are TLS, so damaged bytes
//!   break the connection; the link must reconnect and resume without losing or repeating
//!   anything. [`FaultCounts`] says what the proxy did.
//! - [`Checker`]: pure bookkeeping of sent and received `(sender, seq)` records, reporting per
//!   sender and in total what was delivered once, lost, duplicated, unexpected or reordered.
//! - [`NetnsPair`]: two network namespaces joined by a veth pair, to run a daemon in each
//!   (`ip netns exec`), partition them with nftables and cut their connections with `ss -K`;
//!   removed on drop, also after a panic. [`NetnsFaults`] plays a schedule's cuts and
//!   partitions on one.
//!
//! **Replay.** A schedule is a pure function of its seed and [`FaultMix`]: every run prints its
//! seed ([`Seed::from_env`]), and `POSTBOX_CHAOS_SEED=N` plays the same faults again. (The
//! timing of the traffic under them is the machine's, so a replay is the same storm, not the
//! same interleaving.)
//!
//! ```
//! use postbox_chaos::{Checker, Fault, FaultMix, Schedule, Seed};
//!
//! // The same seed, the same faults.
//! let first: Vec<_> = Schedule::new(Seed(7), FaultMix::default()).take(10).collect();
//! let again: Vec<_> = Schedule::new(Seed(7), FaultMix::default()).take(10).collect();
//! assert_eq!(first, again);
//! assert!(Schedule::new(Seed(7), FaultMix::cuts_only())
//!     .take(10)
//!     .all(|step| matches!(step.fault, Fault::Cut(_))));
//!
//! // Message 2 of sender "a" never came, message 3 came twice.
//! let mut checker = Checker::new();
//! for seq in 1..=3 {
//!     checker.sent("a", seq);
//! }
//! for seq in [1, 3, 3] {
//!     checker.received("a", seq);
//! }
//! let report = checker.report();
//! assert_eq!((report.total.lost, report.total.duplicated), (1, 1));
//! assert!(!report.is_clean());
//! ```

mod checker;
mod fault_counts;
mod fault_proxy;
mod netns;
mod netns_faults;
mod schedule;
mod seed;

pub use checker::{Checker, Report, Tally};
pub use fault_counts::FaultCounts;
pub use fault_proxy::FaultProxy;
pub use netns::{Netns, NetnsError, NetnsPair};
pub use netns_faults::NetnsFaults;
pub use schedule::{Cut, Direction, Fault, FaultMix, Schedule, Spacing, Step};
pub use seed::{InvalidSeed, Rng, SEED_VARIABLE, Seed};

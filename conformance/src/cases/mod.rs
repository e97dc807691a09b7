//! The cases, one module per concept. Each case is a `pub fn name<T: Transport>(t: &T)` that
//! panics when the transport breaks the contract; [`conformance_tests!`](crate::conformance_tests)
//! turns every one of them into a `#[test]`.
//!
//! Cases use the public `postbox` API only, and each starts from the empty node its transport
//! value provides. Blocking is observed, never guessed: a case that needs an operation to be
//! waiting polls `stat()` (`blocked_senders`, `blocked_receivers`) or the process list
//! (`waiting`) until it shows, instead of sleeping.

pub mod batches;
pub mod broadcast;
pub mod calls;
pub mod cancel;
pub mod capacity;
pub mod consumers;
pub mod direct;
pub mod dispatch;
pub mod errors;
pub mod flavours;
pub mod leases;
pub mod lifecycle;
pub mod limits;
pub mod peek;
pub mod permissions;
pub mod purge;
pub mod redelivery;
pub mod rights;
pub mod select;
pub mod selectors;
pub mod services;
pub mod sizes;
pub mod smoke;
pub mod stats;
pub mod termination;

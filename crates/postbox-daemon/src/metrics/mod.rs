//! The Prometheus metrics endpoint: `GET /metrics` over HTTP, when
//! [`DaemonConfig::metrics`](crate::DaemonConfig::metrics) is set.
//!
//! What is measured lives in [`registry`]: the engine's own statistics, read at scrape time (a
//! [`Census`](postbox_core::Census) under the hub's lock, bounded to the first
//! [`metrics_max_mailboxes`](crate::DaemonConfig::metrics_max_mailboxes) mailboxes by name), the
//! connections open, and a request counter and latency histogram that the connections update
//! as they carry requests out (one clock read before and after, one counter and one histogram
//! update per request). [`http`] is the small HTTP/1.1 server that answers scrapes, in the
//! Prometheus text format 0.0.4. `docs/operations.md` lists every metric.

pub(crate) mod http;
pub(crate) mod registry;

pub(crate) use registry::{Metrics, RequestMetrics};

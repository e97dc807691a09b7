//! What the metrics endpoint reports, and how each figure is taken.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::budget::Budget;
use crate::hub::Hub;

/// What the connections count as they carry requests out and move payloads: shared by all of
/// them, updated without any lock of the daemon's own.
#[derive(Debug, Clone)]
pub(crate) struct RequestMetrics {
    requests: Counter,
    duration: Histogram,
    /// Message payloads that arrived as attached sealed memfds (protocol.md §7.5).
    attached_received: Counter,
    /// Message payloads sent as attached sealed memfds.
    attached_sent: Counter,
}

impl RequestMetrics {
    fn new() -> RequestMetrics {
        RequestMetrics {
            requests: Counter::default(),
            // 1 µs to 0.26 s, each bucket four times the one before.
            duration: Histogram::new(exponential_buckets(1e-6, 4.0, 10)),
            attached_received: Counter::default(),
            attached_sent: Counter::default(),
        }
    }

    /// Counts one request carried out in `elapsed`.
    pub(crate) fn observe(&self, elapsed: Duration) {
        self.requests.inc();
        self.duration.observe(elapsed.as_secs_f64());
    }

    /// Counts `count` payloads that arrived attached and were accepted.
    pub(crate) fn attached_received(&self, count: usize) {
        self.attached_received.inc_by(as_u64(count));
    }

    /// Counts `count` payloads written attached.
    pub(crate) fn attached_sent(&self, count: usize) {
        self.attached_sent.inc_by(as_u64(count));
    }
}

/// Every metric of one daemon, ready to be encoded.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    requests: RequestMetrics,
}

impl Metrics {
    /// The metrics of the daemon whose engine is in `hub` and whose connections `budget` counts,
    /// reporting the first `max_mailboxes` mailboxes by name one by one.
    pub(crate) fn new(hub: Arc<Hub>, budget: Arc<Budget>, max_mailboxes: usize) -> Metrics {
        let requests = RequestMetrics::new();
        let mut registry = Registry::default();
        registry.register(
            "postbox_requests",
            "Requests carried out (any kind, any outcome); rate() gives requests per second",
            requests.requests.clone(),
        );
        registry.register(
            "postbox_request_duration_seconds",
            "Time to carry a request out in the daemon, from decoded to answered or waiting \
             (a blocked send or receive counts until it starts waiting, not while it waits)",
            requests.duration.clone(),
        );
        registry.register(
            "postbox_attached_payloads_received",
            "Message payloads that arrived from Unix clients as attached sealed memfds \
             (shared memory) rather than inline in their frames",
            requests.attached_received.clone(),
        );
        registry.register(
            "postbox_attached_payloads_sent",
            "Message payloads sent to Unix clients as attached sealed memfds (shared memory) \
             rather than inline in their frames",
            requests.attached_sent.clone(),
        );
        registry.register_collector(Box::new(Scrape {
            hub,
            budget,
            max_mailboxes,
        }));
        Metrics { registry, requests }
    }

    /// What the connections update.
    pub(crate) fn requests(&self) -> &RequestMetrics {
        &self.requests
    }

    /// Every metric, now, in the Prometheus text format.
    pub(crate) fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a `String` cannot fail, nor can the collector.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry);
        text
    }
}

/// The figures read at scrape time: the engine's census and the connection count.
#[derive(Debug)]
struct Scrape {
    hub: Arc<Hub>,
    budget: Arc<Budget>,
    max_mailboxes: usize,
}

/// One sample without labels.
fn single(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: impl Into<Sample>,
) -> fmt::Result {
    match value.into() {
        Sample::Gauge(value) => {
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)
        }
        Sample::Counter(value) => {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(name, help, None, counter.metric_type())?)
        }
    }
}

/// A value and whether it is a gauge or a counter.
enum Sample {
    Gauge(i64),
    Counter(u64),
}

impl From<usize> for Sample {
    fn from(value: usize) -> Sample {
        Sample::Gauge(i64::try_from(value).unwrap_or(i64::MAX))
    }
}

impl From<u64> for Sample {
    fn from(value: u64) -> Sample {
        Sample::Counter(value)
    }
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        let census = self.hub.census(self.max_mailboxes);
        let stats = census.stats;
        let e = &mut encoder;
        single(
            e,
            "postbox_connections",
            "Connections open, those still in their handshake included",
            self.budget.open_connections(),
        )?;
        single(e, "postbox_processes", "Live processes", stats.processes)?;
        single(e, "postbox_mailboxes", "Named mailboxes", stats.mailboxes)?;
        single(
            e,
            "postbox_queued_messages",
            "Messages queued in mailboxes and inboxes",
            stats.queued_messages,
        )?;
        single(
            e,
            "postbox_queued_bytes",
            "Payload bytes queued in mailboxes and inboxes",
            stats.queued_bytes,
        )?;
        single(
            e,
            "postbox_quota_used_bytes",
            "Bytes of the queued-bytes quota in use: every message held at its payload plus 256",
            census.quota_used,
        )?;
        single(
            e,
            "postbox_quota_bytes",
            "The queued-bytes quota (--max-queued-bytes)",
            stats.max_queued_bytes,
        )?;
        single(
            e,
            "postbox_messages_sent",
            "Messages accepted since the daemon started",
            stats.total_sent,
        )?;
        single(
            e,
            "postbox_messages_received",
            "Messages received since the daemon started",
            stats.total_received,
        )?;
        single(
            e,
            "postbox_messages_dropped",
            "Messages discarded by drop-oldest overflow since the daemon started",
            stats.total_dropped,
        )?;
        single(
            e,
            "postbox_metrics_mailboxes_omitted",
            "Mailboxes left out of the per-mailbox series by --metrics-max-mailboxes",
            census.mailboxes_omitted,
        )?;

        type Figure = fn(&postbox_core::MailboxStats) -> u64;
        let per_mailbox: [(&str, &str, MetricType, Figure); 7] = [
            (
                "postbox_mailbox_queued_messages",
                "Messages queued in the mailbox",
                MetricType::Gauge,
                |m| as_u64(m.messages),
            ),
            (
                "postbox_mailbox_queued_bytes",
                "Payload bytes queued in the mailbox",
                MetricType::Gauge,
                |m| as_u64(m.bytes),
            ),
            (
                "postbox_mailbox_sent",
                "Messages the mailbox accepted since it was created",
                MetricType::Counter,
                |m| m.total_sent,
            ),
            (
                "postbox_mailbox_received",
                "Messages received from the mailbox since it was created",
                MetricType::Counter,
                |m| m.total_received,
            ),
            (
                "postbox_mailbox_dropped",
                "Messages the mailbox discarded by drop-oldest overflow since it was created",
                MetricType::Counter,
                |m| m.dropped,
            ),
            (
                "postbox_mailbox_blocked_senders",
                "Senders waiting on the mailbox (for room, or for a rendezvous)",
                MetricType::Gauge,
                |m| as_u64(m.blocked_senders),
            ),
            (
                "postbox_mailbox_blocked_receivers",
                "Receivers waiting on the mailbox",
                MetricType::Gauge,
                |m| as_u64(m.blocked_receivers),
            ),
        ];
        for (name, help, kind, figure) in per_mailbox {
            let mut family = e.encode_descriptor(name, help, None, kind)?;
            for mailbox in &census.mailboxes {
                let labels = [("mailbox", mailbox.name.as_str())];
                let sample = family.encode_family(&labels)?;
                let value = figure(mailbox);
                match kind {
                    MetricType::Counter => ConstCounter::new(value).encode(sample)?,
                    _ => ConstGauge::new(value).encode(sample)?,
                }
            }
        }
        Ok(())
    }
}

/// A count as a sample value.
fn as_u64(count: usize) -> u64 {
    u64::try_from(count).unwrap_or(u64::MAX)
}

//! iceoryx2 publish-subscribe, configured as the comparison's iceoryx2 peer is: one service per
//! direction with one publisher and one subscriber, no history, no overwriting (a publisher
//! whose subscriber's buffer is full waits), 256 KiB worth of buffer; in event mode an event
//! service of the same name whose listener the receiver sleeps on, notified after every sample.

use std::fmt::Display;
use std::time::{Duration, Instant};

use ::iceoryx2::port::listener::Listener;
use ::iceoryx2::port::notifier::Notifier;
use ::iceoryx2::port::publisher::Publisher;
use ::iceoryx2::port::subscriber::Subscriber;
use ::iceoryx2::prelude::*;
use ::iceoryx2::service::port_factory::{event, publish_subscribe};
use anyhow::{Context, Result, anyhow, bail};
use postbox_benchmarks::peers::buffering::queue_depth;

use crate::endpoint::{Endpoint, Waiting, idle_poll};

/// How long a publisher waits for its subscriber to attach before giving up on a sample.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a receiver waits for one sample before the run counts as failed.
const WAIT_LIMIT: Duration = Duration::from_secs(60);

/// This process's iceoryx2 node: the default configuration (state under `/tmp/iceoryx2`),
/// without signal handlers (they would swallow the benchmark's signals).
pub(crate) fn node() -> Result<Node<ipc::Service>> {
    NodeBuilder::new()
        .config(&Config::default())
        .signal_handling_mode(SignalHandlingMode::Disabled)
        .create::<ipc::Service>()
        .map_err(iox("creating an iceoryx2 node"))
}

/// Turns an iceoryx2 error into one saying what was being done.
fn iox<E: Display>(context: impl Display) -> impl FnOnce(E) -> anyhow::Error {
    move |e| anyhow!("{context}: {e}")
}

/// The benchmark's own node, kept for the run. When it drops (after every child is gone) it
/// removes what dead nodes left in `/dev/shm` and `/tmp/iceoryx2`, including those of an
/// earlier run that was killed.
pub(crate) struct CleanDeadNodes(pub(crate) Node<ipc::Service>);

impl Drop for CleanDeadNodes {
    fn drop(&mut self) {
        self.0.try_cleanup_dead_nodes();
    }
}

/// One direction: its publish-subscribe service and, in event mode, its event service.
struct Channel {
    samples: publish_subscribe::PortFactory<ipc::Service, [u8], ()>,
    events: Option<event::PortFactory<ipc::Service>>,
}

fn channel(
    node: &Node<ipc::Service>,
    name: &str,
    size: usize,
    waiting: Waiting,
) -> Result<Channel> {
    let service_name = ServiceName::new(name).map_err(iox(format_args!("service name {name}")))?;
    let samples = node
        .service_builder(&service_name)
        .publish_subscribe::<[u8]>()
        .enable_safe_overflow(false)
        .history_size(0)
        .subscriber_max_buffer_size(queue_depth(size))
        .subscriber_max_borrowed_samples(1)
        .max_publishers(1)
        .max_subscribers(1)
        .max_nodes(2)
        .open_or_create()
        .map_err(iox(format_args!("opening service {name}")))?;
    let events = match waiting {
        Waiting::BusyPoll => None,
        Waiting::Event => Some(
            node.service_builder(&service_name)
                .event()
                .max_notifiers(1)
                .max_listeners(1)
                .max_nodes(2)
                .open_or_create()
                .map_err(iox(format_args!("opening event service {name}")))?,
        ),
    };
    Ok(Channel { samples, events })
}

/// One side's ports. Fields drop in order: ports, then services, then the node.
pub(crate) struct IoxEndpoint {
    publisher: Option<Publisher<ipc::Service, [u8], ()>>,
    notifier: Option<Notifier<ipc::Service>>,
    subscriber: Option<Subscriber<ipc::Service, [u8], ()>>,
    listener: Option<Listener<ipc::Service>>,
    _channels: Vec<Channel>,
    _node: Node<ipc::Service>,
}

impl IoxEndpoint {
    /// Opens the ports of one side: receiving on service `<address>/<recv_on>`, sending on
    /// `<address>/<send_on>`, receiving ports first.
    pub(crate) fn open(
        address: &str,
        send_on: Option<&str>,
        recv_on: Option<&str>,
        size: usize,
        waiting: Waiting,
    ) -> Result<IoxEndpoint> {
        let node = node()?;
        let mut channels = Vec::new();
        let (mut subscriber, mut listener) = (None, None);
        if let Some(direction) = recv_on {
            let channel = channel(&node, &format!("{address}/{direction}"), size, waiting)?;
            subscriber = Some(
                channel
                    .samples
                    .subscriber_builder()
                    .buffer_size(queue_depth(size))
                    .create()
                    .map_err(iox(format_args!("subscribing to {direction}")))?,
            );
            if let Some(events) = &channel.events {
                listener = Some(
                    events
                        .listener_builder()
                        .create()
                        .map_err(iox(format_args!("listening on {direction}")))?,
                );
            }
            channels.push(channel);
        }
        let (mut publisher, mut notifier) = (None, None);
        if let Some(direction) = send_on {
            let channel = channel(&node, &format!("{address}/{direction}"), size, waiting)?;
            publisher = Some(
                channel
                    .samples
                    .publisher_builder()
                    .initial_max_slice_len(size)
                    .max_loaned_samples(1)
                    .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
                    .create()
                    .map_err(iox(format_args!("publishing on {direction}")))?,
            );
            if let Some(events) = &channel.events {
                notifier = Some(
                    events
                        .notifier_builder()
                        .create()
                        .map_err(iox(format_args!("notifying on {direction}")))?,
                );
            }
            channels.push(channel);
        }
        Ok(IoxEndpoint {
            publisher,
            notifier,
            subscriber,
            listener,
            _channels: channels,
            _node: node,
        })
    }
}

impl Endpoint for IoxEndpoint {
    fn send(&mut self, payload: &[u8]) -> Result<()> {
        let publisher = self.publisher.as_ref().context("this side does not send")?;
        let mut deadline = None;
        loop {
            let delivered = publisher
                .loan_slice_uninit(payload.len())
                .map_err(iox("loaning a sample"))?
                .write_from_slice(payload)
                .send()
                .map_err(iox("sending a sample"))?;
            if delivered > 0 {
                break;
            }
            // Nobody took it: the subscriber has not connected to this publisher yet (iceoryx2
            // drops such a sample rather than wait), so wait for it, bounded.
            let deadline = *deadline.get_or_insert_with(|| Instant::now() + ATTACH_TIMEOUT);
            if Instant::now() > deadline {
                bail!("no subscriber took a sample for {ATTACH_TIMEOUT:?}");
            }
            std::thread::yield_now();
        }
        if let Some(notifier) = &self.notifier {
            notifier.notify().map_err(iox("notifying"))?;
        }
        Ok(())
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        let subscriber = self
            .subscriber
            .as_ref()
            .context("this side does not receive")?;
        let mut polls = 0;
        let mut deadline = None;
        loop {
            if let Some(sample) = subscriber.receive().map_err(iox("receiving"))? {
                buf.clear();
                buf.extend_from_slice(sample.payload());
                return Ok(());
            }
            match &self.listener {
                // Notifications are counted, not lost: one sent after `receive` found nothing
                // ends this wait at once. Waits are bounded, so a peer that died ends the run.
                Some(listener) => {
                    let deadline = *deadline.get_or_insert_with(|| Instant::now() + WAIT_LIMIT);
                    if Instant::now() > deadline {
                        bail!("no sample for {WAIT_LIMIT:?}: the publisher is gone or stuck");
                    }
                    listener
                        .timed_wait(|_| {}, Duration::from_secs(1))
                        .map_err(iox("waiting for a sample"))?;
                }
                None => idle_poll(&mut polls, "receiving")?,
            }
        }
    }
}

/// A receiver with nothing to receive, for the idle measurement: a subscriber and its listener
/// on a fresh service nobody publishes to.
pub(crate) struct IdleListener {
    endpoint: IoxEndpoint,
}

impl IdleListener {
    /// Opens the ports on a service of its own.
    pub(crate) fn open(address: &str) -> Result<IdleListener> {
        let endpoint = IoxEndpoint::open(address, None, Some("idle"), 64, Waiting::Event)?;
        Ok(IdleListener { endpoint })
    }

    /// Waits on the listener for `time`; fails if anything arrives.
    pub(crate) fn wait(&self, time: Duration) -> Result<()> {
        let listener = self.endpoint.listener.as_ref().context("no listener")?;
        let end = Instant::now() + time;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            if left.is_zero() {
                break;
            }
            let woken = listener
                .timed_wait(|_| {}, left)
                .map_err(iox("waiting on an idle listener"))?;
            if woken > 0 {
                bail!("an idle listener was notified");
            }
        }
        Ok(())
    }
}

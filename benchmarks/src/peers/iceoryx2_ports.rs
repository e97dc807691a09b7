//! iceoryx2 ports configured the way every comparison in this crate configures its iceoryx2 peer:
//! one publish-subscribe service per direction with one subscriber, no history, no overwriting (a
//! publisher whose subscriber's buffer is full waits, `RetryUntilDelivered`), buffers sized by
//! [`queue_depth`], and — when receivers sleep rather than spin — an event service of the same
//! name whose listener the receiver waits on, notified after every sample.
//!
//! Both the `compare` mechanism and the `shm_iceoryx2` benchmark open their ports here, so the two
//! measure the same iceoryx2 set-up.

use std::fmt::Display;
use std::io;
use std::time::{Duration, Instant};

use ::iceoryx2::port::listener::Listener;
use ::iceoryx2::port::notifier::Notifier;
use ::iceoryx2::port::publisher::Publisher;
use ::iceoryx2::port::subscriber::Subscriber;
use ::iceoryx2::prelude::*;
use ::iceoryx2::service::port_factory::{event, publish_subscribe};

use crate::peers::buffering::queue_depth;

/// How long a publisher waits for its subscriber to attach before giving up on a sample.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(10);

/// This process's iceoryx2 node, with the default configuration (state under `/tmp/iceoryx2`)
/// and without signal handlers, which would swallow the harness's signals.
pub fn node() -> io::Result<Node<ipc::Service>> {
    NodeBuilder::new()
        .config(&Config::default())
        .signal_handling_mode(SignalHandlingMode::Disabled)
        .create::<ipc::Service>()
        .map_err(iox_error("creating an iceoryx2 node"))
}

/// Turns an iceoryx2 error into an `io::Error` saying what was being done.
pub fn iox_error<E: Display>(context: impl Display) -> impl FnOnce(E) -> io::Error {
    move |e| io::Error::other(format!("{context}: {e}"))
}

/// The harness's own node, kept for a run. Dropped once the role processes are gone (the harness
/// kills them, so their nodes die with the services open), it removes what they left in
/// `/dev/shm` and `/tmp/iceoryx2`; creating one cleans up after any earlier run that died.
pub struct CleanDeadNodes(pub Node<ipc::Service>);

impl Drop for CleanDeadNodes {
    fn drop(&mut self) {
        self.0.try_cleanup_dead_nodes();
    }
}

/// What a set of ports is for.
#[derive(Clone, Copy, Debug)]
pub struct PortPlan<'a> {
    /// The run's unique prefix; directions are services `<address>/<direction>`.
    pub address: &'a str,
    /// The direction this side publishes on, if it sends.
    pub send_on: Option<&'a str>,
    /// The direction this side subscribes to, if it receives.
    pub recv_on: Option<&'a str>,
    /// The payload size of the case, which sizes slices and buffers.
    pub size: usize,
    /// How many publishers share each service (fan-in), which bounds its ports and nodes.
    pub publishers: usize,
    /// Whether receivers sleep on an event service (`true`) or spin on the subscriber.
    pub events: bool,
}

/// One direction: its publish-subscribe service and, with events, its event service.
struct Channel {
    samples: publish_subscribe::PortFactory<ipc::Service, [u8], ()>,
    events: Option<event::PortFactory<ipc::Service>>,
}

fn channel(node: &Node<ipc::Service>, name: &str, plan: &PortPlan<'_>) -> io::Result<Channel> {
    let service_name =
        ServiceName::new(name).map_err(iox_error(format_args!("service name {name:?}")))?;
    let samples = node
        .service_builder(&service_name)
        .publish_subscribe::<[u8]>()
        .enable_safe_overflow(false)
        .history_size(0)
        .subscriber_max_buffer_size(queue_depth(plan.size))
        .subscriber_max_borrowed_samples(1)
        .max_publishers(plan.publishers)
        .max_subscribers(1)
        .max_nodes(plan.publishers + 1)
        .open_or_create()
        .map_err(iox_error(format_args!("opening service {name}")))?;
    let events = if plan.events {
        Some(
            node.service_builder(&service_name)
                .event()
                .max_notifiers(plan.publishers)
                .max_listeners(1)
                .max_nodes(plan.publishers + 1)
                .open_or_create()
                .map_err(iox_error(format_args!("opening event service {name}")))?,
        )
    } else {
        None
    };
    Ok(Channel { samples, events })
}

/// One side's ports. Fields drop in order: ports, then their services, then the node.
pub struct IoxPorts {
    publisher: Option<Publisher<ipc::Service, [u8], ()>>,
    /// Wakes the receiver after each sample (with events only).
    notifier: Option<Notifier<ipc::Service>>,
    subscriber: Option<Subscriber<ipc::Service, [u8], ()>>,
    /// Where the receiver sleeps until a sample may be there (with events only).
    listener: Option<Listener<ipc::Service>>,
    _channels: Vec<Channel>,
    _node: Node<ipc::Service>,
}

impl IoxPorts {
    /// Opens the ports `plan` describes, receiving ports first, so that a listening side's
    /// subscriber exists before any peer publishes.
    pub fn open(plan: PortPlan<'_>) -> io::Result<IoxPorts> {
        let node = node()?;
        let mut channels = Vec::new();
        let (mut subscriber, mut listener) = (None, None);
        if let Some(direction) = plan.recv_on {
            let channel = channel(&node, &format!("{}/{direction}", plan.address), &plan)?;
            subscriber = Some(
                channel
                    .samples
                    .subscriber_builder()
                    .buffer_size(queue_depth(plan.size))
                    .create()
                    .map_err(iox_error(format_args!("subscribing to {direction}")))?,
            );
            if let Some(events) = &channel.events {
                listener = Some(
                    events
                        .listener_builder()
                        .create()
                        .map_err(iox_error(format_args!("listening on {direction}")))?,
                );
            }
            channels.push(channel);
        }
        let (mut publisher, mut notifier) = (None, None);
        if let Some(direction) = plan.send_on {
            let channel = channel(&node, &format!("{}/{direction}", plan.address), &plan)?;
            publisher = Some(
                channel
                    .samples
                    .publisher_builder()
                    .initial_max_slice_len(plan.size)
                    .max_loaned_samples(1)
                    .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
                    .create()
                    .map_err(iox_error(format_args!("publishing on {direction}")))?,
            );
            if let Some(events) = &channel.events {
                notifier = Some(
                    events
                        .notifier_builder()
                        .create()
                        .map_err(iox_error(format_args!("notifying on {direction}")))?,
                );
            }
            channels.push(channel);
        }
        Ok(IoxPorts {
            publisher,
            notifier,
            subscriber,
            listener,
            _channels: channels,
            _node: node,
        })
    }

    /// Publishes `payload` as one sample and notifies the receiver (with events).
    ///
    /// A sample nobody took means the subscriber has not attached to this new publisher yet and
    /// the buffer it will drain is full: iceoryx2 drops such a sample rather than wait for a
    /// receiver that may never come, so this waits, for at most 10 s.
    pub fn send(&self, payload: &[u8]) -> io::Result<()> {
        let publisher = self
            .publisher
            .as_ref()
            .ok_or_else(|| io::Error::other("these ports do not send"))?;
        let mut deadline = None;
        loop {
            let delivered = publisher
                .loan_slice_uninit(payload.len())
                .map_err(iox_error("loaning a sample"))?
                .write_from_slice(payload)
                .send()
                .map_err(iox_error("sending a sample"))?;
            if delivered > 0 {
                break;
            }
            let deadline = *deadline.get_or_insert_with(|| Instant::now() + ATTACH_TIMEOUT);
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no subscriber took a sample for {ATTACH_TIMEOUT:?}"),
                ));
            }
            std::thread::yield_now();
        }
        if let Some(notifier) = &self.notifier {
            notifier.notify().map_err(iox_error("notifying"))?;
        }
        Ok(())
    }

    /// Takes one sample into `buf` (replacing its contents) if one is there.
    pub fn try_recv(&self, buf: &mut Vec<u8>) -> io::Result<bool> {
        let subscriber = self
            .subscriber
            .as_ref()
            .ok_or_else(|| io::Error::other("these ports do not receive"))?;
        match subscriber.receive().map_err(iox_error("receiving"))? {
            Some(sample) => {
                buf.clear();
                buf.extend_from_slice(sample.payload());
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The receiver's listener, when receivers sleep on events. Notifications are counted, not
    /// lost: one sent after [`IoxPorts::try_recv`] found nothing ends the next wait at once.
    pub fn listener(&self) -> Option<&Listener<ipc::Service>> {
        self.listener.as_ref()
    }
}

//! iceoryx2: zero-copy publish-subscribe over shared memory, in two flavours that differ only in
//! how a receiver waits: blocked on an iceoryx2 event, or spinning on the subscriber.

use std::fmt::Display;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use ::iceoryx2::port::listener::Listener;
use ::iceoryx2::port::notifier::Notifier;
use ::iceoryx2::port::publisher::Publisher;
use ::iceoryx2::port::subscriber::Subscriber;
use ::iceoryx2::prelude::*;
use ::iceoryx2::service::port_factory::{event, publish_subscribe};

use super::{unique_name, wrong_direction, wrong_role};
use crate::mechanism::{Case, Endpoint, Mechanism, Prepared, Role, Workload};
use crate::peers::buffering::queue_depth;

/// How many empty polls (about 80 ns each here) a busy-polling receiver makes between two
/// `sched_yield`s. Without them a receiver sharing its CPU with its peer spins out its whole
/// time slice before the peer can answer: 8 ms same-CPU round trips instead of 12 µs. Across
/// CPUs the peer answers first, so the yields cost nothing measurable.
const SPINS_BEFORE_YIELD: u32 = 64;

/// How long a publisher waits for its subscriber to attach before giving up on a sample.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(10);

/// iceoryx2 publish-subscribe with byte-slice payloads sized for the case.
///
/// Each direction is a service of its own (`<run>/ping` and `<run>/pong`, or `<run>/data`) with
/// one subscriber; fan-in gives it one publisher per producer. The services never overflow:
/// a publisher whose subscriber's buffer is full waits (`RetryUntilDelivered`) rather than
/// overwrite an unread sample.
pub(super) enum Iceoryx2 {
    /// Receivers block on an event service that publishers notify after every sample.
    Event,
    /// Receivers spin on `receive()`, never blocking (but yielding the CPU now and then, see
    /// [`SPINS_BEFORE_YIELD`]).
    BusyPoll,
}

/// One direction of a run: its pub-sub service and, when receivers wait on events, the event
/// service of the same name.
struct Channel {
    samples: publish_subscribe::PortFactory<ipc::Service, [u8], ()>,
    events: Option<event::PortFactory<ipc::Service>>,
}

impl Iceoryx2 {
    /// Opens (the first role creates) the channel `name`, configured the same way by every role.
    fn channel(
        &self,
        node: &Node<ipc::Service>,
        name: &str,
        case: &Case,
        publishers: usize,
    ) -> io::Result<Channel> {
        let service_name =
            ServiceName::new(name).map_err(iox_error(format_args!("service name {name:?}")))?;
        let samples = node
            .service_builder(&service_name)
            .publish_subscribe::<[u8]>()
            .enable_safe_overflow(false)
            .history_size(0)
            .subscriber_max_buffer_size(queue_depth(case.size))
            .subscriber_max_borrowed_samples(1)
            .max_publishers(publishers)
            .max_subscribers(1)
            .max_nodes(publishers + 1)
            .open_or_create()
            .map_err(iox_error(format_args!("opening service {name}")))?;
        let events = match self {
            Iceoryx2::BusyPoll => None,
            Iceoryx2::Event => Some(
                node.service_builder(&service_name)
                    .event()
                    .max_notifiers(publishers)
                    .max_listeners(1)
                    .max_nodes(publishers + 1)
                    .open_or_create()
                    .map_err(iox_error(format_args!("opening event service {name}")))?,
            ),
        };
        Ok(Channel { samples, events })
    }
}

/// This process's iceoryx2 node, with the default configuration (state under `/tmp/iceoryx2`)
/// and without signal handlers, which would swallow the harness's signals.
fn node() -> io::Result<Node<ipc::Service>> {
    NodeBuilder::new()
        .config(&Config::default())
        .signal_handling_mode(SignalHandlingMode::Disabled)
        .create::<ipc::Service>()
        .map_err(iox_error("creating an iceoryx2 node"))
}

/// Turns an iceoryx2 error into an `io::Error` saying what was being done.
fn iox_error<E: Display>(context: impl Display) -> impl FnOnce(E) -> io::Error {
    move |e| io::Error::other(format!("{context}: {e}"))
}

/// The harness's node for the run. Dropped once the role processes are gone (the harness kills
/// them, so their nodes die with the services open), it removes what they left in `/dev/shm` and
/// `/tmp/iceoryx2`; creating it cleaned up after any earlier run that died with its harness.
struct CleanDeadNodes(Node<ipc::Service>);

impl Drop for CleanDeadNodes {
    fn drop(&mut self) {
        self.0.try_cleanup_dead_nodes();
    }
}

impl Mechanism for Iceoryx2 {
    fn name(&self) -> String {
        match self {
            Iceoryx2::Event => "iceoryx2 (event)",
            Iceoryx2::BusyPoll => "iceoryx2 (busy-poll)",
        }
        .to_owned()
    }

    fn unsupported(&self, case: &Case) -> Option<String> {
        match case.workload {
            Workload::Competing { .. } => Some(
                "publish-subscribe gives every subscriber every sample (iceoryx2 0.10 has no \
                 competing consumers)"
                    .to_owned(),
            ),
            Workload::PingPong | Workload::Throughput | Workload::FanIn { .. } => None,
        }
    }

    fn prepare(&self, _case: &Case, _scratch: &Path) -> io::Result<Prepared> {
        Ok(Prepared {
            address: unique_name("postbox-bench"),
            guard: Box::new(CleanDeadNodes(node()?)),
        })
    }

    fn open(&self, case: &Case, address: &str, role: Role) -> io::Result<Box<dyn Endpoint>> {
        let publishers = match case.workload {
            Workload::FanIn { producers } => producers,
            _ => 1,
        };
        let (send_on, recv_on) = match (case.workload, role) {
            (Workload::PingPong, Role::Pinger) => (Some("ping"), Some("pong")),
            (Workload::PingPong, Role::Ponger) => (Some("pong"), Some("ping")),
            (Workload::PingPong, _) | (Workload::Competing { .. }, _) => {
                return Err(wrong_role(case.workload, role));
            }
            (_, Role::Producer { .. }) => (Some("data"), None),
            (_, Role::Consumer { .. }) => (None, Some("data")),
            (_, _) => return Err(wrong_role(case.workload, role)),
        };
        let node = node()?;
        let open =
            |direction| self.channel(&node, &format!("{address}/{direction}"), case, publishers);
        let mut channels = Vec::new();
        // Receiving ports first: a listening role's subscriber exists before any peer publishes.
        let (mut subscriber, mut listener) = (None, None);
        if let Some(direction) = recv_on {
            let channel = open(direction)?;
            subscriber = Some(
                channel
                    .samples
                    .subscriber_builder()
                    .buffer_size(queue_depth(case.size))
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
        if let Some(direction) = send_on {
            let channel = open(direction)?;
            publisher = Some(
                channel
                    .samples
                    .publisher_builder()
                    .initial_max_slice_len(case.size)
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
        Ok(Box::new(IoxEndpoint {
            publisher,
            notifier,
            subscriber,
            listener,
            _channels: channels,
            _node: node,
        }))
    }
}

/// One role's ports. Fields drop in order: ports, then their services, then the node.
struct IoxEndpoint {
    publisher: Option<Publisher<ipc::Service, [u8], ()>>,
    /// Wakes the receiver after each sample (event flavour only).
    notifier: Option<Notifier<ipc::Service>>,
    subscriber: Option<Subscriber<ipc::Service, [u8], ()>>,
    /// Where the receiver sleeps until a sample may be there (event flavour only).
    listener: Option<Listener<ipc::Service>>,
    _channels: Vec<Channel>,
    _node: Node<ipc::Service>,
}

impl Endpoint for IoxEndpoint {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        let publisher = self
            .publisher
            .as_ref()
            .ok_or_else(|| wrong_direction("send"))?;
        let mut deadline = None;
        loop {
            let delivered = publisher
                .loan_slice_uninit(message.len())
                .map_err(iox_error("loaning a sample"))?
                .write_from_slice(message)
                .send()
                .map_err(iox_error("sending a sample"))?;
            if delivered > 0 {
                break;
            }
            // Nobody took it: the subscriber has not attached to this new publisher yet and the
            // buffer it will drain is full. iceoryx2 drops the sample rather than wait for a
            // receiver that may never come, so wait here, bounded in case it never does.
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

    fn recv(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        let subscriber = self
            .subscriber
            .as_ref()
            .ok_or_else(|| wrong_direction("receive"))?;
        let mut polls: u32 = 0;
        loop {
            if let Some(sample) = subscriber.receive().map_err(iox_error("receiving"))? {
                buf.clear();
                buf.extend_from_slice(sample.payload());
                return Ok(());
            }
            match &self.listener {
                // Notifications are counted, not lost: one sent after `receive` found nothing
                // ends this wait at once.
                Some(listener) => {
                    listener
                        .blocking_wait(|_| {})
                        .map_err(iox_error("waiting for a sample"))?;
                }
                None => {
                    polls = polls.wrapping_add(1);
                    if polls.is_multiple_of(SPINS_BEFORE_YIELD) {
                        std::thread::yield_now();
                    } else {
                        std::hint::spin_loop();
                    }
                }
            }
        }
    }
}

//! iceoryx2: zero-copy publish-subscribe over shared memory, in two flavours that differ only in
//! how a receiver waits: blocked on an iceoryx2 event, or spinning on the subscriber.

use std::io;
use std::path::Path;

use super::{unique_name, wrong_role};
use crate::mechanism::{Case, Endpoint, Mechanism, Prepared, Role, Workload};
use crate::peers::iceoryx2_ports::{CleanDeadNodes, IoxPorts, PortPlan, iox_error, node};

/// How many empty polls (about 80 ns each here) a busy-polling receiver makes between two
/// `sched_yield`s. Without them a receiver sharing its CPU with its peer spins out its whole
/// time slice before the peer can answer: 8 ms same-CPU round trips instead of 12 µs. Across
/// CPUs the peer answers first, so the yields cost nothing measurable.
const SPINS_BEFORE_YIELD: u32 = 64;

/// iceoryx2 publish-subscribe with byte-slice payloads sized for the case, set up as
/// [`crate::peers::iceoryx2_ports`] describes.
///
/// Each direction is a service of its own (`<run>/ping` and `<run>/pong`, or `<run>/data`) with
/// one subscriber; fan-in gives it one publisher per producer.
pub(super) enum Iceoryx2 {
    /// Receivers block on an event service that publishers notify after every sample.
    Event,
    /// Receivers spin on `receive()`, never blocking (but yielding the CPU now and then, see
    /// [`SPINS_BEFORE_YIELD`]).
    BusyPoll,
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
        let ports = IoxPorts::open(PortPlan {
            address,
            send_on,
            recv_on,
            size: case.size,
            publishers,
            events: matches!(self, Iceoryx2::Event),
        })?;
        Ok(Box::new(IoxEndpoint(ports)))
    }
}

/// One role's ports.
struct IoxEndpoint(IoxPorts);

impl Endpoint for IoxEndpoint {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        self.0.send(message)
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        let mut polls: u32 = 0;
        loop {
            if self.0.try_recv(buf)? {
                return Ok(());
            }
            match self.0.listener() {
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

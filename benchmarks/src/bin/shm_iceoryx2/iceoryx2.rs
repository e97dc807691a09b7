//! iceoryx2 publish-subscribe, set up as the comparison's iceoryx2 peer is
//! ([`postbox_benchmarks::peers::iceoryx2_ports`]), behind this benchmark's [`Endpoint`]: waits
//! are bounded, so a peer that died ends the run instead of hanging it.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
pub(crate) use postbox_benchmarks::peers::iceoryx2_ports::{CleanDeadNodes, node};
use postbox_benchmarks::peers::iceoryx2_ports::{IoxPorts, PortPlan, iox_error};

use crate::endpoint::{Endpoint, Waiting, idle_poll};

/// How long a receiver waits for one sample before the run counts as failed.
const WAIT_LIMIT: Duration = Duration::from_secs(60);

/// One side's ports.
pub(crate) struct IoxEndpoint(IoxPorts);

impl IoxEndpoint {
    /// Opens the ports of one side: receiving on service `<address>/<recv_on>`, sending on
    /// `<address>/<send_on>`.
    pub(crate) fn open(
        address: &str,
        send_on: Option<&str>,
        recv_on: Option<&str>,
        size: usize,
        waiting: Waiting,
    ) -> Result<IoxEndpoint> {
        let ports = IoxPorts::open(PortPlan {
            address,
            send_on,
            recv_on,
            size,
            publishers: 1,
            events: waiting == Waiting::Event,
        })?;
        Ok(IoxEndpoint(ports))
    }
}

impl Endpoint for IoxEndpoint {
    fn send(&mut self, payload: &[u8]) -> Result<()> {
        Ok(self.0.send(payload)?)
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        let mut polls = 0;
        let mut deadline = None;
        loop {
            if self.0.try_recv(buf)? {
                return Ok(());
            }
            match self.0.listener() {
                Some(listener) => {
                    let deadline = *deadline.get_or_insert_with(|| Instant::now() + WAIT_LIMIT);
                    if Instant::now() > deadline {
                        bail!("no sample for {WAIT_LIMIT:?}: the publisher is gone or stuck");
                    }
                    listener
                        .timed_wait(|_| {}, Duration::from_secs(1))
                        .map_err(iox_error("waiting for a sample"))?;
                }
                None => idle_poll(&mut polls, "receiving")?,
            }
        }
    }
}

/// A receiver with nothing to receive, for the idle measurement: a subscriber and its listener
/// on a fresh service nobody publishes to.
pub(crate) struct IdleListener {
    ports: IoxPorts,
}

impl IdleListener {
    /// Opens the ports on a service of its own.
    pub(crate) fn open(address: &str) -> Result<IdleListener> {
        let ports = IoxPorts::open(PortPlan {
            address,
            send_on: None,
            recv_on: Some("idle"),
            size: 64,
            publishers: 1,
            events: true,
        })?;
        Ok(IdleListener { ports })
    }

    /// Waits on the listener for `time`; fails if anything arrives.
    pub(crate) fn wait(&self, time: Duration) -> Result<()> {
        let listener = self.ports.listener().context("no listener")?;
        let end = Instant::now() + time;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            if left.is_zero() {
                break;
            }
            let woken = listener
                .timed_wait(|_| {}, left)
                .map_err(iox_error("waiting on an idle listener"))?;
            if woken > 0 {
                bail!("an idle listener was notified");
            }
        }
        Ok(())
    }
}

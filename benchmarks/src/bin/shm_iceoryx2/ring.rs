//! postbox's shared-memory ring (`postbox-shm`): a sealed memfd per direction, passed to the
//! child over the control socket.

use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use postbox_benchmarks::peers::buffering::queue_depth;
use postbox_shm::{
    Geometry, Meta, Ring, Segment, SegmentKind, TryPopError, TryPushError, recv_fd, send_fd,
};

use crate::endpoint::{Endpoint, Waiting, idle_poll};

/// The meta every message carries (the benchmark does not look at it).
const META: Meta = Meta {
    sender: 1,
    mtype: 1,
    priority: 0,
    sent_at: 0,
};

/// How long one blocking call may wait before the run counts as failed.
const WAIT_LIMIT: Duration = Duration::from_secs(60);

/// The ring's geometry for messages of `size` bytes: as many slots as iceoryx2's subscriber
/// buffer holds (256 KiB worth, 4 to 256), rounded up to a power of two.
pub(crate) fn geometry(size: usize) -> Result<Geometry> {
    Geometry::new(queue_depth(size).next_power_of_two(), size.max(8))
        .with_context(|| format!("a ring for {size}-byte messages"))
}

/// A new ring in a sealed memfd.
pub(crate) fn create(size: usize) -> Result<Ring<Segment>> {
    let geometry = geometry(size)?;
    let segment = Segment::create("shm-iceoryx2", SegmentKind::Ring, geometry.bytes())
        .context("creating the ring's segment")?;
    Ring::create(segment, geometry).context("formatting the ring")
}

/// Passes `rings` to the child, in order.
pub(crate) fn pass(stream: &UnixStream, rings: &[&Ring<Segment>]) -> Result<()> {
    for ring in rings {
        send_fd(stream, ring.memory().fd()).context("passing a ring to the child")?;
    }
    Ok(())
}

/// Attaches to the next ring the parent passes.
pub(crate) fn receive(stream: &UnixStream) -> Result<Ring<Segment>> {
    let fd = recv_fd(stream).context("receiving a ring from the parent")?;
    let segment = Segment::attach(fd).context("attaching the ring's segment")?;
    Ring::attach(segment).context("attaching the ring")
}

/// One side: the ring it sends on, the ring it receives from.
pub(crate) struct RingEndpoint {
    pub(crate) tx: Option<Ring<Segment>>,
    pub(crate) rx: Option<Ring<Segment>>,
    pub(crate) waiting: Waiting,
}

impl Endpoint for RingEndpoint {
    fn send(&mut self, payload: &[u8]) -> Result<()> {
        let ring = self.tx.as_ref().context("this side does not send")?;
        match self.waiting {
            Waiting::Event => ring
                .push(payload, META, Some(Instant::now() + WAIT_LIMIT))
                .context("pushing onto the ring"),
            Waiting::BusyPoll => {
                let mut polls = 0;
                loop {
                    match ring.try_push(payload, META) {
                        Ok(()) => return Ok(()),
                        Err(TryPushError::Full) => idle_poll(&mut polls, "pushing")?,
                        Err(error) => return Err(error).context("pushing onto the ring"),
                    }
                }
            }
        }
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        let ring = self.rx.as_ref().context("this side does not receive")?;
        match self.waiting {
            Waiting::Event => {
                ring.pop_into(buf, Some(Instant::now() + WAIT_LIMIT))
                    .context("popping from the ring")?;
                Ok(())
            }
            Waiting::BusyPoll => {
                let mut polls = 0;
                loop {
                    match ring.try_pop_into(buf) {
                        Ok(Some(_)) => return Ok(()),
                        Ok(None) | Err(TryPopError::Incomplete) => {
                            idle_poll(&mut polls, "popping")?
                        }
                        Err(error) => return Err(error).context("popping from the ring"),
                    }
                }
            }
        }
    }
}

//! crossbeam-channel: bounded channels between threads of one process, the in-process yardstick.
//!
//! Every role runs as a thread of one process ([`Mechanism::threads`]). The roles find their
//! channels in a process-wide registry, keyed by the run's address, where the first role to open
//! creates them. Messages are `Vec<u8>`: a send copies the message into a new one (as every other
//! mechanism copies it into a buffer), a receive hands that vector over.

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex};

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::mechanism::{Case, Endpoint, Mechanism, Prepared, Role};

use super::buffering::queue_depth;

/// crossbeam-channel bounded channels, threads of one process.
#[derive(Debug, Default)]
pub struct Crossbeam;

/// A run's channels: forward (to the ponger or consumers) and backward (pongs).
struct Channels {
    forward: (Sender<Vec<u8>>, Receiver<Vec<u8>>),
    backward: (Sender<Vec<u8>>, Receiver<Vec<u8>>),
}

/// The channels of every run in this process, by address.
static REGISTRY: LazyLock<Mutex<HashMap<String, Arc<Channels>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The channels at `address`, created with room for `depth` messages by the first caller.
fn channels(address: &str, depth: usize) -> Arc<Channels> {
    let mut registry = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
    registry
        .entry(address.to_owned())
        .or_insert_with(|| {
            Arc::new(Channels {
                forward: bounded(depth),
                backward: bounded(depth),
            })
        })
        .clone()
}

/// One role's ends.
struct ChannelEnd {
    tx: Option<Sender<Vec<u8>>>,
    rx: Option<Receiver<Vec<u8>>>,
}

impl Endpoint for ChannelEnd {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| io::Error::other("this end only receives"))?;
        tx.send(message.to_vec())
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        let rx = self
            .rx
            .as_ref()
            .ok_or_else(|| io::Error::other("this end only sends"))?;
        *buf = rx
            .recv()
            .map_err(|_| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        Ok(())
    }
}

impl Mechanism for Crossbeam {
    fn name(&self) -> String {
        "crossbeam".to_owned()
    }

    fn threads(&self) -> bool {
        true
    }

    fn unsupported(&self, _case: &Case) -> Option<String> {
        None
    }

    fn prepare(&self, _case: &Case, scratch: &Path) -> io::Result<Prepared> {
        // The scratch directory is unique to the run, so its path names the run.
        Ok(Prepared {
            address: scratch.display().to_string(),
            guard: Box::new(()),
        })
    }

    fn open(&self, case: &Case, address: &str, role: Role) -> io::Result<Box<dyn Endpoint>> {
        let channels = channels(address, queue_depth(case.size));
        let (forward, backward) = (&channels.forward, &channels.backward);
        let (tx, rx) = match role {
            Role::Pinger => (Some(forward.0.clone()), Some(backward.1.clone())),
            Role::Ponger => (Some(backward.0.clone()), Some(forward.1.clone())),
            Role::Producer { .. } => (Some(forward.0.clone()), None),
            Role::Consumer { .. } => (None, Some(forward.1.clone())),
        };
        Ok(Box::new(ChannelEnd { tx, rx }))
    }
}

//! Pipes: two named pipes (FIFOs) for ping-pong, one for throughput, with length-prefixed
//! framing so that whole messages arrive.
//!
//! Named rather than anonymous because the roles are independent processes; a FIFO is the same
//! kernel pipe, with its default 64 KiB buffer. The listening role opens its FIFOs read-write,
//! which never blocks (it then counts as a writer itself, so its reads wait for data instead of
//! seeing end-of-file before the peer arrives); the other role's opens then find their peer.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use nix::sys::stat::Mode;
use nix::unistd::mkfifo;

use crate::mechanism::{Case, Endpoint, Mechanism, Prepared, Role, Workload};

use super::framing::Framed;
use super::point_to_point;

/// Named pipes with length-prefixed framing.
#[derive(Debug, Default)]
pub struct Pipe;

/// The FIFO messages travel to the ponger or consumer.
const FORWARD: &str = "forward.fifo";
/// The FIFO pongs travel back on.
const BACKWARD: &str = "backward.fifo";

fn open(path: &Path, read: bool, write: bool) -> io::Result<File> {
    OpenOptions::new()
        .read(read)
        .write(write)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot open {}: {e}", path.display())))
}

impl Mechanism for Pipe {
    fn name(&self) -> String {
        "pipe".to_owned()
    }

    fn unsupported(&self, case: &Case) -> Option<String> {
        point_to_point::unsupported(case)
    }

    fn prepare(&self, case: &Case, scratch: &Path) -> io::Result<Prepared> {
        let mut fifos = vec![FORWARD];
        if case.workload == Workload::PingPong {
            fifos.push(BACKWARD);
        }
        for fifo in fifos {
            let path = scratch.join(fifo);
            mkfifo(&path, Mode::S_IRUSR | Mode::S_IWUSR).map_err(|e| {
                io::Error::new(
                    io::Error::from(e).kind(),
                    format!("cannot create {}: {e}", path.display()),
                )
            })?;
        }
        Ok(Prepared {
            address: scratch.display().to_string(),
            guard: Box::new(()),
        })
    }

    fn open(&self, case: &Case, address: &str, role: Role) -> io::Result<Box<dyn Endpoint>> {
        let dir = PathBuf::from(address);
        let (forward, backward) = (dir.join(FORWARD), dir.join(BACKWARD));
        let (reader, writer) = match role {
            Role::Ponger => (
                Some(open(&forward, true, true)?),
                Some(open(&backward, true, true)?),
            ),
            Role::Consumer { .. } => (Some(open(&forward, true, true)?), None),
            // The ponger holds both FIFOs open, so neither open waits.
            Role::Pinger => (
                Some(open(&backward, true, false)?),
                Some(open(&forward, false, true)?),
            ),
            Role::Producer { .. } => (None, Some(open(&forward, false, true)?)),
        };
        Ok(Box::new(Framed::new(reader, writer, case.size)))
    }
}

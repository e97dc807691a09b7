//! The three postbox mechanisms.

use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use postbox::{
    Capacity, Dispatch, MailboxBuilder, MessageSize, Mode, Ownership, Process, Receivers,
};
use serde::{Deserialize, Serialize};

use crate::mechanism::{Case, Endpoint, Mechanism, Prepared, Role, Workload};
use crate::plan::format_size;

use super::super::buffering::queue_depth;
use super::daemon::{MAX_MESSAGE, start};
use super::endpoint::{Flow, MailboxEnd, SendTo};

/// How a postbox run's processes reach the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// `inproc://`: an in-process node, every role a thread of one process.
    Inproc,
    /// `unix://?shm=off`: a daemon's Unix socket, every role a process, every payload inline
    /// in the frames.
    Unix,
    /// `unix://` with shared memory on (the default): the benchmark's plain mailboxes lent to
    /// rings that the roles push and pop directly, and payloads of 64 KiB or more attached as
    /// sealed memfds, written once by the sender and mapped by the receiver (docs/shm.md).
    UnixShm,
    /// `tcp://`: a daemon's TCP listener on loopback, with a token, every role a process.
    Tcp,
}

/// postbox over one transport.
#[derive(Clone, Copy, Debug)]
pub struct Postbox {
    /// The transport.
    pub transport: Transport,
}

/// The ping mailbox (pinger to ponger).
const PING: &str = "bench.ping";
/// The pong mailbox (ponger to pinger).
const PONG: &str = "bench.pong";
/// The one queue of the other workloads.
const QUEUE: &str = "bench.queue";
/// The largest payload a daemon's ring carries (its slot limit): larger ones go through the
/// daemon, pipelined.
const RING_PAYLOAD: usize = 4096;

/// What a role needs to reach a run's node.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct RunAddress {
    /// `inproc://…`, `unix://…` or `tcp://…`.
    pub(super) url: String,
    /// The file holding the TCP token.
    pub(super) token_file: Option<PathBuf>,
}

/// Writes a fresh random token to `scratch/token` (mode 0600), for TCP clients; its path.
pub(super) fn write_token_file(scratch: &Path) -> io::Result<PathBuf> {
    let token_file = scratch.join("token");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&token_file)?
        .write_all(random_token()?.as_bytes())?;
    Ok(token_file)
}

/// A random token, 32 hex digits from the kernel's generator.
fn random_token() -> io::Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Postbox {
    /// Every postbox mechanism: `inproc://`, `unix://` (payloads inline, then attached),
    /// `tcp://`.
    pub fn all() -> [Postbox; 4] {
        [
            Transport::Inproc,
            Transport::Unix,
            Transport::UnixShm,
            Transport::Tcp,
        ]
        .map(|transport| Postbox { transport })
    }

    /// Connects to the node `address` (what [`Mechanism::prepare`] made) names.
    pub(super) fn connect_to(&self, address: &str) -> io::Result<Process> {
        let address: RunAddress = serde_json::from_str(address).map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("bad address: {e}"))
        })?;
        connect(&address)
    }
}

/// Connects to the node at `address`, with its token when it has one.
pub(super) fn connect(address: &RunAddress) -> io::Result<Process> {
    let connected = match &address.token_file {
        Some(file) => {
            let token = std::fs::read(file).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot read {}: {e}", file.display()))
            })?;
            postbox::connect_with_token(&address.url, token.trim_ascii())
        }
        None => postbox::connect(&address.url),
    };
    connected.map_err(|e| io::Error::other(format!("cannot connect to {}: {e}", address.url)))
}

/// A mailbox bounded like the peers' buffers, for messages up to the case's size.
pub(super) fn bounded(builder: MailboxBuilder, size: usize) -> MailboxBuilder {
    let depth = queue_depth(size);
    builder
        .capacity(Capacity::bounded(depth, depth * size))
        .size(MessageSize::Variable(size))
}

pub(super) fn open_error(name: &str) -> impl FnOnce(postbox::OpenError) -> io::Error + '_ {
    move |e| io::Error::other(format!("mailbox {name}: {e}"))
}

impl Mechanism for Postbox {
    fn name(&self) -> String {
        match self.transport {
            Transport::Inproc => "postbox inproc://",
            Transport::Unix => "postbox unix://",
            Transport::UnixShm => "postbox shm",
            Transport::Tcp => "postbox tcp://",
        }
        .to_owned()
    }

    fn threads(&self) -> bool {
        self.transport == Transport::Inproc
    }

    fn unsupported(&self, case: &Case) -> Option<String> {
        (case.size > MAX_MESSAGE).then(|| {
            format!(
                "above postbox's largest message ({})",
                format_size(MAX_MESSAGE)
            )
        })
    }

    fn prepare(&self, _case: &Case, scratch: &Path) -> io::Result<Prepared> {
        let (address, guard): (RunAddress, Box<dyn Send>) = match self.transport {
            // A fresh process per run, so a fixed node name is a fresh node.
            Transport::Inproc => (
                RunAddress {
                    url: "inproc://bench".to_owned(),
                    token_file: None,
                },
                Box::new(()),
            ),
            Transport::Unix | Transport::UnixShm => {
                let socket = scratch.join("postbox.sock");
                let daemon = start(&socket, None)?;
                let url = match self.transport {
                    Transport::Unix => format!("unix://{}?shm=off", socket.display()),
                    _ => format!("unix://{}", socket.display()),
                };
                (
                    RunAddress {
                        url,
                        token_file: None,
                    },
                    Box::new(daemon.guard),
                )
            }
            Transport::Tcp => {
                let token_file = write_token_file(scratch)?;
                let daemon = start(&scratch.join("postbox.sock"), Some(&token_file))?;
                let tcp = daemon
                    .tcp
                    .ok_or_else(|| io::Error::other("the daemon reported no TCP address"))?;
                (
                    RunAddress {
                        url: format!("tcp://{tcp}"),
                        token_file: Some(token_file),
                    },
                    Box::new(daemon.guard),
                )
            }
        };
        Ok(Prepared {
            address: serde_json::to_string(&address).map_err(io::Error::other)?,
            guard,
        })
    }

    fn open(&self, case: &Case, address: &str, role: Role) -> io::Result<Box<dyn Endpoint>> {
        let process = self.connect_to(address)?;
        let size = case.size;
        let (send_to, recv_from) = match (case.workload, role) {
            (Workload::PingPong, Role::Ponger) => {
                let ping = bounded(process.mailbox(PING), size)
                    .create()
                    .map_err(open_error(PING))?;
                (SendTo::Later(PONG.to_owned()), Some(ping))
            }
            (Workload::PingPong, _) => {
                let pong = bounded(process.mailbox(PONG), size)
                    .create()
                    .map_err(open_error(PONG))?;
                let ping = process.mailbox(PING).open().map_err(open_error(PING))?;
                (SendTo::Open(Arc::new(ping)), Some(pong))
            }
            (Workload::Competing { .. }, Role::Consumer { .. }) => {
                let queue = bounded(process.mailbox(QUEUE), size)
                    .ownership(Ownership::System)
                    .receivers(Receivers::Shared(Dispatch::FirstWaiting))
                    .mode(Mode::new(0o600))
                    .open_or_create()
                    .map_err(open_error(QUEUE))?;
                (SendTo::Nothing, Some(queue))
            }
            (_, Role::Consumer { .. }) => {
                let queue = bounded(process.mailbox(QUEUE), size)
                    .create()
                    .map_err(open_error(QUEUE))?;
                (SendTo::Nothing, Some(queue))
            }
            (_, _) => {
                let queue = process.mailbox(QUEUE).open().map_err(open_error(QUEUE))?;
                (SendTo::Open(Arc::new(queue)), None)
            }
        };
        // In-process, and through a ring in shared memory (payloads it carries), there is no
        // round trip to hide: blocking batches, through the lane or the ring (requests waiting
        // ahead in the daemon would keep the mailbox from being lent at all).
        let lane = match self.transport {
            Transport::Inproc => true,
            Transport::UnixShm => size <= RING_PAYLOAD,
            Transport::Unix | Transport::Tcp => false,
        };
        let flow = match (case.workload, lane) {
            (Workload::PingPong, _) => Flow::Blocking,
            (Workload::Competing { .. }, true) => Flow::BatchedSends,
            (Workload::Throughput | Workload::FanIn { .. }, true) => Flow::Batched,
            (Workload::Competing { .. }, _) => Flow::PipelinedConsumer,
            (Workload::Throughput | Workload::FanIn { .. }, _) => Flow::Pipelined,
        };
        Ok(Box::new(
            MailboxEnd::new(send_to, recv_from, flow, process)
                .with_payloads_in_place(self.transport == Transport::UnixShm),
        ))
    }
}

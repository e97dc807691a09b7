//! ZeroMQ (libzmq, built from source by the `zmq` crate) over `ipc://` sockets under the run's
//! scratch directory.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ::zmq::{Context, Message, Socket, SocketType};

use super::{unique_name, wrong_direction, wrong_role};
use crate::mechanism::{Case, Endpoint, Mechanism, Prepared, Role, Workload};
use crate::peers::buffering::queue_depth;

/// How long dropping an endpoint may wait to hand over messages still queued in it: bounded, so
/// that a dead peer cannot hang the drop. libzmq does not promise delivery on close even with an
/// infinite linger (libzmq#1264), so senders must stay open until their receivers have everything.
const LINGER_MS: i32 = 1_000;

/// The longest path a Unix socket address holds (`sun_path`, less its terminating NUL).
const MAX_SOCKET_PATH: usize = 107;

/// ZeroMQ over `ipc://`.
///
/// Ping-pong and throughput use one PAIR socket at each end, the listening role binding. Fan-in
/// binds one PULL socket that every producer's PUSH connects to; PULL queues fairly between them.
///
/// Competing consumers use the ZeroMQ guide's load-balancing pattern rather than PUSH/PULL: each
/// consumer binds a DEALER and asks for one message per `recv`; the producer's ROUTER, connected
/// to them all, hands each message to the consumer whose request came first. That makes the
/// consumers share one queue, at the cost of a request per message. PUSH merely deals
/// round-robin, and skips a consumer whose pipe is at the high-water mark, so a consumer can be
/// dealt two of the harness's end markers and another none, which then waits for ever (over
/// half the runs hung that way in testing).
pub(super) struct ZeroMq;

/// The socket path of consumer `index` in a competing-consumers run, or of the one bound socket
/// in every other workload.
fn socket_path(base: &str, workload: Workload, index: usize) -> String {
    match workload {
        Workload::Competing { .. } => format!("{base}-{index}"),
        _ => base.to_owned(),
    }
}

/// The high-water mark, in messages, of each socket's send and receive queues: the comparison's
/// queue depth, so ZeroMQ buffers about as much as the other bounded queues.
fn high_water_mark(size: usize) -> i32 {
    i32::try_from(queue_depth(size)).unwrap_or(i32::MAX)
}

/// Removes the run's socket files, which libzmq leaves behind if a binding process dies.
struct RemoveSockets(Vec<PathBuf>);

impl Drop for RemoveSockets {
    fn drop(&mut self) {
        for path in &self.0 {
            // Usually already gone: libzmq unlinks the file when the bound socket closes.
            let _ = fs::remove_file(path);
        }
    }
}

impl Mechanism for ZeroMq {
    fn name(&self) -> String {
        "zeromq ipc://".to_owned()
    }

    fn unsupported(&self, _case: &Case) -> Option<String> {
        None
    }

    fn prepare(&self, case: &Case, scratch: &Path) -> io::Result<Prepared> {
        let base = scratch.join(unique_name("zmq"));
        let base = base.to_str().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("scratch path {} is not UTF-8", scratch.display()),
            )
        })?;
        let bound = match case.workload {
            Workload::Competing { consumers } => consumers,
            _ => 1,
        };
        let paths = (0..bound)
            .map(|i| PathBuf::from(socket_path(base, case.workload, i)))
            .collect::<Vec<_>>();
        if let Some(long) = paths.iter().find(|p| p.as_os_str().len() > MAX_SOCKET_PATH) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "socket path {} is longer than the {MAX_SOCKET_PATH} bytes a Unix socket \
                     address holds",
                    long.display()
                ),
            ));
        }
        Ok(Prepared {
            address: base.to_owned(),
            guard: Box::new(RemoveSockets(paths)),
        })
    }

    fn open(&self, case: &Case, address: &str, role: Role) -> io::Result<Box<dyn Endpoint>> {
        let endpoint = |index| format!("ipc://{}", socket_path(address, case.workload, index));
        let context = Context::new();
        let new_socket = |kind: SocketType| -> io::Result<Socket> {
            let socket = context
                .socket(kind)
                .map_err(zmq_error("creating a socket"))?;
            let hwm = high_water_mark(case.size);
            socket
                .set_sndhwm(hwm)
                .map_err(zmq_error("setting ZMQ_SNDHWM"))?;
            socket
                .set_rcvhwm(hwm)
                .map_err(zmq_error("setting ZMQ_RCVHWM"))?;
            socket
                .set_linger(LINGER_MS)
                .map_err(zmq_error("setting ZMQ_LINGER"))?;
            Ok(socket)
        };
        let bind = |socket: &Socket, index| {
            let endpoint = endpoint(index);
            socket
                .bind(&endpoint)
                .map_err(zmq_error(&format!("binding {endpoint}")))
        };
        let connect = |socket: &Socket, index| {
            let endpoint = endpoint(index);
            socket
                .connect(&endpoint)
                .map_err(zmq_error(&format!("connecting to {endpoint}")))
        };
        let (socket, flow) = match (case.workload, role) {
            (Workload::PingPong, Role::Ponger) | (Workload::Throughput, Role::Consumer { .. }) => {
                let socket = new_socket(::zmq::PAIR)?;
                bind(&socket, 0)?;
                let sends = role == Role::Ponger;
                (
                    socket,
                    Flow::Plain {
                        sends,
                        receives: true,
                    },
                )
            }
            (Workload::PingPong, Role::Pinger) | (Workload::Throughput, Role::Producer { .. }) => {
                let socket = new_socket(::zmq::PAIR)?;
                connect(&socket, 0)?;
                let receives = role == Role::Pinger;
                (
                    socket,
                    Flow::Plain {
                        sends: true,
                        receives,
                    },
                )
            }
            (Workload::FanIn { .. }, Role::Consumer { .. }) => {
                let socket = new_socket(::zmq::PULL)?;
                bind(&socket, 0)?;
                (
                    socket,
                    Flow::Plain {
                        sends: false,
                        receives: true,
                    },
                )
            }
            (Workload::FanIn { .. }, Role::Producer { .. }) => {
                let socket = new_socket(::zmq::PUSH)?;
                connect(&socket, 0)?;
                (
                    socket,
                    Flow::Plain {
                        sends: true,
                        receives: false,
                    },
                )
            }
            (Workload::Competing { .. }, Role::Consumer { index }) => {
                let socket = new_socket(::zmq::DEALER)?;
                bind(&socket, index)?;
                (socket, Flow::Asking)
            }
            (Workload::Competing { consumers }, Role::Producer { .. }) => {
                let socket = new_socket(::zmq::ROUTER)?;
                // Fail loudly rather than drop a message for a consumer that went away.
                socket
                    .set_router_mandatory(true)
                    .map_err(zmq_error("setting ZMQ_ROUTER_MANDATORY"))?;
                for index in 0..consumers {
                    connect(&socket, index)?;
                }
                (socket, Flow::Dealing)
            }
            (workload, role) => return Err(wrong_role(workload, role)),
        };
        Ok(Box::new(ZmqEndpoint {
            socket,
            flow,
            message: Message::new(),
            identity: Message::new(),
        }))
    }
}

/// Turns a libzmq error into an `io::Error` saying what was being done.
fn zmq_error(context: &str) -> impl FnOnce(::zmq::Error) -> io::Error + '_ {
    move |e| io::Error::new(io::Error::from(e).kind(), format!("{context}: {e}"))
}

/// How an endpoint uses its socket.
enum Flow {
    /// Messages go out and come in as they are (PAIR, PUSH, PULL).
    Plain {
        /// Whether this end sends.
        sends: bool,
        /// Whether this end receives.
        receives: bool,
    },
    /// The competing producer (ROUTER): each message answers the oldest consumer request.
    Dealing,
    /// A competing consumer (DEALER): requests each message it receives.
    Asking,
}

/// One role's socket.
struct ZmqEndpoint {
    socket: Socket,
    flow: Flow,
    /// Reused for every frame received.
    message: Message,
    /// The identity of the consumer a dealt message goes to.
    identity: Message,
}

/// Runs a blocking libzmq call again when a signal interrupts it.
fn retry<T>(mut call: impl FnMut() -> ::zmq::Result<T>) -> ::zmq::Result<T> {
    loop {
        match call() {
            Err(::zmq::Error::EINTR) => continue,
            result => return result,
        }
    }
}

impl Endpoint for ZmqEndpoint {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        match self.flow {
            Flow::Plain { sends: true, .. } => {}
            Flow::Dealing => {
                // A request is [consumer identity, empty frame]; the answer goes to that identity.
                retry(|| self.socket.recv(&mut self.identity, 0))
                    .map_err(zmq_error("receiving a consumer's request"))?;
                while self
                    .socket
                    .get_rcvmore()
                    .map_err(zmq_error("ZMQ_RCVMORE"))?
                {
                    retry(|| self.socket.recv(&mut self.message, 0))
                        .map_err(zmq_error("receiving a consumer's request"))?;
                }
                retry(|| self.socket.send(&self.identity[..], ::zmq::SNDMORE))
                    .map_err(zmq_error("addressing a consumer"))?;
            }
            Flow::Plain { sends: false, .. } | Flow::Asking => {
                return Err(wrong_direction("send"));
            }
        }
        retry(|| self.socket.send(message, 0)).map_err(zmq_error("zmq_send"))
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        match self.flow {
            Flow::Plain { receives: true, .. } => {}
            Flow::Asking => {
                retry(|| self.socket.send(&[][..], 0))
                    .map_err(zmq_error("requesting a message"))?;
            }
            Flow::Plain {
                receives: false, ..
            }
            | Flow::Dealing => return Err(wrong_direction("receive")),
        }
        retry(|| self.socket.recv(&mut self.message, 0)).map_err(zmq_error("zmq_recv"))?;
        buf.clear();
        buf.extend_from_slice(&self.message);
        Ok(())
    }
}

//! A TCP proxy between two nodes that breaks what passes through it, on command or on a
//! seeded schedule.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::{Instant, sleep, sleep_until, timeout};

use crate::fault_counts::{Counters, FaultCounts};
use crate::schedule::{Cut, Direction, Fault, Step};

/// The largest chunk read (and so damaged) at once.
const CHUNK: usize = 16 * 1024;

/// How long the dial of the upstream may take.
const DIAL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A TCP proxy: the side under test dials [`address`](FaultProxy::address), the proxy dials
/// the upstream, and bytes flow both ways until a fault says otherwise.
///
/// Faults come from [`inject`](FaultProxy::inject) (now) or [`play`](FaultProxy::play) (a
/// [`Schedule`](crate::Schedule), each step after its pause). A cut ends every live connection
/// on both sides, with RST or FIN; a stall holds every chunk for a while; a partition holds
/// chunks and new connections; the chunk faults delay, flip a byte in, drop or duplicate the
/// next chunk in one direction. Over TLS any damage to the bytes breaks the connection, which
/// the side under test must then replace: that is what these faults are for.
///
/// It runs on the tokio runtime it was started in; dropping it stops it, closing every
/// connection.
#[derive(Debug)]
pub struct FaultProxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    acceptor: AbortHandle,
}

/// A connection open now.
#[derive(Debug)]
struct Live {
    id: u64,
    /// Set once, by a cut or by one direction failing.
    cut: Arc<watch::Sender<Option<Cut>>>,
    task: AbortHandle,
    /// The chunk fault waiting for the next chunk each way: `[upstream, downstream]`.
    armed: [Option<Fault>; 2],
}

/// What the acceptor, the connections and the handle share.
#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    counters: Counters,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Live connections.
    connections: Vec<Live>,
    next_id: u64,
    /// No chunk is forwarded before this (a stall or a partition).
    hold_until: Instant,
    /// No new connection dials the upstream before this (a partition).
    partitioned_until: Instant,
    /// Schedules playing.
    players: Vec<AbortHandle>,
}

impl FaultProxy {
    /// Listens on `127.0.0.1` at a free port and forwards every connection to `upstream`.
    ///
    /// # Errors
    ///
    /// When the listener cannot be bound.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn start(upstream: SocketAddr) -> io::Result<FaultProxy> {
        FaultProxy::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), upstream)
    }

    /// Listens on `listen` (port 0: a free one) and forwards every connection to `upstream`.
    ///
    /// # Errors
    ///
    /// When the listener cannot be bound.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn start_on(listen: SocketAddr, upstream: SocketAddr) -> io::Result<FaultProxy> {
        let listener = std::net::TcpListener::bind(listen)?;
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        let address = listener.local_addr()?;
        let now = Instant::now();
        let shared = Arc::new(Shared {
            upstream,
            counters: Counters::default(),
            state: Mutex::new(State {
                connections: Vec::new(),
                next_id: 0,
                hold_until: now,
                partitioned_until: now,
                players: Vec::new(),
            }),
        });
        let acceptor = tokio::spawn(accept(listener, shared.clone())).abort_handle();
        Ok(FaultProxy {
            address,
            shared,
            acceptor,
        })
    }

    /// Where the side under test dials.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// What it has done so far.
    pub fn counts(&self) -> FaultCounts {
        self.shared.counters.snapshot()
    }

    /// Connections open now.
    pub fn live_connections(&self) -> usize {
        self.shared.lock().connections.len()
    }

    /// Applies `fault` now: a cut ends the connections open now, a stall or partition starts
    /// now, a chunk fault waits for the next chunk its way on each connection open now (a
    /// newer chunk fault the same way replaces it). Cuts and chunk faults with no connection
    /// open do nothing: a connection made later starts clean, so a storm of faults while the
    /// link is down does not pile up against the handshake that would bring it back.
    pub fn inject(&self, fault: Fault) {
        self.shared.inject(fault);
    }

    /// Plays `steps` in the background: for each, waits its pause, then injects its fault.
    /// It plays until the steps run out, [`stop`](FaultProxy::stop), or the proxy is dropped;
    /// the returned handle ends when it does.
    pub fn play(&self, steps: impl Iterator<Item = Step> + Send + 'static) -> JoinHandle<u64> {
        let shared = self.shared.clone();
        let player = tokio::spawn(async move {
            let mut played = 0;
            for step in steps {
                sleep(step.after).await;
                shared.inject(step.fault);
                played += 1;
            }
            played
        });
        self.shared.lock().players.push(player.abort_handle());
        player
    }

    /// Stops every schedule playing; faults already applied (a stall under way) run their
    /// course.
    pub fn stop(&self) {
        for player in self.shared.lock().players.drain(..) {
            player.abort();
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.acceptor.abort();
        let mut state = self.shared.lock();
        for player in state.players.drain(..) {
            player.abort();
        }
        for live in state.connections.drain(..) {
            live.task.abort();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent across a panic elsewhere: every change is one statement.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn inject(&self, fault: Fault) {
        let counters = &self.counters;
        let mut state = self.lock();
        match fault {
            Fault::Cut(cut) => {
                for live in &state.connections {
                    if live.cut.borrow().is_none() {
                        live.cut.send_replace(Some(cut));
                        Counters::add(
                            match cut {
                                Cut::Reset => &counters.resets,
                                Cut::Close => &counters.closes,
                            },
                            1,
                        );
                    }
                }
            }
            Fault::Stall(duration) => {
                state.hold_until = state.hold_until.max(Instant::now() + duration);
                Counters::add(&counters.stalls, 1);
            }
            Fault::Partition(duration) => {
                let until = Instant::now() + duration;
                state.hold_until = state.hold_until.max(until);
                state.partitioned_until = state.partitioned_until.max(until);
                Counters::add(&counters.partitions, 1);
            }
            Fault::Delay(direction, _)
            | Fault::Drop(direction)
            | Fault::Duplicate(direction)
            | Fault::Flip { direction, .. } => {
                for live in &mut state.connections {
                    live.armed[index(direction)] = Some(fault);
                }
            }
        }
    }

    /// The chunk fault waiting for the next chunk `direction` of connection `id`, if any.
    fn take_armed(&self, id: u64, direction: Direction) -> Option<Fault> {
        let mut state = self.lock();
        let live = state.connections.iter_mut().find(|live| live.id == id)?;
        live.armed[index(direction)].take()
    }
}

fn index(direction: Direction) -> usize {
    match direction {
        Direction::Upstream => 0,
        Direction::Downstream => 1,
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((downstream, _)) = listener.accept().await else {
            // Out of descriptors, or the like: the side under test will dial again.
            sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        Counters::add(&shared.counters.connections, 1);
        let signal = Arc::new(watch::Sender::new(None));
        let mut state = shared.lock();
        let id = state.next_id;
        state.next_id += 1;
        let task = tokio::spawn(connection(id, downstream, signal.clone(), shared.clone()));
        state.connections.push(Live {
            id,
            cut: signal,
            task: task.abort_handle(),
            armed: [None, None],
        });
    }
}

/// One proxied connection, from the dial of the upstream to its end.
async fn connection(
    id: u64,
    downstream: TcpStream,
    signal: Arc<watch::Sender<Option<Cut>>>,
    shared: Arc<Shared>,
) {
    let mut cut = signal.subscribe();
    let partition = async {
        // A partition holds a new connection unanswered until it ends.
        loop {
            let until = shared.lock().partitioned_until;
            if until <= Instant::now() {
                break;
            }
            sleep_until(until).await;
        }
    };
    tokio::select! {
        () = partition => {}
        _ = cut.wait_for(Option::is_some) => {
            let _ = downstream.set_zero_linger();
            shared.lock().connections.retain(|live| live.id != id);
            return;
        }
    }
    // Not cut short by a cut: once connected, the pumps apply any cut to both sides alike.
    let upstream = match timeout(DIAL_TIMEOUT, TcpStream::connect(shared.upstream)).await {
        Ok(dialled) => dialled,
        Err(_) => Err(io::ErrorKind::TimedOut.into()),
    };
    match upstream {
        Ok(upstream) => {
            let _ = downstream.set_nodelay(true);
            let _ = upstream.set_nodelay(true);
            let (down_read, down_write) = downstream.into_split();
            let (up_read, up_write) = upstream.into_split();
            let pumps = (
                Pump {
                    id,
                    direction: Direction::Upstream,
                    from: down_read,
                    to: up_write,
                    cut: cut.clone(),
                    signal: &signal,
                    shared: &shared,
                },
                Pump {
                    id,
                    direction: Direction::Downstream,
                    from: up_read,
                    to: down_write,
                    cut,
                    signal: &signal,
                    shared: &shared,
                },
            );
            tokio::join!(pumps.0.run(), pumps.1.run());
        }
        Err(_) => {
            Counters::add(&shared.counters.upstream_failures, 1);
            let _ = downstream.set_zero_linger();
        }
    }
    shared.lock().connections.retain(|live| live.id != id);
}

/// One direction of a connection.
struct Pump<'a> {
    id: u64,
    direction: Direction,
    from: OwnedReadHalf,
    to: OwnedWriteHalf,
    cut: watch::Receiver<Option<Cut>>,
    signal: &'a watch::Sender<Option<Cut>>,
    shared: &'a Shared,
}

impl Pump<'_> {
    async fn run(mut self) {
        let ending = self.forward().await;
        match ending {
            // The sender finished: pass its FIN on; the other direction carries on.
            Ending::EndOfStream => {
                let _ = self.to.shutdown().await;
            }
            Ending::Cut(Cut::Reset) => {
                // Dropping a write half would send a FIN first; forgotten, the socket closes
                // (with an RST, lingering 0) once the other direction lets go of its read half.
                let _ = self.to.as_ref().set_zero_linger();
                self.to.forget();
            }
            Ending::Cut(Cut::Close) => {
                let _ = self.to.shutdown().await;
            }
        }
    }

    /// Forwards chunks until the stream ends or the connection is cut.
    async fn forward(&mut self) -> Ending {
        let mut buffer = vec![0; CHUNK];
        loop {
            let read = tokio::select! {
                read = self.from.read(&mut buffer) => read,
                cut = self.cut.wait_for(Option::is_some) => return cut_of(cut),
            };
            let length = match read {
                Ok(0) => return Ending::EndOfStream,
                Ok(n) => n,
                // Its side reset: reset the other side too.
                Err(_) => return self.pass_on(Cut::Reset),
            };
            let chunk = &mut buffer[..length];
            if let Some(ending) = self.hold().await {
                return ending;
            }
            let mut copies = 1;
            match self.shared.take_armed(self.id, self.direction) {
                Some(Fault::Delay(_, duration)) => {
                    Counters::add(&self.shared.counters.delays, 1);
                    tokio::select! {
                        () = sleep(duration) => {}
                        cut = self.cut.wait_for(Option::is_some) => return cut_of(cut),
                    }
                }
                Some(Fault::Flip { offset, mask, .. }) => {
                    Counters::add(&self.shared.counters.flips, 1);
                    chunk[offset as usize % length] ^= mask;
                }
                Some(Fault::Drop(_)) => {
                    Counters::add(&self.shared.counters.drops, 1);
                    copies = 0;
                }
                Some(Fault::Duplicate(_)) => {
                    Counters::add(&self.shared.counters.duplicates, 1);
                    copies = 2;
                }
                _ => {}
            }
            for _ in 0..copies {
                let written = tokio::select! {
                    written = self.to.write_all(chunk) => written,
                    cut = self.cut.wait_for(Option::is_some) => return cut_of(cut),
                };
                if written.is_err() {
                    return self.pass_on(Cut::Reset);
                }
                Counters::add(
                    match self.direction {
                        Direction::Upstream => &self.shared.counters.bytes_upstream,
                        Direction::Downstream => &self.shared.counters.bytes_downstream,
                    },
                    length as u64,
                );
            }
        }
    }

    /// Waits out a stall or partition; `Some` if the connection was cut meanwhile.
    async fn hold(&mut self) -> Option<Ending> {
        loop {
            let until = self.shared.lock().hold_until;
            if until <= Instant::now() {
                return None;
            }
            tokio::select! {
                () = sleep_until(until) => {}
                cut = self.cut.wait_for(Option::is_some) => return Some(cut_of(cut)),
            }
        }
    }

    /// Ends the other direction as this one ended (not counted: the proxy did not cause it).
    fn pass_on(&self, cut: Cut) -> Ending {
        self.signal.send_if_modified(|current| {
            let unset = current.is_none();
            if unset {
                *current = Some(cut);
            }
            unset
        });
        Ending::Cut(cut)
    }
}

/// How a direction of a connection ended.
#[derive(Clone, Copy, Debug)]
enum Ending {
    EndOfStream,
    Cut(Cut),
}

fn cut_of(cut: Result<watch::Ref<'_, Option<Cut>>, watch::error::RecvError>) -> Ending {
    // The sender lives as long as the connection is listed; dropped, treat it as a reset.
    Ending::Cut(cut.ok().and_then(|c| *c).unwrap_or(Cut::Reset))
}

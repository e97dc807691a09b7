//! How a daemon's answers reach the requests that wait for them, on a socket transport.
//!
//! The connection's read half is a token: whoever holds it reads the socket and puts every answer
//! in the slot of the request it answers. A thread blocked in a call takes the token itself when
//! it is free and reads until its own answer is in, so an answer wakes the thread that waits for
//! it directly, with no reader thread in between (on this kind of machine every extra wake-up
//! costs several microseconds, more when a CPU has to leave its idle state). When it has its
//! answer it gives the token back and nudges every other waiter, one of which takes over.
//!
//! A future has no thread to read for it, so the first time one waits, a background reader
//! starts; it takes the token whenever it is free and keeps it until the connection ends, and
//! from then on answers reach blocked threads through their slots.

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use postbox_core::Pid;

use super::payloads::{self, RingDescriptors};
use super::session::SharedSession;
use super::stream::Stream;
use super::writer::Writer;
use crate::transport::{Answer, Slot, Waited};

/// How much one read takes from the socket at most.
const READ_CHUNK: usize = 64 * 1024;

/// The read half of a connection, and the buffer each read lands in.
#[derive(Debug)]
pub(crate) struct ReadHalf {
    stream: Stream,
    scratch: Vec<u8>,
    /// With attached payloads in force (`unix://` only): the largest one accepted.
    attached: Option<usize>,
    /// Where ring descriptors that arrive are set aside for the lanes that asked for them.
    rings: Arc<RingDescriptors>,
}

impl ReadHalf {
    /// A read half of `stream` (whatever the handshake read past its end is the session's);
    /// `attached`: the largest attached payload accepted, when the connection has them; ring
    /// descriptors go to `rings`.
    pub(crate) fn new(
        stream: Stream,
        attached: Option<usize>,
        rings: Arc<RingDescriptors>,
    ) -> ReadHalf {
        ReadHalf {
            stream,
            scratch: vec![0; READ_CHUNK],
            attached,
            rings,
        }
    }
}

/// Why reading stopped.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Pumped {
    /// What the reader waited for has arrived.
    Done,
    /// The deadline passed first.
    TimedOut,
    /// The connection ended (or broke the protocol); every waiting request has been answered
    /// `Disconnected`.
    Ended,
}

/// What the connection's readers share.
#[derive(Debug)]
pub(crate) struct Answers {
    /// The session, and the slots of the requests in flight.
    session: Arc<SharedSession>,
    /// Where bytes the session must send in answer to input (a protocol `Error`) go.
    writer: Arc<Writer>,
    /// The read half, while nobody reads.
    token: Mutex<Option<ReadHalf>>,
    /// Signalled when the token is given back.
    released: Condvar,
    /// The background reader, once a future has needed one.
    background: Mutex<Option<JoinHandle<()>>>,
    /// Whether the background reader was started (read without a lock on every future's wait).
    background_started: AtomicBool,
}

impl Answers {
    /// Answers for a connection whose read half is `half`.
    pub(crate) fn new(session: Arc<SharedSession>, writer: Arc<Writer>, half: ReadHalf) -> Answers {
        Answers {
            session,
            writer,
            token: Mutex::new(Some(half)),
            released: Condvar::new(),
            background: Mutex::new(None),
            background_started: AtomicBool::new(false),
        }
    }

    fn token(&self) -> MutexGuard<'_, Option<ReadHalf>> {
        self.token.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the connection is gone.
    pub(crate) fn is_closed(&self) -> bool {
        self.session.is_ended()
    }

    /// The connection is gone: every waiting request is answered `Disconnected`.
    pub(crate) fn close(&self) {
        self.session.end().deliver();
    }

    /// Waits for `slot`'s answer until `deadline` (`None`: for as long as it takes), reading the
    /// socket for everyone while nobody else does. `None` if the deadline passed first.
    pub(crate) fn wait(&self, slot: &Slot, deadline: Option<Instant>) -> Option<Answer> {
        loop {
            if let Some(answer) = slot.take() {
                return Some(answer);
            }
            let half = self.token().take();
            if let Some(mut half) = half {
                let pumped = self.pump(&mut half, || slot.is_filled(), deadline, true);
                if pumped != Pumped::Ended {
                    self.give_back(half);
                }
                if pumped == Pumped::TimedOut {
                    return slot.take();
                }
                continue;
            }
            match slot.wait_or_nudged(deadline) {
                Waited::Filled(answer) => return Some(answer),
                Waited::Nudged => continue,
                Waited::TimedOut => return None,
            }
        }
    }

    /// Makes sure answers are read without a thread waiting for them (a future waits): starts
    /// the background reader if it is not running yet.
    pub(crate) fn read_in_background(self: &Arc<Self>, pid: Pid) {
        if self.background_started.load(Ordering::Acquire) {
            return;
        }
        let mut background = self.background.lock().unwrap_or_else(|p| p.into_inner());
        if self.background_started.swap(true, Ordering::AcqRel) || self.is_closed() {
            return;
        }
        let answers = self.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("postbox-reader-{pid}"))
            .spawn(move || answers.read_until_the_end());
        match spawned {
            Ok(handle) => *background = Some(handle),
            // Without a reader nothing would ever answer the future: fail every request rather
            // than leave it waiting.
            Err(_) => self.close(),
        }
    }

    /// The background reader: takes the token as soon as it is free and reads until the end.
    fn read_until_the_end(&self) {
        let mut token = self.token();
        let mut half = loop {
            if let Some(half) = token.take() {
                break half;
            }
            if self.is_closed() {
                return;
            }
            token = self.released.wait(token).unwrap_or_else(|p| p.into_inner());
        };
        drop(token);
        self.pump(&mut half, || false, None, false);
    }

    /// Ends the connection's reading after the write half was shut down: reads (delivering what
    /// is still answered) until the daemon closes its side or `timeout` passes.
    pub(crate) fn finish(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        if let Some(reader) = &*self.background.lock().unwrap_or_else(|p| p.into_inner()) {
            // The background reader holds the token, or is about to: wait for it to see the end.
            while !reader.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_micros(100));
            }
            return;
        }
        let mut token = self.token();
        loop {
            if let Some(mut half) = token.take() {
                drop(token);
                self.pump(&mut half, || false, Some(deadline), false);
                return;
            }
            if self.is_closed() {
                return;
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return;
            };
            token = self
                .released
                .wait_timeout(token, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Waits for the background reader, if one ran, to end (it does once the socket is shut).
    pub(crate) fn join_background(&self) {
        let reader = self
            .background
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(reader) = reader {
            // The reader never panics; a join error would only repeat that it ended.
            let _ = reader.join();
        }
    }

    /// Gives the token back and nudges every waiter, so that one of them reads next.
    fn give_back(&self, half: ReadHalf) {
        *self.token() = Some(half);
        self.released.notify_all();
        self.session.nudge_all();
    }

    /// Reads and delivers answers until `done()`, `deadline` or the end of the connection.
    /// `spin`: look for input a while before each sleep (a thread waiting for its own answer,
    /// not the background reader).
    fn pump(
        &self,
        half: &mut ReadHalf,
        done: impl Fn() -> bool,
        deadline: Option<Instant>,
        spin: bool,
    ) -> Pumped {
        let fresh = if spin { 0 } else { POLL_SPINS };
        let mut spins = fresh;
        // Bytes read and not yet handed to the session, and the payloads attached to them.
        let mut read = 0;
        let mut payloads = Ok(Vec::new());
        let pumped = loop {
            let (deliveries, output) = self.session.input(
                &half.scratch[..read],
                std::mem::replace(&mut payloads, Ok(Vec::new())),
            );
            deliveries.deliver();
            if let Some(output) = output {
                self.writer.write(&self.session, output);
            }
            if self.session.is_ended() {
                break Pumped::Ended;
            }
            if done() {
                return Pumped::Done;
            }
            match wait_readable(&half.stream, deadline, &mut spins) {
                Ok(true) => {}
                Ok(false) => return Pumped::TimedOut,
                Err(_) => break Pumped::Ended,
            }
            match read_some(half) {
                Ok((0, _)) | Err(_) => break Pumped::Ended,
                Ok((n, attached)) => {
                    read = n;
                    payloads = attached;
                    spins = fresh;
                }
            }
        };
        half.stream.shutdown();
        self.close();
        // Whoever waits for the token learns that there is nothing left to read (notified under
        // the token's lock, so a waiter that has just found the connection open is already
        // waiting).
        let _token = self.token();
        self.released.notify_all();
        pumped
    }
}

/// Reads what the socket has into the scratch buffer (up to its size), which is reused for every
/// read; the session then copies it once, into the buffer its frame is decoded from. With
/// attached payloads in force, also the payloads that came with the bytes (or why they were
/// refused).
#[allow(clippy::type_complexity)]
fn read_some(half: &mut ReadHalf) -> io::Result<(usize, Result<Vec<Bytes>, String>)> {
    if let (Stream::Unix(unix), Some(max_len)) = (&half.stream, half.attached) {
        return payloads::read(unix, &mut half.scratch, max_len, &half.rings);
    }
    loop {
        match half.stream.read(&mut half.scratch) {
            Ok(read) => return Ok((read, Ok(Vec::new()))),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
    }
}

/// How many times a reader looks for input, yielding its CPU in between, before it sleeps in
/// `poll`. An answer usually comes within microseconds; a reader that slept would then pay for a
/// wake-up, and on a virtual machine an idle CPU halts and takes far longer to wake (this keeps
/// the round-trip tail short, at the cost of some CPU while waiting).
const POLL_SPINS: u32 = 32;

/// Blocks until the socket has something to read or has ended (`true`), or `deadline` passes
/// (`false`). The first [`POLL_SPINS`] calls of one wait (counted in `spins`) look without
/// sleeping.
///
/// Why not just block in `read`: a thread asleep in `read` on a Unix stream is woken whenever the
/// daemon consumes what this client *wrote* (the kernel signals "room to write" on the same wait
/// queue), so a client that sends quickly would wake its reader once per request for nothing, and
/// the daemon would pay for every one of those wake-ups inside its own reads. `poll` for input
/// is woken only by input.
fn wait_readable(stream: &Stream, deadline: Option<Instant>, spins: &mut u32) -> io::Result<bool> {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    loop {
        let spinning = *spins < POLL_SPINS;
        let timeout = match deadline {
            _ if spinning => Some(Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            }),
            None => None,
            Some(deadline) => {
                let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                    return Ok(false);
                };
                Some(Timespec {
                    tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
                    tv_nsec: i64::from(left.subsec_nanos()),
                })
            }
        };
        let mut fds = [match stream {
            Stream::Unix(s) => PollFd::new(s, PollFlags::IN),
            Stream::Tcp(s) => PollFd::new(s, PollFlags::IN),
            Stream::Tls(s, _) => PollFd::new(s, PollFlags::IN),
        }];
        match poll(&mut fds, timeout.as_ref()) {
            Ok(0) if spinning => {
                *spins += 1;
                std::thread::yield_now();
                if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                    return Ok(false);
                }
            }
            Ok(0) => continue,
            Ok(_) => return Ok(true),
            Err(rustix::io::Errno::INTR) => continue,
            Err(error) => return Err(error.into()),
        }
    }
}

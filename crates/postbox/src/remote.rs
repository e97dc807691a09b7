//! The socket transports: a process that is a connection to a daemon (`unix://`, `tcp://`).
//!
//! Requests are written as frames from the calling thread; one reader thread per connection
//! decodes answers and puts each in the slot of the request id it answers. Deadlines are the
//! client's: when one passes, the client sends a `Cancel` for the request and waits for the
//! daemon's final answer (the withdrawal's `Timeout`, or the real answer if it raced ahead), so
//! a timed-out send always knows whether its message was delivered. If the connection is lost,
//! every waiting request is answered `Disconnected` at once.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use postbox_core::Pid;
use postbox_wire::{
    ClientConfig, ClientHandshake, ErrorBody, ErrorCode, Frame, FrameDecoder, FrameEncoder,
    FrameKind, Request, RequestId, Token, decode_response, encode_request_into,
};
use rustc_hash::FxHashMap;

use crate::link::{Answer, Call, Failure, Link, Pending};
use crate::slot::Slot;
use crate::url::ConnectError;

/// The largest frame this client accepts: room for the largest message a daemon allows by
/// default (8 MiB) plus the request around it.
const MAX_FRAME_LEN: u32 = (8 << 20) + (64 << 10);

/// How long connecting and the handshake may take before `connect` gives up.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long terminating a process waits for the daemon to confirm it by closing the connection
/// (it does within a second, after flushing what it still had to send).
const TERMINATE_TIMEOUT: Duration = Duration::from_secs(2);

/// A connected stream of either kind.
#[derive(Debug)]
enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
        })
    }

    fn shutdown(&self) {
        // Already closed is fine: the aim is only that the reader and the daemon see the end.
        let _ = match self {
            Stream::Unix(s) => s.shutdown(Shutdown::Both),
            Stream::Tcp(s) => s.shutdown(Shutdown::Both),
        };
    }

    fn shutdown_write(&self) {
        // Already closed is fine: the aim is only that the daemon sees the end.
        let _ = match self {
            Stream::Unix(s) => s.shutdown(Shutdown::Write),
            Stream::Tcp(s) => s.shutdown(Shutdown::Write),
        };
    }

    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_read_timeout(timeout),
            Stream::Tcp(s) => s.set_read_timeout(timeout),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.flush(),
            Stream::Tcp(s) => s.flush(),
        }
    }
}

/// Where to connect.
pub(crate) enum Endpoint<'a> {
    Unix(&'a str),
    Tcp(&'a str),
}

/// What the connection's writers and its reader share.
#[derive(Debug, Default)]
struct Shared {
    /// Requests waiting for their answer, by request id.
    pending: Mutex<FxHashMap<u64, Arc<Slot>>>,
    /// Set once the connection is gone; later requests fail at once.
    closed: AtomicBool,
}

impl Shared {
    fn pending(&self) -> MutexGuard<'_, FxHashMap<u64, Arc<Slot>>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The connection is gone: every waiting request is answered `Disconnected`.
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        for (_, slot) in self.pending().drain() {
            slot.fill(Err(Failure::Disconnected));
        }
    }
}

#[derive(Debug)]
struct Writer {
    stream: Stream,
    encoder: FrameEncoder,
    buffer: BytesMut,
}

impl Writer {
    fn send(&mut self, frame: &Frame) -> io::Result<()> {
        self.buffer.clear();
        self.encoder
            .encode(frame, &mut self.buffer)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        self.stream.write_all(&self.buffer)
    }

    /// Sends request `id`, encoded straight into the write buffer (a message's payload is
    /// copied once, not encoded apart and copied again).
    fn send_request(&mut self, id: RequestId, request: &Request) -> io::Result<()> {
        self.buffer.clear();
        self.encoder
            .encode_with(FrameKind::Request, Some(id), &mut self.buffer, |dst| {
                encode_request_into(request, dst);
            })
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        self.stream.write_all(&self.buffer)
    }
}

/// A process that is one connection to a daemon.
#[derive(Debug)]
pub(crate) struct RemoteLink {
    pid: Pid,
    writer: Mutex<Writer>,
    shared: Arc<Shared>,
    next_id: AtomicU64,
    reader: Mutex<Option<JoinHandle<()>>>,
}

impl RemoteLink {
    /// Connects, runs the handshake, and starts the reader.
    pub(crate) fn connect(
        endpoint: Endpoint<'_>,
        token: Option<Token>,
    ) -> Result<RemoteLink, ConnectError> {
        let io_error = |e: io::Error| ConnectError::Io(e.to_string());
        let stream = match endpoint {
            Endpoint::Unix(path) => Stream::Unix(UnixStream::connect(path).map_err(io_error)?),
            Endpoint::Tcp(address) => {
                let stream = TcpStream::connect(address).map_err(io_error)?;
                stream.set_nodelay(true).map_err(io_error)?;
                Stream::Tcp(stream)
            }
        };
        let mut config = ClientConfig::new().with_max_frame_len(MAX_FRAME_LEN);
        if let Some(token) = token {
            config = config.with_token(token);
        }
        let mut handshake = ClientHandshake::new(config);
        let mut encoder = FrameEncoder::default();
        let mut decoder = FrameDecoder::default();
        let mut writer_stream = stream.try_clone().map_err(io_error)?;
        let mut buffer = BytesMut::new();
        while let Some(frame) = handshake.poll_transmit() {
            encoder
                .encode(&frame, &mut buffer)
                .map_err(|e| ConnectError::Handshake(e.to_string()))?;
        }
        writer_stream.write_all(&buffer).map_err(io_error)?;
        let mut reader_stream = stream;
        reader_stream
            .set_read_timeout(Some(HANDSHAKE_TIMEOUT))
            .map_err(io_error)?;
        let mut input = BytesMut::with_capacity(4096);
        let mut scratch = vec![0; READ_CHUNK];
        let session = loop {
            match decoder.decode(&mut input) {
                Ok(Some(frame)) => {
                    break handshake
                        .handle_frame(frame)
                        .map_err(|e| ConnectError::Handshake(e.to_string()))?;
                }
                Ok(None) => {
                    let read = read_some(&mut reader_stream, &mut scratch, &mut input);
                    if read.map_err(io_error)? == 0 {
                        return Err(ConnectError::Handshake(
                            "the daemon closed the connection".into(),
                        ));
                    }
                }
                Err(error) => return Err(ConnectError::Handshake(error.to_string())),
            }
        };
        reader_stream.set_read_timeout(None).map_err(io_error)?;
        decoder.set_config(session.frame_config());
        encoder.set_config(session.frame_config());

        let shared = Arc::new(Shared::default());
        let reader = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("postbox-reader-{}", session.pid))
                .spawn(move || read_answers(reader_stream, decoder, input, &shared))
                .map_err(io_error)?
        };
        Ok(RemoteLink {
            pid: Pid::from_raw(session.pid),
            writer: Mutex::new(Writer {
                stream: writer_stream,
                encoder,
                buffer: BytesMut::new(),
            }),
            shared,
            next_id: AtomicU64::new(1),
            reader: Mutex::new(Some(reader)),
        })
    }

    fn write(&self, frame: &Frame) -> io::Result<()> {
        self.writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(frame)
    }

    fn cancel(&self, id: u64) {
        if let Some(id) = RequestId::new(id) {
            // If this fails the connection is gone, and the reader answers `Disconnected`.
            let _ = self.write(&Frame::cancel(id));
        }
    }
}

/// How much one read takes from the socket at most.
const READ_CHUNK: usize = 64 * 1024;

/// Reads what the socket has (up to `scratch`'s size) and appends it to `input`. The scratch
/// buffer is reused for every read, so a read costs a copy of what arrived, nothing more.
fn read_some(stream: &mut Stream, scratch: &mut [u8], input: &mut BytesMut) -> io::Result<usize> {
    let read = stream.read(scratch)?;
    input.extend_from_slice(&scratch[..read]);
    Ok(read)
}

/// Blocks until the socket has something to read (or has ended).
///
/// Why not just block in `read`: a thread asleep in `read` on a Unix stream is woken whenever the
/// daemon consumes what this client *wrote* (the kernel signals "room to write" on the same wait
/// queue), so a client that sends quickly would wake its reader once per request for nothing, and
/// the daemon would pay for every one of those wake-ups inside its own reads. `poll` for input
/// is woken only by input.
fn wait_readable(stream: &Stream) -> io::Result<()> {
    use rustix::event::{PollFd, PollFlags, poll};
    let fd = match stream {
        Stream::Unix(s) => PollFd::new(s, PollFlags::IN),
        Stream::Tcp(s) => PollFd::new(s, PollFlags::IN),
    };
    loop {
        match poll(&mut [fd.clone()], None) {
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(error) => return Err(error.into()),
        }
    }
}

/// The reader thread: answers waiting requests until the connection ends.
fn read_answers(
    mut stream: Stream,
    mut decoder: FrameDecoder,
    mut input: BytesMut,
    shared: &Shared,
) {
    let mut scratch = vec![0; READ_CHUNK];
    loop {
        match decoder.decode(&mut input) {
            Ok(Some(frame)) => {
                if !deliver(frame, shared) {
                    break;
                }
            }
            Ok(None) => {
                if wait_readable(&stream).is_err() {
                    break;
                }
                match read_some(&mut stream, &mut scratch, &mut input) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            Err(_) => break,
        }
    }
    stream.shutdown();
    shared.close();
}

/// Puts one frame's answer in its request's slot; `false` when the daemon is ending the
/// connection.
fn deliver(frame: Frame, shared: &Shared) -> bool {
    let id = frame.request_id().map(RequestId::get);
    match (frame.kind(), id) {
        (FrameKind::Response, Some(id)) => {
            if let Some(slot) = shared.pending().remove(&id) {
                slot.fill(decode_response(frame.payload()).map_err(|_| Failure::Protocol));
            }
            true
        }
        // An error about one request fails that request only: a daemon shutting down is a lost
        // transport (`Disconnected`); anything else (over the in-flight limit, say) a protocol
        // failure.
        (FrameKind::Error, Some(id)) => {
            let shutting_down = ErrorBody::decode(frame.payload())
                .is_ok_and(|body| body.code() == ErrorCode::SHUTTING_DOWN);
            if let Some(slot) = shared.pending().remove(&id) {
                slot.fill(Err(if shutting_down {
                    Failure::Disconnected
                } else {
                    Failure::Protocol
                }));
            }
            true
        }
        (FrameKind::Event, _) => true,
        _ => false,
    }
}

impl Link for RemoteLink {
    fn pid(&self) -> Pid {
        self.pid
    }

    fn call(&self, request: Request) -> Call {
        if self.shared.closed.load(Ordering::Acquire) {
            return Call::Now(Err(Failure::Disconnected));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let Some(request_id) = RequestId::new(id) else {
            return Call::Now(Err(Failure::Protocol));
        };
        let slot = Arc::new(Slot::default());
        self.shared.pending().insert(id, slot.clone());
        let written = self
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send_request(request_id, &request);
        if written.is_err() {
            self.shared.pending().remove(&id);
            return Call::Now(Err(Failure::Disconnected));
        }
        // The reader may have closed between the check and the insert: answer for it.
        if self.shared.closed.load(Ordering::Acquire) {
            self.shared.close();
        }
        Call::Pending(Pending { id, slot })
    }

    fn wait(&self, pending: &Pending, deadline: Option<Instant>) -> Answer {
        if let Some(answer) = pending.slot.wait(deadline) {
            return answer;
        }
        self.cancel(pending.id);
        pending
            .slot
            .wait(None)
            .unwrap_or(Err(Failure::Disconnected))
    }

    fn abandon(&self, pending: &Pending) {
        // The daemon still answers; the reader then finds the slot and drops the answer.
        self.cancel(pending.id);
    }

    fn terminate(&self) {
        // The end of the stream is the process's termination: the daemon terminates it before
        // anything else, then closes its side, which ends the reader. So once the reader has
        // ended, every other process sees the termination (`PeerGone`, `Gone`, down
        // notifications) — as in-process, where it is done when `drop` returns.
        let writer = || self.writer.lock().unwrap_or_else(|p| p.into_inner());
        writer().stream.shutdown_write();
        let reader = self.reader.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(reader) = reader {
            let deadline = Instant::now() + TERMINATE_TIMEOUT;
            while !reader.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_micros(100));
            }
            // A daemon that does not close its side in time is not waited for any longer.
            writer().stream.shutdown();
            // The reader ends as soon as it sees the shutdown; it never panics.
            let _ = reader.join();
        }
        self.shared.close();
    }
}

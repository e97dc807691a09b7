//! A process that is one connection to a daemon (`unix://`, `tcp://`).
//!
//! Requests are written as frames from the calling thread. Answers are read by whichever thread
//! waits for one ([`super::answers`]), or by a background reader once a future waits. Deadlines
//! are the client's: when one passes, the client sends a `Cancel` for the request and waits for
//! the daemon's final answer (the withdrawal's `Timeout`, or the real answer if it raced ahead),
//! so a timed-out send always knows whether its message was delivered. If the connection is
//! lost, every waiting request is answered `Disconnected` at once.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use postbox_core::Pid;
use postbox_wire::{
    ClientConfig, ClientHandshake, Frame, FrameDecoder, FrameEncoder, FrameKind, Request,
    RequestId, Token, encode_request_into,
};

use super::answers::{Answers, ReadHalf};
use super::stream::{Endpoint, Stream};
use crate::connect_error::ConnectError;
use crate::transport::{Answer, Call, Failure, Link, Pending, Slot};

/// The largest frame this client accepts: room for the largest message a daemon allows by
/// default (8 MiB) plus the request around it.
const MAX_FRAME_LEN: u32 = (8 << 20) + (64 << 10);

/// How long connecting and the handshake may take before `connect` gives up.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long terminating a process waits for the daemon to confirm it by closing the connection
/// (it does within a second, after flushing what it still had to send).
const TERMINATE_TIMEOUT: Duration = Duration::from_secs(2);

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
pub(crate) struct SocketLink {
    pid: Pid,
    writer: Mutex<Writer>,
    answers: Arc<Answers>,
    next_id: AtomicU64,
}

impl SocketLink {
    /// Connects and runs the handshake.
    pub(crate) fn connect(
        endpoint: Endpoint<'_>,
        token: Option<Token>,
    ) -> Result<SocketLink, ConnectError> {
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
        let mut scratch = vec![0; HANDSHAKE_CHUNK];
        let session = loop {
            match decoder.decode(&mut input) {
                Ok(Some(frame)) => {
                    break handshake
                        .handle_frame(frame)
                        .map_err(|e| ConnectError::Handshake(e.to_string()))?;
                }
                Ok(None) => {
                    let read = reader_stream.read(&mut scratch).map_err(io_error)?;
                    input.extend_from_slice(&scratch[..read]);
                    if read == 0 {
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

        Ok(SocketLink {
            pid: Pid::from_raw(session.pid),
            writer: Mutex::new(Writer {
                stream: writer_stream,
                encoder,
                buffer: BytesMut::new(),
            }),
            answers: Arc::new(Answers::new(ReadHalf::new(reader_stream, decoder, input))),
            next_id: AtomicU64::new(1),
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

/// How much one handshake read takes from the socket at most.
const HANDSHAKE_CHUNK: usize = 4096;

impl Link for SocketLink {
    fn pid(&self) -> Pid {
        self.pid
    }

    fn call(&self, request: Request) -> Call {
        if self.answers.is_closed() {
            return Call::Now(Err(Failure::Disconnected));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let Some(request_id) = RequestId::new(id) else {
            return Call::Now(Err(Failure::Protocol));
        };
        let slot = Arc::new(Slot::default());
        self.answers.register(id, slot.clone());
        let written = self
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send_request(request_id, &request);
        if written.is_err() {
            self.answers.forget(id);
            return Call::Now(Err(Failure::Disconnected));
        }
        // The reader may have closed between the check and the insert: answer for it.
        if self.answers.is_closed() {
            self.answers.close();
        }
        Call::Pending(Pending { id, slot })
    }

    fn wait(&self, pending: &Pending, deadline: Option<Instant>) -> Answer {
        if let Some(answer) = self.answers.wait(&pending.slot, deadline) {
            return answer;
        }
        self.cancel(pending.id);
        self.answers
            .wait(&pending.slot, None)
            .unwrap_or(Err(Failure::Disconnected))
    }

    fn abandon(&self, pending: &Pending) {
        // The daemon still answers; whoever reads then finds no slot and drops the answer.
        self.cancel(pending.id);
    }

    fn serve_wakers(&self) {
        self.answers.read_in_background(self.pid);
    }

    fn terminate(&self) {
        // The end of the stream is the process's termination: the daemon terminates it before
        // anything else, then closes its side, which ends the reading. So once reading has
        // ended, every other process sees the termination (`PeerGone`, `Gone`, down
        // notifications) — as in-process, where it is done when `drop` returns.
        let writer = || self.writer.lock().unwrap_or_else(|p| p.into_inner());
        writer().stream.shutdown_write();
        self.answers.finish(TERMINATE_TIMEOUT);
        // A daemon that does not close its side in time is not waited for any longer.
        writer().stream.shutdown();
        self.answers.join_background();
        self.answers.close();
    }
}

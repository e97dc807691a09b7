//! A process that is one connection to a daemon (`unix://`, `tcp://`, `tls://`): a thin driver of the
//! protocol's [`ClientSession`].
//!
//! Requests are encoded into the session from the calling thread; whichever thread finds nobody
//! writing becomes the [writer](super::writer) and writes everything queued, so pipelined
//! requests leave together. Answers are read by whichever thread waits for one
//! ([`super::answers`]), or by a background reader once a future waits. Deadlines are the
//! client's: when one passes, the session sends a `Cancel` for the request and the caller waits
//! for the daemon's final answer (the withdrawal's `Timeout`, or the real answer if it raced
//! ahead), so a timed-out send always knows whether its message was delivered. If the connection
//! is lost, every waiting request is answered `Disconnected` at once.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use postbox_core::{MailboxId, Pid};
use postbox_wire::{
    Capabilities, ClientConfig, ClientEvent, ClientSession, Ending, Request, RequestId, Token,
};

use super::Payloads;
use super::answers::{Answers, ReadHalf};
use super::payloads::RingDescriptors;
use super::ring_lender::SocketLender;
use super::session::{Sent, SharedSession, ToWrite};
use super::stream::{Endpoint, Stream};
use super::writer::Writer;
use super::{tls_client, tls_pump};
use crate::connect_error::ConnectError;
use crate::transport::shm::ShmLane;
use crate::transport::{Answer, Call, Failure, Flavor, Link, Pending, Slot};

/// The largest frame this client accepts: the daemon's own limit governs (it follows its largest
/// message size), up to 1 GiB and the request around it.
const MAX_FRAME_LEN: u32 = (1 << 30) + (64 << 10);

/// How long connecting and the handshake may take before `connect` gives up.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long terminating a process waits for the daemon to confirm it by closing the connection
/// (it does within a second, after flushing what it still had to send).
const TERMINATE_TIMEOUT: Duration = Duration::from_secs(2);

/// How much one handshake read takes from the socket at most.
const HANDSHAKE_CHUNK: usize = 4096;

/// A process that is one connection to a daemon.
#[derive(Debug)]
pub(crate) struct SocketLink {
    pid: Pid,
    /// The smallest payload sent attached, when the daemon granted attachments.
    attach_from: Option<usize>,
    /// Whether the daemon carries out idempotent sends (`ProducerSend`).
    idempotent_sends: bool,
    session: Arc<SharedSession>,
    writer: Arc<Writer>,
    answers: Arc<Answers>,
    /// Asks for rings, when the daemon lends them (`unix://` with shared memory on).
    lender: Option<Arc<SocketLender>>,
}

impl SocketLink {
    /// Connects and runs the handshake.
    pub(crate) fn connect(
        endpoint: Endpoint<'_>,
        token: Option<Token>,
    ) -> Result<SocketLink, ConnectError> {
        let io_error = |e: io::Error| ConnectError::Io(e.to_string());
        // For tls://: the options and the host, to explain a failure TLS reports only now.
        let mut tls = None;
        let mut payloads = Payloads::Inline;
        let stream = match endpoint {
            Endpoint::Unix(path, chosen) => {
                payloads = chosen;
                Stream::Unix(UnixStream::connect(path).map_err(io_error)?)
            }
            Endpoint::Tcp(address) => {
                let stream = TcpStream::connect(address).map_err(io_error)?;
                stream.set_nodelay(true).map_err(io_error)?;
                Stream::Tcp(stream)
            }
            Endpoint::Tls(address, options) => {
                let mut tcp = TcpStream::connect(address).map_err(io_error)?;
                tcp.set_nodelay(true).map_err(io_error)?;
                let host = host_of(address);
                let conn = tls_client::handshake(&mut tcp, host, options, HANDSHAKE_TIMEOUT)?;
                let (plain, failure) = tls_pump::start(tcp, conn).map_err(io_error)?;
                tls = Some((options, host));
                Stream::Tls(plain, failure)
            }
        };
        let mut config = ClientConfig::new().with_max_frame_len(MAX_FRAME_LEN);
        if let Some(token) = token {
            config = config.with_token(token);
        }
        let mut offered = Capabilities::IDEMPOTENT_SENDS;
        if let Payloads::Attached { .. } = payloads {
            offered = offered
                .union(Capabilities::ATTACHMENTS)
                .union(Capabilities::RINGS);
        }
        config = config.with_capabilities(offered);
        let mut session = ClientSession::new(config);
        if let Payloads::Attached { from } = payloads {
            session.set_attach_from(from);
        }
        let mut writer_stream = stream.try_clone().map_err(io_error)?;
        let control = stream.try_clone().map_err(io_error)?;
        let probe = match &stream {
            Stream::Unix(unix) => Some(unix.try_clone().map_err(io_error)?),
            _ => None,
        };
        let mut reader_stream = stream;
        reader_stream
            .set_read_timeout(Some(HANDSHAKE_TIMEOUT))
            .map_err(io_error)?;
        let mut input = BytesMut::with_capacity(HANDSHAKE_CHUNK);
        let mut scratch = vec![0; HANDSHAKE_CHUNK];
        // A daemon that refuses a connection at once (too many connections) writes its reason
        // and closes, and the `Hello` may then fail to go out: the reason is still there to read,
        // and says more than the failed write.
        let mut write_failed = None;
        let mut handshake = || -> Result<_, ConnectError> {
            loop {
                let hello = session.transmit().split();
                if write_failed.is_none() {
                    write_failed = writer_stream.write_all(&hello).err();
                }
                match session.poll_event() {
                    Some(ClientEvent::Connected(negotiated)) => return Ok(negotiated),
                    Some(ClientEvent::Ended(Ending::Handshake(error))) => {
                        return Err(ConnectError::Handshake(error.to_string()));
                    }
                    Some(ClientEvent::Ended(ending)) => {
                        return Err(ConnectError::Handshake(ending.to_string()));
                    }
                    Some(_) => continue,
                    None => {}
                }
                let read = reader_stream
                    .read(&mut scratch)
                    .map_err(|e| io_error(write_failed.take().unwrap_or(e)))?;
                if read == 0 {
                    session.handle_end();
                }
                input.extend_from_slice(&scratch[..read]);
                session.handle_input(&mut input);
            }
        };
        let negotiated = handshake().map_err(|error| {
            // TLS 1.3 reports a refused client certificate after the client's handshake: the
            // stream then just ends, and the pump knows why.
            match (reader_stream.tls_failure(), tls) {
                (Some(failure), Some((options, host))) => {
                    ConnectError::Tls(tls_client::describe_tls(
                        &failure,
                        options.name.as_deref().unwrap_or(host),
                        options,
                    ))
                }
                _ => error,
            }
        })?;
        reader_stream.set_read_timeout(None).map_err(io_error)?;

        let written = session.queued_total() - session.transmit().len() as u64;
        let attached = negotiated
            .capabilities
            .contains(Capabilities::ATTACHMENTS)
            .then_some(MAX_FRAME_LEN as usize);
        let session = Arc::new(SharedSession::new(session));
        let writer = Arc::new(Writer::new(writer_stream, control, written));
        let rings = Arc::new(RingDescriptors::default());
        let half = ReadHalf::new(reader_stream, attached, rings.clone());
        let answers = Arc::new(Answers::new(session.clone(), writer.clone(), half));
        let lends = attached.is_some() && negotiated.capabilities.contains(Capabilities::RINGS);
        let lender = probe.filter(|_| lends).map(|probe| {
            Arc::new(SocketLender::new(
                session.clone(),
                writer.clone(),
                answers.clone(),
                rings,
                probe,
            ))
        });
        let attach_from = match payloads {
            Payloads::Attached { from } if attached.is_some() => Some(from),
            _ => None,
        };
        let idempotent_sends = negotiated
            .capabilities
            .contains(Capabilities::IDEMPOTENT_SENDS);
        Ok(SocketLink {
            pid: Pid::from_raw(negotiated.pid),
            attach_from,
            idempotent_sends,
            session,
            writer,
            answers,
            lender,
        })
    }

    fn write(&self, output: Option<ToWrite>) {
        if let Some(output) = output {
            self.writer.write(&self.session, output);
        }
    }

    fn cancel(&self, id: u64) {
        if let Some(id) = RequestId::new(id) {
            self.write(self.session.cancel(id));
        }
    }
}

/// The host part of `HOST:PORT`, without the brackets of an IPv6 address.
fn host_of(address: &str) -> &str {
    let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

impl Link for SocketLink {
    fn pid(&self) -> Pid {
        self.pid
    }

    fn call(&self, request: Request) -> Call {
        let slot = Arc::new(Slot::default());
        match self.session.request(request, &slot) {
            Sent::Pending(id, output) => {
                self.write(output);
                Call::Pending(Pending { id: id.get(), slot })
            }
            Sent::Now(answer) => Call::Now(answer),
        }
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

    fn wait_until(&self, pending: &Pending, deadline: Option<Instant>) -> Option<Answer> {
        self.answers.wait(&pending.slot, deadline)
    }

    fn abandon(&self, pending: &Pending) {
        // The daemon still answers (the withdrawal's `Timeout`, or the real answer if it crossed
        // the `Cancel`): its slot stays registered until then, and the reader fills it — an
        // orphaned slot hands the answer to its handler (see `transport::returns`).
        self.cancel(pending.id);
    }

    fn attach_from(&self) -> Option<usize> {
        self.attach_from
    }

    fn mailbox_flavor(&self, mailbox: MailboxId) -> Flavor {
        match &self.lender {
            Some(lender) => {
                let attach_from = self.attach_from.unwrap_or(usize::MAX);
                Flavor::Shm(Arc::new(ShmLane::new(mailbox, lender.clone(), attach_from)))
            }
            None => Flavor::Engine,
        }
    }

    fn idempotent_sends(&self) -> bool {
        self.idempotent_sends
    }

    fn serve_wakers(&self) {
        self.answers.read_in_background(self.pid);
    }

    fn terminate(&self) {
        // `Close`, then the end of the stream, is the process's termination: the daemon
        // terminates it before anything else, then closes its side, which ends the reading. So
        // once reading has ended, every other process sees the termination (`PeerGone`, `Gone`,
        // down notifications) — as in-process, where it is done when `drop` returns.
        self.write(self.session.close());
        self.writer.shutdown_write();
        self.answers.finish(TERMINATE_TIMEOUT);
        // A daemon that does not close its side in time is not waited for any longer.
        self.writer.shutdown();
        self.answers.join_background();
        self.answers.close();
    }
}

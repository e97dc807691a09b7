//! The client side, speaking the protocol directly over blocking Unix sockets: no thread and no
//! runtime per connection, so ten thousand idle clients cost the benchmark one descriptor each.
//!
//! `postbox::connect` does the same handshake, but each connection starts a reader thread and
//! holds two descriptors (the stream and its clone for writing; `crates/postbox/src/remote.rs`):
//! measured, 1,000 connections cost the benchmark 1,000 threads and 27 MiB, and 10,000 would need
//! 20,000 descriptors. Here a connection is a socket plus its [`ClientSession`], the protocol's
//! sans-IO state machine (handshake, request ids, answers), which this file only feeds bytes; and
//! requests are pipelined where it helps (creating mailboxes).

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use postbox_core::{
    Branch, Delivery, EngineStats, MailboxAttrs, MailboxId, Message, Selector, Source, Wait,
};
use postbox_wire::{
    ClientConfig, ClientEvent, ClientSession, Request, RequestFailure, RequestId, Response, Target,
};

/// How long any read waits for the daemon before the benchmark declares it wedged.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// How many connections are opened before their `Welcome`s are read: the handshakes of a batch
/// overlap, and the daemon's accept backlog is never the bottleneck.
pub(crate) const CONNECT_BATCH: usize = 64;

/// How many requests a pipelined run keeps in flight. Their answers (a few dozen bytes each) fit
/// in the socket's buffer many times over, so neither side can block the other.
pub(crate) const PIPELINE_WINDOW: usize = 256;

/// The name of the `index`th benchmark mailbox.
pub(crate) fn mailbox_name(index: usize) -> String {
    format!("scale/{index:07}")
}

/// One connection that completed the handshake: a postbox process in the daemon.
#[derive(Debug)]
pub(crate) struct Conn {
    stream: UnixStream,
    /// The daemon's pid for it, once the handshake is done (0 before).
    pid: u64,
    session: ClientSession,
}

impl Conn {
    /// Connects to `socket` and completes the handshake.
    pub(crate) fn open(socket: &Path) -> Result<Conn> {
        let mut batch = open_batch(socket, 0, 1)?;
        batch.pop().context("no connection was opened")
    }

    /// Connects to `socket` and sends the `Hello`; [`Conn::handshake`] reads the answer.
    fn start(socket: &Path) -> Result<Conn> {
        let stream = UnixStream::connect(socket)
            .with_context(|| format!("connecting to {}", socket.display()))?;
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .context("setting a read timeout")?;
        let mut conn = Conn {
            stream,
            pid: 0,
            session: ClientSession::new(ClientConfig::new()),
        };
        conn.flush().context("sending the Hello")?;
        Ok(conn)
    }

    /// Waits for the daemon's answer to the `Hello`.
    fn handshake(&mut self) -> Result<()> {
        match self.next_event()? {
            ClientEvent::Connected(negotiated) => {
                self.pid = negotiated.pid;
                Ok(())
            }
            ClientEvent::Ended(ending) => Err(ending.into()),
            other => bail!("unexpected {other:?} during the handshake"),
        }
    }

    /// Sends `request` and waits for its answer. Only for connections with nothing else in
    /// flight.
    pub(crate) fn call(&mut self, request: &Request) -> Result<Response> {
        let id = self.send(request)?;
        self.flush()?;
        self.answer(id)
    }

    /// Queues `request` (written by [`Conn::flush`]) and returns its id.
    fn send(&mut self, request: &Request) -> Result<RequestId> {
        self.session
            .request(request, None)
            .with_context(|| format!("sending a request (process {})", self.pid))
    }

    /// Writes what the session has queued.
    fn flush(&mut self) -> Result<()> {
        let output = self.session.transmit();
        if !output.is_empty() {
            self.stream
                .write_all(output)
                .with_context(|| format!("writing to the daemon (process {})", self.pid))?;
            output.clear();
        }
        Ok(())
    }

    /// Reads the answer to request `id`, which must be the next answer on the connection.
    fn answer(&mut self, id: RequestId) -> Result<Response> {
        let (got, response) = self.next_answer()?;
        if got != id {
            bail!("expected the answer to request {id}, got one to request {got}");
        }
        Ok(response)
    }

    /// Reads the next answer: the request it answers, and its `Response`.
    fn next_answer(&mut self) -> Result<(RequestId, Response)> {
        match self.next_event()? {
            ClientEvent::Answer {
                id,
                result: Ok(response),
            } => Ok((id, response)),
            ClientEvent::Answer {
                id,
                result: Err(RequestFailure::Disconnected),
            } => bail!("request {id} got no answer: {}", self.ending()),
            ClientEvent::Answer {
                id,
                result: Err(failure),
            } => bail!("request {id} failed: {failure}"),
            ClientEvent::Ended(ending) => bail!("{ending}"),
            other => bail!("the daemon sent {other:?}, not an answer"),
        }
    }

    /// Why the connection ended, once the session has said it did (its remaining events are
    /// already queued).
    fn ending(&mut self) -> String {
        while let Some(event) = self.session.poll_event() {
            if let ClientEvent::Ended(ending) = event {
                return ending.to_string();
            }
        }
        "the connection ended".to_owned()
    }

    /// The session's next event, reading until there is one; fails after [`IO_TIMEOUT`] without a
    /// byte from the daemon.
    fn next_event(&mut self) -> Result<ClientEvent> {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(event) = self.session.poll_event() {
                return Ok(event);
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => self.session.handle_end(),
                Ok(read) => self.session.read_buffer().extend_from_slice(&chunk[..read]),
                Err(error)
                    if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    bail!(
                        "the daemon did not answer within {} s: it is wedged",
                        IO_TIMEOUT.as_secs()
                    )
                }
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => return Err(error).context("reading from the daemon"),
            }
        }
    }

    /// Creates the mailboxes `indices` ([`mailbox_name`]) with `attrs`, keeping up to
    /// [`PIPELINE_WINDOW`] creates in flight. Every one must be created anew.
    pub(crate) fn create_mailboxes(
        &mut self,
        indices: std::ops::Range<usize>,
        attrs: MailboxAttrs,
    ) -> Result<()> {
        // Each create in flight, by request id: the index of its mailbox.
        let mut in_flight = HashMap::with_capacity(PIPELINE_WINDOW);
        let mut next = indices.start;
        while next < indices.end || !in_flight.is_empty() {
            while next < indices.end && in_flight.len() < PIPELINE_WINDOW {
                let name = mailbox_name(next);
                in_flight.insert(self.send(&Request::Create { name, attrs })?, next);
                next += 1;
            }
            self.flush()?;
            // Refill once half the window is answered: one write per half window, not per create.
            let refill_at = if next < indices.end {
                PIPELINE_WINDOW / 2
            } else {
                0
            };
            while in_flight.len() > refill_at {
                let (id, response) = self.next_answer()?;
                let name = in_flight
                    .remove(&id)
                    .map(mailbox_name)
                    .with_context(|| format!("an answer to request {id}, which is no create"))?;
                match response {
                    Response::Opened { created: true, .. } => {}
                    Response::Opened { created: false, .. } => {
                        bail!("mailbox {name} already existed")
                    }
                    Response::OpenFailed(error) => {
                        bail!("creating mailbox {name} failed: {error:?}")
                    }
                    other => bail!("creating mailbox {name} was answered {other:?}"),
                }
            }
        }
        Ok(())
    }

    /// The daemon's engine-wide statistics.
    pub(crate) fn node_stats(&mut self) -> Result<EngineStats> {
        match self.call(&Request::NodeStats)? {
            Response::NodeStats(stats) => Ok(stats),
            other => bail!("NodeStats was answered {other:?}"),
        }
    }

    /// Creates mailbox `name`, sends `payload` to it and receives it back; the payload that came
    /// back.
    pub(crate) fn round_trip(&mut self, name: &str, payload: &[u8]) -> Result<Vec<u8>> {
        let create = Request::Create {
            name: name.to_owned(),
            attrs: MailboxAttrs::process_owned(),
        };
        let mailbox = match self.call(&create)? {
            Response::Opened { mailbox, .. } => mailbox,
            other => bail!("creating {name} was answered {other:?}"),
        };
        let send = Request::Send {
            target: Target::Mailbox(mailbox),
            message: Message::new(payload.to_vec()),
            delivery: Delivery::Queued,
            wait: Wait::Try,
        };
        match self.call(&send)? {
            Response::Sent { .. } => {}
            other => bail!("sending to {name} was answered {other:?}"),
        }
        let recv = Request::Recv {
            branches: vec![Branch::new(Source::Mailbox(mailbox), Selector::Any)],
            wait: Wait::Try,
        };
        match self.call(&recv)? {
            Response::Received { message, .. } => Ok(message.payload().to_vec()),
            other => bail!("receiving from {name} was answered {other:?}"),
        }
    }

    /// The number of messages queued in `mailbox` (which this process must have open or be
    /// allowed to see).
    pub(crate) fn queued(&mut self, mailbox: MailboxId) -> Result<usize> {
        match self.call(&Request::Stat { mailbox })? {
            Response::Stat(stats) => Ok(stats.messages),
            other => bail!("Stat was answered {other:?}"),
        }
    }

    /// Opens the existing mailbox `name`.
    pub(crate) fn open_mailbox(&mut self, name: &str) -> Result<MailboxId> {
        let open = Request::Open {
            name: name.to_owned(),
        };
        match self.call(&open)? {
            Response::Opened { mailbox, .. } => Ok(mailbox),
            other => bail!("opening {name} was answered {other:?}"),
        }
    }
}

/// Opens `count` connections to `socket`, [`CONNECT_BATCH`] handshakes at a time, and appends
/// them to `conns`.
pub(crate) fn open_many(socket: &Path, count: usize, conns: &mut Vec<Conn>) -> Result<()> {
    let mut left = count;
    while left > 0 {
        let batch = left.min(CONNECT_BATCH);
        conns.extend(open_batch(socket, conns.len(), batch)?);
        left -= batch;
    }
    Ok(())
}

/// Connects `count` sockets and sends each its `Hello`, then reads each one's `Welcome`. The
/// first is connection number `first` (counted from 0), for error messages.
fn open_batch(socket: &Path, first: usize, count: usize) -> Result<Vec<Conn>> {
    let pending = (first + 1..=first + count)
        .map(|n| Conn::start(socket).with_context(|| format!("connection {n}")))
        .collect::<Result<Vec<_>>>()?;
    (first + 1..)
        .zip(pending)
        .map(|(n, mut conn)| {
            conn.handshake()
                .with_context(|| format!("connection {n}: waiting for the Welcome"))?;
            Ok(conn)
        })
        .collect()
}

/// Asks every connection of `conns` for the engine's statistics, all requests written before
/// any answer is read: each connection must still answer. Returns the last answer.
pub(crate) fn ping_all(conns: &mut [Conn]) -> Result<Option<EngineStats>> {
    let mut ids = Vec::with_capacity(conns.len());
    for conn in conns.iter_mut() {
        let id = conn.send(&Request::NodeStats)?;
        conn.flush()?;
        ids.push(id);
    }
    let mut last = None;
    for (conn, id) in conns.iter_mut().zip(ids) {
        let pid = conn.pid;
        match conn
            .answer(id)
            .with_context(|| format!("idle client (process {pid}) did not answer"))?
        {
            Response::NodeStats(stats) => last = Some(stats),
            other => bail!("NodeStats on process {pid} was answered {other:?}"),
        }
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_names_are_valid_and_sort_in_creation_order() {
        assert_eq!(mailbox_name(42), "scale/0000042");
        assert!(mailbox_name(99_999) < mailbox_name(100_000));
        for index in [0, 99_999, 9_999_999] {
            assert!(postbox_core::Name::new(&mailbox_name(index)).is_ok());
        }
    }
}

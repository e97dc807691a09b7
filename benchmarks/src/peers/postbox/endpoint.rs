//! One role's end of a postbox run: a process, the mailbox it sends to, the one it receives from.
//!
//! Ping-pong uses the blocking single calls: a round trip is what it measures. The streaming
//! workloads use the batch API: in-process as blocking calls (there is no round trip to hide,
//! and the lane takes a batch under one lock); through a daemon the way a daemon client gets
//! throughput (a raw socket's `write`
//! also returns before the reader has the bytes, and ZeroMQ batches behind its sockets): a
//! producer sends [`BATCH`] messages per `send_batch_async`, keeping up to [`WINDOW`] batches in
//! flight; a consumer takes up to [`BATCH`] messages per `recv_many_async`, with [`WINDOW`] of
//! them waiting ahead of the messages. Competing consumers must not take messages (an end marker
//! meant for another consumer) they will never look at: through a daemon each is a
//! [`Consumer`] with a window of [`CONSUMER_WINDOW`] messages on lease, which gives back what it
//! did not hand out when it stops; in-process they receive one message at a time.
//! Every answer is still checked, and a producer waits for all of its sends to be answered
//! before it goes.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use postbox::{
    Bytes, Consumer, Mailbox, Message, Process, Received, RecvError, SendBatchError, SendError,
    Sent,
};

/// How many batches of sends, and how many receives of many, a streaming role keeps in flight.
pub(crate) const WINDOW: usize = 4;

/// How many messages a streaming role sends, or takes, per request (fewer when large: see
/// [`batch_len`]).
pub(crate) const BATCH: usize = 32;

/// How many messages a competing consumer takes ahead on lease: two requests of [`BATCH`].
const CONSUMER_WINDOW: usize = 2 * BATCH;

/// How many bytes of payload one batch of sends carries at most.
const BATCH_BYTES: usize = 256 << 10;

/// How many messages of `size` bytes a batch of sends carries.
fn batch_len(size: usize) -> usize {
    (BATCH_BYTES / size.max(1)).clamp(1, BATCH)
}

type InFlight<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Where a role sends.
pub(crate) enum SendTo {
    /// Nowhere (a consumer).
    Nothing,
    /// This mailbox.
    Open(Arc<Mailbox>),
    /// The mailbox of this name, opened on first send (the ponger's `bench.pong`, which the
    /// pinger creates after the ponger is open).
    Later(String),
}

/// How a role uses its mailboxes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    /// One blocking call at a time (ping-pong).
    Blocking,
    /// Batches of sends and receives of many kept in flight, [`WINDOW`] of each.
    Pipelined,
    /// Batches of sends in flight; a consumer with a window on lease (competing consumers).
    PipelinedConsumer,
    /// Blocking batches of sends and receives of many, one at a time.
    Batched,
    /// Blocking batches of sends, receives one at a time (competing consumers).
    BatchedSends,
}

/// A postbox role: the mailboxes are declared before the process, so they close first.
pub(crate) struct MailboxEnd {
    pub(crate) send_to: SendTo,
    pub(crate) recv_from: Option<Arc<Mailbox>>,
    /// Where a competing consumer receives from, instead, through a daemon.
    pub(crate) consumer: Option<Consumer>,
    pub(crate) flow: Flow,
    /// Messages kept back to be sent in the next batch.
    pub(crate) batch: Vec<Message>,
    pub(crate) sends: VecDeque<InFlight<Result<(), SendBatchError>>>,
    pub(crate) recvs: VecDeque<InFlight<Result<Vec<Received>, RecvError>>>,
    /// Messages received and not yet handed to the role.
    pub(crate) received: VecDeque<Received>,
    pub(crate) process: Process,
    /// Payloads handled in place (`postbox shm`): the producer writes its header into a loan
    /// made for overwriting, as a producer that writes its whole payload in place would ask for
    /// (a recycled slot is not zeroed first; the padding holds what the slot last held), and the
    /// consumer reads the header where the payload is mapped, instead of copying whole messages
    /// in and out of the harness's buffers.
    pub(crate) in_place: bool,
}

impl MailboxEnd {
    /// A role with nothing in flight yet.
    pub(crate) fn new(
        send_to: SendTo,
        recv_from: Option<Mailbox>,
        flow: Flow,
        process: Process,
    ) -> MailboxEnd {
        let (recv_from, consumer) = match (recv_from, flow) {
            (Some(mailbox), Flow::PipelinedConsumer) => {
                (None, Some(mailbox.into_consumer(CONSUMER_WINDOW)))
            }
            (recv_from, _) => (recv_from.map(Arc::new), None),
        };
        MailboxEnd {
            send_to,
            recv_from,
            consumer,
            flow,
            batch: Vec::with_capacity(BATCH),
            sends: VecDeque::new(),
            recvs: VecDeque::new(),
            received: VecDeque::new(),
            process,
            in_place: false,
        }
    }

    /// Handles payloads in place (see [`MailboxEnd::in_place`]).
    pub(crate) fn with_payloads_in_place(mut self, in_place: bool) -> MailboxEnd {
        self.in_place = in_place;
        self
    }

    fn target(&mut self) -> io::Result<Arc<Mailbox>> {
        if let SendTo::Later(name) = &self.send_to {
            let mailbox = self
                .process
                .mailbox(name)
                .open()
                .map_err(|e| io::Error::other(format!("cannot open mailbox {name}: {e}")))?;
            self.send_to = SendTo::Open(Arc::new(mailbox));
        }
        match &self.send_to {
            SendTo::Open(mailbox) => Ok(mailbox.clone()),
            _ => Err(io::Error::other("this end only receives")),
        }
    }

    fn source(&self) -> io::Result<Arc<Mailbox>> {
        self.recv_from
            .clone()
            .ok_or_else(|| io::Error::other("this end only sends"))
    }

    /// Waits for the oldest batch in flight and checks its answer.
    fn settle_oldest_send(&mut self) -> io::Result<()> {
        match self.sends.pop_front() {
            Some(send) => checked_batch(pollster::block_on(send)),
            None => Ok(()),
        }
    }

    /// Sends the messages kept back, as one batch (in flight, when pipelined).
    fn send_batch(&mut self) -> io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let mailbox = self.target()?;
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        if matches!(self.flow, Flow::Batched | Flow::BatchedSends) {
            return checked_batch(mailbox.send_batch(batch));
        }
        let mut send: InFlight<_> = Box::pin(async move { mailbox.send_batch_async(batch).await });
        if let Some(answer) = issue(&mut send) {
            return checked_batch(answer);
        }
        self.sends.push_back(send);
        if self.sends.len() > WINDOW {
            self.settle_oldest_send()?;
        }
        Ok(())
    }
}

/// Makes `future`'s request now (futures are lazy: the first poll sends it). `Some` if it was
/// answered at once.
fn issue<T>(future: &mut InFlight<T>) -> Option<T> {
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(answer) => Some(answer),
        Poll::Pending => None,
    }
}

fn checked_send(answer: Result<Sent, SendError>) -> io::Result<()> {
    answer
        .map(drop)
        .map_err(|e| io::Error::other(format!("send: {e}")))
}

fn checked_batch(answer: Result<(), SendBatchError>) -> io::Result<()> {
    answer.map_err(|e| io::Error::other(format!("send batch: {e}")))
}

fn checked_recv(
    answer: Result<Received, RecvError>,
    buf: &mut Vec<u8>,
    in_place: bool,
) -> io::Result<()> {
    let received = answer.map_err(|e| io::Error::other(format!("receive: {e}")))?;
    if received.is_down() {
        return Err(io::Error::other(
            "a down notification arrived instead of a message",
        ));
    }
    let payload = received.message.payload;
    if in_place && payload.len() >= crate::message::HEADER_LEN {
        // The header read where the payload is mapped; the buffer keeps the payload's length.
        buf.resize(payload.len(), 0);
        buf[..crate::message::HEADER_LEN].copy_from_slice(&payload[..crate::message::HEADER_LEN]);
        return Ok(());
    }
    // No copy when the payload's buffer is not shared.
    *buf = Vec::from(payload);
    Ok(())
}

impl crate::mechanism::Endpoint for MailboxEnd {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        let message = if self.in_place && message.len() >= crate::message::HEADER_LEN {
            let mut loan = self.process.loan_for_overwrite(message.len());
            let header = crate::message::HEADER_LEN;
            loan[..header].copy_from_slice(&message[..header]);
            Message::from(loan)
        } else {
            Message::new(Bytes::copy_from_slice(message))
        };
        if self.flow == Flow::Blocking {
            let mailbox = self.target()?;
            return checked_send(mailbox.send(message));
        }
        let full = batch_len(message.payload.len());
        self.batch.push(message);
        if self.batch.len() >= full {
            self.send_batch()?;
        }
        Ok(())
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        if let Some(consumer) = &mut self.consumer {
            return checked_recv(consumer.recv(), buf, self.in_place);
        }
        let mailbox = self.source()?;
        if let Some(message) = self.received.pop_front() {
            return checked_recv(Ok(message), buf, self.in_place);
        }
        match self.flow {
            Flow::Pipelined => {}
            Flow::Batched => {
                let messages = mailbox
                    .recv_many(BATCH)
                    .map_err(|e| io::Error::other(format!("receive many: {e}")))?;
                self.received.extend(messages);
                return match self.received.pop_front() {
                    Some(message) => checked_recv(Ok(message), buf, self.in_place),
                    None => Err(io::Error::other("a receive of many took nothing")),
                };
            }
            Flow::Blocking | Flow::PipelinedConsumer | Flow::BatchedSends => {
                return checked_recv(mailbox.recv(), buf, self.in_place);
            }
        }
        while self.recvs.len() < WINDOW {
            let mailbox = mailbox.clone();
            let mut recv: InFlight<_> =
                Box::pin(async move { mailbox.recv_many_async(BATCH).await });
            if let Some(answer) = issue(&mut recv) {
                recv = Box::pin(std::future::ready(answer));
            }
            self.recvs.push_back(recv);
        }
        let Some(recv) = self.recvs.pop_front() else {
            return Err(io::Error::other("no receive in flight"));
        };
        let messages =
            pollster::block_on(recv).map_err(|e| io::Error::other(format!("receive many: {e}")))?;
        self.received.extend(messages);
        match self.received.pop_front() {
            Some(message) => checked_recv(Ok(message), buf, self.in_place),
            None => Err(io::Error::other("a receive of many took nothing")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_batch()
    }

    fn stop_receiving(&mut self) -> io::Result<()> {
        match self.consumer.take() {
            Some(consumer) => consumer
                .stop()
                .map(drop)
                .map_err(|e| io::Error::other(format!("stop consuming: {e}"))),
            None => Ok(()),
        }
    }
}

impl Drop for MailboxEnd {
    fn drop(&mut self) {
        // A process that goes withdraws its waiting sends: send what was kept back, then wait
        // for every batch to be answered.
        if let Err(error) = self.send_batch() {
            eprintln!("postbox: the last batch failed: {error}");
        }
        while !self.sends.is_empty() {
            if let Err(error) = self.settle_oldest_send() {
                eprintln!("postbox: a send in flight failed: {error}");
            }
        }
    }
}

//! One role's end of a postbox run: a process, the mailbox it sends to, the one it receives from.
//!
//! Ping-pong, and every in-process workload, use the blocking calls: a round trip is what
//! ping-pong measures, and in-process there is no round trip to hide. Through a daemon, the
//! streaming workloads keep up to [`WINDOW`] operations in flight, the way a client of a daemon gets throughput (a
//! raw socket's `write` also returns before the reader has the bytes): each send is issued as an
//! async request and only its answer is awaited later; a consumer keeps receives waiting in the
//! mailbox ahead of the messages. Every answer is still checked, and a producer waits for all of
//! its sends to be answered before it goes.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use postbox::{Bytes, Mailbox, Message, Process, Received, RecvError, SendError, Sent};

/// How many sends, and how many receives, a streaming role keeps in flight.
pub(crate) const WINDOW: usize = 32;

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
    /// Sends and receives kept in flight, [`WINDOW`] of each.
    Pipelined,
    /// Sends in flight, receives one at a time: competing consumers must not take messages
    /// (an end marker meant for another consumer) they will never look at.
    PipelinedSends,
}

/// A postbox role: the mailboxes are declared before the process, so they close first.
pub(crate) struct MailboxEnd {
    pub(crate) send_to: SendTo,
    pub(crate) recv_from: Option<Arc<Mailbox>>,
    pub(crate) flow: Flow,
    pub(crate) sends: VecDeque<InFlight<Result<Sent, SendError>>>,
    pub(crate) recvs: VecDeque<InFlight<Result<Received, RecvError>>>,
    pub(crate) process: Process,
}

impl MailboxEnd {
    /// A role with nothing in flight yet.
    pub(crate) fn new(
        send_to: SendTo,
        recv_from: Option<Mailbox>,
        flow: Flow,
        process: Process,
    ) -> MailboxEnd {
        MailboxEnd {
            send_to,
            recv_from: recv_from.map(Arc::new),
            flow,
            sends: VecDeque::new(),
            recvs: VecDeque::new(),
            process,
        }
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

    /// Waits for the oldest send in flight and checks its answer.
    fn settle_oldest_send(&mut self) -> io::Result<()> {
        match self.sends.pop_front() {
            Some(send) => checked_send(pollster::block_on(send)),
            None => Ok(()),
        }
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

fn checked_recv(answer: Result<Received, RecvError>, buf: &mut Vec<u8>) -> io::Result<()> {
    let received = answer.map_err(|e| io::Error::other(format!("receive: {e}")))?;
    if received.is_down() {
        return Err(io::Error::other(
            "a down notification arrived instead of a message",
        ));
    }
    // No copy when the payload's buffer is not shared.
    *buf = Vec::from(received.message.payload);
    Ok(())
}

impl crate::mechanism::Endpoint for MailboxEnd {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        let mailbox = self.target()?;
        let message = Message::new(Bytes::copy_from_slice(message));
        if self.flow == Flow::Blocking {
            return checked_send(mailbox.send(message));
        }
        let mut send: InFlight<_> = Box::pin(async move { mailbox.send_async(message).await });
        if let Some(answer) = issue(&mut send) {
            return checked_send(answer);
        }
        self.sends.push_back(send);
        if self.sends.len() > WINDOW {
            self.settle_oldest_send()?;
        }
        Ok(())
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        let mailbox = self.source()?;
        if self.flow != Flow::Pipelined {
            return checked_recv(mailbox.recv(), buf);
        }
        while self.recvs.len() < WINDOW {
            let mailbox = mailbox.clone();
            let mut recv: InFlight<_> = Box::pin(async move { mailbox.recv_async().await });
            if let Some(answer) = issue(&mut recv) {
                recv = Box::pin(std::future::ready(answer));
            }
            self.recvs.push_back(recv);
        }
        match self.recvs.pop_front() {
            Some(recv) => checked_recv(pollster::block_on(recv), buf),
            None => Err(io::Error::other("no receive in flight")),
        }
    }
}

impl Drop for MailboxEnd {
    fn drop(&mut self) {
        // A process that goes withdraws its waiting sends: wait for every one to be answered.
        while !self.sends.is_empty() {
            if let Err(error) = self.settle_oldest_send() {
                eprintln!("postbox: a send in flight failed: {error}");
            }
        }
    }
}

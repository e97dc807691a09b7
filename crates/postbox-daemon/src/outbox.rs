//! One connection's incoming answers from elsewhere: the completions other connections' requests
//! caused, routed by the hub while its lock is held, for the connection's task to give to its
//! session.
//!
//! Pushing never waits (it happens under the hub's lock). What other connections can push is
//! bounded by the connection's in-flight limit: one answer per request in flight. Answers travel
//! boxed: the channel allocates its slots in blocks of 32 up front, and an idle connection should
//! not hold 32 responses' worth of memory.

use postbox_wire::{ErrorCode, RequestId, Response};
use tokio::sync::mpsc;

/// What a request gets through the outbox.
#[derive(Debug)]
pub(crate) enum Reply {
    /// Its answer.
    Answer(Box<Response>),
    /// An `Error` instead: the daemon could not carry it out (its store failed).
    Fail(ErrorCode, String),
}

/// The sending side of a connection's answer queue; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Outbox(mpsc::UnboundedSender<(RequestId, Reply)>);

/// The receiving side, for the connection's task.
#[derive(Debug)]
pub(crate) struct OutboxReceiver(mpsc::UnboundedReceiver<(RequestId, Reply)>);

/// A new, empty outbox and its receiver.
pub(crate) fn outbox() -> (Outbox, OutboxReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Outbox(tx), OutboxReceiver(rx))
}

impl Outbox {
    /// Queues the answer to request `id`. Dropped if the connection is gone.
    pub(crate) fn answer(&self, id: RequestId, response: Response) {
        let _ = self.0.send((id, Reply::Answer(Box::new(response))));
    }

    /// Queues an `Error` for request `id`. Dropped if the connection is gone.
    pub(crate) fn fail(&self, id: RequestId, code: ErrorCode, message: String) {
        let _ = self.0.send((id, Reply::Fail(code, message)));
    }
}

impl OutboxReceiver {
    /// The next answer, waiting for one; `None` once every sender is gone.
    pub(crate) async fn next(&mut self) -> Option<(RequestId, Reply)> {
        self.0.recv().await
    }

    /// The next answer if one is queued.
    #[cfg(test)]
    pub(crate) fn try_next(&mut self) -> Option<(RequestId, Reply)> {
        self.0.try_recv().ok()
    }
}

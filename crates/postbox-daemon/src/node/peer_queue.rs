//! What the event handler sends a peer: queued for the peer's task without a task of its own in
//! between, and taken by that task in its next turn.
//!
//! A forwarding node sends every request, answer and notice through here. Sent from another
//! task (a client's connection), a message wakes the peer's task once for all that is queued
//! before it runs; sent from the peer's own task (the handler answering what it just read), it
//! goes out in the same turn, in the same TLS record as the acknowledgement of what was read.
//! Before this queue, each message passed a queue to a task of the router's and a command to
//! the peer's task: two hand-overs between tasks, which cost more than the rest of a message's
//! way through a busy node.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use postbox_core::Pid;
use tokio::sync::Notify;

use super::NodeSendError;

/// What the handler knows a queued request by: the process that made it and its request id.
/// A message that carries one and cannot be sent is reported back to the handler under it
/// ([`NodeEventHandler::unsent`](super::NodeEventHandler::unsent)).
pub(crate) type SendTag = (Pid, u64);

/// A message queued for a peer, with the tag of the request it carries, if any.
#[derive(Debug)]
pub(crate) struct Queued {
    pub(crate) message: Bytes,
    pub(crate) tag: Option<SendTag>,
}

/// The messages queued for one peer's task, in order.
///
/// Unbounded, as the queue it replaces: what waits here is what the peer's association has not
/// taken yet, and that is bounded by its resend buffer and the peer's pace.
#[derive(Debug, Default)]
pub(crate) struct PeerQueue {
    state: Mutex<State>,
    /// Woken when a message arrives in an empty queue.
    ready: Notify,
}

#[derive(Debug, Default)]
struct State {
    messages: VecDeque<Queued>,
    /// The peer's task has ended: nothing queued now would be taken.
    closed: bool,
}

impl PeerQueue {
    /// Queues `message` (carrying request `tag`, if any) after everything queued before it.
    ///
    /// # Errors
    ///
    /// [`NodeSendError::Stopped`], the message handed back, once the peer's task has ended
    /// (the node links are shutting down).
    pub(crate) fn push(&self, message: Bytes, tag: Option<SendTag>) -> Result<(), NodeSendError> {
        let mut state = self.lock();
        if state.closed {
            return Err(NodeSendError::Stopped { message });
        }
        let was_empty = state.messages.is_empty();
        state.messages.push_back(Queued { message, tag });
        drop(state);
        if was_empty {
            self.ready.notify_one();
        }
        Ok(())
    }

    /// Moves everything queued to the end of `into`, in order.
    pub(crate) fn take_all(&self, into: &mut VecDeque<Queued>) {
        into.append(&mut self.lock().messages);
    }

    /// Waits until a message may have arrived (since the last wait; spuriously at times).
    pub(crate) async fn ready(&self) {
        self.ready.notified().await;
    }

    /// Refuses every later message, and hands back those still queued.
    pub(crate) fn close(&self) -> VecDeque<Queued> {
        let mut state = self.lock();
        state.closed = true;
        std::mem::take(&mut state.messages)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_are_taken_in_order_and_a_push_into_an_empty_queue_wakes_the_taker() {
        let queue = PeerQueue::default();
        queue.push(Bytes::from_static(b"one"), None).unwrap();
        queue
            .push(Bytes::from_static(b"two"), Some((Pid::from_raw(7), 3)))
            .unwrap();
        // The first push stored a wake-up: this returns at once.
        queue.ready().await;
        let mut taken = VecDeque::new();
        queue.take_all(&mut taken);
        let messages: Vec<&[u8]> = taken.iter().map(|q| &q.message[..]).collect();
        assert_eq!(messages, [&b"one"[..], &b"two"[..]]);
        assert_eq!(taken[1].tag, Some((Pid::from_raw(7), 3)));
        queue.take_all(&mut taken);
        assert_eq!(taken.len(), 2, "nothing more was queued");
    }

    #[test]
    fn a_closed_queue_hands_back_what_it_held_and_refuses_more() {
        let queue = PeerQueue::default();
        queue.push(Bytes::from_static(b"held"), None).unwrap();
        let held = queue.close();
        assert_eq!(held.len(), 1);
        assert_eq!(&held[0].message[..], b"held");
        match queue.push(Bytes::from_static(b"late"), None) {
            Err(NodeSendError::Stopped { message }) => assert_eq!(&message[..], b"late"),
            other => panic!("expected Stopped, got {other:?}"),
        }
    }
}

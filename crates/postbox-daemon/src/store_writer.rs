//! Group commit: one thread owns the store and makes each engine journal durable before the
//! answers that depend on it are released.
//!
//! The hub hands over, under its lock and so in engine order, the changes one call made and the
//! answers that call produced ([`StoreWriter::submit`]). The thread takes every batch waiting,
//! commits them all in one transaction (one fsync), then posts their answers to the connections'
//! outboxes: concurrent senders share a commit, so throughput grows with concurrency. When the
//! commit fails, every answer of those batches becomes an `Error INTERNAL` that says why, and
//! the failure is logged: a send that was not answered is indeterminate, never silently lost.
//!
//! The store file is created with the first durable change, so a daemon that never has a
//! durable mailbox never writes one.

use std::path::PathBuf;
use std::sync::mpsc;

use postbox_core::Change;
use postbox_wire::{ErrorCode, RequestId, Response};

use crate::outbox::Outbox;
use crate::store::Store;

/// An answer held back until the changes before it are durable.
#[derive(Debug)]
pub(crate) struct Held {
    pub(crate) outbox: Outbox,
    pub(crate) id: RequestId,
    pub(crate) response: Response,
}

#[derive(Debug)]
struct Batch {
    changes: Vec<Change>,
    answers: Vec<Held>,
}

/// The handle the hub submits through.
#[derive(Debug)]
pub(crate) struct StoreWriter {
    batches: mpsc::Sender<Batch>,
}

impl StoreWriter {
    /// Starts the writer thread for the store in `dir` (`store`, when it is open already).
    ///
    /// # Errors
    ///
    /// When the thread cannot be started.
    pub(crate) fn start(dir: PathBuf, store: Option<Store>) -> std::io::Result<StoreWriter> {
        let (batches, received) = mpsc::channel();
        std::thread::Builder::new()
            .name("postbox-store".into())
            .spawn(move || run(&dir, store, &received))?;
        Ok(StoreWriter { batches })
    }

    /// Queues `changes` for the next commit, and `answers` to be posted once it is done.
    pub(crate) fn submit(&self, changes: Vec<Change>, answers: Vec<Held>) {
        if let Err(mpsc::SendError(batch)) = self.batches.send(Batch { changes, answers }) {
            // The writer is gone (it only ends with the daemon): nothing was made durable.
            fail_all(batch.answers, "the daemon's store writer has stopped");
        }
    }
}

fn run(dir: &std::path::Path, mut store: Option<Store>, received: &mpsc::Receiver<Batch>) {
    while let Ok(first) = received.recv() {
        let mut batches = vec![first];
        batches.extend(received.try_iter());
        let changes: Vec<Change> = batches
            .iter_mut()
            .flat_map(|batch| std::mem::take(&mut batch.changes))
            .collect();
        let answers = batches.into_iter().flat_map(|batch| batch.answers);
        let committed = match &store {
            Some(store) => store.commit(&changes),
            None => Store::open(dir).and_then(|opened| {
                tracing::info!(store = %opened.path().display(), "created the store of durable mailboxes");
                let result = opened.commit(&changes);
                store = Some(opened);
                result
            }),
        };
        match committed {
            Ok(()) => {
                for held in answers {
                    held.outbox.answer(held.id, held.response);
                }
            }
            Err(error) => {
                tracing::error!(
                    %error,
                    changes = changes.len(),
                    "a commit to the store failed: the requests waiting for it are answered with an error"
                );
                fail_all(
                    answers,
                    &format!("the daemon could not write to its store: {error}"),
                );
            }
        }
    }
}

fn fail_all(answers: impl IntoIterator<Item = Held>, why: &str) {
    for held in answers {
        held.outbox
            .fail(held.id, ErrorCode::INTERNAL, why.to_owned());
    }
}

//! Group commit: one thread owns the store and makes each engine journal durable before the
//! answers that depend on it are released.
//!
//! The hub hands over, under its lock and so in engine order, the changes one call made and the
//! answers that call produced ([`StoreWriter::submit`]). The thread takes every batch waiting,
//! commits them all at once (one record in the store's log, one fsync), then posts their answers
//! to the connections' outboxes: concurrent senders share a commit, so throughput grows with
//! concurrency. When the commit fails, every answer of those batches becomes an `Error INTERNAL`
//! that says why, and the failure is logged: a send that was not answered is indeterminate,
//! never silently lost. The changes are applied to the store's tables later (they are durable in
//! the log already): once [`crate::logged_store::APPLY_RECORDS`] records or
//! [`crate::logged_store::APPLY_BYTES`] wait, when no request has come for [`APPLY_WHEN_IDLE`],
//! and before a read — never between a commit and its answers' connections taking them, since
//! this thread applying would hold the CPU the answer is to go out from. When one is due the log
//! is checkpointed; once more when the daemon stops.
//!
//! The store file is created with the first durable change, so a daemon that never has a
//! durable mailbox never writes one.
//!
//! The thread also reads for page-ins ([`StoreWriter::read`]), in turn with the commits: a read
//! waits for every batch submitted before it, so it sees every message sent since the start.

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use postbox_core::{Change, PageIn, StoredMessage};
use postbox_wire::{ErrorCode, RequestId, Response};

use crate::logged_store::LoggedStore;
use crate::outbox::Outbox;

/// How long the thread waits for the next request before it applies what waits for the tables.
const APPLY_WHEN_IDLE: Duration = Duration::from_millis(1);

/// How long the thread looks for the next request before it sleeps, when requests have been
/// coming that soon.
const SPIN: Duration = Duration::from_micros(150);

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

/// What the messages read for a page-in, or why they could not be.
type Read = Result<Vec<(u64, StoredMessage)>, String>;

/// What the thread is asked to do, in the order asked.
#[derive(Debug)]
enum Job {
    /// Commit these changes, then post these answers.
    Commit(Batch),
    /// Read what a page-in asks for, once every change submitted before it is in the tables.
    Read(PageIn, mpsc::SyncSender<Read>),
}

/// The handle the hub submits through. Dropping it lets the thread finish what was submitted
/// and checkpoint, and waits for it.
#[derive(Debug)]
pub(crate) struct StoreWriter {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl StoreWriter {
    /// Starts the writer thread for the store in `dir` (`store`, when it is open already).
    ///
    /// # Errors
    ///
    /// When the thread cannot be started.
    pub(crate) fn start(dir: PathBuf, store: Option<LoggedStore>) -> std::io::Result<StoreWriter> {
        let (jobs, received) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("postbox-store".into())
            .spawn(move || run(&dir, store, &received))?;
        Ok(StoreWriter {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Queues `changes` for the next commit, and `answers` to be posted once it is done.
    pub(crate) fn submit(&self, changes: Vec<Change>, answers: Vec<Held>) {
        let batch = Job::Commit(Batch { changes, answers });
        let refused = match &self.jobs {
            Some(jobs) => jobs.send(batch).map_err(|mpsc::SendError(job)| job),
            None => Err(batch),
        };
        if let Err(Job::Commit(batch)) = refused {
            // The writer is gone (it only ends with the daemon): nothing was made durable.
            fail_all(batch.answers, "the daemon's store writer has stopped");
        }
    }

    /// Reads what `page` asks for, after every change submitted before (so a message sent
    /// since the start is read too), and waits for it: a page-in is one read of the store per
    /// half a resident budget of messages received, and the engine cannot answer the
    /// operation that needs it before.
    ///
    /// # Errors
    ///
    /// When the store cannot be read (the error says why), or the writer has stopped.
    pub(crate) fn read(&self, page: PageIn) -> Read {
        let (reply, answer) = mpsc::sync_channel(1);
        let stopped = || "the daemon's store writer has stopped".to_owned();
        self.jobs
            .as_ref()
            .ok_or_else(stopped)?
            .send(Job::Read(page, reply))
            .map_err(|_| stopped())?;
        answer.recv().map_err(|_| stopped())?
    }
}

impl Drop for StoreWriter {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!(
                "the store writer panicked; the store's log is replayed at the next start"
            );
        }
    }
}

fn run(dir: &std::path::Path, mut store: Option<LoggedStore>, received: &mpsc::Receiver<Job>) {
    let mut waiting = std::collections::VecDeque::new();
    // When the last commit's answers were posted, and whether the request after it came within
    // [`SPIN`] of that: a producer waiting for each answer, worth looking out for.
    let mut answered_at: Option<Instant> = None;
    let mut prompt = false;
    loop {
        if waiting.is_empty() {
            match next_job(received, store.as_mut(), prompt) {
                Next::Job(job) => waiting.push_back(job),
                Next::Applied => {
                    prompt = false;
                    continue;
                }
                Next::Stopped => break,
            }
            prompt = answered_at.is_some_and(|at| at.elapsed() < SPIN);
        }
        waiting.extend(received.try_iter());
        // The batches up to the first read are committed at once; the read comes after them.
        let mut batches = Vec::new();
        while matches!(waiting.front(), Some(Job::Commit(_))) {
            if let Some(Job::Commit(batch)) = waiting.pop_front() {
                batches.push(batch);
            }
        }
        if batches.is_empty() {
            if let Some(Job::Read(page, reply)) = waiting.pop_front() {
                let read = match store.as_mut() {
                    Some(store) => store.read_messages(page).map_err(|e| e.to_string()),
                    None => Ok(Vec::new()),
                };
                // The reader may have given up; nothing else waits for this.
                let _ = reply.send(read);
            }
            continue;
        }
        let changes: Vec<Change> = batches
            .iter_mut()
            .flat_map(|batch| std::mem::take(&mut batch.changes))
            .collect();
        let answers = batches.into_iter().flat_map(|batch| batch.answers);
        let count = changes.len();
        let committed = match &mut store {
            Some(store) => store.log(changes),
            None => LoggedStore::open(dir).and_then(|mut opened| {
                tracing::info!(store = %opened.path().display(), "created the store of durable mailboxes");
                let result = opened.log(changes);
                store = Some(opened);
                result
            }),
        };
        match committed {
            Ok(()) => {
                for held in answers {
                    held.outbox.answer(held.id, held.response);
                }
                answered_at = Some(Instant::now());
            }
            Err(error) => {
                tracing::error!(
                    %error,
                    changes = count,
                    "a commit to the store failed: the requests waiting for it are answered with an error"
                );
                fail_all(
                    answers,
                    &format!("the daemon could not write to its store: {error}"),
                );
            }
        }
        if let Some(store) = store.as_mut()
            && (store.wants_apply() || store.wants_checkpoint())
        {
            // The answers just posted woke their connections' tasks, maybe onto this CPU:
            // they go first.
            std::thread::yield_now();
            apply(store);
        }
    }
    // Stopping: the log's records go into the store, so that the next start replays nothing.
    if let Some(store) = store.as_mut().filter(|store| store.has_unchecked_records()) {
        checkpoint(store);
    }
}

/// What the thread does next.
enum Next {
    /// Carry out this job.
    Job(Job),
    /// Nothing came for [`APPLY_WHEN_IDLE`], and what waited for the tables was applied.
    Applied,
    /// The daemon is stopping: every handle is gone.
    Stopped,
}

/// Waits for the next job. When `prompt` (the last request came soon after the commit before),
/// it first looks for one for up to [`SPIN`], yielding the CPU meanwhile: a producer that waits
/// for each answer sends its next request about a socket round trip after the answer, and a
/// thread that went to sleep meanwhile takes a wake-up longer to start the next commit. When
/// requests come further apart it sleeps at once, so an idle daemon spins no more than once.
fn next_job(received: &mpsc::Receiver<Job>, store: Option<&mut LoggedStore>, prompt: bool) -> Next {
    let start = Instant::now();
    while prompt && start.elapsed() < SPIN {
        match received.try_recv() {
            Ok(job) => return Next::Job(job),
            Err(mpsc::TryRecvError::Disconnected) => return Next::Stopped,
            Err(mpsc::TryRecvError::Empty) => std::thread::yield_now(),
        }
    }
    let Some(store) = store.filter(|store| store.has_unapplied()) else {
        return received.recv().map_or(Next::Stopped, Next::Job);
    };
    match received.recv_timeout(APPLY_WHEN_IDLE) {
        Ok(job) => Next::Job(job),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            apply(store);
            Next::Applied
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Next::Stopped,
    }
}

/// Applies what waits for the tables, and checkpoints when one is due.
fn apply(store: &mut LoggedStore) {
    store.apply_logged();
    if store.wants_checkpoint() {
        checkpoint(store);
    }
}

fn checkpoint(store: &mut LoggedStore) {
    if let Err(error) = store.checkpoint() {
        // Nothing is lost: the log keeps its records until a checkpoint succeeds.
        tracing::error!(%error, "a checkpoint of the store failed; it is tried again at the next commit");
    }
}

fn fail_all(answers: impl IntoIterator<Item = Held>, why: &str) {
    for held in answers {
        held.outbox
            .fail(held.id, ErrorCode::INTERNAL, why.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::atomic::Ordering::SeqCst;

    use postbox_wire::{RequestId, Response};

    use super::*;
    use crate::outbox::{Reply, outbox};
    use crate::store::Store;
    use crate::store_testing::{Faulty, contents, record, stored};

    /// A store and its log on disks in memory.
    fn logged(store: &Faulty, log: &Faulty) -> LoggedStore {
        let disk = store.clone();
        let reopen = Box::new(move || Store::with_backend(disk.clone(), Path::new("memory.redb")));
        let opened = Store::with_backend(store.clone(), Path::new("memory.redb")).unwrap();
        LoggedStore::with(
            opened,
            Box::new(log.clone()),
            Path::new("memory.log"),
            64 << 10,
            reopen,
        )
        .unwrap()
    }

    /// What `probe` gives once it gives something, checked every millisecond for 10 s at most.
    fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(found) = probe() {
                return found;
            }
            assert!(Instant::now() < deadline, "{what}: not within 10 s");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_commit_is_answered_after_the_log_syncs_and_reaches_the_tables_once_requests_stop() {
        let (store_disk, log_disk) = (Faulty::default(), Faulty::default());
        let writer =
            StoreWriter::start("unused".into(), Some(logged(&store_disk, &log_disk))).unwrap();
        let (log_syncs, store_writes) =
            (log_disk.syncs.load(SeqCst), store_disk.writes.load(SeqCst));
        let (answers_to, mut answers) = outbox();
        let held = Held {
            outbox: answers_to,
            id: RequestId::new(7).unwrap(),
            response: Response::Sent { receiver: None },
        };
        writer.submit(vec![record(1), stored(1, 0, "a")], vec![held]);

        let (id, reply) = eventually("the answer", || answers.try_next());
        assert_eq!(id.get(), 7);
        assert!(matches!(reply, Reply::Answer(_)), "{reply:?}");
        assert_eq!(
            log_disk.syncs.load(SeqCst),
            log_syncs + 1,
            "one sync of the log"
        );

        // No further request comes: the writer applies what waits to the tables by itself.
        eventually("the tables written", || {
            (store_disk.writes.load(SeqCst) > store_writes).then_some(())
        });
        drop(writer);
        let tables = Store::with_backend(store_disk.clone(), Path::new("memory.redb")).unwrap();
        assert_eq!(contents(&tables), [(1, vec![(0, "a".to_owned())], 1)]);
    }
}

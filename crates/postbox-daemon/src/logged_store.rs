//! Durable commits: a write-ahead log in front of the store.
//!
//! A commit appends the journal's changes, postcard-encoded as they are, as one record to the
//! log (`store_log.rs`) and syncs it: from then on they are on stable storage, and the requests
//! that made them may be answered. They are applied to the store's tables later, after the
//! answers are out, in a transaction that is not synced and takes the changes of up to
//! [`APPLY_RECORDS`] records at once: a transaction copies the same B-tree pages whatever it holds,
//! so a lone producer's sends share one instead of each paying for its own. Every [`CHECKPOINT_RECORDS`] records, when the log is half full, and when
//! the daemon stops, a *checkpoint* makes the tables durable (one synced store transaction),
//! after which the log's records are redundant and it starts over. The log's size is fixed.
//!
//! Opening replays: the store is opened (which takes it back to its last durable transaction),
//! every whole record numbered after the last one the tables include (`meta.log_seq`, written by
//! every synced transaction: the checkpoints) is applied in order, and a checkpoint follows. So a
//! crash at any point loses no record that was synced, and applies none twice.
//!
//! A storage fault puts the pair in question: which of the writes before it reached the disk is
//! unknown, and the store refuses further writes until it is opened again. So after any fault
//! the next commit first does what opening does (close, open, replay, checkpoint); until that
//! succeeds every commit fails, saying why. A record that was synced before the store failed to
//! apply it still counts: its commit is answered `Ok`, and the replay applies it.

use std::path::{Path, PathBuf};

use postbox_core::{Change, PageIn, ResidentBudget, StoredMessage};
use redb::Durability;

use crate::store::{Store, StoreError, StoredMailbox};
use crate::store_log::{CAPACITY, LOG_FILE, StoreLog};

/// Records between checkpoints, at most. Until a checkpoint, the store cannot reuse the pages
/// the records' transactions freed, so its file grows with each; a checkpoint costs about two
/// syncs of the store.
pub(crate) const CHECKPOINT_RECORDS: u64 = 1024;

/// Records whose changes wait in memory for the tables, at most.
pub(crate) const APPLY_RECORDS: u64 = 64;

/// Encoded bytes of records whose changes wait in memory for the tables, at most: their
/// payloads stay in memory until applied, even once the messages are received.
pub(crate) const APPLY_BYTES: u64 = 4 << 20;

/// Opens the store again after a fault.
type Reopen = Box<dyn FnMut() -> Result<Store, StoreError> + Send>;

/// The store and its log.
pub(crate) struct LoggedStore {
    /// `None` between a fault and the next successful recovery.
    store: Option<Store>,
    log: StoreLog,
    reopen: Reopen,
    /// The store's file, for messages.
    path: PathBuf,
    /// The number of the last record appended.
    last_seq: u64,
    /// Records appended since the last checkpoint.
    since_checkpoint: u64,
    /// False after a fault: the next commit recovers first.
    healthy: bool,
    /// The changes of the records not yet applied to the tables, in order.
    unapplied: Vec<Change>,
    /// How many records `unapplied` holds, and their encoded bytes.
    unapplied_records: u64,
    unapplied_bytes: u64,
}

impl std::fmt::Debug for LoggedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoggedStore")
            .field("path", &self.path)
            .field("log", &self.log)
            .field("last_seq", &self.last_seq)
            .field("healthy", &self.healthy)
            .finish_non_exhaustive()
    }
}

impl LoggedStore {
    /// Opens the store and its log in `dir`, creating the directory (mode 0700) and the files
    /// when missing, and replays the log.
    ///
    /// # Errors
    ///
    /// As [`Store::open`]; [`StoreError::Open`] when the log cannot be opened or is held by
    /// another daemon; [`StoreError::Corrupt`] when there is a log but no store, a store that has
    /// had a log but no log, or the log is damaged; [`StoreError::Io`] when replaying fails.
    pub(crate) fn open(dir: &Path) -> Result<LoggedStore, StoreError> {
        let log_path = dir.join(LOG_FILE);
        let store_existed = Store::exists(dir);
        if !store_existed && log_path.exists() {
            return Err(StoreError::Corrupt {
                path: log_path,
                why: "it has no store beside it: the store file was moved or removed".to_owned(),
            });
        }
        let store = Store::open(dir)?;
        if store_existed && !log_path.exists() && store.log_seq()? > 0 {
            // Records after the last checkpoint may have been in it.
            return Err(StoreError::Corrupt {
                path: log_path,
                why: "it is missing, though the store beside it has had one".to_owned(),
            });
        }
        let log_error = |why: String| StoreError::Open {
            path: log_path.clone(),
            why,
        };
        let file = {
            use std::os::unix::fs::OpenOptionsExt as _;
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&log_path)
                .map_err(|e| log_error(e.to_string()))?
        };
        let log_existed = file.metadata().map_err(|e| log_error(e.to_string()))?.len() > 0;
        let backend =
            redb::backends::FileBackend::new(file).map_err(|e| log_error(e.to_string()))?;
        let dir_owned = dir.to_owned();
        let reopen: Reopen = Box::new(move || Store::open(&dir_owned));
        let logged = LoggedStore::with(store, Box::new(backend), &log_path, CAPACITY, reopen)?;
        if !(store_existed && log_existed) {
            // The new files' names are durable only once their directory is synced.
            std::fs::File::open(dir)
                .and_then(|dir| dir.sync_all())
                .map_err(|e| StoreError::Io {
                    path: dir.to_owned(),
                    why: format!("syncing the directory after creating the store: {e}"),
                })?;
        }
        Ok(logged)
    }

    /// The store `store` with the log kept by `log` (`log_path` in messages, `capacity` bytes
    /// when new), replayed; `reopen` opens the store again after a fault.
    ///
    /// # Errors
    ///
    /// As [`LoggedStore::open`].
    pub(crate) fn with(
        store: Store,
        log: Box<dyn redb::StorageBackend>,
        log_path: &Path,
        capacity: u64,
        reopen: Reopen,
    ) -> Result<LoggedStore, StoreError> {
        let mut logged = LoggedStore {
            path: store.path().to_owned(),
            store: Some(store),
            log: StoreLog::new(log, log_path, capacity),
            reopen,
            last_seq: 0,
            since_checkpoint: 0,
            healthy: false,
            unapplied: Vec::new(),
            unapplied_records: 0,
            unapplied_bytes: 0,
        };
        logged.replay()?;
        Ok(logged)
    }

    /// Every durable mailbox with its oldest messages up to `budget`: [`Store::load`].
    ///
    /// # Errors
    ///
    /// As [`Store::load`]; [`StoreError::Io`] after a fault the store has not recovered from.
    pub(crate) fn load(&self, budget: ResidentBudget) -> Result<Vec<StoredMailbox>, StoreError> {
        self.store()?.load(budget)
    }

    /// The messages a page-in asks for: [`Store::read_messages`], once every change logged so
    /// far is in the tables (after a fault, the store is recovered first).
    ///
    /// # Errors
    ///
    /// As [`Store::read_messages`]; as a commit's recovery when the store had failed.
    pub(crate) fn read_messages(
        &mut self,
        page: PageIn,
    ) -> Result<Vec<(u64, StoredMessage)>, StoreError> {
        self.apply_logged();
        if !self.healthy {
            self.recover()?;
        }
        self.store()?.read_messages(page)
    }

    /// Makes `changes` durable and applies them: [`LoggedStore::log`] then
    /// [`LoggedStore::apply_logged`].
    ///
    /// # Errors
    ///
    /// As [`LoggedStore::log`].
    #[cfg(test)]
    pub(crate) fn commit(&mut self, changes: &[Change]) -> Result<(), StoreError> {
        self.log(changes.to_vec())?;
        self.apply_logged();
        Ok(())
    }

    /// Makes `changes` durable: one record in the log, synced. Once this returns `Ok` they are
    /// on stable storage; [`LoggedStore::apply_logged`] then applies them to the tables (after
    /// the answers are out: they wait for the sync, not for the tables).
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when the log cannot be written or synced, or recovering from an
    /// earlier fault fails: `changes` may or may not be durable. [`StoreError::Corrupt`] when
    /// that recovery finds the log damaged.
    pub(crate) fn log(&mut self, changes: Vec<Change>) -> Result<(), StoreError> {
        if !self.healthy {
            self.recover()?;
        }
        let payload = postcard::to_allocvec(&changes).map_err(|e| StoreError::Io {
            path: self.log.path().to_owned(),
            why: format!("cannot encode the changes: {e}"),
        })?;
        if payload.len() as u64 > self.log.largest_record() / 2 {
            // The records before go into the tables first, in order.
            self.apply_logged();
            return self.commit_directly(&changes);
        }
        if !self.log.fits(payload.len()) {
            self.checkpoint()?;
        }
        let seq = self.last_seq + 1;
        if let Err(error) = self.log.append(seq, &payload) {
            self.healthy = false;
            return Err(error);
        }
        self.last_seq = seq;
        self.since_checkpoint += 1;
        self.unapplied.extend(changes);
        self.unapplied_records += 1;
        self.unapplied_bytes += payload.len() as u64;
        Ok(())
    }

    /// Applies the changes of every record logged and not yet applied to the tables, in one
    /// transaction without a sync. When that fails they are durable all the same (in the log):
    /// the failure is logged, and the next commit replays the log before going on.
    pub(crate) fn apply_logged(&mut self) {
        self.unapplied_records = 0;
        self.unapplied_bytes = 0;
        if self.unapplied.is_empty() {
            return;
        }
        let changes = std::mem::take(&mut self.unapplied);
        let result = self
            .store()
            .and_then(|store| store.apply(&changes, Durability::None, None));
        if let Err(error) = result {
            self.healthy = false;
            tracing::error!(
                %error,
                record = self.last_seq,
                "applying a logged commit to the store failed; it is kept in the log and \
                 applied again before the next commit"
            );
        }
    }

    /// Whether records wait to be applied to the tables.
    pub(crate) fn has_unapplied(&self) -> bool {
        self.unapplied_records > 0
    }

    /// Whether applying is due: [`APPLY_RECORDS`] records or [`APPLY_BYTES`] wait for the
    /// tables.
    pub(crate) fn wants_apply(&self) -> bool {
        self.unapplied_records >= APPLY_RECORDS || self.unapplied_bytes >= APPLY_BYTES
    }

    /// Whether a checkpoint is due: [`CHECKPOINT_RECORDS`] records since the last one, or the
    /// log half full.
    pub(crate) fn wants_checkpoint(&self) -> bool {
        self.since_checkpoint >= CHECKPOINT_RECORDS
            || self.log.used() >= self.log.largest_record() / 2
    }

    /// Whether records were logged since the last checkpoint.
    pub(crate) fn has_unchecked_records(&self) -> bool {
        self.since_checkpoint > 0 || !self.healthy || !self.unapplied.is_empty()
    }

    /// Makes the tables durable and empties the log.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when the store's commit or the log's reset fails (nothing is lost:
    /// the log is emptied only after the tables are durable, and replayed when not).
    pub(crate) fn checkpoint(&mut self) -> Result<(), StoreError> {
        self.apply_logged();
        if !self.healthy {
            return self.recover();
        }
        let result = self
            .store()?
            .apply(&[], Durability::Immediate, Some(self.last_seq))
            .and_then(|()| self.log.reset());
        match result {
            Ok(()) => self.since_checkpoint = 0,
            Err(_) => self.healthy = false,
        }
        result
    }

    /// The store's file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Changes too large for the log go into the tables with a synced transaction of their
    /// own, which is a checkpoint too.
    fn commit_directly(&mut self, changes: &[Change]) -> Result<(), StoreError> {
        if let Err(error) = self
            .store()?
            .apply(changes, Durability::Immediate, Some(self.last_seq))
        {
            self.healthy = false;
            return Err(error);
        }
        self.since_checkpoint = 0;
        if let Err(error) = self.log.reset() {
            // The changes are durable; the log's records are older than the tables' and will be
            // skipped. The next commit recovers.
            self.healthy = false;
            tracing::error!(%error, "emptying the store's log failed");
        }
        Ok(())
    }

    /// After a fault: the store opened again, which takes it back to its last durable
    /// transaction, then replayed.
    fn recover(&mut self) -> Result<(), StoreError> {
        // The log has them, if they are anywhere.
        self.unapplied.clear();
        self.unapplied_records = 0;
        self.unapplied_bytes = 0;
        // Closed first: the file is locked while open.
        self.store = None;
        self.store = Some((self.reopen)()?);
        self.replay()
    }

    /// What opening does: the log's records after the last one the store includes applied in
    /// order, and a checkpoint.
    fn replay(&mut self) -> Result<(), StoreError> {
        let store = self.store()?;
        let applied = store.log_seq()?;
        let records = self.log.read(applied)?;
        if let Some(first) = records.first()
            && first.seq != applied + 1
        {
            return Err(StoreError::Corrupt {
                path: self.log.path().to_owned(),
                why: format!(
                    "its records begin at number {}, but the store {} includes those up to {} \
                     only: records in between are missing",
                    first.seq,
                    self.path.display(),
                    applied
                ),
            });
        }
        let mut changes = Vec::new();
        for record in &records {
            let logged: Vec<Change> =
                postcard::from_bytes(&record.payload).map_err(|e| StoreError::Corrupt {
                    path: self.log.path().to_owned(),
                    why: format!("record {} cannot be read: {e}", record.seq),
                })?;
            changes.extend(logged);
        }
        let last = records.last().map_or(applied, |record| record.seq);
        let store = self.store()?;
        store.apply(&changes, Durability::Immediate, Some(last))?;
        self.log.reset()?;
        if !records.is_empty() {
            tracing::info!(
                log = %self.log.path().display(),
                records = records.len(),
                changes = changes.len(),
                "applied the log's records to the store"
            );
        }
        self.last_seq = last;
        self.since_checkpoint = 0;
        self.healthy = true;
        Ok(())
    }

    fn store(&self) -> Result<&Store, StoreError> {
        self.store.as_ref().ok_or_else(|| StoreError::Io {
            path: self.path.clone(),
            why: "it could not be opened again after an earlier fault".to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    //! Commits through the log, crashes at every stage (a crash keeps only what was synced),
    //! damage to the log, and storage failing under either file.

    use postbox_core::MailboxId;

    use super::*;
    use crate::store_log::{FIRST_RECORD, RECORD_HEADER};
    use crate::store_testing::{
        Contents, DISK_FULL, Faulty, HEALTHY, SYNC_FAILS, contents, record, removed, stored,
    };

    /// The log's size in these tests.
    const SMALL: u64 = 64 << 10;

    /// The store's disk and the log's.
    #[derive(Clone, Default)]
    struct Disks {
        store: Faulty,
        log: Faulty,
    }

    impl Disks {
        fn open(&self) -> Result<LoggedStore, StoreError> {
            self.open_sized(SMALL)
        }

        /// Opens them with a log of `capacity` bytes when it is new.
        fn open_sized(&self, capacity: u64) -> Result<LoggedStore, StoreError> {
            let store_disk = self.store.clone();
            let reopen: Reopen =
                Box::new(move || Store::with_backend(store_disk.clone(), Path::new("memory.redb")));
            let store = Store::with_backend(self.store.clone(), Path::new("memory.redb"))?;
            LoggedStore::with(
                store,
                Box::new(self.log.clone()),
                Path::new("memory.log"),
                capacity,
                reopen,
            )
        }

        /// What the disks hold after the machine lost power now.
        fn crashed(&self) -> Disks {
            Disks {
                store: self.store.crashed(),
                log: self.log.crashed(),
            }
        }

        /// The store alone on these disks, without its log.
        fn store_alone(&self) -> Vec<Contents> {
            contents(&Store::with_backend(self.store.clone(), Path::new("memory.redb")).unwrap())
        }
    }

    /// The log bytes one record of `changes` takes.
    fn record_len(changes: &[Change]) -> usize {
        RECORD_HEADER as usize + postcard::to_allocvec(changes).unwrap().len()
    }

    fn message(seq: u64, text: &str) -> (u64, String) {
        (seq, text.to_owned())
    }

    #[test]
    fn a_commit_syncs_the_log_once_and_the_store_not_at_all() {
        let disks = Disks::default();
        let mut logged = disks.open().unwrap();
        let (log_syncs, store_syncs) =
            (disks.log.syncs.load(SeqCst), disks.store.syncs.load(SeqCst));
        logged.commit(&[record(1), stored(1, 0, "a")]).unwrap();
        assert_eq!(disks.log.syncs.load(SeqCst), log_syncs + 1);
        assert_eq!(disks.store.syncs.load(SeqCst), store_syncs);
        assert_eq!(contents(&logged), [(1, vec![message(0, "a")], 1)]);
    }

    #[test]
    fn a_page_in_reads_what_was_logged_even_before_it_reached_the_tables() {
        let disks = Disks::default();
        let mut logged = disks.open().unwrap();
        logged.commit(&[record(1), stored(1, 0, "a")]).unwrap();
        // Logged and synced, not yet applied to the tables (the writer applies after answering).
        logged.log(vec![stored(1, 1, "b")]).unwrap();
        let page = PageIn {
            mailbox: postbox_core::MailboxId::from_raw(1),
            from_seq: 0,
            max_messages: usize::MAX,
            max_bytes: usize::MAX,
        };
        let read: Vec<u64> = logged
            .read_messages(page)
            .unwrap()
            .into_iter()
            .map(|(seq, _)| seq)
            .collect();
        assert_eq!(read, [0, 1]);
    }

    #[test]
    fn logged_records_reach_the_tables_together_in_order_when_applied() {
        let disks = Disks::default();
        let mut logged = disks.open().unwrap();
        logged.commit(&[record(1)]).unwrap();
        logged.log(vec![stored(1, 0, "a")]).unwrap();
        logged.log(vec![stored(1, 1, "b")]).unwrap();
        logged.log(vec![removed(1, 0), stored(1, 2, "c")]).unwrap();
        assert!(logged.has_unapplied());
        assert_eq!(contents(&logged), [(1, vec![], 0)], "not in the tables yet");
        let crashed = disks.crashed();
        assert_eq!(
            contents(&crashed.open().unwrap()),
            [(1, vec![message(1, "b"), message(2, "c")], 3)],
            "durable all the same: the log has them"
        );

        let writes = disks.store.writes.load(SeqCst);
        logged.apply_logged();
        assert!(!logged.has_unapplied());
        assert_eq!(
            contents(&logged),
            [(1, vec![message(1, "b"), message(2, "c")], 3)]
        );
        let one_transaction = disks.store.writes.load(SeqCst) - writes;
        logged.log(vec![stored(1, 3, "d")]).unwrap();
        let writes = disks.store.writes.load(SeqCst);
        logged.apply_logged();
        assert!(
            one_transaction <= 2 * (disks.store.writes.load(SeqCst) - writes),
            "three records applied together write about what one does: \
             {one_transaction} writes"
        );
    }

    #[test]
    fn applying_is_due_after_so_many_records_or_bytes() {
        let disks = Disks::default();
        let mut logged = disks.open().unwrap();
        logged.commit(&[record(1)]).unwrap();
        for seq in 0..APPLY_RECORDS - 1 {
            logged.log(vec![stored(1, seq, "m")]).unwrap();
            assert!(!logged.wants_apply(), "after {} records", seq + 1);
        }
        logged.log(vec![stored(1, APPLY_RECORDS, "m")]).unwrap();
        assert!(logged.wants_apply());
        logged.apply_logged();
        assert!(!logged.wants_apply() && !logged.has_unapplied());

        let disks = Disks::default();
        let mut logged = disks.open_sized(CAPACITY).unwrap();
        logged.commit(&[record(1)]).unwrap();
        let large = "m".repeat(1 << 20);
        for seq in 0..4 {
            assert!(!logged.wants_apply(), "after {seq} MiB");
            logged.log(vec![stored(1, seq, &large)]).unwrap();
        }
        assert!(logged.wants_apply(), "4 MiB wait");
    }

    #[test]
    fn records_not_yet_checkpointed_are_replayed_after_a_crash() {
        let disks = Disks::default();
        let mut logged = disks.open().unwrap();
        logged.commit(&[record(1), stored(1, 0, "a")]).unwrap();
        logged.commit(&[stored(1, 1, "b")]).unwrap();
        logged.commit(&[removed(1, 0)]).unwrap();

        let crashed = disks.crashed();
        drop(logged);
        assert_eq!(crashed.store_alone(), [], "only the log had them");
        let logged = crashed.open().unwrap();
        assert_eq!(contents(&logged), [(1, vec![message(1, "b")], 2)]);
        drop(logged);
        assert_eq!(
            crashed.crashed().store_alone(),
            [(1, vec![message(1, "b")], 2)],
            "opening ends with a checkpoint"
        );
    }

    #[test]
    fn a_checkpoint_makes_the_store_durable_and_later_records_replay_after_it() {
        let disks = Disks::default();
        let mut logged = disks.open().unwrap();
        logged.commit(&[record(1), stored(1, 0, "a")]).unwrap();
        logged.checkpoint().unwrap();
        logged.commit(&[stored(1, 1, "b")]).unwrap();

        let crashed = disks.crashed();
        assert_eq!(crashed.store_alone(), [(1, vec![message(0, "a")], 1)]);
        let logged = crashed.open().unwrap();
        assert_eq!(
            contents(&logged),
            [(1, vec![message(0, "a"), message(1, "b")], 2)]
        );
    }

    #[test]
    fn records_the_store_already_includes_are_not_applied_again() {
        let disks = Disks::default();
        let mut logged = disks.open().unwrap();
        logged.commit(&[record(1), stored(1, 0, "a")]).unwrap();
        // Too large for the log: straight into the store, durably, together with record 1;
        // emptying the log after it fails, so record 1 is still there at the crash.
        disks.log.set_fault(SYNC_FAILS);
        let big = "x".repeat(usize::try_from(SMALL).unwrap());
        logged
            .commit(&[removed(1, 0), stored(1, 1, &big)])
            .expect("durable in the store");

        let crashed = disks.crashed();
        let logged = crashed.open().unwrap();
        let kept = contents(&logged);
        assert_eq!(kept.len(), 1);
        assert_eq!(
            kept[0].1.iter().map(|m| m.0).collect::<Vec<_>>(),
            [1],
            "message 0 was removed"
        );
    }

    #[test]
    fn a_torn_last_record_is_where_the_crash_happened() {
        for torn_at in [0, 5, 17, RECORD_HEADER as usize + 1] {
            let disks = Disks::default();
            let mut logged = disks.open().unwrap();
            let first = [record(1), stored(1, 0, "a")];
            logged.commit(&first).unwrap();
            logged.commit(&[stored(1, 1, "never answered")]).unwrap();
            let crashed = disks.crashed();
            crashed
                .log
                .flip(FIRST_RECORD as usize + record_len(&first) + torn_at);

            let mut logged = crashed.open().expect("a torn tail is no damage");
            assert_eq!(
                contents(&logged),
                [(1, vec![message(0, "a")], 1)],
                "torn at {torn_at}"
            );
            logged.commit(&[stored(1, 1, "sent again")]).unwrap();
            drop(logged);
            let logged = crashed.crashed().open().unwrap();
            assert_eq!(
                contents(&logged),
                [(1, vec![message(0, "a"), message(1, "sent again")], 2)]
            );
        }
    }

    #[test]
    fn a_damaged_record_in_the_middle_stops_the_open_and_the_log_is_kept() {
        let disks = Disks::default();
        let mut logged = disks.open().unwrap();
        let first = [record(1), stored(1, 0, "a")];
        let second = [stored(1, 1, "b")];
        logged.commit(&first).unwrap();
        logged.commit(&second).unwrap();
        logged.commit(&[stored(1, 2, "c")]).unwrap();
        let crashed = disks.crashed();
        crashed
            .log
            .flip(FIRST_RECORD as usize + record_len(&first) + record_len(&second) - 1);
        let before = crashed.log.bytes();

        let error = crashed
            .open()
            .expect_err("record 2 went bad after it was synced");
        assert!(matches!(error, StoreError::Corrupt { .. }), "{error}");
        let message = error.to_string();
        assert!(message.contains("memory.log"), "{message}");
        assert!(message.contains("record 3 follows"), "{message}");
        assert!(message.contains("Move it away (keep it)"), "{message}");
        assert_eq!(
            crashed.log.bytes(),
            before,
            "nothing truncated or rewritten"
        );
    }

    #[test]
    fn a_full_disk_under_the_log_fails_the_commit_and_the_next_one_goes_through() {
        let disks = Disks::default();
        let mut logged = disks.open().unwrap();
        logged.commit(&[record(1), stored(1, 0, "a")]).unwrap();
        disks.log.set_fault(DISK_FULL);
        let error = logged.commit(&[stored(1, 1, "b")]).expect_err("no room");
        assert!(matches!(error, StoreError::Io { .. }), "{error}");
        assert!(error.to_string().contains("memory.log"), "{error}");
        assert!(error.to_string().contains("No space left"), "{error}");

        disks.log.set_fault(HEALTHY);
        logged.commit(&[stored(1, 2, "c")]).unwrap();
        let logged = disks.crashed().open().unwrap();
        assert_eq!(
            contents(&logged),
            [(1, vec![message(0, "a"), message(2, "c")], 3)]
        );
    }

    #[test]
    fn a_failing_log_sync_fails_the_commit_and_every_answered_commit_survives() {
        let disks = Disks::default();
        let mut logged = disks.open().unwrap();
        logged.commit(&[record(1), stored(1, 0, "a")]).unwrap();
        disks.log.set_fault(SYNC_FAILS);
        let error = logged.commit(&[stored(1, 1, "b")]).expect_err("sync fails");
        assert!(error.to_string().contains("Input/output error"), "{error}");
        assert!(
            logged.commit(&[stored(1, 2, "c")]).is_err(),
            "still failing: never answered Ok"
        );

        disks.log.set_fault(HEALTHY);
        logged.commit(&[stored(1, 3, "d")]).unwrap();
        let logged = disks.crashed().open().unwrap();
        let kept: Vec<u64> = contents(&logged)[0].1.iter().map(|m| m.0).collect();
        // 1 and 2 are indeterminate (written, never synced while failing); 0 and 3 answered Ok.
        assert!(
            kept.first() == Some(&0) && kept.last() == Some(&3),
            "{kept:?}"
        );
    }

    #[test]
    fn a_store_failing_after_the_log_synced_still_keeps_the_commit() {
        let disks = Disks::default();
        let mut logged = disks.open().unwrap();
        logged.commit(&[record(1), stored(1, 0, "a")]).unwrap();
        disks.store.set_fault(DISK_FULL);
        logged
            .log(vec![stored(1, 1, &"b".repeat(64 << 10 >> 2))])
            .expect("durable in the log");
        logged.apply_logged();
        assert!(!logged.healthy, "the store's write failed under the test");

        // The machine dies with the store still failing: the log has it.
        let crashed = disks.crashed();
        let restarted = crashed.open().unwrap();
        assert_eq!(contents(&restarted)[0].1.len(), 2);

        // Or the daemon goes on once there is room: the next commit replays it first.
        disks.store.set_fault(HEALTHY);
        logged.commit(&[stored(1, 2, "c")]).unwrap();
        assert!(logged.healthy);
        assert_eq!(contents(&logged)[0].1.len(), 3);
        let logged = disks.crashed().open().unwrap();
        assert_eq!(contents(&logged)[0].1.len(), 3);
    }

    #[test]
    fn a_failing_store_sync_at_a_checkpoint_loses_nothing() {
        let disks = Disks::default();
        let mut logged = disks.open().unwrap();
        logged.commit(&[record(1), stored(1, 0, "a")]).unwrap();
        logged.commit(&[stored(1, 1, "b")]).unwrap();
        disks.store.set_fault(SYNC_FAILS);
        let error = logged.checkpoint().expect_err("the store's sync fails");
        assert!(error.to_string().contains("memory.redb"), "{error}");
        let crashed = disks.crashed();
        assert_eq!(contents(&crashed.open().unwrap())[0].1.len(), 2);

        disks.store.set_fault(HEALTHY);
        logged.commit(&[stored(1, 2, "c")]).unwrap();
        let logged = disks.crashed().open().unwrap();
        assert_eq!(contents(&logged)[0].1.len(), 3);
    }

    #[test]
    fn the_log_keeps_its_size_and_checkpoints_when_full() {
        let disks = Disks::default();
        let mut logged = disks.open().unwrap();
        logged.commit(&[record(1)]).unwrap();
        let text = "m".repeat(1000);
        let mut checkpoints = 0;
        for seq in 0..300 {
            logged.commit(&[stored(1, seq, &text)]).unwrap();
            assert_eq!(disks.log.bytes().len() as u64, SMALL);
            if logged.wants_checkpoint() {
                logged.checkpoint().unwrap();
                checkpoints += 1;
            }
        }
        assert!(
            checkpoints >= 300_000 / (SMALL / 2),
            "{checkpoints} checkpoints"
        );
        let logged = disks.crashed().open().unwrap();
        assert_eq!(contents(&logged)[0].1.len(), 300);
    }

    #[test]
    fn changes_too_large_for_the_log_go_straight_into_the_store() {
        let disks = Disks::default();
        let mut logged = disks.open().unwrap();
        logged.commit(&[record(1)]).unwrap();
        let store_syncs = disks.store.syncs.load(SeqCst);
        logged.log(vec![stored(1, 0, "logged first")]).unwrap();
        let big = "x".repeat(usize::try_from(SMALL).unwrap());
        logged.log(vec![stored(1, 1, &big)]).unwrap();
        assert!(disks.store.syncs.load(SeqCst) > store_syncs);
        let stored_alone: Vec<u64> = disks.crashed().store_alone()[0]
            .1
            .iter()
            .map(|m| m.0)
            .collect();
        assert_eq!(
            stored_alone,
            [0, 1],
            "the record logged before went in first"
        );
    }

    #[test]
    fn the_files_in_a_state_directory_replay_and_neither_is_taken_without_the_other() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let mut logged = LoggedStore::open(&state).unwrap();
        logged.commit(&[record(1), stored(1, 0, "a")]).unwrap();
        drop(logged);
        let logged = LoggedStore::open(&state).unwrap();
        assert_eq!(contents(&logged), [(1, vec![message(0, "a")], 1)]);
        drop(logged);
        assert_eq!(
            std::fs::metadata(state.join(LOG_FILE)).unwrap().len(),
            CAPACITY,
            "preallocated"
        );

        let log = std::fs::read(state.join(LOG_FILE)).unwrap();
        std::fs::remove_file(state.join(LOG_FILE)).unwrap();
        let error = LoggedStore::open(&state).expect_err("a store without its log");
        assert!(error.to_string().contains("it is missing"), "{error}");
        std::fs::write(state.join(LOG_FILE), log).unwrap();

        std::fs::remove_file(state.join(crate::store::STORE_FILE)).unwrap();
        let error = LoggedStore::open(&state).expect_err("a log without its store");
        assert!(error.to_string().contains("no store beside it"), "{error}");
    }

    #[test]
    fn a_deleted_mailbox_stays_deleted_through_a_replay() {
        let disks = Disks::default();
        let mut logged = disks.open().unwrap();
        logged.commit(&[record(1), stored(1, 0, "a")]).unwrap();
        logged
            .commit(&[Change::Deleted(MailboxId::from_raw(1)), record(2)])
            .unwrap();
        let logged = disks.crashed().open().unwrap();
        assert_eq!(contents(&logged), [(2, vec![], 0)]);
    }

    #[test]
    fn every_kind_of_change_replays_from_the_log() {
        let disks = Disks::default();
        let mut logged = disks.open().unwrap();
        let remembered = postbox_core::ProducerRecord {
            seq: 7,
            receiver: None,
            used: 1,
        };
        logged
            .commit(&[
                record(1),
                stored(1, 0, "a"),
                Change::Producer {
                    mailbox: MailboxId::from_raw(1),
                    producer: postbox_core::ProducerId::from_raw(42),
                    record: remembered,
                },
                Change::Producer {
                    mailbox: MailboxId::from_raw(1),
                    producer: postbox_core::ProducerId::from_raw(43),
                    record: remembered,
                },
                Change::ProducerForgotten {
                    mailbox: MailboxId::from_raw(1),
                    producer: postbox_core::ProducerId::from_raw(43),
                },
            ])
            .unwrap();
        let crashed = disks.crashed();
        assert_eq!(crashed.store_alone(), [], "only the log had them");
        let logged = crashed.open().unwrap();
        let mailboxes = logged.load(crate::store_testing::EVERYTHING).unwrap();
        assert_eq!(mailboxes.len(), 1);
        assert_eq!(mailboxes[0].messages.len(), 1);
        let producers: Vec<_> = mailboxes[0]
            .producers
            .iter()
            .map(|(id, record)| (id.as_raw(), *record))
            .collect();
        assert_eq!(producers, [(42, remembered)]);
    }

    use std::sync::atomic::Ordering::SeqCst;
}

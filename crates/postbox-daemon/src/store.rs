//! The store of durable mailboxes: one redb database in the daemon's state directory.
//!
//! redb rather than a log of our own: a copy-on-write B-tree whose commits are checksummed and
//! made durable with fsync before `commit` returns (`Durability::Immediate`), tested by its
//! authors with a crash-simulating fuzzer. A commit either happened in full or not at all, so a
//! crash (even `kill -9` between two writes) leaves the last committed state.
//!
//! Tables: `mailboxes` (id → the mailbox's record), `next_seq` (id → the sequence number its
//! next message gets), `messages` ((id, seq) → the message) and `producers` ((id, producer) →
//! what the mailbox remembers of that idempotent sender), each value postcard-encoded; `meta`
//! holds the format and the number of the last log record the tables include. A store written
//! before `producers` existed reads as one with no producers.
//! [`Store::apply`] applies an engine journal ([`Change`]s, in order) in one transaction. A write-
//! ahead log in front of it makes commits durable; a transaction here is durable only at a
//! checkpoint (see `logged_store.rs`).

use std::path::{Path, PathBuf};

use postbox_core::{
    Change, DiskTail, DurableMailbox, PageIn, ProducerId, ProducerRecord, ResidentBudget,
    StoredMessage, keeps_tail_on_disk,
};
use redb::{Database, Durability, ReadableTable, TableDefinition};

/// The file in the state directory.
pub const STORE_FILE: &str = "postbox.redb";

const MAILBOXES: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("mailboxes");
const NEXT_SEQ: TableDefinition<'_, u64, u64> = TableDefinition::new("next_seq");
const MESSAGES: TableDefinition<'_, (u64, u64), &[u8]> = TableDefinition::new("messages");
const PRODUCERS: TableDefinition<'_, (u64, u64), &[u8]> = TableDefinition::new("producers");
const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");

/// The memory redb may keep of the file's pages (nine tenths read cache, one tenth write
/// buffer). redb's default is 1 GiB, and a start reads every page of the messages table (to
/// count what stays on disk), which would leave the daemon holding the whole file: a million
/// 64-byte messages kept it at 205 MiB resident. The pages a commit touches — the end of the
/// messages table, where sends append and receives remove — fit many times over.
const CACHE_BYTES: usize = 32 << 20;

/// The layout this daemon writes; a store with another refuses to open.
///
/// 2: a write-ahead log beside the store may hold changes the tables do not, and `meta`'s
/// `log_seq` says which (a daemon that knows no log must not open it). A store of format 1 is
/// taken as it is and marked 2.
const FORMAT: u64 = 2;
/// The key in `meta` of the number of the last log record the tables include.
const LOG_SEQ: &str = "log_seq";

/// A durable mailbox as stored: its record, its oldest messages in sequence order, what is
/// left on disk after them, and the sequence number its next message gets.
#[derive(Debug)]
pub(crate) struct StoredMailbox {
    pub(crate) record: DurableMailbox,
    pub(crate) messages: Vec<(u64, StoredMessage)>,
    /// The messages after `messages`, counted but not read into memory.
    pub(crate) tail: Option<DiskTail>,
    pub(crate) next_seq: u64,
    /// What it remembers of its idempotent senders.
    pub(crate) producers: Vec<(ProducerId, ProducerRecord)>,
}

/// Why the store failed. Every message names the file and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be opened or created.
    #[error(
        "cannot open the store {path}: {why}. If another daemon uses this state directory, stop \
         it or give this one another --state-dir; if the file is damaged, move it away (keep it) \
         together with the other file of the store beside it (postbox.redb, postbox.log) to start \
         with an empty store"
    )]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// Reading or writing failed (a full disk, an I/O error).
    #[error("the store {path} failed: {why}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// The store holds something this daemon did not write.
    #[error(
        "the store {path} is not readable by this daemon: {why}. Move it away (keep it) together \
         with the other file of the store beside it (postbox.redb, postbox.log) to start with an \
         empty store"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        why: String,
    },
}

/// The open store.
#[derive(Debug)]
pub(crate) struct Store {
    db: Database,
    path: PathBuf,
}

impl Store {
    /// Opens the store in `dir`, creating the directory (mode 0700) and the file when missing.
    ///
    /// # Errors
    ///
    /// [`StoreError::Open`]: the directory cannot be made, the file is locked by another daemon,
    /// or it is no redb database; [`StoreError::Corrupt`]: written in another format.
    pub(crate) fn open(dir: &Path) -> Result<Store, StoreError> {
        let path = dir.join(STORE_FILE);
        let open_error = |why: String| StoreError::Open {
            path: path.clone(),
            why,
        };
        create_private_dir(dir)
            .map_err(|e| open_error(format!("cannot create {}: {e}", dir.display())))?;
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(|e| open_error(e.to_string()))?;
        let store = Store { db, path };
        store.check_format()?;
        Ok(store)
    }

    /// Opens the store kept by `backend` (`path` in messages), creating it when empty.
    ///
    /// # Errors
    ///
    /// As [`Store::open`].
    #[cfg(test)]
    pub(crate) fn with_backend(
        backend: impl redb::StorageBackend,
        path: &Path,
    ) -> Result<Store, StoreError> {
        let db = Database::builder()
            .create_with_backend(backend)
            .map_err(|e| StoreError::Open {
                path: path.to_owned(),
                why: e.to_string(),
            })?;
        let store = Store {
            db,
            path: path.to_owned(),
        };
        store.check_format()?;
        Ok(store)
    }

    /// Whether `dir` holds a store already.
    pub(crate) fn exists(dir: &Path) -> bool {
        dir.join(STORE_FILE).exists()
    }

    /// Every durable mailbox with its messages: of a mailbox that may keep a tail on disk
    /// ([`keeps_tail_on_disk`]), only its oldest up to `budget` (as a page-in reads them, see
    /// [`Store::read_messages`]), the rest counted (each is read to count its bytes, and
    /// dropped); of any other, all.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when reading fails, [`StoreError::Corrupt`] when a value cannot be
    /// decoded or a message has no mailbox.
    pub(crate) fn load(&self, budget: ResidentBudget) -> Result<Vec<StoredMailbox>, StoreError> {
        let read = self.db.begin_read().map_err(|e| self.io(e))?;
        let mailboxes = read.open_table(MAILBOXES).map_err(|e| self.io(e))?;
        let next_seq = read.open_table(NEXT_SEQ).map_err(|e| self.io(e))?;
        let messages = read.open_table(MESSAGES).map_err(|e| self.io(e))?;
        let mut all = std::collections::BTreeMap::new();
        for entry in mailboxes.iter().map_err(|e| self.io(e))? {
            let (id, value) = entry.map_err(|e| self.io(e))?;
            let id = id.value();
            let record: DurableMailbox = postcard::from_bytes(value.value())
                .map_err(|e| self.corrupt(format!("mailbox {id}: {e}")))?;
            let next = next_seq
                .get(id)
                .map_err(|e| self.io(e))?
                .map_or(0, |seq| seq.value());
            let mailbox = StoredMailbox {
                record,
                messages: Vec::new(),
                tail: None,
                next_seq: next,
                producers: Vec::new(),
            };
            all.insert(id, mailbox);
        }
        // One pass in key order: each mailbox's messages in sequence order. A message whose
        // mailbox is not stored would be lost unseen: refuse instead.
        let mut resident_bytes = std::collections::HashMap::new();
        for entry in messages.iter().map_err(|e| self.io(e))? {
            let (key, value) = entry.map_err(|e| self.io(e))?;
            let (id, seq) = key.value();
            let Some(mailbox) = all.get_mut(&id) else {
                return Err(
                    self.corrupt(format!("messages of mailbox {id}, which it does not hold"))
                );
            };
            let corrupt =
                |e: postcard::Error| self.corrupt(format!("message {seq} of mailbox {id}: {e}"));
            mailbox.next_seq = mailbox.next_seq.max(seq.saturating_add(1));
            if let Some(tail) = mailbox.tail.as_mut() {
                tail.messages += 1;
                tail.bytes += payload_len(value.value()).map_err(corrupt)?;
                continue;
            }
            let message: StoredMessage = postcard::from_bytes(value.value()).map_err(corrupt)?;
            let len = message.message.len();
            let resident = resident_bytes.entry(id).or_insert(0);
            let fits = mailbox.messages.len() < budget.messages
                && (mailbox.messages.is_empty() || *resident + len <= budget.bytes);
            if fits || !keeps_tail_on_disk(&mailbox.record.attrs) {
                *resident += len;
                mailbox.messages.push((seq, message));
            } else {
                mailbox.tail = Some(DiskTail {
                    first_seq: seq,
                    messages: 1,
                    bytes: len,
                });
            }
        }
        let producers = match read.open_table(PRODUCERS) {
            Ok(table) => Some(table),
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(self.io(e)),
        };
        let entries = match &producers {
            Some(table) => Some(table.iter().map_err(|e| self.io(e))?),
            None => None,
        };
        for entry in entries.into_iter().flatten() {
            let (key, value) = entry.map_err(|e| self.io(e))?;
            let (id, producer) = key.value();
            let Some(mailbox) = all.get_mut(&id) else {
                return Err(
                    self.corrupt(format!("producers of mailbox {id}, which it does not hold"))
                );
            };
            let record: ProducerRecord = postcard::from_bytes(value.value())
                .map_err(|e| self.corrupt(format!("producer {producer} of mailbox {id}: {e}")))?;
            mailbox
                .producers
                .push((ProducerId::from_raw(producer), record));
        }
        let all = all.into_values().collect();
        Ok(all)
    }

    /// What a page-in asks for: the messages of `page.mailbox` from `page.from_seq` on, in
    /// sequence order, as many as `page.max_messages` and, beyond the first, `page.max_bytes`
    /// of payload allow.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when reading fails, [`StoreError::Corrupt`] when a message cannot be
    /// decoded.
    pub(crate) fn read_messages(
        &self,
        page: PageIn,
    ) -> Result<Vec<(u64, StoredMessage)>, StoreError> {
        let read = self.db.begin_read().map_err(|e| self.io(e))?;
        let messages = read.open_table(MESSAGES).map_err(|e| self.io(e))?;
        let id = page.mailbox.as_raw();
        let range = messages
            .range((id, page.from_seq)..=(id, u64::MAX))
            .map_err(|e| self.io(e))?;
        let (mut out, mut bytes) = (Vec::new(), 0usize);
        for entry in range {
            if out.len() >= page.max_messages {
                break;
            }
            let (key, value) = entry.map_err(|e| self.io(e))?;
            let (_, seq) = key.value();
            let message: StoredMessage = postcard::from_bytes(value.value())
                .map_err(|e| self.corrupt(format!("message {seq} of mailbox {id}: {e}")))?;
            let len = message.message.len();
            if !out.is_empty() && bytes.saturating_add(len) > page.max_bytes {
                break;
            }
            bytes += len;
            out.push((seq, message));
        }
        Ok(out)
    }

    /// Applies `changes`, in order, in one transaction made durable before returning.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`]: nothing of `changes` was stored.
    #[cfg(test)]
    pub(crate) fn commit(&self, changes: &[Change]) -> Result<(), StoreError> {
        self.apply(changes, Durability::Immediate, None)
    }

    /// Applies `changes`, in order, in one transaction, recording (when `log_seq` is given) that
    /// the tables now include log record `log_seq`. `Durability::Immediate` makes it and every
    /// transaction before it durable before returning; with `Durability::None` it is durable
    /// from the next one that is.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`]: nothing of `changes` was applied.
    pub(crate) fn apply(
        &self,
        changes: &[Change],
        durability: Durability,
        log_seq: Option<u64>,
    ) -> Result<(), StoreError> {
        let mut write = self.db.begin_write().map_err(|e| self.io(e))?;
        write.set_durability(durability);
        if let Some(log_seq) = log_seq {
            let mut meta = write.open_table(META).map_err(|e| self.io(e))?;
            meta.insert(LOG_SEQ, log_seq).map_err(|e| self.io(e))?;
        }
        {
            let mut mailboxes = write.open_table(MAILBOXES).map_err(|e| self.io(e))?;
            let mut next_seq = write.open_table(NEXT_SEQ).map_err(|e| self.io(e))?;
            let mut messages = write.open_table(MESSAGES).map_err(|e| self.io(e))?;
            let mut producers = write.open_table(PRODUCERS).map_err(|e| self.io(e))?;
            for change in changes {
                match change {
                    Change::Mailbox(record) => {
                        let value = encode(record)?;
                        mailboxes
                            .insert(record.id.as_raw(), value.as_slice())
                            .map_err(|e| self.io(e))?;
                    }
                    Change::Deleted(id) => {
                        let id = id.as_raw();
                        mailboxes.remove(id).map_err(|e| self.io(e))?;
                        next_seq.remove(id).map_err(|e| self.io(e))?;
                        messages
                            .retain_in((id, 0)..=(id, u64::MAX), |_, _| false)
                            .map_err(|e| self.io(e))?;
                        producers
                            .retain_in((id, 0)..=(id, u64::MAX), |_, _| false)
                            .map_err(|e| self.io(e))?;
                    }
                    Change::Stored {
                        mailbox,
                        seq,
                        message,
                    } => {
                        let id = mailbox.as_raw();
                        let value = encode(message)?;
                        messages
                            .insert((id, *seq), value.as_slice())
                            .map_err(|e| self.io(e))?;
                        let next = next_seq
                            .get(id)
                            .map_err(|e| self.io(e))?
                            .map_or(0, |v| v.value());
                        if *seq >= next {
                            next_seq.insert(id, seq + 1).map_err(|e| self.io(e))?;
                        }
                    }
                    Change::Removed { mailbox, seq } => {
                        messages
                            .remove((mailbox.as_raw(), *seq))
                            .map_err(|e| self.io(e))?;
                    }
                    Change::Producer {
                        mailbox,
                        producer,
                        record,
                    } => {
                        let value = encode(record)?;
                        producers
                            .insert((mailbox.as_raw(), producer.as_raw()), value.as_slice())
                            .map_err(|e| self.io(e))?;
                    }
                    Change::ProducerForgotten { mailbox, producer } => {
                        producers
                            .remove((mailbox.as_raw(), producer.as_raw()))
                            .map_err(|e| self.io(e))?;
                    }
                }
            }
        }
        write.commit().map_err(|e| self.io(e))
    }

    /// The number of the last log record the tables include (0: none).
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when reading fails.
    pub(crate) fn log_seq(&self) -> Result<u64, StoreError> {
        let read = self.db.begin_read().map_err(|e| self.io(e))?;
        let meta = read.open_table(META).map_err(|e| self.io(e))?;
        let seq = meta.get(LOG_SEQ).map_err(|e| self.io(e))?;
        Ok(seq.map_or(0, |seq| seq.value()))
    }

    /// The file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn check_format(&self) -> Result<(), StoreError> {
        let write = self.db.begin_write().map_err(|e| self.io(e))?;
        {
            let mut meta = write.open_table(META).map_err(|e| self.io(e))?;
            let format = meta
                .get("format")
                .map_err(|e| self.io(e))?
                .map(|v| v.value());
            match format {
                None | Some(1) => {
                    meta.insert("format", FORMAT).map_err(|e| self.io(e))?;
                }
                Some(FORMAT) => {}
                Some(other) => {
                    return Err(
                        self.corrupt(format!("format {other}, this daemon writes {FORMAT}"))
                    );
                }
            }
        }
        write.commit().map_err(|e| self.io(e))
    }

    fn io(&self, error: impl std::fmt::Display) -> StoreError {
        StoreError::Io {
            path: self.path.clone(),
            why: error.to_string(),
        }
    }

    fn corrupt(&self, why: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            why,
        }
    }
}

/// The payload length of a stored message, read without decoding the rest: a
/// [`StoredMessage`] is encoded beginning with its message, which begins with its payload (a
/// length, then the bytes), so counting what stays on disk costs no allocation.
fn payload_len(value: &[u8]) -> Result<usize, postcard::Error> {
    let (payload, _rest): (&[u8], &[u8]) = postcard::take_from_bytes(value)?;
    Ok(payload.len())
}

fn encode(value: &impl serde::Serialize) -> Result<Vec<u8>, StoreError> {
    postcard::to_allocvec(value).map_err(|e| StoreError::Io {
        path: PathBuf::new(),
        why: format!("cannot encode: {e}"),
    })
}

/// Creates `dir` (and its parents) readable by its owner only, when missing.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(test)]
mod tests {
    //! The store's transactions, and its storage failing under it: a full disk, an I/O error.

    use postbox_core::MailboxId;

    use super::*;
    use crate::store_testing::{
        DISK_FULL, Faulty, HEALTHY, SYNC_FAILS, contents, record, removed, stored,
    };

    fn open(backend: &Faulty) -> Store {
        Store::with_backend(backend.clone(), Path::new("memory"))
            .expect("a fresh or healthy database opens")
    }

    #[test]
    fn a_budget_loads_the_oldest_messages_and_counts_the_rest_which_pages_read_in_order() {
        let backend = Faulty::default();
        let store = open(&backend);
        let mut changes = vec![record(7)];
        // Removed ones leave gaps; the budget counts what is there.
        changes.extend((0..10).map(|seq| stored(7, seq, &"x".repeat(seq as usize))));
        changes.extend([removed(7, 1), removed(7, 6)]);
        store.commit(&changes).unwrap();
        let budget = ResidentBudget {
            messages: 3,
            bytes: 1 << 20,
        };
        let [loaded] = store.load(budget).unwrap().try_into().unwrap();
        let seqs: Vec<u64> = loaded.messages.iter().map(|(seq, _)| *seq).collect();
        assert_eq!(seqs, [0, 2, 3]);
        assert_eq!(
            loaded.tail,
            Some(DiskTail {
                first_seq: 4,
                messages: 5,
                bytes: 4 + 5 + 7 + 8 + 9
            })
        );
        assert_eq!(loaded.next_seq, 10);
        let page = |from_seq, max_messages, max_bytes| PageIn {
            mailbox: MailboxId::from_raw(7),
            from_seq,
            max_messages,
            max_bytes,
        };
        let read = |p| -> Vec<u64> {
            store
                .read_messages(p)
                .unwrap()
                .into_iter()
                .map(|(seq, _)| seq)
                .collect()
        };
        assert_eq!(read(page(4, 3, usize::MAX)), [4, 5, 7]);
        assert_eq!(
            read(page(5, 10, 12)),
            [5, 7],
            "bytes beyond the first: 5 + 7"
        );
        assert_eq!(read(page(9, 10, 0)), [9], "the first always");
        assert_eq!(read(page(10, 10, usize::MAX)), Vec::<u64>::new());

        // By bytes: 0 + 2 + 3 fit in 5, the message of 4 bytes does not.
        let by_bytes = ResidentBudget {
            messages: 100,
            bytes: 5,
        };
        let [loaded] = store.load(by_bytes).unwrap().try_into().unwrap();
        assert_eq!(loaded.messages.len(), 3);
        assert_eq!(loaded.tail.map(|tail| tail.first_seq), Some(4));
    }

    #[test]
    fn the_payload_length_is_read_from_the_start_of_a_stored_message() {
        for len in [0, 1, 127, 128, 70_000] {
            let Change::Stored { message, .. } = stored(1, 0, &"y".repeat(len)) else {
                unreachable!()
            };
            let encoded = encode(&message).unwrap();
            assert_eq!(payload_len(&encoded).unwrap(), len);
        }
        assert!(payload_len(&[0x85]).is_err(), "a length cut short");
        assert!(
            payload_len(&[5, 1, 2]).is_err(),
            "fewer bytes than the length"
        );
    }

    #[test]
    fn a_mailbox_that_cannot_keep_a_tail_is_loaded_whole() {
        let backend = Faulty::default();
        let store = open(&backend);
        let Change::Mailbox(mut priority) = record(7) else {
            unreachable!()
        };
        priority.attrs.order = postbox_core::Order::Priority;
        let mut changes = vec![Change::Mailbox(priority)];
        changes.extend((0..10).map(|seq| stored(7, seq, "x")));
        store.commit(&changes).unwrap();
        let budget = ResidentBudget {
            messages: 3,
            bytes: 1 << 20,
        };
        let [loaded] = store.load(budget).unwrap().try_into().unwrap();
        assert_eq!((loaded.messages.len(), loaded.tail), (10, None));
    }

    #[test]
    fn a_commit_applies_the_journal_in_order() {
        let backend = Faulty::default();
        let store = open(&backend);
        store
            .commit(&[
                record(7),
                stored(7, 0, "a"),
                stored(7, 1, "b"),
                stored(7, 2, "c"),
                removed(7, 0),
            ])
            .unwrap();
        assert_eq!(
            contents(&store),
            [(7, vec![(1, "b".into()), (2, "c".into())], 3)]
        );
        store.commit(&[removed(7, 1), removed(7, 2)]).unwrap();
        assert_eq!(
            contents(&store),
            [(7, vec![], 3)],
            "the next number is kept when empty"
        );
        store
            .commit(&[stored(7, 3, "d"), Change::Deleted(MailboxId::from_raw(7))])
            .unwrap();
        assert_eq!(contents(&store), []);
    }

    fn producer(id: u64, producer: u64, seq: u64) -> Change {
        Change::Producer {
            mailbox: MailboxId::from_raw(id),
            producer: ProducerId::from_raw(producer),
            record: ProducerRecord {
                seq,
                receiver: None,
                used: seq,
            },
        }
    }

    /// Each stored mailbox's producers, as `(producer, seq)`.
    fn producers(store: &Store) -> Vec<Vec<(u64, u64)>> {
        let all = store.load(crate::store_testing::EVERYTHING).unwrap();
        all.into_iter()
            .map(|m| {
                let records = m.producers.into_iter();
                records.map(|(p, r)| (p.as_raw(), r.seq)).collect()
            })
            .collect()
    }

    #[test]
    fn producers_are_stored_replaced_forgotten_and_deleted_with_their_mailbox() {
        let backend = Faulty::default();
        let store = open(&backend);
        store
            .commit(&[
                record(1),
                record(2),
                stored(1, 0, "a"),
                producer(1, 7, 1),
                producer(1, 8, 4),
                producer(2, 7, 9),
            ])
            .unwrap();
        store.commit(&[producer(1, 7, 2)]).unwrap();
        assert_eq!(producers(&store), [vec![(7, 2), (8, 4)], vec![(7, 9)]]);
        let forgotten = Change::ProducerForgotten {
            mailbox: MailboxId::from_raw(1),
            producer: ProducerId::from_raw(8),
        };
        store
            .commit(&[forgotten, Change::Deleted(MailboxId::from_raw(2))])
            .unwrap();
        assert_eq!(producers(&store), [vec![(7, 2)]]);
        store.commit(&[producer(9, 1, 1)]).unwrap();
        let error = store
            .load(crate::store_testing::EVERYTHING)
            .expect_err("producers without their mailbox");
        assert!(
            error.to_string().contains("producers of mailbox 9"),
            "{error}"
        );
    }

    #[test]
    fn a_full_disk_fails_the_commit_and_keeps_what_was_committed() {
        let backend = Faulty::default();
        let store = open(&backend);
        store.commit(&[record(1), stored(1, 0, "kept")]).unwrap();
        let before = contents(&store);

        backend.set_fault(DISK_FULL);
        let big = "x".repeat(1 << 20);
        let error = store
            .commit(&[stored(1, 1, &big), removed(1, 0)])
            .expect_err("no room");
        assert!(matches!(error, StoreError::Io { .. }), "{error}");
        assert!(error.to_string().contains("No space left"), "{error}");
        drop(store);

        // After a restart on the same bytes: exactly the last committed state.
        backend.set_fault(HEALTHY);
        let store = open(&backend);
        assert_eq!(contents(&store), before);
        store.commit(&[stored(1, 1, "after")]).unwrap();
        assert_eq!(contents(&store)[0].1.len(), 2);
    }

    #[test]
    fn a_failing_sync_fails_the_commit_and_a_restart_finds_a_consistent_store() {
        let backend = Faulty::default();
        let store = open(&backend);
        store.commit(&[record(1), stored(1, 0, "kept")]).unwrap();
        backend.set_fault(SYNC_FAILS);
        let error = store.commit(&[removed(1, 0)]).expect_err("sync fails");
        assert!(error.to_string().contains("Input/output error"), "{error}");
        drop(store);

        backend.set_fault(HEALTHY);
        let store = open(&backend);
        // The failed commit is either wholly there or wholly absent: never half.
        let messages = &contents(&store)[0].1;
        assert!(
            messages.is_empty() || messages == &[(0, "kept".to_owned())],
            "{messages:?}"
        );
    }

    #[test]
    fn messages_without_their_mailbox_are_reported_not_dropped() {
        let backend = Faulty::default();
        let store = open(&backend);
        store
            .commit(&[record(1), stored(1, 0, "fine"), stored(9, 0, "orphan")])
            .unwrap();
        let error = store
            .load(crate::store_testing::EVERYTHING)
            .expect_err("an orphan message");
        assert!(matches!(error, StoreError::Corrupt { .. }), "{error}");
        assert!(error.to_string().contains("mailbox 9"), "{error}");
    }

    #[test]
    fn a_store_of_another_format_is_refused() {
        let backend = Faulty::default();
        let store = open(&backend);
        let write = store.db.begin_write().unwrap();
        write
            .open_table(META)
            .unwrap()
            .insert("format", 99)
            .unwrap();
        write.commit().unwrap();
        let error = store.check_format().expect_err("another format");
        assert!(error.to_string().contains("format 99"), "{error}");
    }
}

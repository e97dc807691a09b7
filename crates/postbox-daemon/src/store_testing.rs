//! What the store's tests share: storage in memory that can start failing (a full disk, an I/O
//! error), that outlives the database or log on it (a restart), and that remembers what was
//! synced, so that a test can crash (lose every write since the last sync) and start again; and
//! journal changes written briefly.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use postbox_core::{
    Change, Credentials, Durability, DurableMailbox, MailboxAttrs, MailboxId, Message, Pid,
    StoredMessage, Timestamp,
};
use redb::StorageBackend;

use crate::logged_store::LoggedStore;
use crate::store::{Store, StoredMailbox};

/// Every operation works.
pub(crate) const HEALTHY: u8 = 0;
/// Writes and growing fail with `ENOSPC`.
pub(crate) const DISK_FULL: u8 = 1;
/// Syncs fail with `EIO` (the writes before them still reach memory, as a page cache's would).
pub(crate) const SYNC_FAILS: u8 = 2;

#[derive(Debug, Default)]
struct Disk {
    /// What a read sees: every write.
    written: Vec<u8>,
    /// What survives a crash: the bytes as of the last sync.
    synced: Vec<u8>,
}

/// A disk in memory; clones share it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Faulty {
    disk: Arc<Mutex<Disk>>,
    /// One of [`HEALTHY`], [`DISK_FULL`], [`SYNC_FAILS`].
    pub(crate) fault: Arc<AtomicU8>,
    /// Syncs that succeeded.
    pub(crate) syncs: Arc<AtomicU64>,
    /// Writes that succeeded.
    pub(crate) writes: Arc<AtomicU64>,
}

impl Faulty {
    /// A healthy disk holding what this one had synced: the machine lost power.
    pub(crate) fn crashed(&self) -> Faulty {
        let synced = self.disk.lock().unwrap().synced.clone();
        Faulty {
            disk: Arc::new(Mutex::new(Disk {
                written: synced.clone(),
                synced,
            })),
            ..Faulty::default()
        }
    }

    /// Every byte as a read sees it.
    pub(crate) fn bytes(&self) -> Vec<u8> {
        self.disk.lock().unwrap().written.clone()
    }

    /// Changes the byte at `offset`, on disk as well (damage, not a write).
    pub(crate) fn flip(&self, offset: usize) {
        let mut disk = self.disk.lock().unwrap();
        disk.written[offset] ^= 0x55;
        disk.synced[offset] ^= 0x55;
    }

    /// Injects `fault` from now on.
    pub(crate) fn set_fault(&self, fault: u8) {
        self.fault.store(fault, Ordering::SeqCst);
    }

    fn failing(&self, fault: u8) -> bool {
        self.fault.load(Ordering::SeqCst) == fault
    }
}

impl StorageBackend for Faulty {
    fn len(&self) -> Result<u64, std::io::Error> {
        Ok(self.disk.lock().unwrap().written.len() as u64)
    }

    fn read(&self, offset: u64, len: usize) -> Result<Vec<u8>, std::io::Error> {
        let disk = self.disk.lock().unwrap();
        let start = usize::try_from(offset).unwrap();
        Ok(disk.written[start..start + len].to_vec())
    }

    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        if self.failing(DISK_FULL) {
            return Err(std::io::Error::from_raw_os_error(28)); // ENOSPC
        }
        self.disk
            .lock()
            .unwrap()
            .written
            .resize(usize::try_from(len).unwrap(), 0);
        Ok(())
    }

    fn sync_data(&self, _eventual: bool) -> Result<(), std::io::Error> {
        if self.failing(SYNC_FAILS) {
            return Err(std::io::Error::from_raw_os_error(5)); // EIO
        }
        let mut disk = self.disk.lock().unwrap();
        disk.synced = disk.written.clone();
        self.syncs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        if self.failing(DISK_FULL) {
            return Err(std::io::Error::from_raw_os_error(28));
        }
        let mut disk = self.disk.lock().unwrap();
        let start = usize::try_from(offset).unwrap();
        disk.written[start..start + data.len()].copy_from_slice(data);
        self.writes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// A durable mailbox `id` created.
pub(crate) fn record(id: u64) -> Change {
    Change::Mailbox(DurableMailbox {
        id: MailboxId::from_raw(id),
        name: format!("m{id}"),
        attrs: MailboxAttrs {
            durability: Durability::Disk,
            ..MailboxAttrs::system_owned()
        },
        owner: Credentials::new(1000, 1000),
        quota_uid: 1000,
        created: Timestamp::from_nanos(1),
        changed: Timestamp::from_nanos(1),
    })
}

/// Message `seq` of mailbox `id` stored, holding `text`.
pub(crate) fn stored(id: u64, seq: u64, text: &str) -> Change {
    Change::Stored {
        mailbox: MailboxId::from_raw(id),
        seq,
        message: StoredMessage {
            message: Message::new(text.to_owned()),
            sender: Pid::from_raw(3),
            sent_at: Timestamp::from_nanos(seq),
            deliveries: 0,
        },
    }
}

/// Message `seq` of mailbox `id` removed.
pub(crate) fn removed(id: u64, seq: u64) -> Change {
    Change::Removed {
        mailbox: MailboxId::from_raw(id),
        seq,
    }
}

/// A stored mailbox, readably: `(mailbox, [(seq, payload)], next_seq)`.
pub(crate) type Contents = (u64, Vec<(u64, String)>, u64);

/// A budget that keeps every stored message in memory.
pub(crate) const EVERYTHING: postbox_core::ResidentBudget = postbox_core::ResidentBudget {
    messages: usize::MAX,
    bytes: usize::MAX,
};

/// What can be loaded from.
pub(crate) trait Loads {
    fn load_all(&self) -> Vec<StoredMailbox>;
}

impl Loads for Store {
    fn load_all(&self) -> Vec<StoredMailbox> {
        self.load(EVERYTHING).unwrap()
    }
}

impl Loads for LoggedStore {
    fn load_all(&self) -> Vec<StoredMailbox> {
        self.load(EVERYTHING).unwrap()
    }
}

/// What each stored mailbox holds.
pub(crate) fn contents(store: &impl Loads) -> Vec<Contents> {
    store
        .load_all()
        .into_iter()
        .map(|m| {
            let messages = m
                .messages
                .into_iter()
                .map(|(seq, s)| {
                    (
                        seq,
                        String::from_utf8_lossy(&s.message.payload).into_owned(),
                    )
                })
                .collect();
            (m.record.id.as_raw(), messages, m.next_seq)
        })
        .collect()
}

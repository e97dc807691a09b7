//! The store's write-ahead log: a preallocated file of checksummed records, each one group
//! commit's changes, made durable with one `fdatasync` before the commit is answered.
//!
//! Why a log in front of the B-tree: a durable redb commit copies the B-tree path of every key it
//! touches and its allocator bookkeeping, writing several pages at scattered offsets of a file
//! that grows, then syncs them; appending one small record to a file whose blocks already exist
//! writes one block and syncs data only, which is what the disk's own fsync costs. The records are
//! folded into the B-tree without a sync, and a durable B-tree commit (a *checkpoint*) now and
//! then makes them redundant, after which the log starts over (see `logged_store.rs`).
//!
//! # Layout
//!
//! The file is preallocated with zeros when it is created (so that a sync never has to record a
//! new block or a new length) and never grows. Its first 4 KiB are the header, of which the first
//! sector holds: `PBOXLOG\0`, the format (`u32`), a salt (`u64`) chosen afresh at every reset, and
//! the CRC-32C of those 20 bytes. Records follow from offset 4096, one after another:
//!
//! | bytes | what |
//! |---|---|
//! | 4 | length of the payload (`u32`, little-endian) |
//! | 8 | the record's number (`u64`): one more than the record before it |
//! | 4 | CRC-32C of the payload |
//! | 4 | CRC-32C of the salt and the 16 bytes before |
//! | length | the payload |
//!
//! # Reading it back
//!
//! Records are read in order while they are whole (both checksums match, with this generation's
//! salt). The first that is not marks the end. Records are written one at a time, each synced
//! before the next is written, so only the last one can have been torn by a crash: it was never
//! answered, and is ignored, never "repaired" into data. To tell such a torn tail from damage in
//! the middle, the rest of the file is searched for a record header of this generation numbered
//! later: finding one means a record that was synced (and answered) went bad, and the log is
//! refused, untouched. Zeros, and records of earlier generations (another salt), never match; nor
//! can a message's payload pose as a record, since it cannot know the salt.

use std::path::{Path, PathBuf};

use redb::StorageBackend;

use crate::store::StoreError;

/// The log file in the state directory, beside the store.
pub const LOG_FILE: &str = "postbox.log";

/// The size a new log is preallocated to.
pub(crate) const CAPACITY: u64 = 16 << 20;

/// The largest log file this daemon reads: a longer one is not one it wrote.
const LARGEST_FILE: u64 = 1 << 30;

const MAGIC: [u8; 8] = *b"PBOXLOG\0";
const FORMAT: u32 = 1;
/// The header's meaningful bytes: magic, format, salt, checksum.
const HEADER_BYTES: usize = 24;
/// Where the first record goes: the header has a block of its own.
pub(crate) const FIRST_RECORD: u64 = 4096;
/// A record's bytes before its payload.
pub(crate) const RECORD_HEADER: u64 = 20;

/// A whole record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// Its number.
    pub(crate) seq: u64,
    /// What was logged.
    pub(crate) payload: Vec<u8>,
}

/// The open log, positioned after its last record.
pub(crate) struct StoreLog {
    file: Box<dyn StorageBackend>,
    path: PathBuf,
    salt: u64,
    /// Where the next record goes.
    end: u64,
    /// The file's length: records never go past it.
    capacity: u64,
}

impl std::fmt::Debug for StoreLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreLog")
            .field("path", &self.path)
            .field("end", &self.end)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl StoreLog {
    /// The log on `file` (called `path` in messages); [`StoreLog::read`] reads it, preparing
    /// it first when it is new.
    pub(crate) fn new(file: Box<dyn StorageBackend>, path: &Path, capacity: u64) -> StoreLog {
        StoreLog {
            file,
            path: path.to_owned(),
            salt: 0,
            end: FIRST_RECORD,
            capacity,
        }
    }

    /// Reads the whole records, in order, numbered after `after` (the last record the caller
    /// has; `0` for none), and positions the log after the last whole one. An empty file, or
    /// one whose header was never written, is made a new, empty log first.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when reading or preparing the file fails; [`StoreError::Corrupt`] when
    /// its header is not one this daemon writes, or a record in the middle is damaged.
    pub(crate) fn read(&mut self, after: u64) -> Result<Vec<Record>, StoreError> {
        let len = self
            .file
            .len()
            .map_err(|e| self.io("reading the length of", &e))?;
        if len > LARGEST_FILE {
            return Err(self.corrupt(format!(
                "it is {len} bytes long, more than any log this daemon writes ({LARGEST_FILE})"
            )));
        }
        if len < FIRST_RECORD || self.unwritten_header()? {
            self.create()?;
            return Ok(Vec::new());
        }
        self.capacity = len;
        let bytes = self
            .file
            .read(0, usize::try_from(len).expect("at most LARGEST_FILE"))
            .map_err(|e| self.io("reading", &e))?;
        self.salt = parse_header(&bytes[..HEADER_BYTES]).map_err(|why| self.corrupt(why))?;
        let (records, end) = self.parse_records(&bytes, after)?;
        self.end = end;
        Ok(records)
    }

    /// Appends record `seq` holding `payload`, and syncs it. The log only moves on when both
    /// succeeded.
    ///
    /// # Panics
    ///
    /// When the record does not fit ([`StoreLog::fits`] says whether it does).
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when the write or the sync fails: the record may or may not be on disk.
    pub(crate) fn append(&mut self, seq: u64, payload: &[u8]) -> Result<(), StoreError> {
        assert!(
            self.fits(payload.len()),
            "a record larger than the log's room"
        );
        let record = encode_record(self.salt, seq, payload);
        self.file
            .write(self.end, &record)
            .map_err(|e| self.io("writing to", &e))?;
        self.file
            .sync_data(false)
            .map_err(|e| self.io("syncing", &e))?;
        self.end += record.len() as u64;
        Ok(())
    }

    /// Whether a record of `len` payload bytes fits in the room left.
    pub(crate) fn fits(&self, len: usize) -> bool {
        self.end + RECORD_HEADER + len as u64 <= self.capacity
    }

    /// The most payload bytes one record can hold when the log is empty.
    pub(crate) fn largest_record(&self) -> u64 {
        self.capacity - FIRST_RECORD - RECORD_HEADER
    }

    /// The bytes of records written since the last reset.
    pub(crate) fn used(&self) -> u64 {
        self.end - FIRST_RECORD
    }

    /// Empties the log: a new salt in the header, synced. Records written before no longer
    /// count; the caller has them elsewhere, durably.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when the header cannot be written or synced: the log may still hold
    /// the records of before (harmless to a caller that has them durably).
    pub(crate) fn reset(&mut self) -> Result<(), StoreError> {
        let salt = fresh_salt(self.salt);
        self.file
            .write(0, &encode_header(salt))
            .map_err(|e| self.io("writing the header of", &e))?;
        self.file
            .sync_data(false)
            .map_err(|e| self.io("syncing", &e))?;
        self.salt = salt;
        self.end = FIRST_RECORD;
        Ok(())
    }

    /// The file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the header is all zeros: preallocation began but did not finish, so no record
    /// was ever written.
    fn unwritten_header(&self) -> Result<bool, StoreError> {
        let header = self
            .file
            .read(0, HEADER_BYTES)
            .map_err(|e| self.io("reading", &e))?;
        Ok(header.iter().all(|&b| b == 0))
    }

    /// Zeros over the whole capacity, synced, then the header, synced: a crash in between
    /// leaves a zero header, which the next open prepares again.
    fn create(&mut self) -> Result<(), StoreError> {
        self.file
            .set_len(self.capacity)
            .map_err(|e| self.io("preallocating", &e))?;
        // Written, not only sized: blocks of a sparse or `fallocate`d file are allocated (or
        // marked written) at their first write, a metadata change every later sync would carry.
        let zeros = vec![0; 1 << 20];
        let mut offset = 0;
        while offset < self.capacity {
            let len = zeros
                .len()
                .min(usize::try_from(self.capacity - offset).unwrap_or(usize::MAX));
            self.file
                .write(offset, &zeros[..len])
                .map_err(|e| self.io("preallocating", &e))?;
            offset += len as u64;
        }
        self.file
            .sync_data(false)
            .map_err(|e| self.io("syncing", &e))?;
        self.reset()
    }

    /// The whole records numbered after `after` in order, and where the next one goes.
    fn parse_records(&self, bytes: &[u8], after: u64) -> Result<(Vec<Record>, u64), StoreError> {
        let mut records = Vec::new();
        let mut at = FIRST_RECORD;
        let mut last: Option<u64> = None;
        while let Some((seq, payload)) = read_record(bytes, at, self.salt) {
            if let Some(last) = last
                && seq != last + 1
            {
                return Err(self.corrupt(format!(
                    "the record at offset {at} is numbered {seq}, after record {last}"
                )));
            }
            last = Some(seq);
            if seq > after {
                records.push(Record {
                    seq,
                    payload: payload.to_vec(),
                });
            }
            at += RECORD_HEADER + payload.len() as u64;
        }
        // `at` is the end, or a torn last record, or damage with records after it.
        let newest = last.unwrap_or(after).max(after);
        if let Some((later, seq)) = find_record_after(bytes, at + 1, self.salt, newest) {
            return Err(self.corrupt(format!(
                "the record at offset {at} is damaged, yet record {seq} follows at offset \
                 {later}: a record that was synced has changed"
            )));
        }
        Ok((records, at))
    }

    fn io(&self, what: &str, error: &std::io::Error) -> StoreError {
        StoreError::Io {
            path: self.path.clone(),
            why: format!("{what} the log: {error}"),
        }
    }

    fn corrupt(&self, why: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            why,
        }
    }
}

fn encode_header(salt: u64) -> [u8; HEADER_BYTES] {
    let mut header = [0; HEADER_BYTES];
    header[..8].copy_from_slice(&MAGIC);
    header[8..12].copy_from_slice(&FORMAT.to_le_bytes());
    header[12..20].copy_from_slice(&salt.to_le_bytes());
    let crc = crc32c::crc32c(&header[..20]);
    header[20..].copy_from_slice(&crc.to_le_bytes());
    header
}

/// The salt of a header, or why it is not one this daemon wrote.
fn parse_header(header: &[u8]) -> Result<u64, String> {
    if header[..8] != MAGIC {
        return Err("it does not begin like a postbox log".to_owned());
    }
    let crc = u32::from_le_bytes(header[20..24].try_into().expect("4 bytes"));
    if crc32c::crc32c(&header[..20]) != crc {
        return Err("its header's checksum does not match".to_owned());
    }
    let format = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
    if format != FORMAT {
        return Err(format!("format {format}, this daemon writes {FORMAT}"));
    }
    Ok(u64::from_le_bytes(
        header[12..20].try_into().expect("8 bytes"),
    ))
}

fn encode_record(salt: u64, seq: u64, payload: &[u8]) -> Vec<u8> {
    let len =
        u32::try_from(payload.len()).expect("a record fits the log, which is far below 4 GiB");
    let mut record = Vec::with_capacity(RECORD_HEADER as usize + payload.len());
    record.extend_from_slice(&len.to_le_bytes());
    record.extend_from_slice(&seq.to_le_bytes());
    record.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    let check = header_check(salt, &record[..16]);
    record.extend_from_slice(&check.to_le_bytes());
    record.extend_from_slice(payload);
    record
}

fn header_check(salt: u64, header: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&salt.to_le_bytes()), header)
}

/// The record at `at`, when it is whole and of this salt: its number and payload.
fn read_record(bytes: &[u8], at: u64, salt: u64) -> Option<(u64, &[u8])> {
    let (seq, len) = read_record_header(bytes, at, salt)?;
    let start = usize::try_from(at + RECORD_HEADER).ok()?;
    let payload = &bytes[start..start + len];
    let crc = u32::from_le_bytes(bytes[at as usize + 12..at as usize + 16].try_into().ok()?);
    (crc32c::crc32c(payload) == crc).then_some((seq, payload))
}

/// The number and payload length of a record header at `at` that is of this salt and whose
/// payload lies within `bytes`.
fn read_record_header(bytes: &[u8], at: u64, salt: u64) -> Option<(u64, usize)> {
    let start = usize::try_from(at).ok()?;
    let header = bytes.get(start..start.checked_add(RECORD_HEADER as usize)?)?;
    let check = u32::from_le_bytes(header[16..20].try_into().ok()?);
    if header_check(salt, &header[..16]) != check {
        return None;
    }
    let len = usize::try_from(u32::from_le_bytes(header[..4].try_into().ok()?)).ok()?;
    let seq = u64::from_le_bytes(header[4..12].try_into().ok()?);
    let end = start
        .checked_add(RECORD_HEADER as usize)?
        .checked_add(len)?;
    (end <= bytes.len()).then_some((seq, len))
}

/// The first record header of this salt at or after offset `from`, numbered after `newest`.
///
/// Every offset is tried, so the number is looked at first: zeros and records of earlier
/// generations are numbered `newest` or less, and the checksum is computed only for a header
/// numbered within as many records as the log could hold.
fn find_record_after(bytes: &[u8], from: u64, salt: u64, newest: u64) -> Option<(u64, u64)> {
    let last_start = (bytes.len() as u64).checked_sub(RECORD_HEADER)?;
    let most = newest.saturating_add(bytes.len() as u64 / RECORD_HEADER);
    (from..=last_start).find_map(|at| {
        let start = usize::try_from(at).ok()?;
        let seq = u64::from_le_bytes(bytes[start + 4..start + 12].try_into().ok()?);
        if seq <= newest || seq > most {
            return None;
        }
        read_record_header(bytes, at, salt).map(|(seq, _)| (at, seq))
    })
}

/// A salt unlike `previous`, not predictable from outside the daemon.
fn fresh_salt(previous: u64) -> u64 {
    use std::hash::BuildHasher as _;
    let state = std::collections::hash_map::RandomState::new();
    let mut salt = state.hash_one((std::time::SystemTime::now(), std::process::id(), previous));
    while salt == previous {
        salt = state.hash_one(salt);
    }
    salt
}

#[cfg(test)]
mod tests {
    //! The log's own format: records read back, resets, headers, and what is not a record.

    use super::*;
    use crate::store_testing::Faulty;

    const SMALL: u64 = 64 << 10;

    fn open(disk: &Faulty, after: u64) -> Result<(StoreLog, Vec<Record>), StoreError> {
        let mut log = StoreLog::new(Box::new(disk.clone()), Path::new("test.log"), SMALL);
        let records = log.read(after)?;
        Ok((log, records))
    }

    fn numbers(records: &[Record]) -> Vec<u64> {
        records.iter().map(|r| r.seq).collect()
    }

    #[test]
    fn records_read_back_in_order_and_a_reset_empties_the_log() {
        let disk = Faulty::default();
        let (mut log, records) = open(&disk, 0).unwrap();
        assert!(records.is_empty());
        assert_eq!(disk.bytes().len() as u64, SMALL, "preallocated");
        for seq in 1..=3 {
            log.append(seq, format!("record {seq}").as_bytes()).unwrap();
        }
        let (_, records) = open(&disk, 0).unwrap();
        assert_eq!(numbers(&records), [1, 2, 3]);
        assert_eq!(records[1].payload, b"record 2");
        let (_, records) = open(&disk, 2).unwrap();
        assert_eq!(numbers(&records), [3], "those after the one asked for");

        log.reset().unwrap();
        log.append(4, b"record 4").unwrap();
        let (log, records) = open(&disk, 3).unwrap();
        assert_eq!(
            numbers(&records),
            [4],
            "the old generation is gone, though its bytes remain"
        );
        assert_eq!(log.used(), RECORD_HEADER + 8);
        assert_eq!(disk.bytes().len() as u64, SMALL, "never grows");
    }

    #[test]
    fn a_log_whose_header_was_never_written_is_prepared_again() {
        let disk = Faulty::default();
        disk.set_len(SMALL).unwrap();
        let (mut log, records) = open(&disk, 0).unwrap();
        assert!(records.is_empty());
        log.append(1, b"x").unwrap();
        assert_eq!(numbers(&open(&disk, 0).unwrap().1), [1]);
    }

    #[test]
    fn a_file_that_is_no_log_is_refused_untouched() {
        let disk = Faulty::default();
        disk.set_len(SMALL).unwrap();
        disk.write(0, b"SQLite format 3\0").unwrap();
        let before = disk.bytes();
        let error = open(&disk, 0).expect_err("not a log");
        assert!(
            error
                .to_string()
                .contains("does not begin like a postbox log"),
            "{error}"
        );
        assert_eq!(disk.bytes(), before);

        let disk = Faulty::default();
        open(&disk, 0).unwrap();
        disk.flip(13);
        let error = open(&disk, 0).expect_err("a damaged header");
        assert!(error.to_string().contains("checksum"), "{error}");
    }

    #[test]
    fn a_payload_cannot_pose_as_a_record_without_the_salt() {
        // Record 2's payload holds a record header numbered 9; record 2 is then torn, so the
        // search for later records looks inside its payload.
        for (salt_known, refused) in [(false, false), (true, true)] {
            let disk = Faulty::default();
            let (mut log, _) = open(&disk, 0).unwrap();
            log.append(1, b"first").unwrap();
            let salt = u64::from_le_bytes(disk.bytes()[12..20].try_into().unwrap());
            let forged = encode_record(if salt_known { salt } else { 0 }, 9, b"forged");
            let mut payload = vec![0; 8];
            payload.extend_from_slice(&forged);
            log.append(2, &payload).unwrap();
            disk.flip((FIRST_RECORD + RECORD_HEADER + 5) as usize);

            let result = open(&disk, 0);
            assert_eq!(result.is_err(), refused, "salt known: {salt_known}");
            if let Ok((_, records)) = result {
                assert_eq!(numbers(&records), [1]);
            }
        }
    }

    #[test]
    fn a_record_that_does_not_fit_is_not_offered() {
        let disk = Faulty::default();
        let (mut log, _) = open(&disk, 0).unwrap();
        let largest = usize::try_from(log.largest_record()).unwrap();
        assert!(log.fits(largest));
        assert!(!log.fits(largest + 1));
        log.append(1, &vec![7; largest]).unwrap();
        assert!(!log.fits(0));
        assert_eq!(numbers(&open(&disk, 0).unwrap().1), [1]);
    }
}

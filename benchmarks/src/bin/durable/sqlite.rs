//! SQLite, as a floor: WAL mode, `synchronous=FULL` (the WAL is fsynced at every commit), one
//! `INSERT` per message in its own transaction (autocommit), producers as threads each with its
//! own connection. SQLite lets one writer at a time in; the others wait in its busy handler.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use rusqlite::Connection;

use crate::load::{self, Run, Timing};

/// How long a producer waits for the write lock before its insert fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens `path` as every connection here is opened.
fn open(path: &Path) -> Result<Connection> {
    let connection =
        Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    Ok(connection)
}

/// One run in a fresh database `DIR/bench.sqlite`.
///
/// # Errors
///
/// When the database cannot be created or an insert fails.
pub(crate) fn run(dir: &Path, producers: usize, size: usize, timing: Timing) -> Result<Run> {
    let path = dir.join("bench.sqlite");
    let schema = open(&path)?;
    schema
        .execute_batch(
            "CREATE TABLE messages (id INTEGER PRIMARY KEY, producer INTEGER NOT NULL, body BLOB NOT NULL)",
        )
        .context("creating the table")?;
    let mode: String = schema.pragma_query_value(None, "journal_mode", |row| row.get(0))?;
    anyhow::ensure!(
        mode.eq_ignore_ascii_case("wal"),
        "SQLite refused WAL mode ({mode})"
    );
    let payload = vec![0x5a_u8; size];
    load::threads(producers, timing, |i| {
        let connection = open(&path)?;
        let payload = payload.clone();
        Ok(move || {
            connection
                .prepare_cached("INSERT INTO messages (producer, body) VALUES (?1, ?2)")?
                .execute((i as i64, &payload[..]))
                .context("insert")?;
            Ok(())
        })
    })
}

//! What `ls`, `stat` and `ps` print: aligned tables for people, JSON for programs; and how
//! `recv` and `peek` print messages.
//!
//! JSON is the library's own types serialised as they are (`postbox-core`'s `serde` form), so a
//! program reading it sees exactly the fields documented on `MailboxStats`, `EngineStats` and
//! `ProcessInfo`. Tables use the same spellings the flags take (`zero`, `round-robin`, `fixed:16B`,
//! `64KiB`).

use std::io::{self, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use postbox_core::{
    Capacity, Dispatch, EngineStats, MailboxStats, MessageSize, Order, Overflow, Owner, Ownership,
    Pid, ProcessInfo, Received, Receivers, Timestamp, WaitInfo, WaitKind, WaitTarget,
};
use serde::Serialize;
use serde_json::json;

use crate::values::show_bytes;

/// How a column's cells line up.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Align {
    /// Text: padded on the right.
    Left,
    /// Numbers: padded on the left.
    Right,
}

/// A table: a header row and rows of cells, printed with columns padded to their widest cell.
#[derive(Debug)]
pub(crate) struct Table {
    /// Column titles and alignments.
    columns: Vec<(&'static str, Align)>,
    /// The rows, each with one cell per column.
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these columns.
    pub(crate) fn new(columns: &[(&'static str, Align)]) -> Table {
        Table {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    ///
    /// # Panics
    ///
    /// If the row does not have one cell per column: a bug in the command building it.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        assert_eq!(cells.len(), self.columns.len(), "one cell per column");
        self.rows.push(cells);
    }

    /// Writes the table, two spaces between columns and no trailing blanks.
    pub(crate) fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let mut widths: Vec<usize> = self.columns.iter().map(|(title, _)| title.len()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let header: Vec<String> = self
            .columns
            .iter()
            .map(|(title, _)| (*title).to_owned())
            .collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                let pad = " ".repeat(widths[i] - cell.chars().count());
                if i > 0 {
                    line.push_str("  ");
                }
                match self.columns[i].1 {
                    Align::Left => {
                        line.push_str(cell);
                        line.push_str(&pad);
                    }
                    Align::Right => {
                        line.push_str(&pad);
                        line.push_str(cell);
                    }
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// Writes `text` on stderr as `postbox: text`. A closed stderr is ignored: there is nowhere
/// left to say anything, and it is no reason to fail the command.
pub(crate) fn note(text: &str) {
    let _ = writeln!(io::stderr(), "postbox: {text}");
}

/// Writes one received message: its payload and a newline, or with `--json` a line of JSON with
/// its metadata and either `payload` (UTF-8) or `payload_hex` (any other bytes), never both.
pub(crate) fn received(
    out: &mut impl io::Write,
    source: &str,
    message: &Received,
    as_json: bool,
) -> io::Result<()> {
    if as_json {
        let mut line = json!({
            "source": source,
            "sender": message.sender.as_raw(),
            "type": message.mtype(),
            "priority": message.priority(),
            "seq": message.seq,
            "attempt": message.attempt,
            "sent_at_ns": message.sent_at.as_nanos(),
        });
        // Exactly one of the two keys, so that a reader tells text from bytes by which is there.
        let payload = message.payload();
        match std::str::from_utf8(payload) {
            Ok(text) => line["payload"] = json!(text),
            Err(_) => {
                let hex: String = payload.iter().map(|b| format!("{b:02x}")).collect();
                line["payload_hex"] = json!(hex);
            }
        }
        serde_json::to_writer(&mut *out, &line)?;
        writeln!(out)?;
    } else {
        out.write_all(message.payload())?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Writes `value` as pretty JSON and a newline.
pub(crate) fn json(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

/// Writes `fields` as an aligned two-column list: `key  value`.
fn fields(out: &mut impl Write, fields: &[(&str, String)]) -> io::Result<()> {
    let mut table = Table::new(&[("FIELD", Align::Left), ("VALUE", Align::Left)]);
    for (key, value) in fields {
        table.row(vec![(*key).to_owned(), value.clone()]);
    }
    // A key/value list needs no header row.
    let mut text = Vec::new();
    table.write(&mut text)?;
    let body = text.splitn(2, |&b| b == b'\n').nth(1).unwrap_or_default();
    out.write_all(body)
}

/// A capacity as `create --capacity` and `--max-bytes` take it: `zero`, `unbounded`, `64 msgs, 1MiB`.
pub(crate) fn capacity(capacity: Capacity) -> String {
    match capacity {
        Capacity::Zero => "zero".to_owned(),
        Capacity::Unbounded => "unbounded".to_owned(),
        Capacity::Bounded { messages, bytes } => format!("{messages} msgs, {}", show_bytes(bytes)),
    }
}

/// A size rule as `--size` takes it.
pub(crate) fn size(size: MessageSize) -> String {
    match size {
        MessageSize::Fixed(n) => format!("fixed:{}", show_bytes(n)),
        MessageSize::Variable(n) => format!("max:{}", show_bytes(n)),
    }
}

/// A receivers policy as `--receivers` takes it.
pub(crate) fn receivers(receivers: Receivers) -> &'static str {
    match receivers {
        Receivers::Owner => "owner",
        Receivers::Exclusive => "exclusive",
        Receivers::Shared(Dispatch::FirstWaiting) => "shared",
        Receivers::Shared(Dispatch::RoundRobin) => "round-robin",
        Receivers::Pair => "pair",
        Receivers::Broadcast => "broadcast",
    }
}

/// An order as `--order` takes it.
fn order(order: Order) -> &'static str {
    match order {
        Order::Fifo => "fifo",
        Order::Priority => "priority",
    }
}

/// An overflow policy as `--overflow` takes it.
fn overflow(overflow: Overflow) -> &'static str {
    match overflow {
        Overflow::Block => "block",
        Overflow::DropOldest => "drop-oldest",
    }
}

/// Who owns a mailbox: `pid 7` or `uid 1000`.
pub(crate) fn owner(owner: Owner) -> String {
    match owner {
        Owner::Process(pid) => format!("pid {pid}"),
        Owner::System(credentials) => format!("uid {}", credentials.uid),
    }
}

/// Who owns a mailbox, in full: `process 7 (dies with it)` or `uid 1000, gid 100`.
fn owner_long(owner: Owner) -> String {
    match owner {
        Owner::Process(pid) => format!("process {pid} (deleted when it terminates)"),
        Owner::System(credentials) => {
            format!("system: uid {}, gid {}", credentials.uid, credentials.gid)
        }
    }
}

/// A timestamp as UTC date and time with milliseconds, or `never` for the epoch.
pub(crate) fn time(at: Timestamp) -> String {
    if at == Timestamp::ZERO {
        return "never".to_owned();
    }
    let nanos = at.as_nanos();
    let seconds = nanos / 1_000_000_000;
    let millis = (nanos / 1_000_000) % 1000;
    let (days, of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{millis:03} UTC",
        of_day / 3600,
        (of_day / 60) % 60,
        of_day % 60
    )
}

/// The Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// How long ago `at` was, roughly: `3s ago`, `5m ago`.
fn ago(at: Timestamp) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let seconds = now.saturating_sub(at.as_nanos()) / 1_000_000_000;
    match seconds {
        0..60 => format!("{seconds}s ago"),
        60..3600 => format!("{}m ago", seconds / 60),
        3600..86_400 => format!("{}h ago", seconds / 3600),
        _ => format!("{}d ago", seconds / 86_400),
    }
}

/// The last process to use a mailbox one way, and when: `pid 7 at ... (3s ago)`.
fn last(event: Option<(Pid, Timestamp)>) -> String {
    match event {
        None => "never".to_owned(),
        Some((pid, at)) => format!("pid {pid} at {} ({})", time(at), ago(at)),
    }
}

/// The `ls` table.
pub(crate) fn mailbox_table(out: &mut impl Write, mailboxes: &[MailboxStats]) -> io::Result<()> {
    let mut table = Table::new(&[
        ("NAME", Align::Left),
        ("MSGS", Align::Right),
        ("BYTES", Align::Right),
        ("CAPACITY", Align::Left),
        ("RECEIVERS", Align::Left),
        ("OWNER", Align::Left),
        ("MODE", Align::Left),
        ("SEND-WAIT", Align::Right),
        ("RECV-WAIT", Align::Right),
    ]);
    for mailbox in mailboxes {
        table.row(vec![
            mailbox.name.clone(),
            mailbox.messages.to_string(),
            mailbox.bytes.to_string(),
            capacity(mailbox.attrs.capacity),
            receivers(mailbox.attrs.receivers).to_owned(),
            owner(mailbox.owner),
            mailbox.mode.to_string(),
            mailbox.blocked_senders.to_string(),
            mailbox.blocked_receivers.to_string(),
        ]);
    }
    table.write(out)
}

/// The `stat NAME` list; `dead_letter` names the dead-letter mailbox when it still exists.
pub(crate) fn mailbox_stats(
    out: &mut impl Write,
    stats: &MailboxStats,
    dead_letter: Option<&str>,
) -> io::Result<()> {
    let redelivery = &stats.attrs.redelivery;
    let attrs = &stats.attrs;
    let ownership = match attrs.ownership {
        Ownership::Process => "process",
        Ownership::System => "system",
    };
    fields(
        out,
        &[
            ("name", stats.name.clone()),
            ("id", stats.id.to_string()),
            ("owner", owner_long(stats.owner)),
            ("ownership", ownership.to_owned()),
            ("mode", stats.mode.to_string()),
            ("capacity", capacity(attrs.capacity)),
            ("size", size(attrs.size)),
            ("order", order(attrs.order).to_owned()),
            ("overflow", overflow(attrs.overflow).to_owned()),
            ("receivers", receivers(attrs.receivers).to_owned()),
            (
                "lease time",
                redelivery
                    .lease_time
                    .map_or_else(|| "until settled".to_owned(), |t| format!("{t:?}")),
            ),
            (
                "max deliveries",
                redelivery
                    .max_deliveries
                    .map_or_else(|| "unlimited".to_owned(), |n| n.to_string()),
            ),
            (
                "dead letter",
                match (redelivery.dead_letter, dead_letter) {
                    (None, _) => "-".to_owned(),
                    (Some(_), Some(name)) => name.to_owned(),
                    (Some(id), None) => format!("{id} (deleted)"),
                },
            ),
            ("messages", stats.messages.to_string()),
            ("leased", stats.leased.to_string()),
            ("bytes", stats.bytes.to_string()),
            ("sent", stats.total_sent.to_string()),
            ("received", stats.total_received.to_string()),
            ("dropped", stats.dropped.to_string()),
            ("dead-lettered", stats.dead_lettered.to_string()),
            ("duplicates dropped", stats.duplicates_dropped.to_string()),
            ("last send", last(stats.last_send)),
            ("last receive", last(stats.last_recv)),
            ("created", time(stats.created)),
            ("changed", time(stats.changed)),
            ("blocked senders", stats.blocked_senders.to_string()),
            ("blocked receivers", stats.blocked_receivers.to_string()),
            ("openers", stats.openers.to_string()),
        ],
    )
}

/// The `stat` list for the whole node.
pub(crate) fn node_stats(out: &mut impl Write, stats: &EngineStats) -> io::Result<()> {
    fields(
        out,
        &[
            ("processes", stats.processes.to_string()),
            ("mailboxes", stats.mailboxes.to_string()),
            ("queued messages", stats.queued_messages.to_string()),
            ("queued bytes", stats.queued_bytes.to_string()),
            ("max queued bytes", show_bytes(stats.max_queued_bytes)),
            ("sent", stats.total_sent.to_string()),
            ("received", stats.total_received.to_string()),
            ("dropped", stats.total_dropped.to_string()),
            ("dead-lettered", stats.total_dead_lettered.to_string()),
        ],
    )
}

/// The `ps` table: each process's postbox and OS pids, name, user, inbox, what it owns, what
/// each of its waiting operations waits for and for how long, and its command line.
pub(crate) fn process_table(out: &mut impl Write, processes: &[ProcessInfo]) -> io::Result<()> {
    let now = Timestamp::from_system_time(SystemTime::now());
    let mut table = Table::new(&[
        ("PID", Align::Right),
        ("OS-PID", Align::Right),
        ("NAME", Align::Left),
        ("UID", Align::Right),
        ("GID", Align::Right),
        ("INBOX", Align::Right),
        ("OWNS", Align::Right),
        ("WAITING", Align::Left),
        ("COMMAND", Align::Left),
    ]);
    let or_dash = |text: Option<String>| text.unwrap_or_else(|| "-".to_owned());
    for process in processes {
        let waits: Vec<String> = process.waits.iter().map(|w| wait(w, now)).collect();
        table.row(vec![
            process.pid.to_string(),
            or_dash(process.os_pid.map(|pid| pid.to_string())),
            or_dash(process.name.clone()),
            process.uid.to_string(),
            process.gid.to_string(),
            process.inbox_messages.to_string(),
            process.owned_mailboxes.to_string(),
            or_dash((!waits.is_empty()).then(|| waits.join("; "))),
            or_dash(process.command.clone()),
        ]);
    }
    table.write(out)
}

/// One waiting operation as `ps` shows it: `recv jobs 3s`, `send pid 7 250ms`, a select as
/// `recv jobs|inbox|from pid 4 1m`.
pub(crate) fn wait(wait: &WaitInfo, now: Timestamp) -> String {
    let kind = match wait.kind {
        WaitKind::Recv => "recv",
        WaitKind::Lease => "lease",
        WaitKind::Send => "send",
        WaitKind::Receipt => "receipt",
        WaitKind::Call => "call",
    };
    let receiving = matches!(wait.kind, WaitKind::Recv | WaitKind::Lease);
    let targets: Vec<String> = wait
        .on
        .iter()
        .map(|target| match target {
            WaitTarget::Mailbox(name) => name.clone(),
            WaitTarget::Inbox => "inbox".to_owned(),
            WaitTarget::Process(pid) if receiving => format!("from pid {pid}"),
            WaitTarget::Process(pid) => format!("pid {pid}"),
        })
        .collect();
    let waited = Duration::from_nanos(now.as_nanos().saturating_sub(wait.since.as_nanos()));
    format!("{kind} {} {}", targets.join("|"), duration(waited))
}

/// A duration, roughly, in its largest unit: `250ms`, `3s`, `5m`, `2h`, `4d`.
pub(crate) fn duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    let seconds = duration.as_secs();
    match seconds {
        0 => format!("{millis}ms"),
        1..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86_400 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(table: &Table) -> String {
        let mut out = Vec::new();
        table.write(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn columns_are_padded_to_their_widest_cell_and_numbers_align_right() {
        let mut table = Table::new(&[
            ("NAME", Align::Left),
            ("N", Align::Right),
            ("X", Align::Left),
        ]);
        table.row(vec!["jobs".into(), "7".into(), "a".into()]);
        table.row(vec!["j".into(), "1234".into(), String::new()]);
        assert_eq!(render(&table), "NAME     N  X\njobs     7  a\nj     1234\n");
    }

    #[test]
    fn timestamps_print_as_utc_dates() {
        assert_eq!(time(Timestamp::ZERO), "never");
        assert_eq!(
            time(Timestamp::from_nanos(1_700_000_000_123_000_000)),
            "2023-11-14 22:13:20.123 UTC"
        );
        assert_eq!(
            time(Timestamp::from_nanos(951_782_400_000_000_000)),
            "2000-02-29 00:00:00.000 UTC"
        );
    }

    #[test]
    fn waits_say_what_they_wait_on_and_for_how_long() {
        let since = Timestamp::from_nanos(10_000_000_000);
        let select = WaitInfo {
            kind: WaitKind::Recv,
            on: vec![
                WaitTarget::Mailbox("jobs".into()),
                WaitTarget::Inbox,
                WaitTarget::Process(Pid::from_raw(4)),
            ],
            since,
        };
        let later = Timestamp::from_nanos(13_500_000_000);
        assert_eq!(wait(&select, later), "recv jobs|inbox|from pid 4 3s");
        let send = WaitInfo {
            kind: WaitKind::Send,
            on: vec![WaitTarget::Process(Pid::from_raw(7))],
            since,
        };
        assert_eq!(wait(&send, since), "send pid 7 0ms");
        assert_eq!(duration(Duration::from_millis(250)), "250ms");
        assert_eq!(duration(Duration::from_secs(125)), "2m");
        assert_eq!(duration(Duration::from_secs(3 * 86_400)), "3d");
    }

    #[test]
    fn attributes_print_as_the_flags_spell_them() {
        assert_eq!(capacity(Capacity::Zero), "zero");
        assert_eq!(capacity(Capacity::bounded(64, 1 << 20)), "64 msgs, 1MiB");
        assert_eq!(size(MessageSize::Fixed(16)), "fixed:16B");
        assert_eq!(
            receivers(Receivers::Shared(Dispatch::RoundRobin)),
            "round-robin"
        );
    }
}

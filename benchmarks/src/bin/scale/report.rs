//! The results: the steps measured, the figures derived from them, and their rendering as
//! `scale.md`, `scale.json` and a printed summary.

use std::fmt::Write as _;

use serde::Serialize;

use crate::client::{CONNECT_BATCH, PIPELINE_WINDOW};
use crate::daemon::Stopped;
use crate::nofile::Nofile;
use crate::procfs::{Machine, MemSample};

/// The target: this many idle clients and empty mailboxes in at most this much daemon memory.
pub(crate) const TARGET_CLIENTS: usize = 10_000;
/// See [`TARGET_CLIENTS`].
pub(crate) const TARGET_MAILBOXES: usize = 100_000;
/// See [`TARGET_CLIENTS`].
pub(crate) const TARGET_MIB: f64 = 1024.0;

/// What a step did.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StepKind {
    /// The daemon with nobody connected.
    Idle,
    /// Idle clients were connected.
    Clients,
    /// Empty mailboxes were created.
    Mailboxes,
    /// Every idle client made one request (after the target was measured).
    Touched,
}

impl StepKind {
    fn label(self) -> &'static str {
        match self {
            StepKind::Idle => "idle daemon",
            StepKind::Clients => "+ idle clients",
            StepKind::Mailboxes => "+ empty mailboxes",
            StepKind::Touched => "each client made 1 request",
        }
    }
}

/// One measurement of the daemon.
#[derive(Clone, Copy, PartialEq, Debug, Serialize)]
pub(crate) struct Step {
    /// What was done to get here.
    pub(crate) kind: StepKind,
    /// Idle clients connected (the control connection that creates mailboxes not counted).
    pub(crate) clients: usize,
    /// Benchmark mailboxes existing.
    pub(crate) mailboxes: usize,
    /// The daemon's memory.
    pub(crate) memory: MemSample,
    /// How long getting here from the previous step took, in milliseconds.
    pub(crate) took_ms: f64,
}

impl Step {
    /// How many clients or mailboxes this step added to `previous`'s.
    fn items_added(&self, previous: &Step) -> usize {
        match self.kind {
            StepKind::Clients => self.clients.saturating_sub(previous.clients),
            StepKind::Mailboxes => self.mailboxes.saturating_sub(previous.mailboxes),
            StepKind::Idle | StepKind::Touched => 0,
        }
    }
}

/// The resident memory each item added between `before` and `after` cost, in bytes (negative
/// if the daemon shrank); `None` when no item was added.
pub(crate) fn bytes_per_item(before: &Step, after: &Step, items: usize) -> Option<f64> {
    if items == 0 {
        return None;
    }
    let delta_kib = after.memory.vm_rss_kib as f64 - before.memory.vm_rss_kib as f64;
    Some(delta_kib * 1024.0 / items as f64)
}

/// The figures derived from the steps.
#[derive(Clone, Copy, PartialEq, Debug, Serialize)]
pub(crate) struct Derived {
    /// Bytes of daemon memory per idle client: from the idle daemon to all clients connected.
    pub(crate) bytes_per_client: Option<f64>,
    /// The same between the last two client steps, without the one-off costs of the first
    /// connections (runtime threads, allocator arenas).
    pub(crate) bytes_per_client_marginal: Option<f64>,
    /// Bytes of daemon memory per empty mailbox: from no mailboxes to all of them.
    pub(crate) bytes_per_mailbox: Option<f64>,
    /// The same between the last two mailbox steps.
    pub(crate) bytes_per_mailbox_marginal: Option<f64>,
    /// Connecting (handshake included), in microseconds per client.
    pub(crate) connect_us_per_client: Option<f64>,
    /// Creating, in microseconds per mailbox.
    pub(crate) create_us_per_mailbox: Option<f64>,
}

impl Derived {
    /// Derives the figures from `steps` (in the order they were measured).
    pub(crate) fn from_steps(steps: &[Step]) -> Derived {
        let of = |kind: StepKind| steps.iter().filter(move |s| s.kind == kind);
        let idle = steps.iter().find(|s| s.kind == StepKind::Idle);
        let clients: Vec<&Step> = of(StepKind::Clients).collect();
        let mailboxes: Vec<&Step> = of(StepKind::Mailboxes).collect();
        // The step before the first mailbox step: the last one with every client connected.
        let before_mailboxes = clients.last().copied().or(idle);

        let average = |from: Option<&Step>, to: Option<&&Step>, items: fn(&Step) -> usize| {
            let (from, to) = (from?, *to?);
            bytes_per_item(from, to, items(to) - items(from))
        };
        let marginal = |series: &[&Step], items: fn(&Step) -> usize| match series {
            [.., a, b] => bytes_per_item(a, b, items(b) - items(a)),
            _ => None,
        };
        let rate = |series: &[&Step], items: usize| {
            let took: f64 = series.iter().map(|s| s.took_ms).sum();
            (items > 0).then(|| took * 1e3 / items as f64)
        };
        let total_clients = clients.last().map_or(0, |s| s.clients);
        let total_mailboxes = mailboxes.last().map_or(0, |s| s.mailboxes);
        Derived {
            bytes_per_client: average(idle, clients.last(), |s| s.clients),
            bytes_per_client_marginal: marginal(&clients, |s| s.clients),
            bytes_per_mailbox: average(before_mailboxes, mailboxes.last(), |s| s.mailboxes),
            bytes_per_mailbox_marginal: marginal(&mailboxes, |s| s.mailboxes),
            connect_us_per_client: rate(&clients, total_clients),
            create_us_per_mailbox: rate(&mailboxes, total_mailboxes),
        }
    }
}

/// The verdict on the target.
#[derive(Clone, Copy, PartialEq, Debug, Serialize)]
pub(crate) struct Target {
    /// The limit, in MiB.
    pub(crate) limit_mib: f64,
    /// The clients the target is about.
    pub(crate) clients: usize,
    /// The mailboxes the target is about.
    pub(crate) mailboxes: usize,
    /// The daemon's peak memory (VmHWM) once the run's clients and mailboxes all existed, MiB.
    pub(crate) measured_peak_mib: f64,
    /// The daemon's resident memory (VmRSS) at that moment, MiB.
    pub(crate) measured_rss_mib: f64,
    /// Whether the run was at least as large as the target.
    pub(crate) full_scale: bool,
    /// The idle daemon plus the per-item figures times the target's counts, MiB.
    pub(crate) projected_mib: Option<f64>,
    /// Met or missed; `None` when the run was smaller than the target.
    pub(crate) met: Option<bool>,
}

impl Target {
    /// Judges the run: `steps` as measured, `derived` from them.
    pub(crate) fn judge(steps: &[Step], derived: &Derived) -> Option<Target> {
        let idle = steps.iter().find(|s| s.kind == StepKind::Idle)?;
        // The last step with every client and mailbox, before the clients were touched.
        let last = steps.iter().rev().find(|s| s.kind != StepKind::Touched)?;
        let mib = |kib: u64| kib as f64 / 1024.0;
        let full_scale = last.clients >= TARGET_CLIENTS && last.mailboxes >= TARGET_MAILBOXES;
        let projected_mib = match (derived.bytes_per_client, derived.bytes_per_mailbox) {
            (Some(client), Some(mailbox)) => Some(
                mib(idle.memory.vm_rss_kib)
                    + (client * TARGET_CLIENTS as f64 + mailbox * TARGET_MAILBOXES as f64)
                        / (1024.0 * 1024.0),
            ),
            _ => None,
        };
        let measured_peak_mib = mib(last.memory.vm_hwm_kib);
        Some(Target {
            limit_mib: TARGET_MIB,
            clients: TARGET_CLIENTS,
            mailboxes: TARGET_MAILBOXES,
            measured_peak_mib,
            measured_rss_mib: mib(last.memory.vm_rss_kib),
            full_scale,
            projected_mib,
            met: full_scale.then_some(measured_peak_mib <= TARGET_MIB),
        })
    }

    /// The one-line verdict.
    pub(crate) fn line(&self, clients: usize, mailboxes: usize) -> String {
        let head = format!(
            "target: ≤ 1 GiB for {} clients + {} mailboxes",
            thousands(self.clients),
            thousands(self.mailboxes)
        );
        let projected = self
            .projected_mib
            .map(|p| format!("; projected from the per-item figures: {p:.0} MiB"))
            .unwrap_or_default();
        match self.met {
            Some(met) => format!(
                "{head}: {} ({:.0} MiB peak){projected}",
                if met { "met" } else { "missed" },
                self.measured_peak_mib
            ),
            None => format!(
                "{head}: not measured (this run: {} clients + {} mailboxes, {:.0} MiB peak){projected}",
                thousands(clients),
                thousands(mailboxes),
                self.measured_peak_mib
            ),
        }
    }
}

/// The checks that the daemon still worked at the end.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub(crate) struct Verification {
    /// Processes the daemon counted (the idle clients and the control connection).
    pub(crate) processes: usize,
    /// Mailboxes the daemon counted.
    pub(crate) mailboxes: usize,
    /// Idle clients that answered a request, all requests written before any answer was read.
    pub(crate) clients_answered: usize,
    /// How long that took, in milliseconds.
    pub(crate) clients_answered_ms: f64,
    /// A new connection created a mailbox, sent a message to it and received it back.
    pub(crate) round_trip: bool,
    /// The last benchmark mailbox, opened by that connection, was still empty.
    pub(crate) last_mailbox_empty: bool,
    /// `SIGTERM` with every client connected.
    pub(crate) stopped: Stopped,
}

/// Everything a run produced.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub(crate) struct Report {
    /// The idle clients asked for.
    pub(crate) clients_requested: usize,
    /// The idle clients connected (fewer when the open-file limit did not allow more).
    pub(crate) clients: usize,
    /// The mailboxes created.
    pub(crate) mailboxes: usize,
    /// A `--smoke` run.
    pub(crate) smoke: bool,
    /// When the run started, in seconds since the Unix epoch.
    pub(crate) started_unix: u64,
    /// Where it ran.
    pub(crate) machine: Machine,
    /// The benchmark's open-file limit.
    pub(crate) nofile: Nofile,
    /// The daemon's open-file limit, `(soft, hard)` as `/proc/<pid>/limits` reports it.
    pub(crate) daemon_nofile: (Option<u64>, Option<u64>),
    /// The daemon's connection limit.
    pub(crate) max_connections: usize,
    /// The daemon's mailbox limit (per uid).
    pub(crate) max_mailboxes: usize,
    /// The measurements, in order.
    pub(crate) steps: Vec<Step>,
    /// The figures derived from them.
    pub(crate) derived: Derived,
    /// The verdict.
    pub(crate) target: Option<Target>,
    /// The end-of-run checks.
    pub(crate) verification: Verification,
    /// How long the whole run took, in seconds.
    pub(crate) total_s: f64,
}

impl Report {
    /// The steps as a markdown table.
    pub(crate) fn table(&self) -> String {
        let mut out = String::from(
            "| step | clients | mailboxes | VmRSS | VmHWM | RssAnon | Δ VmRSS | per item added | took |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        let mut previous: Option<&Step> = None;
        for step in &self.steps {
            let (delta, per_item) = match previous {
                Some(prev) => {
                    let delta = step.memory.vm_rss_kib as f64 - prev.memory.vm_rss_kib as f64;
                    let unit = if step.kind == StepKind::Clients {
                        "client"
                    } else {
                        "mailbox"
                    };
                    let per = bytes_per_item(prev, step, step.items_added(prev))
                        .map(|b| format!("{}/{unit}", bytes(b)))
                        .unwrap_or_else(|| "—".to_owned());
                    (format!("{:+.1} MiB", delta / 1024.0), per)
                }
                None => ("—".to_owned(), "—".to_owned()),
            };
            let took = if step.kind == StepKind::Idle {
                "—".to_owned()
            } else {
                millis(step.took_ms)
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {delta} | {per_item} | {took} |",
                step.kind.label(),
                thousands(step.clients),
                thousands(step.mailboxes),
                mib(step.memory.vm_rss_kib),
                mib(step.memory.vm_hwm_kib),
                mib(step.memory.rss_anon_kib),
            );
            previous = Some(step);
        }
        out
    }

    /// The derived figures, the checks and the verdict, as markdown bullet points.
    pub(crate) fn findings(&self) -> String {
        let d = &self.derived;
        let mut out = String::new();
        let figure = |value: Option<f64>| value.map_or_else(|| "—".to_owned(), bytes);
        let _ = writeln!(
            out,
            "- per idle client: **{}** (0 → {} clients); marginal {} (last step)",
            figure(d.bytes_per_client),
            thousands(self.clients),
            figure(d.bytes_per_client_marginal)
        );
        let _ = writeln!(
            out,
            "- per empty mailbox: **{}** (0 → {} mailboxes); marginal {} (last step)",
            figure(d.bytes_per_mailbox),
            thousands(self.mailboxes),
            figure(d.bytes_per_mailbox_marginal)
        );
        if let Some(us) = d.connect_us_per_client {
            let total: f64 = self.took(StepKind::Clients);
            let _ = writeln!(
                out,
                "- connecting {} clients, handshake included, {CONNECT_BATCH} at a time: {} ({us:.0} µs per client)",
                thousands(self.clients),
                millis(total)
            );
        }
        if let Some(us) = d.create_us_per_mailbox {
            let total: f64 = self.took(StepKind::Mailboxes);
            let _ = writeln!(
                out,
                "- creating {} mailboxes on one connection, {PIPELINE_WINDOW} requests in flight: {} ({us:.1} µs per mailbox, {:.0} per second)",
                thousands(self.mailboxes),
                millis(total),
                1e6 / us
            );
        }
        let v = &self.verification;
        let _ = writeln!(
            out,
            "- still working at the end: the daemon counted {} processes and {} mailboxes; all {} idle clients answered a request ({}); a new connection created a mailbox, sent a message and received it back; the last benchmark mailbox was still empty",
            thousands(v.processes),
            thousands(v.mailboxes),
            thousands(v.clients_answered),
            millis(v.clients_answered_ms)
        );
        let _ = writeln!(
            out,
            "- `SIGTERM` with {} clients connected: exit status {} after {}",
            thousands(self.clients),
            v.stopped
                .exit_code
                .map_or_else(|| "none (killed by a signal)".to_owned(), |c| c.to_string()),
            millis(v.stopped.took_ms)
        );
        if self.clients < self.clients_requested {
            let _ = writeln!(
                out,
                "- **scaled down**: {} clients were asked for, but the open-file limit ({}) allows only {}",
                thousands(self.clients_requested),
                self.nofile.soft,
                thousands(self.clients)
            );
        }
        out
    }

    fn took(&self, kind: StepKind) -> f64 {
        self.steps
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| s.took_ms)
            .sum()
    }

    /// The verdict line.
    pub(crate) fn target_line(&self) -> String {
        match &self.target {
            Some(target) => target.line(self.clients, self.mailboxes),
            None => "target: not judged (no measurement)".to_owned(),
        }
    }

    /// `scale.md`.
    pub(crate) fn markdown(&self) -> String {
        let m = &self.machine;
        let mem = m.mem_total_kib.map_or_else(
            || "unknown".to_owned(),
            |k| format!("{:.0} GiB", k as f64 / 1048576.0),
        );
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# postbox daemon at scale: idle clients and empty mailboxes\n\n\
             Produced by `cargo run --release -p postbox-benchmarks --bin scale{}` \
             (`benchmarks/src/bin/scale.rs`). The daemon runs in a child process with its \
             limits raised (connections {}, mailboxes {}); idle clients connect over its Unix \
             socket and complete the handshake, then stay silent; empty mailboxes (system-owned, \
             default attributes) are created on one more connection. Memory is the daemon's, \
             from `/proc/<pid>/status`, after each step.\n\n\
             Machine: {}, {} CPUs, {mem} RAM, Linux {}, {} build. Open-file limit: {} \
             (hard {}).\n",
            if self.smoke { " -- --smoke" } else { "" },
            thousands(self.max_connections),
            thousands(self.max_mailboxes),
            m.cpu,
            m.cpus,
            m.kernel,
            m.build,
            self.nofile.soft,
            self.nofile.hard,
        );
        out.push_str(&self.table());
        out.push('\n');
        out.push_str(&self.findings());
        out.push('\n');
        let _ = writeln!(out, "{}", self.target_line());
        out.push_str(
            "\nVmRSS is the memory the daemon holds; VmHWM its peak so far; RssAnon the part it \
             allocated (the rest is its executable and libraries). The kernel's own socket \
             structures are not the daemon's memory and are not counted. \"Marginal\" figures \
             leave out one-off costs of the first items (runtime threads, allocator arenas). \
             The engine keeps processes' inboxes and mailboxes in hash tables that double \
             when nearly full, so memory per mailbox moves in steps, and VmHWM rises above \
             VmRSS while a table is copied into its larger successor.\n",
        );
        out
    }

    /// The printed summary.
    pub(crate) fn summary(&self) -> String {
        let mut out = self.table();
        out.push('\n');
        out.push_str(&self.findings());
        out.push_str(&self.target_line());
        out.push('\n');
        if self.machine.build == "debug" {
            out.push_str("warning: a debug build; run with --release for representative figures\n");
        }
        out
    }
}

/// `n` with thousands separators: `10,000`.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    // The leading group has 1 to 3 digits; every later one exactly 3.
    let mut end = match digits.len() % 3 {
        0 => 3,
        short => short,
    };
    let mut out = digits[..end].to_owned();
    while end < digits.len() {
        out.push(',');
        out.push_str(&digits[end..end + 3]);
        end += 3;
    }
    out
}

/// KiB as MiB with one decimal.
fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// A byte count as bytes, or KiB from 1 KiB on.
fn bytes(b: f64) -> String {
    if b.abs() >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{b:.0} B")
    }
}

/// Milliseconds as `850 ms` or `12.3 s`.
pub(crate) fn millis(ms: f64) -> String {
    if ms >= 10_000.0 {
        format!("{:.1} s", ms / 1e3)
    } else {
        format!("{ms:.0} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(kind: StepKind, clients: usize, mailboxes: usize, rss_kib: u64, took_ms: f64) -> Step {
        Step {
            kind,
            clients,
            mailboxes,
            memory: MemSample {
                vm_rss_kib: rss_kib,
                vm_hwm_kib: rss_kib + 10,
                rss_anon_kib: rss_kib - 1000,
                rss_file_kib: 1000,
                vm_size_kib: rss_kib * 4,
                threads: 3,
            },
            took_ms,
        }
    }

    fn full_run() -> Vec<Step> {
        vec![
            step(StepKind::Idle, 0, 0, 4_000, 0.0),
            step(StepKind::Clients, 1_000, 0, 24_000, 100.0),
            step(StepKind::Clients, 10_000, 0, 184_000, 900.0),
            step(StepKind::Mailboxes, 10_000, 10_000, 194_000, 50.0),
            step(StepKind::Mailboxes, 10_000, 100_000, 284_000, 450.0),
            step(StepKind::Touched, 10_000, 100_000, 300_000, 200.0),
        ]
    }

    #[test]
    fn per_item_figures_come_from_the_rss_deltas() {
        let steps = full_run();
        let d = Derived::from_steps(&steps);
        // (184_000 - 4_000) KiB over 10,000 clients.
        assert_eq!(d.bytes_per_client, Some(180_000.0 * 1024.0 / 10_000.0));
        // (184_000 - 24_000) KiB over 9,000 clients.
        assert_eq!(
            d.bytes_per_client_marginal,
            Some(160_000.0 * 1024.0 / 9_000.0)
        );
        // (284_000 - 184_000) KiB over 100,000 mailboxes: exactly 1 KiB each.
        assert_eq!(d.bytes_per_mailbox, Some(1024.0));
        assert_eq!(d.bytes_per_mailbox_marginal, Some(1024.0));
        assert_eq!(d.connect_us_per_client, Some(100.0));
        assert_eq!(d.create_us_per_mailbox, Some(5.0));
    }

    #[test]
    fn no_items_no_figures_and_a_shrinking_daemon_is_negative() {
        let idle = step(StepKind::Idle, 0, 0, 4_000, 0.0);
        let d = Derived::from_steps(&[idle]);
        assert_eq!(d.bytes_per_client, None);
        assert_eq!(d.bytes_per_mailbox, None);
        assert_eq!(d.connect_us_per_client, None);
        let shrunk = step(StepKind::Clients, 10, 0, 3_990, 1.0);
        assert_eq!(bytes_per_item(&idle, &shrunk, 10), Some(-1024.0));
        assert_eq!(bytes_per_item(&idle, &shrunk, 0), None);
    }

    #[test]
    fn mailboxes_without_clients_are_measured_from_the_idle_daemon() {
        let steps = [
            step(StepKind::Idle, 0, 0, 4_000, 0.0),
            step(StepKind::Mailboxes, 0, 1_000, 5_000, 10.0),
        ];
        let d = Derived::from_steps(&steps);
        assert_eq!(d.bytes_per_mailbox, Some(1024.0));
        assert_eq!(d.bytes_per_mailbox_marginal, None);
        assert_eq!(d.bytes_per_client, None);
    }

    #[test]
    fn the_target_is_judged_on_the_peak_at_full_scale_only() {
        let steps = full_run();
        let target = Target::judge(&steps, &Derived::from_steps(&steps)).unwrap();
        assert!(target.full_scale);
        assert_eq!(target.met, Some(true));
        // The touched step comes after the measurement and does not count.
        assert_eq!(target.measured_peak_mib, 284_010.0 / 1024.0);
        let line = target.line(10_000, 100_000);
        assert!(
            line.starts_with(
                "target: ≤ 1 GiB for 10,000 clients + 100,000 mailboxes: met (277 MiB peak)"
            ),
            "{line}"
        );

        let mut heavy = full_run();
        heavy[4].memory.vm_hwm_kib = 2 << 20;
        let missed = Target::judge(&heavy, &Derived::from_steps(&heavy)).unwrap();
        assert_eq!(missed.met, Some(false));
        assert!(
            missed
                .line(10_000, 100_000)
                .contains("missed (2048 MiB peak)")
        );
    }

    #[test]
    fn a_small_run_is_not_judged_but_projected() {
        let steps = [
            step(StepKind::Idle, 0, 0, 4_096, 0.0),
            step(StepKind::Clients, 200, 0, 4_096 + 200, 10.0),
            step(StepKind::Mailboxes, 200, 2_000, 4_096 + 200 + 2_000, 10.0),
        ];
        let target = Target::judge(&steps, &Derived::from_steps(&steps)).unwrap();
        assert_eq!(target.met, None);
        // 4 MiB idle + 1 KiB × 10,000 + 1 KiB × 100,000.
        let projected = target.projected_mib.unwrap();
        assert!(
            (projected - (4.0 + 110_000.0 / 1024.0)).abs() < 1e-9,
            "{projected}"
        );
        let line = target.line(200, 2_000);
        assert!(
            line.contains("not measured (this run: 200 clients + 2,000 mailboxes"),
            "{line}"
        );
        assert!(
            line.contains("projected from the per-item figures: 111 MiB"),
            "{line}"
        );
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(-2048.0), "-2.0 KiB");
        assert_eq!(bytes(18_432.0), "18.0 KiB");
        assert_eq!(millis(850.4), "850 ms");
        assert_eq!(millis(12_345.0), "12.3 s");
        assert_eq!(mib(1536), "1.5 MiB");
    }
}

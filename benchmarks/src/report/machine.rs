//! The machine a comparison ran on, as the report names it.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Where and when a comparison ran, and with what.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Machine {
    /// The CPU model (`model name` in `/proc/cpuinfo`).
    pub cpu_model: String,
    /// CPUs online (processors in `/proc/cpuinfo`).
    pub cpus_online: usize,
    /// CPUs this process may use.
    pub cpus_allowed: Vec<usize>,
    /// The kernel release.
    pub kernel: String,
    /// When the comparison started, UTC, ISO 8601.
    pub date: String,
    /// The compiler that built the benchmark.
    pub rustc: String,
    /// The commit measured (with `-dirty` if the tree had changes), when known.
    pub commit: Option<String>,
    /// The load average (1, 5, 15 minutes) when the comparison started.
    pub load_at_start: Option<String>,
    /// The load average when it finished.
    pub load_at_end: Option<String>,
}

impl Machine {
    /// Describes this machine now; `cpus_allowed` as the harness found them.
    pub fn detect(cpus_allowed: Vec<usize>) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        Machine {
            cpu_model: cpu_model(&cpuinfo).unwrap_or_else(|| "unknown".to_owned()),
            cpus_online: cpuinfo
                .lines()
                .filter(|line| line.starts_with("processor"))
                .count(),
            cpus_allowed,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| "unknown".to_owned()),
            date: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| iso_date(d.as_secs()))
                .unwrap_or_else(|_| "unknown".to_owned()),
            rustc: env!("POSTBOX_BENCH_RUSTC").to_owned(),
            commit: commit(),
            load_at_start: load_average(),
            load_at_end: None,
        }
    }
}

/// The system's load average now, as `/proc/loadavg` gives its first three fields.
pub fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// The first `model name` in `/proc/cpuinfo`'s text.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map(|(_, model)| model.trim().to_owned())
}

/// The source tree's commit, if it is a git checkout and git is installed.
fn commit() -> Option<String> {
    let dir = env!("CARGO_MANIFEST_DIR");
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()
    };
    let head = git(&["rev-parse", "--short=12", "HEAD"])?;
    if !head.status.success() {
        return None;
    }
    let head = String::from_utf8(head.stdout).ok()?.trim().to_owned();
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|out| !out.stdout.is_empty());
    Some(if dirty { format!("{head}-dirty") } else { head })
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn iso_date(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(iso_date(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_date(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso_date(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(iso_date(4_107_542_399), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn the_cpu_model_is_the_first_model_name() {
        let text = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n\nprocessor\t: 1\nmodel name\t: AMD EPYC\n";
        assert_eq!(cpu_model(text), Some("AMD EPYC".to_owned()));
        assert_eq!(cpu_model(""), None);
    }
}

//! What `/proc` says about a process's memory and limits, and about the machine.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Serialize;

/// A process's memory at one moment, from `/proc/<pid>/status` (all in KiB, as the kernel
/// reports them).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub(crate) struct MemSample {
    /// Resident set size: the memory the process holds now.
    pub(crate) vm_rss_kib: u64,
    /// The peak resident set size since the process started.
    pub(crate) vm_hwm_kib: u64,
    /// The anonymous part of the resident set (heap, stacks): what the daemon allocated.
    pub(crate) rss_anon_kib: u64,
    /// The file-backed part of the resident set (the executable, shared libraries).
    pub(crate) rss_file_kib: u64,
    /// The virtual address space size.
    pub(crate) vm_size_kib: u64,
    /// The number of threads.
    pub(crate) threads: u64,
}

/// Reads the memory of process `pid`.
pub(crate) fn read_mem(pid: u32) -> Result<MemSample> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_status(&text).with_context(|| format!("parsing {path}"))
}

/// Parses the text of a `/proc/<pid>/status` file.
///
/// A process that has exited (a zombie) has no `VmRSS` line: that is an error, not a zero.
pub(crate) fn parse_status(text: &str) -> Result<MemSample> {
    let field = |name: &str| -> Result<u64> {
        let line = text
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .with_context(|| format!("no {name} line (has the process exited?)"))?;
        let mut words = line.split_whitespace();
        let value = words
            .next()
            .with_context(|| format!("{name} has no value"))?
            .parse::<u64>()
            .with_context(|| format!("{name} is not a number: {line:?}"))?;
        match words.next() {
            None | Some("kB") => Ok(value),
            Some(unit) => bail!("{name} is in {unit:?}, not kB"),
        }
    };
    Ok(MemSample {
        vm_rss_kib: field("VmRSS")?,
        vm_hwm_kib: field("VmHWM")?,
        rss_anon_kib: field("RssAnon")?,
        rss_file_kib: field("RssFile")?,
        vm_size_kib: field("VmSize")?,
        threads: field("Threads")?,
    })
}

/// A process's open-file limit as `/proc/<pid>/limits` reports it: `(soft, hard)`, `None` for
/// unlimited.
pub(crate) fn read_nofile(pid: u32) -> Result<(Option<u64>, Option<u64>)> {
    let path = format!("/proc/{pid}/limits");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_nofile(&text).with_context(|| format!("parsing {path}"))
}

/// Parses the `Max open files` line of a `/proc/<pid>/limits` file.
pub(crate) fn parse_nofile(text: &str) -> Result<(Option<u64>, Option<u64>)> {
    let line = text
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))
        .context("no \"Max open files\" line")?;
    let mut words = line.split_whitespace();
    let mut limit = |which: &str| -> Result<Option<u64>> {
        match words.next() {
            Some("unlimited") => Ok(None),
            Some(word) => word
                .parse()
                .map(Some)
                .with_context(|| format!("the {which} limit is not a number: {word:?}")),
            None => bail!("no {which} limit in {line:?}"),
        }
    };
    Ok((limit("soft")?, limit("hard")?))
}

/// The machine a run happened on, for the record.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub(crate) struct Machine {
    /// The CPU model, from `/proc/cpuinfo`.
    pub(crate) cpu: String,
    /// Logical CPUs available to the benchmark.
    pub(crate) cpus: usize,
    /// Physical memory, in KiB (`/proc/meminfo`).
    pub(crate) mem_total_kib: Option<u64>,
    /// The kernel release.
    pub(crate) kernel: String,
    /// `release` or `debug`: a debug build's figures are not representative.
    pub(crate) build: &'static str,
}

impl Machine {
    /// Reads what `/proc` says about this machine; what cannot be read is recorded as unknown.
    pub(crate) fn probe() -> Machine {
        let read = |path: &str| std::fs::read_to_string(Path::new(path)).unwrap_or_default();
        let cpu = read("/proc/cpuinfo")
            .lines()
            .find_map(|line| line.strip_prefix("model name"))
            .and_then(|rest| rest.split_once(':'))
            .map(|(_, model)| model.trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        let mem_total_kib = read("/proc/meminfo")
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok());
        let kernel = read("/proc/sys/kernel/osrelease").trim().to_owned();
        Machine {
            cpu,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            mem_total_kib,
            kernel: if kernel.is_empty() {
                "unknown".to_owned()
            } else {
                kernel
            },
            build: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tscale\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t  1093224 kB\n\
        VmSize:\t  1093224 kB\nVmLck:\t       0 kB\nVmHWM:\t   412345 kB\nVmRSS:\t   401234 kB\n\
        RssAnon:\t  398000 kB\nRssFile:\t    3234 kB\nRssShmem:\t       0 kB\nThreads:\t3\n";

    #[test]
    fn status_fields_are_read_in_kib() {
        let sample = parse_status(STATUS).unwrap();
        assert_eq!(
            sample,
            MemSample {
                vm_rss_kib: 401_234,
                vm_hwm_kib: 412_345,
                rss_anon_kib: 398_000,
                rss_file_kib: 3_234,
                vm_size_kib: 1_093_224,
                threads: 3,
            }
        );
    }

    #[test]
    fn a_zombie_without_memory_lines_is_an_error() {
        let zombie = "Name:\tscale\nState:\tZ (zombie)\nThreads:\t1\n";
        let error = parse_status(zombie).unwrap_err();
        assert!(format!("{error:#}").contains("VmRSS"), "{error:#}");
    }

    #[test]
    fn a_field_name_that_is_a_prefix_of_another_is_not_confused() {
        // `VmRSS` must not match a hypothetical `VmRSSx` line, nor `RssAnon` a `RssAnonX` one.
        let text = STATUS.replace("VmRSS:", "VmRSSx:");
        assert!(parse_status(&text).is_err());
    }

    #[test]
    fn garbage_values_and_units_are_errors() {
        assert!(parse_status(&STATUS.replace("401234 kB", "lots kB")).is_err());
        assert!(parse_status(&STATUS.replace("401234 kB", "401234 MB")).is_err());
    }

    #[test]
    fn the_open_file_limit_is_read_with_unlimited_as_none() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
            Max cpu time              unlimited            unlimited            seconds   \n\
            Max open files            20000                65536                files     \n";
        assert_eq!(parse_nofile(limits).unwrap(), (Some(20_000), Some(65_536)));
        let unlimited = limits.replace("20000                65536", "unlimited unlimited");
        assert_eq!(parse_nofile(&unlimited).unwrap(), (None, None));
        assert!(parse_nofile("Max cpu time unlimited unlimited seconds\n").is_err());
    }

    #[test]
    fn this_process_can_be_measured() {
        let sample = read_mem(std::process::id()).unwrap();
        assert!(sample.vm_rss_kib > 0 && sample.vm_hwm_kib >= sample.vm_rss_kib);
        assert!(read_nofile(std::process::id()).unwrap().0.is_some());
    }
}

//! Which CPUs this process may use, and pinning a thread to one of them.

use std::io;

use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::unistd::Pid;

/// The CPUs the calling thread may run on, in increasing order.
///
/// # Errors
///
/// When the kernel refuses `sched_getaffinity`.
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    let set = sched_getaffinity(Pid::from_raw(0)).map_err(io::Error::from)?;
    Ok((0..CpuSet::count())
        .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
        .collect())
}

/// Restricts the calling thread to `cpus`. Threads it starts afterwards inherit the set, and so
/// do processes it spawns.
///
/// # Errors
///
/// When a CPU number is out of range, or the kernel refuses (a CPU this process may not use).
pub fn set_thread_cpus(cpus: &[usize]) -> io::Result<()> {
    let mut set = CpuSet::new();
    for &cpu in cpus {
        set.set(cpu).map_err(|e| {
            io::Error::new(
                io::Error::from(e).kind(),
                format!("CPU {cpu} is out of range for an affinity mask"),
            )
        })?;
    }
    sched_setaffinity(Pid::from_raw(0), &set).map_err(|e| {
        io::Error::new(
            io::Error::from(e).kind(),
            format!("cannot restrict this thread to CPUs {cpus:?}: {e}"),
        )
    })
}

/// Pins the calling thread to `cpu`.
///
/// # Errors
///
/// As [`set_thread_cpus`].
pub fn pin_thread(cpu: usize) -> io::Result<()> {
    set_thread_cpus(&[cpu])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinning_to_an_allowed_cpu_is_seen_and_can_be_undone() {
        let allowed = allowed_cpus().unwrap();
        assert!(!allowed.is_empty());
        std::thread::spawn(move || {
            pin_thread(allowed[0]).unwrap();
            assert_eq!(allowed_cpus().unwrap(), vec![allowed[0]]);
            set_thread_cpus(&allowed).unwrap();
            assert_eq!(allowed_cpus().unwrap(), allowed);
        })
        .join()
        .unwrap();
        assert!(pin_thread(CpuSet::count()).is_err());
    }
}

//! The `shm_iceoryx2` program end to end: the ring and iceoryx2 between real processes.

use std::process::Command;

#[test]
fn a_smoke_run_measures_every_row_and_judges_no_target() {
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_shm_iceoryx2"))
        .arg("--smoke")
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("the shm_iceoryx2 binary runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let report = std::fs::read_to_string(out.path().join("shm_iceoryx2.md")).unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), report.trim());
    let rows = |prefix: &str| report.lines().filter(|l| l.starts_with(prefix)).count();
    // Round trips: 2 series × 2 ways of waiting; one way: the same × 2 sizes; every row with
    // its ratio.
    assert_eq!(rows("| cross-CPU | busy-poll | 64 B |"), 2, "{report}");
    assert_eq!(rows("| same-CPU | event | 1 MiB |"), 1, "{report}");
    assert_eq!(report.matches("×**").count(), 4 + 8 + 2 * 3, "{report}");
    assert_eq!(rows("| ring `pop` |"), 1, "{report}");
    assert_eq!(rows("| iceoryx2 listener `timed_wait` |"), 1, "{report}");
    assert!(!report.contains("### Targets"), "{report}");
}

#[test]
fn an_unknown_option_is_a_usage_error() {
    let run = Command::new(env!("CARGO_BIN_EXE_shm_iceoryx2"))
        .arg("--no-such-option")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
}

#[test]
fn zero_runs_is_refused_before_anything_runs() {
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_shm_iceoryx2"))
        .args(["--runs", "0", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("--runs"));
    assert!(!out.path().join("shm_iceoryx2.md").exists());
}

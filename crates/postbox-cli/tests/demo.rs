//! `postbox demo`: the README's first command. It must run every scenario to a checked outcome
//! and leave nothing behind: no daemon, no directory.

mod support;

use std::path::Path;

use support::{command, run_command};

#[test]
fn the_demo_runs_every_scenario_and_cleans_up() {
    let out = run_command(command(&["demo"]), None).code(0);
    let transcript = &out.stdout;
    for expected in [
        "1. Producer and consumer on a bounded mailbox",
        "the producer is blocked sending job 3",
        "2. Rendezvous",
        "naming its receiver: pid",
        "3. Typed selective receive",
        "urgent (type 1)",
        "exit 3",
        "4. Round-robin dispatch among receivers, with receipts",
        "job 6 -> pid",
        "5. A process killed while others wait on it",
        "the waiter exited 7",
        "terminated\" and exited 0",
    ] {
        assert!(
            transcript.contains(expected),
            "the transcript lacks {expected:?}:\n{transcript}"
        );
    }

    let first = transcript.lines().next().unwrap();
    let socket = first
        .split_whitespace()
        .find(|word| word.ends_with("postbox.sock"))
        .unwrap_or_else(|| panic!("no socket named in {first:?}"));
    let dir = Path::new(socket).parent().unwrap();
    assert!(!dir.exists(), "{} was left behind", dir.display());
    let os_pid = first
        .split("os pid ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no daemon pid in {first:?}"));
    assert!(
        !Path::new(&format!("/proc/{os_pid}")).exists(),
        "the demo daemon (pid {os_pid}) is still running"
    );
}

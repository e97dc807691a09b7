//! A server killed with SIGKILL while it holds a request fails its caller at once: the daemon
//! sees the connection close and fails the call with `PeerGone`, not at the call's deadline.

mod support;

use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Background, Daemon, eventually};

/// How long the caller may take to fail after the kill: the target is 100 ms; the bound is
/// generous so that a loaded machine does not fail the test, and the figure is printed.
const BOUND: Duration = Duration::from_secs(2);

#[test]
fn a_server_killed_holding_a_request_fails_its_caller_with_peer_gone_at_once() {
    let daemon = Daemon::start();
    let mark = daemon.dir().join("request-taken");
    let script = format!("touch '{}'; exec sleep 60", mark.display());
    // Its own process group, so that the kill takes the command it runs (the sleep) too.
    let mut command = daemon.command(&["serve", "--as", "victim", "--", "sh", "-c", &script]);
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let server = Background::spawn(command);
    server.announced_pid();
    let mut caller = daemon.spawn(&["call", "--to", "victim", "--timeout", "60s", "anyone?"]);
    eventually("the server has taken the request", || mark.exists());

    let group = format!("-{}", server.os_pid());
    let killed = Instant::now();
    let status = Command::new("kill")
        .args(["-KILL", "--", &group])
        .status()
        .expect("cannot run kill");
    assert!(status.success(), "kill -KILL {group} failed");
    while caller.is_running() {
        assert!(killed.elapsed() < BOUND * 5, "the caller still waits");
        std::thread::yield_now();
    }
    let failed_after = killed.elapsed();
    eprintln!("server killed with SIGKILL: its caller failed after {failed_after:?}");
    let out = caller.finish().code(7);
    assert!(
        out.stderr.contains("peer process is gone"),
        "{}",
        out.stderr
    );
    assert!(
        failed_after <= BOUND,
        "the caller failed {failed_after:?} after the kill (target 100 ms)"
    );
}

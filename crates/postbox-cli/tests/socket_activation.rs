//! systemd socket activation, for real: `systemd-socket-activate` binds the socket, and on the
//! first connection executes `postbox daemon` with it as descriptor 3 (`LISTEN_FDS=1`,
//! `LISTEN_PID` its pid), exactly as systemd does for `packaging/postbox.socket`.
//!
//! `systemd-socket-activate` comes with Debian's `systemd` package, which `.ci/run` installs;
//! where it is missing, these tests say so and pass — unless `POSTBOX_REQUIRE_SOCKET_ACTIVATION`
//! is set (as `.ci/run` sets it), when they fail.

mod support;

use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use support::{Background, eventually};

/// `systemd-socket-activate`, if this machine has it.
fn socket_activate(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/bin")])
        .map(|dir| dir.join("systemd-socket-activate"))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("POSTBOX_REQUIRE_SOCKET_ACTIVATION").is_none(),
            "{test}: systemd-socket-activate is required (apt-get install systemd)"
        );
        eprintln!("{test}: skipped, systemd-socket-activate is missing (apt-get install systemd)");
    }
    found
}

/// `systemd-socket-activate [EXTRA] -l SOCKET postbox daemon ARGS`, in the background.
fn activate(tool: &Path, extra: &[&str], socket: &Path, args: &[&str]) -> Background {
    let mut command = Command::new(tool);
    command
        .args(extra)
        .arg("-l")
        .arg(socket)
        .arg(support::BIN)
        .arg("daemon")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let activator = Background::spawn(command);
    eventually("systemd-socket-activate listens", || socket.exists());
    activator
}

#[test]
fn the_daemon_serves_on_the_socket_systemd_passes_and_leaves_its_file() {
    let Some(tool) = socket_activate("socket activation") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("pb.sock");
    let daemon = activate(&tool, &[], &socket, &["--log", "info"]);
    let url = format!("unix://{}", socket.display());
    let run = |args: &[&str]| {
        let mut command = support::command(args);
        command.env("POSTBOX_URL", &url);
        support::run_command(command, None)
    };
    // The first connection starts the daemon; the client waits in the socket's backlog.
    run(&["create", "q"]).code(0);
    run(&["send", "q", "activated"]).code(0);
    assert_eq!(run(&["recv", "q"]).ok(), "activated\n");
    let said = loop {
        let line = daemon.stderr_line();
        if line.contains("postbox daemon listening") || line.contains("systemd passed") {
            break line;
        }
    };
    assert!(said.contains("using the socket systemd passed"), "{said}");

    // SIGTERM: a clean exit, and the socket file stays: it is systemd's.
    let pid = daemon.os_pid().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(daemon.finish().code, 0);
    assert!(socket.exists(), "the daemon removed systemd's socket file");
}

#[test]
fn a_datagram_socket_is_refused_with_the_reason() {
    let Some(tool) = socket_activate("socket activation (datagram)") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("pb.sock");
    let daemon = activate(&tool, &["--datagram"], &socket, &[]);
    // A datagram is what makes systemd-socket-activate start the daemon.
    UnixDatagram::unbound()
        .unwrap()
        .send_to(b"x", &socket)
        .unwrap();
    let out = daemon.finish().code(1);
    assert!(
        out.stderr
            .contains("socket activation: descriptor 3 (from systemd) is not a stream socket"),
        "{}",
        out.stderr
    );
}

#[test]
fn variables_meant_for_another_process_are_ignored() {
    // An activated parent's variables, inherited: the daemon binds its own socket.
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("pb.sock");
    let mut command = support::command(&["daemon", "--socket", socket.to_str().unwrap()]);
    command
        .env("LISTEN_PID", "1")
        .env("LISTEN_FDS", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut daemon = Background::spawn(command);
    eventually("the daemon binds its own socket", || {
        assert!(daemon.is_running(), "the daemon exited");
        UnixStream::connect(&socket).is_ok()
    });
}

#[test]
fn malformed_variables_for_this_process_are_refused() {
    // `LISTEN_PID` must be this process: through `sh -c 'exec ...'`, `$$` is the daemon's pid.
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("pb.sock");
    let script = format!(
        "LISTEN_PID=$$ LISTEN_FDS=2 exec '{}' daemon --socket '{}'",
        support::BIN,
        socket.display()
    );
    let out = support::run_command(
        {
            let mut command = Command::new("sh");
            command.args(["-c", &script]);
            command
        },
        None,
    )
    .code(1);
    assert!(out.stderr.contains("LISTEN_FDS=2"), "{}", out.stderr);
    assert!(!socket.exists(), "nothing bound");
}

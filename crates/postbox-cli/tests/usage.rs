//! Usage errors (exit 2) and failures to reach a daemon (exit 1): nothing here needs a daemon
//! to be running, which is the point.

mod support;

use support::{Daemon, command, run_command};

fn postbox(args: &[&str]) -> support::Out {
    run_command(command(args), None)
}

#[test]
fn help_and_version_succeed() {
    let help = postbox(&["--help"]).ok();
    for word in ["daemon", "create", "recv", "monitor", "demo", "Exit codes"] {
        assert!(help.contains(word), "--help lacks {word}: {help}");
    }
    assert!(postbox(&["--version"]).ok().starts_with("postbox "));
    assert!(postbox(&["recv", "--help"]).ok().contains("--max-type"));
}

#[test]
fn malformed_flags_and_values_are_usage_errors_exit_2() {
    let cases: &[&[&str]] = &[
        &[],
        &["frobnicate"],
        &["recv"],
        &["recv", "q", "--timeout", "5"],
        &["recv", "q", "--timeout", "soon"],
        &["recv", "q", "--nowait", "--timeout", "1s"],
        &["recv", "q", "--type", "1", "--not-type", "2"],
        &["recv", "q", "--type", "0"],
        &["recv", "q", "--follow", "-n", "3"],
        &["recv", "--inbox", "--create-owned"],
        &["send", "bad name!", "x"],
        &["send", "q", "x", "--priority", "70000"],
        &["send", "q", "x", "--receipt", "--nowait"],
        &["create", "q", "--capacity", "lots"],
        &["create", "q", "--mode", "999"],
        &["create", "q", "--size", "exact:4"],
        &["create", "q", "--order", "lifo"],
        &["create", "q", "--receivers", "everyone"],
        &["set", "q"],
        &["set", "q", "--owner", "alice"],
        &["daemon", "--listen", "tcp://127.0.0.1:1"],
        &["--url", "http://example.com", "ls"],
        &["monitor"],
    ];
    for args in cases {
        let out = postbox(args);
        assert_eq!(
            out.code, 2,
            "{args:?} should be a usage error: {}",
            out.stderr
        );
        assert!(!out.stderr.is_empty(), "{args:?} explains nothing");
    }
}

#[test]
fn a_negative_duration_is_refused_as_negative_not_with_clap_tip() {
    for args in [
        &["recv", "q", "--timeout", "-1s"][..],
        &["send", "q", "x", "--timeout", "-1s"],
        &["monitor", "1", "--timeout", "-500ms"],
        &["daemon", "--handshake-timeout", "-3s"],
    ] {
        let out = postbox(args).code(2);
        assert!(
            out.stderr.contains("cannot be negative"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("-- -1"), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn contradictions_found_after_parsing_are_usage_errors_too() {
    // These are checked before connecting: no daemon is needed to reject them.
    for args in [
        &["send"][..],
        &["send", "--to", "1", "payload", "extra"],
        &["create", "q", "--capacity", "zero", "--max-bytes", "1KiB"],
        &[
            "create",
            "q",
            "--capacity",
            "unbounded",
            "--max-bytes",
            "1KiB",
        ],
    ] {
        let out = postbox(args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains("Usage"), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn no_daemon_at_the_url_is_an_error_exit_1_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let socket = format!("{}/absent.sock", dir.path().display());
    let url = format!("unix://{socket}");
    for args in [&["ls"][..], &["recv", "q"], &["send", "q", "x"], &["ps"]] {
        let mut cmd = command(args);
        cmd.env("POSTBOX_URL", &url);
        let out = run_command(cmd, None).code(1);
        assert!(out.stderr.contains(&url), "{}", out.stderr);
        assert!(out.stderr.starts_with("postbox: "), "{}", out.stderr);
        // Not the default socket: the advice names it.
        let start = format!("start one with `postbox daemon --socket {socket}`");
        assert!(out.stderr.contains(&start), "{}", out.stderr);
    }
}

#[test]
fn no_daemon_on_the_default_socket_says_to_start_postbox_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let socket = format!("{}/absent.sock", dir.path().display());
    let mut cmd = command(&["ls"]);
    cmd.env("POSTBOX_SOCKET", &socket);
    let out = run_command(cmd, None).code(1);
    let expected = format!("no postbox daemon is listening on {socket}");
    assert!(out.stderr.contains(&expected), "{}", out.stderr);
    assert!(
        out.stderr.contains("start one with `postbox daemon`"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_stale_socket_with_no_daemon_behind_it_says_to_start_one() {
    let mut daemon = Daemon::start();
    let socket = daemon.url().trim_start_matches("unix://").to_owned();
    // SIGKILL leaves the socket file behind: connecting to it is refused.
    daemon.kill();
    assert!(std::path::Path::new(&socket).exists());
    let out = daemon.run(&["ls"]).code(1);
    let expected = format!("no postbox daemon is listening on {socket}");
    assert!(out.stderr.contains(&expected), "{}", out.stderr);
    assert!(
        out.stderr.contains("postbox daemon --socket"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_url_flag_beats_the_environment() {
    let daemon = Daemon::start();
    let mut cmd = command(&["--url", &daemon.url(), "ls"]);
    cmd.env("POSTBOX_URL", "unix:///nonexistent/postbox.sock");
    run_command(cmd, None).code(0);
}

#[test]
fn the_url_flag_may_follow_the_command() {
    let daemon = Daemon::start();
    let mut cmd = command(&["ls", "--url", &daemon.url()]);
    cmd.env("POSTBOX_URL", "unix:///nonexistent/postbox.sock");
    run_command(cmd, None).code(0);
    let twice = postbox(&["--url", &daemon.url(), "ls", "--url", &daemon.url()]).code(2);
    assert!(twice.stderr.contains("give --url once"), "{}", twice.stderr);
}

#[test]
fn the_daemon_and_the_demo_neither_show_nor_take_a_url() {
    for command in ["daemon", "demo"] {
        let help = postbox(&[command, "--help"]).ok();
        assert!(!help.contains("--url"), "{command} --help: {help}");
        postbox(&[command, "--url", "unix:///tmp/x.sock"]).code(2);
        let before = postbox(&["--url", "unix:///tmp/x.sock", command]).code(2);
        let refusal = format!("`postbox {command}` takes no --url");
        assert!(before.stderr.contains(&refusal), "{}", before.stderr);
    }
    // The client commands still show it.
    assert!(postbox(&["send", "--help"]).ok().contains("--url"));
}

#[test]
fn the_default_socket_comes_from_postbox_socket() {
    let daemon = Daemon::start();
    let socket = daemon.url().trim_start_matches("unix://").to_owned();
    let mut cmd = command(&["ps"]);
    cmd.env("POSTBOX_SOCKET", &socket);
    run_command(cmd, None).code(0);
}

#[test]
fn an_empty_postbox_url_means_the_default_socket() {
    let daemon = Daemon::start();
    let socket = daemon.url().trim_start_matches("unix://").to_owned();
    let mut cmd = command(&["ps"]);
    cmd.env("POSTBOX_URL", "").env("POSTBOX_SOCKET", &socket);
    run_command(cmd, None).code(0);
}

#[test]
fn a_malformed_postbox_url_is_reported_exit_1() {
    let mut cmd = command(&["ls"]);
    cmd.env("POSTBOX_URL", "http://example.com");
    let out = run_command(cmd, None).code(1);
    assert!(out.stderr.contains("invalid postbox URL"), "{}", out.stderr);
}

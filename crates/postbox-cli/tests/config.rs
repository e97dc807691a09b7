//! `postbox daemon --config FILE` and `--print-config`, through the real binary.

mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::UnixStream;
use std::process::Stdio;

use support::{Background, eventually};

#[test]
fn print_config_reads_back_as_the_same_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let printed = support::run_command(
        support::command(&[
            "daemon",
            "--print-config",
            "--max-connections",
            "5",
            "--metrics",
            "tcp://127.0.0.1:9464",
            "--handshake-timeout",
            "1500ms",
        ]),
        None,
    )
    .ok();
    assert!(printed.contains("\nmax-connections = 5\n"), "{printed}");
    assert!(printed.contains("\nmetrics = \"tcp://127.0.0.1:9464\"\n"));
    assert!(printed.contains("\nhandshake-timeout = \"1500ms\"\n"));
    assert!(
        printed.contains("\n# listen = "),
        "unset keys are shown commented out"
    );
    let file = dir.path().join("postbox.toml");
    std::fs::write(&file, &printed).unwrap();
    let file = file.to_str().unwrap();
    let again = support::run_command(
        support::command(&["daemon", "--config", file, "--print-config"]),
        None,
    )
    .ok();
    assert_eq!(again, printed);

    // A flag given with the file wins over it.
    let overridden = support::run_command(
        support::command(&[
            "daemon",
            "--config",
            file,
            "--max-connections",
            "6",
            "--print-config",
        ]),
        None,
    )
    .ok();
    assert!(
        overridden.contains("\nmax-connections = 6\n"),
        "{overridden}"
    );
}

#[test]
fn a_daemon_listens_where_its_config_file_says() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("run/pb.sock");
    let file = dir.path().join("postbox.toml");
    std::fs::write(
        &file,
        format!(
            "socket = \"{}\"\nmode = \"0660\"\nlog = \"warn\"\ninbox-capacity = 2\n",
            socket.display()
        ),
    )
    .unwrap();
    let mut command = support::command(&["daemon", "--config", file.to_str().unwrap()]);
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut daemon = Background::spawn(command);
    eventually("the daemon listens on the configured socket", || {
        assert!(daemon.is_running(), "the daemon exited");
        UnixStream::connect(&socket).is_ok()
    });
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    let url = format!("unix://{}", socket.display());
    let stat = support::run_command(support::command(&["--url", &url, "stat", "--json"]), None);
    assert_eq!(stat.code, 0, "{stat:?}");
    daemon.kill();
}

#[test]
fn a_bad_config_file_is_refused_naming_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("postbox.toml");
    for (text, key) in [
        (
            "max-connections = 10\nmax-conections = 3\n",
            "max-conections",
        ),
        ("max-queued-bytes = \"a lot\"\n", "max-queued-bytes"),
        ("socket = 42\n", "socket"),
    ] {
        std::fs::write(&file, text).unwrap();
        let out = support::run_command(
            support::command(&["daemon", "--config", file.to_str().unwrap()]),
            None,
        )
        .code(1);
        assert!(out.stderr.contains(file.to_str().unwrap()), "{out:?}");
        assert!(out.stderr.contains(&format!("`{key}`")), "{out:?}");
    }
    let missing = dir.path().join("missing.toml");
    let out = support::run_command(
        support::command(&["daemon", "--config", missing.to_str().unwrap()]),
        None,
    )
    .code(1);
    assert!(out.stderr.contains("missing.toml"), "{out:?}");
}

#[test]
fn the_packaged_example_config_is_accepted() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../packaging/postbox.toml");
    let printed = support::run_command(
        support::command(&["daemon", "--config", example, "--print-config"]),
        None,
    )
    .ok();
    assert!(
        printed.contains("\nmetrics = \"tcp://127.0.0.1:9464\"\n"),
        "{printed}"
    );
}

#[test]
fn the_packaged_service_runs_a_command_line_the_daemon_accepts() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../packaging/postbox.service"
    ))
    .unwrap();
    let exec = unit
        .lines()
        .find_map(|line| line.strip_prefix("ExecStart="))
        .expect("an ExecStart line");
    let mut words = exec.split_whitespace();
    assert!(words.next().unwrap().ends_with("/postbox"));
    let args: Vec<&str> = words.collect();
    assert_eq!(args[..2], ["daemon", "--config"]);
    // The file it names, with the example in its place.
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../packaging/postbox.toml");
    let mut with_example: Vec<&str> = args.clone();
    with_example[2] = example;
    with_example.push("--print-config");
    support::run_command(support::command(&with_example), None).code(0);
    let socket = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../packaging/postbox.socket"
    ))
    .unwrap();
    assert!(socket.contains("\nListenStream=%t/postbox.sock\n"));
    assert!(
        socket.contains("\nSocketMode=0600\n"),
        "systemd's default would be 0666"
    );
}

//! The daemon on TCP, with a token: `daemon --listen --token-file` and clients with `--url
//! tcp://...` and `$POSTBOX_TOKEN_FILE` / `$POSTBOX_TOKEN`.

mod support;

use std::net::TcpListener;

use support::Daemon;

/// A TCP port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("cannot find a free port")
}

#[test]
fn a_client_with_the_token_uses_the_daemon_over_tcp_and_one_without_is_refused() {
    let token_dir = tempfile::tempdir().unwrap();
    let token_file = token_dir.path().join("token");
    std::fs::write(&token_file, "correct-horse-battery-staple\n").unwrap();
    let port = free_port();
    let listen = format!("tcp://127.0.0.1:{port}");
    let daemon = Daemon::start_with(&[
        "--listen",
        &listen,
        "--token-file",
        token_file.to_str().unwrap(),
    ]);
    support::eventually("the TCP listener accepts", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });

    // Over the Unix socket and over TCP, the same node.
    daemon.run(&["create", "q"]).code(0);
    let mut tcp_send = daemon.command(&["--url", &listen, "send", "q", "over tcp"]);
    tcp_send.env("POSTBOX_TOKEN_FILE", &token_file);
    support::run_command(tcp_send, None).code(0);
    assert_eq!(daemon.run(&["recv", "q"]).ok(), "over tcp\n");

    let mut with_env_token = daemon.command(&["--url", &listen, "ls"]);
    with_env_token.env("POSTBOX_TOKEN", "correct-horse-battery-staple");
    support::run_command(with_env_token, None).code(0);

    // Over TCP the daemon knows no OS pid or command line: `ps` shows none for that client.
    let mut tcp_ps = daemon.command(&["--url", &listen, "ps", "--json"]);
    tcp_ps.env("POSTBOX_TOKEN_FILE", &token_file);
    let listed = support::run_command(tcp_ps, None).code(0).json();
    let only = listed.as_array().expect("an array");
    assert_eq!(only.len(), 1, "{listed}");
    assert!(
        only[0]["os_pid"].is_null() && only[0]["command"].is_null(),
        "{listed}"
    );

    let mut wrong = daemon.command(&["--url", &listen, "ls"]);
    wrong.env("POSTBOX_TOKEN", "wrong-token-entirely");
    let out = support::run_command(wrong, None).code(1);
    assert!(out.stderr.contains("cannot connect"), "{}", out.stderr);

    let none = support::run_command(daemon.command(&["--url", &listen, "ls"]), None).code(1);
    assert!(none.stderr.contains("cannot connect"), "{}", none.stderr);
}

#[test]
fn a_second_daemon_on_the_same_socket_refuses_to_start_exit_1() {
    let daemon = Daemon::start();
    let socket = daemon.url().trim_start_matches("unix://").to_owned();
    let out = daemon.run(&["daemon", "--socket", &socket]).code(1);
    assert!(out.stderr.contains("already"), "{}", out.stderr);
    // The first one is unharmed.
    daemon.run(&["ls"]).code(0);
}

//! The CLI at a terminal: commands run with a pseudo-terminal on stdin, as when a person types
//! into them.

mod support;

use std::fs::File;
use std::io::Write as _;
use std::process::Stdio;

use support::terminal::pty;
use support::{Background, Daemon};

/// `postbox ARGS` against `daemon`, reading from a fresh terminal; returns the side to type into
/// (kept open until the command finishes: closing it would hang the terminal up).
fn spawn_at_terminal(daemon: &Daemon, args: &[&str]) -> (Background, File) {
    let (typing, terminal) = pty();
    let mut command = daemon.command(args);
    command
        .stdin(Stdio::from(terminal))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    (Background::spawn(command), typing)
}

#[test]
fn send_at_a_terminal_says_it_reads_stdin_until_ctrl_d() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    let (sender, mut typing) = spawn_at_terminal(&daemon, &["send", "q"]);
    assert_eq!(
        sender.stderr_line(),
        "postbox: reading the message from stdin, Ctrl-D to end"
    );
    // A line, then Ctrl-D at the start of the next: the end of the input.
    typing.write_all(b"typed\n\x04").expect("cannot type");
    sender.finish().code(0);
    drop(typing);
    assert_eq!(daemon.run(&["recv", "q"]).ok(), "typed\n\n");
}

#[test]
fn send_lines_at_a_terminal_says_one_message_per_line() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    let (sender, mut typing) = spawn_at_terminal(&daemon, &["send", "q", "--lines"]);
    assert_eq!(
        sender.stderr_line(),
        "postbox: reading messages from stdin, one per line, Ctrl-D to end"
    );
    typing.write_all(b"one\ntwo\n\x04").expect("cannot type");
    sender.finish().code(0);
    drop(typing);
    assert_eq!(daemon.run(&["recv", "q", "-n", "2"]).ok(), "one\ntwo\n");
}

#[test]
fn send_from_a_pipe_or_with_data_says_nothing() {
    let daemon = Daemon::start();
    daemon.run(&["create", "q"]).code(0);
    let piped = daemon.run_with_input(&["send", "q"], "piped").code(0);
    assert_eq!(piped.stderr, "");
    // DATA on the command line: stdin is not read, even at a terminal.
    let (sender, typing) = spawn_at_terminal(&daemon, &["send", "q", "given"]);
    let out = sender.finish().code(0);
    drop(typing);
    assert_eq!(out.stderr, "");
}

//! `postbox top` in a pseudo-terminal: it draws the node's mailboxes, quits on `q`, Esc or Ctrl-C
//! with exit 0, and leaves the terminal as it found it; without a terminal it refuses.

mod support;

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::os::unix::ffi::OsStrExt as _;
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags};
use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
use rustix::termios::{Winsize, tcsetwinsize};
use support::{Daemon, PATIENCE};

/// `postbox top` running on a pseudo-terminal of 120x40, everything it writes collected.
struct AtTerminal {
    child: Child,
    /// The side the test types into and reads the screen from.
    typing: File,
    /// What the terminal received, as it comes.
    screen: Receiver<Vec<u8>>,
    /// Everything received so far.
    seen: Vec<u8>,
}

impl AtTerminal {
    fn spawn(daemon: &Daemon, args: &[&str]) -> AtTerminal {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
            .expect("cannot open a pseudo-terminal");
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        let name = ptsname(&master, Vec::new()).expect("ptsname");
        let terminal = rustix::fs::open(
            OsStr::from_bytes(name.as_bytes()),
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .expect("cannot open the terminal side");
        let size = Winsize {
            ws_row: 40,
            ws_col: 120,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        tcsetwinsize(&terminal, size).expect("cannot size the terminal");
        let terminal = File::from(terminal);
        let mut command = daemon.command(args);
        command
            .stdin(Stdio::from(terminal.try_clone().unwrap()))
            .stdout(Stdio::from(terminal.try_clone().unwrap()))
            .stderr(Stdio::from(terminal));
        let child = command.spawn().expect("cannot start postbox top");
        // The command's copies are its own now; ours are closed, so that the screen ends (EIO)
        // once the command exits.
        drop(command);
        let typing = File::from(master);
        let mut reading = typing.try_clone().unwrap();
        let (send, screen) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = reading.read(&mut buffer) {
                if n == 0 || send.send(buffer[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        AtTerminal {
            child,
            typing,
            screen,
            seen: Vec::new(),
        }
    }

    /// Reads the screen until `text` has appeared, within [`PATIENCE`].
    #[track_caller]
    fn wait_for(&mut self, text: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !contains(&self.seen, text.as_bytes()) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.screen.recv_timeout(left) {
                Ok(bytes) => self.seen.extend(bytes),
                Err(_) => {
                    let screen = String::from_utf8_lossy(&self.seen);
                    let tail: String = screen.chars().rev().take(3000).collect();
                    let tail: String = tail.chars().rev().collect();
                    panic!("{text:?} never appeared on the screen; its end: {tail:?}")
                }
            }
        }
    }

    fn type_keys(&mut self, keys: &[u8]) {
        self.typing.write_all(keys).expect("cannot type");
    }

    /// Waits for the command to exit, within [`PATIENCE`], and reads what it wrote last.
    #[track_caller]
    fn finish(&mut self) -> i32 {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("cannot wait") {
                break status;
            }
            assert!(Instant::now() < deadline, "top did not exit in time");
            // Keep reading meanwhile, so that a full terminal never blocks the command.
            if let Ok(bytes) = self.screen.recv_timeout(Duration::from_millis(5)) {
                self.seen.extend(bytes);
            }
        };
        // The command is gone: the rest of its output is buffered in the terminal.
        while let Ok(bytes) = self.screen.recv_timeout(Duration::from_millis(200)) {
            self.seen.extend(bytes);
        }
        status.code().unwrap_or(-1)
    }

    /// Whether the terminal was given back: the alternate screen left (after it was entered)
    /// and the cursor shown again.
    fn restored(&self) -> bool {
        let entered = find(&self.seen, b"\x1b[?1049h");
        let left = rfind(&self.seen, b"\x1b[?1049l");
        let shown = rfind(&self.seen, b"\x1b[?25h");
        matches!((entered, left, shown), (Some(e), Some(l), Some(_)) if l > e)
    }
}

impl Drop for AtTerminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

/// A daemon with some traffic: mailbox `orders` with messages queued, a receiver waiting on
/// `replies`.
fn busy_daemon() -> (Daemon, support::Background) {
    let daemon = Daemon::start();
    daemon.run(&["create", "orders"]).code(0);
    daemon.run(&["create", "replies"]).code(0);
    daemon
        .run_with_input(&["send", "orders", "--lines"], "one\ntwo\nthree\n")
        .code(0);
    let waiting = daemon.spawn(&["recv", "replies"]);
    daemon.wait_for_stat("replies", "blocked_receivers", 1);
    (daemon, waiting)
}

#[test]
fn top_draws_the_mailboxes_quits_on_q_and_restores_the_terminal() {
    let (daemon, _waiting) = busy_daemon();
    let mut top = AtTerminal::spawn(&daemon, &["top", "--interval", "50ms"]);
    // The screen is drawn cell by cell, with cursor moves between words: look for words.
    top.wait_for("orders");
    top.wait_for("replies");
    top.wait_for("SENT/s");
    // The waiting receiver (`recv` takes on lease), and its command line.
    top.wait_for("lease");
    top.wait_for("recv");
    // A later frame has rates: the traffic below shows as messages per second.
    daemon.run(&["send", "orders", "four"]).code(0);
    top.wait_for("0.0");
    top.type_keys(b"q");
    assert_eq!(top.finish(), 0, "{}", String::from_utf8_lossy(&top.seen));
    assert!(
        top.restored(),
        "the terminal was not restored: {:?}",
        String::from_utf8_lossy(&top.seen)
    );
}

#[test]
fn ctrl_c_and_esc_quit_too_and_restore_the_terminal() {
    let (daemon, _waiting) = busy_daemon();
    for key in [&b"\x03"[..], b"\x1b"] {
        let mut top = AtTerminal::spawn(&daemon, &["top", "--interval", "1s"]);
        top.wait_for("orders");
        top.type_keys(key);
        assert_eq!(top.finish(), 0, "key {key:?}");
        assert!(top.restored(), "key {key:?} left the terminal as it was");
    }
}

#[test]
fn top_without_a_terminal_refuses_with_exit_1_and_draws_nothing() {
    let daemon = Daemon::start();
    let out = daemon.run(&["top"]).code(1);
    assert_eq!(out.stdout, "", "no escape codes into a pipe");
    assert!(
        out.stderr.contains("standard output is not one"),
        "{}",
        out.stderr
    );
    daemon.run(&["top", "--interval", "1ms"]).code(2);
    daemon.run(&["top", "--interval", "soon"]).code(2);
}

#[test]
fn top_reports_a_node_that_goes_away_after_restoring_the_terminal() {
    let mut daemon = Daemon::start();
    daemon.run(&["create", "orders"]).code(0);
    let mut top = AtTerminal::spawn(&daemon, &["top", "--interval", "20ms"]);
    top.wait_for("orders");
    daemon.kill();
    assert_eq!(top.finish(), 1);
    assert!(top.restored());
    let text = String::from_utf8_lossy(&top.seen);
    let restored_at = text.rfind("\x1b[?1049l").unwrap();
    assert!(
        text[restored_at..].contains("cannot read the node's state"),
        "the error comes after the terminal is back: {text:?}"
    );
}

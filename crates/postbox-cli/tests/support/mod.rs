//! Test support: a daemon of each test's own, and the real `postbox` binary run against it.
//!
//! Every test starts its [`Daemon`] on a unique socket in a fresh temporary directory; it is
//! killed and the directory removed when the test ends, pass or fail. Commands run with
//! `POSTBOX_URL` pointing at it and every other postbox variable cleared, so nothing leaks in
//! from the environment. Nothing waits by sleeping: a test that needs a state (a sender blocked, a
//! receiver waiting) polls the daemon for it with a bounded deadline ([`eventually`]).

// Each test binary uses a different part of this module.
#![allow(dead_code)]

pub(crate) mod nodes;
pub(crate) mod terminal;

use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_postbox");

/// How long anything may take before a test gives up on it (generous: CI machines are slow).
pub(crate) const PATIENCE: Duration = Duration::from_secs(20);

/// Polls `check` until it holds, failing the test if it does not within [`PATIENCE`].
pub(crate) fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(2));
    }
}

/// A finished command: its exit code and output.
#[derive(Debug)]
pub(crate) struct Out {
    /// The exit code (-1 when a signal ended it).
    pub(crate) code: i32,
    /// Standard output.
    pub(crate) stdout: String,
    /// Standard error.
    pub(crate) stderr: String,
}

impl Out {
    /// Asserts the exit code, showing the output when it differs; returns `self` for more checks.
    #[track_caller]
    pub(crate) fn code(self, expected: i32) -> Out {
        assert_eq!(
            self.code, expected,
            "expected exit {expected}, got {}\nstdout: {}\nstderr: {}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    pub(crate) fn ok(self) -> String {
        self.code(0).stdout
    }

    /// Stdout parsed as JSON.
    #[track_caller]
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

/// A `postbox` command with a clean environment.
pub(crate) fn command(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_remove("POSTBOX_URL")
        .env_remove("POSTBOX_SOCKET")
        .env_remove("POSTBOX_TOKEN")
        .env_remove("POSTBOX_TOKEN_FILE")
        .env_remove("POSTBOX_TLS_CA")
        .env_remove("POSTBOX_TLS_CERT")
        .env_remove("POSTBOX_TLS_KEY")
        .env_remove("RUST_LOG");
    command
}

/// Runs `command` to completion with `input` on stdin, within [`PATIENCE`].
pub(crate) fn run_command(mut command: Command, input: Option<&str>) -> Out {
    command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut background = Background::spawn(command);
    if let Some(text) = input {
        background.write_stdin(text);
        background.close_stdin();
    }
    background.finish()
}

/// A child process running in the background, its output read as it comes; killed on drop.
#[derive(Debug)]
pub(crate) struct Background {
    /// The process.
    child: Child,
    /// Its stdout, by line.
    stdout: Receiver<String>,
    /// Its stderr, by line.
    stderr: Receiver<String>,
}

/// Sends each line `from` produces on a channel until it closes.
fn lines(from: impl Read + Send + 'static) -> Receiver<String> {
    let (send, receive) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

impl Background {
    /// Starts `command` (whose stdout and stderr must be piped).
    pub(crate) fn spawn(mut command: Command) -> Background {
        let mut child = command.spawn().expect("cannot start postbox");
        let stdout = lines(child.stdout.take().expect("stdout is piped"));
        let stderr = lines(child.stderr.take().expect("stderr is piped"));
        Background {
            child,
            stdout,
            stderr,
        }
    }

    /// The OS pid.
    pub(crate) fn os_pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes `text` to its stdin.
    pub(crate) fn write_stdin(&mut self, text: &str) {
        let stdin = self.child.stdin.as_mut().expect("stdin is piped");
        stdin
            .write_all(text.as_bytes())
            .expect("cannot write to stdin");
        stdin.flush().expect("cannot flush stdin");
    }

    /// Closes its stdin (end of input).
    pub(crate) fn close_stdin(&mut self) {
        drop(self.child.stdin.take());
    }

    /// The next line of its stdout, within [`PATIENCE`].
    #[track_caller]
    pub(crate) fn stdout_line(&self) -> String {
        self.stdout
            .recv_timeout(PATIENCE)
            .expect("no line on stdout in time")
    }

    /// The next line of its stderr, within [`PATIENCE`].
    #[track_caller]
    pub(crate) fn stderr_line(&self) -> String {
        self.stderr
            .recv_timeout(PATIENCE)
            .expect("no line on stderr in time")
    }

    /// The postbox pid it announces on stderr (`postbox: pid N, ...`), within [`PATIENCE`].
    #[track_caller]
    pub(crate) fn announced_pid(&self) -> u64 {
        let line = self
            .stderr
            .recv_timeout(PATIENCE)
            .expect("no pid announced on stderr in time");
        line.strip_prefix("postbox: pid ")
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|digits| digits.parse().ok())
            .unwrap_or_else(|| panic!("not a pid announcement: {line:?}"))
    }

    /// Whether it is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends SIGKILL.
    pub(crate) fn kill(&mut self) {
        self.child.kill().expect("cannot kill");
    }

    /// Waits for it to exit, within [`PATIENCE`], and collects the rest of its output.
    #[track_caller]
    pub(crate) fn finish(mut self) -> Out {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("cannot wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the command did not finish in time"
            );
            thread::sleep(Duration::from_millis(1));
        };
        let drain = |lines: &Receiver<String>| {
            let mut text = String::new();
            while let Ok(line) = lines.recv_timeout(PATIENCE) {
                text.push_str(&line);
                text.push('\n');
            }
            text
        };
        Out {
            code: status.code().unwrap_or(-1),
            stdout: drain(&self.stdout),
            stderr: drain(&self.stderr),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A daemon of this test's own.
#[derive(Debug)]
pub(crate) struct Daemon {
    /// The daemon process.
    child: Child,
    /// Its socket.
    socket: PathBuf,
    /// The directory holding the socket, removed on drop (after the daemon is killed).
    dir: TempDir,
    /// The flags it was started with, for a restart.
    flags: Vec<String>,
}

/// Starts `postbox daemon` on `socket` with `state` as its state directory.
fn spawn_daemon(socket: &Path, state: &Path, flags: &[String]) -> Child {
    spawn_daemon_with(socket, state, flags, Stdio::inherit())
}

/// As [`spawn_daemon`], its standard error going to `stderr`.
fn spawn_daemon_with(socket: &Path, state: &Path, flags: &[String], stderr: Stdio) -> Child {
    let mut args = vec![
        "daemon".to_owned(),
        "--socket".to_owned(),
        socket
            .to_str()
            .expect("temporary paths are UTF-8")
            .to_owned(),
        "--state-dir".to_owned(),
        state
            .to_str()
            .expect("temporary paths are UTF-8")
            .to_owned(),
    ];
    args.extend(flags.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    command(&args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("cannot start the daemon")
}

impl Daemon {
    /// Starts `postbox daemon` on a fresh socket and waits until it accepts connections.
    pub(crate) fn start() -> Daemon {
        Daemon::start_with(&[])
    }

    /// As [`Daemon::start`], with extra daemon flags. Its state directory (durable mailboxes)
    /// is its own too: `state` beside the socket.
    pub(crate) fn start_with(flags: &[&str]) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("postbox-cli-test-")
            .tempdir()
            .expect("cannot create a temporary directory");
        let socket = dir.path().join("postbox.sock");
        let flags: Vec<String> = flags.iter().map(|&f| f.to_owned()).collect();
        let child = spawn_daemon(&socket, &dir.path().join("state"), &flags);
        let mut daemon = Daemon {
            child,
            socket,
            dir,
            flags,
        };
        daemon.await_accepting();
        daemon
    }

    /// Kills the daemon with SIGKILL — no chance to tidy up — and starts it again on the same
    /// socket and state directory, waiting until it accepts connections.
    pub(crate) fn crash_and_restart(&mut self) {
        self.child.kill().expect("cannot kill the daemon");
        self.child.wait().expect("cannot reap the daemon");
        self.child = spawn_daemon(&self.socket, &self.state_dir(), &self.flags);
        self.await_accepting();
    }

    /// Kills the daemon, runs `meanwhile`, then starts the daemon again in the foreground
    /// expecting it to refuse: its exit code and output (code -1 if it started after all; it is
    /// killed then, and started again for the rest of the test).
    pub(crate) fn stop_and_run_daemon(&mut self, meanwhile: impl FnOnce()) -> Out {
        self.child.kill().expect("cannot kill the daemon");
        self.child.wait().expect("cannot reap the daemon");
        meanwhile();
        let mut child =
            spawn_daemon_with(&self.socket, &self.state_dir(), &self.flags, Stdio::piped());
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break Some(status);
            }
            if Instant::now() > deadline {
                break None;
            }
            thread::sleep(Duration::from_millis(5));
        };
        let code = status.and_then(|s| s.code()).unwrap_or(-1);
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        if status.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.child = spawn_daemon(&self.socket, &self.state_dir(), &self.flags);
        Out {
            code,
            stdout: String::new(),
            stderr,
        }
    }

    /// The daemon's operating-system process id (for reading `/proc`).
    pub(crate) fn os_pid(&self) -> u32 {
        self.child.id()
    }

    /// Where the daemon keeps its durable mailboxes.
    pub(crate) fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn await_accepting(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        while UnixStream::connect(&self.socket).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the daemon exited during start-up: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not accept in time"
            );
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// The port of the daemon's TCP listener (`--listen ...:0` picks it), from `/proc`: the
    /// listening TCP socket among the daemon's descriptors. The daemon binds it just after its
    /// Unix socket, which may already accept, so this looks again until the patience runs out.
    pub(crate) fn tcp_port(&self) -> u16 {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(port) = self.listening_tcp_port() {
                return port;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon has no listening TCP socket"
            );
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// The port of a listening TCP socket among the daemon's descriptors, if it has one yet.
    fn listening_tcp_port(&self) -> Option<u16> {
        let pid = self.child.id();
        let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .expect("cannot list the daemon's descriptors")
            .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
            .filter_map(|target| {
                let target = target.to_str()?;
                Some(
                    target
                        .strip_prefix("socket:[")?
                        .strip_suffix(']')?
                        .to_owned(),
                )
            })
            .collect();
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            let Ok(text) = std::fs::read_to_string(table) else {
                continue;
            };
            for line in text.lines().skip(1) {
                let fields: Vec<&str> = line.split_whitespace().collect();
                // local_address is HEXIP:HEXPORT, st 0A is LISTEN, the inode is field 9.
                let (Some(local), Some(&"0A"), Some(inode)) =
                    (fields.get(1), fields.get(3), fields.get(9))
                else {
                    continue;
                };
                if inodes.iter().any(|ours| ours == inode) {
                    let port = local.rsplit(':').next().expect("HEXIP:HEXPORT");
                    return Some(u16::from_str_radix(port, 16).expect("a hex port"));
                }
            }
        }
        None
    }

    /// The daemon's URL.
    pub(crate) fn url(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The directory the socket is in.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Lets every user reach the socket's directory (the socket's own mode is the daemon's).
    pub(crate) fn open_directory_to_all(&self) {
        std::fs::set_permissions(self.dir(), std::fs::Permissions::from_mode(0o755))
            .expect("cannot chmod the socket directory");
    }

    /// `postbox ARGS` against this daemon, not yet run.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = command(args);
        command.env("POSTBOX_URL", self.url());
        command
    }

    /// Runs `postbox ARGS` against this daemon.
    pub(crate) fn run(&self, args: &[&str]) -> Out {
        run_command(self.command(args), None)
    }

    /// Runs `postbox ARGS` against this daemon with `input` on stdin.
    pub(crate) fn run_with_input(&self, args: &[&str], input: &str) -> Out {
        run_command(self.command(args), Some(input))
    }

    /// Starts `postbox ARGS` against this daemon in the background, stdin piped.
    pub(crate) fn spawn(&self, args: &[&str]) -> Background {
        let mut command = self.command(args);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Background::spawn(command)
    }

    /// Sends the daemon SIGTERM and returns its exit code, waiting at most [`PATIENCE`].
    pub(crate) fn terminate(&mut self) -> i32 {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "cannot signal the daemon"
        );
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("cannot wait for the daemon") {
                return status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "the daemon ignored SIGTERM");
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// Kills the daemon with SIGKILL and waits for it, leaving its socket file behind.
    pub(crate) fn kill(&mut self) {
        self.child.kill().expect("cannot kill the daemon");
        self.child.wait().expect("cannot wait for the daemon");
    }

    /// `postbox stat NAME --json`.
    #[track_caller]
    pub(crate) fn stat(&self, name: &str) -> Value {
        self.run(&["stat", name, "--json"]).code(0).json()
    }

    /// Waits until `stat NAME --json` has `field` equal to `value`.
    #[track_caller]
    pub(crate) fn wait_for_stat(&self, name: &str, field: &str, value: u64) {
        eventually(&format!("{name}.{field} == {value}"), || {
            self.stat(name)[field] == value
        });
    }

    /// Waits until the process `pid` has an operation waiting in the daemon.
    #[track_caller]
    pub(crate) fn wait_until_waiting(&self, pid: u64) {
        eventually(&format!("process {pid} waits"), || {
            let processes = self.run(&["ps", "--json"]).code(0).json();
            processes
                .as_array()
                .expect("ps --json is an array")
                .iter()
                .any(|p| p["pid"] == pid && p["waiting"].as_u64() > Some(0))
        });
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether commands can run as another user here (root, with `setpriv`); prints why not.
pub(crate) fn can_switch_user(test: &str) -> bool {
    let uid = std::fs::metadata("/proc/self").map(|meta| {
        use std::os::unix::fs::MetadataExt as _;
        meta.uid()
    });
    if uid.ok() != Some(0) {
        eprintln!("SKIPPED {test}: needs root to run a command as another user");
        return false;
    }
    let setpriv = Command::new("setpriv")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !setpriv.is_ok_and(|status| status.success()) {
        eprintln!("SKIPPED {test}: setpriv is not available");
        return false;
    }
    let reachable = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            BIN,
            "--version",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !reachable.is_ok_and(|status| status.success()) {
        eprintln!("SKIPPED {test}: uid 65534 cannot run {BIN}");
        return false;
    }
    true
}

impl Daemon {
    /// Runs `postbox ARGS` against this daemon as uid and gid 65534 (nobody).
    pub(crate) fn run_as_nobody(&self, args: &[&str]) -> Out {
        run_command(self.command_as_nobody(args), None)
    }

    /// As [`run_as_nobody`](Self::run_as_nobody), with `input` on stdin.
    pub(crate) fn run_as_nobody_with_input(&self, args: &[&str], input: &str) -> Out {
        run_command(self.command_as_nobody(args), Some(input))
    }

    fn command_as_nobody(&self, args: &[&str]) -> Command {
        let mut command = Command::new("setpriv");
        command
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
            .args(args)
            .env_remove("POSTBOX_SOCKET")
            .env_remove("RUST_LOG")
            .env("POSTBOX_URL", self.url());
        command
    }
}

//! Node daemons for tests, shared by the chaos tests and the CLI's node tests (which include this
//! file by path): the real `postbox` binary, certificates made with `postbox certs`, and daemons
//! started with `--node`, peered over mutual TLS, each in a directory of its own (its log in
//! `daemon.log` there), optionally inside a network namespace, watched with `postbox nodes
//! --json`. Every wait polls with a deadline; every daemon is killed, and its directory removed,
//! when its test ends, pass or fail.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use postbox_chaos::Netns;
use serde_json::Value;
use tempfile::TempDir;

/// How long anything may take before a test gives up on it (generous: CI machines are slow).
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// The environment variables that would point a `postbox` command elsewhere than the test says.
const CLIENT_VARIABLES: [&str; 8] = [
    "POSTBOX_URL",
    "POSTBOX_SOCKET",
    "POSTBOX_TOKEN",
    "POSTBOX_TOKEN_FILE",
    "POSTBOX_TLS_CA",
    "POSTBOX_TLS_CERT",
    "POSTBOX_TLS_KEY",
    "POSTBOX_CONFIG",
];

/// The `postbox` binary: `$POSTBOX_BIN` if set; else, in the CLI's own tests, the binary cargo
/// built for them; else the one cargo built beside these tests (`target/PROFILE/postbox`):
/// `cargo test` of the workspace builds it; with `-p postbox-chaos` alone, build it first:
/// `cargo build -p postbox-cli`.
/// (Building it from here with a nested cargo would resolve features differently from the outer
/// build and make the two rebuild each other's dependencies every time.)
pub(crate) fn postbox_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("POSTBOX_BIN") {
            return PathBuf::from(path);
        }
        if let Some(path) = option_env!("CARGO_BIN_EXE_postbox") {
            return PathBuf::from(path);
        }
        // The test runs as target/PROFILE/deps/NAME-HASH.
        let test = std::env::current_exe().expect("cannot tell where this test runs from");
        let bin = test
            .parent()
            .and_then(Path::parent)
            .map(|profile| profile.join("postbox"))
            .expect("the test executable lies in target/PROFILE/deps");
        assert!(
            bin.is_file(),
            "no postbox binary at {}: build it first with `cargo build -p postbox-cli` \
             (in the same profile as the tests), or set POSTBOX_BIN",
            bin.display()
        );
        bin
    })
}

/// `postbox ARGS` with a clean environment.
pub(crate) fn postbox_command(args: &[&str]) -> Command {
    let mut command = Command::new(postbox_bin());
    command.args(args);
    for variable in CLIENT_VARIABLES {
        command.env_remove(variable);
    }
    command
}

/// Runs `command`, asserting it exits 0; its standard output.
#[track_caller]
pub(crate) fn run_ok(mut command: Command) -> String {
    let output = command
        .stdin(Stdio::null())
        .output()
        .expect("cannot run postbox");
    assert!(
        output.status.success(),
        "{command:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A cluster CA and one certificate per node, made with `postbox certs`.
pub(crate) struct Certs {
    dir: TempDir,
}

impl Certs {
    /// A CA in a fresh directory, and a certificate for each of `names`.
    pub(crate) fn new(names: &[&str]) -> Certs {
        let dir = tempfile::Builder::new()
            .prefix("postbox-test-certs-")
            .tempdir()
            .expect("cannot create a temporary directory");
        let shown = dir.path().to_str().expect("UTF-8 temporary paths");
        run_ok(postbox_command(&["certs", "init", "--dir", shown]));
        for name in names {
            run_ok(postbox_command(&["certs", "issue", name, "--dir", shown]));
        }
        Certs { dir }
    }

    /// The certificate, key and CA files of node `name`.
    pub(crate) fn files(&self, name: &str) -> (PathBuf, PathBuf, PathBuf) {
        let path = |file: String| self.dir.path().join(file);
        (
            path(format!("{name}.pem")),
            path(format!("{name}.key")),
            path("ca.pem".to_owned()),
        )
    }

    /// `--node-cert`, `--node-key` and `--node-ca` for node `name`.
    pub(crate) fn flags(&self, name: &str) -> Vec<String> {
        let (cert, key, ca) = self.files(name);
        vec![
            "--node-cert".to_owned(),
            cert.display().to_string(),
            "--node-key".to_owned(),
            key.display().to_string(),
            "--node-ca".to_owned(),
            ca.display().to_string(),
        ]
    }
}

/// A node daemon in a directory of its own, optionally inside a network namespace; its Unix
/// socket is reachable from the test's namespace either way. It can be killed and started again
/// with the same flags, socket and state directory.
pub(crate) struct NodeDaemon {
    /// The daemon, while it runs.
    child: Option<Child>,
    dir: TempDir,
    name: String,
    /// Everything after `daemon --socket S --state-dir D`.
    flags: Vec<String>,
    /// The namespace's `ip netns exec` prefix, if it runs in one.
    netns: Option<Command>,
}

impl NodeDaemon {
    /// Starts node `name` listening for nodes on `listen` (`HOST:0`: a free port), with `flags`
    /// (certificates, peers), inside `netns` if given; waits until it accepts clients.
    pub(crate) fn start(
        name: &str,
        listen: &str,
        flags: Vec<String>,
        netns: Option<&Netns>,
    ) -> NodeDaemon {
        let dir = tempfile::Builder::new()
            .prefix("postbox-test-node-")
            .tempdir()
            .expect("cannot create a temporary directory");
        let mut all = vec![
            "--node".to_owned(),
            name.to_owned(),
            "--node-listen".to_owned(),
            listen.to_owned(),
        ];
        all.extend(flags);
        let mut daemon = NodeDaemon {
            child: None,
            dir,
            name: name.to_owned(),
            flags: all,
            netns: netns.map(|netns| netns.command(postbox_bin())),
        };
        daemon.spawn();
        daemon
    }

    /// Starts (or starts again) the daemon with its flags, waiting until it accepts clients.
    pub(crate) fn spawn(&mut self) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("daemon.log"))
            .expect("cannot open the daemon's log");
        let socket = self.socket().display().to_string();
        let state = self.dir.path().join("state").display().to_string();
        let mut command = match &self.netns {
            Some(prefix) => {
                let mut command = Command::new(prefix.get_program());
                command.args(prefix.get_args());
                command
            }
            None => Command::new(postbox_bin()),
        };
        command
            .args(["daemon", "--socket", &socket, "--state-dir", &state])
            .args(&self.flags)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        for variable in CLIENT_VARIABLES {
            command.env_remove(variable);
        }
        self.child = Some(command.spawn().expect("cannot start the daemon"));
        let deadline = Instant::now() + PATIENCE;
        while std::os::unix::net::UnixStream::connect(self.socket()).is_err() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "daemon {} exited during start-up: {status}\n{}",
                    self.name,
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "daemon {} did not accept in time",
                self.name
            );
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// Makes the next [`NodeDaemon::spawn`] listen for nodes on `address` (to start it again on
    /// the port it had, say).
    pub(crate) fn listen_on(&mut self, address: &str) {
        self.flags[3] = address.to_owned();
    }

    /// Its client socket.
    pub(crate) fn socket(&self) -> PathBuf {
        self.dir.path().join("postbox.sock")
    }

    /// Its URL, for the library's `connect` and `POSTBOX_URL`.
    pub(crate) fn url(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// `postbox nodes --json` against it.
    #[track_caller]
    pub(crate) fn nodes(&self) -> Value {
        let mut nodes = postbox_command(&["nodes", "--json"]);
        nodes.env("POSTBOX_URL", self.url());
        let text = run_ok(nodes);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }

    /// Its own incarnation.
    pub(crate) fn incarnation(&self) -> String {
        self.nodes()["node"]["incarnation"]
            .as_str()
            .expect("an incarnation")
            .to_owned()
    }

    /// The port its node listener is bound to.
    pub(crate) fn node_port(&self) -> u16 {
        let nodes = self.nodes();
        let listen = nodes["node"]["listen"].as_str().expect("a node listener");
        listen
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("ADDR:PORT")
    }

    /// Peer `name` as `nodes --json` shows it, if listed.
    pub(crate) fn peer(&self, name: &str) -> Option<Value> {
        let nodes = self.nodes();
        nodes["peers"]
            .as_array()?
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
    }

    /// Polls until peer `name` is in `state` and `check` holds for it; how long that took.
    #[track_caller]
    pub(crate) fn wait_for_peer(
        &self,
        name: &str,
        state: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Duration {
        let started = Instant::now();
        loop {
            if let Some(peer) = self.peer(name)
                && peer["state"] == state
                && check(&peer)
            {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < PATIENCE,
                "node {}: peer {name} never became {state}: {}\n{}",
                self.name,
                self.nodes(),
                self.log()
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Polls until its log holds `text`.
    #[track_caller]
    pub(crate) fn wait_for_log(&self, text: &str) {
        let started = Instant::now();
        while !self.log().contains(text) {
            assert!(
                started.elapsed() < PATIENCE,
                "no {text:?} in the log of node {}:\n{}",
                self.name,
                self.log()
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Its log so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// Asserts it is still running and never panicked.
    #[track_caller]
    pub(crate) fn assert_healthy(&mut self) {
        assert!(
            matches!(
                self.child.as_mut().map(|child| child.try_wait()),
                Some(Ok(None))
            ),
            "daemon {} exited\n{}",
            self.name,
            self.log()
        );
        let log = self.log();
        assert!(
            !log.contains("panicked"),
            "daemon {} panicked\n{log}",
            self.name
        );
    }

    /// Its OS process id, while it runs.
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// `kill -9`, reaped.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("cannot kill the daemon");
            child.wait().expect("cannot reap the daemon");
        }
    }

    /// Sends SIGTERM and returns at once (see [`NodeDaemon::wait`]).
    pub(crate) fn terminate(&mut self) {
        let pid = self.pid().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "cannot signal the daemon"
        );
    }

    /// Waits for it to exit (after SIGTERM), within the patience; its exit code.
    pub(crate) fn wait(&mut self) -> i32 {
        let mut child = self.child.take().expect("running");
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status.code().unwrap_or(-1);
            }
            assert!(started.elapsed() < PATIENCE, "the daemon ignored SIGTERM");
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// Its resident memory, in bytes (`VmRSS` of its `/proc/PID/status`).
    pub(crate) fn resident_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("cannot read the daemon's /proc status");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("a VmRSS line");
        kib * 1024
    }
}

impl Drop for NodeDaemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Nodes `a` and `b` on the loopback, `a` dialling `b`, both up with each other.
pub(crate) struct Pair {
    /// Node a.
    pub(crate) a: NodeDaemon,
    /// Node b.
    pub(crate) b: NodeDaemon,
    /// Their certificates, kept while they run.
    _certs: Certs,
}

impl Pair {
    /// Starts b, then a peered with it, and waits until each sees the other up.
    pub(crate) fn start() -> Pair {
        Pair::start_with(&[], &[])
    }

    /// As [`Pair::start`], with more flags for a (`a_more`) and for b (`b_more`).
    pub(crate) fn start_with(a_more: &[&str], b_more: &[&str]) -> Pair {
        let certs = Certs::new(&["a", "b"]);
        let mut b_flags = certs.flags("b");
        b_flags.extend(b_more.iter().map(|flag| (*flag).to_owned()));
        let b = NodeDaemon::start("b", "127.0.0.1:0", b_flags, None);
        let mut a_flags = certs.flags("a");
        a_flags.extend([
            "--peer".to_owned(),
            format!("b=127.0.0.1:{}", b.node_port()),
        ]);
        a_flags.extend(a_more.iter().map(|flag| (*flag).to_owned()));
        let a = NodeDaemon::start("a", "127.0.0.1:0", a_flags, None);
        a.wait_for_peer("b", "up", |_| true);
        b.wait_for_peer("a", "up", |_| true);
        Pair {
            a,
            b,
            _certs: certs,
        }
    }
}

//! Node daemons for tests: certificates made with `postbox certs`, and daemons started with
//! `--node`, peered over mutual TLS, each in a directory of its own and killed on drop.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use super::{Background, Out, PATIENCE, command, run_command};

/// Certificates made with `postbox certs`: a CA in `dir`, and one certificate per name issued.
pub(crate) struct Certs {
    /// Where the CA and the certificates are.
    pub(crate) dir: PathBuf,
}

impl Certs {
    /// Makes a CA in `dir` and issues a certificate for each of `names`.
    pub(crate) fn init(dir: &Path, names: &[&str]) -> Certs {
        let dir = dir.to_owned();
        let shown = dir.to_str().expect("UTF-8 temporary paths");
        run_command(command(&["certs", "init", "--dir", shown]), None).code(0);
        for name in names {
            run_command(command(&["certs", "issue", name, "--dir", shown]), None).code(0);
        }
        Certs { dir }
    }

    /// `--node-cert`, `--node-key` and `--node-ca` for the certificate issued to `name`.
    pub(crate) fn flags(&self, name: &str) -> Vec<String> {
        let path = |file: String| self.dir.join(file).display().to_string();
        vec![
            "--node-cert".to_owned(),
            path(format!("{name}.pem")),
            "--node-key".to_owned(),
            path(format!("{name}.key")),
            "--node-ca".to_owned(),
            path("ca.pem".to_owned()),
        ]
    }
}

/// A daemon with node links, in a directory of its own; its log goes to `daemon.log` there.
pub(crate) struct NodeDaemon {
    /// The daemon, while it runs.
    child: Option<Child>,
    /// Its directory: socket, state, log.
    dir: TempDir,
    /// Its flags after `--state-dir`; `flags[3]` is the `--node-listen` address.
    pub(crate) flags: Vec<String>,
}

impl NodeDaemon {
    /// Starts node `name` with `flags` (certificates, peers), listening for nodes on
    /// `127.0.0.1:port` (0: any free port), and waits until it accepts clients.
    pub(crate) fn start(name: &str, port: u16, flags: Vec<String>) -> NodeDaemon {
        let dir = tempfile::Builder::new()
            .prefix("postbox-nodes-test-")
            .tempdir()
            .expect("cannot create a temporary directory");
        let mut all = vec![
            "--node".to_owned(),
            name.to_owned(),
            "--node-listen".to_owned(),
            format!("127.0.0.1:{port}"),
        ];
        all.extend(flags);
        let mut daemon = NodeDaemon {
            child: None,
            dir,
            flags: all,
        };
        daemon.spawn();
        daemon
    }

    /// Its Unix socket.
    pub(crate) fn socket(&self) -> PathBuf {
        self.dir.path().join("postbox.sock")
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
        let mut args = vec!["daemon", "--socket", &socket, "--state-dir", &state];
        args.extend(self.flags.iter().map(String::as_str));
        let child = command(&args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("cannot start the daemon");
        self.child = Some(child);
        let deadline = Instant::now() + PATIENCE;
        while std::os::unix::net::UnixStream::connect(self.socket()).is_err() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "the daemon exited during start-up: {status}\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not accept in time"
            );
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// `postbox nodes --json` against it.
    pub(crate) fn nodes(&self) -> Value {
        let mut nodes = command(&["nodes", "--json"]);
        nodes.env("POSTBOX_URL", format!("unix://{}", self.socket().display()));
        run_command(nodes, None).code(0).json()
    }

    /// This node's incarnation, as `nodes --json` shows it.
    pub(crate) fn incarnation(&self) -> String {
        self.nodes()["node"]["incarnation"]
            .as_str()
            .expect("an incarnation")
            .to_owned()
    }

    /// The port its node listener is bound to.
    pub(crate) fn node_port(&self) -> u16 {
        let listen = self.nodes()["node"]["listen"]
            .as_str()
            .expect("a node listener")
            .to_owned();
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

    /// Polls until peer `name` is in `state` (and, if given, `check` holds for it); how long
    /// that took.
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
                "node {name} never became {state}: {}\n{}",
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
                "no {text:?} in the log:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Its log so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// `kill -9`, reaped.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("cannot kill the daemon");
            child.wait().expect("cannot reap the daemon");
        }
    }

    /// Sends SIGTERM and returns at once (the daemon is reaped later).
    pub(crate) fn terminate(&mut self) {
        let pid = self.child.as_ref().expect("running").id().to_string();
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
}

impl Drop for NodeDaemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl NodeDaemon {
    /// Its URL.
    /// The daemon's resident memory, in bytes (`VmRSS` of its `/proc/PID/status`).
    pub(crate) fn resident_bytes(&self) -> u64 {
        let pid = self.child.as_ref().expect("running").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .expect("cannot read the daemon's /proc status");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("a VmRSS line");
        kib * 1024
    }

    pub(crate) fn url(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// `postbox ARGS` against it, not yet run.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = command(args);
        command.env("POSTBOX_URL", self.url());
        command
    }

    /// Runs `postbox ARGS` against it.
    pub(crate) fn run(&self, args: &[&str]) -> Out {
        run_command(self.command(args), None)
    }

    /// Runs `postbox ARGS` against it with `input` on stdin.
    pub(crate) fn run_with_input(&self, args: &[&str], input: &str) -> Out {
        run_command(self.command(args), Some(input))
    }

    /// Waits until `stat NAME --json` on it has `field` equal to `value`.
    #[track_caller]
    pub(crate) fn wait_for_stat_field(&self, name: &str, field: &str, value: u64) {
        super::eventually(&format!("{name}.{field} == {value}"), || {
            self.run(&["stat", name, "--json"]).code(0).json()[field] == value
        });
    }

    /// Starts `postbox ARGS` against it in the background, stdin piped.
    pub(crate) fn spawn_command(&self, args: &[&str]) -> Background {
        let mut command = self.command(args);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Background::spawn(command)
    }
}

/// Nodes `a` and `b`, `a` dialling `b`, both up with each other.
pub(crate) struct Pair {
    /// Node a.
    pub(crate) a: NodeDaemon,
    /// Node b.
    pub(crate) b: NodeDaemon,
    /// Their certificates' directory, kept while they run.
    _certs: TempDir,
}

impl Pair {
    /// Starts b, then a peered with it, and waits until each sees the other up.
    pub(crate) fn start() -> Pair {
        let certs_dir = tempfile::tempdir().expect("cannot create a temporary directory");
        let certs = Certs::init(certs_dir.path(), &["a", "b"]);
        let b = NodeDaemon::start("b", 0, certs.flags("b"));
        let mut a_flags = certs.flags("a");
        a_flags.extend([
            "--peer".to_owned(),
            format!("b=127.0.0.1:{}", b.node_port()),
        ]);
        let a = NodeDaemon::start("a", 0, a_flags);
        a.wait_for_peer("b", "up", |_| true);
        b.wait_for_peer("a", "up", |_| true);
        Pair {
            a,
            b,
            _certs: certs_dir,
        }
    }
}

//! What the chaos tests share: the real `postbox` binary, certificates from `postbox certs`,
//! and node daemons of each test's own (optionally inside a network namespace), watched with
//! `postbox nodes --json`. Every wait polls with a deadline; every daemon is killed, and its
//! directory removed, when its test ends, pass or fail.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

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

/// A count from the environment variable `name`, else `default` (the short form for CI).
pub(crate) fn env_count(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a count")),
        Err(_) => default,
    }
}

/// The `postbox` binary: `$POSTBOX_BIN` if set, else the one cargo built beside these tests
/// (`target/PROFILE/postbox`). `cargo test` of the workspace builds it; with `-p postbox-chaos`
/// alone, build it first: `cargo build -p postbox-cli`. (Building it from here with a nested
/// cargo would resolve features differently from the outer build and make the two rebuild
/// each other's dependencies every time.)
pub(crate) fn postbox_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("POSTBOX_BIN") {
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
pub(crate) fn command(args: &[&str]) -> Command {
    let mut command = Command::new(postbox_bin());
    command.args(args);
    for variable in [
        "POSTBOX_URL",
        "POSTBOX_SOCKET",
        "POSTBOX_TOKEN",
        "POSTBOX_TOKEN_FILE",
        "POSTBOX_TLS_CA",
        "POSTBOX_TLS_CERT",
        "POSTBOX_TLS_KEY",
        "POSTBOX_CONFIG",
    ] {
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
            .prefix("postbox-chaos-certs-")
            .tempdir()
            .expect("cannot create a temporary directory");
        let shown = dir.path().to_str().expect("UTF-8 temporary paths");
        run_ok(command(&["certs", "init", "--dir", shown]));
        for name in names {
            run_ok(command(&["certs", "issue", name, "--dir", shown]));
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

/// A node daemon in a directory of its own (its log in `daemon.log` there), optionally inside
/// a network namespace; its Unix socket is reachable from the test's namespace either way.
pub(crate) struct NodeDaemon {
    child: Child,
    dir: TempDir,
    name: String,
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
            .prefix("postbox-chaos-node-")
            .tempdir()
            .expect("cannot create a temporary directory");
        let socket = dir.path().join("postbox.sock").display().to_string();
        let state = dir.path().join("state").display().to_string();
        let log = File::create(dir.path().join("daemon.log")).expect("cannot create the log");
        let mut args = vec![
            "daemon".to_owned(),
            "--socket".to_owned(),
            socket,
            "--state-dir".to_owned(),
            state,
            "--node".to_owned(),
            name.to_owned(),
            "--node-listen".to_owned(),
            listen.to_owned(),
        ];
        args.extend(flags);
        let mut command = match netns {
            Some(netns) => netns.command(postbox_bin()),
            None => Command::new(postbox_bin()),
        };
        command
            .args(&args)
            .env("RUST_LOG", "info")
            .env_remove("POSTBOX_URL")
            .env_remove("POSTBOX_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let child = command.spawn().expect("cannot start the daemon");
        let mut daemon = NodeDaemon {
            child,
            dir,
            name: name.to_owned(),
        };
        let deadline = Instant::now() + PATIENCE;
        while std::os::unix::net::UnixStream::connect(daemon.socket()).is_err() {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                panic!(
                    "daemon {name} exited during start-up: {status}\n{}",
                    daemon.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "daemon {name} did not accept in time"
            );
            thread::sleep(Duration::from_millis(2));
        }
        daemon
    }

    /// Its client socket.
    pub(crate) fn socket(&self) -> PathBuf {
        self.dir.path().join("postbox.sock")
    }

    /// Its URL, for the library's `connect`.
    pub(crate) fn url(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// `postbox nodes --json` against it.
    #[track_caller]
    pub(crate) fn nodes(&self) -> Value {
        let mut nodes = command(&["nodes", "--json"]);
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

    /// Its log so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// Asserts it is still running and never panicked.
    #[track_caller]
    pub(crate) fn assert_healthy(&mut self) {
        assert!(
            matches!(self.child.try_wait(), Ok(None)),
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
}

impl Drop for NodeDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The minimum, median and maximum of `samples` (sorted in place), as text.
pub(crate) fn distribution(samples: &mut [Duration]) -> String {
    samples.sort();
    match samples {
        [] => "no samples".to_owned(),
        _ => format!(
            "n={} min={:?} p50={:?} max={:?}",
            samples.len(),
            samples[0],
            samples[samples.len() / 2],
            samples[samples.len() - 1]
        ),
    }
}

//! Node links through the real binary: daemons peered over mutual TLS with certificates from
//! `postbox certs`, watched with `postbox nodes --json` — up with each other's incarnation, down
//! within the node timeout after `kill -9`, up again with a new incarnation after a restart,
//! down at once after SIGTERM; and a node whose certificate is for another name, or from another
//! CA, refused. Every wait polls with a deadline; every daemon is killed when its test ends.

mod support;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{PATIENCE, command, run_command};
use tempfile::TempDir;

/// Certificates made with `postbox certs`: a CA in `dir`, and one certificate per name issued.
struct Certs {
    dir: PathBuf,
}

impl Certs {
    fn init(dir: &Path, names: &[&str]) -> Certs {
        let dir = dir.to_owned();
        let shown = dir.to_str().expect("UTF-8 temporary paths");
        run_command(command(&["certs", "init", "--dir", shown]), None).code(0);
        for name in names {
            run_command(command(&["certs", "issue", name, "--dir", shown]), None).code(0);
        }
        Certs { dir }
    }

    /// `--node-cert`, `--node-key` and `--node-ca` for the certificate issued to `name`.
    fn flags(&self, name: &str) -> Vec<String> {
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
struct NodeDaemon {
    child: Option<Child>,
    dir: TempDir,
    flags: Vec<String>,
}

impl NodeDaemon {
    /// Starts node `name` with `flags` (certificates, peers), listening for nodes on
    /// `127.0.0.1:port` (0: any free port), and waits until it accepts clients.
    fn start(name: &str, port: u16, flags: Vec<String>) -> NodeDaemon {
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

    fn socket(&self) -> PathBuf {
        self.dir.path().join("postbox.sock")
    }

    fn spawn(&mut self) {
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
    fn nodes(&self) -> Value {
        let mut nodes = command(&["nodes", "--json"]);
        nodes.env("POSTBOX_URL", format!("unix://{}", self.socket().display()));
        run_command(nodes, None).code(0).json()
    }

    /// This node's incarnation, as `nodes --json` shows it.
    fn incarnation(&self) -> String {
        self.nodes()["node"]["incarnation"]
            .as_str()
            .expect("an incarnation")
            .to_owned()
    }

    /// The port its node listener is bound to.
    fn node_port(&self) -> u16 {
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
    fn peer(&self, name: &str) -> Option<Value> {
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
    fn wait_for_peer(&self, name: &str, state: &str, check: impl Fn(&Value) -> bool) -> Duration {
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
    fn wait_for_log(&self, text: &str) {
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

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// `kill -9`, reaped.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("cannot kill the daemon");
            child.wait().expect("cannot reap the daemon");
        }
    }

    /// Sends SIGTERM and returns at once (the daemon is reaped later).
    fn terminate(&mut self) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "cannot signal the daemon"
        );
    }

    /// Waits for it to exit (after SIGTERM), within the patience; its exit code.
    fn wait(&mut self) -> i32 {
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

#[test]
fn peered_nodes_see_each_other_up_down_restarted_and_leaving() {
    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::init(dir.path(), &["a", "b"]);
    let mut b = NodeDaemon::start("b", 0, certs.flags("b"));
    let b_port = b.node_port();
    let mut a_flags = certs.flags("a");
    a_flags.extend(["--peer".to_owned(), format!("b=127.0.0.1:{b_port}")]);
    let a = NodeDaemon::start("a", 0, a_flags);

    // Each shows the other up, with the other's own incarnation (b learnt a on first use).
    let b_first = b.incarnation();
    a.wait_for_peer("b", "up", |peer| peer["incarnation"] == b_first.as_str());
    let a_incarnation = a.incarnation();
    b.wait_for_peer("a", "up", |peer| {
        peer["incarnation"] == a_incarnation.as_str()
    });
    let shown = a.peer("b").unwrap();
    assert_eq!(shown["address"], format!("127.0.0.1:{b_port}"));
    assert!(shown["rtt_ms"].is_number() || shown["rtt_ms"].is_null());
    assert_eq!(shown["unacked"], 0);

    // kill -9 b: a reports it down within the node timeout (3 s) and a little.
    b.kill();
    let down = a.wait_for_peer("b", "down", |_| true);
    println!("kill -9: a saw b down after {down:?}");
    assert!(down <= Duration::from_millis(3500), "down after {down:?}");

    // b again, on the same port: a sees it up with a new incarnation.
    b.flags[3] = format!("127.0.0.1:{b_port}");
    b.spawn();
    let b_second = b.incarnation();
    assert_ne!(b_second, b_first, "a new incarnation at every start");
    let up = a.wait_for_peer("b", "up", |peer| peer["incarnation"] == b_second.as_str());
    println!("restart: a saw b up again after {up:?}");

    // SIGTERM b: its Goodbye makes a see it down at once.
    b.terminate();
    let down = a.wait_for_peer("b", "down", |_| true);
    println!("SIGTERM: a saw b down after {down:?}");
    assert!(down <= Duration::from_secs(1), "down after {down:?}");
    assert_eq!(b.wait(), 0, "a clean shutdown");
    assert!(
        a.log().contains("node b is down: the node said goodbye"),
        "{}",
        a.log()
    );
}

#[test]
fn a_node_whose_certificate_is_for_another_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::init(dir.path(), &["a", "mallory"]);
    let a = NodeDaemon::start("a", 0, certs.flags("a"));
    // It says it is b, with mallory's certificate.
    let mut flags = certs.flags("mallory");
    flags.extend([
        "--peer".to_owned(),
        format!("a=127.0.0.1:{}", a.node_port()),
    ]);
    let impostor = NodeDaemon::start("b", 0, flags);
    a.wait_for_log("it says it is node b, but its certificate is not for node b");
    assert_eq!(
        a.nodes()["peers"],
        Value::Array(Vec::new()),
        "a never links with it"
    );
    assert_ne!(impostor.peer("a").unwrap()["state"], "up");
}

#[test]
fn a_node_whose_certificate_is_from_another_ca_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::init(&dir.path().join("ours"), &["a"]);
    let theirs = Certs::init(&dir.path().join("theirs"), &["x"]);
    let a = NodeDaemon::start("a", 0, certs.flags("a"));
    let mut flags = theirs.flags("x");
    flags.extend([
        "--peer".to_owned(),
        format!("a=127.0.0.1:{}", a.node_port()),
    ]);
    let stranger = NodeDaemon::start("x", 0, flags);
    a.wait_for_log("refused a node connection from 127.0.0.1");
    stranger.wait_for_log("cannot link with node a: the TLS handshake");
    assert_eq!(
        a.nodes()["peers"],
        Value::Array(Vec::new()),
        "a never links with it"
    );
    assert_ne!(stranger.peer("a").unwrap()["state"], "up");
}

#[test]
fn without_node_links_nodes_says_so() {
    let daemon = support::Daemon::start();
    let nodes = daemon.run(&["nodes", "--json"]).code(0).json();
    assert_eq!(nodes["node"], Value::Null);
    assert_eq!(nodes["peers"], Value::Array(Vec::new()));
    let table = daemon.run(&["nodes"]).code(0).stdout;
    assert!(table.contains("no node links"), "{table}");
}

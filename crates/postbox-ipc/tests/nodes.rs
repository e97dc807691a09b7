//! Queues across machines: two node daemons, `a` and `b`, hosted by this test and linked over
//! mutual TLS (certificates made here, as `postbox certs` makes them). A preloaded program on
//! `a` whose `POSTBOX_IPC_MAP` puts a queue on `b` creates it there — a mailbox of `b`, not of
//! `a` — and a program on `b` without a mapping, using the same key or name, gets what the
//! first sent (typed System V receives, POSIX priorities) and answers; the first takes the
//! answers, and its `IPC_RMID` or `mq_unlink` removes the queue from `b`. The steps
//! (`c/tools/queue_steps.c`) run natively first, against the kernel, which proves them right.
//! Then: calls on a queue of a node that went down fail with `EIO`, and a malformed mapping
//! makes every call fail with `EINVAL`, saying why once on stderr, while a node the daemon does
//! not link with holds no queue (`ENOENT`), and a daemon that is no node refuses mapped queues
//! (`EINVAL`).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use postbox::{PeerState, Process};
use postbox_daemon::{Daemon, DaemonConfig, NodeConfig, NodeTls, PeerAddress};
use postbox_wire::link::NodeName;
use support::{compile, crate_dir, program, run_program};

/// How long the nodes have to link up, or to see each other go.
const PATIENCE: Duration = Duration::from_secs(20);

/// A node daemon served by a runtime of this test, on a socket in a directory of its own.
struct NodeDaemon {
    url: String,
    node_addr: Option<SocketAddr>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    runtime: Option<tokio::runtime::Runtime>,
    _dir: tempfile::TempDir,
}

impl NodeDaemon {
    /// Starts a daemon, a node with `node`'s links, or without: a daemon that is no node.
    fn start(node: Option<NodeConfig>) -> NodeDaemon {
        let dir = tempfile::tempdir().unwrap();
        let mut config = DaemonConfig::new().with_socket_path(dir.path().join("postbox.sock"));
        config.node = node;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let daemon = runtime.block_on(async { Daemon::bind(config) }).unwrap();
        let url = format!("unix://{}", daemon.socket_path().display());
        let node_addr = daemon.local_node_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        runtime.spawn(daemon.serve(async {
            let _ = stopped.await;
        }));
        NodeDaemon {
            url,
            node_addr,
            stop: Some(stop),
            runtime: Some(runtime),
            _dir: dir,
        }
    }

    fn process(&self) -> Process {
        postbox::connect(&self.url).unwrap()
    }

    /// Shuts it down (it says goodbye to its peers), waiting for it.
    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
    }

    /// Polls until this node reports peer `name` in `state` (or, with `up` false, in any other).
    fn wait_for_peer(&self, name: &str, up: bool) {
        let observer = self.process();
        let deadline = Instant::now() + PATIENCE;
        loop {
            let links = observer.node_links().unwrap();
            let is_up = links
                .peers
                .iter()
                .any(|peer| peer.name == name && peer.state == PeerState::Up);
            if is_up == up {
                return;
            }
            assert!(Instant::now() < deadline, "{name} never became up={up}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn mailbox_names(&self) -> Vec<String> {
        let list = self.process().list_mailboxes().unwrap();
        list.into_iter().map(|stats| stats.name).collect()
    }
}

impl Drop for NodeDaemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Nodes `a` (dialling) and `b`, linked: `a` is dropped first, while `b` still runs.
struct Pair {
    a: NodeDaemon,
    b: NodeDaemon,
}

impl Pair {
    fn start() -> Pair {
        let certs = tempfile::tempdir().unwrap();
        make_node_certificates(certs.path(), &["a", "b"]);
        let tls = |name: &str| {
            let file = |file: String| certs.path().join(file);
            NodeTls::from_files(
                &file(format!("{name}.pem")),
                &file(format!("{name}.key")),
                &file("ca.pem".to_owned()),
            )
            .unwrap()
        };
        let name = |n: &str| NodeName::new(n).unwrap();
        let mut b_config = NodeConfig::new(name("b"), tls("b"));
        b_config.listen = Some("127.0.0.1:0".parse().unwrap());
        let b = NodeDaemon::start(Some(b_config));
        let mut a_config = NodeConfig::new(name("a"), tls("a"));
        a_config.peers.push(PeerAddress {
            name: name("b"),
            address: b.node_addr.expect("b listens for nodes").to_string(),
        });
        let a = NodeDaemon::start(Some(a_config));
        a.wait_for_peer("b", true);
        b.wait_for_peer("a", true);
        Pair { a, b }
    }
}

/// A CA (`ca.pem`) and a certificate and key per node name (`NAME.pem`, `NAME.key`) in `dir`,
/// as `postbox certs init` and `postbox certs issue` make them.
fn make_node_certificates(dir: &Path, names: &[&str]) {
    use rcgen::{
        BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::default();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    for name in names {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![(*name).to_owned()]).unwrap();
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, &issuer).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    }
}

/// `c/tools/queue_steps.c`, compiled into `dir`.
fn queue_steps(dir: &Path) -> PathBuf {
    let out = dir.join("queue_steps");
    compile(&crate_dir().join("c/tools/queue_steps.c"), &out);
    out
}

/// Runs a step preloaded against the daemon at `url`, with `map` as `POSTBOX_IPC_MAP`.
fn step(steps: &Path, args: &[&str], url: &str, map: Option<&str>) -> String {
    let mut command = program(steps, args, Some(url));
    command.env_remove("POSTBOX_IPC_MAP_FILE");
    match map {
        Some(map) => command.env("POSTBOX_IPC_MAP", map),
        None => command.env_remove("POSTBOX_IPC_MAP"),
    };
    support::run(&mut command, &format!("queue_steps {args:?} on {url}"))
}

/// A key of this test run, distinct per process and per `n`.
fn key(n: u32) -> String {
    format!(
        "{:x}",
        0x7000_0000 | ((std::process::id() & 0xfffff) << 4) | n
    )
}

#[test]
fn a_system_v_queue_mapped_to_b_lives_there_and_serves_both_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let steps = queue_steps(dir.path());
    // Natively, against the kernel: the steps are right.
    let native = key(0);
    let created = run_program(&steps, &["sysv-create", &native], None);
    let (msqid, private) = identifiers(&created);
    run_program(&steps, &["sysv-serve", &native], None);
    run_program(&steps, &["sysv-finish", &native, &msqid, &private], None);

    let nodes = Pair::start();
    let key = key(1);
    // `sysv:*` puts the IPC_PRIVATE queue on b too.
    let map = format!("posix:/unrelated=c,sysv:0x{key}=b,sysv:*=b");
    let name = format!("sysv.{key}");
    let created = step(&steps, &["sysv-create", &key], &nodes.a.url, Some(&map));
    let (msqid, private) = identifiers(&created);
    for id in [&msqid, &private] {
        let id: i32 = id.parse().unwrap();
        assert_ne!(
            id & (1 << 30),
            0,
            "another node's queue: bit 30 is set in {id:#x}"
        );
    }
    // The queues are b's, holding their messages; a has no such mailboxes.
    let on_b = nodes.b.process().list_mailboxes().unwrap();
    let queue = on_b.iter().find(|stats| stats.name == name);
    assert_eq!(queue.map(|stats| stats.messages), Some(3), "{on_b:?}");
    let private_queue = on_b
        .iter()
        .find(|stats| stats.name.starts_with("sysv.private."));
    assert_eq!(
        private_queue.map(|stats| stats.messages),
        Some(1),
        "{on_b:?}"
    );
    let on_a = nodes.a.mailbox_names();
    assert!(!on_a.iter().any(|n| n.starts_with("sysv.")), "{on_a:?}");
    // A program on b, with no mapping, takes them by type and answers.
    step(&steps, &["sysv-serve", &key], &nodes.b.url, None);
    // The first node's program gets the answers, by the same identifiers, and removes the
    // queues.
    step(
        &steps,
        &["sysv-finish", &key, &msqid, &private],
        &nodes.a.url,
        Some(&map),
    );
    let on_b = nodes.b.mailbox_names();
    assert!(!on_b.iter().any(|n| n.starts_with("sysv.")), "{on_b:?}");
}

/// The identifiers `sysv-create` prints: the keyed queue's and the private one's.
fn identifiers(created: &str) -> (String, String) {
    let mut lines = created.lines();
    let mut field = |prefix: &str| {
        let line = lines.next().unwrap_or_default();
        let id = line.strip_prefix(prefix);
        id.unwrap_or_else(|| panic!("no {prefix:?} in {created}"))
            .to_owned()
    };
    (field("msqid "), field("private "))
}

#[test]
fn a_posix_queue_mapped_to_b_lives_there_and_serves_both_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let steps = queue_steps(dir.path());
    let queue = format!("/postbox-nodes-{}", std::process::id());
    for step in ["mq-create", "mq-serve", "mq-finish"] {
        run_program(&steps, &[step, &queue], None);
    }

    let nodes = Pair::start();
    // A prefix rule, after one that does not match.
    let map = "posix:/postbox-nodes=c posix:/postbox-nodes-*=b";
    let name = format!("posix.{}", &queue[1..]);
    step(&steps, &["mq-create", &queue], &nodes.a.url, Some(map));
    let on_b = nodes.b.process().list_mailboxes().unwrap();
    let found = on_b.iter().find(|stats| stats.name == name);
    assert_eq!(found.map(|stats| stats.messages), Some(3), "{on_b:?}");
    assert!(!nodes.a.mailbox_names().contains(&name));
    step(&steps, &["mq-serve", &queue], &nodes.b.url, None);
    step(&steps, &["mq-finish", &queue], &nodes.a.url, Some(map));
    let left: Vec<String> = nodes
        .b
        .mailbox_names()
        .into_iter()
        .filter(|mailbox| mailbox.starts_with(&name))
        .collect();
    assert!(left.is_empty(), "left on b: {left:?}");
}

/// A child process, killed and reaped if the test ends first.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn calls_on_the_queues_of_a_node_that_went_down_fail_with_eio() {
    let dir = tempfile::tempdir().unwrap();
    let steps = queue_steps(dir.path());
    let mut nodes = Pair::start();
    let key = key(2);
    let queue = format!("/postbox-down-{}", std::process::id());
    let map = format!("sysv:0x{key}=b posix:{queue}=b");
    let mut command = program(&steps, &["down", &key, &queue], Some(&nodes.a.url));
    command
        .env("POSTBOX_IPC_MAP", &map)
        .env_remove("POSTBOX_IPC_MAP_FILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut running = Running(command.spawn().unwrap());
    let mut stdout = BufReader::new(running.0.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    // Its two children wait on the queues when b goes.
    let observer = nodes.b.process();
    let deadline = Instant::now() + PATIENCE;
    let names = [format!("sysv.{key}"), format!("posix.{}", &queue[1..])];
    loop {
        let waiting = observer.list_mailboxes().unwrap();
        let blocked = |name: &String| {
            waiting
                .iter()
                .any(|stats| &stats.name == name && stats.blocked_receivers == 1)
        };
        if names.iter().all(blocked) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no receivers waiting: {waiting:?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    drop(observer);

    nodes.b.stop();
    nodes.a.wait_for_peer("b", false);
    let mut stdin = running.0.stdin.take().unwrap();
    stdin.write_all(b"go\n").unwrap();
    drop(stdin);
    let (status, out, err) = finish(&mut running, stdout);
    assert!(
        status.success() && out.contains("down: ok"),
        "{status}\n--- stdout\n{out}\n--- stderr\n{err}"
    );
}

/// Waits for `running`, whose stdout was taken as `stdout`: its exit status, the rest of its
/// stdout, and its stderr.
fn finish(
    running: &mut Running,
    mut stdout: BufReader<std::process::ChildStdout>,
) -> (std::process::ExitStatus, String, String) {
    let mut out = String::new();
    let mut err = String::new();
    stdout.read_to_string(&mut out).unwrap();
    if let Some(mut stderr) = running.0.stderr.take() {
        stderr.read_to_string(&mut err).unwrap();
    }
    (running.0.wait().unwrap(), out, err)
}

/// Prints the time of a `msgsnd` and `msgrcv` on a queue of node a, and on one of node b, from
/// a program on a (`cargo test -p postbox-ipc --test nodes -- --nocapture`).
#[test]
fn a_round_trip_on_a_queue_of_another_node_is_measured() {
    let dir = tempfile::tempdir().unwrap();
    let steps = queue_steps(dir.path());
    let nodes = Pair::start();
    let key = key(4);
    let rounds = "2000";
    let here = step(&steps, &["pingpong", &key, rounds], &nodes.a.url, None);
    let map = format!("sysv:0x{key}=b");
    let there = step(
        &steps,
        &["pingpong", &key, rounds],
        &nodes.a.url,
        Some(&map),
    );
    for (where_, out) in [("on node a", &here), ("on node b", &there)] {
        assert!(out.contains("pingpong: ok"), "{out}");
        println!("queue {where_}: {}", out.lines().next().unwrap_or_default());
    }
}

#[test]
fn a_malformed_mapping_fails_every_call_with_einval_and_an_unknown_node_has_no_queues() {
    let dir = tempfile::tempdir().unwrap();
    let steps = queue_steps(dir.path());
    let nodes = Pair::start();
    for (var, value, named) in [
        (
            "POSTBOX_IPC_MAP",
            "sysv:0x1234=b,sysv:zz=b".to_owned(),
            "sysv:zz=b",
        ),
        (
            "POSTBOX_IPC_MAP_FILE",
            dir.path().join("missing").display().to_string(),
            "missing",
        ),
    ] {
        let mut command = program(&steps, &["bad-map"], Some(&nodes.a.url));
        command
            .env_remove("POSTBOX_IPC_MAP")
            .env_remove("POSTBOX_IPC_MAP_FILE")
            .env(var, &value);
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{value}: {}\n{stderr}",
            String::from_utf8_lossy(&output.stdout)
        );
        assert_eq!(
            stderr.matches("postbox-ipc: cannot map").count(),
            1,
            "{stderr}"
        );
        assert!(stderr.contains(named), "{stderr}");
    }
    // A well-formed rule naming a node the daemon does not link with: no such queue.
    let key = key(3);
    let map = format!("sysv:0x{key}=nowhere posix:/*=nowhere");
    step(
        &steps,
        &["unknown-node", &key, "/postbox-nowhere"],
        &nodes.a.url,
        Some(&map),
    );
    // Nothing was created anywhere.
    let sysv = |name: &String| name.starts_with("sysv.") || name.starts_with("posix.");
    assert!(!nodes.a.mailbox_names().iter().any(sysv));
    assert!(!nodes.b.mailbox_names().iter().any(sysv));
}

#[test]
fn a_mapping_used_with_a_daemon_that_is_no_node_fails_with_einval() {
    let dir = tempfile::tempdir().unwrap();
    let steps = queue_steps(dir.path());
    let daemon = NodeDaemon::start(None);
    // `NAME@NODE` is no valid mailbox name there.
    let map = "sysv:*=b posix:/*=b";
    step(&steps, &["bad-map"], &daemon.url, Some(map));
    let left = daemon.mailbox_names();
    assert!(
        !left.iter().any(|name| name.starts_with("sysv.")),
        "{left:?}"
    );
}

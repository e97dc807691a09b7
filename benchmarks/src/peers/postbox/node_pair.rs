//! The two linked daemons of a node-link run: node `a` and node `b`, each the real
//! `postbox daemon` binary with mutual-TLS certificates made by `postbox certs init/issue`, each
//! listening for clients on `tcp://127.0.0.1` with a token, linked with each other over
//! loopback. Both are killed when the pair drops, and by the kernel if the harness dies.
//!
//! The order: certificates; node `b`, its node listener on port 0 (the port read back from
//! `postbox nodes --json`); node `a`, dialling `b`; then both are waited on until each lists
//! the other `up` (`b` links with `a` on first use). The client TCP ports are picked free just
//! before each daemon starts: the daemon does not report the port it bound.

use std::ffi::OsString;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::child_process::{ChildEvent, ChildProcess, die_with_parent};

/// The hidden subcommand that becomes a `postbox daemon` which dies with the harness.
pub const EXEC_DAEMON_SUBCOMMAND: &str = "exec-daemon";

/// The environment variable naming the `postbox` binary (the one the Python tests use too);
/// without it, `postbox` beside the running executable.
pub const POSTBOX_BIN_ENV: &str = "POSTBOX_BIN";

/// How long the pair may take to start and link up.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// How often start-up is polled.
const POLL: Duration = Duration::from_millis(10);

/// The `postbox` binary the pair runs.
///
/// # Errors
///
/// When neither [`POSTBOX_BIN_ENV`] names one nor one lies beside the running executable.
pub fn postbox_binary() -> io::Result<PathBuf> {
    if let Some(path) = std::env::var_os(POSTBOX_BIN_ENV) {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()?;
    let path = exe.with_file_name("postbox");
    if path.is_file() {
        Ok(path)
    } else {
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "no postbox binary at {} (build it: cargo build --release -p postbox-cli, or \
                 set {POSTBOX_BIN_ENV})",
                path.display()
            ),
        ))
    }
}

/// A running daemon of the pair.
struct NodeDaemon {
    /// Its Unix socket, for `postbox nodes`.
    socket: PathBuf,
    /// Where its clients connect.
    tcp: SocketAddr,
    /// The process, killed on drop; and the channel its stdout reader still writes to.
    guard: (ChildProcess, std::sync::mpsc::Receiver<(usize, ChildEvent)>),
}

/// Nodes `a` and `b`, linked; killed when dropped.
pub(crate) struct NodePair {
    a: NodeDaemon,
    b: NodeDaemon,
}

impl NodePair {
    /// Makes certificates under `dir`, starts node `b` then node `a` (dialling `b`), with the
    /// client token in `token_file`, and waits until each lists the other up.
    pub(crate) fn start(postbox: &Path, dir: &Path, token_file: &Path) -> io::Result<NodePair> {
        let certs = dir.join("certs");
        run(
            postbox,
            &[os("certs"), os("init"), os("--dir"), certs.clone().into()],
        )?;
        for name in ["a", "b"] {
            run(
                postbox,
                &[
                    os("certs"),
                    os("issue"),
                    os(name),
                    os("--dir"),
                    certs.clone().into(),
                ],
            )?;
        }
        let b = NodeDaemon::start(postbox, dir, &certs, "b", None, token_file)?;
        let b_port = node_port(postbox, &b.socket)?;
        let a = NodeDaemon::start(postbox, dir, &certs, "a", Some(b_port), token_file)?;
        let deadline = Instant::now() + READY_TIMEOUT;
        for (daemon, peer) in [(&a, "b"), (&b, "a")] {
            while !peer_up(postbox, &daemon.socket, peer)? {
                if Instant::now() >= deadline {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "node {peer} was not up within {READY_TIMEOUT:?} (the daemons' \
                             warnings are above)"
                        ),
                    ));
                }
                std::thread::sleep(POLL);
            }
        }
        Ok(NodePair { a, b })
    }

    /// Where node `a`'s clients connect.
    pub(crate) fn a(&self) -> SocketAddr {
        self.a.tcp
    }

    /// Where node `b`'s clients connect.
    pub(crate) fn b(&self) -> SocketAddr {
        self.b.tcp
    }

    /// Whatever keeps both daemons running.
    pub(crate) fn into_guard(self) -> Box<dyn Send> {
        Box::new((self.a.guard, self.b.guard))
    }
}

fn os(text: &str) -> OsString {
    OsString::from(text)
}

impl NodeDaemon {
    /// Starts node `name` with its state and socket in `dir/name`, dialling node `b` on
    /// `peer_port` when given, and waits until its socket accepts.
    fn start(
        postbox: &Path,
        dir: &Path,
        certs: &Path,
        name: &str,
        peer_port: Option<u16>,
        token_file: &Path,
    ) -> io::Result<NodeDaemon> {
        let home = dir.join(name);
        std::fs::create_dir(&home)?;
        let socket = home.join("postbox.sock");
        let tcp = free_port()?;
        let mut command = Command::new(std::env::current_exe()?);
        command
            .arg(EXEC_DAEMON_SUBCOMMAND)
            .arg("--")
            .arg(postbox)
            .arg("daemon")
            .arg("--socket")
            .arg(&socket)
            .arg("--state-dir")
            .arg(home.join("state"))
            .arg("--listen")
            .arg(format!("tcp://{tcp}"))
            .arg("--token-file")
            .arg(token_file)
            .args(["--max-message-size", "8MiB", "--max-queued-bytes", "1GiB"])
            .args(["--node", name, "--node-listen", "127.0.0.1:0"])
            .arg("--node-cert")
            .arg(certs.join(format!("{name}.pem")))
            .arg("--node-key")
            .arg(certs.join(format!("{name}.key")))
            .arg("--node-ca")
            .arg(certs.join("ca.pem"))
            // Warnings, less the one every run would repeat: TCP clients act as root when the
            // benchmark runs as root.
            .env("RUST_LOG", "warn,postbox_daemon::daemon=error");
        if let Some(port) = peer_port {
            command.arg("--peer").arg(format!("b=127.0.0.1:{port}"));
        }
        let (mut child, events) = ChildProcess::spawn_alone(command, format!("node {name}"))?;
        let deadline = Instant::now() + READY_TIMEOUT;
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            if let Ok((_, ChildEvent::Closed)) = events.try_recv() {
                let status = child.wait()?;
                return Err(io::Error::other(format!(
                    "node {name}'s daemon exited during start-up ({status}; its error is above)"
                )));
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("node {name}'s daemon did not accept within {READY_TIMEOUT:?}"),
                ));
            }
            std::thread::sleep(POLL);
        }
        Ok(NodeDaemon {
            socket,
            tcp,
            guard: (child, events),
        })
    }
}

/// A loopback address with a port that was free a moment ago.
fn free_port() -> io::Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")?.local_addr()
}

/// Runs `postbox args…` to completion; its stdout.
fn run(postbox: &Path, args: &[OsString]) -> io::Result<Vec<u8>> {
    let output = Command::new(postbox)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run {}: {e}", postbox.display())))?;
    if !output.status.success() {
        let shown: Vec<String> = args.iter().map(|a| a.to_string_lossy().into()).collect();
        return Err(io::Error::other(format!(
            "postbox {} failed ({}): {}",
            shown.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(output.stdout)
}

/// `postbox nodes --json` against the daemon at `socket`.
fn nodes(postbox: &Path, socket: &Path) -> io::Result<Value> {
    let url = format!("unix://{}", socket.display());
    let stdout = run(postbox, &[os("--url"), os(&url), os("nodes"), os("--json")])?;
    serde_json::from_slice(&stdout)
        .map_err(|e| io::Error::other(format!("postbox nodes --json gave bad JSON: {e}")))
}

/// The port the daemon at `socket` accepts node links on.
fn node_port(postbox: &Path, socket: &Path) -> io::Result<u16> {
    let nodes = nodes(postbox, socket)?;
    let listen = nodes["node"]["listen"].as_str().unwrap_or_default();
    listen
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .ok_or_else(|| {
            io::Error::other(format!(
                "postbox nodes --json shows no node listener ADDR:PORT: {nodes}"
            ))
        })
}

/// Whether the daemon at `socket` lists node `peer` as up.
fn peer_up(postbox: &Path, socket: &Path, peer: &str) -> io::Result<bool> {
    let nodes = nodes(postbox, socket)?;
    Ok(nodes["peers"].as_array().is_some_and(|peers| {
        peers
            .iter()
            .any(|p| p["name"] == peer && p["state"] == "up")
    }))
}

/// Runs the hidden [`EXEC_DAEMON_SUBCOMMAND`]: arranges to die with the harness, then becomes
/// `command` (the parent-death signal survives `exec`).
pub fn exec_daemon(command: &[OsString]) -> ExitCode {
    let Some((program, args)) = command.split_first() else {
        eprintln!("{EXEC_DAEMON_SUBCOMMAND}: no program given");
        return ExitCode::from(2);
    };
    if let Err(e) = die_with_parent() {
        eprintln!("{EXEC_DAEMON_SUBCOMMAND}: {e}");
        return ExitCode::FAILURE;
    }
    let error = Command::new(program).args(args).exec();
    eprintln!(
        "{EXEC_DAEMON_SUBCOMMAND}: cannot run {}: {error}",
        Path::new(program).display()
    );
    ExitCode::FAILURE
}

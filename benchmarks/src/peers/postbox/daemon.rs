//! The postbox daemon of a remote run: started by `prepare` as a child of this program, killed
//! when the run's guard drops.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use postbox_daemon::{Daemon, DaemonConfig, MESSAGE_OVERHEAD, TcpListen, termination_signal};
use postbox_wire::Token;

use crate::child_process::{ChildEvent, ChildProcess, die_with_parent};

/// The name of the hidden subcommand that runs a daemon.
pub const DAEMON_SUBCOMMAND: &str = "daemon";

/// The largest message the comparison's daemons and mailboxes accept: 8 MiB, which is also the
/// most a postbox client's frames carry.
pub const MAX_MESSAGE: usize = 8 << 20;

/// Payload bytes the daemon may hold queued across all mailboxes (1 GiB, beyond what any run
/// queues, so the quota never decides a result).
const MAX_QUEUED_BYTES: usize = 1 << 30;

/// How long a daemon may take to bind and say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// The hidden `daemon` subcommand's arguments.
#[derive(Clone, Debug, clap::Args)]
pub struct DaemonArgs {
    /// The Unix socket to listen on.
    #[arg(long)]
    pub socket: PathBuf,
    /// Listen on TCP too, at this address (port 0: any free port).
    #[arg(long, requires = "token_file")]
    pub tcp: Option<SocketAddr>,
    /// The file holding the token TCP clients must present.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
}

/// A running daemon: where it listens, and its process, killed on drop.
pub(crate) struct RunningDaemon {
    /// The address of its TCP listener, when asked for one.
    pub(crate) tcp: Option<SocketAddr>,
    /// The process, killed when this drops; and the channel its reader thread still writes to.
    pub(crate) guard: (ChildProcess, Receiver<(usize, ChildEvent)>),
}

/// Starts a daemon listening on `socket` (and on TCP 127.0.0.1, any port, with the token in
/// `token_file`, when given), and waits until it is ready.
pub(crate) fn start(socket: &Path, token_file: Option<&Path>) -> std::io::Result<RunningDaemon> {
    let mut command = Command::new(std::env::current_exe()?);
    command.arg(DAEMON_SUBCOMMAND).arg("--socket").arg(socket);
    if let Some(token_file) = token_file {
        command
            .args(["--tcp", "127.0.0.1:0", "--token-file"])
            .arg(token_file);
    }
    let (child, events) = ChildProcess::spawn_alone(command, "postbox daemon")?;
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let timeout = deadline.saturating_duration_since(Instant::now());
        let line = match events.recv_timeout(timeout) {
            Ok((_, ChildEvent::Line(line))) => line,
            Ok((_, ChildEvent::Closed)) | Err(RecvTimeoutError::Disconnected) => {
                return Err(std::io::Error::other(
                    "the postbox daemon exited before it was ready (its error is above)",
                ));
            }
            Err(RecvTimeoutError::Timeout) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("the postbox daemon was not ready within {READY_TIMEOUT:?}"),
                ));
            }
        };
        let Some(address) = line.strip_prefix("ready ") else {
            eprintln!("  [postbox daemon] {line}");
            continue;
        };
        let tcp = match address {
            "-" => None,
            address => Some(address.parse().map_err(|_| {
                std::io::Error::other(format!("the daemon reported a bad address {address:?}"))
            })?),
        };
        return Ok(RunningDaemon {
            tcp,
            guard: (child, events),
        });
    }
}

/// Runs the hidden `daemon` subcommand: binds, prints `ready <tcp address or ->`, and serves
/// until its stdin closes (the harness ended the run or died) or it gets `SIGTERM`/`SIGINT`.
///
/// # Errors
///
/// When the token cannot be read, or the daemon cannot bind or serve.
pub fn serve_daemon(args: &DaemonArgs) -> anyhow::Result<()> {
    die_with_parent()?;
    let frame = u32::try_from(MAX_MESSAGE + MESSAGE_OVERHEAD).context("frame limit")?;
    let mut config = DaemonConfig::new()
        .with_socket_path(&args.socket)
        .with_max_frame_len(frame);
    config.limits.max_queued_bytes = MAX_QUEUED_BYTES;
    if let Some(address) = args.tcp {
        let file = args
            .token_file
            .as_ref()
            .context("--tcp needs --token-file")?;
        let secret = std::fs::read(file)
            .with_context(|| format!("cannot read the token file {}", file.display()))?;
        let token = Token::new(secret.trim_ascii().to_vec())
            .map_err(|e| anyhow::anyhow!("bad token in {}: {e}", file.display()))?;
        config = config.with_tcp(TcpListen::new(address, token));
    }
    if config.limits.max_message_size < MAX_MESSAGE {
        bail!(
            "the daemon's largest message ({} B) is below the comparison's {MAX_MESSAGE} B",
            config.limits.max_message_size
        );
    }
    let daemon = Daemon::bind(config).context("cannot start the postbox daemon")?;
    let tcp = daemon
        .local_tcp_addr()
        .map_or_else(|| "-".to_owned(), |a| a.to_string());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("postbox-daemon")
        .build()
        .context("cannot start the daemon's runtime")?;
    runtime.block_on(async move {
        let signal = termination_signal()?;
        let (closed_tx, closed) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("stdin".to_owned())
            .spawn(move || {
                let mut rest = Vec::new();
                let _ = std::io::stdin().read_to_end(&mut rest);
                let _ = closed_tx.send(());
            })?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "ready {tcp}")?;
        stdout.flush()?;
        drop(stdout);
        daemon
            .serve(async move {
                tokio::select! {
                    () = signal => {}
                    _ = closed => {}
                }
            })
            .await?;
        Ok(())
    })
}

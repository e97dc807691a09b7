//! Exit codes, and the one place every error the library can return is mapped to one.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | ok |
//! | 1 | any other error (no daemon, already exists, too large, busy, quota, disconnected, ...) |
//! | 2 | usage: a bad flag or value (clap's own code) |
//! | 3 | would block: `Full` (send) or `Empty` (recv) with `--nowait` |
//! | 4 | timeout: `--timeout` passed |
//! | 5 | not found: no such mailbox, pid or registered name; a call nobody could answer |
//! | 6 | permission denied (by a mailbox's mode, or on the daemon's socket) |
//! | 7 | gone: the mailbox was deleted, or the peer process terminated |
//!
//! Commands return `anyhow` errors whose chain holds the library's error (with context naming the
//! mailbox or process); [`report`] prints the chain on stderr as `postbox: context: cause` and
//! [`classify`] picks the code from the first library error in it. Every variant of every error
//! type is matched by name, with no catch-all, so a variant added to the library cannot slip
//! through as a silent `1`: the build breaks here until someone decides.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use postbox::{
    AdminError, CallErrorKind, ConnectError, OpenError, RecvError, ReplyError, SelectError,
    SendErrorKind,
};
use postbox_daemon::DaemonError;

/// What a command's failure means to a shell script.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Code {
    /// 1: any error without a code of its own.
    Error = 1,
    /// 2: bad usage.
    Usage = 2,
    /// 3: the operation would have had to wait and was told not to.
    WouldBlock = 3,
    /// 4: the timeout passed.
    Timeout = 4,
    /// 5: no such mailbox or process.
    NotFound = 5,
    /// 6: permission denied.
    PermissionDenied = 6,
    /// 7: the mailbox or the peer process is gone.
    Gone = 7,
}

impl From<Code> for ExitCode {
    fn from(code: Code) -> ExitCode {
        ExitCode::from(code as u8)
    }
}

/// Errors the CLI itself raises, beyond the library's.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// No live process is registered under this name.
    #[error("no process is registered as {0:?}")]
    NoSuchProcess(String),
    /// Nothing listens on the Unix socket: no such file, or a stale one (connection refused).
    #[error("no postbox daemon is listening on {} ({why}); start one with `{start}`", socket.display())]
    NoDaemon {
        /// The socket tried.
        socket: PathBuf,
        /// The operating system's reason.
        why: String,
        /// The command that starts a daemon on that socket.
        start: String,
    },
    /// A `NAME@NODE` named a node the daemon does not link with (nor is).
    #[error(
        "node {node} is not linked with this daemon ({}); `postbox nodes` lists the nodes it \
         links with, and `postbox daemon --peer {node}=HOST:PORT` adds one",
        local.as_ref().map_or("which has no node links".to_owned(), |l| format!("node {l}"))
    )]
    UnknownNode {
        /// The node named.
        node: String,
        /// The daemon's own node name, when it has node links.
        local: Option<String>,
    },
    /// A `NAME@NODE` named a linked node that is not up: what was asked of it failed
    /// `Disconnected`, or found nothing.
    #[error(
        "node {node} is {state} (`postbox nodes` shows its link); a request that was under \
         way when it went may or may not have been carried out there"
    )]
    NodeNotUp {
        /// The node named.
        node: String,
        /// Its link's state: `down` or `connecting`.
        state: &'static str,
    },
    /// `top` was run with its output not on a terminal.
    #[error(
        "`postbox top` draws on a terminal, and standard output is not one; for scripts use \
         `postbox ls --json`, `postbox ps --json` or `postbox stat --json`"
    )]
    NotATerminal,
    /// The user may not connect to the Unix socket (its mode, or its directory's).
    #[error(
        "permission denied on the daemon's socket {} ({why}); the daemon's `--mode` and the \
         socket directory's permissions decide who may connect",
        socket.display()
    )]
    SocketPermissionDenied {
        /// The socket tried.
        socket: PathBuf,
        /// The operating system's reason.
        why: String,
    },
}

/// The exit code for a send that failed with `kind`.
fn send(kind: SendErrorKind) -> Code {
    match kind {
        SendErrorKind::Full => Code::WouldBlock,
        SendErrorKind::Timeout => Code::Timeout,
        SendErrorKind::NotFound => Code::NotFound,
        SendErrorKind::PermissionDenied => Code::PermissionDenied,
        SendErrorKind::Gone | SendErrorKind::PeerGone => Code::Gone,
        SendErrorKind::TooLarge
        | SendErrorKind::WrongSize
        | SendErrorKind::InvalidType
        | SendErrorKind::Busy
        | SendErrorKind::QuotaExceeded
        | SendErrorKind::Dropped
        | SendErrorKind::Disconnected
        | SendErrorKind::Protocol => Code::Error,
    }
}

/// The exit code for a call that failed with `kind`. **Decision:** no responders is "not
/// found" (5): nobody is there to answer, as for a name no process holds.
fn call(kind: CallErrorKind) -> Code {
    match kind {
        CallErrorKind::Full => Code::WouldBlock,
        CallErrorKind::Timeout => Code::Timeout,
        CallErrorKind::NotFound | CallErrorKind::NoResponders => Code::NotFound,
        CallErrorKind::PermissionDenied => Code::PermissionDenied,
        CallErrorKind::Gone | CallErrorKind::PeerGone => Code::Gone,
        CallErrorKind::TooLarge
        | CallErrorKind::WrongSize
        | CallErrorKind::InvalidType
        | CallErrorKind::Busy
        | CallErrorKind::QuotaExceeded
        | CallErrorKind::Dropped
        | CallErrorKind::Failed
        | CallErrorKind::Disconnected
        | CallErrorKind::Protocol => Code::Error,
    }
}

/// The exit code for an answer that was refused: always a plain error.
fn reply(error: ReplyError) -> Code {
    match error {
        ReplyError::NoRight
        | ReplyError::Revoked
        | ReplyError::TooLarge
        | ReplyError::InvalidType
        | ReplyError::Disconnected
        | ReplyError::Protocol => Code::Error,
    }
}

/// The exit code for a receive that failed with `error`.
fn recv(error: RecvError) -> Code {
    match error {
        RecvError::Empty => Code::WouldBlock,
        RecvError::Timeout => Code::Timeout,
        RecvError::PermissionDenied => Code::PermissionDenied,
        RecvError::Gone | RecvError::PeerGone => Code::Gone,
        RecvError::Busy | RecvError::Disconnected | RecvError::Protocol | RecvError::LeaseEnded => {
            Code::Error
        }
    }
}

/// The exit code for a create or open that failed with `error`.
fn open(error: &OpenError) -> Code {
    match error {
        OpenError::NotFound => Code::NotFound,
        OpenError::PermissionDenied => Code::PermissionDenied,
        OpenError::AlreadyExists
        | OpenError::InvalidName
        | OpenError::InvalidAttributes(_)
        | OpenError::QuotaExceeded
        | OpenError::Disconnected
        | OpenError::Protocol
        | OpenError::Refused(_) => Code::Error,
    }
}

/// The exit code for an administrative operation that failed with `error`.
fn admin(error: &AdminError) -> Code {
    match error {
        AdminError::NotFound => Code::NotFound,
        AdminError::PermissionDenied => Code::PermissionDenied,
        AdminError::Gone | AdminError::PeerGone => Code::Gone,
        AdminError::AlreadyExists
        | AdminError::InvalidName
        | AdminError::InvalidArgument(_)
        | AdminError::Disconnected
        | AdminError::Protocol
        | AdminError::Refused(_) => Code::Error,
    }
}

/// The exit code for a failed connection: always a plain error, with the reason on stderr.
fn connect(error: &ConnectError) -> Code {
    match error {
        ConnectError::InvalidUrl(_)
        | ConnectError::Io(_)
        | ConnectError::Handshake(_)
        | ConnectError::Tls(_)
        | ConnectError::InvalidToken(_) => Code::Error,
    }
}

/// The exit code for a daemon that could not start or keep serving: always a plain error.
fn daemon(error: &DaemonError) -> Code {
    match error {
        DaemonError::Config { .. }
        | DaemonError::AlreadyRunning { .. }
        | DaemonError::NotASocket { .. }
        | DaemonError::UnsafeDirectory { .. }
        | DaemonError::Io { .. }
        | DaemonError::SocketActivation { .. }
        | DaemonError::Store(_)
        | DaemonError::Restore(_)
        | DaemonError::Runtime(_) => Code::Error,
    }
}

/// The exit code for the CLI's own errors.
fn cli(error: &CliError) -> Code {
    match error {
        CliError::NoSuchProcess(_) | CliError::UnknownNode { .. } => Code::NotFound,
        CliError::NodeNotUp { .. } => Code::Error,
        CliError::NoDaemon { .. } | CliError::NotATerminal => Code::Error,
        CliError::SocketPermissionDenied { .. } => Code::PermissionDenied,
    }
}

/// The exit code for `error`: that of the first error in its chain that has one, else 1.
pub(crate) fn classify(error: &anyhow::Error) -> Code {
    for cause in error.chain() {
        let code = if let Some(&kind) = cause.downcast_ref::<SendErrorKind>() {
            send(kind)
        } else if let Some(&kind) = cause.downcast_ref::<CallErrorKind>() {
            call(kind)
        } else if let Some(&error) = cause.downcast_ref::<ReplyError>() {
            reply(error)
        } else if let Some(&error) = cause.downcast_ref::<RecvError>() {
            recv(error)
        } else if let Some(error) = cause.downcast_ref::<SelectError>() {
            recv(error.error)
        } else if let Some(error) = cause.downcast_ref::<OpenError>() {
            open(error)
        } else if let Some(error) = cause.downcast_ref::<AdminError>() {
            admin(error)
        } else if let Some(error) = cause.downcast_ref::<ConnectError>() {
            connect(error)
        } else if let Some(error) = cause.downcast_ref::<DaemonError>() {
            daemon(error)
        } else if let Some(error) = cause.downcast_ref::<CliError>() {
            cli(error)
        } else if cause.is::<clap::Error>() {
            Code::Usage
        } else {
            continue;
        };
        return code;
    }
    Code::Error
}

/// Whether `error` is only a closed standard output (`postbox recv --follow | head -1`): the
/// reader has all it wanted, which is a success, not a failure to report.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Reports `error` on stderr and returns the exit code it stands for.
pub(crate) fn report(error: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(error) {
        return ExitCode::SUCCESS;
    }
    if let Some(usage) = error.downcast_ref::<clap::Error>() {
        // clap formats its own errors, usage line included; failing to print them is moot.
        let _ = usage.print();
        return Code::Usage.into();
    }
    let code = classify(error);
    let chain: Vec<String> = error.chain().map(ToString::to_string).collect();
    crate::output::note(&chain.join(": "));
    code.into()
}

#[cfg(test)]
mod tests {
    use anyhow::Context as _;

    use super::*;

    fn code_of(error: impl std::error::Error + Send + Sync + 'static) -> Code {
        classify(&anyhow::Error::new(error).context("doing something"))
    }

    #[test]
    fn each_documented_code_has_its_errors() {
        assert_eq!(code_of(SendErrorKind::Full), Code::WouldBlock);
        assert_eq!(code_of(RecvError::Empty), Code::WouldBlock);
        assert_eq!(code_of(SendErrorKind::Timeout), Code::Timeout);
        assert_eq!(code_of(RecvError::Timeout), Code::Timeout);
        assert_eq!(code_of(OpenError::NotFound), Code::NotFound);
        assert_eq!(code_of(AdminError::NotFound), Code::NotFound);
        assert_eq!(code_of(SendErrorKind::NotFound), Code::NotFound);
        assert_eq!(code_of(CliError::NoSuchProcess("x".into())), Code::NotFound);
        assert_eq!(code_of(OpenError::PermissionDenied), Code::PermissionDenied);
        assert_eq!(code_of(RecvError::PermissionDenied), Code::PermissionDenied);
        assert_eq!(
            code_of(SendErrorKind::PermissionDenied),
            Code::PermissionDenied
        );
        assert_eq!(
            code_of(AdminError::PermissionDenied),
            Code::PermissionDenied
        );
        assert_eq!(
            code_of(CliError::SocketPermissionDenied {
                socket: PathBuf::from("/run/pb.sock"),
                why: "Permission denied (os error 13)".into()
            }),
            Code::PermissionDenied
        );
        assert_eq!(code_of(SendErrorKind::Gone), Code::Gone);
        assert_eq!(code_of(SendErrorKind::PeerGone), Code::Gone);
        assert_eq!(code_of(RecvError::Gone), Code::Gone);
        assert_eq!(code_of(RecvError::PeerGone), Code::Gone);
        assert_eq!(code_of(AdminError::Gone), Code::Gone);
        assert_eq!(
            code_of(SelectError {
                branch: 1,
                error: RecvError::PeerGone
            }),
            Code::Gone
        );
        assert_eq!(code_of(CallErrorKind::Full), Code::WouldBlock);
        assert_eq!(code_of(CallErrorKind::Timeout), Code::Timeout);
        assert_eq!(code_of(CallErrorKind::NoResponders), Code::NotFound);
        assert_eq!(code_of(CallErrorKind::PeerGone), Code::Gone);
        assert_eq!(code_of(CallErrorKind::Failed), Code::Error);
        assert_eq!(code_of(ReplyError::NoRight), Code::Error);
        assert_eq!(code_of(OpenError::AlreadyExists), Code::Error);
        assert_eq!(code_of(CliError::NotATerminal), Code::Error);
        let unknown = CliError::UnknownNode {
            node: "nowhere".into(),
            local: Some("a".into()),
        };
        assert_eq!(code_of(unknown), Code::NotFound);
        let down = CliError::NodeNotUp {
            node: "b".into(),
            state: "down",
        };
        assert_eq!(code_of(down), Code::Error);
        // Down beside the library's Disconnected: still the documented 1.
        let error = anyhow::Error::new(OpenError::Disconnected).context(CliError::NodeNotUp {
            node: "b".into(),
            state: "down",
        });
        assert_eq!(classify(&error), Code::Error);
        assert_eq!(code_of(RecvError::Busy), Code::Error);
        assert_eq!(code_of(ConnectError::Io("refused".into())), Code::Error);
        assert_eq!(classify(&anyhow::anyhow!("plain")), Code::Error);
    }

    #[test]
    fn a_closed_stdout_is_not_an_error() {
        let error = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe));
        let error = Err::<(), _>(error).context("writing").unwrap_err();
        assert!(is_broken_pipe(&error));
        assert_eq!(report(&error), ExitCode::SUCCESS);
    }
}

//! The node a command talks to, and naming processes on it.
//!
//! Kept apart from [`crate::app`], which dispatches to the commands, so that the commands can
//! reach the node without importing the dispatcher that calls them.

use std::io;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use postbox::{ConnectError, PeerState, Pid, Process, Selector, Url};
use postbox_daemon::DaemonConfig;

use crate::args::SelectorArgs;
use crate::exit::CliError;
use crate::values::{ProcessRef, show_bytes};

/// The node a command talks to.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    /// `--url`, when given.
    url: Option<String>,
}

impl Node {
    /// The node at `url` (`--url`), or when `None` the default one (see [`Node::url`]).
    pub(crate) fn new(url: Option<String>) -> Self {
        Self { url }
    }

    /// The node's URL: `--url`, else `$POSTBOX_URL`, else the local daemon's default socket.
    pub(crate) fn url(&self) -> String {
        self.url.clone().unwrap_or_else(postbox::default_url)
    }

    /// Joins the node as a new process; it terminates when the returned handle drops (or this
    /// program exits).
    ///
    /// # Errors
    ///
    /// The [`postbox::ConnectError`], naming the URL; for a Unix socket, [`explain`]'s reading
    /// of it instead.
    pub(crate) fn connect(&self) -> anyhow::Result<Process> {
        let url = self.url();
        postbox::connect(&url)
            .map_err(|error| explain(&url, error))
            .with_context(|| format!("cannot connect to {url}"))
    }
}

/// What a failed connection to `url` means to the user: for a Unix socket that nothing listens
/// on, [`CliError::NoDaemon`] (saying how to start one); for a socket the user may not open,
/// [`CliError::SocketPermissionDenied`] (exit 6); otherwise `error` as it is.
fn explain(url: &str, error: ConnectError) -> anyhow::Error {
    let (ConnectError::Io(why), Ok(Url::Unix(path))) = (&error, url.parse::<Url>()) else {
        return error.into();
    };
    // The library keeps only the text of the I/O error; connecting once more recovers its kind.
    // Only on this failure path, so a daemon that has since come up merely sees a connection
    // close before its handshake.
    let socket = PathBuf::from(path);
    let why = why.clone();
    match UnixStream::connect(&socket).map_err(|e| e.kind()) {
        Err(io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused) => {
            let start = start_command(&socket);
            CliError::NoDaemon { socket, why, start }.into()
        }
        Err(io::ErrorKind::PermissionDenied) => {
            CliError::SocketPermissionDenied { socket, why }.into()
        }
        _ => error.into(),
    }
}

/// The command that starts a daemon listening on `socket`: `postbox daemon` when that is the
/// daemon's default socket here, else with `--socket`.
fn start_command(socket: &Path) -> String {
    if DaemonConfig::new().socket_path == socket {
        "postbox daemon".to_owned()
    } else {
        format!("postbox daemon --socket {}", socket.display())
    }
}

/// How to raise the daemon's largest message, for errors about a message over it (a client
/// cannot ask the daemon for its limit, so this names the flag and the default).
pub(crate) fn raise_max_message_size() -> String {
    let default = DaemonConfig::new().limits.max_message_size;
    format!(
        "`postbox daemon --max-message-size BYTES` raises the daemon's largest message, {} by \
         default",
        show_bytes(default)
    )
}

/// The pid `target` names: itself, or the live process registered under that name (for
/// `NAME@NODE`, a local pid standing for the process on NODE).
///
/// # Errors
///
/// [`CliError::NoSuchProcess`] when no live process has the name; the lookup's own failure;
/// either explained by [`about_node`].
pub(crate) fn resolve(process: &Process, target: &ProcessRef) -> anyhow::Result<Pid> {
    match target {
        ProcessRef::Pid(pid) => Ok(*pid),
        ProcessRef::Name(name) => process
            .whereis(name)
            .map_err(|error| about_node(process, name, error))
            .with_context(|| format!("cannot look up process {name:?}"))?
            .ok_or_else(|| about_node(process, name, CliError::NoSuchProcess(name.clone()))),
    }
}

/// `error`, from an operation on `name`, explained by its node when `name` is `NAME@NODE` and
/// that node is the reason: one the daemon does not link with ([`CliError::UnknownNode`],
/// instead of the "not found" the daemon answers), or one that is not up
/// ([`CliError::NodeNotUp`], beside the error). Otherwise, or when the daemon cannot say,
/// `error` as it is. Asks the daemon, so only on failure paths.
pub(crate) fn about_node(
    process: &Process,
    name: &str,
    error: impl Into<anyhow::Error>,
) -> anyhow::Error {
    let error = error.into();
    let Some((_, node)) = name.rsplit_once('@') else {
        return error;
    };
    let Ok(links) = process.node_links() else {
        return error;
    };
    let local = links.local.map(|local| local.name);
    if local.as_deref() == Some(node) {
        return error;
    }
    let Some(peer) = links.peers.iter().find(|peer| peer.name == node) else {
        let node = node.to_owned();
        return CliError::UnknownNode { node, local }.into();
    };
    if peer.state == PeerState::Up {
        return error;
    }
    let (node, state) = (node.to_owned(), peer.state.as_str());
    error.context(CliError::NodeNotUp { node, state })
}

/// The selector the flags ask for (`--from` resolved to a pid).
///
/// # Errors
///
/// `--from NAME` naming no live process.
pub(crate) fn selector(process: &Process, args: &SelectorArgs) -> anyhow::Result<Selector> {
    Ok(match args {
        SelectorArgs { mtype: Some(t), .. } => Selector::Type(*t),
        SelectorArgs {
            not_type: Some(t), ..
        } => Selector::NotType(*t),
        SelectorArgs {
            max_type: Some(t), ..
        } => Selector::TypeAtMost(*t),
        SelectorArgs {
            from: Some(from), ..
        } => Selector::From(resolve(process, from)?),
        _ => Selector::Any,
    })
}

//! The node a command talks to, and naming processes on it.
//!
//! Kept apart from [`crate::app`], which dispatches to the commands, so that the commands can
//! reach the node without importing the dispatcher that calls them.

use anyhow::Context as _;
use postbox::{Pid, Process};

use crate::exit::CliError;
use crate::values::ProcessRef;

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
    /// The [`postbox::ConnectError`], naming the URL.
    pub(crate) fn connect(&self) -> anyhow::Result<Process> {
        let url = self.url();
        postbox::connect(&url).with_context(|| format!("cannot connect to {url}"))
    }
}

/// The pid `target` names: itself, or the live process registered under that name.
///
/// # Errors
///
/// [`CliError::NoSuchProcess`] when no live process has the name; the lookup's own failure.
pub(crate) fn resolve(process: &Process, target: &ProcessRef) -> anyhow::Result<Pid> {
    match target {
        ProcessRef::Pid(pid) => Ok(*pid),
        ProcessRef::Name(name) => process
            .whereis(name)
            .with_context(|| format!("cannot look up process {name:?}"))?
            .ok_or_else(|| CliError::NoSuchProcess(name.clone()).into()),
    }
}

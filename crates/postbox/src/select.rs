//! Select: wait on several receive operations at once and take exactly one message.

use std::sync::Arc;
use std::time::{Duration, Instant};

use postbox_core::{Branch, Received, SelectError, Selector, Source};

use crate::mailbox::Mailbox;
use crate::process::Process;
use crate::process_core::ProcessCore;
use crate::wait::Patience;

/// The message a select took, and which branch it came from.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Selected {
    /// The branch's index, in the order branches were added.
    pub index: usize,
    /// The message.
    pub message: Received,
}

/// A set of receive operations — mailboxes and the inbox, each with its own selector — of which
/// the first ready one completes (a port set).
///
/// Branches are tried in the order they were added; when none is ready, the select waits on all
/// of them and the first matching message on any completes it. Exactly one message is taken.
///
/// ```
/// use postbox::{InprocNode, Select, Selector};
///
/// let node = InprocNode::new();
/// let worker = node.process();
/// let jobs = worker.mailbox("jobs").create()?;
/// let control = worker.mailbox("control").create()?;
/// control.send("stop")?;
///
/// let mut select = Select::new();
/// select.recv(&jobs, Selector::Any);
/// select.recv(&control, Selector::Any);
/// let selected = select.wait()?;
/// assert_eq!(selected.index, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct Select {
    core: Option<Arc<ProcessCore>>,
    branches: Vec<Branch>,
}

impl Select {
    /// An empty select.
    pub fn new() -> Select {
        Select::default()
    }

    fn add(&mut self, core: &Arc<ProcessCore>, branch: Branch) -> usize {
        match &self.core {
            Some(existing) => assert!(
                Arc::ptr_eq(existing, core),
                "every branch of a select must belong to the same process"
            ),
            None => self.core = Some(core.clone()),
        }
        self.branches.push(branch);
        self.branches.len() - 1
    }

    /// Adds a receive on `mailbox` with `selector`; returns the branch's index.
    ///
    /// # Panics
    ///
    /// If `mailbox` belongs to a different process than earlier branches.
    pub fn recv(&mut self, mailbox: &Mailbox, selector: Selector) -> usize {
        self.add(
            mailbox.core(),
            Branch::new(Source::Mailbox(mailbox.id()), selector),
        )
    }

    /// Adds a receive on `process`'s inbox with `selector`; returns the branch's index.
    ///
    /// # Panics
    ///
    /// If `process` is a different process than earlier branches belong to.
    pub fn inbox(&mut self, process: &Process, selector: Selector) -> usize {
        self.add(&process.core, Branch::new(Source::Inbox, selector))
    }

    fn run(&self, patience: Patience) -> Result<Selected, SelectError> {
        let Some(core) = &self.core else {
            return Err(SelectError {
                branch: 0,
                error: postbox_core::RecvError::Empty,
            });
        };
        let (index, message) = core.recv(self.branches.clone(), patience)?;
        Ok(Selected { index, message })
    }

    /// Waits until one branch has a matching message and takes it.
    ///
    /// # Errors
    ///
    /// A [`SelectError`] naming the branch that failed: `Gone`, `PermissionDenied`, `Busy`,
    /// `PeerGone`, `Disconnected`; `Empty` for a select with no branches.
    pub fn wait(&self) -> Result<Selected, SelectError> {
        self.run(Patience::Forever)
    }

    /// Takes a message from the first ready branch, or fails with `Empty` at once.
    ///
    /// # Errors
    ///
    /// As [`Select::wait`], plus `Empty`.
    pub fn try_wait(&self) -> Result<Selected, SelectError> {
        self.run(Patience::None)
    }

    /// As [`Select::wait`], waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Select::wait`], plus `Timeout`.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Selected, SelectError> {
        self.run(Patience::timeout(timeout))
    }

    /// As [`Select::wait`], waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`Select::wait`], plus `Timeout`.
    pub fn wait_deadline(&self, deadline: Instant) -> Result<Selected, SelectError> {
        self.run(Patience::Until(deadline))
    }

    /// As [`Select::wait`], as a future.
    ///
    /// # Errors
    ///
    /// As [`Select::wait`].
    pub async fn wait_async(&self) -> Result<Selected, SelectError> {
        let Some(core) = &self.core else {
            return Err(SelectError {
                branch: 0,
                error: postbox_core::RecvError::Empty,
            });
        };
        let (index, message) = core.recv_async(self.branches.clone()).await?;
        Ok(Selected { index, message })
    }
}

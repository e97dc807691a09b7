//! The in-process transport under test: a fresh [`InprocNode`] per transport value.

use postbox::{Credentials, InprocNode, Limits, Process};

use crate::Transport;

/// Runs the suite against the in-process transport (`inproc://`).
///
/// Each value owns its own [`InprocNode`], created fresh and reachable by no name, so every test
/// starts from an empty node however many run at once. It can start processes as any uid, so no
/// permission case is skipped.
///
/// ```
/// use postbox_conformance::{InprocTransport, Transport};
///
/// let transport = InprocTransport::new();
/// postbox_conformance::cases::smoke::smoke(&transport);
/// assert_eq!(transport.name(), "inproc");
/// ```
#[derive(Debug, Clone)]
pub struct InprocTransport {
    node: InprocNode,
    limits: Limits,
}

impl InprocTransport {
    /// A fresh node with the default [`Limits`].
    pub fn new() -> InprocTransport {
        InprocTransport::with_limits(Limits::default())
    }

    /// A fresh node with the given limits (the limit cases read them back through
    /// [`Transport::limits`]).
    pub fn with_limits(limits: Limits) -> InprocTransport {
        InprocTransport {
            node: InprocNode::with_limits(limits),
            limits,
        }
    }
}

impl Default for InprocTransport {
    fn default() -> InprocTransport {
        InprocTransport::new()
    }
}

impl Transport for InprocTransport {
    fn name(&self) -> &str {
        "inproc"
    }

    fn process(&self) -> Process {
        self.node.process()
    }

    fn process_as(&self, creds: Credentials) -> Option<Process> {
        Some(self.node.process_as(creds))
    }

    fn limits(&self) -> Limits {
        self.limits
    }
}

//! How long an operation may wait: the one internal parameter behind every `try_*`, plain,
//! `*_timeout` and `*_deadline` method.

use std::time::{Duration, Instant};

use postbox_core::Wait;

/// How long an operation may wait.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Patience {
    /// Not at all.
    None,
    /// Until it completes.
    Forever,
    /// Until this instant.
    Until(Instant),
}

impl Patience {
    /// Until `timeout` from now (forever if that instant is beyond the clock's range).
    pub(crate) fn timeout(timeout: Duration) -> Patience {
        Instant::now()
            .checked_add(timeout)
            .map_or(Patience::Forever, Patience::Until)
    }

    /// What the engine is told.
    pub(crate) fn wait(self) -> Wait {
        match self {
            Patience::None => Wait::Try,
            Patience::Forever | Patience::Until(_) => Wait::Block,
        }
    }

    /// The deadline a blocked operation is withdrawn at.
    pub(crate) fn deadline(self) -> Option<Instant> {
        match self {
            Patience::Until(deadline) => Some(deadline),
            Patience::None | Patience::Forever => None,
        }
    }
}

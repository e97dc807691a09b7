//! Stopping: the termination signals that end [`run`](crate::run), and the flag that tells every
//! connection task the daemon is going.
//!
//! The sequence, driven by [`Daemon::serve`](crate::Daemon::serve) when its shutdown future
//! completes:
//!
//! 1. Stop accepting: the listeners are closed and the socket file removed, so a new client fails
//!    to connect at once instead of hanging.
//! 2. The hub refuses every later connection and request. Every connection task, told to stop,
//!    has its session answer each request in flight with `Error SHUTTING_DOWN`, then `Close`;
//!    clients report both as `Disconnected`.
//! 3. Each connection task stops reading, flushes what its session queued and closes its socket,
//!    within [`FLUSH_TIMEOUT`] (a client that does not read is not waited for).
//! 4. `serve` returns `Ok(())`, and `run` exits 0.

use std::time::Duration;

use tokio::sync::watch;

use crate::DaemonError;

/// How long a connection's writer may take to flush its last frames when the connection ends.
pub(crate) const FLUSH_TIMEOUT: Duration = Duration::from_secs(1);

/// How long `serve` waits for every connection task to end during shutdown before abandoning the
/// stragglers.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Completes when the process receives `SIGTERM` or `SIGINT`.
///
/// The handlers are installed when this is called, not when the future is first polled, so a
/// signal that arrives in between is not lost.
///
/// # Errors
///
/// [`DaemonError::Runtime`] if the handlers cannot be installed.
///
/// # Panics
///
/// Outside a tokio runtime with I/O enabled.
pub fn termination_signal()
-> Result<impl std::future::Future<Output = ()> + Send + 'static, DaemonError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).map_err(DaemonError::Runtime)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(DaemonError::Runtime)?;
    Ok(async move {
        let name = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        tracing::info!("{name} received, shutting down");
    })
}

/// The flag connection tasks watch: set once, when shutdown starts.
#[derive(Debug)]
pub(crate) struct Stopping(watch::Sender<bool>);

/// A connection task's view of [`Stopping`].
#[derive(Clone, Debug)]
pub(crate) struct StopSignal(watch::Receiver<bool>);

impl Stopping {
    /// A flag not yet set.
    pub(crate) fn new() -> Stopping {
        Stopping(watch::Sender::new(false))
    }

    /// A signal for one more task.
    pub(crate) fn subscribe(&self) -> StopSignal {
        StopSignal(self.0.subscribe())
    }

    /// Sets the flag: every [`StopSignal::stopped`] completes.
    pub(crate) fn stop(&self) {
        self.0.send_replace(true);
    }
}

impl StopSignal {
    /// Completes once shutdown has started (at once if it already has).
    pub(crate) async fn stopped(&mut self) {
        // An error means the daemon dropped the flag: it is gone, which is stopping too.
        let _ = self.0.wait_for(|stopping| *stopping).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_subscriber_sees_the_stop_even_a_late_one() {
        let stopping = Stopping::new();
        let mut early = stopping.subscribe();
        let waiter = tokio::spawn(async move { early.stopped().await });
        stopping.stop();
        waiter.await.unwrap();
        stopping.subscribe().stopped().await;
    }

    #[tokio::test]
    async fn dropping_the_flag_counts_as_stopping() {
        let stopping = Stopping::new();
        let mut signal = stopping.subscribe();
        drop(stopping);
        signal.stopped().await;
    }
}

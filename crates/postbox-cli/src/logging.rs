//! Logging to stderr through `tracing-subscriber`, with a filter in `RUST_LOG`'s syntax.

use tracing_subscriber::EnvFilter;

/// Logs to stderr what `filter` lets through (`info`, `postbox_daemon=debug,warn`, ...).
///
/// # Errors
///
/// When `filter` is not a valid filter.
pub(crate) fn init(filter: &str) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(filter).map_err(|error| {
        anyhow::anyhow!("invalid log filter {filter:?} (RUST_LOG's syntax): {error}")
    })?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal, never into log files or pipes.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    Ok(())
}

//! `postbox daemon`: serve the engine on a Unix socket (and TCP when asked), until SIGTERM.

use std::net::ToSocketAddrs as _;
use std::path::Path;

use anyhow::Context as _;
use postbox_daemon::{DaemonConfig, MESSAGE_OVERHEAD, TcpListen};
use postbox_wire::Token;

use crate::args::{DaemonArgs, LimitArgs};

/// The token in `file`, without trailing whitespace — read as the clients read
/// `$POSTBOX_TOKEN_FILE`, so that one file serves both ends.
///
/// # Errors
///
/// When the file cannot be read or its contents are no valid token.
fn read_token(file: &Path) -> anyhow::Result<Token> {
    let text = std::fs::read(file)
        .with_context(|| format!("cannot read the token file {}", file.display()))?;
    let end = text
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    Token::new(text[..end].to_vec()).with_context(|| format!("invalid token in {}", file.display()))
}

/// Applies the limit flags that were given to `config`; the others keep the daemon's defaults.
fn apply_limits(mut config: DaemonConfig, limits: &LimitArgs) -> DaemonConfig {
    if let Some(size) = limits.max_message_size {
        // A message must fit in one frame: raise the frame limit with it when needed.
        let needed = u32::try_from(size.saturating_add(MESSAGE_OVERHEAD)).unwrap_or(u32::MAX);
        if needed > config.max_frame_len {
            config = config.with_max_frame_len(needed);
        }
        config.limits.max_message_size = size;
    }
    if let Some(capacity) = limits.inbox_capacity {
        config.limits.inbox_capacity = capacity;
    }
    if let Some(bytes) = limits.max_queued_bytes {
        config.limits.max_queued_bytes = bytes;
    }
    if let Some(count) = limits.max_mailboxes_per_uid {
        config.limits.max_mailboxes_per_uid = count;
    }
    if let Some(count) = limits.max_connections {
        config.max_connections = count;
    }
    if let Some(count) = limits.max_in_flight {
        config.max_in_flight = count;
    }
    if let Some(count) = limits.max_handshakes {
        config.max_handshakes = count;
    }
    if let Some(count) = limits.max_connections_per_peer {
        config.max_connections_per_peer = count;
    }
    if let Some(count) = limits.max_handshakes_per_peer {
        config.max_handshakes_per_peer = count;
    }
    if let Some(timeout) = limits.handshake_timeout {
        config.handshake_timeout = timeout;
    }
    if let Some(timeout) = limits.tcp_dead_peer_timeout {
        config.tcp_dead_peer_timeout = timeout;
    }
    config
}

/// The daemon's configuration from the command line.
///
/// # Errors
///
/// An unreadable token file, or a listen address that does not resolve.
fn config(args: &DaemonArgs) -> anyhow::Result<DaemonConfig> {
    let mut config = DaemonConfig::new();
    if let Some(socket) = &args.socket {
        config = config.with_socket_path(socket);
    }
    config.socket_mode = u32::from(args.mode.bits());
    if let (Some(listen), Some(token_file)) = (&args.listen, &args.token_file) {
        let address = listen
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve the listen address {listen}"))?
            .next()
            .with_context(|| format!("the listen address {listen} resolves to nothing"))?;
        config = config.with_tcp(TcpListen::new(address, read_token(token_file)?));
    }
    Ok(apply_limits(config, &args.limits))
}

/// `postbox daemon [--socket PATH] [--mode M] [--listen tcp://ADDR:PORT --token-file FILE]
/// [limits]`: serves until SIGTERM or SIGINT, then shuts down cleanly and succeeds.
///
/// # Errors
///
/// A bad configuration; the daemon's own failure to start (another daemon on the socket, an
/// unsafe directory, ...) as a [`postbox_daemon::DaemonError`].
pub(crate) fn run(args: &DaemonArgs) -> anyhow::Result<()> {
    let config = config(args)?;
    let socket = config.socket_path.display().to_string();
    postbox_daemon::run(config).with_context(|| format!("daemon on {socket}"))
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::args::{Cli, Command};

    fn parsed(args: &[&str]) -> DaemonConfig {
        let cli = Cli::try_parse_from(["postbox", "daemon"].iter().chain(args)).unwrap();
        let Command::Daemon(args) = cli.command else {
            panic!("not the daemon command")
        };
        config(&args).unwrap()
    }

    #[test]
    fn flags_reach_the_daemon_configuration() {
        let config = parsed(&[
            "--socket",
            "/tmp/x/pb.sock",
            "--mode",
            "0666",
            "--inbox-capacity",
            "8",
            "--max-queued-bytes",
            "1MiB",
            "--max-mailboxes-per-uid",
            "3",
            "--max-connections",
            "9",
            "--max-in-flight",
            "4",
            "--max-handshakes",
            "5",
            "--max-connections-per-peer",
            "6",
            "--max-handshakes-per-peer",
            "2",
            "--handshake-timeout",
            "1s",
            "--tcp-dead-peer-timeout",
            "10s",
        ]);
        assert_eq!(config.socket_path, Path::new("/tmp/x/pb.sock"));
        assert_eq!(config.socket_mode, 0o666);
        assert_eq!(config.limits.inbox_capacity, 8);
        assert_eq!(config.limits.max_queued_bytes, 1 << 20);
        assert_eq!(config.limits.max_mailboxes_per_uid, 3);
        assert_eq!(config.max_connections, 9);
        assert_eq!(config.max_in_flight, 4);
        assert_eq!(
            (
                config.max_handshakes,
                config.max_connections_per_peer,
                config.max_handshakes_per_peer
            ),
            (5, 6, 2)
        );
        assert_eq!(config.handshake_timeout, std::time::Duration::from_secs(1));
        assert_eq!(
            config.tcp_dead_peer_timeout,
            std::time::Duration::from_secs(10)
        );
        assert!(config.tcp.is_none());
        assert!(config.validate().is_ok());
    }

    #[test]
    fn a_large_message_limit_raises_the_frame_limit_to_fit() {
        let config = parsed(&["--max-message-size", "8MiB"]);
        assert_eq!(config.limits.max_message_size, 8 << 20);
        assert!(config.validate().is_ok());
        let small = parsed(&["--max-message-size", "1KiB"]);
        assert_eq!(small.limits.max_message_size, 1 << 10);
        assert_eq!(small.max_frame_len, DaemonConfig::new().max_frame_len);
    }

    #[test]
    fn tcp_needs_a_readable_token_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "s3cret-token-of-some-length\n").unwrap();
        let path = file.to_string_lossy();
        let config = parsed(&["--listen", "tcp://127.0.0.1:0", "--token-file", &path]);
        let tcp = config.tcp.unwrap();
        assert_eq!(tcp.token.as_bytes(), b"s3cret-token-of-some-length");
        assert_eq!(tcp.address.to_string(), "127.0.0.1:0");

        let cli = Cli::try_parse_from([
            "postbox",
            "daemon",
            "--listen",
            "tcp://127.0.0.1:0",
            "--token-file",
            "/nonexistent/token",
        ])
        .unwrap();
        let Command::Daemon(args) = cli.command else {
            panic!("not the daemon command")
        };
        assert!(super::config(&args).is_err());
    }
}

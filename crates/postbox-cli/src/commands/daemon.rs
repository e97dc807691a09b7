//! `postbox daemon`: serve the engine on a Unix socket (and TCP when asked), until SIGTERM.
//!
//! Its settings come from the defaults ([`DaemonConfig::new`]), then the `--config` file, then
//! `$RUST_LOG` (the log filter only), then the flags given: each later one wins.

use std::net::{SocketAddr, ToSocketAddrs as _};
use std::path::Path;

use anyhow::Context as _;
use postbox_daemon::{
    ClientCertificates, DaemonConfig, DaemonError, MESSAGE_OVERHEAD, NodeConfig, NodeTls,
    PeerAddress, TcpIdentity, TcpListen, TlsServer,
};
use postbox_wire::Token;
use postbox_wire::link::NodeName;

use crate::args::{DaemonArgs, LimitArgs, usage_error};
use crate::config_file::{
    ByteSize, ConfigFile, Count, DurationValue, IdentityValue, ListenUrl, ModeValue, NodeListen,
    NodeNameValue, PeerIdentityValue, PeerValue, PositiveCount,
};
use crate::logging;

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

/// The settings the command line gives: every flag that was given, nothing else.
fn flag_settings(args: &DaemonArgs) -> ConfigFile {
    let LimitArgs {
        max_message_size,
        inbox_capacity,
        max_queued_bytes,
        max_mailboxes_per_uid,
        max_connections,
        max_handshakes,
        max_connections_per_peer,
        max_handshakes_per_peer,
        handshake_timeout,
        tcp_dead_peer_timeout,
        max_in_flight,
    } = args.limits;
    let url = |address: &Option<String>| address.as_ref().map(|a| ListenUrl(format!("tcp://{a}")));
    ConfigFile {
        socket: args.socket.clone(),
        mode: args.mode.map(ModeValue),
        listen: args.listen.clone().map(ListenUrl),
        token_file: args.token_file.clone(),
        tls_cert: args.tls_cert.clone(),
        tls_key: args.tls_key.clone(),
        tls_client_ca: args.tls_client_ca.clone(),
        tcp_identity: args.tcp_identity.map(IdentityValue),
        state_dir: args.state_dir.clone(),
        metrics: url(&args.metrics),
        metrics_max_mailboxes: args.metrics_max_mailboxes.map(Count),
        attach_from: args.attach_from.map(ByteSize),
        resident_messages: args.resident_messages.map(PositiveCount),
        resident_bytes: args.resident_bytes.map(ByteSize),
        log: args.log.clone(),
        max_message_size: max_message_size.map(ByteSize),
        inbox_capacity: inbox_capacity.map(PositiveCount),
        max_queued_bytes: max_queued_bytes.map(ByteSize),
        max_mailboxes_per_uid: max_mailboxes_per_uid.map(PositiveCount),
        max_connections: max_connections.map(PositiveCount),
        max_handshakes: max_handshakes.map(PositiveCount),
        max_connections_per_peer: max_connections_per_peer.map(PositiveCount),
        max_handshakes_per_peer: max_handshakes_per_peer.map(PositiveCount),
        handshake_timeout: handshake_timeout.map(DurationValue),
        tcp_dead_peer_timeout: tcp_dead_peer_timeout.map(DurationValue),
        max_in_flight: max_in_flight.map(PositiveCount),
        node: args.node.clone().map(NodeNameValue),
        node_listen: args.node_listen.clone().map(NodeListen),
        peer: (!args.peers.is_empty()).then(|| args.peers.iter().cloned().map(PeerValue).collect()),
        peer_identity: (!args.peer_identities.is_empty()).then(|| {
            args.peer_identities
                .iter()
                .cloned()
                .map(PeerIdentityValue)
                .collect()
        }),
        node_timeout: args.node_timeout.map(DurationValue),
        node_cert: args.node_cert.clone(),
        node_key: args.node_key.clone(),
        node_ca: args.node_ca.clone(),
    }
}

/// The effective settings: the defaults, then the `--config` file, then `$RUST_LOG` (for the
/// log only), then the flags.
///
/// # Errors
///
/// The config file's: unreadable, not TOML, an unknown key or an invalid value.
fn settings(args: &DaemonArgs, rust_log: Option<String>) -> anyhow::Result<ConfigFile> {
    let mut settings = ConfigFile::defaults();
    if let Some(file) = &args.config {
        settings = settings.overlay(ConfigFile::load(file)?);
    }
    let from_env = ConfigFile {
        log: rust_log.filter(|filter| !filter.is_empty()),
        ..ConfigFile::default()
    };
    Ok(settings.overlay(from_env).overlay(flag_settings(args)))
}

/// The TLS side of a `tls://` listener from `tls-cert`, `tls-key` and `tls-client-ca`.
///
/// # Errors
///
/// Usage: a certificate without its key or the reverse. A file that cannot be read or holds no
/// usable certificate or key.
fn tls_server(settings: &ConfigFile) -> anyhow::Result<TlsServer> {
    let (Some(cert), Some(key)) = (&settings.tls_cert, &settings.tls_key) else {
        return Err(usage_error(
            "listening on tls:// needs the daemon's certificate and key: give --tls-cert and \
             --tls-key (or tls-cert and tls-key in the config file); `postbox certs` makes them",
        ));
    };
    let clients = match &settings.tls_client_ca {
        Some(ca) => ClientCertificates::Required(ca.clone()),
        None => ClientCertificates::NotRequired,
    };
    TlsServer::from_files(cert, key, clients)
        .context("cannot listen on tls://; fix the file or give another")
}

/// Node links from `node`, `node-listen`, `peer`, `node-timeout` and `node-cert`, `node-key`,
/// `node-ca`: `None` without `node-listen` or `peer`.
///
/// # Errors
///
/// Usage: node settings without `node-listen` or `peer`; links without all three TLS files;
/// no `node` and a host name that is no node name. A TLS file that cannot be read or holds
/// nothing usable; a `node-listen` address that does not resolve.
fn node_config(settings: &ConfigFile) -> anyhow::Result<Option<NodeConfig>> {
    let peers: Vec<PeerAddress> = settings
        .peer
        .iter()
        .flatten()
        .map(|PeerValue(peer)| peer.clone())
        .collect();
    if settings.node_listen.is_none() && peers.is_empty() {
        if settings.node.is_some()
            || settings.peer_identity.is_some()
            || settings.node_cert.is_some()
            || settings.node_key.is_some()
            || settings.node_ca.is_some()
        {
            return Err(usage_error(
                "--node, --peer-identity, --node-cert, --node-key and --node-ca are only used \
                 with --node-listen or --peer (or node-listen or peer in the config file)",
            ));
        }
        return Ok(None);
    }
    let (Some(cert), Some(key), Some(ca)) =
        (&settings.node_cert, &settings.node_key, &settings.node_ca)
    else {
        return Err(usage_error(
            "node links are mutual TLS: give --node-cert, --node-key and --node-ca (or node-cert, \
             node-key and node-ca in the config file); `postbox certs init` and `postbox certs \
             issue NAME` make them",
        ));
    };
    let name = match &settings.node {
        Some(NodeNameValue(name)) => name.clone(),
        None => postbox_daemon::host_name().unwrap_or_default(),
    };
    let name = NodeName::new(&name).map_err(|error| {
        usage_error(format!(
            "the host name {name:?} is no node name ({error}); give --node NAME"
        ))
    })?;
    let tls = NodeTls::from_files(cert, key, ca)
        .context("cannot set up node links' TLS; fix the file or give another")?;
    let mut node = NodeConfig::new(name, tls);
    if let Some(listen) = &settings.node_listen {
        node.listen = Some(resolve(
            &ListenUrl(format!("tcp://{}", listen.0)),
            "node listen",
        )?);
    }
    node.peers = peers;
    node.peer_identities = settings
        .peer_identity
        .iter()
        .flatten()
        .map(|PeerIdentityValue(identity)| identity.clone())
        .collect();
    if let Some(DurationValue(timeout)) = settings.node_timeout {
        node.node_timeout = timeout;
    }
    Ok(Some(node))
}

/// Resolves `tcp://ADDR:PORT`'s address.
fn resolve(url: &ListenUrl, what: &str) -> anyhow::Result<SocketAddr> {
    let address = url.address();
    address
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve the {what} address {address}"))?
        .next()
        .with_context(|| format!("the {what} address {address} resolves to nothing"))
}

/// The daemon's configuration from effective settings.
///
/// # Errors
///
/// `listen` without `token-file` (unless `tls://` with `tls-client-ca`), `token-file` without
/// `listen`, an unreadable token file, or a listen
/// address that does not resolve; `tls://` without a usable certificate and key, TLS or identity
/// settings without a listener they apply to, a `tls://` metrics address.
fn config(settings: &ConfigFile) -> anyhow::Result<DaemonConfig> {
    let mut config = DaemonConfig::new();
    if let Some(socket) = &settings.socket {
        config = config.with_socket_path(socket);
    }
    if let Some(ModeValue(mode)) = settings.mode {
        config.socket_mode = u32::from(mode.bits());
    }
    let client_certificates = settings.tls_client_ca.is_some();
    match (&settings.listen, &settings.token_file) {
        (Some(listen), token_file) => {
            let address = resolve(listen, "listen")?;
            let mut tcp = match (token_file, listen.is_tls() && client_certificates) {
                (Some(token_file), _) => {
                    let tcp = TcpListen::new(address, read_token(token_file)?);
                    if listen.is_tls() {
                        tcp.with_tls(tls_server(settings)?)
                    } else {
                        tcp
                    }
                }
                // Client certificates are the credential: no token needed.
                (None, true) => {
                    TcpListen::with_client_certificates_only(address, tls_server(settings)?)
                }
                (None, false) => {
                    return Err(usage_error(
                        "listening on the network needs a token: give --token-file (or \
                         token-file in the config file), or for tls:// require client \
                         certificates with --tls-client-ca",
                    ));
                }
            };
            if let Some(IdentityValue(creds)) = settings.tcp_identity {
                tcp.identity = TcpIdentity::Fixed(creds);
            }
            config = config.with_tcp(tcp);
        }
        (None, Some(_)) => {
            return Err(usage_error(
                "a token file is only used with --listen (or listen in the config file)",
            ));
        }
        (None, None) => {}
    }
    let tls_given = settings.tls_cert.is_some()
        || settings.tls_key.is_some()
        || settings.tls_client_ca.is_some();
    if tls_given && !settings.listen.as_ref().is_some_and(ListenUrl::is_tls) {
        return Err(usage_error(
            "--tls-cert, --tls-key and --tls-client-ca are only used with --listen tls://ADDR:PORT \
             (or listen in the config file)",
        ));
    }
    if settings.tcp_identity.is_some() && settings.listen.is_none() {
        return Err(usage_error(
            "--tcp-identity is only used with --listen (or listen in the config file)",
        ));
    }
    if let Some(metrics) = settings.metrics.as_ref().filter(|m| m.is_tls()) {
        return Err(usage_error(format!(
            "the metrics endpoint is plain HTTP: give tcp://{}, not tls://",
            metrics.address()
        )));
    }
    if let Some(metrics) = &settings.metrics {
        config.metrics = Some(resolve(metrics, "metrics")?);
    }
    config.state_dir.clone_from(&settings.state_dir);
    if let Some(Count(count)) = settings.metrics_max_mailboxes {
        config.metrics_max_mailboxes = count;
    }
    if let Some(ByteSize(bytes)) = settings.attach_from {
        config.attach_from = bytes;
    }
    if let Some(PositiveCount(messages)) = settings.resident_messages {
        config.resident_budget.messages = messages;
    }
    if let Some(ByteSize(bytes)) = settings.resident_bytes {
        config.resident_budget.bytes = bytes;
    }
    if let Some(ByteSize(size)) = settings.max_message_size {
        // A message must fit in one frame: raise the frame limit with it when needed.
        let needed = u32::try_from(size.saturating_add(MESSAGE_OVERHEAD)).unwrap_or(u32::MAX);
        if needed > config.max_frame_len {
            config = config.with_max_frame_len(needed);
        }
        config.limits.max_message_size = size;
    }
    let count = |value: Option<PositiveCount>, default: usize| value.map_or(default, |c| c.0);
    config.limits.inbox_capacity = count(settings.inbox_capacity, config.limits.inbox_capacity);
    if let Some(ByteSize(bytes)) = settings.max_queued_bytes {
        config.limits.max_queued_bytes = bytes;
    }
    config.limits.max_mailboxes_per_uid = count(
        settings.max_mailboxes_per_uid,
        config.limits.max_mailboxes_per_uid,
    );
    config.max_connections = count(settings.max_connections, config.max_connections);
    config.max_in_flight = count(settings.max_in_flight, config.max_in_flight);
    config.max_handshakes = count(settings.max_handshakes, config.max_handshakes);
    config.max_connections_per_peer = count(
        settings.max_connections_per_peer,
        config.max_connections_per_peer,
    );
    config.max_handshakes_per_peer = count(
        settings.max_handshakes_per_peer,
        config.max_handshakes_per_peer,
    );
    if let Some(DurationValue(timeout)) = settings.handshake_timeout {
        config.handshake_timeout = timeout;
    }
    if let Some(DurationValue(timeout)) = settings.tcp_dead_peer_timeout {
        config.tcp_dead_peer_timeout = timeout;
    }
    config.node = node_config(settings)?;
    Ok(config)
}

/// `postbox daemon [--config FILE] [--print-config] [--socket PATH] [--mode M] [--listen
/// tcp://ADDR:PORT|tls://ADDR:PORT --token-file FILE [--tls-cert FILE --tls-key FILE
/// [--tls-client-ca FILE]] [--tcp-identity UID:GID]] [--metrics tcp://ADDR:PORT] [--node NAME
/// --node-listen ADDR:PORT --peer NAME=HOST:PORT... --node-timeout D --node-cert FILE --node-key
/// FILE --node-ca FILE] [--log FILTER] [limits]`:
/// serves until SIGTERM or SIGINT, then shuts down cleanly and succeeds; with --print-config,
/// prints the effective configuration instead.
///
/// # Errors
///
/// A bad configuration; the daemon's own failure to start (another daemon on the socket, an
/// unsafe directory, ...) as a [`postbox_daemon::DaemonError`].
pub(crate) fn run(args: &DaemonArgs) -> anyhow::Result<()> {
    let settings = settings(args, std::env::var("RUST_LOG").ok())?;
    if args.print_config {
        // Checked as for a start, so that what is printed is a configuration that starts.
        config(&settings)?.validate()?;
        print!("{}", settings.to_documented_toml());
        return Ok(());
    }
    logging::init(settings.log.as_deref().unwrap_or("info"))?;
    let config = config(&settings)?;
    let socket = config.socket_path.display().to_string();
    postbox_daemon::run(config).map_err(|error| match error {
        // Not the configured socket's fault: systemd's.
        DaemonError::SocketActivation { .. } => anyhow::Error::new(error).context("daemon"),
        error => anyhow::Error::new(error).context(format!("daemon on {socket}")),
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use postbox_daemon::TcpSecurity;

    use super::*;
    use crate::args::{Cli, Command};

    fn args(args: &[&str]) -> DaemonArgs {
        let cli = Cli::try_parse_from(["postbox", "daemon"].iter().chain(args)).unwrap();
        let Command::Daemon(args) = cli.command else {
            panic!("not the daemon command")
        };
        *args
    }

    fn parsed(flags: &[&str]) -> DaemonConfig {
        config(&settings(&args(flags), None).unwrap()).unwrap()
    }

    /// Every daemon flag but --config and --print-config, each with a value unlike its default.
    const EVERY_FLAG: &[&str] = &[
        "--socket",
        "/tmp/x/pb.sock",
        "--mode",
        "0666",
        "--listen",
        "tls://127.0.0.1:0",
        "--token-file",
        "TOKEN",
        "--tls-cert",
        "CERT",
        "--tls-key",
        "KEY",
        "--tls-client-ca",
        "CA",
        "--tcp-identity",
        "1234:5678",
        "--state-dir",
        "/tmp/x/state",
        "--metrics",
        "tcp://127.0.0.1:0",
        "--metrics-max-mailboxes",
        "7",
        "--attach-from",
        "4KiB",
        "--resident-messages",
        "16",
        "--resident-bytes",
        "64KiB",
        "--log",
        "debug",
        "--max-message-size",
        "1MiB",
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
        "--node",
        "node",
        "--node-listen",
        "127.0.0.1:0",
        "--peer",
        "b=127.0.0.1:7071",
        "--peer",
        "c=127.0.0.1:7072",
        "--peer-identity",
        "b=65534:65534",
        "--node-timeout",
        "2s",
        "--node-cert",
        "CERT",
        "--node-key",
        "KEY",
        "--node-ca",
        "CA",
    ];

    /// A CA in `dir` and a certificate it signed for "node": the CA's, the certificate's and the
    /// key's paths.
    fn certs(dir: &Path) -> [String; 3] {
        use crate::args::{CertsInitArgs, CertsIssueArgs};
        use crate::commands::certs;
        let dir = dir.to_owned();
        certs::init(&CertsInitArgs {
            dir: dir.clone(),
            force: false,
        })
        .unwrap();
        certs::issue(&CertsIssueArgs {
            name: "node".to_owned(),
            dir: dir.clone(),
            dns: Vec::new(),
            ip: Vec::new(),
            days: 1,
            force: false,
        })
        .unwrap();
        ["ca.pem", "node.pem", "node.key"].map(|file| dir.join(file).display().to_string())
    }

    fn with_token(dir: &Path) -> Vec<String> {
        let token = dir.join("token");
        std::fs::write(&token, "s3cret-token-of-some-length\n").unwrap();
        let [ca, cert, key] = certs(&dir.join("flag-certs"));
        EVERY_FLAG
            .iter()
            .map(|flag| match *flag {
                "TOKEN" => token.display().to_string(),
                "CA" => ca.clone(),
                "CERT" => cert.clone(),
                "KEY" => key.clone(),
                flag => flag.to_owned(),
            })
            .collect()
    }

    #[test]
    fn flags_reach_the_daemon_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let flags = with_token(dir.path());
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let config = parsed(&flags);
        assert_eq!(config.socket_path, Path::new("/tmp/x/pb.sock"));
        assert_eq!(config.socket_mode, 0o666);
        assert_eq!(config.limits.max_message_size, 1 << 20);
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
        assert_eq!(config.metrics.unwrap().to_string(), "127.0.0.1:0");
        assert_eq!(config.metrics_max_mailboxes, 7);
        assert_eq!(config.attach_from, 4096);
        assert_eq!(
            config.resident_budget,
            postbox_core::ResidentBudget {
                messages: 16,
                bytes: 64 << 10
            }
        );
        let node = config.node.as_ref().unwrap();
        assert_eq!(node.name.as_str(), "node");
        assert_eq!(node.listen.unwrap().to_string(), "127.0.0.1:0");
        let peers: Vec<String> = node.peers.iter().map(ToString::to_string).collect();
        assert_eq!(peers, ["b=127.0.0.1:7071", "c=127.0.0.1:7072"]);
        assert_eq!(
            node.peer_identities,
            [(
                postbox_wire::link::NodeName::new("b").unwrap(),
                postbox_core::Credentials::new(65534, 65534)
            )]
        );
        assert_eq!(node.node_timeout, std::time::Duration::from_secs(2));
        let tcp = config.tcp.as_ref().unwrap();
        assert_eq!(
            tcp.token.as_ref().map(|t| t.as_bytes()),
            Some(&b"s3cret-token-of-some-length"[..])
        );
        assert_eq!(
            tcp.identity,
            TcpIdentity::Fixed(postbox_core::Credentials::new(1234, 5678))
        );
        let TcpSecurity::Tls(tls) = &tcp.security else {
            panic!("tls:// listens with TLS")
        };
        assert!(matches!(
            tls.client_certificates(),
            ClientCertificates::Required(_)
        ));
        assert!(config.validate().is_ok());
    }

    #[test]
    fn every_flag_is_a_key_of_the_file_and_wins_over_it() {
        let dir = tempfile::tempdir().unwrap();
        let flags = with_token(dir.path());
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let from_flags = settings(&args(&flags), None).unwrap();

        // A file giving every key a third value, different from the defaults and the flags.
        let file = dir.path().join("postbox.toml");
        let other_token = dir.path().join("other-token");
        std::fs::write(&other_token, "another-token-of-some-length").unwrap();
        let [ca, cert, key] = certs(&dir.path().join("file-certs"));
        std::fs::write(
            &file,
            format!(
                "socket = \"/tmp/y/pb.sock\"\nmode = \"0640\"\nlisten = \"tls://127.0.0.1:1\"\n\
                 token-file = \"{}\"\nstate-dir = \"/tmp/y/state\"\n\
                 tls-cert = \"{cert}\"\ntls-key = \"{key}\"\ntls-client-ca = \"{ca}\"\n\
                 tcp-identity = \"4321:8765\"\n\
                 metrics = \"tcp://127.0.0.1:2\"\n\
                 metrics-max-mailboxes = 70\nattach-from = \"8KiB\"\nlog = \"trace\"\n\
                 resident-messages = 32\nresident-bytes = \"128KiB\"\n\
                 max-message-size = \"2MiB\"\n\
                 inbox-capacity = 80\nmax-queued-bytes = \"2MiB\"\nmax-mailboxes-per-uid = 30\n\
                 max-connections = 90\nmax-in-flight = 40\nmax-handshakes = 50\n\
                 max-connections-per-peer = 60\nmax-handshakes-per-peer = 20\n\
                 handshake-timeout = \"2s\"\ntcp-dead-peer-timeout = \"20s\"\n\
                 node = \"other\"\nnode-listen = \"127.0.0.1:1\"\npeer = [\"d=h:9\"]\n\
                 peer-identity = [\"d=7:8\"]\n\
                 node-timeout = \"4s\"\nnode-cert = \"{cert}\"\nnode-key = \"{key}\"\n\
                 node-ca = \"{ca}\"\n",
                other_token.display()
            ),
        )
        .unwrap();
        let from_file = ConfigFile::load(&file).unwrap();
        let file_table = toml::Table::try_from(&from_file).unwrap();
        let flag_table = toml::Table::try_from(&from_flags).unwrap();
        for (key, value) in &flag_table {
            assert_ne!(
                file_table.get(key),
                Some(value),
                "{key}: pick another value"
            );
        }
        assert_eq!(
            file_table.len(),
            crate::config_file::KEYS.len(),
            "the file sets every key"
        );

        let file_arg = file.display().to_string();
        let mut both = vec!["--config", file_arg.as_str()];
        both.extend_from_slice(&flags);
        assert_eq!(settings(&args(&both), None).unwrap(), from_flags);
        let only_file = settings(&args(&["--config", &file_arg]), None).unwrap();
        assert_eq!(only_file, ConfigFile::defaults().overlay(from_file));
        assert_eq!(config(&only_file).unwrap().max_connections, 90);
    }

    #[test]
    fn rust_log_wins_over_the_file_and_loses_to_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("postbox.toml");
        std::fs::write(&file, "log = \"warn\"\n").unwrap();
        let file = file.display().to_string();
        let log = |flags: &[&str], env: Option<&str>| {
            settings(&args(flags), env.map(str::to_owned)).unwrap().log
        };
        assert_eq!(log(&[], None).as_deref(), Some("info"));
        assert_eq!(log(&["--config", &file], None).as_deref(), Some("warn"));
        assert_eq!(
            log(&["--config", &file], Some("debug")).as_deref(),
            Some("debug")
        );
        assert_eq!(
            log(&["--config", &file, "--log", "trace"], Some("debug")).as_deref(),
            Some("trace")
        );
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
        assert_eq!(
            tcp.token.as_ref().map(|t| t.as_bytes()),
            Some(&b"s3cret-token-of-some-length"[..])
        );
        assert_eq!(tcp.address.to_string(), "127.0.0.1:0");

        let fails = |flags: &[&str]| {
            let settings = settings(&args(flags), None).unwrap();
            format!("{:#}", super::config(&settings).unwrap_err())
        };
        let unreadable = fails(&[
            "--listen",
            "tcp://127.0.0.1:0",
            "--token-file",
            "/nonexistent/token",
        ]);
        assert!(unreadable.contains("/nonexistent/token"), "{unreadable}");
        assert!(fails(&["--listen", "tcp://127.0.0.1:0"]).contains("token"));
        assert!(fails(&["--token-file", &path]).contains("--listen"));
    }

    #[test]
    fn node_links_need_their_tls_files_and_a_valid_name() {
        let dir = tempfile::tempdir().unwrap();
        let [ca, cert, key] = certs(&dir.path().join("certs"));
        let fails = |flags: &[&str]| {
            let settings = settings(&args(flags), None).unwrap();
            format!("{:#}", super::config(&settings).unwrap_err())
        };
        let listen = ["--node-listen", "127.0.0.1:0"];
        assert!(fails(&listen).contains("--node-cert, --node-key and --node-ca"));
        assert!(fails(&["--node-cert", &cert]).contains("only used with --node-listen"));
        assert!(fails(&["--node", "a"]).contains("only used with --node-listen"));
        let mut flags = vec![
            "--node-cert",
            cert.as_str(),
            "--node-key",
            key.as_str(),
            "--node-ca",
            ca.as_str(),
            "--peer",
            "b=127.0.0.1:7071",
        ];
        let config = parsed(&flags);
        let node = config.node.unwrap();
        assert_eq!(node.listen, None, "dialling only");
        assert_eq!(node.node_timeout, postbox_daemon::DEFAULT_NODE_TIMEOUT);
        assert_eq!(
            Some(node.name.as_str().to_owned()),
            postbox_daemon::host_name(),
            "the host name by default"
        );
        flags.extend(["--node", "b"]);
        let own = settings(&args(&flags), None).unwrap();
        let refused = format!("{:#}", super::config(&own).unwrap().validate().unwrap_err());
        assert!(refused.contains("own name"), "{refused}");
        assert!(
            Cli::try_parse_from(["postbox", "daemon", "--node", "a b"]).is_err(),
            "a bad node name is a usage error"
        );
        assert!(Cli::try_parse_from(["postbox", "daemon", "--peer", "b"]).is_err());
    }

    #[test]
    fn tls_needs_a_certificate_and_key_that_load() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "s3cret-token-of-some-length\n").unwrap();
        let token = token.display().to_string();
        let [_, cert, key] = certs(&dir.path().join("certs"));
        let fails = |extra: &[&str]| {
            let mut flags = vec!["--listen", "tls://127.0.0.1:0", "--token-file", &token];
            flags.extend_from_slice(extra);
            let settings = settings(&args(&flags), None).unwrap();
            format!("{:#}", super::config(&settings).unwrap_err())
        };
        assert!(fails(&[]).contains("--tls-cert and --tls-key"));
        assert!(fails(&["--tls-cert", &cert]).contains("--tls-key"));
        let garbled = dir.path().join("garbled.pem");
        std::fs::write(&garbled, "not PEM at all").unwrap();
        let garbled = garbled.display().to_string();
        let bad_key = fails(&["--tls-cert", &cert, "--tls-key", &garbled]);
        assert!(
            bad_key.contains("garbled.pem") && bad_key.contains("no private key"),
            "{bad_key}"
        );
        let missing = fails(&["--tls-cert", "/nonexistent/c.pem", "--tls-key", &key]);
        assert!(missing.contains("/nonexistent/c.pem"), "{missing}");

        let cert_only = settings(&args(&["--tls-cert", &cert]), None).unwrap();
        let unused = format!("{:#}", super::config(&cert_only).unwrap_err());
        assert!(
            unused.contains("only used with --listen tls://"),
            "{unused}"
        );
        let identity_only = settings(&args(&["--tcp-identity", "1:1"]), None).unwrap();
        let unused = format!("{:#}", super::config(&identity_only).unwrap_err());
        assert!(unused.contains("--tcp-identity is only used"), "{unused}");

        let config = parsed(&[
            "--listen",
            "tls://127.0.0.1:0",
            "--token-file",
            &token,
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ]);
        let tcp = config.tcp.unwrap();
        assert_eq!(tcp.identity, TcpIdentity::DaemonUser, "the default stays");
        assert!(matches!(tcp.security, TcpSecurity::Tls(_)));
    }

    #[test]
    fn metrics_over_tls_is_refused_and_tcp_listen_stays_plain() {
        let file = ConfigFile::parse("metrics = \"tls://127.0.0.1:0\"\n").unwrap();
        let refused = format!(
            "{:#}",
            super::config(&ConfigFile::defaults().overlay(file)).unwrap_err()
        );
        assert!(refused.contains("plain HTTP"), "{refused}");

        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "s3cret-token-of-some-length\n").unwrap();
        let config = parsed(&[
            "--listen",
            "tcp://127.0.0.1:0",
            "--token-file",
            token.to_str().unwrap(),
            "--tcp-identity",
            "7:8",
        ]);
        let tcp = config.tcp.unwrap();
        assert!(matches!(tcp.security, TcpSecurity::Plain));
        assert_eq!(
            tcp.identity,
            TcpIdentity::Fixed(postbox_core::Credentials::new(7, 8))
        );
    }
}

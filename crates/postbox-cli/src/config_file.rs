//! The daemon's configuration file: TOML whose keys are the `postbox daemon` flags' names.
//!
//! ```toml
//! socket = "/run/postbox/postbox.sock"
//! mode = "0660"
//! max-connections = 4096
//! max-queued-bytes = "1GiB"
//! handshake-timeout = "5s"
//! metrics = "tcp://127.0.0.1:9464"
//! ```
//!
//! Values are written as the flags take them (`8MiB`, `3s`, `0600`, `tcp://ADDR:PORT`); byte
//! sizes and counts may also be plain TOML integers, and a mode an octal integer (`0o600`). An
//! unknown key, or a value a flag would refuse, is an error naming the file, the line and the
//! key. [`ConfigFile`] is also the layer the defaults, the file and the flags are merged in
//! (each a `ConfigFile` with the settings it gives): the defaults come from
//! [`DaemonConfig::new`], the only place they are written down.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use postbox_core::Mode;
use postbox_daemon::DaemonConfig;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::values;

/// The largest configuration file read, checked before reading it.
const MAX_FILE_SIZE: u64 = 1 << 20;

/// Every setting of the daemon, each optional: a file, the flags, or the defaults.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Default, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct ConfigFile {
    /// `--socket`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) socket: Option<PathBuf>,
    /// `--mode`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) mode: Option<ModeValue>,
    /// `--listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) listen: Option<ListenUrl>,
    /// `--token-file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) token_file: Option<PathBuf>,
    /// `--tls-cert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// `--tls-key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tls_key: Option<PathBuf>,
    /// `--tls-client-ca`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tls_client_ca: Option<PathBuf>,
    /// `--tcp-identity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tcp_identity: Option<IdentityValue>,
    /// `--state-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) state_dir: Option<PathBuf>,
    /// `--metrics`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) metrics: Option<ListenUrl>,
    /// `--metrics-max-mailboxes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) metrics_max_mailboxes: Option<Count>,
    /// `--attach-from`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) attach_from: Option<ByteSize>,
    /// `--resident-messages`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) resident_messages: Option<PositiveCount>,
    /// `--resident-bytes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) resident_bytes: Option<ByteSize>,
    /// `--log`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) log: Option<String>,
    /// `--max-message-size`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_message_size: Option<ByteSize>,
    /// `--inbox-capacity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) inbox_capacity: Option<PositiveCount>,
    /// `--max-queued-bytes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_queued_bytes: Option<ByteSize>,
    /// `--max-mailboxes-per-uid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_mailboxes_per_uid: Option<PositiveCount>,
    /// `--max-connections`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_connections: Option<PositiveCount>,
    /// `--max-handshakes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_handshakes: Option<PositiveCount>,
    /// `--max-connections-per-peer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_connections_per_peer: Option<PositiveCount>,
    /// `--max-handshakes-per-peer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_handshakes_per_peer: Option<PositiveCount>,
    /// `--handshake-timeout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) handshake_timeout: Option<DurationValue>,
    /// `--tcp-dead-peer-timeout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tcp_dead_peer_timeout: Option<DurationValue>,
    /// `--max-in-flight`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_in_flight: Option<PositiveCount>,
    /// `--node`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) node: Option<NodeNameValue>,
    /// `--node-listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) node_listen: Option<NodeListen>,
    /// `--peer`, each one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) peer: Option<Vec<PeerValue>>,
    /// `--peer-identity`, each one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) peer_identity: Option<Vec<PeerIdentityValue>>,
    /// `--node-timeout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) node_timeout: Option<DurationValue>,
    /// `--node-cert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) node_cert: Option<PathBuf>,
    /// `--node-key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) node_key: Option<PathBuf>,
    /// `--node-ca`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) node_ca: Option<PathBuf>,
}

/// Each key of the file, in the order `--print-config` writes them, with what it means and an
/// example for the keys that are unset by default (printed commented out). The defaults
/// themselves are [`ConfigFile::defaults`]', printed beside.
pub(crate) const KEYS: &[(&str, &str, Option<&str>)] = &[
    (
        "socket",
        "The Unix socket to listen on: $POSTBOX_SOCKET, else $XDG_RUNTIME_DIR/postbox.sock, \
         else /tmp/postbox-$UID/postbox.sock by default. Under systemd socket activation the \
         socket systemd passes is used instead.",
        None,
    ),
    (
        "mode",
        "Permission bits of the socket file (octal); 0600 lets in the daemon's user only.",
        None,
    ),
    (
        "listen",
        "Also listen for network clients at tcp://ADDR:PORT, or with TLS at tls://ADDR:PORT; \
         needs token-file (tls:// with tls-client-ca may go without), and tls:// needs tls-cert \
         and tls-key.",
        Some("\"tls://0.0.0.0:7070\""),
    ),
    (
        "token-file",
        "The file holding the token network clients must present.",
        Some("\"/etc/postbox/token\""),
    ),
    (
        "tls-cert",
        "The daemon's certificate for tls:// (PEM, its chain after it).",
        Some("\"/etc/postbox/certs/node-a.pem\""),
    ),
    (
        "tls-key",
        "The private key of tls-cert (PEM).",
        Some("\"/etc/postbox/certs/node-a.key\""),
    ),
    (
        "tls-client-ca",
        "Require tls:// clients to present a certificate signed by a CA in this PEM file.",
        Some("\"/etc/postbox/certs/ca.pem\""),
    ),
    (
        "tcp-identity",
        "The uid and gid (UID:GID) network clients' processes act as; the daemon's own by \
         default.",
        Some("\"65534:65534\""),
    ),
    (
        "state-dir",
        "Where durable mailboxes are kept (postbox.redb, created with the first one): \
         /var/lib/postbox for root, else $XDG_STATE_HOME/postbox, else \
         ~/.local/state/postbox by default.",
        None,
    ),
    (
        "metrics",
        "Serve Prometheus metrics at http://ADDR:PORT/metrics. No authentication.",
        Some("\"tcp://127.0.0.1:9464\""),
    ),
    (
        "metrics-max-mailboxes",
        "How many mailboxes the metrics report one by one: the first N by name.",
        None,
    ),
    (
        "attach-from",
        "The smallest payload sent to a unix:// client as a sealed shared-memory file rather \
         than through the socket (at least 1).",
        None,
    ),
    (
        "resident-messages",
        "How many of each durable mailbox's messages are kept in memory (read at start, the \
         rest read from disk as they are received).",
        None,
    ),
    (
        "resident-bytes",
        "How many payload bytes of each durable mailbox are kept in memory (at least one \
         message).",
        None,
    ),
    (
        "log",
        "What to log, in RUST_LOG's syntax; $RUST_LOG and --log win over it.",
        None,
    ),
    (
        "max-message-size",
        "The largest message any mailbox accepts.",
        None,
    ),
    (
        "inbox-capacity",
        "How many messages each process's inbox holds.",
        None,
    ),
    (
        "max-queued-bytes",
        "The quota: bytes of messages held daemon-wide (payload + 256 each).",
        None,
    ),
    (
        "max-mailboxes-per-uid",
        "How many mailboxes one uid may have.",
        None,
    ),
    (
        "max-connections",
        "How many clients may be connected at once, past their handshake.",
        None,
    ),
    (
        "max-handshakes",
        "Connections in their handshake at once, per listener.",
        None,
    ),
    (
        "max-connections-per-peer",
        "Connections one peer (a uid other than the daemon's, or a TCP address) may have.",
        None,
    ),
    (
        "max-handshakes-per-peer",
        "Connections one peer may have in their handshake at once.",
        None,
    ),
    (
        "handshake-timeout",
        "How long a new connection has to send its Hello.",
        None,
    ),
    (
        "tcp-dead-peer-timeout",
        "How soon a TCP client that vanished without closing is noticed (at least 3s).",
        None,
    ),
    (
        "max-in-flight",
        "How many operations one connection may have waiting at once.",
        None,
    ),
    (
        "node",
        "This node's name among linked daemons (letters, digits, '.', '_', '-'); the host name \
         by default. Used with node-listen or peer.",
        Some("\"node-a\""),
    ),
    (
        "node-listen",
        "Accept other nodes' links at ADDR:PORT: always mutual TLS, with node-cert, node-key \
         and node-ca.",
        Some("\"0.0.0.0:7071\""),
    ),
    (
        "peer",
        "The nodes to link with, each NAME=HOST:PORT (its node-listen).",
        Some("[\"node-b=10.0.0.2:7071\", \"node-c=10.0.0.3:7071\"]"),
    ),
    (
        "peer-identity",
        "Fixed identities for peer nodes' processes, each NAME=UID:GID: a process of that node \
         acts here as that uid and gid, whatever its node verified.",
        Some("[\"node-b=65534:65534\"]"),
    ),
    (
        "node-timeout",
        "How long a peer node may be silent before it is reported down (at least 500ms).",
        None,
    ),
    (
        "node-cert",
        "This node's certificate for node links (PEM), issued for its node name.",
        Some("\"/etc/postbox/certs/node-a.pem\""),
    ),
    (
        "node-key",
        "The private key of node-cert (PEM).",
        Some("\"/etc/postbox/certs/node-a.key\""),
    ),
    (
        "node-ca",
        "The CA every node's certificate must be signed by (PEM).",
        Some("\"/etc/postbox/certs/ca.pem\""),
    ),
];

impl ConfigFile {
    /// Reads and parses the file at `path`.
    ///
    /// # Errors
    ///
    /// When the file cannot be read, is larger than 1 MiB, is no valid TOML, has a key that is
    /// no setting, or a value the setting does not take; the error names the file, and for a
    /// key or value, the line and the key.
    pub(crate) fn load(path: &Path) -> anyhow::Result<ConfigFile> {
        let shown = path.display();
        let size = std::fs::metadata(path)
            .with_context(|| format!("cannot read the config file {shown}"))?
            .len();
        anyhow::ensure!(
            size <= MAX_FILE_SIZE,
            "the config file {shown} is {size} bytes; a config file is at most {MAX_FILE_SIZE}"
        );
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config file {shown}"))?;
        ConfigFile::parse(&text).with_context(|| format!("invalid config file {shown}"))
    }

    /// Parses `text`.
    ///
    /// # Errors
    ///
    /// As [`ConfigFile::load`], without the file's name.
    pub(crate) fn parse(text: &str) -> anyhow::Result<ConfigFile> {
        toml::from_str(text).map_err(|error| anyhow::anyhow!("{}", describe(&error, text)))
    }

    /// The daemon's defaults, as settings: [`DaemonConfig::new`]'s, and `info` for the log.
    pub(crate) fn defaults() -> ConfigFile {
        let config = DaemonConfig::new();
        ConfigFile {
            socket: Some(config.socket_path),
            mode: Some(ModeValue(Mode::new(
                u16::try_from(config.socket_mode).unwrap_or(0o600),
            ))),
            listen: None,
            token_file: None,
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            tcp_identity: None,
            state_dir: postbox_daemon::own_default_state_dir(),
            metrics: None,
            metrics_max_mailboxes: Some(Count(config.metrics_max_mailboxes)),
            attach_from: Some(ByteSize(config.attach_from)),
            resident_messages: Some(PositiveCount(config.resident_budget.messages)),
            resident_bytes: Some(ByteSize(config.resident_budget.bytes)),
            log: Some("info".to_owned()),
            max_message_size: Some(ByteSize(config.limits.max_message_size)),
            inbox_capacity: Some(PositiveCount(config.limits.inbox_capacity)),
            max_queued_bytes: Some(ByteSize(config.limits.max_queued_bytes)),
            max_mailboxes_per_uid: Some(PositiveCount(config.limits.max_mailboxes_per_uid)),
            max_connections: Some(PositiveCount(config.max_connections)),
            max_handshakes: Some(PositiveCount(config.max_handshakes)),
            max_connections_per_peer: Some(PositiveCount(config.max_connections_per_peer)),
            max_handshakes_per_peer: Some(PositiveCount(config.max_handshakes_per_peer)),
            handshake_timeout: Some(DurationValue(config.handshake_timeout)),
            tcp_dead_peer_timeout: Some(DurationValue(config.tcp_dead_peer_timeout)),
            max_in_flight: Some(PositiveCount(config.max_in_flight)),
            node: None,
            node_listen: None,
            peer: None,
            peer_identity: None,
            node_timeout: Some(DurationValue(postbox_daemon::DEFAULT_NODE_TIMEOUT)),
            node_cert: None,
            node_key: None,
            node_ca: None,
        }
    }

    /// These settings, with those `over` gives replacing them.
    pub(crate) fn overlay(self, over: ConfigFile) -> ConfigFile {
        ConfigFile {
            socket: over.socket.or(self.socket),
            mode: over.mode.or(self.mode),
            listen: over.listen.or(self.listen),
            token_file: over.token_file.or(self.token_file),
            tls_cert: over.tls_cert.or(self.tls_cert),
            tls_key: over.tls_key.or(self.tls_key),
            tls_client_ca: over.tls_client_ca.or(self.tls_client_ca),
            tcp_identity: over.tcp_identity.or(self.tcp_identity),
            state_dir: over.state_dir.or(self.state_dir),
            metrics: over.metrics.or(self.metrics),
            metrics_max_mailboxes: over.metrics_max_mailboxes.or(self.metrics_max_mailboxes),
            attach_from: over.attach_from.or(self.attach_from),
            resident_messages: over.resident_messages.or(self.resident_messages),
            resident_bytes: over.resident_bytes.or(self.resident_bytes),
            log: over.log.or(self.log),
            max_message_size: over.max_message_size.or(self.max_message_size),
            inbox_capacity: over.inbox_capacity.or(self.inbox_capacity),
            max_queued_bytes: over.max_queued_bytes.or(self.max_queued_bytes),
            max_mailboxes_per_uid: over.max_mailboxes_per_uid.or(self.max_mailboxes_per_uid),
            max_connections: over.max_connections.or(self.max_connections),
            max_handshakes: over.max_handshakes.or(self.max_handshakes),
            max_connections_per_peer: over
                .max_connections_per_peer
                .or(self.max_connections_per_peer),
            max_handshakes_per_peer: over
                .max_handshakes_per_peer
                .or(self.max_handshakes_per_peer),
            handshake_timeout: over.handshake_timeout.or(self.handshake_timeout),
            tcp_dead_peer_timeout: over.tcp_dead_peer_timeout.or(self.tcp_dead_peer_timeout),
            max_in_flight: over.max_in_flight.or(self.max_in_flight),
            node: over.node.or(self.node),
            node_listen: over.node_listen.or(self.node_listen),
            peer: over.peer.or(self.peer),
            peer_identity: over.peer_identity.or(self.peer_identity),
            node_timeout: over.node_timeout.or(self.node_timeout),
            node_cert: over.node_cert.or(self.node_cert),
            node_key: over.node_key.or(self.node_key),
            node_ca: over.node_ca.or(self.node_ca),
        }
    }

    /// The settings as a TOML file `--config` reads back: every key in [`KEYS`]' order, each
    /// after a comment saying what it means and its default; unset keys commented out with an
    /// example.
    pub(crate) fn to_documented_toml(&self) -> String {
        let table = toml::Table::try_from(self).unwrap_or_default();
        let mut out = String::from(
            "# postbox daemon configuration: `postbox daemon --config FILE`.\n\
             # Keys are the flags' names; a flag given on the command line wins over the file.\n",
        );
        let defaults = toml::Table::try_from(ConfigFile::defaults()).unwrap_or_default();
        for (key, doc, example) in KEYS {
            out.push('\n');
            let default = match defaults.get(*key) {
                Some(value) => format!("Default: {value}."),
                None => "Default: unset.".to_owned(),
            };
            for line in wrap(&format!("{doc} {default}"), 96) {
                let _ = writeln!(out, "# {line}");
            }
            match (table.get(*key), example) {
                (Some(value), _) => {
                    let _ = writeln!(out, "{key} = {value}");
                }
                (None, Some(example)) => {
                    let _ = writeln!(out, "# {key} = {example}");
                }
                (None, None) => {
                    let _ = writeln!(out, "# {key} =");
                }
            }
        }
        out
    }
}

/// A TOML error as one message: where (line), which key, and what is wrong.
fn describe(error: &toml::de::Error, text: &str) -> String {
    let message = error.message().trim_end();
    let Some(span) = error.span() else {
        return message.to_owned();
    };
    let start = span.start.min(text.len());
    let line_number = text[..start].matches('\n').count() + 1;
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    // The key of a bad value is what stands before the `=` on its line.
    let key = line
        .split_once('=')
        .map(|(key, _)| key.trim().trim_matches('"'))
        .filter(|key| !key.is_empty() && !key.starts_with('['));
    match key {
        Some(key) if !message.contains(&format!("`{key}`")) => {
            format!("line {line_number}, key `{key}`: {message}")
        }
        _ => format!("line {line_number}: {message}"),
    }
}

/// `text` in lines of at most `width` characters, broken at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("never empty");
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(word.to_owned());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

/// A value written as text a flag's parser reads, or (for some) a TOML integer.
macro_rules! text_value {
    ($name:ident, $inner:ty, $expecting:literal, from_str = $parse:expr, from_int = $int:expr,
     show = $show:expr) => {
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                struct Expect;
                impl Visitor<'_> for Expect {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: de::Error>(self, text: &str) -> Result<$name, E> {
                        let parse: fn(&str) -> Result<$inner, String> = $parse;
                        parse(text).map($name).map_err(E::custom)
                    }
                    fn visit_i64<E: de::Error>(self, value: i64) -> Result<$name, E> {
                        let int: fn(i64) -> Result<$inner, String> = $int;
                        int(value).map($name).map_err(E::custom)
                    }
                    fn visit_u64<E: de::Error>(self, value: u64) -> Result<$name, E> {
                        self.visit_i64(i64::try_from(value).unwrap_or(i64::MAX))
                    }
                }
                deserializer.deserialize_any(Expect)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let show: fn(&$inner) -> Shown = $show;
                match show(&self.0) {
                    Shown::Text(text) => serializer.serialize_str(&text),
                    Shown::Int(value) => serializer.serialize_u64(value),
                }
            }
        }
    };
}

/// How a value is written back.
enum Shown {
    /// As a TOML string.
    Text(String),
    /// As a TOML integer.
    Int(u64),
}

/// A byte size: `"8MiB"`, `"64KiB"`, or an integer number of bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct ByteSize(pub(crate) usize);

text_value!(
    ByteSize,
    usize,
    "a byte size such as \"8MiB\" or a number of bytes",
    from_str = values::bytes,
    from_int = |value| usize::try_from(value)
        .map_err(|_| format!("invalid byte size {value}: it cannot be negative")),
    show = |bytes| Shown::Text(values::show_bytes(*bytes))
);

/// A count that may be zero.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Count(pub(crate) usize);

text_value!(
    Count,
    usize,
    "a number",
    from_str = |text| Err(format!("expected a number, not the string {text:?}")),
    from_int = |value| usize::try_from(value)
        .map_err(|_| format!("invalid count {value}: it cannot be negative")),
    show = |count| Shown::Int(*count as u64)
);

/// A count of at least 1.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct PositiveCount(pub(crate) usize);

text_value!(
    PositiveCount,
    usize,
    "a number of at least 1",
    from_str = |text| Err(format!("expected a number, not the string {text:?}")),
    from_int = |value| match usize::try_from(value) {
        Ok(count) if count >= 1 => Ok(count),
        _ => Err(format!("invalid count {value}: it must be at least 1")),
    },
    show = |count| Shown::Int(*count as u64)
);

/// A duration: `"3s"`, `"500ms"`, `"1m"`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct DurationValue(pub(crate) Duration);

text_value!(
    DurationValue,
    Duration,
    "a duration such as \"3s\" or \"500ms\"",
    from_str = values::duration,
    from_int = |value| Err(format!(
        "invalid duration {value}: write it with a unit, like \"{value}s\""
    )),
    show = |duration| Shown::Text(show_duration(*duration))
);

/// Permission bits: `"0600"`, or a TOML octal integer `0o600`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct ModeValue(pub(crate) Mode);

text_value!(
    ModeValue,
    Mode,
    "permission bits such as \"0600\"",
    from_str = values::mode,
    from_int = |value| match u16::try_from(value) {
        Ok(bits) if bits <= 0o777 => Ok(Mode::new(bits)),
        _ => Err(format!(
            "invalid mode {value:#o}: at most 0o777 (write it as a string, \"0600\", or 0o600)"
        )),
    },
    show = |mode| Shown::Text(format!("{:04o}", mode.bits()))
);

/// A listen address, `tcp://ADDR:PORT` or `tls://ADDR:PORT`, kept as written.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct ListenUrl(pub(crate) String);

impl ListenUrl {
    /// The `ADDR:PORT` part.
    pub(crate) fn address(&self) -> &str {
        self.0
            .strip_prefix("tcp://")
            .or_else(|| self.0.strip_prefix("tls://"))
            .unwrap_or(&self.0)
    }

    /// Whether it is `tls://`.
    pub(crate) fn is_tls(&self) -> bool {
        self.0.starts_with("tls://")
    }
}

text_value!(
    ListenUrl,
    String,
    "an address such as \"tcp://127.0.0.1:9464\"",
    from_str = values::listen,
    from_int = |value| Err(format!(
        "invalid listen address {value}: expected \"tcp://ADDR:PORT\" or \"tls://ADDR:PORT\""
    )),
    show = |url| Shown::Text(url.clone())
);

/// The uid and gid network clients act as: `"UID:GID"`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct IdentityValue(pub(crate) postbox_core::Credentials);

text_value!(
    IdentityValue,
    postbox_core::Credentials,
    "a uid and gid such as \"65534:65534\"",
    from_str = values::identity,
    from_int = |value| Err(format!(
        "invalid identity {value}: expected \"UID:GID\", two numbers in a string"
    )),
    show = |creds| Shown::Text(format!("{}:{}", creds.uid, creds.gid))
);

/// Writes a duration the way [`values::duration`] reads it, in the largest unit that is exact.
fn show_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    [
        ("h", 3_600_000_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
    ]
    .iter()
    .find(|(_, unit)| nanos != 0 && nanos % unit == 0)
    .map_or_else(
        || format!("{nanos}ns"),
        |(name, unit)| format!("{}{name}", nanos / unit),
    )
}

/// A node name, checked as `--node` checks it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct NodeNameValue(pub(crate) String);

text_value!(
    NodeNameValue,
    String,
    "a node name such as \"node-a\"",
    from_str = values::node_name,
    from_int = |value| Err(format!(
        "invalid node name {value}: write it as a string, \"{value}\""
    )),
    show = |name| Shown::Text(name.clone())
);

/// Where node links are accepted: `ADDR:PORT`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct NodeListen(pub(crate) String);

text_value!(
    NodeListen,
    String,
    "an address such as \"0.0.0.0:7071\"",
    from_str = values::node_listen,
    from_int = |value| Err(format!(
        "invalid node listen address {value}: expected \"ADDR:PORT\""
    )),
    show = |address| Shown::Text(address.clone())
);

/// A peer node: `NAME=HOST:PORT`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct PeerValue(pub(crate) postbox_daemon::PeerAddress);

text_value!(
    PeerValue,
    postbox_daemon::PeerAddress,
    "a peer such as \"node-b=10.0.0.2:7071\"",
    from_str = values::peer,
    from_int = |value| Err(format!("invalid peer {value}: expected \"NAME=HOST:PORT\"")),
    show = |peer| Shown::Text(peer.to_string())
);

/// A fixed identity for a peer node's processes: `"NAME=UID:GID"`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct PeerIdentityValue(
    pub(crate) (postbox_wire::link::NodeName, postbox_core::Credentials),
);

text_value!(
    PeerIdentityValue,
    (postbox_wire::link::NodeName, postbox_core::Credentials),
    "a peer identity such as \"node-b=65534:65534\"",
    from_str = values::peer_identity,
    from_int = |value| Err(format!(
        "invalid peer identity {value}: expected \"NAME=UID:GID\""
    )),
    show = |(name, creds)| Shown::Text(format!("{name}={}:{}", creds.uid, creds.gid))
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_documented_and_every_setting_printed() {
        let all = toml::Table::try_from(ConfigFile::defaults().overlay(ConfigFile {
            listen: Some(ListenUrl("tls://127.0.0.1:1".into())),
            token_file: Some("/t".into()),
            tls_cert: Some("/c.pem".into()),
            tls_key: Some("/c.key".into()),
            tls_client_ca: Some("/ca.pem".into()),
            tcp_identity: Some(IdentityValue(postbox_core::Credentials::new(1, 2))),
            metrics: Some(ListenUrl("tcp://127.0.0.1:2".into())),
            node: Some(NodeNameValue("a".into())),
            node_listen: Some(NodeListen("127.0.0.1:3".into())),
            peer: Some(vec![PeerValue("b=h:4".parse().unwrap())]),
            peer_identity: Some(vec![PeerIdentityValue(
                crate::values::peer_identity("b=5:6").unwrap(),
            )]),
            node_cert: Some("/a.pem".into()),
            node_key: Some("/a.key".into()),
            node_ca: Some("/ca.pem".into()),
            ..ConfigFile::default()
        }))
        .unwrap();
        let documented: Vec<&str> = KEYS.iter().map(|(key, _, _)| *key).collect();
        let mut serialized: Vec<&str> = all.keys().map(String::as_str).collect();
        let mut sorted = documented.clone();
        sorted.sort_unstable();
        serialized.sort_unstable();
        assert_eq!(sorted, serialized, "KEYS lists exactly the file's keys");
    }

    #[test]
    fn peers_are_a_list_and_node_values_are_checked_naming_the_line() {
        let file = ConfigFile::parse(
            "node = \"a\"\nnode-listen = \"127.0.0.1:0\"\npeer = [\"b=h:1\", \"c=h:2\"]\n",
        )
        .unwrap();
        let peers: Vec<String> = file
            .peer
            .iter()
            .flatten()
            .map(|p| p.0.to_string())
            .collect();
        assert_eq!(peers, ["b=h:1", "c=h:2"]);
        assert_eq!(file.node, Some(NodeNameValue("a".into())));
        let shown = file.to_documented_toml();
        assert!(shown.contains("peer = [\"b=h:1\", \"c=h:2\"]"), "{shown}");
        assert_eq!(ConfigFile::parse(&shown).unwrap().peer, file.peer);
        for (text, complaint) in [
            ("node = \"a b\"\n", "invalid node name"),
            ("peer = [\"b\"]\n", "NAME=HOST:PORT"),
            ("node-listen = \"nowhere\"\n", "ADDR:PORT"),
        ] {
            let error = format!("{:#}", ConfigFile::parse(text).unwrap_err());
            assert!(
                error.contains("line 1") && error.contains(complaint),
                "{error}"
            );
        }
    }

    #[test]
    fn values_are_read_as_the_flags_read_them() {
        let file = ConfigFile::parse(
            "mode = 0o640\nmax-message-size = \"1MiB\"\nmax-queued-bytes = 4096\n\
             handshake-timeout = \"1.5s\"\nmetrics = \"tcp://127.0.0.1:0\"\n",
        )
        .unwrap();
        assert_eq!(file.mode, Some(ModeValue(Mode::new(0o640))));
        assert_eq!(file.max_message_size, Some(ByteSize(1 << 20)));
        assert_eq!(file.max_queued_bytes, Some(ByteSize(4096)));
        assert_eq!(
            file.handshake_timeout,
            Some(DurationValue(Duration::from_millis(1500)))
        );
        assert_eq!(file.metrics.unwrap().address(), "127.0.0.1:0");
    }

    #[test]
    fn an_unknown_key_is_named() {
        let error = ConfigFile::parse("socket = \"/x\"\nmax-conections = 3\n").unwrap_err();
        let text = format!("{error:#}");
        assert!(text.contains("max-conections"), "{text}");
        assert!(text.contains("line 2"), "{text}");
    }

    #[test]
    fn an_invalid_value_names_its_key_and_line() {
        for (file, key, why) in [
            (
                "max-message-size = \"lots\"",
                "max-message-size",
                "invalid byte size",
            ),
            ("max-connections = 0", "max-connections", "at least 1"),
            ("handshake-timeout = 3", "handshake-timeout", "with a unit"),
            ("\n\nmode = \"0999\"", "mode", "line 3"),
            ("metrics = \"http://x:1\"", "metrics", "tcp://"),
            ("inbox-capacity = -4", "inbox-capacity", "at least 1"),
            ("log = 3", "log", "string"),
        ] {
            let text = format!("{:#}", ConfigFile::parse(file).unwrap_err());
            assert!(text.contains(&format!("`{key}`")), "{file}: {text}");
            assert!(text.contains(why), "{file}: {text}");
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for text in [
            "[",
            "= 3",
            "socket = ",
            "\u{0}",
            "[limits]\nx = 1",
            "socket = 3",
        ] {
            assert!(ConfigFile::parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn the_documented_defaults_read_back_as_they_were() {
        let defaults = ConfigFile::defaults();
        let printed = defaults.to_documented_toml();
        assert_eq!(ConfigFile::parse(&printed).unwrap(), defaults);
        assert!(printed.contains("# metrics = \"tcp://127.0.0.1:9464\""));
        assert!(printed.contains("max-message-size = \"8MiB\""));
        assert!(printed.contains("handshake-timeout = \"3s\""));
        assert!(printed.contains("mode = \"0600\""));
    }

    #[test]
    fn durations_print_in_their_largest_exact_unit() {
        assert_eq!(show_duration(Duration::from_secs(30)), "30s");
        assert_eq!(show_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(show_duration(Duration::from_secs(120)), "2m");
        assert_eq!(show_duration(Duration::ZERO), "0ns");
        assert_eq!(
            values::duration(&show_duration(Duration::from_nanos(7))).unwrap(),
            Duration::from_nanos(7)
        );
    }
}

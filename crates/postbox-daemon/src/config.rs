//! What a daemon is told: where to listen, who may connect over TCP, and every limit.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use postbox_core::{Credentials, Limits};
use postbox_wire::session::DEFAULT_ATTACH_FROM;
use postbox_wire::{HANDSHAKE_MAX_FRAME_LEN, Token, default_socket_path};

use crate::DaemonError;
use crate::node::NodeConfig;
use crate::tls::TlsServer;

/// Room a frame needs around a message's payload: the `Request` or `Response` encoding (message
/// type, priority, sender, sequence number, send time, ids). A message of
/// [`Limits::max_message_size`] must fit in a frame of [`DaemonConfig::max_frame_len`] with this
/// much to spare, or it could be accepted and never delivered.
pub const MESSAGE_OVERHEAD: usize = 4096;

/// The default socket mode: read and write for the daemon's own user only.
pub const DEFAULT_SOCKET_MODE: u32 = 0o600;

/// The default limit on connections past their handshake (processes) at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// The default limit on connections in their handshake at once, per listener.
pub const DEFAULT_MAX_HANDSHAKES: usize = 128;

/// The default limit on connections at once from one peer (a uid on the Unix socket, a source
/// address on TCP), handshakes included.
pub const DEFAULT_MAX_CONNECTIONS_PER_PEER: usize = 256;

/// The default limit on connections in their handshake at once from one peer.
pub const DEFAULT_MAX_HANDSHAKES_PER_PEER: usize = 16;

/// The default time within which a TCP peer that vanished without a word (power lost, cable
/// pulled) is noticed and its process terminated.
pub const DEFAULT_TCP_DEAD_PEER_TIMEOUT: Duration = Duration::from_secs(30);

/// The default limit on requests in flight (waiting in the engine) per connection.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 256;

/// The default time a client has to complete the handshake after connecting.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);

/// The default cap on the mailboxes the metrics endpoint reports one by one: the first this many
/// by name (the daemon-wide figures always cover every mailbox).
pub const DEFAULT_METRICS_MAX_MAILBOXES: usize = 1000;

/// The default state directory for a daemon running as `uid`, from its environment (`var`):
/// `/var/lib/postbox` for root, else `$XDG_STATE_HOME/postbox`, else
/// `$HOME/.local/state/postbox` (the XDG base directory default), else none.
pub fn default_state_dir(var: impl Fn(&str) -> Option<String>, uid: u32) -> Option<PathBuf> {
    if uid == 0 {
        return Some(PathBuf::from("/var/lib/postbox"));
    }
    let absolute = |value: String| Some(PathBuf::from(value)).filter(|p| p.is_absolute());
    if let Some(state) = var("XDG_STATE_HOME").and_then(absolute) {
        return Some(state.join("postbox"));
    }
    var("HOME")
        .and_then(absolute)
        .map(|home| home.join(".local/state/postbox"))
}

/// [`default_state_dir`] for this process's uid and environment.
pub fn own_default_state_dir() -> Option<PathBuf> {
    default_state_dir(|name| std::env::var(name).ok(), own_credentials().uid)
}

/// How a daemon is configured. [`DaemonConfig::new`] gives the defaults each field documents.
///
/// ```
/// use postbox_daemon::DaemonConfig;
///
/// let config = DaemonConfig::new().with_socket_path("/run/postbox/postbox.sock");
/// assert_eq!(config.socket_mode, 0o600);
/// assert!(config.tcp.is_none(), "TCP only when asked");
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone, Debug)]
pub struct DaemonConfig {
    /// The Unix socket to listen on. Default: [`default_socket_path`] with the daemon's
    /// environment and uid — `$POSTBOX_SOCKET`, else `$XDG_RUNTIME_DIR/postbox.sock`, else
    /// `/tmp/postbox-$UID/postbox.sock`. A missing directory is created with mode 0700.
    pub socket_path: PathBuf,
    /// The permission bits the socket file gets (only 0o777 bits). Default 0o600: only the
    /// daemon's user may connect. Widen it (0o660 with a shared group, 0o666) to let other users
    /// in; the daemon still knows each one's uid from the socket.
    pub socket_mode: u32,
    /// A TCP listener as well, with its token. Default: none.
    pub tcp: Option<TcpListen>,
    /// The engine's limits: largest message, inbox capacity, daemon-wide queued bytes, mailboxes
    /// per uid. Default: [`Limits::default`] — the same as in-process, so that a program cannot
    /// tell the transports apart: 8 MiB messages, 1024-message inboxes, 256 MiB queued, 1024
    /// mailboxes per uid.
    pub limits: Limits,
    /// Connections past their handshake (processes) at once, all listeners together; a `Hello`
    /// beyond it is refused `LIMIT_EXCEEDED`. Default 1024 (keep `ulimit -n` above it plus
    /// twice [`max_handshakes`](Self::max_handshakes)).
    pub max_connections: usize,
    /// Connections in their handshake at once, per listener: the Unix socket and TCP each have
    /// this many, so strangers on TCP never take a Unix client's place. A connection beyond it is
    /// told `LIMIT_EXCEEDED` and closed at once. Default 128.
    pub max_handshakes: usize,
    /// Connections at once from one peer — a uid on the Unix socket, a source address on TCP
    /// (for IPv6, its /64 network) — handshakes included; the next is told `LIMIT_EXCEEDED`
    /// ("too many connections from uid N") and closed at once. Default 256.
    pub max_connections_per_peer: usize,
    /// Connections in their handshake at once from one peer; the next is told `LIMIT_EXCEEDED`
    /// and closed at once. Default 16.
    pub max_handshakes_per_peer: usize,
    /// Whether the per-peer limits hold the daemon's own user (and root) on the Unix socket.
    /// Default [`OwnUser::Unlimited`]: the socket is theirs.
    pub own_user: OwnUser,
    /// Requests in flight (blocked in the engine) per connection; with that many waiting, the next
    /// request is refused with `LIMIT_EXCEEDED` for its id. Default 256.
    pub max_in_flight: usize,
    /// The largest frame payload the daemon accepts and sends (the client may negotiate a smaller
    /// one). At least 4096, and room for the largest message plus [`MESSAGE_OVERHEAD`]. Default
    /// 8 MiB + 4 KiB: the default largest message plus its overhead.
    pub max_frame_len: u32,
    /// How long a new connection has to complete its handshake. Default 3 s.
    pub handshake_timeout: Duration,
    /// How soon a TCP peer that vanished without closing (no FIN, no RST: power lost, cable
    /// pulled) is noticed — by TCP keepalive probes and a bound on unacknowledged data — and its
    /// process terminated, releasing its waiters and mailboxes. At least 3 s; default 30 s.
    pub tcp_dead_peer_timeout: Duration,
    /// The state directory, where durable mailboxes are kept (the file `postbox.redb`, created
    /// with the first durable mailbox). Default: none, and durable mailboxes cannot be created;
    /// `postbox daemon` defaults to [`default_state_dir`].
    pub state_dir: Option<PathBuf>,
    /// How much of each durable mailbox is read into memory at start, and kept there while
    /// the rest waits on disk: its oldest messages up to this many messages and bytes, the
    /// rest paged in, oldest first, as they are received (see
    /// [`ResidentBudget`](postbox_core::ResidentBudget)). Priority and drop-oldest mailboxes are
    /// read whole. Default [`ResidentBudget::DEFAULT`](postbox_core::ResidentBudget::DEFAULT):
    /// 4,096 messages, 4 MiB.
    pub resident_budget: postbox_core::ResidentBudget,
    /// Where to serve Prometheus metrics over HTTP (`GET /metrics`), e.g. `127.0.0.1:9464`;
    /// port 0 picks a free port (see
    /// [`Daemon::local_metrics_addr`](crate::Daemon::local_metrics_addr)). Default: none. The
    /// endpoint has no authentication: bind it to loopback or a monitoring network.
    pub metrics: Option<SocketAddr>,
    /// How many mailboxes the metrics endpoint reports one by one (the first this many by name),
    /// so that a scrape stays bounded however many mailboxes there are; the daemon-wide figures
    /// cover them all. Default [`DEFAULT_METRICS_MAX_MAILBOXES`]; 0 reports none one by one.
    pub metrics_max_mailboxes: usize,
    /// Node links with other daemons (`--node`, `--node-listen`, `--peer`): see
    /// [`NodeConfig`]. Default: none, and this daemon is a node of its own.
    pub node: Option<NodeConfig>,
    /// Whether to take a listening socket passed by systemd (`LISTEN_FDS`) instead of binding
    /// [`socket_path`](Self::socket_path). Default [`SocketActivation::Accept`].
    pub socket_activation: SocketActivation,
    /// The smallest message payload, in bytes, that the daemon sends to a Unix client as an
    /// attached sealed memfd rather than inline in the frame (protocol.md §7.5), when the client
    /// negotiated attachments. Below it, a memfd, its seals, a descriptor and a mapping cost
    /// more than copying the bytes through the socket. At least 1; default
    /// [`DEFAULT_ATTACH_FROM`] (64 KiB). What a client attaches when it sends is its own choice
    /// (`?shm_from=` in its URL).
    pub attach_from: usize,
}

/// Whether the daemon takes its Unix socket from systemd's socket activation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SocketActivation {
    /// When `LISTEN_PID` is this process's pid, take the one socket `LISTEN_FDS` passes (fd 3):
    /// it must be a listening Unix stream socket, or the daemon refuses to start. Without those
    /// variables (or with another process's `LISTEN_PID`), bind `socket_path` as usual. The
    /// default.
    Accept,
    /// Always bind `socket_path`; ignore `LISTEN_FDS`.
    Ignore,
}

/// Whether the per-peer connection limits hold the daemon's own user and root on the Unix socket.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OwnUser {
    /// Only other users are limited per uid (the default): the daemon's user and root may use
    /// the whole connection budget, as a single-user daemon (socket mode 0600) needs.
    Unlimited,
    /// The daemon's user and root are limited per uid like everyone else.
    Limited,
}

/// A TCP listener: where, the token every client must present, and who its clients run as.
#[derive(Clone, Debug)]
pub struct TcpListen {
    /// The address to bind, e.g. `127.0.0.1:7070`; port 0 picks a free port (see
    /// [`Daemon::local_tcp_addr`](crate::Daemon::local_tcp_addr)).
    pub address: SocketAddr,
    /// The shared secret each client's `Hello` must carry (compared in constant time). `None`
    /// only on TLS with [`ClientCertificates::Required`](crate::ClientCertificates::Required),
    /// where the certificate is the client's credential; [`DaemonConfig::validate`] refuses it
    /// anywhere else, so that a network listener is never open to anyone who can reach it.
    pub token: Option<Token>,
    /// The credentials TCP clients' processes run as.
    pub identity: TcpIdentity,
    /// Plain TCP, or TLS around every connection (`tls://`).
    pub security: TcpSecurity,
}

impl TcpListen {
    /// Listens on `address`, requiring `token`, with clients running as the daemon's own user.
    pub fn new(address: SocketAddr, token: Token) -> TcpListen {
        TcpListen {
            address,
            token: Some(token),
            identity: TcpIdentity::DaemonUser,
            security: TcpSecurity::Plain,
        }
    }

    /// Listens on `address` with TLS that requires client certificates and no token: the
    /// certificate is the client's credential.
    pub fn with_client_certificates_only(address: SocketAddr, tls: TlsServer) -> TcpListen {
        TcpListen {
            address,
            token: None,
            identity: TcpIdentity::DaemonUser,
            security: TcpSecurity::Tls(tls),
        }
    }

    /// Whether clients must prove who they are: a token, or a client certificate.
    fn authenticates(&self) -> bool {
        self.token.is_some()
            || matches!(&self.security, TcpSecurity::Tls(tls)
                if matches!(tls.client_certificates(), crate::ClientCertificates::Required(_)))
    }

    /// Wraps every connection in TLS with `tls`.
    pub fn with_tls(mut self, tls: TlsServer) -> TcpListen {
        self.security = TcpSecurity::Tls(tls);
        self
    }
}

/// What a TCP listener's connections run over.
#[derive(Clone, Debug)]
pub enum TcpSecurity {
    /// Plain TCP (`tcp://`): the token and every message cross the network in clear text. The
    /// default.
    Plain,
    /// TLS 1.3 (`tls://`): the daemon proves its identity with its certificate, and with
    /// [`ClientCertificates::Required`](crate::ClientCertificates::Required) clients prove theirs.
    Tls(TlsServer),
}

/// Who a TCP client's process runs as, for permission checks. A TCP peer has no kernel-verified
/// identity: whoever holds the token gets these credentials.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TcpIdentity {
    /// The daemon's own uid and gid (the default). If the daemon runs as root, every TCP client
    /// bypasses permission checks: use [`TcpIdentity::Fixed`] then.
    DaemonUser,
    /// These credentials.
    Fixed(Credentials),
}

impl DaemonConfig {
    /// The defaults, with the socket path from this process's environment and uid.
    pub fn new() -> DaemonConfig {
        let uid = own_credentials().uid;
        let limits = Limits::default();
        let max_frame_len = limits
            .max_message_size
            .saturating_add(MESSAGE_OVERHEAD)
            .try_into()
            .unwrap_or(u32::MAX);
        DaemonConfig {
            socket_path: default_socket_path(|name| std::env::var(name).ok(), uid),
            socket_mode: DEFAULT_SOCKET_MODE,
            tcp: None,
            limits,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_handshakes: DEFAULT_MAX_HANDSHAKES,
            max_connections_per_peer: DEFAULT_MAX_CONNECTIONS_PER_PEER,
            max_handshakes_per_peer: DEFAULT_MAX_HANDSHAKES_PER_PEER,
            own_user: OwnUser::Unlimited,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_frame_len,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            tcp_dead_peer_timeout: DEFAULT_TCP_DEAD_PEER_TIMEOUT,
            metrics: None,
            metrics_max_mailboxes: DEFAULT_METRICS_MAX_MAILBOXES,
            state_dir: None,
            resident_budget: postbox_core::ResidentBudget::DEFAULT,
            socket_activation: SocketActivation::Accept,
            node: None,
            attach_from: DEFAULT_ATTACH_FROM,
        }
    }

    /// Listens on `path` instead of the default socket.
    pub fn with_socket_path(mut self, path: impl Into<PathBuf>) -> DaemonConfig {
        self.socket_path = path.into();
        self
    }

    /// Listens on TCP as well.
    pub fn with_tcp(mut self, tcp: TcpListen) -> DaemonConfig {
        self.tcp = Some(tcp);
        self
    }

    /// Accepts frames up to `max_frame_len` bytes, and sets the largest message to what fits in
    /// one (`max_frame_len - MESSAGE_OVERHEAD`).
    pub fn with_max_frame_len(mut self, max_frame_len: u32) -> DaemonConfig {
        self.max_frame_len = max_frame_len;
        self.limits.max_message_size = max_message_size_for(max_frame_len);
        self
    }

    /// Checks that the settings make sense together; [`Daemon::bind`](crate::Daemon::bind) calls
    /// it first.
    ///
    /// # Errors
    ///
    /// [`DaemonError::Config`] when a limit or [`attach_from`](Self::attach_from) is zero, the frame limit is below 4096, the socket mode
    /// has bits beyond 0o777, the largest message (plus [`MESSAGE_OVERHEAD`]) does not fit in
    /// a frame, the dead-peer timeout is below 3 s (keepalive probes count in seconds), a TCP
    /// listener has neither a token nor TLS client certificates, or the node links' settings do
    /// not hold together ([`NodeConfig::validate`]).
    pub fn validate(&self) -> Result<(), DaemonError> {
        let invalid = |reason: String| Err(DaemonError::Config { reason });
        if self.tcp.as_ref().is_some_and(|tcp| !tcp.authenticates()) {
            return invalid(
                "a network listener needs a token, or TLS that requires client certificates"
                    .to_owned(),
            );
        }
        if self.max_frame_len < HANDSHAKE_MAX_FRAME_LEN {
            return invalid(format!(
                "the frame limit must be at least {HANDSHAKE_MAX_FRAME_LEN} bytes, not {}",
                self.max_frame_len
            ));
        }
        let fits = usize::try_from(self.max_frame_len).unwrap_or(usize::MAX);
        if self
            .limits
            .max_message_size
            .saturating_add(MESSAGE_OVERHEAD)
            > fits
        {
            return invalid(format!(
                "a {}-byte message does not fit in a {}-byte frame; raise the frame limit to at \
                 least the message size plus {MESSAGE_OVERHEAD}",
                self.limits.max_message_size, self.max_frame_len
            ));
        }
        if self.socket_mode & !0o777 != 0 {
            return invalid(format!(
                "socket mode {:#o} has bits beyond 0o777",
                self.socket_mode
            ));
        }
        let zero = [
            ("max connections", self.max_connections),
            ("max handshakes", self.max_handshakes),
            ("max connections per peer", self.max_connections_per_peer),
            ("max handshakes per peer", self.max_handshakes_per_peer),
            ("max in-flight requests", self.max_in_flight),
            ("max message size", self.limits.max_message_size),
            ("inbox capacity", self.limits.inbox_capacity),
            ("mailboxes per uid", self.limits.max_mailboxes_per_uid),
            ("the smallest attached payload", self.attach_from),
        ];
        if let Some((name, _)) = zero.iter().find(|(_, value)| *value == 0) {
            return invalid(format!("{name} must be at least 1"));
        }
        if self.handshake_timeout.is_zero() {
            return invalid("the handshake timeout must not be zero".to_owned());
        }
        if let Some(node) = &self.node {
            node.validate().or_else(invalid)?;
        }
        if self.tcp_dead_peer_timeout < MIN_TCP_DEAD_PEER_TIMEOUT {
            return invalid(format!(
                "the TCP dead-peer timeout must be at least {} s, not {:?}",
                MIN_TCP_DEAD_PEER_TIMEOUT.as_secs(),
                self.tcp_dead_peer_timeout
            ));
        }
        Ok(())
    }

    /// The credentials TCP clients run as, when TCP is configured.
    pub(crate) fn tcp_credentials(&self) -> Option<Credentials> {
        self.tcp.as_ref().map(|tcp| match tcp.identity {
            TcpIdentity::DaemonUser => own_credentials(),
            TcpIdentity::Fixed(creds) => creds,
        })
    }
}

impl Default for DaemonConfig {
    /// [`DaemonConfig::new`].
    fn default() -> DaemonConfig {
        DaemonConfig::new()
    }
}

/// The shortest dead-peer timeout: TCP keepalive counts in whole seconds, and needs one for the
/// idle time, one between probes and one more for the probes to go unanswered.
const MIN_TCP_DEAD_PEER_TIMEOUT: Duration = Duration::from_secs(3);

/// The largest message that fits in a frame of `max_frame_len` bytes.
fn max_message_size_for(max_frame_len: u32) -> usize {
    usize::try_from(max_frame_len)
        .unwrap_or(usize::MAX)
        .saturating_sub(MESSAGE_OVERHEAD)
        .max(1)
}

/// The uid and gid the daemon runs as: the owner of `/proc/self` (Linux); where that is
/// unavailable, the unprivileged `nobody`, so that a missing `/proc` never grants root's bypass.
pub(crate) fn own_credentials() -> Credentials {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata("/proc/self") {
        Ok(meta) => Credentials::new(meta.uid(), meta.gid()),
        Err(_) => Credentials::new(65534, 65534),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(config: &DaemonConfig) -> String {
        match config.validate() {
            Err(DaemonError::Config { reason }) => reason,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_valid_and_every_message_fits_in_a_frame() {
        let config = DaemonConfig::new();
        assert!(config.validate().is_ok());
        assert_eq!(
            config.limits,
            Limits::default(),
            "the same limits as in-process"
        );
        assert_eq!(config.max_frame_len as usize, (8 << 20) + MESSAGE_OVERHEAD);
        assert_eq!(config.socket_mode, 0o600);
        assert_eq!(config.socket_path.file_name().unwrap(), "postbox.sock");
        assert_eq!(
            config.attach_from,
            64 * 1024,
            "as a client attaches by default"
        );
    }

    #[test]
    fn contradictions_are_refused_with_a_reason() {
        let small = DaemonConfig::new().with_max_frame_len(1000);
        assert!(reason(&small).contains("at least 4096"));

        let mut big_message = DaemonConfig::new();
        big_message.limits.max_message_size = 9 << 20;
        assert!(reason(&big_message).contains("does not fit"));

        let mut mode = DaemonConfig::new();
        mode.socket_mode = 0o4600;
        assert!(reason(&mode).contains("0o777"));

        let address = "127.0.0.1:0".parse().unwrap();
        let mut open = DaemonConfig::new()
            .with_tcp(TcpListen::new(address, Token::new(b"t".to_vec()).unwrap()));
        assert!(open.validate().is_ok());
        if let Some(tcp) = open.tcp.as_mut() {
            tcp.token = None;
        }
        assert!(reason(&open).contains("needs a token"));

        let mut in_flight = DaemonConfig::new();
        in_flight.max_in_flight = 0;
        assert!(reason(&in_flight).contains("in-flight"));

        let mut attach = DaemonConfig::new();
        attach.attach_from = 0;
        assert!(reason(&attach).contains("the smallest attached payload must be at least 1"));
    }

    #[test]
    fn raising_the_frame_limit_raises_the_message_size() {
        let config = DaemonConfig::new().with_max_frame_len(16 << 20);
        assert_eq!(
            config.limits.max_message_size,
            (16 << 20) - MESSAGE_OVERHEAD
        );
        assert!(config.validate().is_ok());
    }
}

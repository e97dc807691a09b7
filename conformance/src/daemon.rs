//! The daemon transports under test (`unix://`, `unix://` with every payload attached,
//! `tcp://`, `tls://`): a fresh, embedded daemon per value.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use postbox::{Credentials, Limits, Process};
use postbox_daemon::{ClientCertificates, Daemon, DaemonConfig, NodeConfig, TcpListen, TlsServer};
use postbox_wire::Token;

use crate::Transport;

/// The secret the embedded TCP daemon requires.
const TCP_TOKEN: &[u8] = b"conformance-token";

/// Runs the suite against a daemon through its Unix socket (`unix://`).
///
/// Each value starts its own daemon, embedded in this test process on a small tokio runtime,
/// listening on a unique socket in a fresh temporary directory; dropping the value shuts the
/// daemon down and removes the directory. Processes connect with
/// `postbox::connect("unix:///…")`, exactly as users do. The daemon takes each process's uid
/// from the socket, so [`Transport::process_as`] is `None` and the cases needing several uids
/// are skipped.
#[derive(Debug)]
pub struct UnixTransport {
    daemon: EmbeddedDaemon,
}

/// Runs the suite against a daemon through its Unix socket with every message payload attached:
/// each travels as a sealed memfd passed beside its frame (protocol.md §7.5), both ways, rather
/// than inline.
///
/// As [`UnixTransport`], but processes connect with `?shm_from=1` (they attach every payload
/// they send, of 1 byte or more) and the daemon attaches every payload it sends them
/// ([`DaemonConfig::attach_from`] of 1). An empty payload travels inline: an attachment is at
/// least 1 byte. The daemon serves metrics on a loopback port, so that a test can check
/// through [`ShmTransport::attached_payloads`] that payloads really did travel attached.
#[derive(Debug)]
pub struct ShmTransport {
    daemon: EmbeddedDaemon,
}

/// How many message payloads a daemon received and sent attached, from its metrics.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct AttachedPayloads {
    /// Payloads that arrived from clients attached (`postbox_attached_payloads_received_total`).
    pub received: u64,
    /// Payloads the daemon sent to clients attached (`postbox_attached_payloads_sent_total`).
    pub sent: u64,
}

/// Runs the suite against a daemon over TCP (`tcp://127.0.0.1:PORT`), with a token.
///
/// As [`UnixTransport`], but the daemon also listens on a free loopback port and processes
/// connect there with `postbox::connect_with_token`. TCP clients run as the daemon's user, so
/// [`Transport::process_as`] is `None` here too.
#[derive(Debug)]
pub struct TcpTransport {
    daemon: EmbeddedDaemon,
}

/// Runs the suite against a daemon over TLS (`tls://127.0.0.1:PORT?ca=…`), with a token.
///
/// As [`TcpTransport`], with a CA and a certificate for 127.0.0.1 made for each daemon in its
/// directory; processes trust that CA through the URL's `ca=`.
#[derive(Debug)]
pub struct TlsTransport {
    daemon: EmbeddedDaemon,
}

/// Which payloads an embedded daemon's Unix clients and the daemon itself attach.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Payloads {
    /// The defaults: 64 KiB and more.
    Default,
    /// Every payload of 1 byte or more, both ways; metrics served to count them.
    AllAttached,
}

/// Which listeners an embedded daemon has besides its Unix socket.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Network {
    /// None.
    None,
    /// TCP on a loopback port, with a token.
    Tcp,
    /// TLS on a loopback port, with a token.
    Tls,
}

/// A daemon running inside the test process, on a unique socket in a fresh temporary directory.
#[derive(Debug)]
pub(crate) struct EmbeddedDaemon {
    pub(crate) url: String,
    /// Where it listens for other nodes, when it does.
    pub(crate) node_addr: Option<std::net::SocketAddr>,
    /// Where it serves metrics, when it does.
    metrics_addr: Option<std::net::SocketAddr>,
    dir: PathBuf,
    pub(crate) limits: Limits,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl UnixTransport {
    /// Starts a daemon with the default configuration, except a queued-bytes quota of 64 MiB so
    /// that the quota case stays quick.
    ///
    /// # Panics
    ///
    /// When the daemon cannot start: the suite cannot run at all.
    pub fn start() -> UnixTransport {
        UnixTransport {
            daemon: EmbeddedDaemon::start(Network::None),
        }
    }
}

impl UnixTransport {
    /// The daemon's URL, for processes started outside this one (a fault test's children).
    pub fn url(&self) -> &str {
        &self.daemon.url
    }
}

impl ShmTransport {
    /// Starts a daemon as [`UnixTransport::start`] does, attaching every payload it sends to its
    /// clients, with metrics on a free loopback port.
    ///
    /// # Panics
    ///
    /// When the daemon cannot start: the suite cannot run at all.
    pub fn start() -> ShmTransport {
        ShmTransport {
            daemon: EmbeddedDaemon::start_with(Network::None, None, Payloads::AllAttached),
        }
    }

    /// The URL processes connect with (`unix:///…?shm_from=1`).
    pub fn url(&self) -> &str {
        &self.daemon.url
    }

    /// How many payloads the daemon has received and sent attached so far, read from its
    /// metrics endpoint.
    ///
    /// # Panics
    ///
    /// When the endpoint does not answer, or its answer lacks the two counters.
    pub fn attached_payloads(&self) -> AttachedPayloads {
        use std::io::{Read as _, Write as _};
        let address = self.daemon.metrics_addr.expect("the daemon serves metrics");
        let mut stream = std::net::TcpStream::connect(address).expect("reach the metrics endpoint");
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .expect("ask for the metrics");
        let mut text = String::new();
        stream.read_to_string(&mut text).expect("read the metrics");
        let counter = |name: &str| -> u64 {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
                .unwrap_or_else(|| panic!("the metrics have no {name}:\n{text}"))
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("{name} is not a count:\n{text}"))
        };
        AttachedPayloads {
            received: counter("postbox_attached_payloads_received_total"),
            sent: counter("postbox_attached_payloads_sent_total"),
        }
    }
}

impl TcpTransport {
    /// Starts a daemon as [`UnixTransport::start`] does, also listening on TCP with a token.
    ///
    /// # Panics
    ///
    /// When the daemon cannot start: the suite cannot run at all.
    pub fn start() -> TcpTransport {
        TcpTransport {
            daemon: EmbeddedDaemon::start(Network::Tcp),
        }
    }
}

impl TlsTransport {
    /// Starts a daemon as [`TcpTransport::start`] does, listening with TLS instead of plain TCP.
    ///
    /// # Panics
    ///
    /// When the certificates cannot be made or the daemon cannot start.
    pub fn start() -> TlsTransport {
        TlsTransport {
            daemon: EmbeddedDaemon::start(Network::Tls),
        }
    }
}

/// Writes a CA (`ca.pem`) and a certificate for 127.0.0.1 it signed (`server.pem`,
/// `server.key`) into `dir`.
fn make_certificates(dir: &std::path::Path) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca = CertificateParams::default();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).expect("a CA certificate");
    let key = KeyPair::generate().expect("a key");
    let params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("params");
    let cert = params
        .signed_by(&key, &Issuer::new(ca, ca_key))
        .expect("a certificate");
    let write = |name: &str, text: String| {
        std::fs::write(dir.join(name), text).expect("write a certificate file");
    };
    write("ca.pem", ca_cert.pem());
    write("server.pem", cert.pem());
    write("server.key", key.serialize_pem());
}

impl EmbeddedDaemon {
    fn start(network: Network) -> EmbeddedDaemon {
        EmbeddedDaemon::start_node(network, None)
    }

    /// As [`EmbeddedDaemon::start`], with node links when `node` is given.
    pub(crate) fn start_node(network: Network, node: Option<NodeConfig>) -> EmbeddedDaemon {
        EmbeddedDaemon::start_with(network, node, Payloads::Default)
    }

    /// As [`EmbeddedDaemon::start_node`], attaching `payloads`.
    fn start_with(
        network: Network,
        node: Option<NodeConfig>,
        payloads: Payloads,
    ) -> EmbeddedDaemon {
        static STARTED: AtomicU64 = AtomicU64::new(0);
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("postbox-conf-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut config = DaemonConfig::new().with_socket_path(dir.join("postbox.sock"));
        let token = Token::new(TCP_TOKEN).expect("a valid token");
        let loopback = "127.0.0.1:0".parse().expect("a socket address");
        match network {
            Network::None => {}
            Network::Tcp => config = config.with_tcp(TcpListen::new(loopback, token)),
            Network::Tls => {
                use std::os::unix::fs::DirBuilderExt as _;
                std::fs::DirBuilder::new()
                    .mode(0o700)
                    .create(&dir)
                    .expect("the daemon's directory");
                make_certificates(&dir);
                let tls = TlsServer::from_files(
                    &dir.join("server.pem"),
                    &dir.join("server.key"),
                    ClientCertificates::NotRequired,
                )
                .expect("the daemon's certificate loads");
                config = config.with_tcp(TcpListen::new(loopback, token).with_tls(tls));
            }
        }
        config.node = node;
        config.limits.max_queued_bytes = 64 << 20;
        if payloads == Payloads::AllAttached {
            config.attach_from = 1;
            config.metrics = Some(loopback);
        }
        let limits = config.limits;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the daemon");
        let daemon = runtime
            .block_on(async { Daemon::bind(config) })
            .expect("the daemon binds");
        let url = match (network, daemon.local_tcp_addr()) {
            (Network::Tcp, Some(address)) => format!("tcp://{address}"),
            (Network::Tls, Some(address)) => {
                format!("tls://{address}?ca={}", dir.join("ca.pem").display())
            }
            _ => match payloads {
                Payloads::Default => format!("unix://{}", daemon.socket_path().display()),
                Payloads::AllAttached => {
                    format!("unix://{}?shm_from=1", daemon.socket_path().display())
                }
            },
        };
        let node_addr = daemon.local_node_addr();
        let metrics_addr = daemon.local_metrics_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        runtime.spawn(daemon.serve(async {
            let _ = stopped.await;
        }));
        EmbeddedDaemon {
            url,
            node_addr,
            metrics_addr,
            dir,
            limits,
            stop: Some(stop),
            runtime: Some(runtime),
        }
    }
}

impl EmbeddedDaemon {
    /// Shuts the daemon down now (as on SIGTERM), waiting for it.
    pub(crate) fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(std::time::Duration::from_secs(5));
        }
    }
}

impl Drop for EmbeddedDaemon {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(std::time::Duration::from_secs(5));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Transport for UnixTransport {
    fn name(&self) -> &str {
        "unix"
    }

    fn process(&self) -> Process {
        postbox::connect(&self.daemon.url).expect("connect to the daemon")
    }

    fn process_as(&self, _creds: Credentials) -> Option<Process> {
        None
    }

    fn limits(&self) -> Limits {
        self.daemon.limits
    }
}

impl Transport for ShmTransport {
    fn name(&self) -> &str {
        "unix-shm"
    }

    fn process(&self) -> Process {
        postbox::connect(&self.daemon.url).expect("connect to the daemon")
    }

    fn process_as(&self, _creds: Credentials) -> Option<Process> {
        None
    }

    fn limits(&self) -> Limits {
        self.daemon.limits
    }
}

impl Transport for TcpTransport {
    fn name(&self) -> &str {
        "tcp"
    }

    fn process(&self) -> Process {
        postbox::connect_with_token(&self.daemon.url, TCP_TOKEN).expect("connect to the daemon")
    }

    fn process_as(&self, _creds: Credentials) -> Option<Process> {
        None
    }

    fn limits(&self) -> Limits {
        self.daemon.limits
    }
}

impl Transport for TlsTransport {
    fn name(&self) -> &str {
        "tls"
    }

    fn process(&self) -> Process {
        postbox::connect_with_token(&self.daemon.url, TCP_TOKEN).expect("connect to the daemon")
    }

    fn process_as(&self, _creds: Credentials) -> Option<Process> {
        None
    }

    fn limits(&self) -> Limits {
        self.daemon.limits
    }
}

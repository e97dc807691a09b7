//! The suite across two nodes: every process connects to node `a`, every mailbox lives on node
//! `b`.

use std::path::Path;
use std::time::{Duration, Instant};

use postbox::{Credentials, Limits, PeerState, Process};
use postbox_daemon::{NodeConfig, NodeTls, PeerAddress};
use postbox_wire::link::NodeName;

use crate::daemon::{EmbeddedDaemon, Network};
use crate::{Layout, Transport};

/// How long the two nodes have to link up.
const LINK_PATIENCE: Duration = Duration::from_secs(20);

/// Runs the suite through two daemons linked as nodes over mutual TLS: node `b` holds every
/// mailbox, node `a` every process.
///
/// Each value starts both daemons, embedded, with certificates made for the pair, and waits
/// until `a` reports `b` up. Processes connect to `a` with `unix://…?node=b`, so a plain
/// mailbox name means a mailbox on `b`: every mailbox operation crosses the link and runs under
/// `b`'s engine, as the processes' proxies there. Direct addressing between processes stays on
/// `a` (their pids are `a`'s). As [`UnixTransport`](crate::UnixTransport), the uid is the
/// socket's, so [`Transport::process_as`] is `None`.
#[derive(Debug)]
pub struct NodesTransport {
    // Dropped first: `a` says goodbye to `b` while `b` still runs.
    a: EmbeddedDaemon,
    b: EmbeddedDaemon,
    url: String,
}

impl NodesTransport {
    /// Starts nodes `b` and `a` and waits until they are linked.
    ///
    /// # Panics
    ///
    /// When a daemon cannot start or the nodes do not link within 20 s.
    pub fn start() -> NodesTransport {
        NodesTransport::start_with(None)
    }

    /// As [`NodesTransport::start`], node `b` giving node `a`'s processes the fixed identity
    /// `identity` when there is one (`--peer-identity a=UID:GID`).
    ///
    /// # Panics
    ///
    /// As [`NodesTransport::start`].
    pub fn start_with(identity: Option<Credentials>) -> NodesTransport {
        let certs = tempdir_for_certs();
        make_node_certificates(&certs, &["a", "b"]);
        let tls = |name: &str| {
            NodeTls::from_files(
                &certs.join(format!("{name}.pem")),
                &certs.join(format!("{name}.key")),
                &certs.join("ca.pem"),
            )
            .expect("the node certificates load")
        };
        let name = |n: &str| NodeName::new(n).expect("a node name");
        let mut b_config = NodeConfig::new(name("b"), tls("b"));
        b_config.listen = Some("127.0.0.1:0".parse().expect("an address"));
        b_config.peer_identities = identity
            .map(|creds| (name("a"), creds))
            .into_iter()
            .collect();
        let b = EmbeddedDaemon::start_node(Network::None, Some(b_config));
        let b_addr = b.node_addr.expect("b listens for nodes");
        let mut a_config = NodeConfig::new(name("a"), tls("a"));
        a_config.peers.push(PeerAddress {
            name: name("b"),
            address: b_addr.to_string(),
        });
        let a = EmbeddedDaemon::start_node(Network::None, Some(a_config));
        let _ = std::fs::remove_dir_all(&certs);
        let url = format!("{}?node=b", a.url);
        let transport = NodesTransport { a, b, url };
        transport.await_link();
        transport
    }

    /// The URL [`Transport::process`] connects with: node `a`, with `b` as the home node of
    /// plain mailbox names (for what connects by URL, as a `Producer` does).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A process connected to node `b` itself, as a program on b's machine would be.
    ///
    /// # Panics
    ///
    /// When node `b` cannot be reached.
    pub fn process_on_b(&self) -> Process {
        postbox::connect(&self.b.url).expect("connect to node b")
    }

    /// A process of node `a` without a home node: plain names are `a`'s own.
    ///
    /// # Panics
    ///
    /// When node `a` cannot be reached.
    pub fn plain_process_on_a(&self) -> Process {
        postbox::connect(&self.a.url).expect("connect to node a")
    }

    /// Stops node `b` (it says goodbye, so `a` sees it down at once), keeping `a` running.
    pub fn stop_b(&mut self) {
        self.b.stop();
    }

    /// Waits until node `a` reports `b` up.
    fn await_link(&self) {
        let observer = postbox::connect(&self.a.url).expect("connect to node a");
        let deadline = Instant::now() + LINK_PATIENCE;
        loop {
            let links = observer.node_links().expect("node links");
            if links
                .peers
                .iter()
                .any(|peer| peer.name == "b" && peer.state == PeerState::Up)
            {
                return;
            }
            assert!(Instant::now() < deadline, "nodes a and b did not link");
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// A fresh directory for one pair's certificates.
fn tempdir_for_certs() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static MADE: AtomicU64 = AtomicU64::new(0);
    let n = MADE.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("postbox-conf-certs-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a directory for certificates");
    dir
}

/// Writes a CA (`ca.pem`) and, for each name, a certificate and key for that node name
/// (`NAME.pem`, `NAME.key`) into `dir`, as `postbox certs` makes them.
fn make_node_certificates(dir: &Path, names: &[&str]) {
    use rcgen::{
        BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    };
    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca = CertificateParams::default();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).expect("a CA certificate");
    let write = |name: String, text: String| {
        std::fs::write(dir.join(name), text).expect("write a certificate file");
    };
    write("ca.pem".into(), ca_cert.pem());
    let issuer = Issuer::new(ca, ca_key);
    for name in names {
        let key = KeyPair::generate().expect("a key");
        let mut params = CertificateParams::new(vec![(*name).to_owned()]).expect("params");
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, &issuer).expect("a certificate");
        write(format!("{name}.pem"), cert.pem());
        write(format!("{name}.key"), key.serialize_pem());
    }
}

impl Transport for NodesTransport {
    fn name(&self) -> &str {
        "nodes"
    }

    fn process(&self) -> Process {
        postbox::connect(&self.url).expect("connect to node a")
    }

    fn process_as(&self, _creds: Credentials) -> Option<Process> {
        None
    }

    fn limits(&self) -> Limits {
        self.b.limits
    }

    fn layout(&self) -> Layout {
        Layout::Split {
            processes: "a",
            mailboxes: "b",
        }
    }
}

//! What node links are told: this node's name, where it listens, its peers, its timeout, its TLS.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use postbox_core::Credentials;
use postbox_wire::link::{InvalidNodeName, LinkConfig, NodeName};

use super::NodeTls;

/// The default node timeout: a peer silent this long is reported down.
pub const DEFAULT_NODE_TIMEOUT: Duration = Duration::from_secs(3);

/// The shortest node timeout: heartbeats go out every sixth of it, and below half a second they
/// would be mostly noise.
pub const MIN_NODE_TIMEOUT: Duration = Duration::from_millis(500);

/// The host name (`uname -n`), the default node name; `None` if it is not UTF-8.
pub fn host_name() -> Option<String> {
    rustix::system::uname()
        .nodename()
        .to_str()
        .ok()
        .map(str::to_owned)
}

/// How node links are configured.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// This node's name (`--node`; `postbox daemon` defaults to the host name).
    pub name: NodeName,
    /// Where to accept other nodes' connections (`--node-listen`); port 0 picks a free port.
    /// Default: none, and only the configured peers are linked with, by dialling them.
    pub listen: Option<SocketAddr>,
    /// The nodes to dial and keep linked with (`--peer NAME=HOST:PORT`).
    pub peers: Vec<PeerAddress>,
    /// How long a peer may be silent before it is reported down (`--node-timeout`). At least
    /// [`MIN_NODE_TIMEOUT`]; default [`DEFAULT_NODE_TIMEOUT`]. A connection is given up after
    /// half of it, and heartbeats go out every sixth.
    pub node_timeout: Duration,
    /// The certificates (mutual TLS: every node link is TLS).
    pub tls: NodeTls,
    /// Fixed identities for peers' processes (`--peer-identity NAME=UID:GID`): a process of that
    /// node acts here as this uid and gid, whatever its node verified. Others act with the
    /// credentials their own node verified, trusted because the node is.
    pub peer_identities: Vec<(NodeName, Credentials)>,
    /// The largest link frame. The daemon sets it to fit the largest request a client may send
    /// plus what a forwarded request adds, so every node of a cluster needs the same message
    /// size limit (their `Hello`s compare it).
    pub max_frame_len: u32,
}

impl NodeConfig {
    /// Node `name` with `tls`, no listener, no peers, the default timeout.
    pub fn new(name: NodeName, tls: NodeTls) -> NodeConfig {
        NodeConfig {
            name,
            listen: None,
            peers: Vec::new(),
            node_timeout: DEFAULT_NODE_TIMEOUT,
            tls,
            peer_identities: Vec::new(),
            max_frame_len: postbox_wire::DEFAULT_MAX_FRAME_LEN,
        }
    }

    /// The associations' settings: the timeouts derived from [`node_timeout`](Self::node_timeout);
    /// data frames without a checksum, as every link runs on mutual TLS, whose records are
    /// authenticated.
    pub(crate) fn link_config(&self) -> LinkConfig {
        LinkConfig {
            node_timeout: self.node_timeout,
            connection_timeout: self.node_timeout / 2,
            heartbeat_interval: self.node_timeout / 6,
            max_frame_len: self.max_frame_len,
            authenticated_transport: true,
            ..LinkConfig::new()
        }
    }

    /// Checks the settings together.
    ///
    /// # Errors
    ///
    /// A human reason: a node timeout below the minimum, a peer named as this node, two peers of
    /// one name.
    pub fn validate(&self) -> Result<(), String> {
        if self.node_timeout < MIN_NODE_TIMEOUT {
            return Err(format!(
                "the node timeout must be at least {MIN_NODE_TIMEOUT:?}, not {:?}",
                self.node_timeout
            ));
        }
        for (i, peer) in self.peers.iter().enumerate() {
            if peer.name == self.name {
                return Err(format!(
                    "peer {peer} has this node's own name; give each node its own --node name"
                ));
            }
            if self.peers[..i].iter().any(|other| other.name == peer.name) {
                return Err(format!("peer {} is given twice", peer.name));
            }
        }
        Ok(())
    }
}

/// A peer to dial: its node name and `HOST:PORT` (resolved at each attempt, so a changed DNS
/// record is followed).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PeerAddress {
    /// Its node name: its certificate must be for it.
    pub name: NodeName,
    /// Where it listens for nodes.
    pub address: String,
}

/// Why a `NAME=HOST:PORT` peer was refused.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum InvalidPeerAddress {
    /// There is no `=`, or nothing after it.
    #[error("a peer is NAME=HOST:PORT, e.g. b=10.0.0.2:7071; {0:?} is not")]
    Form(String),
    /// The name is not a node name.
    #[error("invalid peer name: {0}")]
    Name(#[from] InvalidNodeName),
    /// `HOST:PORT` has no port, or one that is not a number from 1 to 65535.
    #[error("the peer address {0:?} needs a port from 1 to 65535: HOST:PORT")]
    Port(String),
}

impl FromStr for PeerAddress {
    type Err = InvalidPeerAddress;

    fn from_str(text: &str) -> Result<PeerAddress, InvalidPeerAddress> {
        let Some((name, address)) = text.split_once('=') else {
            return Err(InvalidPeerAddress::Form(text.to_owned()));
        };
        if address.is_empty() {
            return Err(InvalidPeerAddress::Form(text.to_owned()));
        }
        let name = NodeName::new(name)?;
        let port = address
            .rsplit_once(':')
            .map(|(_, port)| port.parse::<u16>());
        if !matches!(port, Some(Ok(port)) if port != 0) {
            return Err(InvalidPeerAddress::Port(address.to_owned()));
        }
        Ok(PeerAddress {
            name,
            address: address.to_owned(),
        })
    }
}

impl fmt::Display for PeerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_is_a_name_and_a_host_with_a_port() {
        let peer: PeerAddress = "b=10.0.0.2:7071".parse().unwrap();
        assert_eq!(peer.name.as_str(), "b");
        assert_eq!(peer.address, "10.0.0.2:7071");
        assert_eq!(peer.to_string(), "b=10.0.0.2:7071");
        let ipv6: PeerAddress = "c=[::1]:7071".parse().unwrap();
        assert_eq!(ipv6.address, "[::1]:7071");
        assert!(matches!(
            "b".parse::<PeerAddress>(),
            Err(InvalidPeerAddress::Form(_))
        ));
        assert!(matches!(
            "b=".parse::<PeerAddress>(),
            Err(InvalidPeerAddress::Form(_))
        ));
        assert!(matches!(
            "b c=h:1".parse::<PeerAddress>(),
            Err(InvalidPeerAddress::Name(_))
        ));
        for bad in ["b=host", "b=host:0", "b=host:x", "b=host:70000"] {
            assert!(
                matches!(bad.parse::<PeerAddress>(), Err(InvalidPeerAddress::Port(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_link_timeouts_follow_the_node_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let tls = crate::node::node_tls::test_certs::node_tls(dir.path(), "a");
        let mut config = NodeConfig::new(NodeName::new("a").unwrap(), tls);
        config.node_timeout = Duration::from_secs(6);
        let link = config.link_config();
        assert_eq!(link.node_timeout, Duration::from_secs(6));
        assert_eq!(link.connection_timeout, Duration::from_secs(3));
        assert_eq!(link.heartbeat_interval, Duration::from_secs(1));
        assert!(link.authenticated_transport, "node links are TLS");
        assert!(config.validate().is_ok());

        config.node_timeout = Duration::from_millis(100);
        assert!(config.validate().unwrap_err().contains("at least"));
        config.node_timeout = DEFAULT_NODE_TIMEOUT;
        config.peers = vec!["a=h:1".parse().unwrap()];
        assert!(config.validate().unwrap_err().contains("own name"));
        config.peers = vec!["b=h:1".parse().unwrap(), "b=h:2".parse().unwrap()];
        assert!(config.validate().unwrap_err().contains("twice"));
    }
}

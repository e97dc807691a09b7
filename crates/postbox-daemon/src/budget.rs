//! Admission: whether a new connection may start its handshake, and whether it may then become a
//! process — budgets that a crowd that never authenticates cannot exhaust for everyone else.
//!
//! - **Handshakes.** A connection holds a handshake place from `accept` until its `Hello` is
//!   answered (at most the handshake timeout). Each listener has its own places
//!   ([`DaemonConfig::max_handshakes`](crate::DaemonConfig::max_handshakes)), so TCP strangers
//!   never take a Unix client's.
//! - **Processes.** Only a connection whose `Hello` was accepted (the token checked, on TCP)
//!   takes a process place ([`DaemonConfig::max_connections`](crate::DaemonConfig)), for the rest
//!   of its life; a crowd that never gets past the handshake never holds one.
//! - **Per peer.** One peer — a uid on the Unix socket, a source address on TCP — holds at most
//!   so many handshake places and so many connections in all, so that one peer cannot fill a
//!   budget by itself.
//!
//! A connection refused at `accept` is told why in one `Error LIMIT_EXCEEDED` frame written
//! without waiting, and closed: a refusal costs the daemon no task and no buffer. A `Hello`
//! refused for want of a process place is answered in the handshake.
//!
//! Places are held by a [`Permit`], given back when it is dropped.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// Which listener a connection came in on: each has its own handshake places.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Listener {
    /// The Unix socket.
    Unix,
    /// The TCP listener.
    Tcp,
}

/// Who the per-peer limits count a connection against.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum PeerKey {
    /// A local user, by the uid the kernel reports.
    Uid(u32),
    /// A remote address; an IPv6 address stands for its /64 network, which one holder has whole.
    Address(IpAddr),
}

impl PeerKey {
    /// The key of a TCP peer at `address`.
    pub(crate) fn address(address: IpAddr) -> PeerKey {
        match address.to_canonical() {
            IpAddr::V6(v6) => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                PeerKey::Address(IpAddr::V6(network.into()))
            }
            v4 => PeerKey::Address(v4),
        }
    }
}

impl fmt::Display for PeerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerKey::Uid(uid) => write!(f, "uid {uid}"),
            PeerKey::Address(IpAddr::V6(network)) => write!(f, "{network}/64"),
            PeerKey::Address(address) => write!(f, "{address}"),
        }
    }
}

/// The limits a [`Budget`] enforces.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BudgetLimits {
    /// Processes (connections past their handshake), all listeners together.
    pub(crate) processes: usize,
    /// Connections in their handshake, per listener.
    pub(crate) handshakes: usize,
    /// Connections from one peer, handshakes included.
    pub(crate) per_peer: usize,
    /// Connections in their handshake from one peer.
    pub(crate) handshakes_per_peer: usize,
}

/// Why a connection was refused; its `Display` is what the client is told.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Refusal {
    /// The listener's handshake places are all taken.
    Handshakes { limit: usize },
    /// This peer holds all the handshake places it may.
    PeerHandshakes { peer: PeerKey, limit: usize },
    /// This peer holds all the connections it may.
    PeerConnections { peer: PeerKey, limit: usize },
    /// Every process place is taken.
    Processes { limit: usize },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Handshakes { limit } => write!(
                f,
                "too many connections are opening at once ({limit}, the limit); try again shortly"
            ),
            Refusal::PeerHandshakes { peer, limit } => write!(
                f,
                "too many connections from {peer} are opening at once ({limit}, the limit); \
                 finish their handshakes first"
            ),
            Refusal::PeerConnections { peer, limit } => write!(
                f,
                "too many connections from {peer} ({limit}, the limit); close some, or raise \
                 the daemon's --max-connections-per-peer"
            ),
            Refusal::Processes { limit } => write!(
                f,
                "too many connections ({limit}, the daemon's limit); try again later, or raise \
                 the daemon's --max-connections"
            ),
        }
    }
}

#[derive(Clone, Copy, Default, Debug)]
struct PeerCount {
    handshakes: usize,
    connections: usize,
}

#[derive(Debug, Default)]
struct Counts {
    unix_handshakes: usize,
    tcp_handshakes: usize,
    processes: usize,
    /// Only peers with a connection: an entry goes with its peer's last connection.
    peers: HashMap<PeerKey, PeerCount>,
}

impl Counts {
    fn handshakes(&mut self, listener: Listener) -> &mut usize {
        match listener {
            Listener::Unix => &mut self.unix_handshakes,
            Listener::Tcp => &mut self.tcp_handshakes,
        }
    }
}

/// The daemon's admission budgets. See the module docs.
#[derive(Debug)]
pub(crate) struct Budget {
    limits: BudgetLimits,
    counts: Mutex<Counts>,
}

/// Where a [`Permit`] stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stage {
    Handshake,
    Process,
}

/// The places one connection holds; given back when dropped.
#[derive(Debug)]
pub(crate) struct Permit {
    budget: Arc<Budget>,
    listener: Listener,
    /// `None` for a peer the per-peer limits do not hold.
    peer: Option<PeerKey>,
    stage: Stage,
}

impl Budget {
    /// Budgets with `limits`, all places free.
    pub(crate) fn new(limits: BudgetLimits) -> Arc<Budget> {
        Arc::new(Budget {
            limits,
            counts: Mutex::new(Counts::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        // Counting never panics mid-update; a poisoned lock still holds consistent counts.
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A handshake place for a new connection on `listener` from `peer` (`None`: a peer the
    /// per-peer limits do not hold).
    ///
    /// # Errors
    ///
    /// The [`Refusal`] to tell the client, when a budget is spent.
    pub(crate) fn admit(
        self: &Arc<Self>,
        listener: Listener,
        peer: Option<PeerKey>,
    ) -> Result<Permit, Refusal> {
        let limits = self.limits;
        let mut counts = self.lock();
        if *counts.handshakes(listener) >= limits.handshakes {
            return Err(Refusal::Handshakes {
                limit: limits.handshakes,
            });
        }
        if let Some(peer) = peer {
            let count = counts.peers.get(&peer).copied().unwrap_or_default();
            if count.connections >= limits.per_peer {
                return Err(Refusal::PeerConnections {
                    peer,
                    limit: limits.per_peer,
                });
            }
            if count.handshakes >= limits.handshakes_per_peer {
                return Err(Refusal::PeerHandshakes {
                    peer,
                    limit: limits.handshakes_per_peer,
                });
            }
            let count = counts.peers.entry(peer).or_default();
            count.handshakes += 1;
            count.connections += 1;
        }
        *counts.handshakes(listener) += 1;
        Ok(Permit {
            budget: self.clone(),
            listener,
            peer,
            stage: Stage::Handshake,
        })
    }
}

impl Budget {
    /// Connections holding a place now: in their handshake, or processes.
    pub(crate) fn open_connections(&self) -> usize {
        let counts = self.lock();
        counts.unix_handshakes + counts.tcp_handshakes + counts.processes
    }
}

impl Permit {
    /// Trades the handshake place for a process place: the `Hello` was accepted.
    ///
    /// # Errors
    ///
    /// [`Refusal::Processes`] when every process place is taken; the permit keeps its handshake
    /// place until dropped.
    pub(crate) fn promote(&mut self) -> Result<(), Refusal> {
        if self.stage == Stage::Process {
            return Ok(());
        }
        let limits = self.budget.limits;
        let mut counts = self.budget.lock();
        if counts.processes >= limits.processes {
            return Err(Refusal::Processes {
                limit: limits.processes,
            });
        }
        counts.processes += 1;
        *counts.handshakes(self.listener) -= 1;
        if let Some(peer) = self.peer {
            if let Some(count) = counts.peers.get_mut(&peer) {
                count.handshakes -= 1;
            }
        }
        self.stage = Stage::Process;
        Ok(())
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = self.budget.lock();
        match self.stage {
            Stage::Handshake => *counts.handshakes(self.listener) -= 1,
            Stage::Process => counts.processes -= 1,
        }
        let Some(peer) = self.peer else {
            return;
        };
        let Some(count) = counts.peers.get_mut(&peer) else {
            return;
        };
        if self.stage == Stage::Handshake {
            count.handshakes -= 1;
        }
        count.connections -= 1;
        if count.connections == 0 {
            counts.peers.remove(&peer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget() -> Arc<Budget> {
        Budget::new(BudgetLimits {
            processes: 3,
            handshakes: 4,
            per_peer: 2,
            handshakes_per_peer: 1,
        })
    }

    const ALICE: Option<PeerKey> = Some(PeerKey::Uid(1000));
    const BOB: Option<PeerKey> = Some(PeerKey::Uid(1001));

    #[test]
    fn a_peer_holds_its_own_share_and_no_more() {
        let budget = budget();
        let mut first = budget.admit(Listener::Unix, ALICE).unwrap();
        assert_eq!(
            budget.admit(Listener::Unix, ALICE).unwrap_err(),
            Refusal::PeerHandshakes {
                peer: PeerKey::Uid(1000),
                limit: 1
            }
        );
        first.promote().unwrap();
        let _second = budget.admit(Listener::Unix, ALICE).unwrap();
        let refusal = budget.admit(Listener::Unix, ALICE).unwrap_err();
        assert_eq!(
            refusal.to_string().split(" (").next(),
            Some("too many connections from uid 1000")
        );
        // Another peer is not affected.
        let _bob = budget.admit(Listener::Unix, BOB).unwrap();
    }

    #[test]
    fn handshake_places_are_per_listener_and_processes_shared() {
        let budget = budget();
        let tcp: Vec<Permit> = (0..4)
            .map(|_| budget.admit(Listener::Tcp, None).unwrap())
            .collect();
        assert_eq!(
            budget.admit(Listener::Tcp, None).unwrap_err(),
            Refusal::Handshakes { limit: 4 }
        );
        // TCP strangers holding every TCP handshake place leave the Unix socket's alone.
        let mut local: Vec<Permit> = (0..4)
            .map(|_| budget.admit(Listener::Unix, None).unwrap())
            .collect();
        for permit in &mut local[..3] {
            permit.promote().unwrap();
        }
        assert_eq!(
            local[3].promote().unwrap_err(),
            Refusal::Processes { limit: 3 }
        );
        drop(local.remove(0));
        local[2].promote().unwrap();
        drop(tcp);
        drop(local);
        let counts = budget.lock();
        assert_eq!(
            (
                counts.unix_handshakes,
                counts.tcp_handshakes,
                counts.processes
            ),
            (0, 0, 0)
        );
    }

    #[test]
    fn a_peer_whose_connections_all_closed_is_forgotten() {
        let budget = budget();
        let mut permit = budget.admit(Listener::Tcp, Some(PeerKey::Uid(7))).unwrap();
        permit.promote().unwrap();
        assert_eq!(budget.lock().peers.len(), 1);
        drop(permit);
        assert!(budget.lock().peers.is_empty());
    }

    #[test]
    fn an_ipv6_peer_is_its_slash_64_network() {
        let a = PeerKey::address("2001:db8::1".parse().unwrap());
        let b = PeerKey::address("2001:db8::ffff:1".parse().unwrap());
        let other = PeerKey::address("2001:db8:0:1::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert_eq!(a.to_string(), "2001:db8::/64");
        let mapped = PeerKey::address("::ffff:10.0.0.1".parse().unwrap());
        assert_eq!(mapped.to_string(), "10.0.0.1");
    }
}

//! What a connection may do beyond the protocol version: optional features, offered by the client
//! in its `Hello` and granted by the server in its `Welcome`.

/// A set of optional features, one bit each (protocol.md §3.1). The client offers what its
/// transport can carry; the server grants the part it also supports; a bit the client did not
/// offer is never in force. Unknown bits are ignored, so later features can be added without a
/// new version.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Capabilities(u32);

impl Capabilities {
    /// No optional feature: what an old peer, or a TCP or TLS connection, has.
    pub const NONE: Capabilities = Capabilities(0);
    /// Bit 0: message payloads may travel as attached descriptors (`SCM_RIGHTS` on a Unix
    /// socket) instead of inline (protocol.md §7.5). Only a Unix socket can carry them.
    pub const ATTACHMENTS: Capabilities = Capabilities(1);
    /// Bit 1: the server carries out `ProducerSend` (protocol.md §7.3): idempotent sends. A
    /// server that predates them would refuse the request as a malformed payload; the client
    /// asks for it instead, and a library refuses to make a producer without it.
    pub const IDEMPOTENT_SENDS: Capabilities = Capabilities(2);
    /// Bit 2: the server lends plain mailboxes to shared-memory rings (`LendRing`, docs/shm.md)
    /// whose descriptors travel beside answers. Only a Unix socket with
    /// [`ATTACHMENTS`](Self::ATTACHMENTS) can carry them.
    pub const RINGS: Capabilities = Capabilities(4);

    /// The set with exactly these bits.
    pub const fn from_bits(bits: u32) -> Capabilities {
        Capabilities(bits)
    }

    /// The bits, as they travel.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every feature of `other` is in this set.
    pub const fn contains(self, other: Capabilities) -> bool {
        self.0 & other.0 == other.0
    }

    /// The features in both sets: what is in force after a handshake.
    pub const fn intersection(self, other: Capabilities) -> Capabilities {
        Capabilities(self.0 & other.0)
    }

    /// The features in either set.
    pub const fn union(self, other: Capabilities) -> Capabilities {
        Capabilities(self.0 | other.0)
    }
}

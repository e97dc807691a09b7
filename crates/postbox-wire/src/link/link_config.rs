//! The settings of an association.

use std::time::{Duration, Instant};

use crate::{DEFAULT_MAX_FRAME_LEN, HANDSHAKE_MAX_FRAME_LEN};

/// How an [`Association`](super::Association) paces itself and how much it may hold.
///
/// Both nodes of a link must use the same `max_frame_len` (their `Hello`s compare it); the
/// other settings are each side's own.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LinkConfig {
    /// How often a `Ping` goes out on a connection that has sent nothing else for that long
    /// (and, to keep the round-trip time fresh, at least every four intervals). Default 500 ms.
    pub heartbeat_interval: Duration,
    /// How long the peer may stay silent (no valid frame on any connection) before the
    /// association reports it [`Down`](super::LinkEvent::Down). Default 3 s.
    pub node_timeout: Duration,
    /// How long one connection may stay silent (its handshake included) before the association
    /// asks for it to be reset, so that a half-open connection is replaced well before the node
    /// timeout. Default 1.5 s (three heartbeats).
    pub connection_timeout: Duration,
    /// How long a delivered message may wait for its acknowledgement to ride on a data frame
    /// before a standalone `Ack` goes out. Default 10 ms.
    pub ack_delay: Duration,
    /// After this many delivered messages without an acknowledgement sent, an `Ack` goes out at
    /// once. Default 32.
    pub ack_every: u32,
    /// The most messages sent and not yet acknowledged; past it [`send`](super::Association::send)
    /// refuses with `Full`. Default 4096.
    pub max_unacked_messages: usize,
    /// The most bytes of messages sent and not yet acknowledged; past it `send` refuses with
    /// `Full`. Default 16 MiB.
    pub max_unacked_bytes: usize,
    /// The largest frame payload either side accepts (a message may be 8 bytes less). At least
    /// 4096. Default 1 MiB.
    pub max_frame_len: u32,
    /// The connections under the association authenticate every byte they carry (TLS, whose
    /// records are authenticated): data frames then travel without the CRC32C, which would only
    /// check again what the transport has checked, when the peer says the same of its side.
    /// Default false: every frame is checksummed.
    pub authenticated_transport: bool,
}

impl LinkConfig {
    /// The defaults.
    pub const fn new() -> LinkConfig {
        LinkConfig {
            heartbeat_interval: Duration::from_millis(500),
            node_timeout: Duration::from_secs(3),
            connection_timeout: Duration::from_millis(1500),
            ack_delay: Duration::from_millis(10),
            ack_every: 32,
            max_unacked_messages: 4096,
            max_unacked_bytes: 16 << 20,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            authenticated_transport: false,
        }
    }

    /// The frame limit actually used: `max_frame_len`, raised to 4096 if set lower, so that a
    /// `Hello` always fits.
    pub(crate) fn frame_limit(&self) -> u32 {
        self.max_frame_len.max(HANDSHAKE_MAX_FRAME_LEN)
    }
}

impl Default for LinkConfig {
    fn default() -> LinkConfig {
        LinkConfig::new()
    }
}

/// The longest wait a configured duration can cause (a century), so that no setting, however
/// large, overflows an `Instant`.
const MAX_WAIT: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// `at + after`, with `after` capped at a century: a huge setting means "never", not a panic.
pub(crate) fn later(at: Instant, after: Duration) -> Instant {
    at.checked_add(after.min(MAX_WAIT)).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_duration_means_a_century_rather_than_an_overflow() {
        let now = Instant::now();
        assert_eq!(
            later(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
        assert_eq!(later(now, Duration::MAX), now + MAX_WAIT);
    }

    #[test]
    fn a_frame_limit_below_the_minimum_is_raised_so_a_hello_fits() {
        let config = LinkConfig {
            max_frame_len: 10,
            ..LinkConfig::new()
        };
        assert_eq!(config.frame_limit(), HANDSHAKE_MAX_FRAME_LEN);
        assert_eq!(LinkConfig::new().frame_limit(), DEFAULT_MAX_FRAME_LEN);
    }
}

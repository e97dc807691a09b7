//! Noticing a TCP peer that vanished without a word — a machine that lost power, a pulled cable:
//! no FIN, no RST — so that its process is terminated and its waiters and mailboxes released in a
//! bounded time, [`DaemonConfig::tcp_dead_peer_timeout`](crate::DaemonConfig) (30 s by default).
//!
//! Two kernel mechanisms, set on every accepted TCP connection, cover both states it can be in:
//!
//! - **idle** (nothing unacknowledged): TCP keepalive probes, the first after a third of the
//!   timeout without traffic, then four more spread over the rest;
//! - **sending** (answers unacknowledged): `TCP_USER_TIMEOUT`, the longest data may stay
//!   unacknowledged — on Linux it also caps the keepalive probing above at the same timeout.
//!
//! Either way the connection's next read or write fails, which ends it like any lost connection.
//! A Unix peer cannot vanish this way: the kernel closes its end when it dies.

use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};

/// Keepalive probes sent after the idle time before the peer counts as gone.
const PROBES: u32 = 4;

/// Sets `stream` up to fail within `timeout` once its peer has vanished.
///
/// # Errors
///
/// When the system refuses a socket option.
pub(crate) fn watch_for_vanishing(
    stream: &tokio::net::TcpStream,
    timeout: Duration,
) -> std::io::Result<()> {
    let socket = SockRef::from(stream);
    let second = Duration::from_secs(1);
    // Keepalive counts in whole seconds: at least one for each step.
    let idle = (timeout / 3).max(second);
    let interval = (timeout.saturating_sub(idle) / (PROBES + 1)).max(second);
    let keepalive = TcpKeepalive::new()
        .with_time(idle)
        .with_interval(interval)
        .with_retries(PROBES);
    socket.set_tcp_keepalive(&keepalive)?;
    socket.set_tcp_user_timeout(Some(timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_accepted_connection_probes_its_peer_and_gives_up_within_the_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(address).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        watch_for_vanishing(&accepted, Duration::from_secs(30)).unwrap();

        let socket = SockRef::from(&accepted);
        assert!(socket.keepalive().unwrap());
        let idle = socket.tcp_keepalive_time().unwrap();
        let interval = socket.tcp_keepalive_interval().unwrap();
        let probes = socket.tcp_keepalive_retries().unwrap();
        assert_eq!(
            (idle, interval, probes),
            (Duration::from_secs(10), Duration::from_secs(4), 4)
        );
        assert!(idle + interval * probes <= Duration::from_secs(30));
        assert_eq!(
            socket.tcp_user_timeout().unwrap(),
            Some(Duration::from_secs(30))
        );
    }
}

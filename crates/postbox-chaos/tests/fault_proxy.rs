//! The fault proxy over plain TCP, one fault at a time: what each does to the bytes and the
//! connections on both sides, and that its counters say so.

use std::io::ErrorKind;
use std::time::Duration;

use postbox_chaos::{Cut, Direction, Fault, FaultMix, FaultProxy, Schedule, Seed};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, timeout};

/// How long anything may take before a test gives up.
const PATIENCE: Duration = Duration::from_secs(10);

/// An upstream listener, a proxy in front of it, and one connection through it: the client's
/// end and the upstream's end.
async fn through_proxy() -> (FaultProxy, TcpListener, TcpStream, TcpStream) {
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = FaultProxy::start(upstream.local_addr().unwrap()).unwrap();
    let client = TcpStream::connect(proxy.address()).await.unwrap();
    let (server, _) = timeout(PATIENCE, upstream.accept()).await.unwrap().unwrap();
    (proxy, upstream, client, server)
}

/// Reads exactly `n` bytes within [`PATIENCE`].
async fn read_n(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut bytes = vec![0; n];
    timeout(PATIENCE, stream.read_exact(&mut bytes))
        .await
        .expect("the bytes did not arrive in time")
        .unwrap();
    bytes
}

/// Polls the proxy until `check` holds for its counts, within [`PATIENCE`].
async fn until(
    proxy: &FaultProxy,
    what: &str,
    check: impl Fn(&postbox_chaos::FaultCounts) -> bool,
) {
    let deadline = Instant::now() + PATIENCE;
    while !check(&proxy.counts()) {
        assert!(
            Instant::now() < deadline,
            "never {what}: {}",
            proxy.counts()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// What the next read gives: bytes, end of stream, or an error kind.
async fn next_read(stream: &mut TcpStream) -> Result<usize, ErrorKind> {
    let mut buffer = [0; 64];
    timeout(PATIENCE, stream.read(&mut buffer))
        .await
        .expect("the read did not finish in time")
        .map_err(|e| e.kind())
}

#[tokio::test]
async fn smoke_bytes_pass_both_ways_unchanged_and_are_counted() {
    let (proxy, _upstream, mut client, mut server) = through_proxy().await;
    client.write_all(b"hello upstream").await.unwrap();
    assert_eq!(read_n(&mut server, 14).await, b"hello upstream");
    server.write_all(b"hi back").await.unwrap();
    assert_eq!(read_n(&mut client, 7).await, b"hi back");
    let counts = proxy.counts();
    assert_eq!(counts.connections, 1);
    assert_eq!((counts.bytes_upstream, counts.bytes_downstream), (14, 7));
    assert_eq!(counts.cuts() + counts.damaged(), 0);
    assert_eq!(proxy.live_connections(), 1);
}

#[tokio::test]
async fn a_cut_with_reset_resets_both_sides() {
    let (proxy, _upstream, mut client, mut server) = through_proxy().await;
    proxy.inject(Fault::Cut(Cut::Reset));
    assert_eq!(
        next_read(&mut client).await,
        Err(ErrorKind::ConnectionReset)
    );
    assert_eq!(
        next_read(&mut server).await,
        Err(ErrorKind::ConnectionReset)
    );
    assert_eq!(proxy.counts().resets, 1);
    until(&proxy, "forgotten", |_| proxy.live_connections() == 0).await;
}

#[tokio::test]
async fn a_cut_with_close_ends_both_streams() {
    let (proxy, _upstream, mut client, mut server) = through_proxy().await;
    proxy.inject(Fault::Cut(Cut::Close));
    assert_eq!(next_read(&mut client).await, Ok(0));
    assert_eq!(next_read(&mut server).await, Ok(0));
    assert_eq!(proxy.counts().closes, 1);
    // A second cut finds nothing open and counts nothing.
    until(&proxy, "forgotten", |_| proxy.live_connections() == 0).await;
    proxy.inject(Fault::Cut(Cut::Reset));
    assert_eq!(proxy.counts().cuts(), 1);
}

#[tokio::test]
async fn a_side_that_resets_gets_the_other_side_reset() {
    let (proxy, _upstream, client, mut server) = through_proxy().await;
    client.set_zero_linger().unwrap();
    drop(client);
    assert_eq!(
        next_read(&mut server).await,
        Err(ErrorKind::ConnectionReset)
    );
    assert_eq!(proxy.counts().cuts(), 0, "not the proxy's doing");
}

#[tokio::test]
async fn a_flip_changes_exactly_one_bit_of_the_next_chunk_its_way() {
    let (proxy, _upstream, mut client, mut server) = through_proxy().await;
    proxy.inject(Fault::Flip {
        direction: Direction::Upstream,
        offset: 1_000_003,
        mask: 0x10,
    });
    let sent = vec![0x55u8; 100];
    client.write_all(&sent).await.unwrap();
    let got = read_n(&mut server, 100).await;
    let differing: Vec<usize> = (0..100).filter(|&i| got[i] != sent[i]).collect();
    assert_eq!(differing, vec![1_000_003 % 100]);
    assert_eq!(got[3] ^ sent[3], 0x10);
    // Only the next chunk: the one after passes untouched, and the other way was never armed.
    client.write_all(&sent).await.unwrap();
    assert_eq!(read_n(&mut server, 100).await, sent);
    server.write_all(&sent).await.unwrap();
    assert_eq!(read_n(&mut client, 100).await, sent);
    assert_eq!(proxy.counts().flips, 1);
}

#[tokio::test]
async fn a_drop_loses_the_next_chunk_and_nothing_else() {
    let (proxy, _upstream, mut client, mut server) = through_proxy().await;
    client.write_all(b"first").await.unwrap();
    assert_eq!(read_n(&mut server, 5).await, b"first");
    proxy.inject(Fault::Drop(Direction::Upstream));
    client.write_all(b"second").await.unwrap();
    until(&proxy, "dropped a chunk", |c| c.drops == 1).await;
    client.write_all(b"third").await.unwrap();
    assert_eq!(read_n(&mut server, 5).await, b"third");
    assert_eq!(proxy.counts().bytes_upstream, 10);
}

#[tokio::test]
async fn a_duplicate_sends_the_next_chunk_twice() {
    let (proxy, _upstream, mut client, mut server) = through_proxy().await;
    proxy.inject(Fault::Duplicate(Direction::Downstream));
    server.write_all(b"twice").await.unwrap();
    assert_eq!(read_n(&mut client, 10).await, b"twicetwice");
    server.write_all(b"once").await.unwrap();
    assert_eq!(read_n(&mut client, 4).await, b"once");
    assert_eq!(proxy.counts().duplicates, 1);
}

#[tokio::test]
async fn a_stall_holds_every_chunk_until_it_ends() {
    let (proxy, _upstream, mut client, mut server) = through_proxy().await;
    let started = Instant::now();
    proxy.inject(Fault::Stall(Duration::from_millis(300)));
    client.write_all(b"up").await.unwrap();
    server.write_all(b"down").await.unwrap();
    assert_eq!(read_n(&mut server, 2).await, b"up");
    assert_eq!(read_n(&mut client, 4).await, b"down");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(300), "held only {waited:?}");
    assert_eq!(proxy.counts().stalls, 1);
}

#[tokio::test]
async fn a_delay_holds_the_next_chunk_its_way() {
    let (proxy, _upstream, mut client, mut server) = through_proxy().await;
    proxy.inject(Fault::Delay(
        Direction::Upstream,
        Duration::from_millis(200),
    ));
    let started = Instant::now();
    client.write_all(b"late").await.unwrap();
    assert_eq!(read_n(&mut server, 4).await, b"late");
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(proxy.counts().delays, 1);
}

#[tokio::test]
async fn a_partition_holds_new_connections_until_it_ends() {
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = FaultProxy::start(upstream.local_addr().unwrap()).unwrap();
    let started = Instant::now();
    proxy.inject(Fault::Partition(Duration::from_millis(300)));
    let mut client = TcpStream::connect(proxy.address()).await.unwrap();
    let (mut server, _) = timeout(PATIENCE, upstream.accept()).await.unwrap().unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "dialled upstream during the partition"
    );
    client.write_all(b"after").await.unwrap();
    assert_eq!(read_n(&mut server, 5).await, b"after");
    assert_eq!(proxy.counts().partitions, 1);
}

#[tokio::test]
async fn an_upstream_that_refuses_gets_the_client_reset_and_is_counted() {
    // A port that was free a moment ago: nothing listens there.
    let gone = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = gone.local_addr().unwrap();
    drop(gone);
    let proxy = FaultProxy::start(address).unwrap();
    let mut client = TcpStream::connect(proxy.address()).await.unwrap();
    assert!(matches!(
        next_read(&mut client).await,
        Ok(0) | Err(ErrorKind::ConnectionReset)
    ));
    until(&proxy, "counted the failed dial", |c| {
        c.upstream_failures == 1
    })
    .await;
}

#[tokio::test]
async fn a_schedule_plays_each_step_and_cuts_every_connection_it_finds() {
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = FaultProxy::start(upstream.local_addr().unwrap()).unwrap();
    let mut client = TcpStream::connect(proxy.address()).await.unwrap();
    let (_server, _) = timeout(PATIENCE, upstream.accept()).await.unwrap().unwrap();
    let schedule = Schedule::new(Seed(99), FaultMix::cuts_only()).take(3);
    let played = timeout(PATIENCE, proxy.play(schedule))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(played, 3);
    // Three cuts, one connection: it was cut once.
    assert_eq!(proxy.counts().cuts(), 1);
    assert!(matches!(
        next_read(&mut client).await,
        Ok(0) | Err(ErrorKind::ConnectionReset)
    ));
}

#[tokio::test]
async fn stop_ends_a_schedule_playing() {
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = FaultProxy::start(upstream.local_addr().unwrap()).unwrap();
    let player = proxy.play(Schedule::new(Seed(1), FaultMix::default()));
    proxy.stop();
    let ended = timeout(PATIENCE, player).await.unwrap();
    assert!(ended.unwrap_err().is_cancelled());
}

#[tokio::test]
async fn a_chunk_fault_with_no_connection_open_is_not_kept_for_the_next_one() {
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = FaultProxy::start(upstream.local_addr().unwrap()).unwrap();
    proxy.inject(Fault::Drop(Direction::Upstream));
    proxy.inject(Fault::Flip {
        direction: Direction::Upstream,
        offset: 0,
        mask: 1,
    });
    let mut client = TcpStream::connect(proxy.address()).await.unwrap();
    let (mut server, _) = timeout(PATIENCE, upstream.accept()).await.unwrap().unwrap();
    client.write_all(b"clean").await.unwrap();
    assert_eq!(read_n(&mut server, 5).await, b"clean");
    assert_eq!(proxy.counts().damaged(), 0);
}

#[tokio::test]
async fn a_newer_chunk_fault_replaces_one_still_waiting() {
    let (proxy, _upstream, mut client, mut server) = through_proxy().await;
    proxy.inject(Fault::Drop(Direction::Upstream));
    proxy.inject(Fault::Duplicate(Direction::Upstream));
    client.write_all(b"kept").await.unwrap();
    assert_eq!(read_n(&mut server, 8).await, b"keptkept");
    let counts = proxy.counts();
    assert_eq!((counts.drops, counts.duplicates), (0, 1));
}

//! One transport connection under an association: a TLS stream the peer's task reads and writes
//! itself, when the socket is ready, rather than through reader and writer tasks (each of which
//! cost a task hand-over per batch of messages, the largest cost of the link on a busy CPU).

use std::collections::VecDeque;
use std::future::Future as _;
use std::io::IoSlice;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf as _, Bytes, BytesMut};
use postbox_wire::link::ConnectionId;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// How long a closed connection's last bytes (a `Goodbye`, an `Error`) may take to be written.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// How many queued chunks one write hands over at most (a frame is one or two: its header, and
/// a large message shared rather than copied).
const WRITE_SLICES: usize = 64;

/// How much one read takes at most.
const READ_CHUNK: usize = 64 << 10;

/// Below this much room the read buffer is given [`READ_CHUNK`] more, so that a read is never
/// a sliver.
const MIN_READ_ROOM: usize = 4 << 10;

/// How much one read from the TCP socket under TLS takes at most.
const SOCKET_READ: usize = 64 << 10;

/// A node connection's TCP stream as TLS runs over it: reads buffered, so that one system call
/// takes up to [`SOCKET_READ`] bytes where TLS would ask the socket for 4 KiB at a time (one
/// `recvfrom` per 4 KiB message, and two for a bigger one); writes go straight through.
pub(crate) type NodeTcp = BufReader<TcpStream>;

/// `tcp`, read through a buffer (see [`NodeTcp`]).
pub(crate) fn buffered(tcp: TcpStream) -> NodeTcp {
    BufReader::with_capacity(SOCKET_READ, tcp)
}

/// A node connection's stream, whichever side dialled: TLS over TCP.
pub(crate) trait NodeStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> NodeStream for T {}

/// A node connection's stream, boxed: a dialled one is a TLS client, an accepted one a server.
pub(crate) type BoxedStream = Box<dyn NodeStream>;

/// What happened on a connection.
#[derive(Debug)]
pub(crate) enum InputKind {
    /// Bytes arrived.
    Bytes(BytesMut),
    /// It ended or failed: why.
    Lost(String),
}

/// A connection the peer's task drives: bytes queued to write, and the stream.
///
/// What is queued is unbounded: what the association writes is bounded by its resend buffer
/// (data) and by its timers (the rest), so the queue holds no more than that.
pub(crate) struct LinkConnection {
    pub(crate) id: ConnectionId,
    pub(crate) address: SocketAddr,
    stream: BoxedStream,
    /// Bytes to write, in order.
    out: VecDeque<Bytes>,
    /// Written since the last flush: a TLS stream may hold the last record until flushed.
    unflushed: bool,
    /// Where reads land; what was read is split off and handed out, the room kept.
    read: BytesMut,
}

impl std::fmt::Debug for LinkConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkConnection")
            .field("id", &self.id)
            .field("address", &self.address)
            .field("queued", &self.out.len())
            .finish_non_exhaustive()
    }
}

impl LinkConnection {
    /// Connection `id` on `stream`, to `address`.
    pub(crate) fn new(id: ConnectionId, stream: BoxedStream, address: SocketAddr) -> Self {
        LinkConnection {
            id,
            address,
            stream,
            out: VecDeque::new(),
            unflushed: false,
            read: BytesMut::new(),
        }
    }

    /// Queues `bytes` to be written (by [`poll_io`](Self::poll_io)).
    pub(crate) fn write(&mut self, bytes: Bytes) {
        if !bytes.is_empty() {
            self.out.push_back(bytes);
        }
    }

    /// Queues `chunks` to be written, in order.
    pub(crate) fn write_all(&mut self, chunks: impl IntoIterator<Item = Bytes>) {
        for chunk in chunks {
            self.write(chunk);
        }
    }

    /// Writes (and flushes) what is queued as far as the socket takes it, then reads if
    /// `reading`: ready with what was read, or with why the connection is lost; pending (the
    /// task woken when the socket is ready) otherwise. Cancel-safe: what was written or read
    /// is never lost by dropping the wait.
    pub(crate) fn poll_io(&mut self, cx: &mut Context<'_>, reading: bool) -> Poll<InputKind> {
        while !self.out.is_empty() {
            let mut slices = [IoSlice::new(&[]); WRITE_SLICES];
            let count = self.out.len().min(WRITE_SLICES);
            for (slice, chunk) in slices.iter_mut().zip(&self.out) {
                *slice = IoSlice::new(chunk);
            }
            match Pin::new(&mut self.stream).poll_write_vectored(cx, &slices[..count]) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(InputKind::Lost(
                        "writing failed: the connection takes no more bytes".to_owned(),
                    ));
                }
                Poll::Ready(Ok(mut written)) => {
                    self.unflushed = true;
                    while let Some(front) = self.out.front_mut() {
                        if written < front.len() {
                            front.advance(written);
                            break;
                        }
                        written -= front.len();
                        self.out.pop_front();
                    }
                }
                Poll::Ready(Err(error)) => {
                    return Poll::Ready(InputKind::Lost(format!("writing failed: {error}")));
                }
                Poll::Pending => break,
            }
        }
        if self.out.is_empty() && self.unflushed {
            match pin!(self.stream.flush()).poll(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(error)) => {
                    return Poll::Ready(InputKind::Lost(format!("writing failed: {error}")));
                }
                Poll::Pending => {}
            }
        }
        if reading {
            if self.read.capacity() - self.read.len() < MIN_READ_ROOM {
                self.read.reserve(READ_CHUNK);
            }
            match pin!(self.stream.read_buf(&mut self.read)).poll(cx) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(InputKind::Lost(
                        "the node closed the connection".to_owned(),
                    ));
                }
                Poll::Ready(Ok(_)) => return Poll::Ready(InputKind::Bytes(self.read.split())),
                Poll::Ready(Err(error)) => {
                    return Poll::Ready(InputKind::Lost(format!("reading failed: {error}")));
                }
                Poll::Pending => {}
            }
        }
        Poll::Pending
    }

    /// As [`poll_io`](Self::poll_io) without waiting: what is ready now, if anything. The
    /// socket's wake-up stays with the next real wait, which registers its own.
    pub(crate) fn ready_now(&mut self, reading: bool) -> Option<InputKind> {
        match self.poll_io(&mut Context::from_waker(Waker::noop()), reading) {
            Poll::Ready(kind) => Some(kind),
            Poll::Pending => None,
        }
    }

    /// Closes the connection: what was queued is written and flushed, then TLS and TCP are shut
    /// down — within [`CLOSE_GRACE`], after which it is abandoned (a node that does not read);
    /// nothing more is read. Returns a task that ends when that is done.
    pub(crate) fn close(self) -> JoinHandle<()> {
        let LinkConnection {
            mut stream, out, ..
        } = self;
        tokio::spawn(async move {
            let _ = tokio::time::timeout(CLOSE_GRACE, async move {
                for bytes in out {
                    stream.write_all(&bytes).await?;
                }
                stream.flush().await?;
                stream.shutdown().await
            })
            .await;
        })
    }
}

/// Waits for [`LinkConnection::poll_io`] on `connection`; forever without one.
pub(crate) async fn io(connection: Option<&mut LinkConnection>, reading: bool) -> InputKind {
    match connection {
        Some(connection) => std::future::poll_fn(|cx| connection.poll_io(cx, reading)).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use postbox_wire::link::{Admission, Association, Incarnation, LinkConfig, NodeName, Origin};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, DuplexStream, duplex};

    use super::*;

    /// A connection over an in-memory pipe holding `room` bytes, and the pipe's other end.
    fn connection(room: usize) -> (LinkConnection, DuplexStream) {
        let name = |n: &str| NodeName::new(n).unwrap();
        let mut association = Association::new(
            LinkConfig::default(),
            name("a"),
            Incarnation::new(1).unwrap(),
            name("b"),
            Instant::now(),
        );
        let Admission::Use(id) = association.connection_up(Instant::now(), Origin::Dialed) else {
            panic!("the first connection is used");
        };
        let (ours, theirs) = duplex(room);
        let address = SocketAddr::from(([127, 0, 0, 1], 1));
        (LinkConnection::new(id, Box::new(ours), address), theirs)
    }

    #[tokio::test]
    async fn queued_bytes_go_out_in_order_through_a_pipe_smaller_than_them() {
        let (mut connection, mut theirs) = connection(64);
        let chunks: Vec<Bytes> = (0..3u8).map(|n| Bytes::from(vec![n; 1000])).collect();
        for chunk in &chunks {
            connection.write(chunk.clone());
        }
        let peer = tokio::spawn(async move {
            let mut received = vec![0; 3000];
            theirs.read_exact(&mut received).await.unwrap();
            theirs.write_all(b"answer").await.unwrap();
            (received, theirs)
        });
        // The answer comes only once all 3000 bytes are through the 64-byte pipe.
        let read = io(Some(&mut connection), true).await;
        let InputKind::Bytes(read) = read else {
            panic!("read {read:?}");
        };
        assert_eq!(&read[..], b"answer");
        let (received, _theirs) = peer.await.unwrap();
        assert_eq!(received, chunks.concat());
    }

    #[tokio::test]
    async fn nothing_is_read_while_not_reading_and_an_ended_peer_is_lost() {
        let (mut connection, mut theirs) = connection(1024);
        assert!(connection.ready_now(true).is_none(), "nothing sent yet");
        theirs.write_all(b"frame").await.unwrap();
        assert!(connection.ready_now(false).is_none(), "not reading");
        match connection.ready_now(true) {
            Some(InputKind::Bytes(read)) => assert_eq!(&read[..], b"frame"),
            other => panic!("read {other:?}"),
        }
        drop(theirs);
        match connection.ready_now(true) {
            Some(InputKind::Lost(reason)) => assert_eq!(reason, "the node closed the connection"),
            other => panic!("read {other:?}"),
        }
    }

    #[tokio::test]
    async fn closing_writes_what_was_queued_then_ends_the_stream() {
        let (mut connection, mut theirs) = connection(16);
        connection.write(Bytes::from_static(b"last words before the end"));
        let closed = connection.close();
        let mut received = Vec::new();
        theirs.read_to_end(&mut received).await.unwrap();
        assert_eq!(received, b"last words before the end");
        closed.await.unwrap();
    }

    /// A stream that takes at most 7 bytes per write, across the slices of a vectored one, and
    /// reads nothing.
    #[derive(Default)]
    struct Sip {
        written: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    }

    impl AsyncWrite for Sip {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            self.poll_write_vectored(cx, &[IoSlice::new(buf)])
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<std::io::Result<usize>> {
            let taken: Vec<u8> = bufs
                .iter()
                .flat_map(|b| b.iter().copied())
                .take(7)
                .collect();
            self.written.lock().unwrap().extend_from_slice(&taken);
            Poll::Ready(Ok(taken.len()))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncRead for Sip {
        fn poll_read(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            _buf: &mut tokio::io::ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            Poll::Pending
        }
    }

    #[test]
    fn a_vectored_write_taken_in_pieces_keeps_every_chunk_in_order() {
        let address = SocketAddr::from(([127, 0, 0, 1], 1));
        let id = connection(16).0.id;
        let sip = Sip::default();
        let written = sip.written.clone();
        let mut connection = LinkConnection::new(id, Box::new(sip), address);
        // More chunks than one write hands over, of sizes that end mid-piece.
        let chunks: Vec<Bytes> = (0..150u16)
            .map(|n| {
                Bytes::from(vec![
                    u8::try_from(n % 251).unwrap();
                    usize::from(n % 13) + 1
                ])
            })
            .collect();
        connection.write_all(chunks.clone());
        assert!(connection.ready_now(false).is_none());
        assert!(connection.out.is_empty(), "everything written");
        assert_eq!(*written.lock().unwrap(), chunks.concat());
    }
}

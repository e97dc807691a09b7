//! One transport connection under an association: a reader task and a writer task around a TLS
//! stream, so that the peer's task never waits on a socket.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use postbox_wire::link::ConnectionId;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long a closed connection's last bytes (a `Goodbye`, an `Error`) may take to be written.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// How much one read takes at most.
const READ_CHUNK: usize = 64 << 10;

/// A node connection's stream, whichever side dialled: TLS over TCP.
pub(crate) trait NodeStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> NodeStream for T {}

/// A node connection's stream, boxed: a dialled one is a TLS client, an accepted one a server.
pub(crate) type BoxedStream = Box<dyn NodeStream>;

/// What a connection's tasks report to the peer's task.
#[derive(Debug)]
pub(crate) struct ConnectionInput {
    /// Which connection.
    pub(crate) id: ConnectionId,
    /// What happened on it.
    pub(crate) kind: InputKind,
}

/// What happened on a connection.
#[derive(Debug)]
pub(crate) enum InputKind {
    /// Bytes arrived.
    Bytes(BytesMut),
    /// It ended or failed: why.
    Lost(String),
}

/// A running connection: write to it, close it.
///
/// Writes go through an unbounded queue: what the association writes is bounded by its resend
/// buffer (data) and by its timers (the rest), so the queue holds no more than that.
#[derive(Debug)]
pub(crate) struct LinkConnection {
    pub(crate) id: ConnectionId,
    pub(crate) address: SocketAddr,
    writer: mpsc::UnboundedSender<Bytes>,
    writer_task: JoinHandle<()>,
    reader_task: JoinHandle<()>,
}

impl LinkConnection {
    /// Starts the reader and writer tasks of connection `id` on `stream`; both report to
    /// `input` (the reader waits when the peer's task is behind, which stops reading the
    /// socket: back-pressure down to TCP).
    pub(crate) fn start(
        id: ConnectionId,
        stream: BoxedStream,
        address: SocketAddr,
        input: mpsc::Sender<ConnectionInput>,
    ) -> LinkConnection {
        let (mut read, mut write) = tokio::io::split(stream);
        let (writer, mut queue) = mpsc::unbounded_channel::<Bytes>();
        let lost = input.clone();
        let writer_task = tokio::spawn(async move {
            let mut failed = None;
            while let Some(bytes) = queue.recv().await {
                if let Err(error) = write.write_all(&bytes).await {
                    failed = Some(error);
                    break;
                }
                // A TLS stream may hold the last record until flushed.
                if queue.is_empty()
                    && let Err(error) = write.flush().await
                {
                    failed = Some(error);
                    break;
                }
            }
            match failed {
                Some(error) => {
                    let kind = InputKind::Lost(format!("writing failed: {error}"));
                    let _ = lost.send(ConnectionInput { id, kind }).await;
                }
                // Closed by the peer's task: what was queued is written; say goodbye to TLS.
                None => {
                    let _ = write.flush().await;
                    let _ = write.shutdown().await;
                }
            }
        });
        let reader_task = tokio::spawn(async move {
            loop {
                let mut buffer = BytesMut::with_capacity(READ_CHUNK);
                let kind = match read.read_buf(&mut buffer).await {
                    Ok(0) => InputKind::Lost("the node closed the connection".to_owned()),
                    Ok(_) => InputKind::Bytes(buffer),
                    Err(error) => InputKind::Lost(format!("reading failed: {error}")),
                };
                let last = matches!(kind, InputKind::Lost(_));
                if input.send(ConnectionInput { id, kind }).await.is_err() || last {
                    return;
                }
            }
        });
        LinkConnection {
            id,
            address,
            writer,
            writer_task,
            reader_task,
        }
    }

    /// Queues `bytes` to be written.
    pub(crate) fn write(&self, bytes: Bytes) {
        if !bytes.is_empty() {
            let _ = self.writer.send(bytes);
        }
    }

    /// Closes the connection: what was queued is written and flushed, then TLS and TCP are shut
    /// down — within [`CLOSE_GRACE`], after which the writer is abandoned (a node that does not
    /// read); reading stops at once. Returns a task that ends when that is done.
    pub(crate) fn close(self) -> JoinHandle<()> {
        self.reader_task.abort();
        drop(self.writer);
        let mut writer = self.writer_task;
        tokio::spawn(async move {
            if tokio::time::timeout(CLOSE_GRACE, &mut writer)
                .await
                .is_err()
            {
                writer.abort();
            }
        })
    }
}

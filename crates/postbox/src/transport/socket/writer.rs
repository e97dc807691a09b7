//! Writing a connection's output: one writer at a time, which writes whatever the session has
//! queued until nothing is left, so that requests made meanwhile by other threads leave together
//! in its next write instead of a system call each.

use std::io::Write;
use std::sync::Mutex;

use super::payloads;
use super::session::{SharedSession, ToWrite};
use super::stream::Stream;

/// The write half of a connection, and the stream offset of the next byte it writes (attached
/// payloads go with the write that begins their frame).
#[derive(Debug)]
pub(crate) struct Writer {
    stream: Mutex<(Stream, u64)>,
    /// Another handle on the socket, to shut it down while a write may be blocked.
    control: Stream,
}

impl Writer {
    /// The writer of `stream`, of which `written` bytes have been written (the handshake's).
    pub(crate) fn new(stream: Stream, control: Stream, written: u64) -> Writer {
        Writer {
            stream: Mutex::new((stream, written)),
            control,
        }
    }

    /// Writes `first`, then whatever `session` queued meanwhile, until nothing is left. A failed
    /// write ends the connection: every waiting request is answered `Disconnected`.
    pub(crate) fn write(&self, session: &SharedSession, first: ToWrite) {
        let mut guard = self.stream.lock().unwrap_or_else(|p| p.into_inner());
        let (stream, written) = &mut *guard;
        let mut next = Some(first);
        while let Some(output) = next {
            let ToWrite(bytes, departures) = &output;
            let wrote = match &mut *stream {
                Stream::Unix(unix) if !departures.is_empty() => {
                    payloads::write(unix, bytes, *written, departures)
                }
                other => other.write_all(bytes),
            };
            if wrote.is_err() {
                stream.shutdown();
                session.end().deliver();
                return;
            }
            *written += bytes.len() as u64;
            next = session.written(output);
        }
    }

    /// Shuts the write half down: the daemon reads the end of the stream.
    pub(crate) fn shutdown_write(&self) {
        self.control.shutdown_write();
    }

    /// Shuts both halves down: a reader blocked on the socket wakes.
    pub(crate) fn shutdown(&self) {
        self.control.shutdown();
    }
}

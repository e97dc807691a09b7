//! Writing a connection's output: one writer at a time, which writes whatever the session has
//! queued until nothing is left, so that requests made meanwhile by other threads leave together
//! in its next write instead of a system call each.

use std::io::Write;
use std::sync::Mutex;

use super::session::{SharedSession, ToWrite};
use super::stream::Stream;

/// The write half of a connection.
#[derive(Debug)]
pub(crate) struct Writer {
    stream: Mutex<Stream>,
    /// Another handle on the socket, to shut it down while a write may be blocked.
    control: Stream,
}

impl Writer {
    pub(crate) fn new(stream: Stream, control: Stream) -> Writer {
        Writer {
            stream: Mutex::new(stream),
            control,
        }
    }

    /// Writes `first`, then whatever `session` queued meanwhile, until nothing is left. A failed
    /// write ends the connection: every waiting request is answered `Disconnected`.
    pub(crate) fn write(&self, session: &SharedSession, first: ToWrite) {
        let mut stream = self.stream.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = Some(first);
        while let Some(output) = next {
            if stream.write_all(&output.0).is_err() {
                stream.shutdown();
                session.end().deliver();
                return;
            }
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

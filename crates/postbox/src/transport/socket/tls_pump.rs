//! The thread that carries one `tls://` connection: it owns the TCP socket and the rustls
//! connection, and exchanges plaintext with the rest of the transport over a Unix socket pair.
//!
//! Why a thread and a socket pair: the transport reads and writes one connection from several
//! threads at once (a reader, whichever thread writes, a control handle that shuts it down), each
//! with its own clone of the socket. A rustls connection is one state machine that cannot be
//! split or cloned, and putting it behind a lock would let a blocked read hold up every write. So
//! the TLS state lives on one thread, and the transport gets a Unix stream that behaves exactly
//! as a `unix://` connection does — clonable, pollable, shut down the same way — so nothing above
//! [`Stream`](super::stream::Stream) knows TLS is there.
//!
//! The pump never blocks on one side while the other waits: both sockets are non-blocking and it
//! `poll`s for what it can do next. It takes plaintext from the transport only when rustls has
//! sent everything it had, and reads from the daemon only when the transport has taken everything
//! decrypted, so each direction holds at most one chunk plus a TLS record and backpressure passes
//! through to TCP as it would without TLS. The transport's end of the stream becomes
//! `close_notify` and the end of TCP writes; the daemon's end of TLS becomes the end of the
//! stream. A TLS failure (say, the daemon refusing the client's certificate, which TLS 1.3
//! reports after the client's handshake is done) is kept for the transport to explain, and ends
//! the stream.

use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

use rustix::event::{PollFd, PollFlags, poll};
use rustls::ClientConnection;

/// How much plaintext moves at once: below rustls's 64 KiB buffer limit, so a chunk always fits.
const CHUNK: usize = 16 << 10;

/// Why a TLS connection ended, if it failed: written by the pump, read by the transport.
pub(crate) type TlsFailure = Arc<Mutex<Option<rustls::Error>>>;

/// Starts the pump for `conn`, whose handshake is done, over `tcp`; returns the transport's end
/// of the plaintext stream and where a failure will be kept.
///
/// # Errors
///
/// When the socket pair or the thread cannot be made.
pub(crate) fn start(
    tcp: TcpStream,
    conn: ClientConnection,
) -> io::Result<(UnixStream, TlsFailure)> {
    let (ours, theirs) = UnixStream::pair()?;
    let failure = TlsFailure::default();
    let kept = failure.clone();
    std::thread::Builder::new()
        .name("postbox-tls".to_owned())
        .spawn(move || {
            let mut pump = Pump {
                tcp,
                conn,
                app: theirs,
                to_app: Vec::new(),
                to_app_at: 0,
            };
            if let Err(Ended::Tls(error)) = pump.run() {
                *kept.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
            }
            let _ = pump.app.shutdown(Shutdown::Both);
            let _ = pump.tcp.shutdown(Shutdown::Both);
        })?;
    Ok((ours, failure))
}

/// Why the pump stopped early.
enum Ended {
    /// TLS failed: an alert, a corrupt record.
    Tls(rustls::Error),
    /// A socket failed, or the transport went away: nothing to explain beyond the end.
    Io,
}

impl From<io::Error> for Ended {
    fn from(error: io::Error) -> Ended {
        match error
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>())
        {
            Some(tls) => Ended::Tls(tls.clone()),
            None => Ended::Io,
        }
    }
}

/// One connection's TLS, between the daemon (`tcp`) and the transport (`app`).
struct Pump {
    tcp: TcpStream,
    conn: ClientConnection,
    /// The pump's end of the plaintext stream.
    app: UnixStream,
    /// Plaintext from the daemon the transport has not taken yet, from `to_app_at` on.
    to_app: Vec<u8>,
    to_app_at: usize,
}

impl Pump {
    fn run(&mut self) -> Result<(), Ended> {
        self.tcp.set_nonblocking(true)?;
        self.app.set_nonblocking(true)?;
        // Whether the transport may still send, and the daemon.
        let mut app_open = true;
        let mut daemon_open = true;
        let mut tcp_eof = false;
        // Whether TCP reported an error or hang-up while it was not read.
        let mut tcp_dead = false;
        let mut buf = vec![0; CHUNK];
        loop {
            // Daemon to transport: decrypted plaintext, as far as the transport takes it.
            while daemon_open {
                if self.to_app_at == self.to_app.len() {
                    self.to_app.clear();
                    self.to_app_at = 0;
                    match self.conn.reader().read(&mut buf) {
                        Ok(0) => daemon_open = false,
                        Ok(n) => self.to_app.extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        // The daemon closed TCP without `close_notify`: an end all the same.
                        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => daemon_open = false,
                        Err(e) => return Err(e.into()),
                    }
                    if !daemon_open {
                        let _ = self.app.shutdown(Shutdown::Write);
                        break;
                    }
                }
                match self.app.write(&self.to_app[self.to_app_at..]) {
                    Ok(n) => self.to_app_at += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Err(Ended::Io),
                }
            }

            // Transport to daemon: a chunk at a time, once rustls has sent what it had.
            if app_open && !self.conn.wants_write() {
                match self.app.read(&mut buf) {
                    Ok(0) => {
                        app_open = false;
                        self.conn.send_close_notify();
                    }
                    Ok(n) => self.conn.writer().write_all(&buf[..n])?,
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                        ) => {}
                    Err(_) => return Err(Ended::Io),
                }
            }
            while self.conn.wants_write() {
                match self.conn.write_tls(&mut self.tcp) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.into()),
                }
            }
            if !app_open && !self.conn.wants_write() {
                let _ = self.tcp.shutdown(Shutdown::Write);
                if !daemon_open {
                    return Ok(());
                }
            }

            // From the daemon: only once the transport has taken what was decrypted.
            let drained = self.to_app_at == self.to_app.len();
            let read_tcp = !tcp_eof && drained && self.conn.wants_read();
            if read_tcp {
                match self.conn.read_tls(&mut self.tcp) {
                    Ok(0) => {
                        tcp_eof = true;
                        self.conn.process_new_packets().map_err(Ended::Tls)?;
                        continue;
                    }
                    Ok(_) => {
                        self.conn.process_new_packets().map_err(Ended::Tls)?;
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e.into()),
                }
            }

            let mut app_events = PollFlags::empty();
            if app_open && !self.conn.wants_write() {
                app_events |= PollFlags::IN;
            }
            if daemon_open && !drained {
                app_events |= PollFlags::OUT;
            }
            let mut tcp_events = PollFlags::empty();
            if read_tcp {
                tcp_events |= PollFlags::IN;
            }
            if self.conn.wants_write() {
                tcp_events |= PollFlags::OUT;
            }
            if app_events.is_empty() && (tcp_dead || tcp_events.is_empty()) {
                // Nothing left to wait for: stop rather than hang.
                return Err(Ended::Io);
            }
            // A socket in error or hung up is reported by every `poll`, asked or not: one that is
            // not read is left out once it has said so, so that it cannot spin the loop.
            let (app_gone, tcp_hung) = {
                let mut fds = vec![PollFd::new(&self.app, app_events)];
                if !tcp_dead {
                    fds.push(PollFd::new(&self.tcp, tcp_events));
                }
                match poll(&mut fds, None) {
                    Ok(_) | Err(rustix::io::Errno::INTR) => {}
                    Err(error) => return Err(io::Error::from(error).into()),
                }
                let hung = PollFlags::HUP | PollFlags::ERR;
                (
                    fds[0].revents().intersects(hung),
                    fds.get(1).is_some_and(|fd| fd.revents().intersects(hung)),
                )
            };
            // The transport closed every handle, or shut its end down: no one is left to serve.
            if app_gone && !app_events.contains(PollFlags::IN) {
                return Err(Ended::Io);
            }
            if tcp_hung && !tcp_events.contains(PollFlags::IN) {
                tcp_dead = true;
            }
        }
    }
}

//! The connected socket under a daemon connection, of any kind.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use super::tls_client::TlsOptions;
use super::tls_pump::TlsFailure;

/// A connected stream of any kind.
#[derive(Debug)]
pub(crate) enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
    /// The plaintext end of a `tls://` connection's [pump](super::tls_pump), and where the pump
    /// keeps why TLS failed.
    Tls(UnixStream, TlsFailure),
}

impl Stream {
    pub(crate) fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Tls(s, failure) => Stream::Tls(s.try_clone()?, failure.clone()),
        })
    }

    /// Why TLS failed, if this is a `tls://` connection whose TLS did.
    pub(crate) fn tls_failure(&self) -> Option<rustls::Error> {
        match self {
            Stream::Tls(_, failure) => failure.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            Stream::Unix(_) | Stream::Tcp(_) => None,
        }
    }

    pub(crate) fn shutdown(&self) {
        // Already closed is fine: the aim is only that the reader and the daemon see the end.
        let _ = match self {
            Stream::Unix(s) => s.shutdown(Shutdown::Both),
            Stream::Tcp(s) => s.shutdown(Shutdown::Both),
            Stream::Tls(s, _) => s.shutdown(Shutdown::Both),
        };
    }

    pub(crate) fn shutdown_write(&self) {
        // Already closed is fine: the aim is only that the daemon sees the end.
        let _ = match self {
            Stream::Unix(s) => s.shutdown(Shutdown::Write),
            Stream::Tcp(s) => s.shutdown(Shutdown::Write),
            Stream::Tls(s, _) => s.shutdown(Shutdown::Write),
        };
    }

    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_read_timeout(timeout),
            Stream::Tcp(s) => s.set_read_timeout(timeout),
            Stream::Tls(s, _) => s.set_read_timeout(timeout),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
            Stream::Tls(s, _) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
            Stream::Tls(s, _) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.flush(),
            Stream::Tcp(s) => s.flush(),
            Stream::Tls(s, _) => s.flush(),
        }
    }
}

/// Where to connect.
pub(crate) enum Endpoint<'a> {
    /// A socket path, and where large payloads travel.
    Unix(&'a str, super::Payloads),
    Tcp(&'a str),
    /// `HOST:PORT`, with TLS as the options say.
    Tls(&'a str, &'a TlsOptions),
}

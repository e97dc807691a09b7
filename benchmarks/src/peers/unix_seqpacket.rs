//! Unix seqpacket sockets: a connection that keeps message boundaries, so no framing.
//!
//! A seqpacket message must fit in the sender's socket buffer at once: Linux refuses one above
//! the send buffer (`SO_SNDBUF`) less 32 bytes with `EMSGSIZE`, and an unprivileged process can
//! raise that buffer only to twice `net.core.wmem_max` (212,992 bytes by default, so a limit
//! just under 416 KiB). Each socket's send buffer is raised so that at least four messages of the
//! case fit where the limit allows; a size that cannot be sent even alone is reported
//! unsupported, found by actually sending one on a socket pair rather than by guessing.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::Path;

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, Backlog, MsgFlags, SockFlag, SockType, UnixAddr, bind, connect, getsockopt,
    listen, recv, send, setsockopt, socket, socketpair, sockopt,
};

use crate::mechanism::{Case, Endpoint, Mechanism, Prepared, Role};
use crate::plan::format_size;

use super::accept::AcceptOnFirstUse;
use super::point_to_point;

/// A Unix seqpacket socket: one message per send, boundaries kept by the kernel.
#[derive(Debug, Default)]
pub struct UnixSeqpacket;

/// Room the kernel takes per message from the send buffer besides the payload, for sizing it.
const PER_MESSAGE: usize = 1024;

fn new_socket() -> io::Result<OwnedFd> {
    Ok(socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?)
}

/// Raises `fd`'s send buffer so that four `size`-byte messages fit, as far as the kernel allows
/// (it doubles the value asked and caps it at twice `net.core.wmem_max`). Never lowers it.
fn size_send_buffer(fd: &OwnedFd, size: usize) -> io::Result<()> {
    let wanted = size.saturating_add(PER_MESSAGE).saturating_mul(4);
    if getsockopt(fd, sockopt::SndBuf)? < wanted {
        // The kernel stores twice what it is given.
        setsockopt(fd, sockopt::SndBuf, &wanted.div_ceil(2))?;
    }
    Ok(())
}

/// Why a `size`-byte message cannot travel over seqpacket here, if it cannot: tries it.
fn size_limit(size: usize) -> Option<String> {
    let probe = || -> io::Result<Option<String>> {
        let (a, _b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        size_send_buffer(&a, size)?;
        match send(a.as_raw_fd(), &vec![0u8; size], MsgFlags::MSG_DONTWAIT) {
            Ok(_) => Ok(None),
            Err(Errno::EMSGSIZE) => {
                let buffer = getsockopt(&a, sockopt::SndBuf)?;
                let wmem_max = std::fs::read_to_string("/proc/sys/net/core/wmem_max")
                    .map(|s| s.trim().to_owned())
                    .unwrap_or_else(|_| "?".to_owned());
                Ok(Some(format!(
                    "a {} message exceeds the {} B seqpacket limit (send buffer {buffer} B, \
                     net.core.wmem_max = {wmem_max})",
                    format_size(size),
                    buffer.saturating_sub(32)
                )))
            }
            Err(e) => Err(e.into()),
        }
    };
    probe().unwrap_or_else(|e| Some(format!("cannot probe the message size limit: {e}")))
}

/// A connected seqpacket socket.
struct Seqpacket {
    fd: OwnedFd,
    max_len: usize,
}

impl Seqpacket {
    fn new(fd: OwnedFd, max_len: usize) -> io::Result<Seqpacket> {
        size_send_buffer(&fd, max_len)?;
        Ok(Seqpacket { fd, max_len })
    }
}

impl Endpoint for Seqpacket {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        loop {
            match send(self.fd.as_raw_fd(), message, MsgFlags::MSG_NOSIGNAL) {
                Ok(n) if n == message.len() => return Ok(()),
                Ok(n) => {
                    return Err(io::Error::other(format!(
                        "sent {n} of {} bytes of one message",
                        message.len()
                    )));
                }
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        buf.resize(self.max_len, 0);
        loop {
            // MSG_TRUNC: the message's real length, even if it did not fit.
            match recv(self.fd.as_raw_fd(), buf, MsgFlags::MSG_TRUNC) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) if n > self.max_len => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "a {n}-byte message, above the {}-byte maximum",
                            self.max_len
                        ),
                    ));
                }
                Ok(n) => {
                    buf.truncate(n);
                    return Ok(());
                }
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Mechanism for UnixSeqpacket {
    fn name(&self) -> String {
        "unix seqpacket".to_owned()
    }

    fn unsupported(&self, case: &Case) -> Option<String> {
        point_to_point::unsupported(case).or_else(|| size_limit(case.size))
    }

    fn prepare(&self, _case: &Case, scratch: &Path) -> io::Result<Prepared> {
        Ok(Prepared {
            address: scratch.join("seqpacket.sock").display().to_string(),
            guard: Box::new(()),
        })
    }

    fn open(&self, case: &Case, address: &str, role: Role) -> io::Result<Box<dyn Endpoint>> {
        let max_len = case.size;
        let addr = UnixAddr::new(address)?;
        let fd = new_socket()?;
        if role.listens() {
            bind(fd.as_raw_fd(), &addr).map_err(|e| {
                io::Error::new(
                    io::Error::from(e).kind(),
                    format!("cannot bind {address}: {e}"),
                )
            })?;
            listen(&fd, Backlog::new(16)?)?;
            // std's listener accepts on any socket type; the accepted socket stays seqpacket.
            let listener = UnixListener::from(fd);
            Ok(Box::new(AcceptOnFirstUse::new(Box::new(move || {
                let (stream, _) = listener.accept()?;
                Ok(Box::new(Seqpacket::new(OwnedFd::from(stream), max_len)?))
            }))))
        } else {
            connect(fd.as_raw_fd(), &addr).map_err(|e| {
                io::Error::new(
                    io::Error::from(e).kind(),
                    format!("cannot connect to {address}: {e}"),
                )
            })?;
            Ok(Box::new(Seqpacket::new(fd, max_len)?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_messages_fit_and_a_huge_one_is_reported_with_the_limit() {
        assert_eq!(size_limit(64), None);
        assert_eq!(size_limit(64 << 10), None);
        let reason = size_limit(64 << 20).expect("64 MiB is beyond any default limit");
        assert!(reason.contains("seqpacket limit"), "{reason}");
    }

    #[test]
    fn boundaries_are_kept_and_truncation_is_an_error() {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let mut a = Seqpacket::new(a, 64).unwrap();
        let mut b = Seqpacket::new(b, 8).unwrap();
        a.send(b"abc").unwrap();
        a.send(b"0123456789").unwrap();
        let mut buf = Vec::new();
        b.recv(&mut buf).unwrap();
        assert_eq!(buf, b"abc");
        assert_eq!(
            b.recv(&mut buf).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }
}

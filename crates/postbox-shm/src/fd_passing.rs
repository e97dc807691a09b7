//! Passing a segment's descriptor to another process over a Unix stream (`SCM_RIGHTS`), as the
//! daemon does on a client's connection.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

/// The one data byte that carries a descriptor (a stream cannot carry control data alone).
const TAG: u8 = b'F';

/// Why [`recv_fd`] returned no descriptor.
#[derive(Debug, thiserror::Error)]
pub enum RecvFdError {
    /// When the peer closed the stream before sending.
    #[error("cannot receive a descriptor: the peer closed the connection")]
    Disconnected,
    /// When the peer sent a byte other than the descriptor tag, or no descriptor with it.
    #[error("cannot receive a descriptor: the peer sent data without one; it broke the protocol")]
    NoDescriptor,
    /// When the peer sent more descriptors than one (the extra ones are closed).
    #[error("cannot receive a descriptor: the peer sent more than one; it broke the protocol")]
    TooMany,
    /// When `recvmsg` fails.
    #[error("cannot receive a descriptor: {0}")]
    Io(#[source] io::Error),
}

/// Sends `fd` (a duplicate of it, made by the kernel) to the process at the other end of
/// `stream`, with one tag byte.
///
/// # Errors
///
/// The error of `sendmsg` (for example `EPIPE` when the peer is gone).
pub fn send_fd(stream: &UnixStream, fd: BorrowedFd<'_>) -> io::Result<()> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    let fds = [fd];
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(io::Error::other(
            "control buffer too small for one descriptor",
        ));
    }
    let sent = rustix::net::sendmsg(
        stream,
        &[IoSlice::new(&[TAG])],
        &mut control,
        SendFlags::NOSIGNAL,
    )?;
    if sent != 1 {
        return Err(io::Error::from(io::ErrorKind::WriteZero));
    }
    Ok(())
}

/// Receives one descriptor sent by [`send_fd`], close-on-exec. Blocks until it arrives (set a
/// read timeout on `stream` to bound the wait).
///
/// # Errors
///
/// [`RecvFdError`] when the peer closes, breaks the protocol, or `recvmsg` fails.
pub fn recv_fd(stream: &UnixStream) -> Result<OwnedFd, RecvFdError> {
    // Room for two, so that a peer sending extra descriptors is noticed (and they are closed).
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut byte = [0u8; 1];
    let received = loop {
        match rustix::net::recvmsg(
            stream,
            &mut [IoSliceMut::new(&mut byte)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Ok(received) => break received,
            Err(rustix::io::Errno::INTR) => continue,
            Err(error) => return Err(RecvFdError::Io(error.into())),
        }
    };
    if received.bytes == 0 {
        return Err(RecvFdError::Disconnected);
    }
    let mut fds: Vec<OwnedFd> = Vec::new();
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = message {
            fds.extend(received);
        }
    }
    if received.flags.contains(ReturnFlags::CTRUNC) || fds.len() > 1 {
        return Err(RecvFdError::TooMany);
    }
    match fds.pop() {
        Some(fd) if byte[0] == TAG => Ok(fd),
        _ => Err(RecvFdError::NoDescriptor),
    }
}

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

/// The most descriptors [`recv_with_fds`] takes from one read; more (`MSG_CTRUNC`) is reported
/// as truncated. A frame carries at most 64 payloads, each one descriptor (a sealed file) or
/// two (a pooled slot and its token).
pub const MAX_FDS_PER_READ: usize = 128;

/// What [`recv_with_fds`] read.
#[derive(Debug, Default)]
pub struct ReadWithFds {
    /// Bytes read into the buffer; 0 at the end of the stream.
    pub bytes: usize,
    /// Descriptors that came with them, close-on-exec, in order.
    pub fds: Vec<OwnedFd>,
    /// Whether the kernel had more descriptors than room for them (`MSG_CTRUNC`): the extra
    /// ones are lost, and the peer broke its protocol.
    pub truncated: bool,
}

/// Reads bytes from a stream socket into `buf` with `recvmsg`, taking any descriptors sent with
/// them (`SCM_RIGHTS`, close-on-exec). A stream hands a `sendmsg`'s descriptors to the first read
/// that reads any of its bytes. On a non-blocking socket, `WouldBlock` when nothing is there.
///
/// # Errors
///
/// The error of `recvmsg` (`EINTR` is retried).
pub fn recv_with_fds(socket: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<ReadWithFds> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS_PER_READ))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let received = loop {
        match rustix::net::recvmsg(
            socket,
            &mut [IoSliceMut::new(buf)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Ok(received) => break received,
            Err(rustix::io::Errno::INTR) => continue,
            Err(error) => return Err(error.into()),
        }
    };
    let mut fds = Vec::new();
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = message {
            fds.extend(received);
        }
    }
    Ok(ReadWithFds {
        bytes: received.bytes,
        fds,
        truncated: received.flags.contains(ReturnFlags::CTRUNC),
    })
}

/// Writes `bytes` to a stream socket with `sendmsg`, sending `fds` (duplicates, made by the
/// kernel) with them: they reach the peer with the first read that reads any of these bytes.
/// Returns how many bytes were written (possibly fewer; the descriptors went with the first).
///
/// # Errors
///
/// The error of `sendmsg` (`EINTR` is retried; `WouldBlock` on a full non-blocking socket, with
/// nothing sent), or `InvalidInput` for more than [`MAX_FDS_PER_READ`] descriptors or no bytes.
pub fn send_with_fds(
    socket: BorrowedFd<'_>,
    bytes: &[u8],
    fds: &[BorrowedFd<'_>],
) -> io::Result<usize> {
    if fds.len() > MAX_FDS_PER_READ || bytes.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "descriptors travel with 1 or more bytes, at most 128 at a time",
        ));
    }
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS_PER_READ))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(io::Error::other(
            "control buffer too small for the descriptors",
        ));
    }
    loop {
        match rustix::net::sendmsg(
            socket,
            &[IoSlice::new(bytes)],
            &mut control,
            SendFlags::NOSIGNAL,
        ) {
            Ok(sent) => return Ok(sent),
            Err(rustix::io::Errno::INTR) => continue,
            Err(error) => return Err(error.into()),
        }
    }
}

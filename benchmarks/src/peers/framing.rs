//! Whole messages over a byte stream (pipes, stream sockets): each message is a 4-byte
//! little-endian length, then its bytes.

use std::io::{self, BufReader, IoSlice, Read, Write};

use crate::mechanism::Endpoint;

/// How much a framed stream reads from the kernel at once.
const READ_BUFFER: usize = 64 << 10;

/// A length-prefixed stream endpoint: sends on `W`, receives from `R`. Either half may be absent
/// for an end that only sends or only receives.
pub(crate) struct Framed<R: Read, W: Write> {
    reader: Option<BufReader<R>>,
    writer: Option<W>,
    max_len: usize,
}

impl<R: Read, W: Write> Framed<R, W> {
    /// Frames over `reader` and `writer`, refusing incoming messages above `max_len` bytes.
    pub(crate) fn new(reader: Option<R>, writer: Option<W>, max_len: usize) -> Framed<R, W> {
        Framed {
            reader: reader.map(|r| BufReader::with_capacity(READ_BUFFER, r)),
            writer,
            max_len,
        }
    }
}

/// Writes the length prefix and the message with as few system calls as the kernel allows (one
/// `writev` when it takes everything).
fn write_frame(writer: &mut impl Write, message: &[u8]) -> io::Result<()> {
    let len = u32::try_from(message.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "message above 4 GiB"))?;
    let prefix = len.to_le_bytes();
    let mut slices = [IoSlice::new(&prefix), IoSlice::new(message)];
    let mut remaining: &mut [IoSlice<'_>] = &mut slices;
    while !remaining.is_empty() {
        match writer.write_vectored(remaining) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut remaining, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads one whole frame into `buf`.
fn read_frame(reader: &mut impl Read, buf: &mut Vec<u8>, max_len: usize) -> io::Result<()> {
    let mut prefix = [0u8; 4];
    reader.read_exact(&mut prefix)?;
    let len = u32::from_le_bytes(prefix) as usize;
    if len > max_len {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "a frame of {len} bytes, above the {max_len}-byte maximum: the stream is corrupt"
            ),
        ));
    }
    buf.resize(len, 0);
    reader.read_exact(buf)
}

impl<R: Read, W: Write> Endpoint for Framed<R, W> {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| io::Error::other("this end only receives"))?;
        write_frame(writer, message)
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        let reader = self
            .reader
            .as_mut()
            .ok_or_else(|| io::Error::other("this end only sends"))?;
        read_frame(reader, buf, self.max_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes at most 3 bytes per call, to exercise partial writes.
    struct Dribble(Vec<u8>);

    impl Write for Dribble {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(3);
            self.0.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn frames_survive_partial_writes_and_keep_their_boundaries() {
        let mut wire = Dribble(Vec::new());
        write_frame(&mut wire, b"hello").unwrap();
        write_frame(&mut wire, b"").unwrap();
        write_frame(&mut wire, &[7; 20]).unwrap();
        assert_eq!(&wire.0[..9], &[5, 0, 0, 0, b'h', b'e', b'l', b'l', b'o']);
        let mut end = Framed::<&[u8], Vec<u8>>::new(Some(&wire.0[..]), None, 64);
        let mut buf = Vec::new();
        end.recv(&mut buf).unwrap();
        assert_eq!(buf, b"hello");
        end.recv(&mut buf).unwrap();
        assert!(buf.is_empty());
        end.recv(&mut buf).unwrap();
        assert_eq!(buf, [7; 20]);
        assert_eq!(
            end.recv(&mut buf).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        assert!(end.send(b"x").is_err(), "a receiving end does not send");
    }

    #[test]
    fn an_oversized_length_is_refused_before_allocating() {
        let bytes = [0xFF, 0xFF, 0xFF, 0x7F];
        let mut end = Framed::<&[u8], Vec<u8>>::new(Some(&bytes[..]), None, 1024);
        let mut buf = Vec::new();
        let error = end.recv(&mut buf).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(buf.capacity() < 1024);
    }
}

//! File descriptor sources: lines or chunks read from stdin, a pipe or a socket.

use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use bytes::{Bytes, BytesMut};
use rustix::event::{PollFd, PollFlags, poll};

use super::destination::Destination;
use super::event::Event;
use super::event_source::EventSource;
use super::poster::{Posted, Poster};
use super::source_error::SourceError;
use super::start_error::StartError;
use super::stop::{Stop, Wakeup};
use crate::process::Process;

/// How much a line may hold, and how much a chunk holds at most, by default: the default
/// mailbox's largest message.
pub const DEFAULT_MAX: usize = 64 << 10;

/// How much one read asks for.
const READ_SIZE: usize = 64 << 10;

/// How the bytes read are cut into events.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Framing {
    /// One event per line, without its newline; a line longer than the bound in pieces.
    Lines(usize),
    /// One event per read, or per piece of this many bytes of a larger read.
    Chunks(usize),
}

/// A file descriptor source: reads a file descriptor (standard input, a pipe, a socket) and posts
/// what it reads, then an [`Eof`](super::EventKind::Eof) event, and ends.
///
/// In line mode each [`Line`](super::EventKind::Line) event is one line without its `\n` (nor a
/// `\r` before it); a last line without a newline is posted at end-of-file; a line longer than
/// the maximum (default [`DEFAULT_MAX`], the default mailbox's largest message) is posted in
/// pieces of the maximum, so that memory stays bounded whatever the input. In chunk mode each
/// [`Chunk`](super::EventKind::Chunk) event is what one read returned (up to 64 KiB), cut into
/// pieces of at most the maximum.
///
/// Posting waits while the destination is full, and reading waits for it: a full mailbox stops
/// the reading, and a writer to the pipe is held back in turn. A read error ends the source: it
/// posts an end-of-file event carrying the error's text, and [`EventSource::join`] returns
/// [`SourceError::Read`].
///
/// ```
/// use postbox::events::{Event, Reader};
/// use postbox::InprocNode;
/// use std::io::Write;
///
/// let node = InprocNode::new();
/// let me = node.process();
/// let (theirs, mut ours) = std::os::unix::net::UnixStream::pair()?;
/// let source = Reader::lines(theirs).start(node.process(), me.pid())?;
/// ours.write_all(b"hello\nworld")?;
/// drop(ours);
/// let event = |m: postbox::Received| Event::from_received(&m).unwrap();
/// assert_eq!(event(me.recv_from(source.pid())?), Event::Line("hello".into()));
/// assert_eq!(event(me.recv_from(source.pid())?), Event::Line("world".into()));
/// assert_eq!(event(me.recv_from(source.pid())?), Event::Eof(None));
/// source.join()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Reader<R> {
    input: R,
    framing: Framing,
}

impl<R: Read + AsFd + Send + 'static> Reader<R> {
    /// A source posting each line `input` yields.
    pub fn lines(input: R) -> Reader<R> {
        Reader {
            input,
            framing: Framing::Lines(DEFAULT_MAX),
        }
    }

    /// A source posting what each read of `input` returns, in chunks of at most `max` bytes.
    ///
    /// # Panics
    ///
    /// If `max` is zero.
    pub fn chunks(input: R, max: usize) -> Reader<R> {
        assert!(max > 0, "a chunk must hold at least one byte");
        Reader {
            input,
            framing: Framing::Chunks(max),
        }
    }

    /// Sets the longest line posted whole (longer ones are posted in pieces of `max`), or the
    /// largest chunk.
    ///
    /// # Panics
    ///
    /// If `max` is zero.
    pub fn max(mut self, max: usize) -> Reader<R> {
        assert!(max > 0, "a line or chunk must hold at least one byte");
        self.framing = match self.framing {
            Framing::Lines(_) => Framing::Lines(max),
            Framing::Chunks(_) => Framing::Chunks(max),
        };
        self
    }

    /// Starts reading and posting as `process` (the source's own process, terminated when the
    /// source ends) to `destination`. The source owns `input`, and closes it when it ends.
    ///
    /// # Errors
    ///
    /// [`StartError::Open`] when the destination mailbox cannot be opened;
    /// [`StartError::Spawn`] (also when the wake-up socket cannot be made).
    pub fn start(
        self,
        process: Process,
        destination: impl Into<Destination>,
    ) -> Result<EventSource, StartError> {
        let (wake, woken) = UnixStream::pair().map_err(StartError::Spawn)?;
        let Reader { input, framing } = self;
        EventSource::spawn(
            "reader",
            process,
            destination.into(),
            Wakeup::Socket(wake),
            move |poster| run(input, framing, &woken, poster),
        )
    }
}

/// What one wait for input found.
enum Ready {
    Input,
    Stopped,
}

/// Waits until `input` can be read (or is at its end) or the source is stopped.
fn wait(input: &impl AsFd, woken: &UnixStream, stop: &Stop) -> io::Result<Ready> {
    loop {
        if stop.is_stopped() {
            return Ok(Ready::Stopped);
        }
        let mut fds = [
            PollFd::new(input, PollFlags::IN),
            PollFd::new(woken, PollFlags::IN),
        ];
        match poll(&mut fds, None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(error) => return Err(error.into()),
        }
        if !fds[0].revents().is_empty() {
            return Ok(Ready::Input);
        }
    }
}

/// Reads `input` to its end, posting as `framing` says, then the end-of-file event.
fn run(
    mut input: impl Read + AsFd,
    framing: Framing,
    woken: &UnixStream,
    poster: &Poster,
) -> Result<(), SourceError> {
    let max = match framing {
        Framing::Lines(max) | Framing::Chunks(max) => max,
    };
    // A line in the making; never more than `max` bytes.
    let mut line = BytesMut::new();
    // Always large, whatever `max`: a reader with a buffer of its own (`Stdin`'s 8 KiB) reads
    // straight into a larger one, leaving nothing in its buffer that the poll would not see.
    let mut buffer = vec![0; READ_SIZE];
    let post = |event: Event| -> Result<bool, SourceError> {
        Ok(!matches!(poster.post(event.to_message())?, Posted::Stopped))
    };
    let failure = loop {
        let read = match wait(&input, woken, poster.stop()) {
            Ok(Ready::Stopped) => return Ok(()),
            Ok(Ready::Input) => match input.read(&mut buffer) {
                Ok(read) => read,
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                    ) =>
                {
                    continue;
                }
                Err(error) => break Some(error),
            },
            Err(error) => break Some(error),
        };
        if read == 0 {
            break None;
        }
        let bytes = &buffer[..read];
        match framing {
            Framing::Chunks(_) => {
                for chunk in bytes.chunks(max) {
                    if !post(Event::Chunk(Bytes::copy_from_slice(chunk)))? {
                        return Ok(());
                    }
                }
            }
            Framing::Lines(_) => {
                for piece in bytes.split_inclusive(|&b| b == b'\n') {
                    let (text, ends) = match piece.strip_suffix(b"\n") {
                        Some(text) => (text, true),
                        None => (piece, false),
                    };
                    let mut text = text;
                    while line.len() + text.len() > max {
                        let (head, tail) = text.split_at(max - line.len());
                        line.extend_from_slice(head);
                        text = tail;
                        if !post(Event::Line(line.split().freeze()))? {
                            return Ok(());
                        }
                    }
                    line.extend_from_slice(text);
                    if ends {
                        if line.last() == Some(&b'\r') {
                            line.truncate(line.len() - 1);
                        }
                        if !post(Event::Line(line.split().freeze()))? {
                            return Ok(());
                        }
                    }
                }
            }
        }
    };
    if !line.is_empty() && !post(Event::Line(line.split().freeze()))? {
        return Ok(());
    }
    post(Event::Eof(failure.as_ref().map(ToString::to_string)))?;
    match failure {
        Some(error) => Err(SourceError::Read(error)),
        None => Ok(()),
    }
}

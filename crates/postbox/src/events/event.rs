//! The events sources post: their message types and payloads, and decoding them back.

use bytes::Bytes;
use postbox_core::{Message, Received};

use super::signal::Signal;

/// The kind of an event, carried as the message's `mtype` so that typed selective receive
/// (`Selector::Type`) picks one kind out of a mailbox that mixes them. The values are stable, and
/// all above 100, leaving 1..=100 to a program's own messages (`Selector::TypeAtMost(100)` skips
/// every event).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum EventKind {
    /// `101`: a timer tick. Payload: `"TICK MISSED"` in decimal ASCII — the tick's number
    /// (periods elapsed since the timer started, from 1) and how many ticks before it found the
    /// destination full and were folded into this one.
    Tick,
    /// `102`: a signal arrived. Payload: `"NUMBER NAME"`, e.g. `"10 SIGUSR1"`.
    Signal,
    /// `103`: one line read from a file descriptor, without its newline (`\n`, and a `\r`
    /// before it). Payload: the line's bytes as read.
    Line,
    /// `104`: one chunk read from a file descriptor in chunk mode. Payload: the bytes as read.
    Chunk,
    /// `105`: the end of a file descriptor. Payload: empty at end-of-file, else the text of the
    /// read error that ended it. Always the source's last event.
    Eof,
    /// `106`: a child process exited. Payload: `"exit CODE"`, or `"signal NUMBER NAME"` when a
    /// signal killed it (e.g. `format!("signal {} SIGKILL", Signal::KILL.number())`).
    Exit,
}

impl EventKind {
    /// Every kind, in `mtype` order.
    pub const ALL: [EventKind; 6] = [
        EventKind::Tick,
        EventKind::Signal,
        EventKind::Line,
        EventKind::Chunk,
        EventKind::Eof,
        EventKind::Exit,
    ];

    /// The message type events of this kind carry.
    pub const fn mtype(self) -> i64 {
        match self {
            EventKind::Tick => 101,
            EventKind::Signal => 102,
            EventKind::Line => 103,
            EventKind::Chunk => 104,
            EventKind::Eof => 105,
            EventKind::Exit => 106,
        }
    }

    /// The kind whose message type is `mtype`, if any.
    pub fn from_mtype(mtype: i64) -> Option<EventKind> {
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.mtype() == mtype)
    }
}

/// How a child process ended.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ExitStatus {
    /// It exited with this code (or a signal postbox has no name for killed it: 128 + its
    /// number, as shells report it).
    Code(i32),
    /// This signal killed it.
    Signal(Signal),
}

/// An event, decoded from a message a source posted.
///
/// ```
/// use postbox::events::{Event, EventKind};
/// use postbox::{Message, InprocNode};
///
/// let node = InprocNode::new();
/// let p = node.process();
/// p.send_to(p.pid(), Message::new("7 2").with_type(EventKind::Tick.mtype()))?;
/// let event = Event::from_received(&p.recv_any()?);
/// assert_eq!(event, Some(Event::Tick { tick: 7, missed: 2 }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Event {
    /// A timer tick: its number, and how many earlier ticks were folded into it.
    Tick {
        /// Periods elapsed since the timer started, from 1.
        tick: u64,
        /// Ticks since the previous posted one that found the destination full.
        missed: u64,
    },
    /// A signal arrived.
    Signal(Signal),
    /// A line, without its newline.
    Line(Bytes),
    /// A chunk of bytes.
    Chunk(Bytes),
    /// The end of the file descriptor: `None` at end-of-file, else the read error's text.
    Eof(Option<String>),
    /// A child process ended.
    Exit(ExitStatus),
}

impl Event {
    /// The event `received` carries, or `None` when it is not an event (another message type,
    /// or a payload that does not parse as its kind's).
    pub fn from_received(received: &Received) -> Option<Event> {
        let payload = received.payload();
        let text = || std::str::from_utf8(payload).ok();
        match EventKind::from_mtype(received.mtype())? {
            EventKind::Tick => {
                let (tick, missed) = text()?.split_once(' ')?;
                Some(Event::Tick {
                    tick: tick.parse().ok()?,
                    missed: missed.parse().ok()?,
                })
            }
            EventKind::Signal => {
                let (number, _) = text()?.split_once(' ')?;
                Signal::from_number(number.parse().ok()?).map(Event::Signal)
            }
            EventKind::Line => Some(Event::Line(payload.clone())),
            EventKind::Chunk => Some(Event::Chunk(payload.clone())),
            EventKind::Eof => match text()? {
                "" => Some(Event::Eof(None)),
                error => Some(Event::Eof(Some(error.to_owned()))),
            },
            EventKind::Exit => match text()?.split(' ').collect::<Vec<_>>()[..] {
                ["exit", code] => Some(Event::Exit(ExitStatus::Code(code.parse().ok()?))),
                ["signal", number, _] => Signal::from_number(number.parse().ok()?)
                    .map(|s| Event::Exit(ExitStatus::Signal(s))),
                _ => None,
            },
        }
    }

    /// The event's kind.
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Tick { .. } => EventKind::Tick,
            Event::Signal(_) => EventKind::Signal,
            Event::Line(_) => EventKind::Line,
            Event::Chunk(_) => EventKind::Chunk,
            Event::Eof(_) => EventKind::Eof,
            Event::Exit(_) => EventKind::Exit,
        }
    }

    /// The message a source posts for this event.
    pub fn to_message(&self) -> Message {
        let payload = match self {
            Event::Tick { tick, missed } => Bytes::from(format!("{tick} {missed}")),
            Event::Signal(signal) => Bytes::from(format!("{} {}", signal.number(), signal.name())),
            Event::Line(bytes) | Event::Chunk(bytes) => bytes.clone(),
            Event::Eof(None) => Bytes::new(),
            Event::Eof(Some(error)) => Bytes::from(error.clone()),
            Event::Exit(ExitStatus::Code(code)) => Bytes::from(format!("exit {code}")),
            Event::Exit(ExitStatus::Signal(signal)) => {
                Bytes::from(format!("signal {} {}", signal.number(), signal.name()))
            }
        };
        Message::new(payload).with_type(self.kind().mtype())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_mtype() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::from_mtype(kind.mtype()), Some(kind));
        }
        assert_eq!(EventKind::from_mtype(1), None);
        let mtypes: Vec<i64> = EventKind::ALL.iter().map(|k| k.mtype()).collect();
        assert_eq!(mtypes, [101, 102, 103, 104, 105, 106]);
    }

    #[test]
    fn payloads_are_the_documented_text() {
        let payload = |event: Event| event.to_message().payload;
        assert_eq!(payload(Event::Tick { tick: 3, missed: 1 }), "3 1");
        assert_eq!(
            payload(Event::Signal(Signal::USR1)),
            format!("{} SIGUSR1", Signal::USR1.number())
        );
        assert_eq!(payload(Event::Eof(None)), "");
        assert_eq!(payload(Event::Exit(ExitStatus::Code(3))), "exit 3");
        assert_eq!(
            payload(Event::Exit(ExitStatus::Signal(Signal::KILL))),
            format!("signal {} SIGKILL", Signal::KILL.number())
        );
    }
}

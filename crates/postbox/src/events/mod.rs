//! Event sources: timers, signals, file descriptors and child processes that post into mailboxes
//! and inboxes, so that a program waits on one [`Select`](crate::Select) for everything — "a
//! fake sender".
//!
//! Each source is a postbox **process of its own**: the sender of every event it posts, which
//! receivers can `recv_from` or select on with `Selector::From`, and `monitor`. It is given that
//! process when it starts (`node.process()`, or `postbox::connect(url)` for a daemon), and
//! terminates it when it ends. A source posts like any sender: a bounded mailbox that is full
//! holds it back ([`Timer`] coalesces ticks instead), and the destination's rights apply to it.
//!
//! | source | events (`mtype`) | payload |
//! |---|---|---|
//! | [`Timer`] | [`Tick`](EventKind::Tick) (101) | `"TICK MISSED"` |
//! | [`Signals`] | [`Signal`](EventKind::Signal) (102) | `"NUMBER NAME"`, e.g. `"10 SIGUSR1"` |
//! | [`Reader`] | [`Line`](EventKind::Line) (103) or [`Chunk`](EventKind::Chunk) (104), then [`Eof`](EventKind::Eof) (105) | the bytes; the EOF's is empty, or the read error |
//! | [`ChildExit`] | [`Exit`](EventKind::Exit) (106) | `"exit CODE"` or `"signal NUMBER NAME"` |
//!
//! Payloads are text where they can be, so that `postbox recv` prints them as they are;
//! [`Event::from_received`] decodes them. Event types are above 100, leaving 1..=100 to the
//! program's own messages.
//!
//! Every source is an [`EventSource`] handle: dropping it, or [`EventSource::stop`], stops the
//! source at once — even a post waiting for room is withdrawn — and returns once its process is
//! terminated. A source whose posting fails (its mailbox deleted: `Gone`; its inbox's process
//! ended: `PeerGone`) ends, and [`EventSource::join`] or [`EventSource::stop`] returns the
//! [`SourceError`].
//!
//! ```
//! use std::time::Duration;
//! use postbox::events::{Event, Timer};
//! use postbox::{InprocNode, Select, Selector};
//!
//! let node = InprocNode::new();
//! let me = node.process();
//! let work = me.mailbox("work").create()?;
//! let ticks = me.mailbox("ticks").create()?;
//! let timer = Timer::every(Duration::from_millis(5)).start(node.process(), "ticks")?;
//!
//! let mut select = Select::new();
//! select.recv(&work, Selector::Any);
//! select.recv(&ticks, Selector::From(timer.pid()));
//! let selected = select.wait()?;
//! assert_eq!(selected.index, 1);
//! assert!(matches!(Event::from_received(&selected.message), Some(Event::Tick { .. })));
//!
//! drop(timer); // stopped, its process terminated
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod child_exit;
mod destination;
mod event;
mod event_source;
mod poster;
mod reader;
mod signal;
mod signals;
mod source_error;
mod start_error;
mod stop;
mod timer;

pub use child_exit::ChildExit;
pub use destination::Destination;
pub use event::{Event, EventKind, ExitStatus};
pub use event_source::EventSource;
pub use reader::{DEFAULT_MAX, Reader};
pub use signal::{Signal, UnknownSignal};
pub use signals::Signals;
pub use source_error::SourceError;
pub use start_error::StartError;
pub use timer::Timer;
